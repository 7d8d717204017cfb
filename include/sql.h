/*
 * sql.h - every SQL statement of cdrimport, by name (as PgBouncer and
 * Fluent Bit keep theirs): a reader sees the whole conversation with the
 * server in one place, and a schema change shows what it touches.
 *
 * Templates: "@." stands for the quoted schema and its dot; db_sql() (db.h)
 * fills it in. Values are always $n parameters or COPY data, never pasted.
 * Pure data: no code depends on anything here but the text.
 */
#ifndef CDR_SQL_H
#define CDR_SQL_H

/* Transactions */
extern const char SQL_BEGIN[];
extern const char SQL_COMMIT[];
extern const char SQL_ROLLBACK[];
extern const char SQL_SAVEPOINT[];
extern const char SQL_RELEASE_SAVEPOINT[];
extern const char SQL_ROLLBACK_SAVEPOINT[];
extern const char SQL_SET_TIMEZONE[];
extern const char SQL_SERVER_HEAP[];
extern const char SQL_IMPORT_LOCK_SHARED[];
extern const char SQL_IMPORT_LOCK[];

/* Schema (schema.c) */
extern const char SQL_CREATE_SCHEMA[];
extern const char SQL_SCHEMA_LOCK[];
extern const char SQL_SCHEMA_TABLE[];
extern const char SQL_SCHEMA_VERSION[];
extern const char SQL_SCHEMA_APPLIED[];
/* The migrations, version i + 1 at index i; each runs once, in order. */
extern const char *const SQL_MIGRATIONS[];
extern const int SQL_NMIGRATIONS;

/* The cdr_file ledger and cdr_reject (ledger.c) */
extern const char SQL_FILE_KNOWN[];
extern const char SQL_FILE_SIZE_KNOWN[];
extern const char SQL_FILE_RECORD[];
extern const char SQL_FILE_BEGIN[];
extern const char SQL_FILE_FINISH[];
extern const char SQL_FILE_STATUS[];
extern const char SQL_COPY_REJECTS[];

/* The fetch sources (fetch_status.c) */
extern const char SQL_FETCH_RECORD[];
extern const char SQL_FETCH_STATUS[];

/* The rows (load.c) */
extern const char SQL_PROBE_KEYS[];
extern const char SQL_PROBE_PAIRS[];
extern const char SQL_STORED_MAX[];
extern const char SQL_ZONE_INSTANTS[];
extern const char SQL_COPY_ROWS[];

/* monthly partitions (partition.c) and retention (prune.c) */
extern const char SQL_PARTITION_KIND[];
extern const char SQL_PARTITION_ADD[];
extern const char SQL_PARTITION_LOCK[];
extern const char SQL_PARTITION_COUNT[];
extern const char SQL_PARTITION_NEW[];
extern const char SQL_PARTITION_NEW_MONTHS[];
extern const char SQL_PARTITION_FILL[];
extern const char SQL_PARTITION_COUNT_NEW[];
extern const char SQL_PARTITION_SWAP[];
extern const char SQL_PRUNE_CUTOFF[];
extern const char SQL_PRUNE_PARTITIONS[];
extern const char SQL_PRUNE_PARTITION_ROWS[];
extern const char SQL_PRUNE_PARTITION_DROP[];
extern const char SQL_PRUNE_DELETE[];
/* Retention's bounded delete, the same for the rows and the stored calls:
 * at most $2 rows of `table` whose `column` is before $1. */
#define SQL_DELETE_BEFORE(table, column) \
    "DELETE FROM @." table " WHERE ctid = ANY (ARRAY(SELECT ctid FROM @." table \
    " WHERE " column " < $1::timestamptz LIMIT $2::int))"

/* Call accounting (sql_calls.c): its migrations, cdr_source (trunks.c),
 * the stored calls (report.c, prune.c) and the report's queries, each
 * from the stored calls or from the rows (report.c). */
extern const char SQL_MIGRATION_CALLS[];
extern const char SQL_MIGRATION_CALL_STORE[];
extern const char SQL_SOURCE_UPSERT[];
extern const char SQL_REPORT_SESSION[];
extern const char SQL_CALLS_REFRESH[];
extern const char SQL_CALLS_PENDING[];
extern const char SQL_PRUNE_CALLS[];
enum sql_calls_from { SQL_FROM_STORE, SQL_FROM_ROWS };
extern const char *const SQL_REPORT_SUMMARY[2];
extern const char *const SQL_REPORT_HEATMAP[2];
extern const char *const SQL_REPORT_MISSED[2];

#endif
