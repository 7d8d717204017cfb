/*
 * report.c - `cdrimport report`: the summary query (SQL_REPORT_SUMMARY: one
 * row per key and ROLLUP's totals row, so every format prints the
 * database's own totals) and the table, CSV and JSON outputs. The command
 * line and its dates are report_args.c's, the HTML page report_html.c's.
 * Values reach the server only as parameters.
 */
#include "report.h"
#include "job.h"
#include "log.h"
#include "sql.h"
#include "plat.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the summary --------------------------------------------------------- */

/* The query's rows one at a time (db_query_each): a year by destination is
 * millions of rows, which CSV and JSON write as they come. */
struct each {
    report_row_fn *fn;
    void *ctx;
};

static void each_row(void *ctx, const PGresult *res)
{
    const struct each *e = ctx;
    struct report_row r = {0};
    char total[] = "total";
    r.total = atoi(PQgetvalue(res, 0, 11)) != 0;
    r.key = r.total ? total : PQgetvalue(res, 0, 0);
    long long *f[] = {&r.calls, &r.in, &r.out, &r.internal, &r.answered,
                      &r.missed, &r.busy, &r.failed, &r.talk_s, &r.ring_s};
    for (int j = 0; j < 10; j++)
        *f[j] = strtoll(PQgetvalue(res, 0, j + 1), NULL, 10);
    e->fn(e->ctx, &r);
}

enum load_status report_summary_each(struct db *db, const struct report_opts *o,
                                     enum report_by by, int top, report_row_fn *fn, void *ctx,
                                     char *err, size_t errlen)
{
    char from[16], to[16], limit[16];
    report_format_date(&o->from, from, sizeof from);
    report_format_date(&o->to, to, sizeof to);
    snprintf(limit, sizeof limit, "%d", top);
    const char *params[5] = {o->source, from, to, report_by_name(by), top > 0 ? limit : NULL};
    struct each e = {fn, ctx};
    return db_query_each(db, SQL_REPORT_SUMMARY[o->calls_from], 5, params, each_row, &e, err,
                         errlen);
}

static void keep_row(void *ctx, const struct report_row *r)
{
    struct report_summary *s = ctx;
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->rows = xrealloc(s->rows, s->cap * sizeof *s->rows);
    }
    s->rows[s->n] = *r;
    s->rows[s->n++].key = xstrdup(r->key);
}

enum load_status report_summary_query(struct db *db, const struct report_opts *o,
                                      enum report_by by, int top, struct report_summary *s,
                                      char *err, size_t errlen)
{
    *s = (struct report_summary){0};
    return report_summary_each(db, o, by, top, keep_row, s, err, errlen);
}

void report_summary_free(struct report_summary *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->rows[i].key);
    free(s->rows);
    *s = (struct report_summary){0};
}

/* ---- table, CSV, JSON ---------------------------------------------------- */

#define NCOLS 11
static const char *const col_names[NCOLS] = {
    NULL, "calls", "in", "out", "internal", "answered", "missed", "busy", "failed", "talk",
    "avg ring"};

/* A row's cells as text: the key, the counts, the durations as h:mm:ss. */
static void cells(const struct report_row *r, char out[NCOLS][64])
{
    snprintf(out[0], 64, "%s", r->key);
    const long long v[] = {r->calls, r->in, r->out, r->internal, r->answered,
                           r->missed, r->busy, r->failed};
    for (int j = 0; j < 8; j++)
        snprintf(out[j + 1], 64, "%lld", v[j]);
    report_hms(r->talk_s, out[9], 64);
    report_hms(r->ring_s, out[10], 64); /* "-": no call answered */
}

/* Display width: UTF-8 characters, not bytes (a caller's name may have
 * accents). */
static int width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

static void write_table(FILE *f, const struct report_opts *o, const struct report_summary *s)
{
    char from[16], to[16];
    report_format_date(&o->from, from, sizeof from);
    report_format_date(&o->to, to, sizeof to);
    fprintf(f, "Calls of %s%s, %s to %s, by %s\n\n", o->source ? "source " : "all sources",
            o->source ? o->source : "", from, to, report_by_name(o->by));
    int w[NCOLS];
    char c[NCOLS][64];
    for (int j = 0; j < NCOLS; j++)
        w[j] = width(j ? col_names[j] : report_by_name(o->by));
    for (size_t i = 0; i < s->n; i++) {
        cells(&s->rows[i], c);
        for (int j = 0; j < NCOLS; j++)
            if (width(c[j]) > w[j])
                w[j] = width(c[j]);
    }
    /* The key left-aligned, the numbers right-aligned. */
    fprintf(f, "%-*s", w[0], report_by_name(o->by));
    for (int j = 1; j < NCOLS; j++)
        fprintf(f, "  %*s", w[j], col_names[j]);
    fputc('\n', f);
    int total_w = w[0];
    for (int j = 1; j < NCOLS; j++)
        total_w += 2 + w[j];
    for (size_t i = 0; i < s->n; i++) {
        if (s->rows[i].total) {
            for (int k = 0; k < total_w; k++)
                fputc('-', f);
            fputc('\n', f);
        }
        cells(&s->rows[i], c);
        /* Pad by characters: printf's width counts bytes. */
        fputs(c[0], f);
        for (int k = width(c[0]); k < w[0]; k++)
            fputc(' ', f);
        for (int j = 1; j < NCOLS; j++)
            fprintf(f, "  %*s", w[j], c[j]);
        fputc('\n', f);
    }
}

