/*
 * plat_posix.c - plat.h on Linux: the POSIX and glibc calls the program
 * always made, one wrapper each, so that behaviour on Linux is what it was
 * before Windows came in. The Windows side is plat_win.c; the Makefile
 * builds exactly one of them.
 */
/* Built with _GNU_SOURCE (the Makefile): renameat2, strtod_l, FNM_CASEFOLD. */
#include "plat.h"
#include "cdrimport.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <iconv.h>
#include <limits.h>
#include <link.h>
#include <locale.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

int plat_open(const char *path, int flags, int mode)
{
    return open(path, flags, mode);
}

FILE *plat_fopen(const char *path, const char *mode)
{
    return fopen(path, mode);
}

int plat_stat(const char *path, struct stat *st)
{
    return stat(path, st);
}

int plat_lstat(const char *path, struct stat *st)
{
    return lstat(path, st);
}

int plat_unlink(const char *path)
{
    return unlink(path);
}

int plat_mkdir(const char *path, int mode)
{
    return mkdir(path, (mode_t)mode);
}

int plat_access(const char *path, int mode)
{
    return access(path, mode);
}

int plat_rename(const char *from, const char *to)
{
    return rename(from, to);
}

int plat_rename_noreplace(const char *from, const char *to)
{
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

int plat_link(const char *from, const char *to)
{
    return link(from, to);
}

char *plat_realpath(const char *path)
{
    return realpath(path, NULL);
}

char *plat_getcwd(void)
{
    return getcwd(NULL, 0);
}

char *plat_readlink(const char *path)
{
    char buf[PATH_MAX];
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n <= 0)
        return NULL;
    return xstrndup(buf, (size_t)n);
}

bool plat_path_is_absolute(const char *path)
{
    return path[0] == '/';
}

size_t plat_path_root(const char *path)
{
    return path[0] == '/' ? 1 : 0;
}

void plat_path_normalize(char *path)
{
    (void)path;
}

char *plat_path_join(const char *base, const char *p)
{
    size_t nb = strlen(base);
    if (p[0] == '/')
        return xstrdup(p);
    return xasprintf("%s%s%s", base, nb && base[nb - 1] == '/' ? "" : "/", p);
}

struct plat_dir {
    DIR *d;
};

struct plat_dir *plat_opendir(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return NULL;
    struct plat_dir *pd = xmalloc(sizeof *pd);
    pd->d = d;
    return pd;
}

