/*
 * ledger.h - the cdr_file ledger (one row per file seen: its checksum,
 * counts and outcome) and the cdr_reject lines of a file. The ledger is
 * what makes an import exactly-once per file: a checksum already imported
 * for a source is a duplicate.
 *
 * File names and messages are outside text: they reach text columns
 * through cdr_escape, and a name that escaping changed is kept byte for
 * byte in path_raw (schema version 3). A file inside an archive has its
 * own row: path is the archive's, member its path inside it (version 4,
 * NULL for anything else; kept as path is, member_raw beside it).
 */
#ifndef CDR_LEDGER_H
#define CDR_LEDGER_H

#include "db.h"

/* A file's counts as its ledger row holds them. (The name predates this
 * module; callers across the tree use it.) */
struct load_stats {
    uint64_t rows_read, rows_inserted, rows_duplicate, rows_rejected, rows_repaired;
    /* The earliest and latest call_time of the rows (binary timestamptz:
     * microseconds since 2000, UTC); read only when rows_inserted > 0. */
    int64_t first_call, last_call;
};

/* Whether a file of this size was already imported for the source: if
 * not, no file with its checksum was either. */
enum load_status ledger_size_known(struct db *db, const char *source, uint64_t size,
                                   bool *known, char *err, size_t errlen);

/* Whether a file with this checksum was already imported for the source. */
enum load_status ledger_file_known(struct db *db, const char *source, const char *sha256,
                                   bool *known, char *err, size_t errlen);
/* Record a file that adds no rows (a duplicate, a member that could not be
 * read, an archive's own row) in its own transaction. member may be NULL. */
enum load_status ledger_record_file(struct db *db, const char *source, const char *path,
                                    const char *member, const char *sha256, uint64_t size,
                                    const char *status, const char *error, char *err,
                                    size_t errlen);
/* Print the latest ledger rows (for `status`). */
enum load_status ledger_print_status(struct db *db, int limit, char *err, size_t errlen);

/* A file's transaction (load.c) opens and closes in one round trip each
 * (db_pipeline): a small file's fixed cost is mostly waiting on the server.
 *
 * ledger_begin_file: BEGIN, the source's time zone for the transaction
 * (times in a file are the PBX's wall-clock times: the server reads them
 * in it; SET LOCAL), the source's import lock if free (shared; for a
 * retry after a conflict exclusive, asked again until had or 30 s have
 * passed: sql.c's SQL_IMPORT_LOCK), the file's ledger row (status imported until the
 * finish says otherwise; *file_id tags its rows; format is the profile it
 * is read with, schema version 8, may be NULL) and, if `also` is given,
 * one statement of the caller's (its result in also->res). Unless known is
 * NULL (--force, or no checksum yet), the ledger row is only written when
 * the checksum is not already imported for the source: if it is, *known
 * is true, *file_id 0 and the transaction rolled back (LOAD_OK). On any
 * failure the transaction is rolled back too.
 *
 * ledger_finish_commit: the ledger row's counts and outcome, then COMMIT.
 * The checksum and size are written again there: an input that cannot be
 * read twice knows them only then (begin gets "" and 0). */
enum load_status ledger_begin_file(struct db *db, const char *source, const char *timezone,
                                   const char *path, const char *member, const char *format,
                                   const char *sha256, uint64_t size, bool retry, bool *known,
                                   struct db_step *also, long long *file_id, char *err,
                                   size_t errlen);
enum load_status ledger_finish_commit(struct db *db, const char *file_id, const char *status,
                                      const char *error, const char *sha256, uint64_t size,
                                      const struct load_stats *stats, char *err, size_t errlen);

/* ledger_begin_file's first round trip in two halves, for a caller with
 * work to do while the server answers (load.c: a file's first rows are
 * parsed meanwhile). send never waits; collect answers as begin_file does
 * (*locked: whether the import lock was had), rolling back on a failure or
 * a known checksum. ask: whether to ask if the checksum is known (begin
 * file's known not NULL). Between the two the connection is not to be
 * used otherwise, and path must stay valid. */
#define LEDGER_BEGIN_STEPS 5
struct ledger_begin {
    struct db_step steps[LEDGER_BEGIN_STEPS];
    size_t n;
    struct db_pipe pipe;
    bool ask;
    const char *path;
};
enum load_status ledger_begin_send(struct db *db, const char *source, const char *timezone,
                                   const char *path, const char *member, const char *format,
                                   const char *sha256, uint64_t size, bool retry, bool ask,
                                   const struct db_step *also, struct ledger_begin *lb,
                                   char *err, size_t errlen);
enum load_status ledger_begin_collect(struct db *db, struct ledger_begin *lb, bool *locked,
                                      bool *known, struct db_step *also, long long *file_id,
                                      char *err, size_t errlen);

/* A rejected line as one COPY text line of cdr_reject (SQL_COPY_REJECTS):
 * the raw bytes verbatim (bytea), the reason escaped. At most
 * ledger_reject_max() bytes are written; returns the count. */
size_t ledger_reject_max(size_t len, const char *reason);
size_t ledger_reject_line(char *w, const char *file_id, uint64_t line_no, const char *raw,
                          size_t len, const char *reason);

#endif
