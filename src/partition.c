/*
 * partition.c - monthly partitions of cdr_row (see partition.h): the
 * per-connection cache of known months, the call that makes the missing
 * ones before a batch's COPY, and the conversion of a plain table.
 */
#include "partition.h"
#include "log.h"
#include "sql.h"
#include "plat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Seconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01 (UTC). */
#define PG_EPOCH_SECS 946684800LL

enum kind { KIND_UNKNOWN, KIND_PLAIN, KIND_PARTITIONED };

/* Months are counted as year * 12 + month - 1 (UTC). */
struct partition_cache {
    enum kind kind;
    int32_t *known;      /* months with a partition, sorted */
    size_t nknown, known_cap;
    int32_t *noted;      /* months of noted rows not known yet, unsorted, distinct */
    size_t nnoted, noted_cap;
    int64_t lo, hi;      /* [lo, hi): pg microseconds of the last noted row's month */
    bool have_last;
};

struct partition_cache *partition_cache_create(void)
{
    return xcalloc(1, sizeof(struct partition_cache));
}

void partition_cache_destroy(struct partition_cache *pc)
{
    if (!pc)
        return;
    free(pc->known);
    free(pc->noted);
    free(pc);
}

void partition_cache_forget(struct partition_cache *pc)
{
    pc->kind = KIND_UNKNOWN;
    pc->nknown = pc->nnoted = 0;
    pc->have_last = false;
}

