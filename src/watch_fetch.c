/*
 * watch_fetch.c - the watch backend of the fetch sources (watch_backend.h):
 * the HTTP poller (fetch.h) runs in its own thread, and this backend, in
 * the daemon's loop, reports each spooled response to the core as a file
 * closed after writing, so the core imports it like any other (moved or
 * deleted only after its rows are committed). At the start it promotes the
 * temporary files a crash left (spool.h) and scans the spool folder.
 *
 * It also writes each poll's outcome to cdr_fetch for `status`, over a
 * connection of its own (the core's belongs to the imports); while the
 * database is away the outcomes are added up and written when it is back.
 */
#include "db.h"
#include "fetch.h"
#include "fetch_status.h"
#include "log.h"
#include "schema.h"
#include "spool.h"
#include "watch_backend.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* After a failed write to cdr_fetch, the next try waits this long. */
#define STATUS_RETRY_S 10.0

struct wsrc {
    char *name;
    size_t si;
    char *path;
};

struct fetch_backend {
    struct watch_backend base;   /* first: the core holds this */
    struct watch_sink sink;
    struct fetch_poller *poller;
    struct wsrc *srcs;
    size_t nsrcs;
    /* cdr_fetch rows not written yet, one per source name */
    struct fetch_status_pending *pend;
    size_t npend;
    struct db *db;
    double retry_at;             /* monotonic; 0: write when there is something */
};

static struct fetch_backend *fb_of(struct watch_backend *b)
{
    return (struct fetch_backend *)b;
}

static void fb_add(struct watch_backend *b, size_t si, const struct cdr_source *src)
{
    struct fetch_backend *fb = fb_of(b);
    char **promoted;
    size_t n;
    char err[CDR_ERRLEN];
    /* A response whose download was cut by a crash exists nowhere else. */
    /* A missing folder is reported by the poller's room check, once. */
    if (!spool_promote(src->path, &promoted, &n, err, sizeof err))
        log_debug("source %s: %s", src->name, err);
    else if (err[0])
        log_error("source %s: %s", src->name, err);
    for (size_t i = 0; i < n; i++) {
        log_warn("source %s: kept %s, a response whose download was interrupted (its last "
                 "record may be cut)", src->name, promoted[i]);
        free(promoted[i]);
    }
    free(promoted);
    fb->srcs = xrealloc(fb->srcs, (fb->nsrcs + 1) * sizeof *fb->srcs);
    fb->srcs[fb->nsrcs++] = (struct wsrc){xstrdup(src->name), si, xstrdup(src->path)};
    fb->sink.scan(fb->sink.ctx, si, src->path, true);
    fetch_poller_add(fb->poller, src);
}

static int fb_fd(const struct watch_backend *b)
{
    return fetch_poller_fd(((const struct fetch_backend *)b)->poller);
}

static double fb_deadline(const struct watch_backend *b)
{
    const struct fetch_backend *fb = (const struct fetch_backend *)b;
    return fb->npend ? fb->retry_at : INFINITY;
}

static struct fetch_status_pending *pending_for(struct fetch_backend *fb, const char *name)
{
    for (size_t i = 0; i < fb->npend; i++)
        if (!strcmp(fb->pend[i].last.source, name))
            return &fb->pend[i];
    fb->pend = xrealloc(fb->pend, (fb->npend + 1) * sizeof *fb->pend);
    fb->pend[fb->npend] = (struct fetch_status_pending){0};
    return &fb->pend[fb->npend++];
}

