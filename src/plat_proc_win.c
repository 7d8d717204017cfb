/*
 * plat_proc_win.c - plat.h's process services on Windows: the console
 * control handler that stops the daemon as SIGTERM does on Linux (and its
 * overdue timer), threads, and the command line in UTF-8. Split from
 * plat_win.c; the service control manager's side is service_win.c.
 */
#include "plat.h"
#include "plat_win.h"
#include "cdrimport.h"

#include <windows.h>
#include <shellapi.h>
#include <stdlib.h>

/* ---- the process ---------------------------------------------------------- */

static struct plat_signals handlers;

/* Runs in a thread of its own that Windows starts for the event. */
static BOOL WINAPI on_console(DWORD ev)
{
    static volatile LONG stopping;
    if (ev != CTRL_C_EVENT && ev != CTRL_BREAK_EVENT && ev != CTRL_CLOSE_EVENT &&
        ev != CTRL_SHUTDOWN_EVENT && ev != CTRL_LOGOFF_EVENT)
        return FALSE;
    bool first = InterlockedExchange(&stopping, 1) == 0;
    handlers.stop();
    if (first && handlers.grace_s) {
        /* This thread is ours to wait in: the overdue timer of SIGALRM. */
        Sleep(handlers.grace_s * 1000u);
        if (handlers.overdue)
            handlers.overdue();
    }
    return TRUE;
}

void plat_win_stop(void)
{
    if (handlers.stop)
        handlers.stop();
}

void plat_signals_install(const struct plat_signals *s)
{
    handlers = *s;
    SetConsoleCtrlHandler(on_console, TRUE);
}

void plat_notify(const char *state)
{
    (void)state;
}

int plat_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
    return pthread_create(thread, NULL, fn, arg);
}

void plat_sleep_ms(unsigned ms)
{
    Sleep(ms);
}

bool plat_process_gone(long pid)
{
    if (pid <= 0)
        return false;
    HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)pid);
    if (!h)
        return GetLastError() == ERROR_INVALID_PARAMETER; /* no such process */
    DWORD code = 0;
    bool gone = GetExitCodeProcess(h, &code) && code != STILL_ACTIVE;
    CloseHandle(h);
    return gone;
}

void plat_tune_malloc(void)
{
}

void plat_args_utf8(int *argc, char ***argv)
{
    int n = 0;
    wchar_t **w = CommandLineToArgvW(GetCommandLineW(), &n);
    if (!w)
        return;
    char **v = xcalloc((size_t)n + 1, sizeof *v);
    for (int i = 0; i < n; i++)
        v[i] = plat_win_utf8(w[i]);
    LocalFree(w);
    *argc = n;
    *argv = v; /* kept for the life of the process, as argv is */
    SetConsoleOutputCP(CP_UTF8);
}

char *plat_loaded_library(const char *prefix)
{
    (void)prefix; /* linked statically */
    return NULL;
}
