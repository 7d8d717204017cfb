/*
 * plat_win.h - what plat_win.c lends the other Windows-only files (the
 * ReadDirectoryChangesW backend): the conversion of the program's UTF-8
 * paths to the API's wide "\\?\" form and of wide names back to UTF-8.
 * Only *_win.c files include it.
 */
#ifndef CDR_PLAT_WIN_H
#define CDR_PLAT_WIN_H

#include <stdbool.h>
#include <wchar.h>

/* The "\\?\" form of path (malloc'd), or NULL and errno. */
wchar_t *plat_win_path(const char *path);
/* A wide string as UTF-8 (malloc'd). */
char *plat_win_utf8(const wchar_t *w);
/* UTF-8 as a wide string (malloc'd), or NULL for bytes that are not UTF-8. */
wchar_t *plat_win_wide(const char *s);
/* errno for a Windows error code (GetLastError). */
int plat_win_errno(unsigned long e);
/* The stop that Ctrl-C brings, for the service control manager's STOP:
 * plat_signals' stop callback, without its overdue timer (the service
 * keeps its own, within the manager's wait). */
void plat_win_stop(void);
/* Whether h, opened by the "\\?\" path wp, is (or was reached through) a
 * symbolic link or junction at wp's last name (plat_link_win.c). */
bool plat_win_handle_is_link(void *h, const wchar_t *wp);
/* What is at the "\\?\" path wp: 0 no link; 1 a link that Windows' own
 * calls (MoveFileExW, DeleteFileW) act on as such (its reparse tag says
 * so); 2 a link seen only by where it leads (Wine's Unix links), which
 * those calls would follow to the target: moving or deleting it is refused. */
int plat_win_link_kind(const wchar_t *wp);

#endif
