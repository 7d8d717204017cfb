/*
 * db.h - the connection to PostgreSQL: conninfo (a relative unix-socket
 * folder resolves against the config's folder), connect, the statement
 * helpers the database-stage modules share (schema, ledger, pump, load),
 * and the mapping of failures onto what the caller should do about them.
 *
 * These helpers never log: they fill the caller's error buffer, and the
 * caller logs once, where it knows which file or command failed.
 */
#ifndef CDR_DB_H
#define CDR_DB_H

#include "cdrimport.h"
#include "config.h"

#include <libpq-fe.h>
#include <signal.h>

/* What a failed database step means for the caller. The name is older than
 * this module (it was load.c's), and file.c, job.c, main.c and watch.c all
 * test it: it stays, for the whole database stage. */
enum load_status {
    LOAD_OK = 0,
    LOAD_DB_DOWN,    /* connection lost or refused, or the server cannot take writes
                      * now (read-only, disk full, timeout): retry later, keep the file */
    LOAD_CONFLICT,   /* a concurrent importer stored some rows first: retry */
    LOAD_ERROR,      /* the server refused this file's data */
    LOAD_CANCELLED   /* told to stop while waiting (db_set_cancel): rolled back,
                      * read the file again later */
};

struct db;
struct zone_cache;
struct partition_cache;

/* Connect per cfg->dsn (or $CDRIMPORT_DSN, which wins) and set the
 * session up (client encoding, quoted schema name). NULL on failure with
 * the reason in err; never logs or shows the password. The schema is
 * brought up to date by schema_migrate. */
struct db *db_connect(const struct cdr_config *cfg, char *err, size_t errlen);
/* Safe on NULL. */
void db_close(struct db *db);
/* A flag (set by a stop signal; NULL for none) that makes this
 * connection's voluntary waits give up: a retry waiting for the import
 * lock (ledger.c) ends with LOAD_CANCELLED instead of holding a stopping
 * daemon up to 30 s. Safe on a NULL db. */
void db_set_cancel(struct db *db, const volatile sig_atomic_t *flag);
bool db_cancelled(const struct db *db);

/* libpq's keyword/value arrays for a parsed dsn (opts may be NULL: no dsn),
 * sized from it, so no option is ever dropped. A relative host (a socket
 * folder "./run") becomes base_dir/run; application_name and, when
 * add_timeout, connect_timeout get defaults unless opts set them. Pure, for
 * the unit tests. */
struct db_params {
    const char **kw, **val; /* n entries, then NULL */
    size_t n;
    char *host;             /* owned: the absolute socket folder, if any */
};
void db_params_build(const PQconninfoOption *opts, const char *base_dir, bool add_timeout,
                     struct db_params *p);
void db_params_free(struct db_params *p);

/* For the database-stage modules. */
PGconn *db_conn(struct db *db);
const char *db_schema(const struct db *db);   /* quoted identifier */
const char *db_schema_name(const struct db *db); /* the name itself */
struct zone_cache *db_zones(struct db *db);    /* this server's zone answers */
struct partition_cache *db_partitions(struct db *db); /* partition.h */

/* Map a failed result (res may be NULL) onto a status; a dead connection
 * is an outage, and so is an error that is the server's state rather than
 * the file's data (see db.c: transient_states). */
enum load_status db_classify(struct db *db, PGresult *res);
/* A template (sql.h) with the quoted schema for every "@." in it. */
char *db_sql(const struct db *db, const char *tmpl);

/* Run sql with text parameters and expect `want`; the result goes to *out
 * (if out) for the caller to PQclear. */
enum load_status db_exec(struct db *db, PGresult **out, ExecStatusType want, char *err,
                         size_t errlen, const char *sql, int n, const char *const *params);
/* A command (no rows) from plain sql, or from a template (db_cmds). */
enum load_status db_cmd(struct db *db, char *err, size_t errlen, const char *sql, int n,
                        const char *const *params);
enum load_status db_cmds(struct db *db, char *err, size_t errlen, const char *tmpl, int n,
                         const char *const *params);
/* A query (rows into *out) from a template. */
enum load_status db_query(struct db *db, PGresult **out, char *err, size_t errlen,
                          const char *tmpl, int n, const char *const *params);
/* A query whose rows are handed to fn one at a time as they arrive (libpq's
 * single-row mode): memory stays that of one row however many the query
 * returns. res is fn's to read, not to keep. */
typedef void db_row_fn(void *ctx, const PGresult *res);
enum load_status db_query_each(struct db *db, const char *tmpl, int n,
                               const char *const *params, db_row_fn *fn, void *ctx,
                               char *err, size_t errlen);
/* Roll back the open transaction on a failure path: its result does not
 * matter (on a broken connection the transaction is gone anyway). */
void db_rollback(struct db *db);

/* Several statements in one round trip (libpq pipeline mode): a file's
 * fixed cost is mostly waiting for the server, once per statement. Each
 * step is a template with text parameters that must end in `want`; with
 * `prepare` it is a named statement of this connection, parsed and
 * planned by the server once (prepared in the same round trip the first
 * time). A step with `keep` hands its result to the caller (res, to
 * PQclear; NULL unless everything succeeded). The first failure decides
 * the status; the steps after it are skipped by the server. At most
 * DB_PIPELINE_MAX steps. */
#define DB_PIPELINE_MAX 8
struct db_step {
    const char *tmpl;
    int n;
    const char *const *params;
    ExecStatusType want;
    bool prepare, keep;
    PGresult *res;
};
enum load_status db_pipeline(struct db *db, struct db_step *steps, size_t n, char *err,
                             size_t errlen);
/* The same in two halves, for a caller with work to do while the server
 * answers: send (its status is only that of entering pipeline mode; a
 * failure to send is kept for collect), then collect, which returns what
 * db_pipeline would have. Between the two the connection is not to be
 * used otherwise, and steps must stay in place (their params need not). */
struct db_pipe {
    size_t n, sent;
    int named[DB_PIPELINE_MAX];  /* prepared statement index, or -1 */
    bool parse[DB_PIPELINE_MAX]; /* its Prepare went in this pipeline */
    enum load_status st;
};
enum load_status db_pipeline_send(struct db *db, struct db_step *steps, size_t n,
                                  struct db_pipe *p, char *err, size_t errlen);
/* Whether the next answer has arrived (reading what the socket holds,
 * never waiting): true also when the connection failed, for the caller to
 * find out by reading it. */
bool db_reply_ready(struct db *db);
enum load_status db_pipeline_collect(struct db *db, struct db_step *steps, struct db_pipe *p,
                                     char *err, size_t errlen);

/* One object the loader keeps per connection across files (load.c: its
 * thread and batch buffers), freed by db_close through free_fn. */
void *db_loader(struct db *db);
void db_set_loader(struct db *db, void *loader, void (*free_fn)(void *));

#endif
