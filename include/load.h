/*
 * load.h - a file's transaction: the COPY of its rows and rejects with its
 * ledger row (ledger.h). One file is one transaction: rows, rejects and
 * its ledger row commit together or not at all. The connection is db.h's.
 *
 * Dedup: rows are buffered in two alternating bounded batches; a loader
 * thread keys each batch, asks which keys are already stored (dedup.h;
 * rows of earlier batches of the same file are visible inside the
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
#include "db.h"
#include "ledger.h"
#include "profile.h"

/* A file's transaction. */
struct load;

/* careful: a retry after a unique violation; the dedup probe then looks
 * at a wider time range (see dedup.c). member: the file's path inside the
 * archive path, or NULL (ledger.h). format: the profile's name, for the
 * ledger. known: unless NULL (--force, or no checksum yet), whether sha256
 * is already imported for the source is asked in the same round trip.
 * A retry (careful) waits for the answer: if the checksum is known, *known
 * is true, *out NULL and nothing is written (LOAD_OK). A first attempt
 * does not: the answer is read as the first rows go to the server, and a
 * known checksum or a failure to open then ends load_row, load_reject or
 * load_settle with its status; load_opened tells which. The thread and
 * buffers of a load are the connection's, kept across files (db_close
 * frees them). */
enum load_status load_begin(struct db *db, const char *source, const char *timezone,
                            const char *path, const char *member, const char *format,
                            const char *sha256, uint64_t size, bool careful, bool *known,
                            struct load **out, char *err, size_t errlen);
/* Read the opening round trip's answer if it is not yet read (it is
 * then the caller's to read): its status, and *known, true when the
 * checksum was already imported (the transaction is rolled back, nothing
 * written; LOAD_OK). */
enum load_status load_opened(struct load *ld, bool *known);
/* Queue one row; may flush a batch. */
enum load_status load_row(struct load *ld, const struct cdr_row *row, uint64_t line_no);
/* Queue one rejected line (raw bytes verbatim). */
enum load_status load_reject(struct load *ld, uint64_t line_no, const char *raw, size_t len,
                             const char *reason);
/* Send every queued row and reject and wait for the server to take them:
 * the connection is free for another statement of the transaction (the
 * loader thread shares it until then). load_commit does this first. */
enum load_status load_settle(struct load *ld);
/* Flush, write the ledger row (status imported or failed, with error, and
 * the input's checksum and size as the pass found them) and commit, those
 * two in one round trip. stats
 * in: rows_read/rows_rejected/rows_repaired as counted by the caller; out:
 * inserted/duplicate filled in. */
enum load_status load_commit(struct load *ld, const char *status, const char *error,
                             const char *sha256, uint64_t size, struct load_stats *stats);
/* Roll back whatever is not committed, and give the load back to its
 * connection. Safe on NULL. */
void load_close(struct load *ld);
/* The message of the last failure of this load. */
const char *load_error(const struct load *ld);

#endif
