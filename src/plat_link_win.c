/*
 * plat_link_win.c - telling a link from a file on Windows, for plat_lstat
 * and plat_open(O_NOFOLLOW) (plat_win.c). A source folder is untrusted: a
 * symbolic link or junction in it must not let a scan read, move or delete
 * what lies outside, just as lstat and O_NOFOLLOW keep it on Linux.
 *
 * Two tests, either one enough:
 *  - the handle is a reparse point whose tag is a name surrogate (a
 *    symbolic link, a junction: IsReparseTagNameSurrogate). Real Windows
 *    reports these when opened with FILE_FLAG_OPEN_REPARSE_POINT.
 *  - the object reached is not at the name used: the handle's final path
 *    differs from the final path of the name's folder joined with the name
 *    (case ignored, as NTFS does). This catches a link whatever reports it
 *    or not: Wine 8 shows a Unix symbolic link to a file as a plain file
 *    (no reparse attribute, no tag) but resolves it in
 *    GetFinalPathNameByHandleW.
 * A path spelt with a short (8.3) name fails the second test: it is then
 * taken for a link, which errs on the safe side. Nothing here logs.
 */
#include "plat_win.h"
#include "cdrimport.h"

#include <windows.h>
#include <stdbool.h>
#include <stdlib.h>
#include <wchar.h>

/* The final path of h (malloc'd), or NULL if the system cannot say. */
static wchar_t *final_path(HANDLE h)
{
    DWORD n = GetFinalPathNameByHandleW(h, NULL, 0, VOLUME_NAME_DOS);
    if (n == 0)
        return NULL;
    wchar_t *w = xmalloc(((size_t)n + 1) * sizeof *w);
    if (GetFinalPathNameByHandleW(h, w, n + 1, VOLUME_NAME_DOS) == 0) {
        free(w);
        return NULL;
    }
    return w;
}

static bool tag_is_link(HANDLE h)
{
    FILE_ATTRIBUTE_TAG_INFO ti;
    if (!GetFileInformationByHandleEx(h, FileAttributeTagInfo, &ti, sizeof ti))
        return false;
    return (ti.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) &&
           IsReparseTagNameSurrogate(ti.ReparseTag);
}

/* Whether h, opened by the "\\?\" path wp, was reached through a link at
 * wp's last name. */
bool plat_win_handle_is_link(HANDLE h, const wchar_t *wp)
{
    if (tag_is_link(h))
        return true;
    size_t len = wcslen(wp);
    while (len > 4 && wp[len - 1] == L'\\')
        len--;
    size_t cut = len;
    while (cut > 4 && wp[cut - 1] != L'\\')
        cut--;
    if (cut <= 4 || cut == len)
        return false;
    /* The folder, with its trailing '\' (a drive's root needs it). */
    wchar_t *dir = xmalloc((cut + 1) * sizeof *dir);
    wmemcpy(dir, wp, cut);
    dir[cut] = L'\0';
    const wchar_t *name = wp + cut;
    size_t namelen = len - cut;
    HANDLE hd = CreateFileW(dir, FILE_READ_ATTRIBUTES,
                            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                            OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS, NULL);
    free(dir);
    if (hd == INVALID_HANDLE_VALUE)
        return false; /* a root, or no right to it: the tag test stands alone */
    wchar_t *fd = final_path(hd);
    CloseHandle(hd);
    wchar_t *ff = fd ? final_path(h) : NULL;
    bool link = false;
    if (fd && ff) {
        size_t nd = wcslen(fd);
        bool sep = nd && fd[nd - 1] == L'\\';
        size_t nexp = nd + (sep ? 0 : 1) + namelen;
        wchar_t *expect = xmalloc((nexp + 1) * sizeof *expect);
        wmemcpy(expect, fd, nd);
        if (!sep)
            expect[nd] = L'\\';
        wmemcpy(expect + nd + (sep ? 0 : 1), name, namelen);
        expect[nexp] = L'\0';
        link = CompareStringOrdinal(expect, -1, ff, -1, TRUE) != CSTR_EQUAL;
        free(expect);
    }
    free(fd);
    free(ff);
    return link;
}

int plat_win_link_kind(const wchar_t *wp)
{
    HANDLE h = CreateFileW(wp, FILE_READ_ATTRIBUTES,
                           FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, NULL,
                           OPEN_EXISTING, FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT,
                           NULL);
    if (h == INVALID_HANDLE_VALUE)
        return 0; /* nothing there: the call that follows says so */
    int kind = tag_is_link(h) ? 1 : plat_win_handle_is_link(h, wp) ? 2 : 0;
    CloseHandle(h);
    return kind;
}
