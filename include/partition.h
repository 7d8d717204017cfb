/*
 * partition.h - monthly partitions of cdr_row (database.partition: month).
 *
 * A partitioned cdr_row has one partition per UTC month, cdr_row_YYYYmMM,
 * made when a batch first needs it, inside the file's transaction (the
 * server function cdr_partition_add, sql.c). Each connection keeps a
 * partition cache: whether cdr_row is partitioned, and the months known to
 * have a partition, so that a batch whose months are all known costs no
 * round trip. A rolled-back transaction may have made partitions that are
 * gone again: db_rollback forgets the cache.
 *
 * partition_setup turns a plain cdr_row into a partitioned one: at once
 * when it is empty (any command), with its rows when init-db asks.
 */
#ifndef CDR_PARTITION_H
#define CDR_PARTITION_H

#include "db.h"

#include <stdbool.h>
#include <stdint.h>

struct partition_cache;

struct partition_cache *partition_cache_create(void);
void partition_cache_destroy(struct partition_cache *pc);
/* Forget what the cache knows: it asks the server again. */
void partition_cache_forget(struct partition_cache *pc);

/* The UTC month of an instant (PostgreSQL timestamptz: microseconds since
 * 2000-01-01 UTC) as year * 12 + month - 1: its partition. */
int32_t partition_month(int64_t pg_usec);

/* A row's call_time (PostgreSQL timestamptz: microseconds since 2000-01-01
 * UTC) is about to be sent. Cheap for a row in the same month as the last. */
void partition_note(struct partition_cache *pc, int64_t pg_usec);
/* Before the COPY of the noted rows: make sure their months have a
 * partition, if cdr_row is partitioned. No round trip when all are known. */
enum load_status partition_ensure(struct partition_cache *pc, struct db *db, char *err,
                                  size_t errlen);

/* Whether partition_ensure would have nothing to ask the server. */
bool partition_settled(const struct partition_cache *pc);

/* Whether cdr_row is partitioned (asked of the server). */
enum load_status partition_is_partitioned(struct db *db, bool *yes, char *err, size_t errlen);

/* Bring cdr_row to what database.partition asks. With rows false only an
 * empty table is converted (and a full one is left as it is, with a
 * warning that names init-db); with rows true every row is moved, counted
 * before and after, and the time it took logged. */
enum load_status partition_setup(struct db *db, enum cdr_partition want, bool rows, char *err,
                                 size_t errlen);

#endif
