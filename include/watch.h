/*
 * watch.h - the folder-watching daemon (`cdrimport watch`): imports what is
 * already there (oldest first), then every file that appears, once it is
 * complete; survives database outages; stops on SIGTERM/SIGINT, reloads
 * importer.yaml on SIGHUP; speaks systemd's notify protocol.
 *
 * Backends, one interface (Fluent Bit's in_tail habit): watch_inotify.c
 * (default) and watch_poll.c (NFS/SMB/overlay mounts, where inotify sees
 * nothing). Both report what they see to the core in watch.c through
 * watch_note(); the core decides when a file is complete.
 */
#ifndef CDR_WATCH_H
#define CDR_WATCH_H

#include "cdrimport.h"
#include "config.h"
#include "job.h"

/* Run until stopped; returns the process exit status. config_path is what
 * was given with -c (NULL: the usual search), re-read on SIGHUP. */
int watch_run(struct cdr_config *cfg, const char *config_path);

/* ---- for the backends ----------------------------------------------------- */

enum watch_note_kind {
    WATCH_SEEN,     /* found by a scan or a poll: complete once it settles */
    WATCH_WRITING,  /* being written (IN_CREATE, IN_MODIFY) */
    WATCH_CLOSED,   /* closed after writing, or moved in: complete */
    WATCH_GONE      /* deleted or moved away */
};

struct watch_source {
    bool missing;        /* the folder is not there (reported once) */
    double last_poll;    /* poll backend: when it last walked */
    double last_check;   /* when a missing folder was last looked for */
};

struct watch_dir {       /* inotify: one watched folder */
    int wd;
    size_t si;
    char *path;
};

struct watch_pending;

struct watcher {
    struct cdr_config *cfg;
    struct job job;
    struct watch_source *src;       /* per source */
    int ifd;                        /* inotify instance, -1 if unused */
    struct watch_dir *dirs;
    size_t ndirs, capdirs;
    struct watch_pending *pend;
    size_t npend, cappend;
    unsigned gen;                   /* scan generation, for sweeping */
};

struct watch_ops {
    const char *name;
    /* Start watching source si (and scan it). A missing folder is reported
     * and picked up later by tick. */
    void (*start)(struct watcher *w, size_t si);
    /* Periodic work for source si. */
    void (*tick)(struct watcher *w, size_t si, double now);
};

extern const struct watch_ops watch_inotify_ops;
extern const struct watch_ops watch_poll_ops;

/* inotify: read and dispatch the queued events. */
void watch_inotify_dispatch(struct watcher *w);
/* inotify: forget every watch (before a reload). */
void watch_inotify_reset(struct watcher *w);

/* Core services. */
void watch_note(struct watcher *w, size_t si, const char *path, enum watch_note_kind kind);
/* Walk dir (a source folder or a new subfolder) and note every candidate as
 * seen. With sweep, forget pending files of si that were not found. */
void watch_scan(struct watcher *w, size_t si, const char *dir, bool sweep);

#endif
