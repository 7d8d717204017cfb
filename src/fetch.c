/*
 * fetch.c - the poller thread of the fetch sources (see fetch.h). The
 * owner's thread never touches the sources: it queues commands (add,
 * reset, stop) under a mutex and wakes the poller with curl_multi_wakeup;
 * the poller queues outcomes and writes a byte to a pipe. So no lock is
 * held while libcurl runs, and a source's settings change only between
 * two of its requests.
 */
#include "fetch.h"
#include "log.h"
#include "spool.h"
#include "transfer.h"
#include "plat.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The poller looks at its schedule at least this often. */
#define MAX_WAIT_MS 1000

struct fsrc {
    struct transfer_conf *conf;
    struct transfer_conf *next_conf; /* from a reload, once the request in flight ends */
    double interval;
    struct fetch_sched sched;
    struct transfer *busy;
    double busy_since;               /* monotonic: when busy started */
    bool retired;
    bool polled;                     /* once mode: done */
};

struct cmd {
    struct transfer_conf *conf;      /* NULL: reset */
    double interval;
};

struct fetch_poller {
    pthread_t thread;
    bool started;
    bool once;
    CURLM *multi;
    int pipe[2];
    pthread_mutex_t mu;              /* guards cmds, outs and stopping */
    bool stopping;
    struct cmd *cmds;
    size_t ncmds, capcmds;
    struct fetch_outcome *outs;
    size_t nouts, capouts;
    /* the poller thread's own */
    struct fsrc **srcs;
    size_t nsrcs, capsrcs;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        cdr_fatal("libcurl cannot be initialised");
}

void fetch_init(void)
{
    pthread_once(&curl_once, curl_init);
}

void fetch_outcome_free(struct fetch_outcome *o)
{
    free(o->source);
    free(o->shown_url);
    free(o->spool_dir);
    free(o->file);
    *o = (struct fetch_outcome){0};
}

/* ---- the owner's side ----------------------------------------------------- */