static bool is_known(const struct partition_cache *pc, int32_t m)
{
    size_t lo = 0, hi = pc->nknown;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (pc->known[mid] == m)
            return true;
        if (pc->known[mid] < m)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static int64_t month_start_usec(int32_t m)
{
    struct tm tm = {0};
    tm.tm_year = m / 12 - 1900;
    tm.tm_mon = m % 12;
    tm.tm_mday = 1;
    return ((int64_t)plat_timegm(&tm) - PG_EPOCH_SECS) * 1000000;
}

int32_t partition_month(int64_t pg_usec)
{
    /* Floor division: an instant before 2000 has a negative count. */
    int64_t secs = pg_usec / 1000000 - (pg_usec % 1000000 < 0) + PG_EPOCH_SECS;
    time_t tt = (time_t)secs;
    struct tm tm;
    plat_gmtime(tt, &tm);
    return (int32_t)(tm.tm_year + 1900) * 12 + tm.tm_mon;
}

void partition_note(struct partition_cache *pc, int64_t pg_usec)
{
    /* Rows come mostly in time order: most fall in the last row's month. */
    if (pc->kind == KIND_PLAIN || (pc->have_last && pg_usec >= pc->lo && pg_usec < pc->hi))
        return;
    int32_t m = partition_month(pg_usec);
    pc->lo = month_start_usec(m);
    pc->hi = month_start_usec(m + 1);
    pc->have_last = true;
    if (is_known(pc, m))
        return;
    for (size_t i = 0; i < pc->nnoted; i++)
        if (pc->noted[i] == m)
            return;
    if (pc->nnoted == pc->noted_cap) {
        pc->noted_cap = pc->noted_cap ? 2 * pc->noted_cap : 8;
        pc->noted = xrealloc(pc->noted, pc->noted_cap * sizeof *pc->noted);
    }
    pc->noted[pc->nnoted++] = m;
}

static int cmp_month(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Whether cdr_row is partitioned (and, into *full, whether it has a row). */
static enum load_status ask_kind(struct db *db, enum kind *kind, bool *full, char *err,
                                 size_t errlen)
{
    PGresult *res = NULL;
    const char *params[1] = {db_schema_name(db)};
    enum load_status st = db_query(db, &res, err, errlen, SQL_PARTITION_KIND, 1, params);
    if (st != LOAD_OK)
        return st;
    if (PQntuples(res) != 1) {
        PQclear(res);
        cdr_seterr(err, errlen, "the table cdr_row is missing: run cdrimport init-db");
        return LOAD_ERROR;
    }
    *kind = PQgetvalue(res, 0, 0)[0] == 't' ? KIND_PARTITIONED : KIND_PLAIN;
    if (full)
        *full = PQgetvalue(res, 0, 1)[0] == 't';
    PQclear(res);
    return LOAD_OK;
}

enum load_status partition_is_partitioned(struct db *db, bool *yes, char *err, size_t errlen)
{
    enum kind kind = KIND_UNKNOWN;
    enum load_status st = ask_kind(db, &kind, NULL, err, errlen);
    *yes = kind == KIND_PARTITIONED;
    return st;
}

bool partition_settled(const struct partition_cache *pc)
{
    return pc->kind == KIND_PLAIN || (pc->kind == KIND_PARTITIONED && pc->nnoted == 0);
}

enum load_status partition_ensure(struct partition_cache *pc, struct db *db, char *err,
                                  size_t errlen)
{
    enum load_status st;
    if (pc->kind == KIND_UNKNOWN && (st = ask_kind(db, &pc->kind, NULL, err, errlen)) != LOAD_OK)
        return st;
    if (pc->kind == KIND_PLAIN || pc->nnoted == 0) {
        pc->nnoted = 0;
        return LOAD_OK;
    }
    /* '{"2024-05-01 00:00:00+00",...}': 26 bytes a month, made from
     * integers (nothing from the file reaches this text). */
    char *arr = xmalloc(2 + 27 * pc->nnoted), *w = arr;
    *w++ = '{';
    for (size_t i = 0; i < pc->nnoted; i++) {
        int32_t m = pc->noted[i];
        w += sprintf(w, "%s\"%04d-%02d-01 00:00:00+00\"", i ? "," : "", (int)(m / 12),
                     (int)(m % 12 + 1));
    }
    *w++ = '}';
    *w = '\0';
    const char *params[2] = {db_schema_name(db), arr};
    PGresult *res = NULL;
    st = db_query(db, &res, err, errlen, SQL_PARTITION_ADD, 2, params);
    free(arr);
    if (st != LOAD_OK)
        return st;
    PQclear(res);
    /* Known from now on (db_rollback forgets them if this file fails). */
    if (pc->nknown + pc->nnoted > pc->known_cap) {
        pc->known_cap = 2 * (pc->nknown + pc->nnoted);
        pc->known = xrealloc(pc->known, pc->known_cap * sizeof *pc->known);
    }
    memcpy(pc->known + pc->nknown, pc->noted, pc->nnoted * sizeof *pc->noted);
    pc->nknown += pc->nnoted;
    pc->nnoted = 0;
    qsort(pc->known, pc->nknown, sizeof *pc->known, cmp_month);
    return LOAD_OK;
}

/* One count(*) statement's answer. */
static enum load_status count_rows(struct db *db, const char *sql, long long *n, char *err,
                                   size_t errlen)
{
    PGresult *res = NULL;
    enum load_status st = db_query(db, &res, err, errlen, sql, 0, NULL);
    if (st == LOAD_OK) {
        *n = atoll(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    return st;
}

/* The conversion's steps, in the transaction partition_setup opened. */
static enum load_status convert(struct db *db, char *err, size_t errlen)
{
    long long before = 0, after = 0;
    double t0 = cdr_monotonic();
    const char *params[1] = {db_schema_name(db)};
    PGresult *res = NULL;
    enum load_status st;
    if ((st = db_cmds(db, err, errlen, SQL_PARTITION_LOCK, 0, NULL)) != LOAD_OK ||
        (st = count_rows(db, SQL_PARTITION_COUNT, &before, err, errlen)) != LOAD_OK ||
        (st = db_cmds(db, err, errlen, SQL_PARTITION_NEW, 0, NULL)) != LOAD_OK ||
        (st = db_query(db, &res, err, errlen, SQL_PARTITION_NEW_MONTHS, 1, params)) != LOAD_OK)
        return st;
    int months = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    if ((st = db_cmds(db, err, errlen, SQL_PARTITION_FILL, 0, NULL)) != LOAD_OK ||
        (st = count_rows(db, SQL_PARTITION_COUNT_NEW, &after, err, errlen)) != LOAD_OK)
        return st;
    if (after != before) {
        cdr_seterr(err, errlen, "partitioning cdr_row: %lld rows before, %lld after", before,
                   after);
        return LOAD_ERROR;
    }
    /* Several statements: the simple protocol. */
    char *sql = db_sql(db, SQL_PARTITION_SWAP);
    PGresult *r = PQexec(db_conn(db), sql);
    free(sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        st = db_classify(db, r);
        cdr_seterr(err, errlen, "partitioning cdr_row: %s", PQerrorMessage(db_conn(db)));
    }
    PQclear(r);
    if (st == LOAD_OK && before)
        log_info("cdr_row is now partitioned by month: %lld rows kept (%lld before), %d"
                 " partitions, %.1f s", after, before, months, cdr_monotonic() - t0);
    else if (st == LOAD_OK)
        log_info("cdr_row is now partitioned by month");
    return st;
}

enum load_status partition_setup(struct db *db, enum cdr_partition want, bool rows, char *err,
                                 size_t errlen)
{
    enum kind kind;
    bool full = false;
    enum load_status st;
    if (want != CDR_PARTITION_MONTH)
        return LOAD_OK; /* a partitioned table stays so: the loader follows the table */
    if ((st = ask_kind(db, &kind, &full, err, errlen)) != LOAD_OK || kind == KIND_PARTITIONED)
        return st;
    if (full && !rows) {
        log_warn("database.partition is month but cdr_row is one table with rows: run"
                 " cdrimport init-db to move them into monthly partitions; until then rows go"
                 " into the one table");
        return LOAD_OK;
    }
    if ((st = db_cmd(db, err, errlen, SQL_BEGIN, 0, NULL)) != LOAD_OK)
        return st;
    /* Taken by migrations too: one converter, and no migration meanwhile. */
    if ((st = db_exec(db, NULL, PGRES_TUPLES_OK, err, errlen, SQL_SCHEMA_LOCK, 0, NULL)) ==
            LOAD_OK &&
        (st = ask_kind(db, &kind, NULL, err, errlen)) == LOAD_OK && kind == KIND_PLAIN)
        st = convert(db, err, errlen);
    if (st == LOAD_OK)
        st = db_cmd(db, err, errlen, SQL_COMMIT, 0, NULL);
    else
        db_rollback(db);
    return st;
}
