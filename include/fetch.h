/*
 * fetch.h - the poller of the fetch sources: PBXs in External Application
 * mode, which clear their records once they have answered a request. One
 * thread runs every source's requests on a libcurl multi handle (so a hung
 * or slow PBX delays neither the other PBXs nor the folder imports of the
 * watch daemon's loop), one request at a time per source, on the schedule
 * of fetch_sched.h; each response is spooled durably (transfer.h, spool.h)
 * before the next request to that PBX.
 *
 * The poller logs each poll's outcome itself (it knows the source and the
 * url, with the password masked) and hands the outcomes to its owner: the
 * watch daemon's fetch backend (watch_fetch.c), which imports the spooled
 * files, or the one-shot `fetch` command (fetch_cmd.c).
 */
#ifndef CDR_FETCH_H
#define CDR_FETCH_H

#include "cdrimport.h"
#include "config.h"
#include "fetch_sched.h"

#include <time.h>

/* One poll, as its owner sees it. */
struct fetch_outcome {
    char *source;         /* the source's name */
    char *shown_url;      /* password masked */
    char *spool_dir;
    char *file;           /* the spooled response, NULL if none */
    enum fetch_problem problem;
    long http_status;     /* 0: no answer */
    uint64_t bytes;       /* spooled */
    time_t polled_at;     /* wall clock */
    bool polled;          /* false: skipped (no room in the spool) */
    char what[CDR_ERRLEN]; /* how it ended, for `status` */
};

void fetch_outcome_free(struct fetch_outcome *o);

/* libcurl's global set-up, once per process, before any thread uses it
 * (fetch_poller_create calls it). */
void fetch_init(void);

struct fetch_poller;

/* once: poll each source one time, then the thread ends by itself. */
struct fetch_poller *fetch_poller_create(bool once);
/*
 * Poll src (with its fetch block) from now on: by name, so that a source
 * that a reload keeps goes on with its schedule and its request in flight.
 * Logs (warnings about the password file and insecure_tls, or why the
 * source cannot be polled); false if it cannot be.
 */
bool fetch_poller_add(struct fetch_poller *p, const struct cdr_source *src);
/* A reload: the sources not added again are not polled any more (a
 * request in flight ends and its response is spooled). */
void fetch_poller_reset(struct fetch_poller *p);
/* Start the thread (after the first adds). */
bool fetch_poller_start(struct fetch_poller *p);
/* Readable when outcomes wait to be taken. */
int fetch_poller_fd(const struct fetch_poller *p);
/* Take the outcomes that arrived (*out: n of them; free each with
 * fetch_outcome_free, then the array). */
size_t fetch_poller_take(struct fetch_poller *p, struct fetch_outcome **out);
/* once mode: wait until every source has been polled. */
void fetch_poller_wait(struct fetch_poller *p);
/* Stop: a request in flight is cut and what arrived is spooled (to be
 * imported at the next start). Accepts NULL. */
void fetch_poller_destroy(struct fetch_poller *p);

#endif