struct fetch_poller *fetch_poller_create(bool once)
{
    fetch_init();
    struct fetch_poller *p = xcalloc(1, sizeof *p);
    p->once = once;
    p->pipe[0] = p->pipe[1] = -1;
    p->multi = curl_multi_init();
    if (!p->multi || plat_pipe(p->pipe) < 0)
        cdr_fatal("cannot set up the HTTP poller: %s", strerror(errno));
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

static void push_cmd(struct fetch_poller *p, struct transfer_conf *conf, double interval)
{
    pthread_mutex_lock(&p->mu);
    if (p->ncmds == p->capcmds) {
        p->capcmds = p->capcmds ? 2 * p->capcmds : 8;
        p->cmds = xrealloc(p->cmds, p->capcmds * sizeof *p->cmds);
    }
    p->cmds[p->ncmds++] = (struct cmd){.conf = conf, .interval = interval};
    pthread_mutex_unlock(&p->mu);
    curl_multi_wakeup(p->multi);
}

bool fetch_poller_add(struct fetch_poller *p, const struct cdr_source *src)
{
    char warn[CDR_ERRLEN], err[CDR_ERRLEN];
    struct transfer_conf *c = xcalloc(1, sizeof *c);
    if (!transfer_conf_make(src, c, warn, sizeof warn, err, sizeof err)) {
        log_error("%s; not polling it", err);
        free(c);
        return false;
    }
    if (warn[0])
        log_warn("source %s: %s", src->name, warn);
    if (c->insecure_tls)
        log_warn("source %s: insecure_tls is on: the PBX's certificate is not checked, so "
                 "anyone on the way can read the calls and the password", src->name);
    if (p->once)
        log_debug("polling %s once for source %s into %s", c->shown_url, src->name, src->path);
    else
        log_info("polling %s every %u s for source %s into %s", c->shown_url,
                 src->fetch->interval_s, src->name, src->path);
    push_cmd(p, c, src->fetch->interval_s);
    return true;
}

void fetch_poller_reset(struct fetch_poller *p)
{
    push_cmd(p, NULL, 0);
}

int fetch_poller_fd(const struct fetch_poller *p)
{
    return p->pipe[0];
}

size_t fetch_poller_take(struct fetch_poller *p, struct fetch_outcome **out)
{
    plat_pipe_drain(p->pipe[0]);
    pthread_mutex_lock(&p->mu);
    size_t n = p->nouts;
    *out = p->outs;
    p->outs = NULL;
    p->nouts = p->capouts = 0;
    pthread_mutex_unlock(&p->mu);
    return n;
}

/* ---- the poller thread ---------------------------------------------------- */

static void emit(struct fetch_poller *p, const struct transfer_conf *c,
                 const struct transfer_result *r, bool polled)
{
    struct fetch_outcome o = {
        .source = xstrdup(c->source), .shown_url = xstrdup(c->shown_url),
        .spool_dir = xstrdup(c->spool_dir), .file = r->file ? xstrdup(r->file) : NULL,
        .problem = r->problem, .http_status = r->http_status, .bytes = r->bytes,
        .polled_at = r->started, .polled = polled};
    memcpy(o.what, r->what, sizeof o.what);
    pthread_mutex_lock(&p->mu);
    if (p->nouts == p->capouts) {
        p->capouts = p->capouts ? 2 * p->capouts : 8;
        p->outs = xrealloc(p->outs, p->capouts * sizeof *p->outs);
    }
    p->outs[p->nouts++] = o;
    pthread_mutex_unlock(&p->mu);
    plat_pipe_poke(p->pipe[1]); /* "come and take" */
}

/* One log line per outcome, or one per lasting problem (fetch_sched.h). */
static void report(const struct transfer_conf *c, const struct transfer_result *r, bool show,
                   enum fetch_problem was, enum fetch_problem now_shown)
{
    const char *s = c->source, *u = c->shown_url;
    if (was != FETCH_FINE && now_shown == FETCH_FINE) {
        if (was == FETCH_NO_ROOM)
            log_info("source %s: the spool folder has room again; polling %s", s, u);
        else
            log_info("source %s: the PBX at %s answers again (%s)", s, u, r->what);
    }
    if (r->problem == FETCH_FINE) {
        if (r->file)
            log_info("source %s: fetched %llu bytes from %s -> %s", s,
                     (unsigned long long)r->bytes, u, r->file);
        else
            log_debug("source %s: %s: %s", s, u, r->what);
        return;
    }
    if (!show) {
        /* Logged when it began; tests and a curious admin see it go on. */
        log_debug("source %s: %s: %s (still)", s, u, r->what);
        return;
    }
    switch (r->problem) {
    case FETCH_UNREACHABLE:
        log_error("source %s: the PBX at %s is unreachable: %s; trying again with backoff up "
                  "to %.0f s", s, u, r->what, FETCH_SCHED_MAX_BACKOFF_S);
        break;
    case FETCH_NO_ANSWER:
        log_error("source %s: %s: %s; it may have cleared its records; not repeated before "
                  "the next interval", s, u, r->what);
        break;
    case FETCH_CUT:
        log_warn("source %s: %s: %s; it is imported (a truncated last record goes to "
                 "cdr_reject); not repeated before the next interval", s, u, r->what);
        break;
    case FETCH_REFUSED:
        log_error("source %s: the PBX refused the login (%s) at %s: check username and "
                  "password", s, r->what, u);
        break;
    case FETCH_NOT_FOUND:
        log_error("source %s: no CDR at this URL (%s): %s", s, r->what, u);
        break;
    case FETCH_SERVER_ERROR:
        log_warn("source %s: the PBX answered %s at %s; trying again at the next interval", s,
                 r->what, u);
        break;
    case FETCH_NO_ROOM:
        log_error("source %s: not polling %s (the PBX keeps its records): %s", s, u, r->what);
        break;
    case FETCH_SPOOL_ERROR:
        log_error("source %s: %s: %s", s, u, r->what);
        break;
    default:
        log_error("source %s: %s: %s", s, u, r->what);
        break;
    }
}

static void finished(struct fetch_poller *p, struct fsrc *s, struct transfer_result *r,
                     double start, bool polled)
{
    enum fetch_problem was;
    bool show = fetch_sched_done(&s->sched, r->problem, start, cdr_monotonic(), &was);
    report(s->conf, r, show, was, s->sched.shown);
    emit(p, s->conf, r, polled);
    transfer_result_free(r);
    s->polled = true;
}

static void poll_start(struct fetch_poller *p, struct fsrc *s, double now)
{
    struct transfer_result r = {.started = time(NULL)};
    char err[CDR_ERRLEN];
    if (!spool_room(s->conf->spool_dir, s->conf->min_free, err, sizeof err)) {
        r.problem = FETCH_NO_ROOM;
        snprintf(r.what, sizeof r.what, "skipped: %.480s", err);
        finished(p, s, &r, now, false);
        return;
    }
    bool other = false;
    s->busy = transfer_start(p->multi, s->conf, &other, err, sizeof err);
    if (!s->busy && !other) {
        /* The spool's lock file cannot be opened (EACCES, EIO...): as
         * with a full spool, say so; the PBX keeps its records. */
        r.problem = FETCH_NO_ROOM;
        snprintf(r.what, sizeof r.what, "skipped: %.480s", err);
        finished(p, s, &r, now, false);
        return;
    }
    if (!s->busy) {
        /* Nothing was sent: the PBX keeps its records; next interval. */
        log_debug("source %s: not polled: %s", s->conf->source, err);
        s->sched.next_due = now + s->interval;
        s->polled = true;
        return;
    }
    s->busy_since = now;
    log_debug("source %s: requesting %s", s->conf->source, s->conf->shown_url);
}

static struct fsrc *find_src(struct fetch_poller *p, const char *name)
{
    for (size_t i = 0; i < p->nsrcs; i++)
        if (!strcmp(p->srcs[i]->conf->source, name))
            return p->srcs[i];
    return NULL;
}

static void free_conf(struct transfer_conf *c)
{
    if (c) {
        transfer_conf_free(c);
        free(c);
    }
}

/* Apply the owner's commands, in order. Called with p->mu held. */
static void apply_cmds(struct fetch_poller *p, double now)
{
    for (size_t i = 0; i < p->ncmds; i++) {
        struct cmd *c = &p->cmds[i];
        if (!c->conf) {
            /* Retired sources are not polled, but kept (a few bytes each):
             * the adds of the same reload may come an iteration later, and
             * a source kept by the reload must keep its schedule and what
             * it has reported. */
            for (size_t k = 0; k < p->nsrcs; k++)
                p->srcs[k]->retired = true;
            continue;
        }
        struct fsrc *s = find_src(p, c->conf->source);
        if (!s) {
            if (p->nsrcs == p->capsrcs) {
                p->capsrcs = p->capsrcs ? 2 * p->capsrcs : 8;
                p->srcs = xrealloc(p->srcs, p->capsrcs * sizeof *p->srcs);
            }
            s = xcalloc(1, sizeof *s);
            p->srcs[p->nsrcs++] = s;
            s->conf = c->conf;
            fetch_sched_init(&s->sched, c->interval, now);
        } else if (s->busy) {
            free_conf(s->next_conf);
            s->next_conf = c->conf;
        } else {
            free_conf(s->conf);
            s->conf = c->conf;
        }
        s->interval = c->interval;
        fetch_sched_set_interval(&s->sched, c->interval);
        s->retired = false;
    }
    p->ncmds = 0;
}

static void collect(struct fetch_poller *p)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(p->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *easy = m->easy_handle;
        CURLcode code = m->data.result;
        for (size_t i = 0; i < p->nsrcs; i++) {
            struct fsrc *s = p->srcs[i];
            if (!s->busy || !transfer_owns(s->busy, easy))
                continue;
            struct transfer_result r;
            if (transfer_done(s->busy, code, &r)) {
                transfer_free(s->busy);
                s->busy = NULL;
                finished(p, s, &r, s->busy_since, true);
                if (s->next_conf) {
                    free_conf(s->conf);
                    s->conf = s->next_conf;
                    s->next_conf = NULL;
                }
            }
            break;
        }
    }
}

