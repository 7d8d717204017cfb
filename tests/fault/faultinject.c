/*
 * faultinject.c - an LD_PRELOAD shim for the fault-injection tests
 * (tests/e2e/test_faults*.py): makes the Nth call of open, read, write,
 * fsync, rename, link, unlink, mkdir, inotify_add_watch or statvfs fail
 * with a chosen errno, and can log every call it counts so that a sweep
 * knows the range of N. It can also replace what one read() of an inotify
 * descriptor returns by a lone IN_Q_OVERFLOW event, as the kernel does when
 * its queue overflows (the events in that read are lost).
 *
 * Scope: libc, libpq, libcurl and the dynamic loader call these too (config
 * files, sockets, certificates), and a fault there tests them, not us. So
 * only calls that touch FAULT_DIR count:
 *   - path calls (open, openat, fopen, mkostemps, rename*, link*, unlink*,
 *     mkdir*, statvfs, inotify_add_watch): a path argument is FAULT_DIR or
 *     lies below it (relative paths and *at() folders are made absolute
 *     first; no symlinks are resolved);
 *   - descriptor calls (read, write, fsync, fdatasync): the descriptor was
 *     opened here on such a path and not closed since.
 * glibc's own internal calls (opendir, fopen's writes) bypass the PLT and
 * are not seen; fopen itself is (it counts as "open").
 *
 * Environment:
 *   FAULT_DIR    the folder (required; without it the shim does nothing)
 *   FAULT_CALLS  comma list of call kinds to count (default: all ten):
 *                open read write fsync rename link unlink mkdir
 *                inotify_add_watch statvfs
 *   FAULT_N      fail the Nth counted call (1-based); 0 or unset: count only
 *   FAULT_COUNT  fail this many counted calls from the Nth on (default 1;
 *                0: every one from N on, a disk that stays full)
 *   FAULT_ERRNO  ENOSPC, EIO, EACCES or EXDEV (default EIO); per kind with
 *                FAULT_ERRNO_<kind>, e.g. FAULT_ERRNO_rename=EXDEV
 *   FAULT_LOG    file to append one line per counted call:
 *                "<pid> <n> <kind> <path> [INJECTED <errno>]"
 *   FAULT_OVERFLOW  the Nth read() of an inotify descriptor that returns
 *                events returns one IN_Q_OVERFLOW event instead
 *   FAULT_ACTION_N  instead of failing it, do something to the file of the
 *                Nth counted call just before the call runs (the file
 *                changes under the reader, as a PBX or a person would):
 *   FAULT_ACTION truncate (to FAULT_ACTION_SIZE bytes, default 0), or
 *                replace (rename FAULT_ACTION_FROM over it), or kill (the
 *                process dies of SIGKILL instead: a crash at that very call)
 *
 * The counter is per process and atomic (the daemon has threads).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>

#define MAX_FDS 65536

enum kind { K_OPEN, K_READ, K_WRITE, K_FSYNC, K_RENAME, K_LINK, K_UNLINK, K_MKDIR,
            K_INOTIFY, K_STATVFS, NKINDS };

static const char *const kind_names[NKINDS] = {
    "open", "read", "write", "fsync", "rename", "link", "unlink", "mkdir",
    "inotify_add_watch", "statvfs",
};

static char fault_dir[PATH_MAX];
static size_t fault_dir_len;
static bool counted[NKINDS];
static int kind_errno[NKINDS];
static long fail_n, fail_count = 1, overflow_n, action_n;
static const char *action, *action_from;
static long long action_size;
static int log_fd = -1;
static atomic_long calls;
static atomic_long inotify_reads;
static atomic_bool tracked[MAX_FDS];   /* opened on a path under FAULT_DIR */
static atomic_bool inotify_fd[MAX_FDS];

/* The real functions, found once at load time. */
static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static FILE *(*real_fopen)(const char *, const char *);
static FILE *(*real_fopen64)(const char *, const char *);
static int (*real_mkostemps)(char *, int, int);
static int (*real_close)(int);
static ssize_t (*real_read)(int, void *, size_t);
static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned);
static int (*real_link)(const char *, const char *);
static int (*real_linkat)(int, const char *, int, const char *, int);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);
static int (*real_mkdir)(const char *, mode_t);
static int (*real_mkdirat)(int, const char *, mode_t);
static int (*real_statvfs)(const char *, struct statvfs *);
static int (*real_statvfs64)(const char *, struct statvfs64 *);
static int (*real_inotify_init)(void);
static int (*real_inotify_init1)(int);
static int (*real_inotify_add_watch)(int, const char *, uint32_t);

/* POSIX's way to store dlsym's object pointer into a function pointer. */
#define FIND(name) (*(void **)(&real_##name) = dlsym(RTLD_NEXT, #name))