/* Write what is pending to cdr_fetch; on any failure keep it for later. */
static void flush_status(struct fetch_backend *fb, double now)
{
    if (!fb->npend || now < fb->retry_at)
        return;
    char err[CDR_ERRLEN];
    if (!fb->db) {
        fb->db = db_connect(*fb->sink.cfg, err, sizeof err);
        if (fb->db && schema_migrate(fb->db, (*fb->sink.cfg)->partition, false, err, sizeof err) !=
                          LOAD_OK) {
            db_close(fb->db);
            fb->db = NULL;
        }
    }
    size_t done = 0;
    while (fb->db && done < fb->npend) {
        if (fetch_status_record(fb->db, &fb->pend[done], err, sizeof err) != LOAD_OK) {
            db_close(fb->db);
            fb->db = NULL;
            break;
        }
        fetch_status_clear(&fb->pend[done]);
        done++;
    }
    memmove(fb->pend, fb->pend + done, (fb->npend - done) * sizeof *fb->pend);
    fb->npend -= done;
    if (fb->npend) {
        /* The core logs the outage once; this is its echo. */
        log_debug("poll outcomes not recorded yet (%s); trying again in %.0f s", err,
                  STATUS_RETRY_S);
        fb->retry_at = now + STATUS_RETRY_S;
    } else {
        fb->retry_at = 0;
    }
}

static void fb_run(struct watch_backend *b, double now)
{
    struct fetch_backend *fb = fb_of(b);
    struct fetch_outcome *outs;
    size_t n = fetch_poller_take(fb->poller, &outs);
    for (size_t i = 0; i < n; i++) {
        struct fetch_outcome *o = &outs[i];
        for (size_t k = 0; o->file && k < fb->nsrcs; k++)
            if (!strcmp(fb->srcs[k].name, o->source) && !strcmp(fb->srcs[k].path, o->spool_dir))
                fb->sink.note(fb->sink.ctx, fb->srcs[k].si, o->file, PENDING_CLOSED);
        /* A file of a source a reload removed stays in its spool: it is
         * imported when the source comes back. */
        fetch_status_add(pending_for(fb, o->source), o);
        fetch_outcome_free(o);
    }
    free(outs);
    flush_status(fb, now);
}

static void fb_rescan(struct watch_backend *b)
{
    struct fetch_backend *fb = fb_of(b);
    for (size_t i = 0; i < fb->nsrcs; i++)
        fb->sink.scan(fb->sink.ctx, fb->srcs[i].si, fb->srcs[i].path, true);
}

static void forget_sources(struct fetch_backend *fb)
{
    for (size_t i = 0; i < fb->nsrcs; i++) {
        free(fb->srcs[i].name);
        free(fb->srcs[i].path);
    }
    free(fb->srcs);
    fb->srcs = NULL;
    fb->nsrcs = 0;
}

static void fb_reset(struct watch_backend *b)
{
    struct fetch_backend *fb = fb_of(b);
    forget_sources(fb);
    /* The database may have moved (a new dsn): reconnect for the next write. */
    db_close(fb->db);
    fb->db = NULL;
    fetch_poller_reset(fb->poller);
}

static void fb_destroy(struct watch_backend *b)
{
    struct fetch_backend *fb = fb_of(b);
    /* Cuts a request in flight and spools what arrived; the outcomes are
     * not written (the daemon is stopping, the database may hang). */
    fetch_poller_destroy(fb->poller);
    forget_sources(fb);
    for (size_t i = 0; i < fb->npend; i++)
        fetch_status_clear(&fb->pend[i]);
    free(fb->pend);
    db_close(fb->db);
    free(fb);
}

static const struct watch_backend_ops fetch_ops = {
    .name = "fetch",
    .sees_writers = true, /* a spooled file appears complete, by rename */
    .add = fb_add,
    .fd = fb_fd,
    .deadline = fb_deadline,
    .run = fb_run,
    .rescan = fb_rescan,
    .reset = fb_reset,
    .destroy = fb_destroy,
};

struct watch_backend *watch_fetch_create(const struct watch_sink *sink)
{
    struct fetch_backend *fb = xcalloc(1, sizeof *fb);
    fb->base.ops = &fetch_ops;
    fb->sink = *sink;
    fb->poller = fetch_poller_create(false);
    if (!fetch_poller_start(fb->poller))
        cdr_fatal("cannot start the HTTP poller thread");
    return &fb->base;
}
