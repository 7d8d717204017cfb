/*
 * ledger.c - the cdr_file and cdr_reject rows (see ledger.h). Runs its
 * statements through db.c; the SQL is in sql.c.
 */
#include "ledger.h"
#include "copytext.h"
#include "sql.h"
#include "log.h"
#include "plat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* path as text for the path column, and its bytes as a bytea literal for
 * path_raw when the text is not the name itself (NULL otherwise). The same
 * for member and member_raw; a NULL name gives two NULLs. */
static void path_params(const char *path, char **text, char **raw)
{
    if (!path) {
        *text = *raw = NULL;
        return;
    }
    size_t n = strlen(path);
    *text = cdr_escape(path, n);
    *raw = NULL;
    if (strcmp(*text, path) != 0) {
        *raw = xmalloc(2 * n + 3);
        memcpy(*raw, "\\x", 2);
        cdr_hex((const unsigned char *)path, n, *raw + 2);
    }
}

/* An error message for a text column (NULL stays NULL). */
static char *text_param(const char *s)
{
    return s ? cdr_escape(s, strlen(s)) : NULL;
}

/* Whether the query (source $1, value $2) finds a row. */
static enum load_status any_row(struct db *db, const char *tmpl, const char *source,
                                const char *value, bool *found, char *err, size_t errlen)
{
    const char *params[2] = {source, value};
    PGresult *res = NULL;
    enum load_status st = db_query(db, &res, err, errlen, tmpl, 2, params);
    if (st != LOAD_OK)
        return st;
    *found = PQntuples(res) > 0;
    PQclear(res);
    return LOAD_OK;
}

enum load_status ledger_size_known(struct db *db, const char *source, uint64_t size,
                                   bool *known, char *err, size_t errlen)
{
    char sz[24];
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    return any_row(db, SQL_FILE_SIZE_KNOWN, source, sz, known, err, errlen);
}

enum load_status ledger_file_known(struct db *db, const char *source, const char *sha256,
                                   bool *known, char *err, size_t errlen)
{
    return any_row(db, SQL_FILE_KNOWN, source, sha256, known, err, errlen);
}

enum load_status ledger_record_file(struct db *db, const char *source, const char *path,
                                    const char *member, const char *sha256, uint64_t size,
                                    const char *status, const char *error, char *err,
                                    size_t errlen)
{
    char sz[24], *text, *raw, *mtext, *mraw, *why = text_param(error);
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    path_params(path, &text, &raw);
    path_params(member, &mtext, &mraw);
    const char *params[9] = {source, text, raw, mtext, mraw, sha256, sz, status, why};
    enum load_status st = db_cmds(db, err, errlen, SQL_FILE_RECORD, 9, params);
    free(text);
    free(raw);
    free(mtext);
    free(mraw);
    free(why);
    return st;
}

enum load_status ledger_print_status(struct db *db, int limit, char *err, size_t errlen)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", limit);
    const char *params[1] = {lim};
    PGresult *res = NULL;
    enum load_status st = db_query(db, &res, err, errlen, SQL_FILE_STATUS, 1, params);
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

