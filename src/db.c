/*
 * db.c - the connection (see db.h): conninfo, connect, and the statement
 * helpers of the database stage. Values travel as parameters; the schema
 * name from the config is quoted with PQescapeIdentifier once, here.
 */
#include "db.h"
#include "partition.h"
#include "plat.h"
#include "sql.h"
#include "zone.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The send buffer asked for a local server's Unix socket. Its default
 * (net.core.wmem_default, 208 KiB) holds about a thousand rows, under 3 ms
 * of the server's work, and the kernel wakes a writer only once three
 * quarters of it are read: whenever the loader thread was late to refill
 * it (working on the next batch, or waiting for the core the parser held),
 * the server ran dry: perf sched counted 0.2-0.3 s of a 1M-row import's
 * 3.2 s in which the backend waited for rows, 0.05 s with 1 MiB (which
 * the kernel doubles, up to net.core.wmem_max). The import took 2.82 s
 * against 3.19 s (median of 5 interleaved rounds; 512 KiB 2.87 s, 2 MiB
 * 2.90 s), and 2.95 s against 3.51 s in 6 more (3.17 s capped at 416 KiB,
 * as a stock kernel's wmem_max caps it). */
#define DB_LOCAL_SEND_BUFFER (1 << 20)

/* Named statements a connection may hold: the per-file ones. */
#define DB_PREPARED_MAX 16

struct db {
    PGconn *conn;
    char *schema;            /* quoted identifier */
    char *schema_name;       /* the name itself (for parameters) */
    struct zone_cache *zones; /* wall time -> instant, as this server says */
    struct partition_cache *parts; /* months of cdr_row with a partition */
    struct {                 /* templates named "cdr_<index>" */
        const char *tmpl;
        bool ready;          /* the server has it (a failed Prepare is sent again) */
    } prepared[DB_PREPARED_MAX];
    size_t nprepared;
    void *loader;            /* load.c's, kept across files */
    const volatile sig_atomic_t *cancel; /* db_set_cancel */
    void (*loader_free)(void *);
};

/* ---- helpers -------------------------------------------------------------- */

/* SQLSTATEs (a class of two characters, or a full code) that say the
 * server cannot take this write now, whatever the file holds: the file
 * must stay where it is and be tried again, never be set aside as failed.
 * 08 connection, 57P shutdown, 53 insufficient resources (disk full,
 * out of memory, too many connections), 58 system (I/O) error, 25006 a
 * read-only transaction (a failover to a replica), 57014 a cancelled
 * statement (statement_timeout, pg_cancel_backend), 55P03 lock_timeout,
 * 40001 serialization failure. (A deadlock, 40P01, is retried at once as
 * a conflict, above.) */
static const char *const transient_states[] = {"08", "57P", "53", "58", "25006", "57014",
                                               "55P03", "40001"};

enum load_status db_classify(struct db *db, PGresult *res)
{
    if (PQstatus(db->conn) == CONNECTION_BAD)
        return LOAD_DB_DOWN;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "23505") == 0)
        return LOAD_CONFLICT;
    /* A row for a month whose partition another process pruned meanwhile
     * (a check violation without a constraint: "no partition of relation
     * found"), or two importers' partition locks crossing: retry the file,
     * which asks for the partitions again. */
    if (state && ((strcmp(state, "23514") == 0 &&
                   !PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME)) ||
                  strcmp(state, "40P01") == 0))
        return LOAD_CONFLICT;
    for (size_t i = 0; state && i < sizeof transient_states / sizeof transient_states[0]; i++)
        if (strncmp(state, transient_states[i], strlen(transient_states[i])) == 0)
            return LOAD_DB_DOWN;
    return LOAD_ERROR;
}

enum load_status db_exec(struct db *db, PGresult **out, ExecStatusType want, char *err,
                         size_t errlen, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != want) {
        enum load_status st = db_classify(db, res);
        cdr_seterr(err, errlen, "%s", PQerrorMessage(db->conn));
        PQclear(res);
        return st;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return LOAD_OK;
}

enum load_status db_cmd(struct db *db, char *err, size_t errlen, const char *sql, int n,
                        const char *const *params)
{
    return db_exec(db, NULL, PGRES_COMMAND_OK, err, errlen, sql, n, params);
}

