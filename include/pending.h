/*
 * pending.h - the files the watch daemon has seen but not imported yet, and
 * the one rule that says when such a file is complete. Pure: the caller
 * passes the time (cdr_monotonic) and what lstat said, so nothing here
 * touches the disk, the clock or the log, and every transition is unit
 * tested (tests/unit/test_pending.c).
 *
 * The rule: a file is complete when nothing has changed it (size, mtime,
 * an inotify write) for the source's settle time, it is not open for
 * writing, and, where the backend cannot see writers (poll), one more look
 * found it unchanged: the first sighting is no evidence that it stopped
 * growing. Just before the import one last lstat must still agree.
 */
#ifndef CDR_PENDING_H
#define CDR_PENDING_H

#include "cdrimport.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/* What a backend or a scan saw happen to a file. */
enum pending_kind {
    PENDING_SEEN,    /* found by a scan or a poll: complete once it settles */
    PENDING_WRITING, /* being written (inotify: IN_CREATE by a writer, IN_MODIFY) */
    PENDING_CLOSED,  /* closed after writing, or moved in: settles from now */
    PENDING_GONE     /* deleted or moved away */
};

/* How long a source's files must stay quiet; fixed per source until a
 * reload, which empties the table. */
struct pending_rule {
    double settle_s;   /* no change for this long (settle_ms / 1000) */
    bool quiet_look;   /* and one more unchanged sighting (backends that
                          cannot see a writer: poll) */
};

/* A skipped file (another importer holds it, or it changed while being
 * read) is tried again after this many seconds at the earliest; with
 * settle_ms 0 it would otherwise be retried in a tight loop, one log line
 * each time, for as long as the other importer works on it. */
#define PENDING_RETRY_S 1.0

struct pending_file {
    char *path;
    size_t si;                /* the source's index in the config */
    struct pending_rule rule;
    off_t size;               /* as last seen */
    struct timespec mtime;
    double changed_at;        /* when a change was last seen */
    bool writing;             /* inotify: open for writing */
    unsigned stable;          /* later sightings in a row without change */
    bool done;                /* kept (on_success: keep) or could not be moved */
    double retry_at;          /* skipped: not again before this */
    unsigned skips;           /* attempts skipped so far (pending_retry_later) */
    unsigned gen;             /* the scan that last found it */
};

struct pending_table {
    struct pending_file *files;
    size_t n, cap;
    unsigned gen;             /* scan generation, for sweeping */
    /* An index of files by path (open addressing, index + 1; 0: empty),
     * so that the start-up scan of a full inbox is not quadratic. Stale
     * after anything that moves entries; rebuilt on the next lookup. */
    size_t *slots;
    size_t nslots;
    bool stale;
};

/*
 * Record what was seen of path (source si, whose rule is rule). st is its
 * lstat, NULL if that failed: like PENDING_GONE, the file is forgotten.
 * Returns true if path was not pending and now is (a new candidate).
 */
bool pending_note(struct pending_table *t, size_t si, const char *path, enum pending_kind kind,
                  const struct stat *st, const struct pending_rule *rule, double now);

/* A scan starts: what it notes counts as found by it (see pending_sweep). */
void pending_scan_begin(struct pending_table *t);
/* A scan of source si's whole folder is over: forget its files it did not
 * find (deleted while no event told us). */
void pending_sweep(struct pending_table *t, size_t si);

/* Whether the file is complete at now. */
bool pending_ready(const struct pending_file *p, double now);
/* The earliest time at which a file may become ready by time alone;
 * INFINITY if none will (done, being written, or waiting for a look). */
double pending_next_due(const struct pending_table *t);
/* Oldest mtime first (then by path): the order of import. */
void pending_sort(struct pending_table *t);

enum pending_check {
    PENDING_IMPORT,  /* unchanged since noted: import it now */
    PENDING_CHANGED, /* changed: noted as seen again, it waits once more */
    PENDING_VANISHED /* st NULL: dropped from the table */
};
/* The last look before files[i] is imported, with a fresh lstat. */
enum pending_check pending_recheck(struct pending_table *t, size_t i, const struct stat *st,
                                   double now);

/* After an import attempt. skipped: not again for PENDING_RETRY_S. */
void pending_retry_later(struct pending_file *p, double now);
/* Imported but still there (on_success: keep, or the move failed): not
 * again unless it changes. */
void pending_keep(struct pending_file *p);
/* Forget files[i]; the others keep their order. */
void pending_drop(struct pending_table *t, size_t i);
/* Forget every file (a reload); free everything with pending_free. */
void pending_clear(struct pending_table *t);
void pending_free(struct pending_table *t);

#endif
