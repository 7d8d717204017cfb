/*
 * load.c - PostgreSQL through libpq: connection, schema migrations, the
 * cdr_file ledger and the COPY of rows and rejects (see load.h for the
 * transaction and dedup design).
 *
 * All SQL lives in this file. Values travel as parameters or COPY data; the
 * schema name from the config is quoted with PQescapeIdentifier.
 */
#include "load.h"
#include "copybin.h"
#include "copytext.h"
#include "zone.h"

#include <assert.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct db {
    PGconn *conn;
    char *schema;            /* quoted identifier */
    struct zone_cache *zones; /* wall time -> instant, as this server says */
};

#define BATCH_ROWS 16384
#define BATCH_BYTES (8u << 20)
#define SEND_CHUNK (64u * 1024u) /* larger chunks measured slower (issue 4) */
#define COPY_QUEUE (1u << 20)     /* COPY data left queued in libpq at most */

/* A batch of rows as binary COPY tuples, with each row's COPY text content
 * (what its key hashes) and the rejected lines met while filling it. Two
 * of them alternate: the parser fills one while the loader thread probes
 * and copies the other, so client and server work overlap on two cores.
 * Memory: two batches, whatever the size of the file. */
struct batch {
    char *buf;             /* one binary COPY tuple per row */
    size_t len, cap;
    size_t *line_off;      /* start of each row's tuple in buf */
    char *tbuf;            /* the rows' COPY text content parts */
    size_t tlen, tcap;
    size_t *text_off;      /* start of each row's content in tbuf */
    uint32_t *content_len;
    unsigned char (*keys)[16];
    bool *skip;
    size_t nrows;
    char tmin[20], tmax[20]; /* call_time range (local, canonical) */
    char *rbuf;            /* rejects: COPY text lines for cdr_reject */
    size_t rlen, rcap;
    size_t nrejects;
};

struct load {
    struct db *db;
    char *source;
    size_t source_len;
    char *source_esc;      /* COPY-escaped source */
    size_t source_esc_len;
    char *timezone;
    struct copybin_dates dates; /* parser thread only */
    int64_t *answers;      /* the server's instants for zone questions */
    size_t answers_cap;
    long long file_id;
    char file_id_txt[24];
    bool careful;          /* a retry: probe a wider range */
    struct batch batches[2];
    int fill;              /* the batch the parser fills */
    /* open-addressing set over a batch's keys (loader thread only) */
    int32_t *slots;
    size_t nslots;
    struct checksum *ck;   /* row keys (loader thread only) */
    bool copy_pending;     /* a COPY of rows sent, its result not read yet */
    bool copy_failed;
    bool flushing;         /* COPY data queued in libpq, not all sent yet */
    size_t queued;         /* bytes queued since libpq's buffer was last empty */
    /* the loader thread: owns the connection while `busy` */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batch *work;    /* handed over, not yet done */
    bool busy, quit;
    enum load_status st;   /* first failure of the loader */
    uint64_t inserted, duplicate;
    char err[CDR_ERRLEN];
};

/* ---- small helpers -------------------------------------------------------- */

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    /* libpq messages end in a newline; a log line must not. */
    size_t n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

/* Map a failed result onto a status; a dead connection is an outage. */
static enum load_status classify(struct db *db, PGresult *res)
{
    if (PQstatus(db->conn) == CONNECTION_BAD)
        return LOAD_DB_DOWN;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strcmp(state, "23505") == 0)
        return LOAD_CONFLICT;
    if (state && (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0))
        return LOAD_DB_DOWN;
    return LOAD_ERROR;
}

/* Run a statement with text parameters; expect `want`. */
static enum load_status exec(struct db *db, PGresult **out, ExecStatusType want, char *err,
                             size_t errlen, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != want) {
        enum load_status st = classify(db, res);
        seterr(err, errlen, "%s", PQerrorMessage(db->conn));
        PQclear(res);
        return st;
    }
    if (out)
        *out = res;
    else
        PQclear(res);
    return LOAD_OK;
}

static enum load_status cmd(struct db *db, char *err, size_t errlen, const char *sql, int n,
                            const char *const *params)
{
    return exec(db, NULL, PGRES_COMMAND_OK, err, errlen, sql, n, params);
}

/* SQL with the quoted schema substituted for every "%s"-free "@." marker. */
static char *sql_for(const struct db *db, const char *tmpl)
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

static enum load_status cmds(struct db *db, char *err, size_t errlen, const char *tmpl, int n,
                             const char *const *params)
{
    char *sql = sql_for(db, tmpl);
    enum load_status st = cmd(db, err, errlen, sql, n, params);
    free(sql);
    return st;
}

static enum load_status query(struct db *db, PGresult **out, char *err, size_t errlen,
                              const char *tmpl, int n, const char *const *params)
{
    char *sql = sql_for(db, tmpl);
    enum load_status st = exec(db, out, PGRES_TUPLES_OK, err, errlen, sql, n, params);
    free(sql);
    return st;
}

/* ---- connection ----------------------------------------------------------- */

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

struct db *db_connect(const struct cdr_config *cfg, char *err, size_t errlen)
{
    const char *kw[64];
    const char *val[64];
    char *owned[4] = {0};
    size_t n = 0, nowned = 0;
    bool has_app = false, has_timeout = false;
    PQconninfoOption *opts = NULL;