enum load_status ledger_begin_send(struct db *db, const char *source, const char *timezone,
                                   const char *path, const char *member, const char *format,
                                   const char *sha256, uint64_t size, bool retry, bool ask,
                                   const struct db_step *also, struct ledger_begin *lb,
                                   char *err, size_t errlen)
{
    char sz[24], *text, *raw, *mtext, *mraw;
    snprintf(sz, sizeof sz, "%llu", (unsigned long long)size);
    path_params(path, &text, &raw);
    path_params(member, &mtext, &mraw);
    const char *params[9] = {source, text, raw, mtext, mraw, sha256, sz, format,
                             ask ? "false" : "true"};
    const char *tzp[1] = {timezone}, *srcp[1] = {source};
    /* The lock before the ledger row: a retry's known-checksum question
     * sees what the importers it waited for committed. */
    struct db_step steps[LEDGER_BEGIN_STEPS] = {
        {.tmpl = SQL_BEGIN, .want = PGRES_COMMAND_OK},
        {.tmpl = SQL_SET_TIMEZONE, .n = 1, .params = tzp, .want = PGRES_TUPLES_OK, .prepare = true},
        {.tmpl = retry ? SQL_IMPORT_LOCK : SQL_IMPORT_LOCK_SHARED, .n = 1, .params = srcp,
         .want = PGRES_TUPLES_OK, .prepare = true, .keep = true},
        {.tmpl = SQL_FILE_BEGIN, .n = 9, .params = params, .want = PGRES_TUPLES_OK,
         .prepare = true, .keep = true},
    };
    lb->n = 4;
    if (also)
        steps[lb->n++] = *also;
    lb->ask = ask;
    lb->path = path;
    memcpy(lb->steps, steps, sizeof steps);
    /* The parameters are copied into libpq's buffer as they are sent. */
    enum load_status st = db_pipeline_send(db, lb->steps, lb->n, &lb->pipe, err, errlen);
    for (size_t i = 0; i < lb->n; i++)
        lb->steps[i].params = NULL;
    free(text);
    free(raw);
    free(mtext);
    free(mraw);
    if (st != LOAD_OK)
        db_rollback(db);
    return st;
}

enum load_status ledger_begin_collect(struct db *db, struct ledger_begin *lb, bool *locked,
                                      bool *known, struct db_step *also, long long *file_id,
                                      char *err, size_t errlen)
{
    struct db_step *steps = lb->steps;
    *file_id = 0;
    *locked = false;
    enum load_status st = db_pipeline_collect(db, steps, &lb->pipe, err, errlen);
    if (st != LOAD_OK) {
        db_rollback(db);
        return st;
    }
    if (also)
        *also = steps[4];
    *locked = PQntuples(steps[2].res) == 1 && PQgetvalue(steps[2].res, 0, 0)[0] == 't';
    PQclear(steps[2].res);
    bool have = PQntuples(steps[3].res) == 1;
    *file_id = have ? atoll(PQgetvalue(steps[3].res, 0, 0)) : 0;
    PQclear(steps[3].res);
    if (have)
        return LOAD_OK;
    /* Known already: nothing was written, nothing is kept. */
    db_rollback(db);
    if (also) {
        PQclear(also->res);
        also->res = NULL;
    }
    if (lb->ask && known) {
        *known = true;
        return LOAD_OK;
    }
    cdr_seterr(err, errlen, "the ledger row of %s was not written", lb->path);
    return LOAD_ERROR;
}

/* One opening round trip; *locked: whether the import lock was had. */
static enum load_status begin_once(struct db *db, const char *source, const char *timezone,
                                   const char *path, const char *member, const char *format,
                                   const char *sha256, uint64_t size, bool retry, bool *locked,
                                   bool *known, struct db_step *also, long long *file_id,
                                   char *err, size_t errlen)
{
    struct ledger_begin lb;
    enum load_status st = ledger_begin_send(db, source, timezone, path, member, format, sha256,
                                            size, retry, known != NULL, also, &lb, err, errlen);
    if (st == LOAD_OK)
        st = ledger_begin_collect(db, &lb, locked, known, also, file_id, err, errlen);
    return st;
}

/* How long a retry waits for the source's imports under way to end (the
 * import lock, sql.c), asking every RETRY_POLL_MS at most. Past that it
 * goes on without: a source fed without a pause may never be free, and
 * the primary key still decides. A stop asked meanwhile (db_set_cancel)
 * ends the wait at the next poll: the file is read again next time. */
#define RETRY_WAIT_S 30
#define RETRY_POLL_MS 200

