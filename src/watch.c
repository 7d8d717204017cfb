/*
 * watch.c - the daemon's core: the main loop (poll on the backends'
 * descriptors and a self-pipe for signals), the pending files and their
 * import, database outages with exponential backoff, SIGHUP reloads and
 * systemd notification. The backends (watch_backend.h) only report what
 * they see; when a file is complete is pending.c's rule.
 *
 * A file that changes while being read is rolled back and retried
 * (file.c checks the checksum twice), so a slow writer is never half-read.
 */
#include "watch.h"
#include "job.h"
#include "log.h"
#include "pending.h"
#include "prune.h"
#include "schema.h"
#include "source.h"
#include "trunks.h"
#include "watch_backend.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h> /* sig_atomic_t */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One row per enum cdr_watch_backend: a new kind of source is one more
 * row (and one more backend file). */
static struct watch_backend *(*const backend_create[])(const struct watch_sink *) = {
    /* Windows has no inotify: its own change notifications take the row. */
#ifdef _WIN32
    [CDR_WATCH_INOTIFY] = watch_rdcw_create,
#else
    [CDR_WATCH_INOTIFY] = watch_inotify_create,
#endif
    [CDR_WATCH_POLL] = watch_poll_create,
    [CDR_WATCH_FETCH] = watch_fetch_create,
};
#define NBACKENDS (sizeof backend_create / sizeof *backend_create)

struct watcher {
    struct cdr_config *cfg;
    struct job job;
    /* One of each kind, made when a source first needs it and kept across
     * reloads (an inotify instance is a scarce resource). */
    struct watch_backend *backend[NBACKENDS];
    struct pending_rule *rules;  /* per source */
    struct pending_table pend;
};

/* The loop sleeps at most this long: the periodic rescan and a reload
 * request are looked at when it wakes. */
#define MAX_SLEEP_MS 1000

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;
static int sigpipe[2] = {-1, -1};

/* Seconds the daemon may take to stop after SIGTERM/SIGINT before it
 * leaves anyway (see on_alarm). */
#define STOP_GRACE_S 4
#define STR_(x) #x
#define STR(x) STR_(x)

/* Still busy STOP_GRACE_S after the stop signal: blocked in libpq on a
 * server that does not answer (a connect waits up to connect_timeout, a
 * query for ever). Leave now, as kill -9 would, which is safe at any
 * moment: the server rolls back the file in progress, which stays put. */
static void on_overdue(void)
{
    /* Made at compile time: nothing but write() is safe in a handler. */
    static const char msg[] = "cdrimport: still busy " STR(STOP_GRACE_S) " s after the stop "
                              "signal (database not answering); exiting now\n";
    ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)n;
    _exit(CDR_EXIT_OK);
}

/* Both run in a signal handler (or Windows' console-control thread):
 * a flag and a byte into the self-pipe, nothing else. */
static void on_stop(void)
{
    stop_flag = 1;
    plat_pipe_poke(sigpipe[1]);
}

static void on_reload(void)
{
    reload_flag = 1;
    plat_pipe_poke(sigpipe[1]);
}

/* ---- the sink: what the backends report ------------------------------------ */

static void note(void *ctx, size_t si, const char *path, enum pending_kind kind)
{
    struct watcher *w = ctx;
    struct stat st;
    bool there = kind != PENDING_GONE && plat_lstat(path, &st) == 0;
    if (pending_note(&w->pend, si, path, kind, there ? &st : NULL, &w->rules[si],
                     cdr_monotonic()))
        log_debug("new candidate %s", path);
}

static void scan(void *ctx, size_t si, const char *dir, bool sweep)
{
    struct watcher *w = ctx;
    const struct cdr_source *src = &w->cfg->sources[si];
    struct source_list list = {0};
    char err[CDR_ERRLEN];
    pending_scan_begin(&w->pend);
    if (source_walk(src, dir, src->recursive, true, &list, err, sizeof err) < 0) {
        log_debug("%s", err);
        return;
    }
    for (size_t i = 0; i < list.n; i++)
        note(w, si, list.files[i].path, PENDING_SEEN);
    /* Tests wait for this line to know the daemon has looked. */
    log_debug("scanned %s: %zu candidate%s", dir, list.n, list.n == 1 ? "" : "s");
    source_list_free(&list);
    if (sweep)
        pending_sweep(&w->pend, si);
}