    if (cfg->dsn) {
        char *perr = NULL;
        opts = PQconninfoParse(cfg->dsn, &perr);
        if (!opts) {
            /* perr never echoes the password. */
            seterr(err, errlen, "database.dsn: %s", perr ? perr : "cannot parse");
            PQfreemem(perr);
            return NULL;
        }
        for (PQconninfoOption *o = opts; o->keyword && n < 60; o++) {
            if (!o->val)
                continue;
            const char *v = o->val;
            /* A relative socket folder means: relative to importer.yaml. */
            if (strcmp(o->keyword, "host") == 0 && v[0] == '.' && nowned < 4) {
                while (v[0] == '.' && v[1] == '/')
                    v += 2;
                owned[nowned] = xasprintf("%s/%s", cfg->base_dir, v);
                v = owned[nowned++];
            }
            has_app |= strcmp(o->keyword, "application_name") == 0;
            has_timeout |= strcmp(o->keyword, "connect_timeout") == 0;
            kw[n] = o->keyword;
            val[n++] = v;
        }
    }
    if (!has_app) {
        kw[n] = "application_name";
        val[n++] = "cdrimport";
    }
    if (!has_timeout && !getenv("PGCONNECT_TIMEOUT")) {
        kw[n] = "connect_timeout";
        val[n++] = "10";
    }
    kw[n] = NULL;
    val[n] = NULL;

    struct db *db = xcalloc(1, sizeof *db);
    db->conn = PQconnectdbParams(kw, val, 0);
    db->zones = zone_create();
    PQconninfoFree(opts);
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        seterr(err, errlen, "cannot connect to the database: %s", PQerrorMessage(db->conn));
        db_close(db);
        return NULL;
    }
    char *q = PQescapeIdentifier(db->conn, cfg->schema ? cfg->schema : "public",
                                 strlen(cfg->schema ? cfg->schema : "public"));
    db->schema = xstrdup(q ? q : "\"public\"");
    PQfreemem(q);
    /* Server NOTICEs ("already exists, skipping") are not for the user. */
    PQsetNoticeProcessor(db->conn, ignore_notice, NULL);
    /* Our own COPY text is UTF-8 whatever the client locale says. */
    PQsetClientEncoding(db->conn, "UTF8");
    return db;
}

void db_close(struct db *db)
{
    if (!db)
        return;
    PQfinish(db->conn);
    free(db->schema);
    zone_destroy(db->zones);
    free(db);
}

bool db_alive(struct db *db)
{
    return db && PQstatus(db->conn) == CONNECTION_OK;
}

/* ---- schema --------------------------------------------------------------- */

/* Each migration runs once, in order, inside one transaction with its
 * version row. Never edit a shipped migration: add the next one. */
static const char *const migrations[] = {
    /* 1: the ledger, the calls and the rejects */
    "CREATE TABLE @.cdr_file ("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  source text NOT NULL,"
    "  path text NOT NULL,"
    "  sha256 text NOT NULL,"
    "  size_bytes bigint NOT NULL,"
    "  rows_read bigint NOT NULL DEFAULT 0,"
    "  rows_inserted bigint NOT NULL DEFAULT 0,"
    "  rows_duplicate bigint NOT NULL DEFAULT 0,"
    "  rows_rejected bigint NOT NULL DEFAULT 0,"
    "  rows_repaired bigint NOT NULL DEFAULT 0,"
    "  status text NOT NULL CHECK (status IN ('imported', 'duplicate', 'failed')),"
    "  error text,"
    "  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    "  finished_at timestamptz);"
    "CREATE INDEX cdr_file_checksum ON @.cdr_file (source, sha256) WHERE status = 'imported';"
    /* No foreign key from cdr to cdr_file: a per-row trigger would cost bulk
     * loads dearly, and rows only ever come with their ledger row. */
    "CREATE TABLE @.cdr ("
    "  source text NOT NULL,"
    "  call_id text,"
    "  caller_phone text,"
    "  dialed_phone text,"
    "  flag2 text,"
    "  flag3 text,"
    "  call_time timestamptz NOT NULL,"
    "  answer_time timestamptz,"
    "  end_time timestamptz,"
    "  total_duration_s integer,"
    "  call_duration_s integer,"
    "  call_duration interval GENERATED ALWAYS AS (make_interval(secs => call_duration_s)) STORED,"
    "  call_type text,"
    "  account_code text,"
    "  src_channel text,"
    "  dst_channel text,"
    "  feature text,"
    "  extra jsonb,"
    "  file_id bigint NOT NULL,"
    "  line_no bigint NOT NULL,"
    "  row_key uuid NOT NULL,"
    /* row_key hashes source, call ID and content, so this key means one row
     * per (source, call ID, content). call_time leads because files come
     * roughly in time order: inserts append to the index instead of
     * scattering over it (random uuid keys made COPY twice as slow), and
     * the dedup probe is one range scan per batch. */
    "  CONSTRAINT cdr_pkey PRIMARY KEY (call_time, row_key));"
    "COMMENT ON COLUMN @.cdr.row_key IS "
    "  'SHA-256 (first 128 bits) of source, call_id and the parsed values';"
    "CREATE TABLE @.cdr_reject ("
    "  file_id bigint NOT NULL REFERENCES @.cdr_file (id) ON DELETE CASCADE,"
    "  line_no bigint NOT NULL,"
    "  raw_line bytea NOT NULL,"
    "  reason text NOT NULL);"
    "CREATE INDEX cdr_reject_file ON @.cdr_reject (file_id, line_no);",
    /* 2: cdrimport fills call_duration itself (binary COPY): the server's
     * per-row expression cost 6% of a bulk load. Catalog-only change. */
    "ALTER TABLE @.cdr ALTER COLUMN call_duration DROP EXPRESSION;"
    "COMMENT ON COLUMN @.cdr.call_duration IS "
    "  'call_duration_s as an interval (make_interval(secs => call_duration_s))';",
};