static int errno_named(const char *s)
{
    static const struct { const char *name; int value; } names[] = {
        {"ENOSPC", ENOSPC}, {"EIO", EIO}, {"EACCES", EACCES}, {"EXDEV", EXDEV},
        {"EDQUOT", EDQUOT}, {"EROFS", EROFS},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (s && strcmp(s, names[i].name) == 0)
            return names[i].value;
    return EIO;
}

static const char *errno_name(int e)
{
    switch (e) {
    case ENOSPC: return "ENOSPC";
    case EIO: return "EIO";
    case EACCES: return "EACCES";
    case EXDEV: return "EXDEV";
    case EDQUOT: return "EDQUOT";
    case EROFS: return "EROFS";
    default: return "E?";
    }
}

static void find_all(void)
{
    FIND(open); FIND(open64); FIND(openat); FIND(openat64); FIND(fopen); FIND(fopen64);
    FIND(mkostemps); FIND(close); FIND(read); FIND(write); FIND(fsync); FIND(fdatasync);
    FIND(rename); FIND(renameat); FIND(renameat2); FIND(link); FIND(linkat); FIND(unlink);
    FIND(unlinkat); FIND(mkdir); FIND(mkdirat); FIND(statvfs); FIND(statvfs64);
    FIND(inotify_init); FIND(inotify_init1); FIND(inotify_add_watch);
}

/* Another library's constructor may call open() before ours has run. */
static pthread_once_t found = PTHREAD_ONCE_INIT;
#define READY() pthread_once(&found, find_all)

__attribute__((constructor)) static void fault_init(void)
{
    READY();
    const char *dir = getenv("FAULT_DIR");
    if (!dir || !*dir || strlen(dir) >= sizeof fault_dir)
        return;
    strcpy(fault_dir, dir);
    fault_dir_len = strlen(fault_dir);
    while (fault_dir_len > 1 && fault_dir[fault_dir_len - 1] == '/')
        fault_dir[--fault_dir_len] = '\0';

    const char *which = getenv("FAULT_CALLS");
    int deflt = errno_named(getenv("FAULT_ERRNO"));
    for (int k = 0; k < NKINDS; k++) {
        char var[64];
        snprintf(var, sizeof var, "FAULT_ERRNO_%s", kind_names[k]);
        kind_errno[k] = getenv(var) ? errno_named(getenv(var)) : deflt;
        counted[k] = !which || !*which;
    }
    if (which && *which) {
        char *copy = strdup(which), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            for (int k = 0; k < NKINDS; k++)
                if (strcmp(t, kind_names[k]) == 0)
                    counted[k] = true;
        free(copy);
    }
    if (getenv("FAULT_N"))
        fail_n = atol(getenv("FAULT_N"));
    if (getenv("FAULT_COUNT"))
        fail_count = atol(getenv("FAULT_COUNT"));
    if (getenv("FAULT_OVERFLOW"))
        overflow_n = atol(getenv("FAULT_OVERFLOW"));
    if (getenv("FAULT_ACTION_N"))
        action_n = atol(getenv("FAULT_ACTION_N"));
    action = getenv("FAULT_ACTION");
    action_from = getenv("FAULT_ACTION_FROM");
    if (getenv("FAULT_ACTION_SIZE"))
        action_size = atoll(getenv("FAULT_ACTION_SIZE"));
    if (getenv("FAULT_LOG"))
        log_fd = real_open(getenv("FAULT_LOG"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* Whether path (relative to folder dirfd) is FAULT_DIR or below it. */
static bool in_scope(int dirfd, const char *path)
{
    if (!fault_dir_len || !path)
        return false;
    char abs[PATH_MAX * 2];
    if (path[0] == '/') {
        snprintf(abs, sizeof abs, "%s", path);
    } else {
        char base[PATH_MAX];
        if (dirfd == AT_FDCWD) {
            if (!getcwd(base, sizeof base))
                return false;
        } else {
            char link[64];
            snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
            ssize_t n = readlink(link, base, sizeof base - 1);
            if (n < 0)
                return false;
            base[n] = '\0';
        }
        snprintf(abs, sizeof abs, "%s/%s", base, path);
    }
    return strncmp(abs, fault_dir, fault_dir_len) == 0 &&
           (abs[fault_dir_len] == '/' || abs[fault_dir_len] == '\0');
}

static bool fd_in_scope(int fd)
{
    return fault_dir_len && fd >= 0 && fd < MAX_FDS && atomic_load(&tracked[fd]);
}

static void note_fd(int fd, bool scoped)
{
    if (fd >= 0 && fd < MAX_FDS)
        atomic_store(&tracked[fd], scoped);
}

/* The FAULT_ACTION on path (absolute, or relative to the working folder). */
static void act(const char *path)
{
    if (action && strcmp(action, "truncate") == 0) {
        if (truncate(path, (off_t)action_size) < 0)
            perror("faultinject: truncate");
    } else if (action && strcmp(action, "replace") == 0 && action_from) {
        if (real_rename(action_from, path) < 0)
            perror("faultinject: replace");
    } else if (action && strcmp(action, "kill") == 0) {
        raise(SIGKILL);
    }
}

/* Count a call of kind k on what (a path, or "fd N"); true if it is to fail
 * (errno is then set). */
static bool hit(enum kind k, const char *what)
{
    if (!counted[k])
        return false;
    int saved = errno;
    long n = atomic_fetch_add(&calls, 1) + 1;
    if (action_n > 0 && n == action_n)
        act(what);
    bool fail = fail_n > 0 && n >= fail_n && (fail_count == 0 || n < fail_n + fail_count);
    if (log_fd >= 0) {
        char line[PATH_MAX + 128];
        int len = snprintf(line, sizeof line, "%ld %ld %s %s%s%s%s\n", (long)getpid(), n,
                           kind_names[k], what, fail ? " INJECTED " : "",
                           fail ? errno_name(kind_errno[k]) : "",
                           action_n > 0 && n == action_n ? " ACTED" : "");
        if (len > (int)sizeof line - 1)
            len = (int)sizeof line - 1;
        if (real_write(log_fd, line, (size_t)len) < 0) {
            /* nothing to do: the log is a test aid */
        }
    }
    errno = fail ? kind_errno[k] : saved;
    return fail;
}

static bool hit_fd(enum kind k, int fd)
{
    char what[PATH_MAX + 32];
    char link[64], target[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, target, sizeof target - 1);
    target[n < 0 ? 0 : n] = '\0';
    snprintf(what, sizeof what, "%s", n < 0 ? "?" : target);
    return hit(k, what);
}

static bool hit2(enum kind k, int d1, const char *p1, int d2, const char *p2)
{
    if (in_scope(d1, p1))
        return hit(k, p1);
    if (in_scope(d2, p2))
        return hit(k, p2);
    return false;
}

/* ---- open ----------------------------------------------------------------- */

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

static int do_openat(int (*fn)(int, const char *, int, ...), int dirfd, const char *path,
                     int flags, mode_t mode)
{
    bool scoped = in_scope(dirfd, path);
    if (scoped && hit(K_OPEN, path))
        return -1;
    int fd = fn(dirfd, path, flags, mode);
    note_fd(fd, scoped);
    return fd;
}

int open(const char *path, int flags, ...)
{
    READY();
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    bool scoped = in_scope(AT_FDCWD, path);
    if (scoped && hit(K_OPEN, path))
        return -1;
    int fd = real_open(path, flags, mode);
    note_fd(fd, scoped);
    return fd;
}

int open64(const char *path, int flags, ...)
{
    READY();
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    bool scoped = in_scope(AT_FDCWD, path);
    if (scoped && hit(K_OPEN, path))
        return -1;
    int fd = (real_open64 ? real_open64 : real_open)(path, flags, mode);
    note_fd(fd, scoped);
    return fd;
}

int openat(int dirfd, const char *path, int flags, ...)
{
    READY();
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(real_openat, dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    READY();
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    return do_openat(real_openat64 ? real_openat64 : real_openat, dirfd, path, flags, mode);
}

static FILE *do_fopen(FILE *(*fn)(const char *, const char *), const char *path,
                      const char *mode)
{
    bool scoped = in_scope(AT_FDCWD, path);
    if (scoped && hit(K_OPEN, path))
        return NULL;
    FILE *f = fn(path, mode);
    if (f)
        note_fd(fileno(f), scoped);
    return f;
}

FILE *fopen(const char *path, const char *mode)
{
    READY();
    return do_fopen(real_fopen, path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
    READY();
    return do_fopen(real_fopen64 ? real_fopen64 : real_fopen, path, mode);
}

int mkostemps(char *tmpl, int suffixlen, int flags)
{
    READY();
    bool scoped = in_scope(AT_FDCWD, tmpl);
    if (scoped && hit(K_OPEN, tmpl))
        return -1;
    int fd = real_mkostemps(tmpl, suffixlen, flags);
    note_fd(fd, scoped);
    return fd;
}

int close(int fd)
{
    READY();
    if (fd >= 0 && fd < MAX_FDS) {
        atomic_store(&tracked[fd], false);
        atomic_store(&inotify_fd[fd], false);
    }
    return real_close(fd);
}

/* ---- read, write, fsync --------------------------------------------------- */

ssize_t read(int fd, void *buf, size_t len)
{
    READY();
    if (fd_in_scope(fd) && hit_fd(K_READ, fd))
        return -1;
    ssize_t n = real_read(fd, buf, len);
    if (n > 0 && overflow_n > 0 && fd >= 0 && fd < MAX_FDS && atomic_load(&inotify_fd[fd]) &&
        atomic_fetch_add(&inotify_reads, 1) + 1 == overflow_n &&
        len >= sizeof(struct inotify_event)) {
        /* What the kernel queues when it drops events: wd -1, no name. */
        struct inotify_event ev = {.wd = -1, .mask = IN_Q_OVERFLOW};
        memcpy(buf, &ev, sizeof ev);
        if (log_fd >= 0) {
            char line[64];
            int k = snprintf(line, sizeof line, "%ld 0 inotify_read OVERFLOW\n", (long)getpid());
            if (real_write(log_fd, line, (size_t)k) < 0) {
                /* a test aid only */
            }
        }
        return (ssize_t)sizeof ev;
    }
    return n;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    READY();
    if (fd_in_scope(fd) && hit_fd(K_WRITE, fd))
        return -1;
    return real_write(fd, buf, len);
}

int fsync(int fd)
{
    READY();
    if (fd_in_scope(fd) && hit_fd(K_FSYNC, fd))
        return -1;
    return real_fsync(fd);
}

int fdatasync(int fd)
{
    READY();
    if (fd_in_scope(fd) && hit_fd(K_FSYNC, fd))
        return -1;
    return real_fdatasync(fd);
}

/* ---- rename, link, unlink, mkdir ------------------------------------------ */

int rename(const char *from, const char *to)
{
    READY();
    if (hit2(K_RENAME, AT_FDCWD, from, AT_FDCWD, to))
        return -1;
    return real_rename(from, to);
}

int renameat(int fd1, const char *from, int fd2, const char *to)
{
    READY();
    if (hit2(K_RENAME, fd1, from, fd2, to))
        return -1;
    return real_renameat(fd1, from, fd2, to);
}

int renameat2(int fd1, const char *from, int fd2, const char *to, unsigned flags)
{
    READY();
    if (hit2(K_RENAME, fd1, from, fd2, to))
        return -1;
    return real_renameat2(fd1, from, fd2, to, flags);
}

int link(const char *from, const char *to)
{
    READY();
    if (hit2(K_LINK, AT_FDCWD, from, AT_FDCWD, to))
        return -1;
    return real_link(from, to);
}

int linkat(int fd1, const char *from, int fd2, const char *to, int flags)
{
    READY();
    if (hit2(K_LINK, fd1, from, fd2, to))
        return -1;
    return real_linkat(fd1, from, fd2, to, flags);
}

int unlink(const char *path)
{
    READY();
    if (in_scope(AT_FDCWD, path) && hit(K_UNLINK, path))
        return -1;
    return real_unlink(path);
}

int unlinkat(int dirfd, const char *path, int flags)
{
    READY();
    if (in_scope(dirfd, path) && hit(K_UNLINK, path))
        return -1;
    return real_unlinkat(dirfd, path, flags);
}

int mkdir(const char *path, mode_t mode)
{
    READY();
    if (in_scope(AT_FDCWD, path) && hit(K_MKDIR, path))
        return -1;
    return real_mkdir(path, mode);
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    READY();
    if (in_scope(dirfd, path) && hit(K_MKDIR, path))
        return -1;
    return real_mkdirat(dirfd, path, mode);
}

/* ---- statvfs, inotify ----------------------------------------------------- */

int statvfs(const char *path, struct statvfs *buf)
{
    READY();
    if (in_scope(AT_FDCWD, path) && hit(K_STATVFS, path))
        return -1;
    return real_statvfs(path, buf);
}

int statvfs64(const char *path, struct statvfs64 *buf)
{
    READY();
    if (in_scope(AT_FDCWD, path) && hit(K_STATVFS, path))
        return -1;
    return real_statvfs64(path, buf);
}

int inotify_init(void)
{
    READY();
    int fd = real_inotify_init();
    if (fd >= 0 && fd < MAX_FDS)
        atomic_store(&inotify_fd[fd], true);
    return fd;
}

int inotify_init1(int flags)
{
    READY();
    int fd = real_inotify_init1(flags);
    if (fd >= 0 && fd < MAX_FDS)
        atomic_store(&inotify_fd[fd], true);
    return fd;
}

int inotify_add_watch(int fd, const char *path, uint32_t mask)
{
    READY();
    if (in_scope(AT_FDCWD, path) && hit(K_INOTIFY, path))
        return -1;
    return real_inotify_add_watch(fd, path, mask);
}
