/*
 * load_int.h - the state of a file's transaction, shared by the two halves
 * of the load module and by no other: load.c (the parser's side: the
 * opening round trip, batches filled and handed over, the loader thread,
 * commit) and load_batch.c (the loader thread's work on one batch). Other
 * modules see only load.h.
 */
#ifndef CDR_LOAD_INT_H
#define CDR_LOAD_INT_H

#include "batch.h"
#include "cdrimport.h"
#include "checksum.h"
#include "copybin.h"
#include "db.h"
#include "dedup.h"
#include "ledger.h"
#include "pump.h"
#include "zone.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Savepoints a file may use (copy_guarded): well under the 64
 * subtransactions a backend caches (PGPROC_MAX_CACHED_SUBXIDS). */
#define GUARDED_BATCHES 48

struct load {
    struct db *db;
    struct zone_cache *zones; /* db's (db_zones), at hand */
    char *source;
    size_t source_len;
    char *source_esc;      /* COPY-escaped source */
    size_t source_esc_len;
    char *timezone;
    struct copybin_dates dates; /* parser thread only */
    int64_t *answers;      /* the server's instants for zone questions */
    size_t answers_cap;
    long long file_id;     /* 0 until the opening round trip is read */
    char file_id_txt[24];
    /* The opening round trip, sent but not yet read (begin_read): the
     * file's first rows are parsed meanwhile. */
    bool begin_pending;
    struct ledger_begin begin;
    enum load_status begin_st; /* its answer, once read */
    bool known;            /* its answer: the checksum is already imported */
    bool careful;          /* a retry: probe a wider range */
    unsigned guarded_left; /* batches copy_guarded may still send */
    bool cached;           /* the db's, kept across files (loader_get) */
    bool in_use;
    struct batch batches[2];
    int fill;              /* the batch the parser fills */
    size_t batch_rows;     /* rows that fill it (FIRST_BATCH_ROWS, doubling) */
    bool small;            /* no larger than SMALL_FILE_BYTES */
    struct dedup *dedup;   /* over a batch's keys (loader thread only) */
    struct checksum *ck;   /* row keys (loader thread only) */
    struct pump pump;      /* the COPYs, into err */
    size_t copy_held;      /* rows in the open COPY */
    /* the loader thread: owns the connection while `busy` */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batch *work;    /* handed over, not yet done */
    bool busy, quit;
    bool draining;         /* idle, but still sending the COPY data queued */
    enum load_status st;   /* first failure of the loader */
    uint64_t inserted, duplicate;
    int64_t tfirst, tlast; /* the call_time range of the file's rows (copybin.h) */
    char err[CDR_ERRLEN];
};

/* The loader thread's work on one batch (load_batch.c): keys, duplicates,
 * instants, then its rows into the open COPY and its rejects. */
enum load_status load_batch_store(struct load *ld, struct batch *b);

#endif
