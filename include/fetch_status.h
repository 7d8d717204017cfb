/*
 * fetch_status.h - the cdr_fetch table: per fetch source its last poll
 * (time, outcome, bytes) and totals, written after each poll (or, while
 * the database is away, added up and written when it is back), and shown
 * by `status` with the rows its spooled files brought (their ledger rows).
 * Only masked urls and outcome texts reach it: never a password.
 */
#ifndef CDR_FETCH_STATUS_H
#define CDR_FETCH_STATUS_H

#include "db.h"
#include "fetch.h"

/* Polls of one source not yet written: the latest one, and the counts of
 * all of them. */
struct fetch_status_pending {
    struct fetch_outcome last;   /* file: the latest spooled file, if any */
    uint64_t polls, bytes;
};

/* Add outcome o to pend (o's strings are copied). */
void fetch_status_add(struct fetch_status_pending *pend, const struct fetch_outcome *o);
/* Write pend (one statement); on LOAD_OK the caller clears it. */
enum load_status fetch_status_record(struct db *db, const struct fetch_status_pending *pend,
                                     char *err, size_t errlen);
void fetch_status_clear(struct fetch_status_pending *pend);
/* The fetch sources' section of `status` (nothing when there is none). */
enum load_status fetch_status_print(struct db *db, char *err, size_t errlen);

#endif