/* ---- the database --------------------------------------------------------- */

struct dbstate {
    double next_try;
    double backoff;   /* seconds: 1, 2, 4 ... 60 */
    bool reported_down;
};

static void db_lost(struct watcher *w, struct dbstate *d, const char *why)
{
    db_close(w->job.db);
    w->job.db = NULL;
    w->job.db_down = false;
    if (!d->reported_down) {
        log_error("database unreachable%s%s; files stay where they are, retrying with backoff "
                  "up to 60 s", why ? ": " : "", why ? why : "");
        plat_notify("STATUS=database unreachable, retrying");
        d->reported_down = true;
    }
    d->backoff = d->backoff < 1 ? 1 : (d->backoff * 2 > 60 ? 60 : d->backoff * 2);
    d->next_try = cdr_monotonic() + d->backoff;
}

static void db_try(struct watcher *w, struct dbstate *d)
{
    if (w->job.db || cdr_monotonic() < d->next_try)
        return;
    char err[CDR_ERRLEN];
    struct db *db = db_connect(w->cfg, err, sizeof err);
    if (db && (schema_migrate(db, w->cfg->partition, false, err, sizeof err) != LOAD_OK ||
               trunks_publish(db, w->cfg, err, sizeof err) != LOAD_OK)) {
        db_close(db);
        db = NULL;
    }
    if (!db) {
        log_debug("database still unreachable: %s", err);
        db_lost(w, d, err);
        return;
    }
    w->job.db = db;
    log_debug("connected to the database; tables ready");
    if (d->reported_down)
        log_info("database is back");
    d->reported_down = false;
    d->backoff = 0;
}

/* ---- the loop ------------------------------------------------------------- */

static void notify_status(const struct watcher *w)
{
    const struct job_totals *t = &w->job.totals;
    char status[256];
    snprintf(status, sizeof status,
             "STATUS=watching %zu source%s; %u files imported, %u duplicate, %u failed; "
             "%llu rows new", w->cfg->nsources, w->cfg->nsources == 1 ? "" : "s",
             t->files_imported, t->files_duplicate, t->files_failed,
             (unsigned long long)t->rows_new);
    plat_notify(status);
}

/* Import every pending file that is complete, oldest first. */
static void import_ready(struct watcher *w, struct dbstate *d)
{
    double now = cdr_monotonic();
    if (!w->job.db)
        return;
    pending_sort(&w->pend);
    for (size_t i = 0; i < w->pend.n && !stop_flag;) {
        struct pending_file *p = &w->pend.files[i];
        if (!pending_ready(p, now)) {
            i++;
            continue;
        }
        /* One last look: changed since we last saw it? Then wait again. */
        struct stat st;
        bool there = plat_lstat(p->path, &st) == 0;
        enum pending_check c = pending_recheck(&w->pend, i, there ? &st : NULL, cdr_monotonic());
        if (c == PENDING_VANISHED)
            continue;
        if (c == PENDING_CHANGED) {
            log_debug("%s changed since it was last seen; waiting again", p->path);
            i++;
            continue;
        }
        /* The table stays as it is during the import (nothing in it notes),
         * so p and i still name this file afterwards. */
        log_debug("importing %s", p->path);
        const struct cdr_source *src = &w->cfg->sources[p->si];
        w->job.quiet_skip = p->skips > 0;
        enum file_status fs = job_import_file(&w->job, p->si, src->path, p->path, true, false);
        w->job.quiet_skip = false;
        if (fs == FILE_DB_DOWN) {
            job_sync_moves(&w->job);
            db_lost(w, d, NULL);
            return;
        }
        if (plat_access(p->path, F_OK) < 0) {
            pending_drop(&w->pend, i);
        } else if (fs == FILE_SKIPPED || fs == FILE_IO_ERROR) {
            pending_retry_later(p, cdr_monotonic());
            i++;
        } else {
            /* Kept (on_success: keep) or could not be moved: not again
             * unless it changes. */
            pending_keep(p);
            i++;
        }
        if (fs != FILE_SKIPPED)
            notify_status(w);
    }
    job_sync_moves(&w->job); /* nothing more is ready */
}

