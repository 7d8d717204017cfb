/*
 * job.h - a run of file imports (one `import`, one `scan`, or a `watch`
 * daemon's lifetime): the shared set-up (profiles, connection), the call
 * that takes one file through file -> finish, and the report a person sees
 * (a progress line and summary on a terminal, one log line per file).
 */
#ifndef CDR_JOB_H
#define CDR_JOB_H

#include "cdrimport.h"
#include "config.h"
#include "file.h"
#include "load.h"
#include "profile.h"

#include <signal.h>

/* What a run has done: per worker, merged into the run's; a watch daemon
 * keeps them across a SIGHUP reload. */
struct job_totals {
    unsigned files_imported, files_duplicate, files_failed, files_skipped;
    uint64_t rows_read, rows_new, rows_dup, rows_rejected, bytes;
};

void job_totals_merge(struct job_totals *into, const struct job_totals *from);

struct finish_sync;

struct job {
    const struct cdr_config *cfg;
    struct db *db;
    struct profile **profiles;     /* one per source, same index */
    bool tty;
    bool dry_run, force;
    /* A skip is logged at debug level: the file's skip was said already
     * (the watcher retries it every PENDING_RETRY_S while another importer
     * holds it; a line each time would fill the log). */
    bool quiet_skip;
    volatile sig_atomic_t *cancel; /* set by a signal: roll back, stop */
    struct job_totals totals;
    bool db_down;
    double t0;
    /* progress */
    size_t file_index, file_count;
    const char *current;           /* the file, or ARCHIVE:MEMBER being read */
    const char *archive;           /* the file given to job_import_file */
    double last_draw;
    struct finish_sync *moved;     /* folders files were moved into, to sync */
};

/* Build one profile per source; false (logged) on an error in the config. */
bool job_init(struct job *job, const struct cdr_config *cfg);
void job_free(struct job *job);
/* Connect (and migrate unless dry_run); NULL is logged. */
struct db *job_connect(const struct cdr_config *cfg, bool migrate);

/*
 * Import path for source index si. With finish, apply on_success or move a
 * failed file to failed_dir (root: the folder it was found under). Returns
 * the file's status; totals and the log line are taken care of.
 */
enum file_status job_import_file(struct job *job, size_t si, const char *root, const char *path,
                                 bool finish, bool follow_links);
/* Sync the folders files were moved into now (finish.h), not at most a
 * second later or at job_free: the caller has nothing more to do for now. */
void job_sync_moves(struct job *job);

/* One file of a run: its source and the folder it was found under. */
struct job_item {
    size_t si;
    const char *root;
    const char *path;
};

/*
 * Import items in order, or with jobs > 1 over that many connections at
 * once (archive re-imports): each worker thread has its own connection and
 * profiles; the totals end up in job. Stops early when the database is down.
 */
void job_run(struct job *job, const struct job_item *items, size_t n, unsigned jobs,
             bool finish, bool follow_links);

void job_summary(const struct job *job);
int job_exit_status(const struct job *job);

#endif