#define NMIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

enum load_status db_migrate(struct db *db, char *err, size_t errlen)
{
    enum load_status st;
    PGresult *res = NULL;
    char *create_schema = sql_for(db, "CREATE SCHEMA IF NOT EXISTS @.x");
    /* "CREATE SCHEMA IF NOT EXISTS "s".x" -> drop the ".x" we used as marker */
    create_schema[strlen(create_schema) - 2] = '\0';

    if ((st = cmd(db, err, errlen, "BEGIN", 0, NULL)) != LOAD_OK)
        goto out;
    /* Concurrent importers starting at once: one migrates, the rest wait. */
    if ((st = exec(db, NULL, PGRES_TUPLES_OK, err, errlen,
                   "SELECT pg_advisory_xact_lock(hashtext('cdrimport schema'))", 0, NULL)) != LOAD_OK)
        goto rollback;
    if ((st = cmd(db, err, errlen, create_schema, 0, NULL)) != LOAD_OK)
        goto rollback;
    if ((st = cmds(db, err, errlen,
                   "CREATE TABLE IF NOT EXISTS @.cdr_schema ("
                   " version integer PRIMARY KEY,"
                   " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL)) != LOAD_OK)
        goto rollback;
    if ((st = query(db, &res, err, errlen, "SELECT coalesce(max(version), 0) FROM @.cdr_schema",
                    0, NULL)) != LOAD_OK)
        goto rollback;
    int have = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    if (have > NMIGRATIONS) {
        seterr(err, errlen, "database schema version %d is newer than this cdrimport (%d)", have,
               NMIGRATIONS);
        st = LOAD_ERROR;
        goto rollback;
    }
    for (int v = have + 1; v <= NMIGRATIONS; v++) {
        char ver[16];
        snprintf(ver, sizeof ver, "%d", v);
        const char *params[1] = {ver};
        /* Multi-statement text goes through the simple protocol. */
        char *sql = sql_for(db, migrations[v - 1]);
        PGresult *r = PQexec(db->conn, sql);
        free(sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            st = classify(db, r);
            seterr(err, errlen, "schema migration %d: %s", v, PQerrorMessage(db->conn));
            PQclear(r);
            goto rollback;
        }
        PQclear(r);
        if ((st = cmds(db, err, errlen, "INSERT INTO @.cdr_schema (version) VALUES ($1)", 1,
                       params)) != LOAD_OK)
            goto rollback;
    }
    st = cmd(db, err, errlen, "COMMIT", 0, NULL);
    goto out;
rollback:
    PQclear(PQexec(db->conn, "ROLLBACK"));
out:
    free(create_schema);
    return st;
}

void db_describe(struct db *db, char *out, size_t outlen)
{
    int v = PQserverVersion(db->conn);
    char err[CDR_ERRLEN];
    PGresult *res = NULL;
    int schema = 0;
    if (query(db, &res, err, sizeof err, "SELECT coalesce(max(version), 0) FROM @.cdr_schema", 0,
              NULL) == LOAD_OK) {
        schema = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    snprintf(out, outlen, "PostgreSQL %d.%d, database %s, schema %s version %d", v / 10000,
             v % 10000, PQdb(db->conn), db->schema, schema);
}

enum load_status db_print_status(struct db *db, int limit, char *err, size_t errlen)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[1] = {lim};
    PGresult *res = NULL;
    enum load_status st = query(db, &res, err, errlen,
        "SELECT id, source, status, rows_read, rows_inserted, rows_duplicate, rows_rejected,"
        " rows_repaired, left(sha256, 12),"
        " to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"'),"
        " path, coalesce(error, '')"
        " FROM @.cdr_file ORDER BY id DESC LIMIT $1::int", 1, params);
    if (st != LOAD_OK)
        return st;
    printf("%6s  %-12s %-9s %9s %9s %9s %8s %8s  %-12s %-20s %s\n", "id", "source", "status",
           "read", "new", "dup", "rejected", "repaired", "sha256", "finished", "path");
    for (int i = PQntuples(res) - 1; i >= 0; i--) {
        printf("%6s  %-12s %-9s %9s %9s %9s %8s %8s  %-12s %-20s %s", PQgetvalue(res, i, 0),
               PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
               PQgetvalue(res, i, 4), PQgetvalue(res, i, 5), PQgetvalue(res, i, 6),
               PQgetvalue(res, i, 7), PQgetvalue(res, i, 8), PQgetvalue(res, i, 9),
               PQgetvalue(res, i, 10));
        if (*PQgetvalue(res, i, 11))
            printf("  (%s)", PQgetvalue(res, i, 11));
        putchar('\n');
    }
    PQclear(res);
    return LOAD_OK;
}

enum load_status db_file_known(struct db *db, const char *source, const char *sha256,
                               bool *known, char *err, size_t errlen)
{
    const char *params[2] = {source, sha256};
    PGresult *res = NULL;
    enum load_status st = query(db, &res, err, errlen,
        "SELECT 1 FROM @.cdr_file WHERE source = $1 AND sha256 = $2 AND status = 'imported'"
        " LIMIT 1", 2, params);
    if (st != LOAD_OK)
        return st;
    *known = PQntuples(res) > 0;
    PQclear(res);
    return LOAD_OK;
}

enum load_status db_record_file(struct db *db, const char *source, const char *path,
                                const char *sha256, uint64_t size, const char *status,
                                const char *error, char *err, size_t errlen)
{
    char sz[24];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    const char *params[6] = {source, path, sha256, sz, status, error};
    return cmds(db, err, errlen,
        "INSERT INTO @.cdr_file (source, path, sha256, size_bytes, status, error, finished_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, clock_timestamp())", 6, params);
}

/* ---- COPY text ------------------------------------------------------------ */

static void lreserve(char **buf, size_t *cap, size_t len, size_t more)
{
    if (len + more <= *cap)
        return;
    size_t c = *cap ? *cap : 65536;
    while (c < len + more)
        c *= 2;
    *buf = xrealloc(*buf, c);
    *cap = c;
}

/* ---- the file's transaction ---------------------------------------------- */

static void *loader_main(void *arg);

static void batch_init(struct batch *b)
{
    b->line_off = xmalloc(BATCH_ROWS * sizeof *b->line_off);
    b->text_off = xmalloc(BATCH_ROWS * sizeof *b->text_off);
    b->content_len = xmalloc(BATCH_ROWS * sizeof *b->content_len);
    b->keys = xmalloc(BATCH_ROWS * sizeof *b->keys);
    b->skip = xmalloc(BATCH_ROWS * sizeof *b->skip);
}

static void batch_free(struct batch *b)
{
    free(b->buf);
    free(b->line_off);
    free(b->text_off);
    free(b->tbuf);
    free(b->content_len);
    free(b->keys);
    free(b->skip);
    free(b->rbuf);
}

enum load_status load_begin(struct db *db, const char *source, const char *timezone,
                            const char *path, const char *sha256, uint64_t size, bool careful,
                            struct load **out, char *err, size_t errlen)
{
    enum load_status st;
    PGresult *res = NULL;
    *out = NULL;
    if ((st = cmd(db, err, errlen, "BEGIN", 0, NULL)) != LOAD_OK)
        return st;
    /* Times in the file are wall-clock times of the PBX: the server reads
     * them in the source's zone (SET LOCAL: this transaction only). */
    const char *tzp[1] = {timezone};
    if ((st = exec(db, NULL, PGRES_TUPLES_OK, err, errlen,
                   "SELECT set_config('TimeZone', $1, true)", 1, tzp)) != LOAD_OK)
        goto fail;
    char sz[24];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    const char *params[4] = {source, path, sha256, sz};
    if ((st = query(db, &res, err, errlen,
                    "INSERT INTO @.cdr_file (source, path, sha256, size_bytes, status)"
                    " VALUES ($1, $2, $3, $4, 'imported') RETURNING id", 4, params)) != LOAD_OK)
        goto fail;

    struct load *ld = xcalloc(1, sizeof *ld);
    ld->db = db;
    ld->careful = careful;
    ld->file_id = atoll(PQgetvalue(res, 0, 0));
    PQclear(res);
    snprintf(ld->file_id_txt, sizeof ld->file_id_txt, "%lld", ld->file_id);
    ld->source = xstrdup(source);
    ld->source_len = strlen(source);
    ld->timezone = xstrdup(timezone);
    ld->source_esc = xmalloc(strlen(source) * 2 + 1);
    ld->source_esc_len = copytext_escape(ld->source_esc, source, strlen(source));
    batch_init(&ld->batches[0]);
    batch_init(&ld->batches[1]);
    ld->nslots = BATCH_ROWS * 2;
    ld->slots = xmalloc(ld->nslots * sizeof *ld->slots);
    ld->ck = checksum_create();
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv, NULL);
    if (pthread_create(&ld->thread, NULL, loader_main, ld) != 0) {
        fprintf(stderr, "cdrimport: cannot start a thread\n");
        abort();
    }
    ld->thread_started = true;
    *out = ld;
    return LOAD_OK;
fail:
    PQclear(PQexec(db->conn, "ROLLBACK"));
    return st;
}

const char *load_error(const struct load *ld)
{
    return ld ? ld->err : "";
}

/* Send queued COPY data: what the socket takes now, or (block) all of it,
 * then back to blocking mode. */
static int flush_some(PGconn *c, bool block)
{
    int r;
    while ((r = PQflush(c)) == 1 && block) {
        struct pollfd p = {.fd = PQsocket(c), .events = POLLOUT};
        poll(&p, 1, 1000);
    }
    return r;
}

static void copy_pump(struct load *ld, bool block)
{
    if (!ld->flushing)
        return;
    PGconn *c = ld->db->conn;
    int r = flush_some(c, block);
    if (r == 1)
        return;
    ld->queued = 0;
    if (r < 0) {
        seterr(ld->err, sizeof ld->err, "COPY: %s", PQerrorMessage(c));
        ld->copy_failed = true;
    }
    ld->flushing = false;
    PQsetnonblocking(c, 0);
}

/* Start a COPY. Its data is queued without blocking (copy_put, then
 * copy_end), and copy_pump sends what the socket takes while this thread
 * works on the next batch; copy_wait sends the rest and collects the
 * result. */
static enum load_status copy_open(struct load *ld, const char *sql)
{
    PGconn *c = ld->db->conn;
    char *q = sql_for(ld->db, sql);
    PGresult *res = PQexec(c, q);
    free(q);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        enum load_status st = classify(ld->db, res);
        seterr(ld->err, sizeof ld->err, "%s", PQerrorMessage(c));
        PQclear(res);
        return st;
    }
    PQclear(res);
    ld->copy_pending = true;
    PQsetnonblocking(c, 1);
    ld->flushing = true;
    return LOAD_OK;
}

/* Queue data in messages of SEND_CHUNK bytes. A failure shows in copy_wait. */
static void copy_put(struct load *ld, const char *data, size_t len)
{
    PGconn *c = ld->db->conn;
    for (size_t off = 0; off < len && !ld->copy_failed; off += SEND_CHUNK) {
        size_t n = len - off < SEND_CHUNK ? len - off : SEND_CHUNK;
        if (PQputCopyData(c, data + off, (int)n) != 1) {
            seterr(ld->err, sizeof ld->err, "COPY: %s", PQerrorMessage(c));
            ld->copy_failed = true;
        }
        /* Bound what libpq holds: wait until the server has taken the
         * rest before queueing more (COPY_QUEUE bytes cover the time the
         * next batch takes to prepare). */
        ld->queued += n;
        if (ld->queued >= COPY_QUEUE && !ld->copy_failed) {
            if (flush_some(c, true) < 0) {
                seterr(ld->err, sizeof ld->err, "COPY: %s", PQerrorMessage(c));
                ld->copy_failed = true;
            }
            ld->queued = 0;
        }
    }
}

static void copy_end(struct load *ld)
{
    PGconn *c = ld->db->conn;
    if (PQputCopyEnd(c, ld->copy_failed ? "cdrimport: send failed" : NULL) != 1 &&
        !ld->copy_failed) {
        seterr(ld->err, sizeof ld->err, "COPY end: %s", PQerrorMessage(c));
        ld->copy_failed = true;
    }
    copy_pump(ld, false);
}

/* Wait for the COPY in flight, if any: whether its rows went in. */
static enum load_status copy_wait(struct load *ld)
{
    if (!ld->copy_pending)
        return LOAD_OK;
    copy_pump(ld, true);
    PGconn *c = ld->db->conn;
    enum load_status st = ld->copy_failed ? LOAD_DB_DOWN : LOAD_OK;
    PGresult *res;
    /* Drain every result; the COPY's own tells whether the rows went in. */
    while ((res = PQgetResult(c)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && st == LOAD_OK) {
            st = classify(ld->db, res);
            seterr(ld->err, sizeof ld->err, "%s", PQerrorMessage(c));
        }
        PQclear(res);
        if (PQstatus(c) == CONNECTION_BAD)
            break;
    }
    if (st == LOAD_OK && PQstatus(c) == CONNECTION_BAD)
        st = LOAD_DB_DOWN;
    ld->copy_pending = false;
    ld->copy_failed = false;
    return st;
}

/* A whole COPY, waited for. */
static enum load_status copy_send(struct load *ld, const char *sql, const char *data, size_t len)
{
    enum load_status st = copy_open(ld, sql);
    if (st != LOAD_OK)
        return st;
    copy_put(ld, data, len);
    copy_end(ld);
    return copy_wait(ld);
}

static uint32_t key_hash(const unsigned char k[16])
{
    uint32_t h;
    memcpy(&h, k, sizeof h); /* already uniformly distributed */
    return h;
}

/* Mark rows whose key appeared earlier in the same batch. */
static size_t dedup_batch(struct load *ld, struct batch *b)
{
    size_t dups = 0;
    memset(ld->slots, 0xff, ld->nslots * sizeof *ld->slots);
    size_t mask = ld->nslots - 1;
    for (size_t i = 0; i < b->nrows; i++) {
        size_t s = key_hash(b->keys[i]) & mask;
        b->skip[i] = false;
        while (ld->slots[s] >= 0) {
            if (memcmp(b->keys[ld->slots[s]], b->keys[i], 16) == 0) {
                b->skip[i] = true;
                dups++;
                break;
            }
            s = (s + 1) & mask;
        }
        if (!b->skip[i])
            ld->slots[s] = (int32_t)i;
    }
    return dups;
}

static int32_t batch_find(const struct load *ld, const struct batch *b, const unsigned char k[16])
{
    size_t mask = ld->nslots - 1;
    size_t s = key_hash(k) & mask;
    while (ld->slots[s] >= 0) {
        if (memcmp(b->keys[ld->slots[s]], k, 16) == 0)
            return ld->slots[s];
        s = (s + 1) & mask;
    }
    return -1;
}

/* Ask the server which of the batch's keys it already holds: every key
 * stored in the batch's call_time range (one index range scan), matched
 * against the batch here. Local times convert to instants monotonically
 * except around a clock change, so the first attempt uses the exact range
 * and a retry (after a unique violation) widens it by a day each side. */
static enum load_status probe(struct load *ld, struct batch *b)
{
    const char *params[3] = {b->tmin, b->tmax, ld->careful ? "1 day" : "0"};
    char *sql = sql_for(ld->db,
        "SELECT row_key FROM @.cdr WHERE call_time BETWEEN $1::timestamptz - $3::interval"
        " AND $2::timestamptz + $3::interval");
    /* Binary results: 16 bytes a key instead of 36 characters. */
    PGresult *res = PQexecParams(ld->db->conn, sql, 3, NULL, params, NULL, NULL, 1);
    free(sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        enum load_status st = classify(ld->db, res);
        seterr(ld->err, sizeof ld->err, "%s", PQerrorMessage(ld->db->conn));
        PQclear(res);
        return st;
    }
    for (int r = 0; r < PQntuples(res); r++) {
        if (PQgetlength(res, r, 0) != 16)
            continue;
        int32_t i = batch_find(ld, b, (const unsigned char *)PQgetvalue(res, r, 0));
        if (i >= 0 && !b->skip[i]) {
            b->skip[i] = true;
            ld->duplicate++;
        }
    }
    PQclear(res);
    return LOAD_OK;
}

/* The time fields of a tuple (call_time, answer_time, end_time come
 * first, each NULL or 8 bytes): fn gets each one's value in place. */
static char *tuple_times(char *t, void (*fn)(struct zone_cache *, char *), struct zone_cache *zc)
{
    char *p = t + 2; /* after the field count */
    for (int k = 0; k < 3; k++) {
        int32_t len = copybin_get_i32(p);
        p += 4;
        if (len == 8) {
            fn(zc, p);
            p += 8;
        }
    }
    return p; /* the row_key field */
}

static void need_time(struct zone_cache *zc, char *p)
{
    zone_need(zc, copybin_get_i64(p));
}

/* Local seconds in, PostgreSQL's timestamptz (microseconds since 2000,
 * UTC) out. */
static void convert_time(struct zone_cache *zc, char *p)
{
    int64_t utc = zone_to_utc(zc, copybin_get_i64(p));
    copybin_i64(p, (utc - COPYBIN_PG_EPOCH) * 1000000);
}

/* Ask the server for the instants of wall times, in this transaction's
 * TimeZone: the conversion text COPY would have made. */
static enum load_status zone_ask(struct load *ld, const int64_t *locals, size_t n)
{
    char *arr = xmalloc(n * 22 + 3), *w = arr;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        *w++ = '"';
        copybin_format_local(locals[i], w);
        w += 19;
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    const char *params[1] = {arr};
    PGresult *res = NULL;
    enum load_status st = exec(ld->db, &res, PGRES_TUPLES_OK, ld->err, sizeof ld->err,
        "SELECT extract(epoch FROM x::timestamptz)::int8"
        " FROM unnest($1::timestamp[]) WITH ORDINALITY AS u(x, n) ORDER BY n", 1, params);
    free(arr);
    if (st != LOAD_OK)
        return st;
    if ((size_t)PQntuples(res) != n) {
        seterr(ld->err, sizeof ld->err, "time zone conversion: %d answers to %zu questions",
               PQntuples(res), n);
        PQclear(res);
        return LOAD_ERROR;
    }
    if (ld->answers_cap < n) {
        ld->answers_cap = n;
        ld->answers = xrealloc(ld->answers, n * sizeof *ld->answers);
    }
    for (size_t i = 0; i < n; i++)
        ld->answers[i] = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
    PQclear(res);
    return LOAD_OK;
}

/* Collect the zone questions of a batch's times. */
static void zone_needs(struct load *ld, struct batch *b)
{
    for (size_t i = 0; i < b->nrows; i++) {
        if (!b->skip[i])
            tuple_times(b->buf + b->line_off[i], need_time, ld->db->zones);
        if (i % 1024 == 1023)
            copy_pump(ld, false);
    }
}

/* Answer the open zone questions through the server: at most two round
 * trips (hours, then the seconds of hours with a clock change). */
static enum load_status zone_resolve(struct load *ld, struct batch *b)
{
    struct zone_cache *zc = ld->db->zones;
    const int64_t *q;
    size_t n;
    while ((n = zone_questions(zc, &q)) != 0) {
        enum load_status st = zone_ask(ld, q, n);
        if (st != LOAD_OK)
            return st;
        if (zone_answer(zc, ld->answers))
            zone_needs(ld, b);
    }
    return LOAD_OK;
}

/* Fill in the instants and the keys of the batch's tuples. */
static void finish_tuples(struct load *ld, struct batch *b)
{
    for (size_t i = 0; i < b->nrows; i++) {
        if (!b->skip[i]) {
            char *key = tuple_times(b->buf + b->line_off[i], convert_time, ld->db->zones);
            memcpy(key + 4, b->keys[i], 16);
        }
        if (i % 1024 == 1023)
            copy_pump(ld, false);
    }
}

/* Loader thread: key, probe and COPY one batch, then its rejects. The
 * rows' COPY is left in flight: while the server works through it
 * (copy_pump keeps feeding it), this thread prepares the next batch as far
 * as it can without the connection: keys, duplicates within the batch,
 * instants. Only the probe (and, when a batch meets new hours, the zone
 * questions) waits for the previous COPY to end. */
static enum load_status load_batch(struct load *ld, struct batch *b)
{
    enum load_status st;
    if (b->nrows) {
        for (size_t i = 0; i < b->nrows; i++) {
            copytext_key(ld->ck, b->tbuf + b->text_off[i], b->content_len[i], b->keys[i]);
            if (i % 256 == 255)
                copy_pump(ld, false);
        }
        ld->duplicate += dedup_batch(ld, b);
        zone_begin(ld->db->zones, ld->timezone);
        zone_needs(ld, b);
        const int64_t *q;
        bool known = zone_questions(ld->db->zones, &q) == 0;
        if (known)
            finish_tuples(ld, b);
        /* The previous batch's rows must be in before the probe looks. */
        if ((st = copy_wait(ld)) != LOAD_OK)
            return st;
        if (!known) {
            if ((st = zone_resolve(ld, b)) != LOAD_OK)
                return st;
            finish_tuples(ld, b);
        }
        if ((st = probe(ld, b)) != LOAD_OK)
            return st;
        size_t kept = b->nrows;
        for (size_t i = 0; i < b->nrows; i++)
            kept -= b->skip[i];
        if (kept) {
            /* Send the kept tuples as runs, straight from the batch. */
            st = copy_open(ld,
                "COPY @.cdr (call_time, answer_time, end_time, row_key, file_id, line_no,"
                " total_duration_s, call_duration_s, call_duration, source, call_id,"
                " caller_phone, dialed_phone, flag2, flag3, call_type, account_code,"
                " src_channel, dst_channel, feature, extra) FROM STDIN (FORMAT binary)");
            if (st != LOAD_OK)
                return st;
            copy_put(ld, copybin_header, COPYBIN_HEADER_LEN);
            for (size_t i = 0; i < b->nrows;) {
                if (b->skip[i]) {
                    i++;
                    continue;
                }
                size_t j = i;
                while (j < b->nrows && !b->skip[j])
                    j++;
                size_t end = j < b->nrows ? b->line_off[j] : b->len;
                copy_put(ld, b->buf + b->line_off[i], end - b->line_off[i]);
                i = j;
            }
            copy_put(ld, copybin_trailer, COPYBIN_TRAILER_LEN);
            copy_end(ld);
            ld->inserted += kept;
        }
    }
    if (b->nrejects) {
        if ((st = copy_wait(ld)) != LOAD_OK)
            return st;
        st = copy_send(ld, "COPY @.cdr_reject (file_id, line_no, raw_line, reason) FROM STDIN",
                       b->rbuf, b->rlen);
        if (st != LOAD_OK)
            return st;
    }
    return LOAD_OK;
}

static void *loader_main(void *arg)
{
    struct load *ld = arg;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        while (!ld->work && !ld->quit)
            pthread_cond_wait(&ld->cv, &ld->mu);
        if (!ld->work)
            break; /* quit */
        struct batch *b = ld->work;
        bool skip = ld->st != LOAD_OK; /* after a failure: just drop batches */
        pthread_mutex_unlock(&ld->mu);
        enum load_status st = skip ? LOAD_OK : load_batch(ld, b);
        pthread_mutex_lock(&ld->mu);
        if (st != LOAD_OK && ld->st == LOAD_OK)
            ld->st = st;
        b->nrows = b->len = b->tlen = 0;
        b->nrejects = b->rlen = 0;
        ld->work = NULL;
        ld->busy = false;
        pthread_cond_broadcast(&ld->cv);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

/* Wait until the loader has finished its batch; its status. */
static enum load_status wait_idle(struct load *ld)
{
    pthread_mutex_lock(&ld->mu);
    while (ld->busy)
        pthread_cond_wait(&ld->cv, &ld->mu);
    enum load_status st = ld->st;
    pthread_mutex_unlock(&ld->mu);
    return st;
}

/* Hand the batch being filled to the loader, and fill the other one. */
static enum load_status submit(struct load *ld)
{
    enum load_status st = wait_idle(ld);
    if (st != LOAD_OK)
        return st;
    struct batch *b = &ld->batches[ld->fill];
    if (!b->nrows && !b->nrejects)
        return LOAD_OK;
    pthread_mutex_lock(&ld->mu);
    ld->work = b;
    ld->busy = true;
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    ld->fill ^= 1;
    return LOAD_OK;
}

/* The text columns of a tuple after source, in COPY order (load_batch). */
static const enum cdr_field tuple_text[] = {
    CDR_F_CALL_ID, CDR_F_CALLER_PHONE, CDR_F_DIALED_PHONE, CDR_F_FLAG2, CDR_F_FLAG3,
    CDR_F_CALL_TYPE, CDR_F_ACCOUNT_CODE, CDR_F_SRC_CHANNEL, CDR_F_DST_CHANNEL, CDR_F_FEATURE,
};
#define TUPLE_FIELDS 21
/* Bytes of a tuple besides its text values and extra: field count, three
 * times, key, file_id, line_no, two int4s, an interval, 12 length words,
 * jsonb's version byte. */
#define TUPLE_FIXED (2 + 3 * 12 + 20 + 2 * 12 + 2 * 8 + 20 + 12 * 4 + 1)

enum load_status load_row(struct load *ld, const struct cdr_row *row, uint64_t line_no)
{
    struct batch *b = &ld->batches[ld->fill];
    size_t i = b->nrows;

    /* The row's COPY text content: what its key hashes (copytext.h). */
    lreserve(&b->tbuf, &b->tcap, b->tlen, copytext_content_max(ld->source_esc_len, row));
    b->text_off[i] = b->tlen;
    b->content_len[i] = (uint32_t)copytext_content(b->tbuf + b->tlen, ld->source_esc,
                                                   ld->source_esc_len, row);
    b->tlen += b->content_len[i];
    /* Canonical "YYYY-MM-DD HH:MM:SS" compares as text in time order. */
    const char *t = row->val[CDR_F_CALL_TIME];
    if (i == 0 || memcmp(t, b->tmin, 19) < 0)
        memcpy(b->tmin, t, 19);
    if (i == 0 || memcmp(t, b->tmax, 19) > 0)
        memcpy(b->tmax, t, 19);

    /* The tuple that is sent. Times go as local seconds and the key as
     * zeros: the loader thread fills both in (load_batch). */
    size_t need = TUPLE_FIXED + ld->source_len + row->extra_len;
    for (size_t k = 0; k < sizeof tuple_text / sizeof tuple_text[0]; k++)
        need += row->len[tuple_text[k]];
    lreserve(&b->buf, &b->cap, b->len, need);
    b->line_off[i] = b->len;
    char *w = copybin_i16(b->buf + b->len, TUPLE_FIELDS);
    for (int f = CDR_F_CALL_TIME; f <= CDR_F_END_TIME; f++) {
        if (row->val[f]) {
            w = copybin_i32(w, 8);
            w = copybin_i64(w, copybin_local_seconds(&ld->dates, row->val[f]));
        } else {
            w = copybin_null(w);
        }
    }
    w = copybin_i32(w, 16);
    memset(w, 0, 16);
    w += 16;
    w = copybin_i32(w, 8);
    w = copybin_i64(w, ld->file_id);
    w = copybin_i32(w, 8);
    w = copybin_i64(w, (int64_t)line_no);
    int32_t secs;
    if (row->val[CDR_F_TOTAL_DURATION])
        w = copybin_int4_text(w, row->val[CDR_F_TOTAL_DURATION], row->len[CDR_F_TOTAL_DURATION],
                              &secs);
    else
        w = copybin_null(w);
    /* call_duration is derived from call_duration_s here, as
     * make_interval(secs => call_duration_s) would. */
    if (row->val[CDR_F_CALL_DURATION]) {
        w = copybin_int4_text(w, row->val[CDR_F_CALL_DURATION], row->len[CDR_F_CALL_DURATION],
                              &secs);
        w = copybin_interval_secs(w, secs);
    } else {
        w = copybin_null(w);
        w = copybin_null(w);
    }
    w = copybin_bytes(w, ld->source, ld->source_len);
    for (size_t k = 0; k < sizeof tuple_text / sizeof tuple_text[0]; k++) {
        enum cdr_field f = tuple_text[k];
        w = row->val[f] ? copybin_bytes(w, row->val[f], row->len[f]) : copybin_null(w);
    }
    w = row->extra_json ? copybin_jsonb(w, row->extra_json, row->extra_len) : copybin_null(w);
    assert((size_t)(w - (b->buf + b->line_off[i])) <= need); /* TUPLE_FIXED is right */
    b->len = (size_t)(w - b->buf);
    b->nrows++;
    if (b->nrows == BATCH_ROWS || b->len + b->tlen >= BATCH_BYTES || b->rlen >= BATCH_BYTES)
        return submit(ld);
    return LOAD_OK;
}

enum load_status load_reject(struct load *ld, uint64_t line_no, const char *raw, size_t len,
                             const char *reason)
{
    static const char hex[] = "0123456789abcdef";
    struct batch *b = &ld->batches[ld->fill];
    size_t rl = strlen(reason);
    lreserve(&b->rbuf, &b->rcap, b->rlen, 2 * len + 2 * rl + 64);
    char *w = b->rbuf + b->rlen;
    w += sprintf(w, "%s\t%llu\t\\\\x", ld->file_id_txt, (unsigned long long)line_no);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)raw[i];
        *w++ = hex[c >> 4];
        *w++ = hex[c & 15];
    }
    *w++ = '\t';
    w += copytext_escape(w, reason, rl);
    *w++ = '\n';
    b->rlen = (size_t)(w - b->rbuf);
    b->nrejects++;
    if (b->rlen >= BATCH_BYTES)
        return submit(ld);
    return LOAD_OK;
}