static void start_all(struct watcher *w)
{
    const struct watch_sink sink = {.ctx = w, .note = note, .scan = scan, .cfg = &w->cfg};
    w->rules = xcalloc(w->cfg->nsources, sizeof *w->rules);
    for (size_t si = 0; si < w->cfg->nsources; si++) {
        const struct cdr_source *src = &w->cfg->sources[si];
        size_t kind = (size_t)src->watch.backend;
        if (!w->backend[kind])
            w->backend[kind] = backend_create[kind](&sink);
        struct watch_backend *b = w->backend[kind];
        w->rules[si] = (struct pending_rule){.settle_s = src->watch.settle_ms / 1000.0,
                                             .quiet_look = !b->ops->sees_writers};
        log_info("watching %s for source %s (%s backend, settle %u ms)", src->path, src->name,
                 b->ops->name, src->watch.settle_ms);
        b->ops->add(b, si, src);
    }
}

static void stop_all(struct watcher *w)
{
    for (size_t k = 0; k < NBACKENDS; k++)
        if (w->backend[k])
            w->backend[k]->ops->reset(w->backend[k]);
    pending_clear(&w->pend);
    free(w->rules);
    w->rules = NULL;
}

/* retention_months: prune once the database is there, then once a day
 * (an hour after a failure), between files, on the watcher's connection. */
static void retention(struct watcher *w, double *next)
{
    unsigned months = w->cfg->retention_months;
    double now = cdr_monotonic();
    if (!months || !w->job.db || now < *next)
        return;
    struct prune_totals t;
    char err[CDR_ERRLEN];
    if (prune_run(w->job.db, months, &t, err, sizeof err) == LOAD_OK) {
        *next = now + 86400;
    } else {
        log_error("prune: %s", err);
        *next = now + 3600;
    }
}

static bool reload(struct watcher *w, const char *config_path)
{
    char err[CDR_ERRLEN];
    struct cdr_config *cfg = config_load(config_locate(config_path), err, sizeof err);
    if (!cfg) {
        log_error("reload failed, keeping the old configuration: %s", err);
        return false;
    }
    struct job job = {.tty = false, .cancel = &stop_flag};
    if (!job_init(&job, cfg)) {
        job_free(&job);
        config_free(cfg);
        log_error("reload failed, keeping the old configuration");
        return false;
    }
    stop_all(w);
    job.db = w->job.db; /* reconnect below if the dsn changed */
    bool same_db = (!cfg->dsn && !w->cfg->dsn) ||
                   (cfg->dsn && w->cfg->dsn && strcmp(cfg->dsn, w->cfg->dsn) == 0);
    if (!same_db || strcmp(cfg->schema, w->cfg->schema) != 0) {
        db_close(job.db);
        job.db = NULL;
    }
    job.totals = w->job.totals;
    job_free(&w->job);
    config_free(w->cfg);
    w->cfg = cfg;
    w->job = job;
    w->job.cfg = cfg;
    log_info("configuration reloaded from %s", cfg->file);
    start_all(w);
    return true;
}

/* Milliseconds from now until at, rounded up (waking a little early would
 * only go round the loop for nothing), at most cap. */
static int timeout_until(double at, double now, int cap)
{
    double due = at - now;
    if (due <= 0)
        return 0;
    if (due * 1000.0 >= cap)
        return cap;
    return (int)(due * 1000.0) + 1;
}

/* Sleep until a signal, a backend's descriptor, or the next thing due;
 * then let the backends whose turn it is run. false if poll() failed. */
