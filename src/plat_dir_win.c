/*
 * plat_dir_win.c - plat.h's folder listing on Windows: FindFirstFileExW over
 * the folder's "\\?\" path, names back in UTF-8. Split from plat_win.c.
 */
#include "plat.h"
#include "plat_win.h"
#include "cdrimport.h"

#include <windows.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <wchar.h>

struct plat_dir {
    HANDLE h;
    WIN32_FIND_DATAW fd;
    bool first; /* fd holds an entry not yet returned */
    char *name;
};

struct plat_dir *plat_opendir(const char *path)
{
    char *pattern = xasprintf("%s/*", path);
    wchar_t *w = plat_win_path(pattern);
    free(pattern);
    if (!w)
        return NULL;
    struct plat_dir *d = xcalloc(1, sizeof *d);
    d->h = FindFirstFileExW(w, FindExInfoBasic, &d->fd, FindExSearchNameMatch, NULL, 0);
    free(w);
    if (d->h == INVALID_HANDLE_VALUE) {
        DWORD e = GetLastError();
        if (e == ERROR_FILE_NOT_FOUND) { /* an empty drive root: no entries */
            d->h = NULL;
            return d;
        }
        free(d);
        errno = plat_win_errno(e);
        return NULL;
    }
    d->first = true;
    return d;
}

const char *plat_readdir(struct plat_dir *d)
{
    if (!d->h)
        return NULL;
    for (;;) {
        if (!d->first && !FindNextFileW(d->h, &d->fd))
            return NULL;
        d->first = false;
        const wchar_t *n = d->fd.cFileName;
        if (!wcscmp(n, L".") || !wcscmp(n, L".."))
            continue;
        free(d->name);
        d->name = plat_win_utf8(n);
        return d->name;
    }
}

void plat_closedir(struct plat_dir *d)
{
    if (!d)
        return;
    if (d->h && d->h != INVALID_HANDLE_VALUE)
        FindClose(d->h);
    free(d->name);
    free(d);
}
