/*
 * plat.h - the operating-system services cdrimport uses beyond C11, behind
 * one small interface with two sides: plat_posix.c (Linux: the calls the
 * program always made, unchanged) and plat_win.c with plat_text_win.c (Windows).
 *
 * Paths are UTF-8 strings everywhere inside the program; the Windows side
 * converts them to wide "\\?\" paths at the API, so that names in any
 * language and paths over 260 characters work. Calls keep their POSIX
 * shape (-1 and errno on failure), so callers' error handling reads the
 * same on both systems. Nothing here logs: callers say what failed.
 */
#ifndef CDR_PLAT_H
#define CDR_PLAT_H

#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#ifdef _WIN32
/* Open flags Windows has no use for: its handles are not inherited unless
 * asked, and it has no FIFOs to block on. */
#define O_CLOEXEC 0
#define O_DIRECTORY 0
#define O_NONBLOCK 0
/* plat_open's own: fail with ELOOP when the name is a symbolic link or a
 * junction (plat_link_win.c says how that is told), as O_NOFOLLOW does. A
 * bit no mingw open flag uses; plat_open never hands it on. */
#define O_NOFOLLOW 0x20000000
#ifndef S_ISSOCK
#define S_ISSOCK(m) 0
#endif
/* plat_lstat reports a symbolic link or junction as S_IFLNK (a type
 * Windows' own stat never gives), so that the walk's "link outside the
 * folder" check is the same code on both systems. */
#ifndef S_IFLNK
#define S_IFLNK 0xA000
#endif
#ifndef S_ISLNK
#define S_ISLNK(m) (((m) & S_IFMT) == S_IFLNK)
#endif
#ifndef ELOOP
#define ELOOP 114
#endif
#endif

/* ---- files and folders (paths: UTF-8) ----------------------------------- */

int plat_open(const char *path, int flags, int mode);
FILE *plat_fopen(const char *path, const char *mode);
int plat_stat(const char *path, struct stat *st);
int plat_lstat(const char *path, struct stat *st);
int plat_unlink(const char *path);
int plat_mkdir(const char *path, int mode);
/* F_OK, W_OK (and X_OK, which Windows folders always grant). */
int plat_access(const char *path, int mode);
/* Renames onto an existing file (atomically where the system can). */
int plat_rename(const char *from, const char *to);
/* Renames only if to does not exist: -1 with EEXIST if it does. EINVAL:
 * the file system cannot do it atomically (the caller falls back). */
int plat_rename_noreplace(const char *from, const char *to);
int plat_link(const char *from, const char *to);
/* The absolute path with links resolved (malloc'd), or NULL and errno. */
char *plat_realpath(const char *path);
/* The current folder (malloc'd), or NULL and errno. */
char *plat_getcwd(void);
/* The target of a symbolic link (malloc'd), or NULL. */
char *plat_readlink(const char *path);
/* "/x" on POSIX; "C:\x", "C:/x", "\\server\share" and "/x" on Windows. */
bool plat_path_is_absolute(const char *path);
/* The length of an absolute path's root, its last '/' included: 1 for
 * "/x"; on Windows 3 for "C:/x", the length of "//server/share/" for a
 * share. Only after plat_path_normalize. */
size_t plat_path_root(const char *path);
/* p taken from folder base (malloc'd, not normalised): p itself if it is
 * absolute, else base/p. On Windows a path rooted without a drive
 * ("/x", "\\x") takes base's drive: the folder of the config, rather
 * than the drive the process happens to start on (a service's is C:). */
char *plat_path_join(const char *base, const char *p);
/* In place: the program's own spelling of a path. Windows: '\' becomes '/'
 * (both work at its API; one spelling keeps comparisons and joins simple).
 * POSIX: nothing. */
void plat_path_normalize(char *path);

/* Folder listing; "." and ".." are skipped. The name is valid until the
 * next call. */
struct plat_dir;
struct plat_dir *plat_opendir(const char *path);
const char *plat_readdir(struct plat_dir *d);
void plat_closedir(struct plat_dir *d);

/* What a file is, beyond its name: device and inode on POSIX, volume serial
 * and file index on Windows. */
struct plat_file_id {
    uint64_t dev, ino;
};
int plat_fd_id(int fd, const struct stat *st, struct plat_file_id *id);
/* Of the file path names; with !follow, of a link itself. */
int plat_path_id(const char *path, bool follow, struct plat_file_id *id);
struct timespec plat_mtime(const struct stat *st);
/* Whether group or others may read the file (a password file's check).
 * Windows: false (its ACLs are not modes; the folder's ACL decides). */
bool plat_readable_by_others(const struct stat *st);

/* A non-blocking, exclusive claim on an open file between processes of
 * this host, released when the descriptor closes: flock(2) on POSIX;
 * LockFileEx on one byte far past any data on Windows (locks there are
 * mandatory: locking the data itself would stop other readers). -1 with
 * EWOULDBLOCK when another process holds it. */
int plat_lock(int fd);
/* Back to blocking reads after an O_NONBLOCK open (no-op on Windows). */
int plat_set_blocking(int fd);
int plat_fsync(int fd);
/* Makes a rename in dir durable. Windows: nothing to do (NTFS journals
 * its metadata; MOVEFILE_WRITE_THROUGH already flushed it). */
int plat_fsync_dir(const char *dir);
/* Bytes free for an unprivileged writer in the file system of dir, and
 * whether it is mounted read-only (Windows: false; a write says so). */
int plat_free_bytes(const char *dir, uint64_t *avail, bool *readonly);
/* mkostemps(3) with O_CLOEXEC: replaces the six X before the suffix of
 * suffixlen bytes and creates the file, exclusively, read-write. */
