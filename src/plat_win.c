/*
 * plat_win.c - plat.h on Windows (mingw-w64). Paths arrive as UTF-8 with
 * '/' or '\' and go to the wide API as "\\?\" paths, made absolute and
 * normalised first (the prefix switches the API's own normalising off), so
 * that names in any language and paths over MAX_PATH work. Errors of the
 * Windows API are mapped to errno values, which the callers already
 * understand. The rest is split by concern: text services in
 * plat_text_win.c, telling links apart in plat_link_win.c, folder listing
 * in plat_dir_win.c, waiting in plat_wait_win.c, the process in
 * plat_proc_win.c. Linux has plat_posix.c; the Makefile builds one side.
 */
#define _CRT_RAND_S /* rand_s in stdlib.h */
#include "plat.h"
#include "plat_win.h"
#include "cdrimport.h"

#include <winsock2.h> /* before windows.h, which would bring the old winsock */
#include <windows.h>
#include <errno.h>
#include <io.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- names and errors ----------------------------------------------------- */

static int errno_of(DWORD e)
{
    switch (e) {
    case ERROR_FILE_NOT_FOUND:
    case ERROR_PATH_NOT_FOUND:
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_DRIVE:
    case ERROR_BAD_NETPATH:
    case ERROR_BAD_NET_NAME:
        return ENOENT;
    case ERROR_ACCESS_DENIED:
    case ERROR_SHARING_VIOLATION:
    case ERROR_LOCK_VIOLATION:
    case ERROR_WRITE_PROTECT:
        return EACCES;
    case ERROR_FILE_EXISTS:
    case ERROR_ALREADY_EXISTS:
        return EEXIST;
    case ERROR_NOT_SAME_DEVICE:
        return EXDEV;
    case ERROR_DISK_FULL:
    case ERROR_HANDLE_DISK_FULL:
        return ENOSPC;
    case ERROR_DIR_NOT_EMPTY:
        return ENOTEMPTY;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
        return ENOMEM;
    case ERROR_TOO_MANY_OPEN_FILES:
        return EMFILE;
    case ERROR_DIRECTORY:
        return ENOTDIR;
    case ERROR_FILENAME_EXCED_RANGE:
        return ENAMETOOLONG;
    case ERROR_NOT_SUPPORTED:
    case ERROR_INVALID_FUNCTION:
        return EINVAL;
    default:
        return EIO;
    }
}

int plat_win_errno(unsigned long e)
{
    return errno_of((DWORD)e);
}

static int fail_win(void)
{
    errno = errno_of(GetLastError());
    return -1;
}

/* UTF-8 to a malloc'd wide string; NULL and EILSEQ for bytes that are not
 * UTF-8 (Windows names are UTF-16: such a name cannot exist there). */
static wchar_t *wide(const char *s)
{
    int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
    if (n <= 0) {
        errno = EILSEQ;
        return NULL;
    }
    wchar_t *w = xmalloc((size_t)n * sizeof *w);
    MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n);
    return w;
}

static char *utf8(const wchar_t *w)
{
    int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
    if (n <= 0)
        return xstrdup("?");
    char *s = xmalloc((size_t)n);
    WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL);
    return s;
}

/* The "\\?\" form of path (malloc'd), or NULL and errno. */
static wchar_t *wpath(const char *path)
{
    if (!path || !*path) {
        errno = ENOENT;
        return NULL;
    }
    wchar_t *w = wide(path);
    if (!w)
        return NULL;
    for (wchar_t *c = w; *c; c++)
        if (*c == L'/')
            *c = L'\\';
    if (!wcsncmp(w, L"\\\\?\\", 4))
        return w;
    DWORD n = GetFullPathNameW(w, 0, NULL, NULL);
    if (n == 0) {
        free(w);
        fail_win();
        return NULL;
    }
    wchar_t *full = xmalloc(((size_t)n + 8) * sizeof *full);
    const wchar_t *unc = L"\\\\?\\UNC\\", *local = L"\\\\?\\";
    wchar_t *tmp = xmalloc((size_t)n * sizeof *tmp);
    GetFullPathNameW(w, n, tmp, NULL);
    free(w);
    if (tmp[0] == L'\\' && tmp[1] == L'\\') {
        wcscpy(full, unc);
        wcscat(full, tmp + 2);
    } else {
        wcscpy(full, local);
        wcscat(full, tmp);
    }
    free(tmp);
    return full;
}

wchar_t *plat_win_path(const char *path)
{
    return wpath(path);
}

char *plat_win_utf8(const wchar_t *w)
{
    return utf8(w);
}

wchar_t *plat_win_wide(const char *s)
{
    return wide(s);
}

