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

static enum load_status prune_rows(struct db *db, struct prune_totals *t, char *err,
                                   size_t errlen)
{
    const char *params[2] = {t->cutoff, PRUNE_BATCH};
    char *sql = db_sql(db, SQL_PRUNE_DELETE);
    enum load_status st;
    uint64_t n;
    do {
        PGresult *res = NULL;
        if ((st = db_exec(db, &res, PGRES_COMMAND_OK, err, errlen, sql, 2, params)) != LOAD_OK)
            break;
        n = strtoull(PQcmdTuples(res), NULL, 10);
        PQclear(res);
        t->rows += n;
    } while (n > 0);
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
    st = parted ? prune_partitions(db, t, err, errlen) : prune_rows(db, t, err, errlen);
    if (st == LOAD_OK)
        log_info("prune: calls before %s removed (retention_months %u): %llu rows, %u"
                 " partitions dropped, %.1f s", t->cutoff, months, (unsigned long long)t->rows,
                 t->partitions, cdr_monotonic() - t0);
    return st;
}
