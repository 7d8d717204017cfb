/*
 * fetch_status.c - the cdr_fetch rows (see fetch_status.h); the SQL is in
 * sql.c. Paths go in as the ledger writes them (cdr_escape), so that a
 * spooled file's ledger row can be found by its path.
 */
#include "fetch_status.h"
#include "sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fetch_status_add(struct fetch_status_pending *pend, const struct fetch_outcome *o)
{
    char *keep_file = pend->last.file;
    pend->last.file = NULL;
    fetch_outcome_free(&pend->last);
    pend->last = *o;
    pend->last.source = xstrdup(o->source);
    pend->last.shown_url = xstrdup(o->shown_url);
    pend->last.spool_dir = xstrdup(o->spool_dir);
    pend->last.file = o->file ? xstrdup(o->file) : keep_file;
    if (o->file)
        free(keep_file);
    if (o->polled)
        pend->polls++;
    pend->bytes += o->bytes;
}

void fetch_status_clear(struct fetch_status_pending *pend)
{
    fetch_outcome_free(&pend->last);
    pend->polls = pend->bytes = 0;
}

static char *esc(const char *s)
{
    return s ? cdr_escape(s, strlen(s)) : NULL;
}

enum load_status fetch_status_record(struct db *db, const struct fetch_status_pending *pend,
                                     char *err, size_t errlen)
{
    const struct fetch_outcome *o = &pend->last;
    char at[32], status[16], bytes[24], polls[24], total[24];
    snprintf(at, sizeof at, "%lld", (long long)o->polled_at);
    snprintf(status, sizeof status, "%ld", o->http_status);
    snprintf(bytes, sizeof bytes, "%llu", (unsigned long long)o->bytes);
    snprintf(polls, sizeof polls, "%llu", (unsigned long long)pend->polls);
    snprintf(total, sizeof total, "%llu", (unsigned long long)pend->bytes);
    char *url = esc(o->shown_url), *spool = esc(o->spool_dir), *file = esc(o->file),
         *what = esc(o->what);
    const char *params[10] = {o->source, url, spool, at, what,
                              o->http_status ? status : NULL, bytes, file, polls, total};
    enum load_status st = db_cmds(db, err, errlen, SQL_FETCH_RECORD, 10, params);
    free(url);
    free(spool);
    free(file);
    free(what);
    return st;
}

enum load_status fetch_status_print(struct db *db, char *err, size_t errlen)
{
    PGresult *res = NULL;
    enum load_status st = db_query(db, &res, err, errlen, SQL_FETCH_STATUS, 0, NULL);
    if (st != LOAD_OK)
        return st;
    if (PQntuples(res) > 0)
        printf("\nfetch sources (polled over HTTP):\n");
    for (int i = 0; i < PQntuples(res); i++) {
        const char *file = PQgetvalue(res, i, 8);
        printf("  %s: %s\n"
               "    last poll %s: %s%s%s%s%s\n"
               "    since the first poll: %s polls, %s bytes, %s rows\n",
               PQgetvalue(res, i, 0), PQgetvalue(res, i, 9), PQgetvalue(res, i, 1),
               /* the outcome says the bytes where there were any */
               PQgetvalue(res, i, 2), *file ? "; last file " : "", file,
               *file ? ": " : "", *file ? PQgetvalue(res, i, 7) : "", PQgetvalue(res, i, 4),
               PQgetvalue(res, i, 5), PQgetvalue(res, i, 6));
    }
    PQclear(res);
    return LOAD_OK;
}