/* Start what is due; the time of the next thing due (capped). */
static double start_due(struct fetch_poller *p, double now)
{
    double next = now + MAX_WAIT_MS / 1000.0;
    for (size_t i = 0; i < p->nsrcs; i++) {
        struct fsrc *s = p->srcs[i];
        if (s->busy || s->retired || (p->once && s->polled))
            continue;
        if (fetch_sched_due(&s->sched, now))
            poll_start(p, s, now);
        if (!s->busy && s->sched.next_due < next)
            next = s->sched.next_due;
    }
    return next;
}

static bool all_done(const struct fetch_poller *p)
{
    for (size_t i = 0; i < p->nsrcs; i++)
        if (p->srcs[i]->busy || (!p->srcs[i]->polled && !p->srcs[i]->retired))
            return false;
    return true;
}

static void *poller_main(void *arg)
{
    struct fetch_poller *p = arg;
    for (;;) {
        double now = cdr_monotonic();
        pthread_mutex_lock(&p->mu);
        bool stopping = p->stopping;
        apply_cmds(p, now);
        pthread_mutex_unlock(&p->mu);
        if (stopping)
            break;
        double next = start_due(p, now);
        if (p->once && all_done(p))
            break;
        double wait = next - cdr_monotonic();
        int ms = wait <= 0 ? 0 : wait * 1000 >= MAX_WAIT_MS ? MAX_WAIT_MS : (int)(wait * 1000) + 1;
        curl_multi_poll(p->multi, NULL, 0, ms, NULL);
        int running;
        curl_multi_perform(p->multi, &running);
        collect(p);
    }
    /* Stopping: cut what is in flight, keep what arrived. */
    for (size_t i = 0; i < p->nsrcs; i++) {
        struct fsrc *s = p->srcs[i];
        if (!s->busy)
            continue;
        struct transfer_result r;
        transfer_abort(s->busy, &r);
        transfer_free(s->busy);
        s->busy = NULL;
        if (r.file || r.received)
            log_warn("source %s: %s: %s; imported at the next start", s->conf->source,
                     s->conf->shown_url, r.what);
        enum fetch_problem was;
        fetch_sched_done(&s->sched, r.problem, s->busy_since, cdr_monotonic(), &was);
        emit(p, s->conf, &r, true);
        transfer_result_free(&r);
    }
    return NULL;
}

