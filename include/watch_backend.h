/*
 * watch_backend.h - what a watch backend is to the daemon's core (watch.c),
 * and the sink through which it reports to the core. One interface, several
 * backends (Fluent Bit's in_tail habit): watch_inotify.c (default) and
 * watch_poll.c (NFS/SMB/overlay mounts, where inotify sees nothing).
 *
 * A backend only reports what it sees; the core keeps the pending files
 * and decides when one is complete (pending.h). Its state is private to its
 * .c file: the core holds a struct watch_backend pointer and calls ops.
 *
 * Adding a kind of source (e.g. an HTTP poller that downloads into a spool
 * folder): write one more backend file with its own create function that
 * fills a struct watch_backend_ops, reporting each finished download
 * through sink->note(..., PENDING_CLOSED). The core needs one more row in
 * its table of create functions (watch.c, by enum cdr_watch_backend); the
 * other backends are not touched.
 */
#ifndef CDR_WATCH_BACKEND_H
#define CDR_WATCH_BACKEND_H

#include "cdrimport.h"
#include "config.h"
#include "pending.h"

/* Callbacks into the core, given to a backend when it is created. */
struct watch_sink {
    void *ctx; /* the core's; passed back on every call */
    /* Something happened to path, a file of source si (kind says what).
     * The core looks at the file itself (lstat). */
    void (*note)(void *ctx, size_t si, const char *path, enum pending_kind kind);
    /* Walk dir (the source folder, or a new folder below it) and note every
     * candidate as seen. With sweep (dir is the source folder), forget the
     * pending files of si that were not found. */
    void (*scan)(void *ctx, size_t si, const char *dir, bool sweep);
    /* The core's configuration, replaced on reload (read it through the
     * pointer each time): for a backend that needs more than its sources,
     * such as the fetch backend's own database connection. */
    struct cdr_config *const *cfg;
};

struct watch_backend;

struct watch_backend_ops {
    const char *name;  /* in the log: "inotify", "poll" */
    /* Whether the backend sees a file being written and closed. If not,
     * the core wants one more unchanged sighting before a file is complete
     * (pending_rule.quiet_look). */
    bool sees_writers;
    /* Watch source si from now on (src stays valid until reset) and scan
     * it once. A missing folder is reported and looked for later. */
    void (*add)(struct watch_backend *b, size_t si, const struct cdr_source *src);
    /* A descriptor for the core's poll(), -1 if none. */
    int (*fd)(const struct watch_backend *b);
    /* When run is next due by the clock (monotonic seconds; INFINITY:
     * only when the descriptor is readable). */
    double (*deadline)(const struct watch_backend *b);
    /* Called when the descriptor is readable or the deadline has passed:
     * read events, poll folders, look for missing ones. */
    void (*run)(struct watch_backend *b, double now);
    /* The periodic backstop: scan every source folder that is there. */
    void (*rescan)(struct watch_backend *b);
    /* Forget every source (a reload follows, with new struct cdr_source). */
    void (*reset)(struct watch_backend *b);
    /* Free it all. */
    void (*destroy)(struct watch_backend *b);
};

/* The public head of every backend's state; the rest is private to its .c
 * file, which puts this first and converts back. */
struct watch_backend {
    const struct watch_backend_ops *ops;
};

/* Both copy *sink; neither fails (allocation aborts on out-of-memory; an
 * inotify instance that cannot be made is reported when a source is added). */
struct watch_backend *watch_inotify_create(const struct watch_sink *sink);
struct watch_backend *watch_poll_create(const struct watch_sink *sink);
/* Windows only (watch_rdcw_win.c): ReadDirectoryChangesW, what a source
 * with `backend: inotify` gets there. */
struct watch_backend *watch_rdcw_create(const struct watch_sink *sink);
/* The sources with a `fetch:` block (CDR_WATCH_FETCH): polls their PBXs
 * over HTTP(S) in a thread of its own (fetch.h) and notes each spooled
 * response as PENDING_CLOSED. */
struct watch_backend *watch_fetch_create(const struct watch_sink *sink);

#endif