/* A CSV field (RFC 4180): quoted when it holds a comma, quote or line
 * break. Nothing is added to guard spreadsheets against a leading '=' or
 * '+': the file is for scripts, and "+4930..." is a number to keep as it is. */
static void csv_field(FILE *f, const char *s)
{
    if (s[strcspn(s, ",\"\r\n")] == '\0') {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* CSV for scripts: the keys' rows only, no totals row that a sum would
 * count twice. Written as the rows come. */
static void csv_head(FILE *f, const struct report_opts *o)
{
    fprintf(f, "%s,calls,incoming,outgoing,internal,answered,missed,busy,failed,talk,"
               "avg_ring\n", report_by_name(o->by));
}

static void csv_row(void *ctx, const struct report_row *r)
{
    FILE *f = ctx;
    if (r->total)
        return;
    char c[NCOLS][64];
    cells(r, c);
    csv_field(f, r->key);
    for (int j = 1; j < NCOLS - 1; j++)
        fprintf(f, ",%s", c[j]);
    fprintf(f, ",%s\n", r->ring_s < 0 ? "" : c[NCOLS - 1]);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

static void json_row(FILE *f, const struct report_row *r, bool with_key)
{
    char talk[32], ring[32];
    report_hms(r->talk_s, talk, sizeof talk);
    report_hms(r->ring_s, ring, sizeof ring);
    fputc('{', f);
    if (with_key) {
        fputs("\"key\": ", f);
        json_string(f, r->key);
        fputs(", ", f);
    }
    fprintf(f, "\"calls\": %lld, \"incoming\": %lld, \"outgoing\": %lld, \"internal\": %lld,"
               " \"answered\": %lld, \"missed\": %lld, \"busy\": %lld, \"failed\": %lld,"
               " \"talk\": \"%s\", \"talk_s\": %lld, ",
            r->calls, r->in, r->out, r->internal, r->answered, r->missed, r->busy, r->failed,
            talk, r->talk_s);
    /* No call answered: no mean. */
    if (r->ring_s < 0)
        fputs("\"avg_ring\": null, \"avg_ring_s\": null}", f);
    else
        fprintf(f, "\"avg_ring\": \"%s\", \"avg_ring_s\": %lld}", ring, r->ring_s);
}

/* JSON, the keys' rows as they come and the totals (the last row) after
 * them. */
struct json_out {
    FILE *f;
    bool first, have_total;
    struct report_row total;
};

static void json_head(FILE *f, const struct report_opts *o)
{
    char from[16], to[16];
    report_format_date(&o->from, from, sizeof from);
    report_format_date(&o->to, to, sizeof to);
    fputs("{\"source\": ", f);
    if (o->source)
        json_string(f, o->source);
    else
        fputs("null", f);
    fprintf(f, ", \"from\": \"%s\", \"to\": \"%s\", \"by\": \"%s\",\n \"rows\": [", from, to,
            report_by_name(o->by));
}

static void json_each(void *ctx, const struct report_row *r)
{
    struct json_out *j = ctx;
    if (r->total) {
        j->total = *r;
        j->have_total = true;
        return;
    }
    fputs(j->first ? "\n  " : ",\n  ", j->f);
    j->first = false;
    json_row(j->f, r, true);
}

static void json_tail(const struct json_out *j)
{
    fputs(j->first ? "],\n \"totals\": " : "\n ],\n \"totals\": ", j->f);
    if (j->have_total)
        json_row(j->f, &j->total, false);
    else
        fputs("null", j->f);
    fputs("}\n", j->f);
}

void report_html_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

/* ---- the command --------------------------------------------------------- */

/* Bring the stored calls up to date (sql_calls.c: cdr_calls_refresh) and
 * read them; a database where that cannot be done (a replica, a role that
 * may only read) still gets its report, from the rows, as long as the
 * store is behind. False: the connection is gone. */
static bool calls_ready(struct db *db, struct report_opts *o)
{
    char err[CDR_ERRLEN];
    PGresult *res = NULL;
    o->calls_from = SQL_FROM_STORE;
    if (db_query(db, &res, err, sizeof err, SQL_CALLS_REFRESH, 0, NULL) == LOAD_OK) {
        log_debug("report: %s calls brought up to date", PQgetvalue(res, 0, 0));
        PQclear(res);
        return true;
    }
    if (PQstatus(db_conn(db)) == CONNECTION_BAD) {
        log_error("report: %s", err);
        return false;
    }
    char why[CDR_ERRLEN];
    snprintf(why, sizeof why, "%s", err);
    if (db_query(db, &res, err, sizeof err, SQL_CALLS_PENDING, 0, NULL) != LOAD_OK) {
        log_error("report: %s", err);
        return false;
    }
    if (strcmp(PQgetvalue(res, 0, 0), "0") != 0) {
        log_warn("report: the stored calls could not be brought up to date (%s); reading"
                 " the calls from the rows instead, which takes longer",
                 why);
        o->calls_from = SQL_FROM_ROWS;
    }
    PQclear(res);
    return true;
}

int report_run(const struct cdr_config *cfg, const struct report_opts *opts)
{
    struct report_opts o = *opts;
    if (o.source && !config_find_source(cfg, o.source)) {
        fprintf(stderr, "cdrimport: --source: no source named '%s' in %s\n", o.source,
                cfg->file);
        return CDR_EXIT_USAGE;
    }
    o.format = report_resolve_format(o.format, o.output, !o.output && isatty(STDOUT_FILENO));
    struct db *db = job_connect(cfg, true);
    if (!db)
        return CDR_EXIT_DB;
    char err[CDR_ERRLEN];
    PGresult *set = NULL;
    if (db_query(db, &set, err, sizeof err, SQL_REPORT_SESSION, 0, NULL) != LOAD_OK) {
        log_error("report: %s", err);
        db_close(db);
        return CDR_EXIT_DB;
    }
    PQclear(set);
    if (!calls_ready(db, &o)) {
        db_close(db);
        return CDR_EXIT_DB;
    }

    /* Into a temporary file beside -o, renamed at the end: a failed run
     * leaves no half report where a cron job's reader expects a whole. */
    FILE *f = stdout;
    char *tmp = NULL;
    if (o.output) {
        tmp = xasprintf("%s.tmp", o.output);
        f = plat_fopen(tmp, "w");
        if (!f) {
            log_error("%s: %s", tmp, strerror(errno));
            free(tmp);
            db_close(db);
            return CDR_EXIT_PARTIAL;
        }
    }
    enum load_status st;
    if (o.format == REPORT_FMT_HTML) {
        st = report_html_write(db, &o, f, err, sizeof err);
    } else if (o.format == REPORT_FMT_TABLE) {
        /* Aligned columns: every row is needed before the first is written. */
        struct report_summary s;
        st = report_summary_query(db, &o, o.by, 0, &s, err, sizeof err);
        if (st == LOAD_OK)
            write_table(f, &o, &s);
        report_summary_free(&s);
    } else if (o.format == REPORT_FMT_JSON) {
        struct json_out j = {.f = f, .first = true};
        json_head(f, &o);
        st = report_summary_each(db, &o, o.by, 0, json_each, &j, err, sizeof err);
        if (st == LOAD_OK)
            json_tail(&j);
    } else {
        csv_head(f, &o);
        st = report_summary_each(db, &o, o.by, 0, csv_row, f, err, sizeof err);
    }
    int status = CDR_EXIT_OK;
    if (st != LOAD_OK) {
        log_error("report: %s", err);
        status = st == LOAD_DB_DOWN ? CDR_EXIT_DB : CDR_EXIT_PARTIAL;
    }
    if (fflush(f) != 0 || ferror(f)) {
        log_error("%s: %s", o.output ? o.output : "standard output", strerror(errno));
        status = status ? status : CDR_EXIT_PARTIAL;
    }
    if (o.output) {
        if (fclose(f) != 0 && !status) {
            log_error("%s: %s", tmp, strerror(errno));
            status = CDR_EXIT_PARTIAL;
        }
        if (status == CDR_EXIT_OK && plat_rename(tmp, o.output) != 0) {
            log_error("%s: %s", o.output, strerror(errno));
            status = CDR_EXIT_PARTIAL;
        }
        if (status != CDR_EXIT_OK)
            plat_unlink(tmp);
        free(tmp);
    }
    db_close(db);
    return status;
}