bool fetch_poller_start(struct fetch_poller *p)
{
    /* Signals go to the owner's thread (the daemon's self-pipe). */
    int rc = plat_thread_start(&p->thread, poller_main, p);
    if (rc != 0) {
        log_error("cannot start the HTTP poller: %s", strerror(rc));
        return false;
    }
    p->started = true;
    return true;
}

void fetch_poller_wait(struct fetch_poller *p)
{
    if (p->started)
        pthread_join(p->thread, NULL);
    p->started = false;
}

void fetch_poller_destroy(struct fetch_poller *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_mutex_unlock(&p->mu);
    curl_multi_wakeup(p->multi);
    fetch_poller_wait(p);
    for (size_t i = 0; i < p->nsrcs; i++) {
        free_conf(p->srcs[i]->conf);
        free_conf(p->srcs[i]->next_conf);
        free(p->srcs[i]);
    }
    free(p->srcs);
    for (size_t i = 0; i < p->ncmds; i++)
        free_conf(p->cmds[i].conf);
    free(p->cmds);
    for (size_t i = 0; i < p->nouts; i++)
        fetch_outcome_free(&p->outs[i]);
    free(p->outs);
    curl_multi_cleanup(p->multi);
    close(p->pipe[0]);
    close(p->pipe[1]);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
