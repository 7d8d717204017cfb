/*
 * dedup.h - which rows of a batch must not be sent: those that repeat an
 * earlier row of the same batch, and those the table already holds (rows
 * of earlier batches of the same file are visible inside its transaction).
 * The primary key (call_time, row_key) stays the final word: a concurrent
 * importer that commits the same row between the probe and the COPY makes
 * the COPY fail with unique_violation, and the file is retried.
 *
 * The cost of the probe is bounded by the batch, whatever else the table
 * holds in the same hours (other files, other sources, rows out of time
 * order): see dedup_stored.
 */
#ifndef CDR_DEDUP_H
#define CDR_DEDUP_H

#include "cdrimport.h"
#include "db.h"

/* What dedup sees of a batch (load.c's struct batch keeps the storage). */
struct dedup_batch {
    size_t nrows;
    const unsigned char (*keys)[16];
    bool *skip;                /* out: true for a row not to be sent */
    const char *tmin, *tmax;   /* the rows' call_time range, canonical local text */
    /* Row i's call_time as binary timestamptz (8 bytes, big-endian), for
     * the rows not skipped. */
    const char *(*call_time)(const void *ctx, size_t i);
    const void *ctx;
    /* The order rows are sent in (a permutation of nrows row indexes), or
     * NULL for 0..nrows-1: lookups ask in the same order. */
    const uint32_t *order;
};

/* A set over one batch's keys, sized for max_rows. */
struct dedup;
struct dedup *dedup_create(size_t max_rows);
void dedup_destroy(struct dedup *d);

/* Mark the rows whose key appeared earlier in the batch; returns how many.
 * Keeps the set for dedup_stored. */
size_t dedup_within(struct dedup *d, const struct dedup_batch *b);

/* A file's transaction begins (the dedup is kept across files with its
 * loader): stored_max is the latest call_time stored (a binary timestamptz
 * value, SQL_STORED_MAX; INT64_MIN: none). It then grows with the file's
 * batches: a first attempt asks only about rows up to it, and not at all
 * for a batch wholly after it. */
void dedup_begin_file(struct dedup *d, int64_t stored_max);

/* Without the server, where that is enough: true when none of the batch's
 * rows can meet a row stored before the file, nor one the file sent before
 * the batch remembered last (the file's Bloom filter of its keys clearing
 * every row that reaches back that far), and then the rows repeating that
 * batch's are marked (*dups grows by their number). False (nothing marked) when only
 * the server can say, or on a retry (careful): dedup_stored then. A batch
 * that needs no server goes into the COPY in flight (load.c). */
bool dedup_local(struct dedup *d, const struct dedup_batch *b, bool careful, uint64_t *dups);

/* The batch's remaining rows are on their way: remember their keys (the
 * tail) for the next batch's dedup_local, and their latest call_time. */
void dedup_remember(struct dedup *d, const struct dedup_batch *b);

/*
 * Ask the server which of the batch's remaining keys it holds and mark
 * them; *dups grows by their number. A batch after every row stored
 * before the file asks only about the rows the file's Bloom filter cannot
 * clear (an exact lookup of those, without a savepoint). careful: a retry after a unique
 * violation (the call_time range is widened by a day each side, see
 * dedup.c). may_skip: where the range holds more than the batch and the
 * exact lookup would be next, return with *unchecked set instead (the
 * caller sends the rows under a savepoint, and calls dedup_pairs only if
 * the key refuses one). On failure the status and a message in err.
 */
enum load_status dedup_stored(struct dedup *d, struct db *db, const struct dedup_batch *b,
                              bool careful, bool may_skip, bool *unchecked, uint64_t *dups,
                              char *err, size_t errlen);
/* The exact lookup of the remaining rows' (call_time, row_key) pairs. */
enum load_status dedup_pairs(struct dedup *d, struct db *db, const struct dedup_batch *b,
                             uint64_t *dups, char *err, size_t errlen);

#endif