enum load_status ledger_begin_file(struct db *db, const char *source, const char *timezone,
                                   const char *path, const char *member, const char *format,
                                   const char *sha256, uint64_t size, bool retry, bool *known,
                                   struct db_step *also, long long *file_id, char *err,
                                   size_t errlen)
{
    const struct db_step asked = also ? *also : (struct db_step){0};
    double until = cdr_monotonic() + RETRY_WAIT_S;
    for (unsigned pause = 10;; pause = pause * 2 < RETRY_POLL_MS ? pause * 2 : RETRY_POLL_MS) {
        bool locked;
        enum load_status st = begin_once(db, source, timezone, path, member, format, sha256,
                                         size, retry, &locked, known, also, file_id, err,
                                         errlen);
        if (st != LOAD_OK || !*file_id || !retry || locked)
            return st;
        if (cdr_monotonic() >= until) {
            log_info("%s: other imports of source %s still under way after %d s: reading it "
                     "again without waiting for them", path, source, RETRY_WAIT_S);
            return st;
        }
        if (pause == 10)
            log_info("%s: waiting for the other imports of source %s to end (up to %d s)", path,
                     source, RETRY_WAIT_S);
        db_rollback(db);
        if (also) {
            PQclear(also->res);
            *also = asked;
        }
        plat_sleep_ms(pause);
        if (db_cancelled(db)) {
            cdr_seterr(err, errlen, "told to stop while waiting for the other imports of "
                       "source %s; rolled back, will be read again", source);
            return LOAD_CANCELLED;
        }
    }
}

enum load_status ledger_finish_commit(struct db *db, const char *file_id, const char *status,
                                      const char *error, const char *sha256, uint64_t size,
                                      const struct load_stats *stats, char *err, size_t errlen)
{
    char v[8][24], *why = text_param(error);
    snprintf(v[0], 24, "%llu", (unsigned long long)stats->rows_read);
    snprintf(v[1], 24, "%llu", (unsigned long long)stats->rows_inserted);
    snprintf(v[2], 24, "%llu", (unsigned long long)stats->rows_duplicate);
    snprintf(v[3], 24, "%llu", (unsigned long long)stats->rows_rejected);
    snprintf(v[4], 24, "%llu", (unsigned long long)stats->rows_repaired);
    snprintf(v[5], 24, "%llu", (unsigned long long)size);
    snprintf(v[6], 24, "%lld", (long long)stats->first_call);
    snprintf(v[7], 24, "%lld", (long long)stats->last_call);
    /* No rows added: no calls to redo (sql_calls.c), and no range. */
    bool rows = stats->rows_inserted > 0;
    const char *params[12] = {file_id, v[0], v[1], v[2], v[3], v[4], status, why, sha256, v[5],
                              rows ? v[6] : NULL, rows ? v[7] : NULL};
    struct db_step steps[2] = {
        {.tmpl = SQL_FILE_FINISH, .n = 12, .params = params, .want = PGRES_COMMAND_OK,
         .prepare = true},
        {.tmpl = SQL_COMMIT, .want = PGRES_COMMAND_OK},
    };
    enum load_status st = db_pipeline(db, steps, 2, err, errlen);
    free(why);
    return st;
}

/* The reason goes through cdr_escape (at most 4 bytes a byte) and then
 * COPY text escaping (at most 2 bytes a byte); the raw line becomes hex. */
size_t ledger_reject_max(size_t len, const char *reason)
{
    return 2 * len + 8 * strlen(reason) + 64;
}

size_t ledger_reject_line(char *w, const char *file_id, uint64_t line_no, const char *raw,
                          size_t len, const char *reason)
{
    char *start = w;
    w += sprintf(w, "%s\t%llu\t\\\\x", file_id, (unsigned long long)line_no);
    cdr_hex((const unsigned char *)raw, len, w);
    w += 2 * len;
    *w++ = '\t';
    /* A reason may quote the line's bytes: it must be valid text. */
    char *why = cdr_escape(reason, strlen(reason));
    w += copytext_escape(w, why, strlen(why));
    free(why);
    *w++ = '\n';
    return (size_t)(w - start);
}