enum load_status load_commit(struct load *ld, const char *status, const char *error,
                             struct load_stats *stats)
{
    enum load_status st = submit(ld);
    if (st == LOAD_OK)
        st = wait_idle(ld);
    /* The loader is idle: the connection is ours again. */
    if (st == LOAD_OK)
        st = copy_wait(ld);
    if (st != LOAD_OK)
        return st;
    stats->rows_inserted = ld->inserted;
    stats->rows_duplicate = ld->duplicate;
    char v[6][24];
    snprintf(v[0], 24, "%llu", (unsigned long long)stats->rows_read);
    snprintf(v[1], 24, "%llu", (unsigned long long)stats->rows_inserted);
    snprintf(v[2], 24, "%llu", (unsigned long long)stats->rows_duplicate);
    snprintf(v[3], 24, "%llu", (unsigned long long)stats->rows_rejected);
    snprintf(v[4], 24, "%llu", (unsigned long long)stats->rows_repaired);
    const char *params[8] = {ld->file_id_txt, v[0], v[1], v[2], v[3], v[4], status, error};
    st = cmds(ld->db, ld->err, sizeof ld->err,
        "UPDATE @.cdr_file SET rows_read = $2, rows_inserted = $3, rows_duplicate = $4,"
        " rows_rejected = $5, rows_repaired = $6, status = $7, error = $8,"
        " finished_at = clock_timestamp() WHERE id = $1", 8, params);
    if (st != LOAD_OK)
        return st;
    return cmd(ld->db, ld->err, sizeof ld->err, "COMMIT", 0, NULL);
}

void load_close(struct load *ld)
{
    if (!ld)
        return;
    if (ld->thread_started) {
        wait_idle(ld);
        pthread_mutex_lock(&ld->mu);
        ld->quit = true;
        pthread_cond_broadcast(&ld->cv);
        pthread_mutex_unlock(&ld->mu);
        pthread_join(ld->thread, NULL);
        pthread_mutex_destroy(&ld->mu);
        pthread_cond_destroy(&ld->cv);
    }
    copy_wait(ld);
    if (PQstatus(ld->db->conn) == CONNECTION_OK &&
        PQtransactionStatus(ld->db->conn) != PQTRANS_IDLE)
        PQclear(PQexec(ld->db->conn, "ROLLBACK"));
    free(ld->source);
    free(ld->source_esc);
    free(ld->timezone);
    free(ld->answers);
    batch_free(&ld->batches[0]);
    batch_free(&ld->batches[1]);
    free(ld->slots);
    checksum_destroy(ld->ck);
    free(ld);
}