char *db_sql(const struct db *db, const char *tmpl)
{
    size_t n = 0, k = strlen(db->schema);
    for (const char *s = tmpl; *s; s++)
        n += (s[0] == '@' && s[1] == '.') ? k : 1;
    char *out = xmalloc(n + 1), *w = out;
    for (const char *s = tmpl; *s; s++) {
        if (s[0] == '@' && s[1] == '.') {
            memcpy(w, db->schema, k);
            w += k;
        } else {
            *w++ = *s;
        }
    }
    *w = '\0';
    return out;
}

enum load_status db_cmds(struct db *db, char *err, size_t errlen, const char *tmpl, int n,
                         const char *const *params)
{
    char *sql = db_sql(db, tmpl);
    enum load_status st = db_cmd(db, err, errlen, sql, n, params);
    free(sql);
    return st;
}

enum load_status db_query(struct db *db, PGresult **out, char *err, size_t errlen,
                          const char *tmpl, int n, const char *const *params)
{
    char *sql = db_sql(db, tmpl);
    enum load_status st = db_exec(db, out, PGRES_TUPLES_OK, err, errlen, sql, n, params);
    free(sql);
    return st;
}

enum load_status db_query_each(struct db *db, const char *tmpl, int n,
                               const char *const *params, db_row_fn *fn, void *ctx,
                               char *err, size_t errlen)
{
    char *sql = db_sql(db, tmpl);
    int sent = PQsendQueryParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
    free(sql);
    if (!sent || !PQsetSingleRowMode(db->conn)) {
        cdr_seterr(err, errlen, "%s", PQerrorMessage(db->conn));
        enum load_status st = db_classify(db, NULL);
        /* Collect whatever was sent: the connection must be idle again. */
        PGresult *res;
        while ((res = PQgetResult(db->conn)) != NULL)
            PQclear(res);
        return st;
    }
    /* Every result is read, also after a failure, so that the connection
     * is left idle; the first failure decides. */
    enum load_status st = LOAD_OK;
    PGresult *res;
    while ((res = PQgetResult(db->conn)) != NULL) {
        ExecStatusType rs = PQresultStatus(res);
        if (rs == PGRES_SINGLE_TUPLE && st == LOAD_OK)
            fn(ctx, res);
        else if (rs != PGRES_SINGLE_TUPLE && rs != PGRES_TUPLES_OK && st == LOAD_OK) {
            st = db_classify(db, res);
            cdr_seterr(err, errlen, "%s", PQresultErrorMessage(res));
        }
        PQclear(res);
    }
    return st;
}

void db_rollback(struct db *db)
{
    PQclear(PQexec(db->conn, SQL_ROLLBACK));
    /* Partitions made in the transaction are gone with it. */
    partition_cache_forget(db->parts);
}

/* The name of a prepared template, "cdr_<index>" (-1: no room, run it
 * unnamed), and whether the server has it already. */
static int prepared_index(struct db *db, const char *tmpl, bool *have)
{
    for (size_t i = 0; i < db->nprepared; i++)
        if (db->prepared[i].tmpl == tmpl) {
            *have = db->prepared[i].ready;
            return (int)i;
        }
    *have = false;
    if (db->nprepared == DB_PREPARED_MAX)
        return -1;
    db->prepared[db->nprepared].tmpl = tmpl;
    db->prepared[db->nprepared].ready = false;
    return (int)db->nprepared++;
}

/* Every result of one pipeline item up to its NULL: the first failure
 * goes into *st and err (PGRES_PIPELINE_ABORTED: a step after it). */
static PGresult *item_results(struct db *db, ExecStatusType want, bool keep,
                              enum load_status *st, char *err, size_t errlen)
{
    PGresult *res, *kept = NULL;
    while ((res = PQgetResult(db->conn)) != NULL) {
        ExecStatusType got = PQresultStatus(res);
        if (got != want && *st == LOAD_OK) {
            *st = got == PGRES_PIPELINE_ABORTED ? LOAD_ERROR : db_classify(db, res);
            const char *m = PQresultErrorMessage(res);
            cdr_seterr(err, errlen, "%s", m && *m ? m : PQerrorMessage(db->conn));
        }
        if (got == want && keep && !kept)
            kept = res;
        else
            PQclear(res);
    }
    return kept;
}

