/*
 * prune.c - retention (see prune.h): drop the monthly partitions wholly
 * before the cutoff, or delete a plain table's old rows batch by batch.
 */
#include "prune.h"
#include "log.h"
#include "partition.h"
#include "sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rows a delete transaction removes at most: a few MB of WAL and undo. */
#define PRUNE_BATCH "10000"

/* One partition: count its rows (for the log), drop it, in one transaction. */
static enum load_status drop_partition(struct db *db, const char *name, uint64_t *rows,
                                       char *err, size_t errlen)
{
    char *q = PQescapeIdentifier(db_conn(db), name, strlen(name));
    if (!q) {
        cdr_seterr(err, errlen, "%s", PQerrorMessage(db_conn(db)));
        return LOAD_ERROR;
    }
    char count[128], drop[128];
    snprintf(count, sizeof count, "%s%s", SQL_PRUNE_PARTITION_ROWS, q);
    snprintf(drop, sizeof drop, "%s%s", SQL_PRUNE_PARTITION_DROP, q);
    PQfreemem(q);
    PGresult *res = NULL;
    enum load_status st = db_cmd(db, err, errlen, SQL_BEGIN, 0, NULL);
    if (st == LOAD_OK && (st = db_query(db, &res, err, errlen, count, 0, NULL)) == LOAD_OK) {
        *rows = strtoull(PQgetvalue(res, 0, 0), NULL, 10);
        PQclear(res);
        st = db_cmds(db, err, errlen, drop, 0, NULL);
    }
    if (st == LOAD_OK)
        st = db_cmd(db, err, errlen, SQL_COMMIT, 0, NULL);
    else
        db_rollback(db);
    return st;
}

static enum load_status prune_partitions(struct db *db, struct prune_totals *t, char *err,
                                         size_t errlen)
{
    PGresult *res = NULL;
    const char *params[2] = {db_schema_name(db), t->cutoff};
    enum load_status st = db_exec(db, &res, PGRES_TUPLES_OK, err, errlen, SQL_PRUNE_PARTITIONS,
                                  2, params);
    for (int i = 0; st == LOAD_OK && i < PQntuples(res); i++) {
        const char *name = PQgetvalue(res, i, 0);
        uint64_t rows = 0;
        if ((st = drop_partition(db, name, &rows, err, errlen)) != LOAD_OK)
            break;
        log_info("prune: dropped partition %s (%llu rows)", name, (unsigned long long)rows);
        t->partitions++;
        t->rows += rows;
    }
    PQclear(res);
    return st;
}

/* Delete with tmpl ($1 cutoff, $2 batch) until nothing is left to delete,
 * a transaction a batch; *n counts the rows. */
static enum load_status prune_batches(struct db *db, const char *tmpl, const char *cutoff,
                                      uint64_t *n, char *err, size_t errlen)
{
    const char *params[2] = {cutoff, PRUNE_BATCH};
    char *sql = db_sql(db, tmpl);
    enum load_status st;
    uint64_t k;
    do {
        PGresult *res = NULL;
        if ((st = db_exec(db, &res, PGRES_COMMAND_OK, err, errlen, sql, 2, params)) != LOAD_OK)
            break;
        k = strtoull(PQcmdTuples(res), NULL, 10);
        PQclear(res);
        *n += k;
    } while (k > 0);
    free(sql);
    return st;
}

enum load_status prune_run(struct db *db, unsigned months, struct prune_totals *t, char *err,
                           size_t errlen)
{
    memset(t, 0, sizeof *t);
    char m[16];
    snprintf(m, sizeof m, "%u", months);
    const char *params[1] = {m};
    PGresult *res = NULL;
    bool parted = false;
    enum load_status st = db_exec(db, &res, PGRES_TUPLES_OK, err, errlen, SQL_PRUNE_CUTOFF, 1,
                                  params);
    if (st != LOAD_OK)
        return st;
    snprintf(t->cutoff, sizeof t->cutoff, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    if ((st = partition_is_partitioned(db, &parted, err, errlen)) != LOAD_OK)
        return st;
    double t0 = cdr_monotonic();
    st = parted ? prune_partitions(db, t, err, errlen)
                : prune_batches(db, SQL_PRUNE_DELETE, t->cutoff, &t->rows, err, errlen);
    /* The stored calls (sql_calls.c) of that time go too: a report must
     * not count calls whose rows are gone. */
    if (st == LOAD_OK)
        st = prune_batches(db, SQL_PRUNE_CALLS, t->cutoff, &t->calls, err, errlen);
    if (st == LOAD_OK)
        log_info("prune: calls before %s removed (retention_months %u): %llu rows, %u"
                 " partitions dropped, %llu stored calls, %.1f s", t->cutoff, months,
                 (unsigned long long)t->rows, t->partitions, (unsigned long long)t->calls,
                 cdr_monotonic() - t0);
    return st;
}
