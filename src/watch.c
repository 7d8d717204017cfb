/*
 * watch.c - the daemon's core: the table of pending files and the rule that
 * says when one is complete, the main loop (poll on the inotify descriptor
 * and a self-pipe for signals), database outages with exponential backoff,
 * SIGHUP reloads and systemd notification. The backends only report what
 * they see (watch_note); see watch.h.
 *
 * A file is complete when nothing has changed it for settle_ms and, where
 * inotify tells, it has been closed after writing or moved in. The poll
 * backend cannot see a writer, so it also wants one poll interval with no
 * change. A file that changes while being read is rolled back and retried
 * (file.c checks the checksum twice), so a slow writer is never half-read.
 */
#include "watch.h"
#include "log.h"
#include "schema.h"
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

struct watch_pending {
    char *path;
    size_t si;
    off_t size;
    struct timespec mtime;
    double changed_at;    /* when a change was last seen */
    bool writing;         /* inotify: open for writing */
    bool closed;          /* inotify: closed after writing / moved in */
    unsigned stable;      /* polls in a row without change */
    bool done;            /* kept (on_success: keep) or could not be moved */
    double retry_at;      /* skipped: not again before this */
    unsigned gen;
};

/* A skipped file (another importer holds it, or it changed while being
 * read) is tried again after this many seconds at the earliest; with
 * settle_ms 0 it would otherwise be retried in a tight loop, one log line
 * each time, for as long as the other importer works on it. */
#define SKIP_RETRY_S 1.0

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;
static int sigpipe[2] = {-1, -1};

/* Seconds the daemon may take to stop after SIGTERM/SIGINT before it
 * leaves anyway (see on_alarm). */
#define STOP_GRACE_S 4

/* Still busy STOP_GRACE_S after the stop signal: blocked in libpq on a
 * server that does not answer (a connect waits up to connect_timeout, a
 * query for ever). Leave now, as kill -9 would, which is safe at any
 * moment: the server rolls back the file in progress, which stays put. */
static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "cdrimport: still busy 4 s after the stop signal "
                              "(database not answering); exiting now\n";
    ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
    (void)n;
    _exit(CDR_EXIT_OK);
}

static void on_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP) {
        reload_flag = 1;
    } else {
        if (!stop_flag)
            alarm(STOP_GRACE_S);
        stop_flag = 1;
    }
    ssize_t n = write(sigpipe[1], "x", 1);
    (void)n;
    errno = saved;
}

static const struct watch_ops *ops_for(const struct watcher *w, size_t si)
{
    return w->cfg->sources[si].watch.backend == CDR_WATCH_POLL ? &watch_poll_ops
                                                               : &watch_inotify_ops;
}

/* ---- pending files -------------------------------------------------------- */

static struct watch_pending *find(struct watcher *w, const char *path)
{
    for (size_t i = 0; i < w->npend; i++)
        if (strcmp(w->pend[i].path, path) == 0)
            return &w->pend[i];
    return NULL;
}

/* Keeps the order: import_ready walks the table sorted oldest first and
 * drops entries as it goes (moving the last one into the hole would make
 * the newest file the next one imported). */
static void drop(struct watcher *w, struct watch_pending *p)
{
    free(p->path);
    size_t i = (size_t)(p - w->pend);
    memmove(p, p + 1, (w->npend - i - 1) * sizeof *p);
    w->npend--;
}

void watch_note(struct watcher *w, size_t si, const char *path, enum watch_note_kind kind)
{
    struct watch_pending *p = find(w, path);
    if (kind == WATCH_GONE) {
        if (p)
            drop(w, p);
        return;
    }
    struct stat st;
    if (lstat(path, &st) < 0) {
        if (p)
            drop(w, p);
        return;
    }
    double now = cdr_monotonic();
    bool fresh = !p;
    if (fresh) {
        if (w->npend == w->cappend) {
            w->cappend = w->cappend ? w->cappend * 2 : 64;
            w->pend = xrealloc(w->pend, w->cappend * sizeof *w->pend);
        }
        p = &w->pend[w->npend++];
        memset(p, 0, sizeof *p);
        p->path = xstrdup(path);
        p->si = si;
        p->size = st.st_size;
        p->mtime = st.st_mtim;
        p->changed_at = now;
        log_debug("new candidate %s", path);
    }
    p->gen = w->gen;
    bool changed = st.st_size != p->size || cdr_timespec_cmp(&st.st_mtim, &p->mtime) != 0;
    if (changed) {
        p->size = st.st_size;
        p->mtime = st.st_mtim;
        p->changed_at = now;
        p->stable = 0;
        p->done = false;
    } else if (kind == WATCH_SEEN && !fresh) {
        /* Unchanged since an earlier look; the first sighting is no
         * evidence that the file has stopped growing. */
        p->stable++;
    }
    switch (kind) {
    case WATCH_WRITING:
        p->writing = true;
        p->closed = false;
        p->changed_at = now;
        p->done = false;
        break;
    case WATCH_CLOSED:
        p->writing = false;
        p->closed = true;
        p->changed_at = now;
        break;
    default:
        break;
    }
}