enum load_status db_pipeline_send(struct db *db, struct db_step *steps, size_t n,
                                  struct db_pipe *p, char *err, size_t errlen)
{
    PGconn *c = db->conn;
    p->n = n;
    p->sent = 0;
    p->st = LOAD_OK;
    for (size_t i = 0; i < n && i < DB_PIPELINE_MAX; i++)
        steps[i].res = NULL;
    if (n > DB_PIPELINE_MAX || PQenterPipelineMode(c) != 1) {
        cdr_seterr(err, errlen, "cannot enter pipeline mode: %s", PQerrorMessage(c));
        p->n = 0;
        return n > DB_PIPELINE_MAX ? LOAD_ERROR : db_classify(db, NULL);
    }
    for (; p->sent < n; p->sent++) {
        struct db_step *s = &steps[p->sent];
        bool have = false;
        int named = s->prepare ? prepared_index(db, s->tmpl, &have) : -1;
        p->named[p->sent] = named;
        p->parse[p->sent] = named >= 0 && !have;
        char *sql = db_sql(db, s->tmpl), name[16];
        snprintf(name, sizeof name, "cdr_%d", named);
        int ok = 1;
        if (p->parse[p->sent])
            ok = PQsendPrepare(c, name, sql, s->n, NULL);
        if (ok && named >= 0)
            ok = PQsendQueryPrepared(c, name, s->n, s->params, NULL, NULL, 0);
        else if (ok)
            ok = PQsendQueryParams(c, sql, s->n, NULL, s->params, NULL, NULL, 0);
        free(sql);
        if (!ok) {
            p->st = db_classify(db, NULL);
            cdr_seterr(err, errlen, "%s", PQerrorMessage(c));
            p->parse[p->sent] = false; /* whether it went out is unknown: prepare again */
            break;
        }
    }
    /* In blocking mode (the connection's outside a COPY) the Sync is
     * flushed with everything before it. */
    if (PQpipelineSync(c) != 1 && p->st == LOAD_OK) {
        p->st = db_classify(db, NULL);
        cdr_seterr(err, errlen, "%s", PQerrorMessage(c));
    }
    return LOAD_OK;
}

enum load_status db_pipeline_collect(struct db *db, struct db_step *steps, struct db_pipe *p,
                                     char *err, size_t errlen)
{
    PGconn *c = db->conn;
    enum load_status st = p->st;
    if (p->n == 0)
        return st; /* never entered pipeline mode: db_pipeline_send said why */
    for (size_t i = 0; i < p->sent && PQstatus(c) != CONNECTION_BAD; i++) {
        if (p->parse[i]) {
            enum load_status pst = st;
            PQclear(item_results(db, PGRES_COMMAND_OK, false, &pst, err, errlen));
            db->prepared[p->named[i]].ready = pst == LOAD_OK;
            st = pst;
        }
        steps[i].res = item_results(db, steps[i].want, steps[i].keep, &st, err, errlen);
    }
    /* Up to the Sync's own result: the connection is then idle again. */
    PGresult *res;
    while (PQstatus(c) != CONNECTION_BAD && (res = PQgetResult(c)) != NULL) {
        bool sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
        PQclear(res);
        if (sync)
            break;
    }
    if (PQexitPipelineMode(c) != 1 && st == LOAD_OK) {
        st = db_classify(db, NULL);
        cdr_seterr(err, errlen, "%s", PQerrorMessage(c));
    }
    if (st == LOAD_OK && PQstatus(c) == CONNECTION_BAD)
        st = LOAD_DB_DOWN;
    if (st != LOAD_OK)
        for (size_t i = 0; i < p->n; i++) {
            PQclear(steps[i].res);
            steps[i].res = NULL;
        }
    p->n = 0;
    return st;
}

enum load_status db_pipeline(struct db *db, struct db_step *steps, size_t n, char *err,
                             size_t errlen)
{
    struct db_pipe p;
    enum load_status st = db_pipeline_send(db, steps, n, &p, err, errlen);
    return st != LOAD_OK ? st : db_pipeline_collect(db, steps, &p, err, errlen);
}

bool db_reply_ready(struct db *db)
{
    PGconn *c = db->conn;
    return PQconsumeInput(c) != 1 || !PQisBusy(c);
}

void *db_loader(struct db *db)
{
    return db->loader;
}

void db_set_loader(struct db *db, void *loader, void (*free_fn)(void *))
{
    db->loader = loader;
    db->loader_free = free_fn;
}

PGconn *db_conn(struct db *db)
{
    return db->conn;
}

const char *db_schema(const struct db *db)
{
    return db->schema;
}

const char *db_schema_name(const struct db *db)
{
    return db->schema_name;
}

struct zone_cache *db_zones(struct db *db)
{
    return db->zones;
}

struct partition_cache *db_partitions(struct db *db)
{
    return db->parts;
}