int plat_mkstemps(char *path, int suffixlen);

/* ---- waking up ----------------------------------------------------------- */

/* A self-pipe: poke from a signal handler or another thread, drain in the
 * loop that waits on it. Both ends are non-blocking (Windows: drain reads
 * only what is there; a poke could block only on a full pipe). */
int plat_pipe(int fds[2]);
void plat_pipe_poke(int fd);
void plat_pipe_drain(int fd);

struct plat_waitfd {
    int fd;     /* a pipe's read end, or an inotify/socket descriptor on POSIX */
    bool ready; /* out: readable */
};
/* Waits until one is readable or timeout_ms (-1: no limit) has passed; the
 * number ready, 0 on timeout or interruption, -1 and errno on error.
 * Windows: pipes are looked at every 20 ms (they cannot be waited on). */
int plat_wait_readable(struct plat_waitfd *fds, size_t n, int timeout_ms);
/* Waits until a socket can be written (libpq's COPY flush). */
void plat_wait_writable_socket(int sock, int timeout_ms);
/* Lets a Unix-domain socket hold `bytes` of data sent and not yet read (the
 * kernel may clamp it). Other sockets are left alone: the kernel sizes a
 * TCP socket's buffer by itself, and setting one would stop that. A no-op
 * on Windows. */
void plat_widen_local_socket(int sock, int bytes);

/* ---- the process --------------------------------------------------------- */

/* What stops and reloads the daemon. The callbacks run in a signal
 * handler (POSIX) or in the console-control thread (Windows): only flags
 * and plat_pipe_poke there. overdue runs grace_s seconds after the first
 * stop if the process is still there (it must leave at once). */
struct plat_signals {
    void (*stop)(void);   /* SIGTERM, SIGINT; Ctrl-C, Ctrl-Break, console closed */
    void (*reload)(void); /* SIGHUP; Windows has none (restart instead) */
    void (*overdue)(void);
    unsigned grace_s;
};
void plat_signals_install(const struct plat_signals *s);
/* The service manager's status line: sd_notify(3) on Linux, nothing on
 * Windows (its service control manager is not wired yet). */
void plat_notify(const char *state);
/* Starts a thread in which no signal handler runs (they stay with the main
 * thread); 0 or an error number. */
int plat_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);
/* Whether no process with this id runs on this machine (a process that
 * cannot be signalled or opened, for want of rights, still runs). */
bool plat_process_gone(long pid);
/* Sleep ms milliseconds (a signal may end it early). */
void plat_sleep_ms(unsigned ms);
/* Allocator settings for long runs of large buffers (glibc only). */
void plat_tune_malloc(void);
/* Windows: replaces argv (in the ANSI code page there) by the command
 * line's UTF-8, and sets the console to UTF-8 output. POSIX: nothing. */
void plat_args_utf8(int *argc, char ***argv);
/* The file a shared library whose file name starts with prefix was loaded
 * from (malloc'd), or NULL when linked statically. */
char *plat_loaded_library(const char *prefix);

/* ---- text ---------------------------------------------------------------- */

/* memrchr(3), a GNU extension. */
void *plat_memrchr(const void *s, int c, size_t n);
/* Clears a secret so that the compiler cannot drop the stores. */
void plat_wipe(void *p, size_t n);
/* fnmatch(3) with no flags, or FNM_CASEFOLD: '*', '?', "[...]" and '\'. */
bool plat_fnmatch(const char *pattern, const char *name, bool casefold);
/* strtod in the C locale, whatever LC_NUMERIC is. */
double plat_strtod_c(const char *s, char **end);
/* timegm(3) and gmtime_r(3) over the whole of years 1 to 9999 (Windows'
 * own stop at year 3000). */
time_t plat_timegm(struct tm *tm);
struct tm *plat_gmtime(time_t t, struct tm *tm);
/* The zoneinfo folder ending in '/', or NULL if the host has none (Windows:
 * zone names are then left to the server to check). */
const char *plat_zoneinfo_dir(void);
/* The host's zone by the system's own name when that is no IANA name
 * (malloc'd): Windows' key name from GetDynamicTimeZoneInformation, e.g.
 * "W. Europe Standard Time", which the server does not know. NULL on
 * POSIX, where /etc/timezone and /etc/localtime give an IANA name. */
char *plat_host_zone_name(void);

/* A conversion from a named charset to UTF-8 with iconv(3)'s contract:
 * plat_conv returns (size_t)-1 and sets errno to E2BIG (out is full),
 * EILSEQ or EINVAL (a byte the charset does not define) and advances the
 * pointers past what it converted. Windows: the single-byte code pages
 * (latin1 and the other ISO-8859 parts, cp1250..cp1258, cp437, cp850,
 * cp866, koi8-r, koi8-u, cpNNN), the double-byte ones (shift_jis/cp932,
 * gbk/gb2312/cp936, big5/cp950, euc-kr/cp949) and UTF-16LE/BE. */
struct plat_conv;
struct plat_conv *plat_conv_open(const char *encoding);
size_t plat_conv(struct plat_conv *c, char **in, size_t *inleft, char **out, size_t *outleft);
void plat_conv_reset(struct plat_conv *c);
void plat_conv_close(struct plat_conv *c);

/* A UTF-8 character locale for a library that reads the thread's locale
 * (libarchive converting names): made once, used around its calls.
 * Windows: none (NULL; libarchive keeps names wide there). */
struct plat_locale;
struct plat_locale *plat_utf8_locale_new(void);
void plat_utf8_locale_free(struct plat_locale *l);
/* Switches this thread to l (NULL: nothing), returns what to restore. */
void *plat_locale_use(struct plat_locale *l);
void plat_locale_restore(struct plat_locale *l, void *prev);

#endif
