/*
 * plat_wait_win.c - plat.h's waking up on Windows: the self-pipe that a
 * console-control thread or another thread pokes, and the wait on it and on
 * a socket. Anonymous pipes cannot be waited on with the wait functions, so
 * plat_wait_readable looks at them every 20 ms. Split from plat_win.c.
 */
#include "plat.h"

#include <winsock2.h> /* before windows.h, which would bring the old winsock */
#include <windows.h>
#include <fcntl.h>
#include <io.h>

/* ---- waking up ------------------------------------------------------------ */

int plat_pipe(int fds[2])
{
    return _pipe(fds, 4096, O_BINARY | O_NOINHERIT);
}

static DWORD pipe_avail(int fd)
{
    DWORD avail = 0;
    if (!PeekNamedPipe((HANDLE)_get_osfhandle(fd), NULL, 0, NULL, &avail, NULL))
        return 0;
    return avail;
}

void plat_pipe_poke(int fd)
{
    /* Anonymous pipes cannot be non-blocking here, but a poke blocks only
     * on a full pipe: 4096 pokes that no wake-up drained, which the loop
     * (draining at every wake-up) never lets happen. */
    int n = _write(fd, "x", 1);
    (void)n;
}

void plat_pipe_drain(int fd)
{
    char buf[64];
    DWORD avail;
    while ((avail = pipe_avail(fd)) > 0)
        if (_read(fd, buf, avail < sizeof buf ? (unsigned)avail : sizeof buf) <= 0)
            break;
}

int plat_wait_readable(struct plat_waitfd *fds, size_t n, int timeout_ms)
{
    ULONGLONG end = timeout_ms < 0 ? 0 : GetTickCount64() + (ULONGLONG)timeout_ms;
    for (;;) {
        int ready = 0;
        for (size_t i = 0; i < n; i++) {
            fds[i].ready = pipe_avail(fds[i].fd) > 0;
            ready += fds[i].ready;
        }
        if (ready)
            return ready;
        ULONGLONG now = GetTickCount64();
        if (timeout_ms >= 0 && now >= end)
            return 0;
        DWORD left = timeout_ms < 0 ? 20 : (DWORD)(end - now);
        Sleep(left < 20 ? left : 20);
    }
}

void plat_wait_writable_socket(int sock, int timeout_ms)
{
    fd_set w;
    FD_ZERO(&w);
    FD_SET((SOCKET)sock, &w);
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = timeout_ms % 1000 * 1000};
    select(0, NULL, &w, NULL, &tv);
}

/* libpq on Windows reaches the server over TCP, whose buffer Windows sizes
 * by itself. */
void plat_widen_local_socket(int sock, int bytes)
{
    (void)sock;
    (void)bytes;
}
