/*
 * load.h - the database stage: connection, versioned schema, the cdr_file
 * ledger, and the COPY of rows and rejects. One file is one transaction:
 * rows, rejects and its ledger row commit together or not at all.
 *
 * Dedup: rows are buffered in two alternating bounded batches; a loader
 * thread keys each batch, fetches the keys already stored in its call_time
 * range (rows of earlier batches of the same file are visible inside the
 * transaction) and COPYs the rest in binary format, while the parser fills
 * the other batch. The COPY is queued without blocking and fed to the
 * server while the loader prepares the next batch (keys, instants: see
 * zone.h); only the probe waits for it to finish.
 * The primary key (call_time, row_key) stays the final word: a concurrent
 * importer that commits the same row first makes our COPY fail with
 * unique_violation, and the caller retries the file (LOAD_CONFLICT).
 */
#ifndef CDR_LOAD_H
#define CDR_LOAD_H

#include "cdrimport.h"
#include "config.h"
#include "profile.h"

enum load_status {
    LOAD_OK = 0,
    LOAD_DB_DOWN,    /* connection lost or refused: retry later, keep the file */
    LOAD_CONFLICT,   /* a concurrent importer stored some rows first: retry */
    LOAD_ERROR       /* the server refused this file's data */
};

struct db;

/* Connect per cfg->dsn (a relative unix-socket directory resolves against
 * the config's folder) and bring the schema up to date. NULL on failure with
 * the reason in err; never logs the password. */
struct db *db_connect(const struct cdr_config *cfg, char *err, size_t errlen);
void db_close(struct db *db);
/* Whether the connection is still up. */
bool db_alive(struct db *db);
/* Create or migrate the schema (idempotent, under an advisory lock). */
enum load_status db_migrate(struct db *db, char *err, size_t errlen);
/* The server's version string and the schema version, for `check`. */
void db_describe(struct db *db, char *out, size_t outlen);
/* Print the latest ledger rows (for `status`). */
enum load_status db_print_status(struct db *db, int limit, char *err, size_t errlen);

/* Whether a file with this checksum was already imported for the source. */
enum load_status db_file_known(struct db *db, const char *source, const char *sha256,
                               bool *known, char *err, size_t errlen);

struct load_stats {
    uint64_t rows_read, rows_inserted, rows_duplicate, rows_rejected, rows_repaired;
};

/* A file's transaction. */
struct load;

/* careful: a retry after a unique violation; the dedup probe then looks
 * at a wider time range (see load.c). */
enum load_status load_begin(struct db *db, const char *source, const char *timezone,
                            const char *path, const char *sha256, uint64_t size, bool careful,
                            struct load **out, char *err, size_t errlen);
/* Queue one row; may flush a batch. */
enum load_status load_row(struct load *ld, const struct cdr_row *row, uint64_t line_no);
/* Queue one rejected line (raw bytes verbatim). */
enum load_status load_reject(struct load *ld, uint64_t line_no, const char *raw, size_t len,
                             const char *reason);
/* Flush, write the ledger row (status imported or failed, with error) and
 * commit. stats in: rows_read/rows_rejected/rows_repaired as counted by the
 * caller; out: inserted/duplicate filled in. */
enum load_status load_commit(struct load *ld, const char *status, const char *error,
                             struct load_stats *stats);
/* Roll back whatever is not committed, and free. Safe on NULL. */
void load_close(struct load *ld);
/* The message of the last failure of this load. */
const char *load_error(const struct load *ld);

/* Record a file that adds no rows (status duplicate) in its own transaction. */
enum load_status db_record_file(struct db *db, const char *source, const char *path,
                                const char *sha256, uint64_t size, const char *status,
                                const char *error, char *err, size_t errlen);

#endif
