/*
 * service_win.c - `cdrimport service install|uninstall|run` on Windows:
 * `watch` under the service control manager (service.h).
 *
 * install registers the program with the config's absolute path, started
 * at boot and restarted by the manager when it fails (3 times, 5 s apart;
 * the count resets after a day). run is what the manager starts: the
 * watch loop, its log lines appended to the config's log_file, or
 * cdrimport.log beside the config (a service has no console). A stop request is the console's Ctrl-C: the
 * file in progress is finished or rolled back; if the database does not
 * answer, the service reports itself stopped and leaves within 5 s, and
 * the server rolls back what was open.
 */
#include "service.h"
#include "config.h"
#include "log.h"
#include "plat.h"
#include "plat_win.h"
#include "watch.h"

#include <windows.h>
#include <errno.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME L"cdrimport"
#define STOP_WAIT_MS 4500 /* within the manager's 5 s, with the report */

static SERVICE_STATUS_HANDLE status_handle;
static SERVICE_STATUS status = {.dwServiceType = SERVICE_WIN32_OWN_PROCESS};
static char *config_file; /* absolute: the manager starts us in System32 */

static void report(DWORD state, int exit_status, DWORD wait_ms)
{
    status.dwCurrentState = state;
    status.dwControlsAccepted = state == SERVICE_RUNNING
        ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN : 0;
    status.dwWin32ExitCode = exit_status ? ERROR_SERVICE_SPECIFIC_ERROR : NO_ERROR;
    status.dwServiceSpecificExitCode = (DWORD)exit_status;
    status.dwWaitHint = wait_ms;
    status.dwCheckPoint = state == SERVICE_RUNNING || state == SERVICE_STOPPED
        ? 0 : status.dwCheckPoint + 1;
    SetServiceStatus(status_handle, &status);
}

/* Still there STOP_WAIT_MS after the stop request: blocked in libpq on a
 * database that does not answer. Leaving is safe at any moment (the
 * server rolls back the file in progress, which stays put). */
static DWORD WINAPI overdue(LPVOID arg)
{
    (void)arg;
    Sleep(STOP_WAIT_MS);
    log_warn("still busy %u ms after the stop request (database not answering); leaving now",
             STOP_WAIT_MS);
    report(SERVICE_STOPPED, 0, 0);
    ExitProcess(0);
    return 0;
}