/* ---- connection ----------------------------------------------------------- */

void db_params_build(const PQconninfoOption *opts, const char *base_dir, bool add_timeout,
                     struct db_params *p)
{
    /* Room for every option set, our two defaults and the terminator: a
     * fixed size once cut long dsns short without a word. */
    size_t cap = 3;
    for (const PQconninfoOption *o = opts; o && o->keyword; o++)
        cap += o->val != NULL;
    p->kw = xmalloc(cap * sizeof *p->kw);
    p->val = xmalloc(cap * sizeof *p->val);
    p->host = NULL;
    size_t n = 0;
    bool has_app = false, has_timeout = false;
    for (const PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->val)
            continue;
        const char *v = o->val;
        /* A relative socket folder means: relative to importer.yaml. */
        if (strcmp(o->keyword, "host") == 0 && v[0] == '.' && !p->host) {
            while (v[0] == '.' && v[1] == '/')
                v += 2;
            p->host = xasprintf("%s/%s", base_dir, v);
            v = p->host;
        }
        has_app |= strcmp(o->keyword, "application_name") == 0;
        has_timeout |= strcmp(o->keyword, "connect_timeout") == 0;
        p->kw[n] = o->keyword;
        p->val[n++] = v;
    }
    if (!has_app) {
        p->kw[n] = "application_name";
        p->val[n++] = "cdrimport";
    }
    if (!has_timeout && add_timeout) {
        p->kw[n] = "connect_timeout";
        p->val[n++] = "10";
    }
    p->kw[n] = NULL;
    p->val[n] = NULL;
    p->n = n;
}

void db_params_free(struct db_params *p)
{
    free(p->kw);
    free(p->val);
    free(p->host);
    memset(p, 0, sizeof *p);
}

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

struct db *db_connect(const struct cdr_config *cfg, char *err, size_t errlen)
{
    PQconninfoOption *opts = NULL;
    /* $CDRIMPORT_DSN stands in for database.dsn: an installed config is
     * pointed at another server (a test's, a one-off) without editing it. */
    const char *env = getenv("CDRIMPORT_DSN");
    const char *dsn = env && *env ? env : cfg->dsn;
    if (dsn) {
        char *perr = NULL;
        opts = PQconninfoParse(dsn, &perr);
        if (!opts) {
            /* perr never echoes the password. */
            cdr_seterr(err, errlen, "%s: %s", dsn == env ? "$CDRIMPORT_DSN" : "database.dsn",
                       perr ? perr : "cannot parse");
            PQfreemem(perr);
            return NULL;
        }
    }
    struct db_params params;
    db_params_build(opts, cfg->base_dir, !getenv("PGCONNECT_TIMEOUT"), &params);

    struct db *db = xcalloc(1, sizeof *db);
    db->conn = PQconnectdbParams(params.kw, params.val, 0);
    db->zones = zone_create();
    db->parts = partition_cache_create();
    db_params_free(&params);
    PQconninfoFree(opts);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        cdr_seterr(err, errlen, "cannot connect to the database: %s", PQerrorMessage(db->conn));
        db_close(db);
        return NULL;
    }
    db->schema_name = xstrdup(cfg->schema ? cfg->schema : "public");
    char *q = PQescapeIdentifier(db->conn, db->schema_name, strlen(db->schema_name));
    db->schema = xstrdup(q ? q : "\"public\"");
    PQfreemem(q);
    /* Server NOTICEs ("already exists, skipping") are not for the user. */
    PQsetNoticeProcessor(db->conn, ignore_notice, NULL);
    /* Our own COPY text is UTF-8 whatever the client locale says. */
    PQsetClientEncoding(db->conn, "UTF8");
    /* Best effort (sql.c says why): a server that cannot answer it cannot
     * answer the statements that follow either, and they say so. */
    PQclear(PQexec(db->conn, SQL_SERVER_HEAP));
    plat_widen_local_socket(PQsocket(db->conn), DB_LOCAL_SEND_BUFFER);
    return db;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    if (db->loader)
        db->loader_free(db->loader);
    PQfinish(db->conn);
    free(db->schema);
    free(db->schema_name);
    zone_destroy(db->zones);
    partition_cache_destroy(db->parts);
    free(db);
}

void db_set_cancel(struct db *db, const volatile sig_atomic_t *flag)
{
    if (db)
        db->cancel = flag;
}

bool db_cancelled(const struct db *db)
{
    return db->cancel && *db->cancel;
}
