/*
 * prune.h - retention: the rows older than database.retention_months go.
 * A partitioned cdr_row loses whole monthly partitions (a catalog change,
 * however many rows); a plain one is deleted from in bounded batches, one
 * transaction each, so no lock or undo grows with the table. Both log what
 * went, and the stored calls of that time (sql_calls.c) go with them.
 * `cdrimport prune` runs it; `watch` runs it once a day.
 */
#ifndef CDR_PRUNE_H
#define CDR_PRUNE_H

#include "db.h"

#include <stdint.h>

struct prune_totals {
    unsigned partitions;  /* partitions dropped */
    uint64_t rows;        /* rows removed */
    uint64_t calls;       /* stored calls (cdr_call_store) removed */
    char cutoff[32];      /* the first instant kept, UTC */
};

/* Remove the rows of calls before the start of the UTC month `months`
 * months before this one (months >= 1). */
enum load_status prune_run(struct db *db, unsigned months, struct prune_totals *t, char *err,
                           size_t errlen);

#endif