static bool wait_and_run(struct watcher *w, const struct dbstate *d)
{
    double now = cdr_monotonic();
    int timeout = timeout_until(pending_next_due(&w->pend), now, MAX_SLEEP_MS);
    struct plat_waitfd fds[1 + NBACKENDS];
    size_t nfds = 1;
    fds[0] = (struct plat_waitfd){.fd = sigpipe[0]};
    int slot[NBACKENDS]; /* the backend's entry in fds, 0 if none */
    for (size_t k = 0; k < NBACKENDS; k++) {
        struct watch_backend *b = w->backend[k];
        slot[k] = 0;
        if (!b)
            continue;
        timeout = timeout_until(b->ops->deadline(b), now, timeout);
        if (b->ops->fd(b) >= 0) {
            slot[k] = (int)nfds;
            fds[nfds++] = (struct plat_waitfd){.fd = b->ops->fd(b)};
        }
    }
    if (!w->job.db)
        timeout = timeout_until(d->next_try, now, timeout);
    int n = plat_wait_readable(fds, nfds, timeout);
    if (n < 0) {
        log_error("poll: %s", strerror(errno));
        return false;
    }
    if (n > 0 && fds[0].ready)
        plat_pipe_drain(sigpipe[0]);
    if (stop_flag)
        return true;
    now = cdr_monotonic();
    for (size_t k = 0; k < NBACKENDS; k++) {
        struct watch_backend *b = w->backend[k];
        if (!b)
            continue;
        bool readable = n > 0 && slot[k] && fds[slot[k]].ready;
        if (readable || now >= b->ops->deadline(b))
            b->ops->run(b, now);
    }
    return true;
}

int watch_run(struct cdr_config *cfg, const char *config_path)
{
    struct watcher w = {.cfg = cfg};
    struct dbstate d = {0};
    int status = CDR_EXIT_OK;

    if (plat_pipe(sigpipe) < 0) {
        log_error("pipe: %s", strerror(errno));
        return CDR_EXIT_USAGE;
    }
    plat_signals_install(&(struct plat_signals){
        .stop = on_stop, .reload = on_reload, .overdue = on_overdue, .grace_s = STOP_GRACE_S});

    w.job.cancel = &stop_flag;
    if (!job_init(&w.job, cfg)) {
        job_free(&w.job);
        return CDR_EXIT_USAGE;
    }
    /* Watching first, then READY: the database is tried in the loop, so a
     * server that is down or slow to answer at start delays neither (down
     * at start is not fatal: files wait until it is back). */
    start_all(&w);
    plat_notify("READY=1");
    notify_status(&w);

    double last_rescan = cdr_monotonic(), next_prune = 0;
    while (!stop_flag) {
        if (reload_flag) {
            reload_flag = 0;
            if (reload(&w, config_path))
                last_rescan = cdr_monotonic();
        }
        if (!wait_and_run(&w, &d)) {
            status = CDR_EXIT_PARTIAL;
            break;
        }
        if (stop_flag)
            break;
        double now = cdr_monotonic();
        if (now - last_rescan >= w.cfg->watch.rescan_interval_s) {
            /* Backstop: inotify can lose events we were never told about. */
            for (size_t k = 0; k < NBACKENDS; k++)
                if (w.backend[k])
                    w.backend[k]->ops->rescan(w.backend[k]);
            last_rescan = now;
        }
        db_try(&w, &d);
        import_ready(&w, &d);
        retention(&w, &next_prune);
    }

    plat_notify("STOPPING=1");
    const struct job_totals *t = &w.job.totals; /* since the start, across reloads */
    log_info("stopping: %u files imported, %u duplicate, %u failed; rows: %llu read, %llu new, "
             "%llu duplicate, %llu rejected; %.1f MB read",
             t->files_imported, t->files_duplicate, t->files_failed,
             (unsigned long long)t->rows_read, (unsigned long long)t->rows_new,
             (unsigned long long)t->rows_dup, (unsigned long long)t->rows_rejected,
             (double)t->bytes / 1e6);
    stop_all(&w);
    for (size_t k = 0; k < NBACKENDS; k++)
        if (w.backend[k])
            w.backend[k]->ops->destroy(w.backend[k]);
    pending_free(&w.pend);
    db_close(w.job.db);
    w.job.db = NULL;
    job_free(&w.job);
    config_free(w.cfg);
    close(sigpipe[0]);
    close(sigpipe[1]);
    return status;
}