void watch_scan(struct watcher *w, size_t si, const char *dir, bool sweep)
{
    const struct cdr_source *src = &w->cfg->sources[si];
    struct source_list list = {0};
    char err[CDR_ERRLEN];
    w->gen++;
    if (source_walk(src, dir, src->recursive, &list, err, sizeof err) < 0) {
        log_debug("%s", err);
        return;
    }
    for (size_t i = 0; i < list.n; i++)
        watch_note(w, si, list.files[i].path, WATCH_SEEN);
    source_list_free(&list);
    if (sweep) {
        for (size_t i = 0; i < w->npend;) {
            struct watch_pending *p = &w->pend[i];
            if (p->si == si && p->gen != w->gen)
                drop(w, p);
            else
                i++;
        }
    }
}

static bool ready(const struct watcher *w, const struct watch_pending *p, double now)
{
    const struct cdr_watch_config *wc = &w->cfg->sources[p->si].watch;
    if (p->done || p->writing || now < p->retry_at)
        return false;
    if (now - p->changed_at < (double)wc->settle_ms / 1000.0)
        return false;
    if (wc->backend == CDR_WATCH_POLL && p->stable < 1)
        return false;
    return true;
}

static int by_mtime(const void *a, const void *b)
{
    const struct watch_pending *x = a, *y = b;
    int c = cdr_timespec_cmp(&x->mtime, &y->mtime);
    return c ? c : strcmp(x->path, y->path);
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
        sd_notify(0, "STATUS=database unreachable, retrying");
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
    if (db && schema_migrate(db, err, sizeof err) != LOAD_OK) {
        db_close(db);
        db = NULL;
    }
    if (!db) {
        log_debug("database still unreachable: %s", err);
        db_lost(w, d, err);
        return;
    }
    w->job.db = db;
    if (d->reported_down)
        log_info("database is back");
    d->reported_down = false;
    d->backoff = 0;
}

/* ---- the loop ------------------------------------------------------------- */

static void notify_status(const struct watcher *w)
{
    sd_notifyf(0, "STATUS=watching %zu source%s; %u files imported, %u duplicate, %u failed; "
               "%llu rows new", w->cfg->nsources, w->cfg->nsources == 1 ? "" : "s",
               w->job.totals.files_imported, w->job.totals.files_duplicate, w->job.totals.files_failed,
               (unsigned long long)w->job.totals.rows_new);
}

/* Import every pending file that is complete, oldest first. */
static void import_ready(struct watcher *w, struct dbstate *d)
{
    double now = cdr_monotonic();
    if (!w->job.db)
        return;
    if (w->npend > 1)
        qsort(w->pend, w->npend, sizeof *w->pend, by_mtime);
    for (size_t i = 0; i < w->npend && !stop_flag;) {
        struct watch_pending *p = &w->pend[i];
        if (!ready(w, p, now)) {
            i++;
            continue;
        }
        /* One last look: changed since we last saw it? Then wait again. */
        struct stat st;
        if (lstat(p->path, &st) < 0) {
            drop(w, p);
            continue;
        }
        if (st.st_size != p->size || cdr_timespec_cmp(&st.st_mtim, &p->mtime) != 0) {
            watch_note(w, p->si, p->path, WATCH_SEEN);
            i++;
            continue;
        }
        const struct cdr_source *src = &w->cfg->sources[p->si];
        char *path = xstrdup(p->path);
        enum file_status fs = job_import_file(&w->job, p->si, src->path, path, true, false);
        p = find(w, path); /* the table may have moved */
        free(path);
        if (!p)
            continue;
        if (fs == FILE_DB_DOWN) {
            db_lost(w, d, NULL);
            return;
        }
        if (fs == FILE_SKIPPED) {
            if (access(p->path, F_OK) < 0) {
                drop(w, p);
            } else {
                p->changed_at = cdr_monotonic();
                p->retry_at = p->changed_at + SKIP_RETRY_S;
                i++;
            }
            continue;
        }
        if (access(p->path, F_OK) == 0) {
            /* Kept (on_success: keep) or could not be moved: not again
             * unless it changes. */
            p->done = true;
            i++;
        } else {
            drop(w, p);
        }
        notify_status(w);
    }
}

static void start_all(struct watcher *w)
{
    w->src = xcalloc(w->cfg->nsources, sizeof *w->src);
    for (size_t si = 0; si < w->cfg->nsources; si++) {
        const struct watch_ops *ops = ops_for(w, si);
        log_info("watching %s for source %s (%s backend, settle %u ms)",
                 w->cfg->sources[si].path, w->cfg->sources[si].name, ops->name,
                 w->cfg->sources[si].watch.settle_ms);
        ops->start(w, si);
    }
}