static DWORD WINAPI on_control(DWORD control, DWORD type, LPVOID data, LPVOID ctx)
{
    (void)type;
    (void)data;
    (void)ctx;
    switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
        report(SERVICE_STOP_PENDING, 0, STOP_WAIT_MS + 500);
        plat_win_stop();
        CloseHandle(CreateThread(NULL, 0, overdue, NULL, 0, NULL));
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

/* cdrimport.log beside the config. */
static char *default_log(const char *config)
{
    const char *slash = strrchr(config, '/');
    return xasprintf("%.*s/cdrimport.log", slash ? (int)(slash - config) : 1,
                     slash ? config : ".");
}

/* Where the service logs: the config's log_file, else default_log (also
 * when the config does not load: the watch loop then says why, there). */
static char *log_path(const char *config)
{
    char err[CDR_ERRLEN];
    struct cdr_config *c = config_load(config, err, sizeof err);
    char *path = c && c->log_file ? xstrdup(c->log_file) : default_log(config);
    config_free(c);
    return path;
}

/* The log into log_path (kept open: the process ends with it). A
 * log_file that cannot be opened (a folder not made yet) leaves the log
 * beside the config, which says why, rather than nowhere. */
static void log_to_file(void)
{
    char *path = log_path(config_file);
    FILE *f = plat_fopen(path, "a");
    if (!f) {
        int e = errno;
        char *fallback = default_log(config_file);
        f = plat_fopen(fallback, "a");
        if (f) {
            log_set_file(f);
            log_warn("log_file %s: %s; logging to %s instead", path, strerror(e), fallback);
        }
        free(fallback);
    } else {
        log_set_file(f);
    }
    free(path);
}

static void WINAPI service_main(DWORD argc, LPWSTR *argv)
{
    (void)argc;
    (void)argv;
    status_handle = RegisterServiceCtrlHandlerExW(NAME, on_control, NULL);
    if (!status_handle)
        return;
    report(SERVICE_START_PENDING, 0, 10000);
    log_to_file();
    char err[CDR_ERRLEN];
    struct cdr_config *cfg = config_load(config_file, err, sizeof err);
    if (!cfg) {
        log_error("%s", err);
        report(SERVICE_STOPPED, CDR_EXIT_USAGE, 0);
        return;
    }
    log_info("started by the service control manager");
    report(SERVICE_RUNNING, 0, 0);
    int rc = watch_run(cfg, config_file); /* owns cfg */
    report(SERVICE_STOPPED, rc, 0);
}

/* The config as an absolute path, loaded once to be sure it works. */
static char *checked_config(const char *config_path)
{
    const char *given = config_path ? config_path : getenv("CDRIMPORT_CONFIG");
    if (!given || !*given)
        given = "importer.yaml";
    char *abs = plat_realpath(given);
    if (!abs) {
        log_error("%s: %s", given, strerror(errno));
        return NULL;
    }
    char err[CDR_ERRLEN];
    struct cdr_config *cfg = config_load(abs, err, sizeof err);
    if (!cfg) {
        log_error("%s", err);
        free(abs);
        return NULL;
    }
    config_free(cfg);
    return abs;
}

static int fail(const char *what)
{
    log_error("%s: Windows error %lu", what, (unsigned long)GetLastError());
    return CDR_EXIT_USAGE;
}

static int install(const char *config_path)
{
    char *cfg = checked_config(config_path);
    if (!cfg)
        return CDR_EXIT_USAGE;
    wchar_t exe[32768];
    DWORD n = GetModuleFileNameW(NULL, exe, sizeof exe / sizeof *exe);
    wchar_t *wcfg = plat_win_wide(cfg);
    if (!n || !wcfg) {
        free(cfg);
        free(wcfg);
        return fail("cannot name the program or its config");
    }
    size_t len = wcslen(exe) + wcslen(wcfg) + 64;
    wchar_t *cmd = xmalloc(len * sizeof *cmd);
    swprintf(cmd, len, L"\"%ls\" -c \"%ls\" service run", exe, wcfg);
    free(wcfg);
    int rc = CDR_EXIT_OK;
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CREATE_SERVICE);
    SC_HANDLE svc = scm ? CreateServiceW(scm, NAME, L"cdrimport (call records into PostgreSQL)",
                                         SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                                         SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, cmd, NULL,
                                         NULL, NULL, NULL, NULL)
                        : NULL;
    if (!svc) {
        rc = fail(scm ? "cannot register the service (installed already? run as "
                        "administrator?)"
                      : "cannot open the service control manager (run as administrator)");
    } else {
        SERVICE_DESCRIPTIONW d = {.lpDescription = (LPWSTR)L"Watches the folders of "
                                                           L"importer.yaml and loads PBX call "
                                                           L"records into PostgreSQL."};
        ChangeServiceConfig2W(svc, SERVICE_CONFIG_DESCRIPTION, &d);
        SC_ACTION restart[3] = {{SC_ACTION_RESTART, 5000}, {SC_ACTION_RESTART, 5000},
                                {SC_ACTION_RESTART, 5000}};
        SERVICE_FAILURE_ACTIONSW fa = {.dwResetPeriod = 86400, .cActions = 3,
                                       .lpsaActions = restart};
        SERVICE_FAILURE_ACTIONS_FLAG flag = {.fFailureActionsOnNonCrashFailures = TRUE};
        if (!ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS, &fa) ||
            !ChangeServiceConfig2W(svc, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &flag))
            log_warn("service registered, but not its restart on failure: Windows error %lu",
                     (unsigned long)GetLastError());
        char *log = log_path(cfg);
        printf("service cdrimport installed (start: automatic; config %s; log %s)"
               "\nstart it now with: sc start cdrimport\n",
               cfg, log);
        free(log);
        CloseServiceHandle(svc);
    }
    if (scm)
        CloseServiceHandle(scm);
    free(cmd);
    free(cfg);
    return rc;
}

static int uninstall(void)
{
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    SC_HANDLE svc = scm ? OpenServiceW(scm, NAME, DELETE | SERVICE_STOP | SERVICE_QUERY_STATUS)
                        : NULL;
    int rc = CDR_EXIT_OK;
    if (!svc) {
        rc = fail("cannot open the service cdrimport (not installed? run as administrator?)");
    } else {
        SERVICE_STATUS st;
        if (ControlService(svc, SERVICE_CONTROL_STOP, &st))
            for (int i = 0; i < 100 && QueryServiceStatus(svc, &st) &&
                            st.dwCurrentState != SERVICE_STOPPED; i++)
                Sleep(100);
        if (DeleteService(svc))
            printf("service cdrimport removed\n");
        else
            rc = fail("cannot remove the service cdrimport");
        CloseServiceHandle(svc);
    }
    if (scm)
        CloseServiceHandle(scm);
    return rc;
}

int service_command(int argc, char **argv, const char *config_path)
{
    const char *what = argc >= 2 ? argv[1] : "";
    if (argc == 2 && !strcmp(what, "install"))
        return install(config_path);
    if (argc == 2 && !strcmp(what, "uninstall"))
        return uninstall();
    if (argc == 2 && !strcmp(what, "run")) {
        if (!(config_file = checked_config(config_path)))
            return CDR_EXIT_USAGE;
        SERVICE_TABLE_ENTRYW table[] = {{(LPWSTR)NAME, service_main}, {NULL, NULL}};
        if (!StartServiceCtrlDispatcherW(table))
            return fail("service run is for the service control manager (use watch in a "
                        "console)");
        return status.dwServiceSpecificExitCode;
    }
    log_error("usage: cdrimport [-c FILE] service install|uninstall");
    return CDR_EXIT_USAGE;
}