const char *plat_readdir(struct plat_dir *d)
{
    struct dirent *e;
    while ((e = readdir(d->d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            return e->d_name;
    return NULL;
}

void plat_closedir(struct plat_dir *d)
{
    if (!d)
        return;
    closedir(d->d);
    free(d);
}

int plat_fd_id(int fd, const struct stat *st, struct plat_file_id *id)
{
    (void)fd;
    *id = (struct plat_file_id){.dev = (uint64_t)st->st_dev, .ino = (uint64_t)st->st_ino};
    return 0;
}

int plat_path_id(const char *path, bool follow, struct plat_file_id *id)
{
    struct stat st;
    if ((follow ? stat(path, &st) : lstat(path, &st)) < 0)
        return -1;
    return plat_fd_id(-1, &st, id);
}

struct timespec plat_mtime(const struct stat *st)
{
    return st->st_mtim;
}

bool plat_readable_by_others(const struct stat *st)
{
    return (st->st_mode & (S_IRWXG | S_IRWXO)) != 0;
}

int plat_lock(int fd)
{
    return flock(fd, LOCK_EX | LOCK_NB);
}

int plat_set_blocking(int fd)
{
    return fcntl(fd, F_SETFL, 0);
}

int plat_fsync(int fd)
{
    return fsync(fd);
}

int plat_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

int plat_free_bytes(const char *dir, uint64_t *avail, bool *readonly)
{
    struct statvfs vfs;
    if (statvfs(dir, &vfs) < 0)
        return -1;
    *avail = (uint64_t)vfs.f_bavail * (uint64_t)vfs.f_frsize;
    *readonly = (vfs.f_flag & ST_RDONLY) != 0;
    return 0;
}

int plat_mkstemps(char *path, int suffixlen)
{
    return mkostemps(path, suffixlen, O_CLOEXEC);
}

int plat_pipe(int fds[2])
{
    return pipe2(fds, O_CLOEXEC | O_NONBLOCK);
}

void plat_pipe_poke(int fd)
{
    ssize_t n = write(fd, "x", 1);
    (void)n; /* a full pipe already says "wake up" */
}

void plat_pipe_drain(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}

int plat_wait_readable(struct plat_waitfd *fds, size_t n, int timeout_ms)
{
    struct pollfd p[8];
    if (n > sizeof p / sizeof *p) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i].fd, .events = POLLIN};
    int r = poll(p, n, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -1;
    for (size_t i = 0; i < n; i++)
        fds[i].ready = r > 0 && (p[i].revents & POLLIN);
    return r;
}

void plat_wait_writable_socket(int sock, int timeout_ms)
{
    struct pollfd p = {.fd = sock, .events = POLLOUT};
    poll(&p, 1, timeout_ms);
}

void plat_widen_local_socket(int sock, int bytes)
{
    struct sockaddr_storage a;
    socklen_t len = sizeof a;
    /* Linux doubles the value for its own bookkeeping and clamps it to
     * net.core.wmem_max; best effort, as a failure only costs speed. */
    if (getsockname(sock, (struct sockaddr *)&a, &len) == 0 && a.ss_family == AF_UNIX)
        (void)setsockopt(sock, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
}

static struct plat_signals handlers;

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP) {
        if (handlers.reload)
            handlers.reload();
    } else if (sig == SIGALRM) {
        if (handlers.overdue)
            handlers.overdue();
    } else {
        static volatile sig_atomic_t stopping;
        if (!stopping && handlers.grace_s)
            alarm(handlers.grace_s);
        stopping = 1;
        handlers.stop();
    }
    errno = saved;
}

void plat_signals_install(const struct plat_signals *s)
{
    handlers = *s;
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    struct sigaction sa_alarm = {.sa_handler = on_signal};
    sigemptyset(&sa_alarm.sa_mask);
    sigaction(SIGALRM, &sa_alarm, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void plat_notify(const char *state)
{
    sd_notify(0, state);
}

int plat_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    /* Signals stay with the main thread, whose handlers wake its loop. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(thread, NULL, fn, arg);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

void plat_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}

bool plat_process_gone(long pid)
{
    return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

void plat_tune_malloc(void)
{
    /* Large buffers come from and go back to the kernel at once. */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
}

void plat_args_utf8(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}

struct lib_search {
    const char *prefix;
    char *found;
};

/* dl_iterate_phdr's callback: the first object whose base name starts
 * with the prefix, links resolved. */
static int find_lib(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct lib_search *s = data;
    const char *name = info->dlpi_name;
    const char *base = name ? strrchr(name, '/') : NULL;
    if (!base || strncmp(base + 1, s->prefix, strlen(s->prefix)) != 0)
        return 0;
    s->found = realpath(name, NULL);
    if (!s->found)
        s->found = xstrdup(name);
    return 1;
}

char *plat_loaded_library(const char *prefix)
{
    struct lib_search s = {.prefix = prefix};
    dl_iterate_phdr(find_lib, &s);
    return s.found;
}

void *plat_memrchr(const void *s, int c, size_t n)
{
    return memrchr(s, c, n);
}

void plat_wipe(void *p, size_t n)
{
    explicit_bzero(p, n);
}

bool plat_fnmatch(const char *pattern, const char *name, bool casefold)
{
    return fnmatch(pattern, name, casefold ? FNM_CASEFOLD : 0) == 0;
}

double plat_strtod_c(const char *s, char **end)
{
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c == (locale_t)0)
        cdr_fatal("cannot create the C locale: %s", strerror(errno));
    double v = strtod_l(s, end, c);
    freelocale(c);
    return v;
}

time_t plat_timegm(struct tm *tm)
{
    return timegm(tm);
}

struct tm *plat_gmtime(time_t t, struct tm *tm)
{
    return gmtime_r(&t, tm);
}

const char *plat_zoneinfo_dir(void)
{
    return "/usr/share/zoneinfo/";
}

char *plat_host_zone_name(void)
{
    return NULL;
}

struct plat_conv {
    iconv_t cd;
};

struct plat_conv *plat_conv_open(const char *encoding)
{
    iconv_t cd = iconv_open("UTF-8", encoding);
    if (cd == (iconv_t)-1)
        return NULL;
    struct plat_conv *c = xmalloc(sizeof *c);
    c->cd = cd;
    return c;
}

size_t plat_conv(struct plat_conv *c, char **in, size_t *inleft, char **out, size_t *outleft)
{
    return iconv(c->cd, in, inleft, out, outleft);
}

void plat_conv_reset(struct plat_conv *c)
{
    iconv(c->cd, NULL, NULL, NULL, NULL);
}

void plat_conv_close(struct plat_conv *c)
{
    if (!c)
        return;
    iconv_close(c->cd);
    free(c);
}

struct plat_locale *plat_utf8_locale_new(void)
{
    return (struct plat_locale *)newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

void plat_utf8_locale_free(struct plat_locale *l)
{
    if (l)
        freelocale((locale_t)l);
}

void *plat_locale_use(struct plat_locale *l)
{
    return l ? (void *)uselocale((locale_t)l) : NULL;
}

void plat_locale_restore(struct plat_locale *l, void *prev)
{
    if (l)
        uselocale((locale_t)prev);
}