static void stop_all(struct watcher *w)
{
    watch_inotify_reset(w);
    for (size_t i = 0; i < w->npend; i++)
        free(w->pend[i].path);
    w->npend = 0;
    free(w->src);
    w->src = NULL;
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

int watch_run(struct cdr_config *cfg, const char *config_path)
{
    struct watcher w = {.cfg = cfg, .ifd = -1};
    struct dbstate d = {0};
    int status = CDR_EXIT_OK;

    if (pipe2(sigpipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        log_error("pipe: %s", strerror(errno));
        return CDR_EXIT_USAGE;
    }
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    struct sigaction sa_alarm = {.sa_handler = on_alarm};
    sigemptyset(&sa_alarm.sa_mask);
    sigaction(SIGALRM, &sa_alarm, NULL);
    signal(SIGPIPE, SIG_IGN);

    w.job.cancel = &stop_flag;
    if (!job_init(&w.job, cfg)) {
        job_free(&w.job);
        return CDR_EXIT_USAGE;
    }
    /* Watching first, then READY: the database is tried in the loop, so a
     * server that is down or slow to answer at start delays neither (down
     * at start is not fatal: files wait until it is back). */
    start_all(&w);
    sd_notify(0, "READY=1");
    notify_status(&w);

    double last_rescan = cdr_monotonic();
    while (!stop_flag) {
        if (reload_flag) {
            reload_flag = 0;
            if (reload(&w, config_path))
                last_rescan = cdr_monotonic();
        }
        double now = cdr_monotonic();
        /* Sleep until the next thing to do, at most 250 ms when files wait. */
        int timeout = 1000;
        for (size_t si = 0; si < w.cfg->nsources; si++)
            if (w.cfg->sources[si].watch.backend == CDR_WATCH_POLL) {
                /* Until the next poll is due (not a whole interval from
                 * now: an early wake-up must not put it off). */
                double due = w.src[si].last_poll +
                             w.cfg->sources[si].watch.poll_interval_ms / 1000.0 - now;
                int t = due <= 0 ? 0 : (int)(due * 1000) + 1;
                timeout = t < timeout ? t : timeout;
            }
        for (size_t i = 0; i < w.npend; i++) {
            if (w.pend[i].done || w.pend[i].writing)
                continue;
            double at = w.pend[i].changed_at +
                        w.cfg->sources[w.pend[i].si].watch.settle_ms / 1000.0;
            double due = (at > w.pend[i].retry_at ? at : w.pend[i].retry_at) - now;
            int t = due <= 0 ? 0 : (int)(due * 1000) + 1;
            if (w.cfg->sources[w.pend[i].si].watch.backend == CDR_WATCH_POLL && w.pend[i].stable < 1)
                continue;
            timeout = t < timeout ? t : timeout;
        }
        if (!w.job.db) {
            int t = (int)((d.next_try - now) * 1000);
            timeout = t < 0 ? 0 : (t < timeout ? t : timeout);
        }
        struct pollfd fds[2] = {{.fd = sigpipe[0], .events = POLLIN},
                                {.fd = w.ifd, .events = POLLIN}};
        int n = poll(fds, w.ifd >= 0 ? 2 : 1, timeout);
        if (n < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            status = CDR_EXIT_PARTIAL;
            break;
        }
        if (n > 0 && (fds[0].revents & POLLIN)) {
            char buf[64];
            while (read(sigpipe[0], buf, sizeof buf) > 0)
                ;
        }
        if (stop_flag)
            break;
        if (w.ifd >= 0 && n > 0 && (fds[1].revents & POLLIN))
            watch_inotify_dispatch(&w);

        now = cdr_monotonic();
        for (size_t si = 0; si < w.cfg->nsources; si++)
            ops_for(&w, si)->tick(&w, si, now);
        if (now - last_rescan >= w.cfg->watch.rescan_interval_s) {
            /* Backstop: inotify can lose events we were never told about. */
            for (size_t si = 0; si < w.cfg->nsources; si++)
                if (!w.src[si].missing)
                    watch_scan(&w, si, w.cfg->sources[si].path, true);
            last_rescan = now;
        }
        db_try(&w, &d);
        import_ready(&w, &d);
    }

    sd_notify(0, "STOPPING=1");
    log_info("stopping: %u files imported, %u duplicate, %u failed; %llu rows new",
             w.job.totals.files_imported, w.job.totals.files_duplicate, w.job.totals.files_failed,
             (unsigned long long)w.job.totals.rows_new);
    stop_all(&w);
    free(w.pend);
    free(w.dirs);
    if (w.ifd >= 0)
        close(w.ifd);
    db_close(w.job.db);
    w.job.db = NULL;
    job_free(&w.job);
    config_free(w.cfg);
    close(sigpipe[0]);
    close(sigpipe[1]);
    return status;
}