/* Back from the API's "\\?\C:\x" to the program's "C:/x". */
static char *from_wpath(const wchar_t *w)
{
    char *s;
    if (!wcsncmp(w, L"\\\\?\\UNC\\", 8)) {
        char *rest = utf8(w + 8);
        s = xasprintf("//%s", rest);
        free(rest);
    } else {
        s = utf8(!wcsncmp(w, L"\\\\?\\", 4) ? w + 4 : w);
    }
    plat_path_normalize(s);
    return s;
}

bool plat_path_is_absolute(const char *p)
{
    bool sep0 = p[0] == '/' || p[0] == '\\';
    bool drive = ((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) && p[1] == ':' &&
                 (p[2] == '/' || p[2] == '\\');
    return sep0 || drive;
}

size_t plat_path_root(const char *p)
{
    if (p[0] && p[1] == ':' && p[2] == '/')
        return 3;
    if (p[0] == '/' && p[1] == '/' && p[2] && p[2] != '/' && p[2] != '.') { /* //server/share/ */
        const char *c = strchr(p + 2, '/');
        c = c ? strchr(c + 1, '/') : NULL;
        return c ? (size_t)(c - p) + 1 : strlen(p);
    }
    return p[0] == '/' ? 1 : 0;
}

char *plat_path_join(const char *base, const char *p)
{
    bool sep0 = p[0] == '/' || p[0] == '\\', unc = sep0 && (p[1] == '/' || p[1] == '\\');
    if (sep0 && !unc && base[0] && base[1] == ':')
        return xasprintf("%.2s%s", base, p);
    if (plat_path_is_absolute(p))
        return xstrdup(p);
    size_t nb = strlen(base);
    bool sep = nb && (base[nb - 1] == '/' || base[nb - 1] == '\\');
    return xasprintf("%s%s%s", base, sep ? "" : "/", p);
}

void plat_path_normalize(char *path)
{
    for (char *c = path; *c; c++)
        if (*c == '\\')
            *c = '/';
}

/* ---- files ---------------------------------------------------------------- */

/* Every file is opened sharing read, write and delete: the importer holds a
 * file open while it moves it away, and must never stop a PBX tool from
 * writing or deleting its own file. */
#define SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)

int plat_open(const char *path, int flags, int mode)
{
    (void)mode; /* the folder's ACL decides */
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    DWORD access = (flags & O_RDWR) ? GENERIC_READ | GENERIC_WRITE
                   : (flags & O_WRONLY) ? GENERIC_WRITE
                                        : GENERIC_READ;
    DWORD disp = (flags & O_CREAT) && (flags & O_EXCL) ? CREATE_NEW
                 : (flags & O_CREAT) && (flags & O_TRUNC) ? CREATE_ALWAYS
                 : (flags & O_CREAT) ? OPEN_ALWAYS
                 : (flags & O_TRUNC) ? TRUNCATE_EXISTING
                                     : OPEN_EXISTING;
    HANDLE h = CreateFileW(w, access, SHARE_ALL, NULL, disp, FILE_ATTRIBUTE_NORMAL, NULL);
    if (h == INVALID_HANDLE_VALUE) {
        free(w);
        return fail_win();
    }
    /* Opened through the link: what the handle reached is judged, so a
     * link swapped in after the check cannot slip through. */
    if ((flags & O_NOFOLLOW) && plat_win_handle_is_link(h, w)) {
        free(w);
        CloseHandle(h);
        errno = ELOOP;
        return -1;
    }
    free(w);
    int fd = _open_osfhandle((intptr_t)h, (flags & (O_WRONLY | O_RDWR | O_APPEND)) | O_BINARY);
    if (fd < 0)
        CloseHandle(h);
    return fd;
}

FILE *plat_fopen(const char *path, const char *mode)
{
    int flags = mode[0] == 'r' ? (strchr(mode, '+') ? O_RDWR : O_RDONLY)
                : mode[0] == 'w' ? (strchr(mode, '+') ? O_RDWR : O_WRONLY) | O_CREAT | O_TRUNC
                                 : (strchr(mode, '+') ? O_RDWR : O_WRONLY) | O_CREAT | O_APPEND;
    int fd = plat_open(path, flags, 0644);
    if (fd < 0)
        return NULL;
    char m[4] = {mode[0], 'b', strchr(mode, '+') ? '+' : '\0', '\0'};
    FILE *f = _fdopen(fd, m);
    if (!f)
        close(fd);
    return f;
}

static time_t unix_time(FILETIME ft)
{
    uint64_t t = ((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime;
    return (time_t)(t / 10000000ULL) - (time_t)11644473600LL;
}

static void fill_stat(const BY_HANDLE_FILE_INFORMATION *fi, struct stat *st)
{
    memset(st, 0, sizeof *st);
    bool dir = fi->dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY;
    bool ro = fi->dwFileAttributes & FILE_ATTRIBUTE_READONLY;
    st->st_mode = (unsigned short)((dir ? S_IFDIR | 0755 : S_IFREG | (ro ? 0444 : 0644)));
    st->st_size = (off_t)(((uint64_t)fi->nFileSizeHigh << 32) | fi->nFileSizeLow);
    st->st_mtime = unix_time(fi->ftLastWriteTime);
    st->st_atime = unix_time(fi->ftLastAccessTime);
    st->st_ctime = unix_time(fi->ftCreationTime);
    st->st_nlink = (short)fi->nNumberOfLinks;
}

/* A metadata handle on path; with link_of, whether its last name is a
 * link (then checked: plat_link_win.c). */
static HANDLE open_meta(const char *path, bool follow, bool *link_of)
{
    wchar_t *w = wpath(path);
    if (!w)
        return INVALID_HANDLE_VALUE;
    /* BACKUP_SEMANTICS: folders too; no access right: metadata only. */
    DWORD fl = FILE_FLAG_BACKUP_SEMANTICS | (follow ? 0 : FILE_FLAG_OPEN_REPARSE_POINT);
    HANDLE h = CreateFileW(w, FILE_READ_ATTRIBUTES, SHARE_ALL, NULL, OPEN_EXISTING, fl, NULL);
    if (h == INVALID_HANDLE_VALUE)
        fail_win();
    else if (link_of)
        *link_of = plat_win_handle_is_link(h, w);
    free(w);
    return h;
}

static int stat_of(const char *path, bool follow, struct stat *st, struct plat_file_id *id)
{
    bool link = false;
    HANDLE h = open_meta(path, follow, !follow && st ? &link : NULL);
    if (h == INVALID_HANDLE_VALUE)
        return -1;
    BY_HANDLE_FILE_INFORMATION fi;
    BOOL ok = GetFileInformationByHandle(h, &fi);
    if (!ok)
        fail_win();
    CloseHandle(h);
    if (!ok)
        return -1;
    if (st) {
        fill_stat(&fi, st);
        if (link)
            st->st_mode = (unsigned short)(S_IFLNK | 0777);
    }
    if (id)
        *id = (struct plat_file_id){
            .dev = fi.dwVolumeSerialNumber,
            .ino = ((uint64_t)fi.nFileIndexHigh << 32) | fi.nFileIndexLow};
    return 0;
}

int plat_stat(const char *path, struct stat *st)
{
    return stat_of(path, true, st, NULL);
}

int plat_lstat(const char *path, struct stat *st)
{
    return stat_of(path, false, st, NULL);
}

/* Moving or deleting never acts through a link: see plat_win_link_kind. */
static bool acts_through_link(const wchar_t *w)
{
    if (plat_win_link_kind(w) != 2)
        return false;
    errno = ELOOP;
    return true;
}

int plat_unlink(const char *path)
{
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    if (acts_through_link(w)) {
        free(w);
        return -1;
    }
    BOOL ok = DeleteFileW(w);
    free(w);
    return ok ? 0 : fail_win();
}

int plat_mkdir(const char *path, int mode)
{
    (void)mode;
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    BOOL ok = CreateDirectoryW(w, NULL);
    free(w);
    return ok ? 0 : fail_win();
}

int plat_access(const char *path, int mode)
{
    wchar_t *w = wpath(path);
    if (!w)
        return -1;
    DWORD a = GetFileAttributesW(w);
    free(w);
    if (a == INVALID_FILE_ATTRIBUTES)
        return fail_win();
    if ((mode & W_OK) && (a & FILE_ATTRIBUTE_READONLY) && !(a & FILE_ATTRIBUTE_DIRECTORY)) {
        errno = EACCES;
        return -1;
    }
    return 0;
}

static int move(const char *from, const char *to, DWORD flags)
{
    wchar_t *wf = wpath(from), *wt = wf ? wpath(to) : NULL;
    if (!wt) {
        free(wf);
        return -1;
    }
    if (acts_through_link(wf)) {
        free(wf);
        free(wt);
        return -1;
    }
    BOOL ok = MoveFileExW(wf, wt, flags | MOVEFILE_WRITE_THROUGH);
    free(wf);
    free(wt);
    return ok ? 0 : fail_win();
}

int plat_rename(const char *from, const char *to)
{
    return move(from, to, MOVEFILE_REPLACE_EXISTING);
}

int plat_rename_noreplace(const char *from, const char *to)
{
    /* Without MOVEFILE_REPLACE_EXISTING, Windows refuses an existing
     * target (ERROR_ALREADY_EXISTS): RENAME_NOREPLACE's meaning. */
    return move(from, to, 0);
}

int plat_link(const char *from, const char *to)
{
    wchar_t *wf = wpath(from), *wt = wf ? wpath(to) : NULL;
    if (!wt) {
        free(wf);
        return -1;
    }
    BOOL ok = CreateHardLinkW(wt, wf, NULL);
    free(wf);
    free(wt);
    return ok ? 0 : fail_win();
}

char *plat_realpath(const char *path)
{
    HANDLE h = open_meta(path, true, NULL);
    if (h == INVALID_HANDLE_VALUE)
        return NULL;
    DWORD n = GetFinalPathNameByHandleW(h, NULL, 0, VOLUME_NAME_DOS);
    wchar_t *w = n ? xmalloc(((size_t)n + 1) * sizeof *w) : NULL;
    if (!w || GetFinalPathNameByHandleW(h, w, n + 1, VOLUME_NAME_DOS) == 0) {
        fail_win();
        CloseHandle(h);
        free(w);
        return NULL;
    }
    CloseHandle(h);
    char *s = from_wpath(w);
    free(w);
    size_t len = strlen(s);
    if (len > plat_path_root(s) && s[len - 1] == '/')
        s[len - 1] = '\0';
    return s;
}

char *plat_getcwd(void)
{
    DWORD n = GetCurrentDirectoryW(0, NULL);
    wchar_t *w = xmalloc(((size_t)n + 1) * sizeof *w);
    if (!GetCurrentDirectoryW(n + 1, w)) {
        free(w);
        fail_win();
        return NULL;
    }
    char *s = from_wpath(w);
    free(w);
    return s;
}

char *plat_readlink(const char *path)
{
    (void)path;
    return NULL;
}

int plat_fd_id(int fd, const struct stat *st, struct plat_file_id *id)
{
    (void)st;
    BY_HANDLE_FILE_INFORMATION fi;
    HANDLE h = (HANDLE)_get_osfhandle(fd);
    if (h == INVALID_HANDLE_VALUE || !GetFileInformationByHandle(h, &fi))
        return fail_win();
    *id = (struct plat_file_id){.dev = fi.dwVolumeSerialNumber,
                                .ino = ((uint64_t)fi.nFileIndexHigh << 32) | fi.nFileIndexLow};
    return 0;
}

int plat_path_id(const char *path, bool follow, struct plat_file_id *id)
{
    return stat_of(path, follow, NULL, id);
}

struct timespec plat_mtime(const struct stat *st)
{
    /* struct stat has whole seconds here: the settle rule's size check and
     * its wait cover writes within one second. */
    return (struct timespec){.tv_sec = st->st_mtime, .tv_nsec = 0};
}

bool plat_readable_by_others(const struct stat *st)
{
    (void)st;
    return false;
}

int plat_lock(int fd)
{
    HANDLE h = (HANDLE)_get_osfhandle(fd);
    OVERLAPPED o = {0};
    /* The last byte of the largest offset: never data, so the lock (which
     * Windows enforces on reads) only excludes other importers. */
    o.Offset = 0xFFFFFFFEu;
    o.OffsetHigh = 0x7FFFFFFFu;
    if (LockFileEx(h, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &o))
        return 0;
    DWORD e = GetLastError();
    errno = e == ERROR_LOCK_VIOLATION || e == ERROR_IO_PENDING ? EWOULDBLOCK : errno_of(e);
    return -1;
}

int plat_set_blocking(int fd)
{
    (void)fd;
    return 0;
}

int plat_fsync(int fd)
{
    return FlushFileBuffers((HANDLE)_get_osfhandle(fd)) ? 0 : fail_win();
}

int plat_fsync_dir(const char *dir)
{
    (void)dir; /* see plat.h */
    return 0;
}

int plat_free_bytes(const char *dir, uint64_t *avail, bool *readonly)
{
    *readonly = false;
    wchar_t *w = wpath(dir);
    if (!w)
        return -1;
    ULARGE_INTEGER caller;
    BOOL ok = GetDiskFreeSpaceExW(w, &caller, NULL, NULL);
    free(w);
    if (!ok)
        return fail_win();
    *avail = caller.QuadPart;
    return 0;
}

int plat_mkstemps(char *path, int suffixlen)
{
    static const char digits[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    size_t len = strlen(path);
    if (len < (size_t)suffixlen + 6) {
        errno = EINVAL;
        return -1;
    }
    char *x = path + len - (size_t)suffixlen - 6;
    /* rand_s: the system's random numbers, no seeding to get wrong. */
    for (int tries = 0; tries < 100; tries++) {
        for (int i = 0; i < 6; i++) {
            unsigned r = 0;
            rand_s(&r);
            x[i] = digits[r % (sizeof digits - 1)];
        }
        int fd = plat_open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    errno = EEXIST;
    return -1;
}
