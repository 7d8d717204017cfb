/*
 * report_html.c - `cdrimport report --format html`: one self-contained
 * page (inline CSS, SVG charts drawn here, no script, no link to anything
 * outside the file) with a summary, the calls per day, an hour-of-week heat
 * map, the top extensions and destinations, and the missed calls. Every
 * bar and cell carries its numbers in data-* attributes and a <title>
 * (the tooltip), so a test, or a reader, can check a chart against the
 * database.
 */
#include "report.h"
#include "sql.h"

#include <stdlib.h>
#include <string.h>

#define TOP_N 10
#define MISSED_MAX "500"

long long report_nice_max(long long v)
{
    if (v <= 1)
        return 1;
    long long p = 1;
    for (;;) {
        if (p >= v)
            return p;
        if (2 * p >= v)
            return 2 * p;
        if (5 * p >= v)
            return 5 * p;
        p *= 10;
    }
}

int report_ticks(long long max)
{
    if (max <= 2)
        return max < 1 ? 1 : (int)max;
    long long lead = max;
    while (lead >= 10)
        lead /= 10;
    /* 20 -> 0, 5, 10, 15, 20; 10 -> 0, 2, ..., 10; 50 -> 0, 10, ..., 50; 5 -> 0..5 */
    return lead == 2 ? 4 : 5;
}

double report_scale(long long v, long long max, double len)
{
    if (max <= 0 || v <= 0)
        return 0;
    if (v >= max)
        return len;
    return (double)v * len / (double)max;
}

static const char style[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;"
    "max-width:1000px;color:#1d2733;background:#fff}"
    "h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.15em;margin:28px 0 8px;"
    "border-bottom:1px solid #d8dee6;padding-bottom:4px}.period{color:#5b6775;margin:0}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px;margin-top:16px}"
    ".card{border:1px solid #d8dee6;border-radius:6px;padding:8px 14px;min-width:96px}"
    ".card b{display:block;font-size:1.4em}.card span{color:#5b6775;font-size:.85em}"
    "svg{display:block}svg text{font-size:11px;fill:#5b6775}"
    ".answered{fill:#2f7d4f}.other{fill:#d9822b}.topbar{fill:#3a6ea5}"
    "table{border-collapse:collapse;font-size:.9em}td,th{padding:3px 10px;text-align:left;"
    "border-bottom:1px solid #eef1f4}th{color:#5b6775;font-weight:600}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}.empty{color:#5b6775}"
    ".cols{display:flex;gap:32px;flex-wrap:wrap}";

/* ---- the summary --------------------------------------------------------- */

static void card(FILE *f, const char *name, const char *cls, long long v)
{
    fprintf(f, "<div class=\"card\" data-stat=\"%s\"><b>%lld</b><span>%s</span></div>", cls, v,
            name);
}

static void write_summary(FILE *f, const struct report_row *t)
{
    char talk[32], ring[32];
    report_hms(t->talk_s, talk, sizeof talk);
    report_hms(t->ring_s, ring, sizeof ring);
    fputs("<div class=\"cards\" id=\"summary\">", f);
    card(f, "calls", "calls", t->calls);
    card(f, "answered", "answered", t->answered);
    card(f, "missed", "missed", t->missed);
    card(f, "busy", "busy", t->busy);
    card(f, "failed", "failed", t->failed);
    card(f, "incoming", "incoming", t->in);
    card(f, "outgoing", "outgoing", t->out);
    card(f, "internal", "internal", t->internal);
    fprintf(f, "<div class=\"card\" data-stat=\"talk\" data-seconds=\"%lld\"><b>%s</b>"
               "<span>talk time</span></div>", t->talk_s, talk);
    /* No call answered: no mean, and no data-seconds. */
    fputs("<div class=\"card\" data-stat=\"avg_ring\"", f);
    if (t->ring_s >= 0)
        fprintf(f, " data-seconds=\"%lld\"", t->ring_s);
    fprintf(f, "><b>%s</b><span>average ring (answered)</span></div></div>\n", ring);
}

/* ---- calls per day ------------------------------------------------------- */

/* Every day of the period gets a bar, a day without calls a zero one:
 * the summary's rows are the days that had calls, in order. */
static void write_days(FILE *f, const struct report_opts *o, const struct report_summary *s)
{
    size_t ndays = 0;
    for (struct report_date d = o->from; report_date_cmp(&d, &o->to) <= 0;
         d = report_date_next(d))
        ndays++;
    long long top = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!s->rows[i].total && s->rows[i].calls > top)
            top = s->rows[i].calls;
    long long max = report_nice_max(top);
    const double left = 40, plot_w = 900, plot_h = 180, top_pad = 10, bottom = 30;
    double bw = plot_w / (double)ndays;
    fprintf(f, "<svg id=\"days\" role=\"img\" aria-label=\"calls per day\" width=\"%.0f\""
               " height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" data-max=\"%lld\">\n",
            left + plot_w + 10, top_pad + plot_h + bottom, left + plot_w + 10,
            top_pad + plot_h + bottom, max);
    int ticks = report_ticks(max);
    for (int k = 0; k <= ticks; k++) {
        double y = top_pad + plot_h - plot_h * k / ticks;
        fprintf(f, "<line x1=\"%.0f\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#eef1f4\"/>"
                   "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%lld</text>\n",
                left, left + plot_w, y, y, left - 4, y + 4, max * k / ticks);
    }
    size_t i = 0, di = 0;
    for (struct report_date d = o->from; report_date_cmp(&d, &o->to) <= 0;
         d = report_date_next(d), di++) {
        char day[16];
        report_format_date(&d, day, sizeof day);
        const struct report_row *r = NULL;
        if (i < s->n && !s->rows[i].total && !strcmp(s->rows[i].key, day))
            r = &s->rows[i++];
        long long calls = r ? r->calls : 0, ans = r ? r->answered : 0;
        double x = left + bw * (double)di;
        double h_all = report_scale(calls, max, plot_h), h_ans = report_scale(ans, max, plot_h);
        double gap = bw > 4 ? 1 : 0;
        fprintf(f, "<g class=\"day\" data-day=\"%s\" data-calls=\"%lld\" data-answered=\"%lld\">"
                   "<title>%s: %lld calls, %lld answered</title>"
                   "<rect class=\"other\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\"/>"
                   "<rect class=\"answered\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\""
                   " height=\"%.2f\"/></g>\n",
                day, calls, ans, day, calls, ans, x + gap, top_pad + plot_h - h_all,
                bw - 2 * gap, h_all, x + gap, top_pad + plot_h - h_ans, bw - 2 * gap, h_ans);
        /* A label on the first day and about every week (period >= 2 months: months). */
        bool label = di == 0 || (ndays <= 62 ? d.d % 7 == 1 : d.d == 1);
        if (label)
            fprintf(f, "<text x=\"%.2f\" y=\"%.0f\">%s</text>\n", x, top_pad + plot_h + 16,
                    day + 5);
    }
    fputs("</svg>\n<p class=\"period\"><svg width=\"10\" height=\"10\" style=\"display:inline\">"
          "<rect class=\"answered\" width=\"10\" height=\"10\"/></svg> answered "
          "<svg width=\"10\" height=\"10\" style=\"display:inline\"><rect class=\"other\" "
          "width=\"10\" height=\"10\"/></svg> missed, busy or failed</p>\n", f);
}

/* ---- hour of week -------------------------------------------------------- */

static enum load_status write_heatmap(FILE *f, struct db *db, const struct report_opts *o,
                                      const char *const params[3], char *err, size_t errlen)
{
    PGresult *res = NULL;
    enum load_status st = db_query(db, &res, err, errlen, SQL_REPORT_HEATMAP[o->calls_from], 3,
                                  params);
    if (st != LOAD_OK)
        return st;
    long long grid[7][24] = {{0}}, top = 0;
    for (int i = 0; i < PQntuples(res); i++) {
        int dow = atoi(PQgetvalue(res, i, 0)), hour = atoi(PQgetvalue(res, i, 1));
        if (dow < 1 || dow > 7 || hour < 0 || hour > 23)
            continue;
        grid[dow - 1][hour] = strtoll(PQgetvalue(res, i, 2), NULL, 10);
        if (grid[dow - 1][hour] > top)
            top = grid[dow - 1][hour];
    }
    PQclear(res);
    static const char *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    const double left = 40, cell = 34, ch = 24, top_pad = 18;
    fprintf(f, "<svg id=\"heatmap\" role=\"img\" aria-label=\"calls by hour of the week\""
               " width=\"%.0f\" height=\"%.0f\" data-max=\"%lld\">\n",
            left + 24 * cell + 4, top_pad + 7 * ch + 4, top);
    for (int h = 0; h < 24; h += 3)
        fprintf(f, "<text x=\"%.0f\" y=\"12\">%02d</text>", left + h * cell + 2, h);
    fputc('\n', f);
    for (int d = 0; d < 7; d++) {
        fprintf(f, "<text x=\"0\" y=\"%.0f\">%s</text>\n", top_pad + d * ch + 16, days[d]);
        for (int h = 0; h < 24; h++) {
            long long v = grid[d][h];
            /* Blue of rising strength; an empty hour stays nearly white. */
            double a = top ? 0.08 + 0.92 * (double)v / (double)top : 0.08;
            if (!v)
                a = 0.04;
            fprintf(f, "<rect class=\"hour\" data-dow=\"%d\" data-hour=\"%d\" data-calls=\"%lld\""
                       " x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" rx=\"2\""
                       " fill=\"#3a6ea5\" fill-opacity=\"%.2f\"><title>%s %02d:00-%02d:59:"
                       " %lld calls</title></rect>\n",
                    d + 1, h, v, left + h * cell, top_pad + d * ch, cell - 2, ch - 2, a,
                    days[d], h, h, v);
        }
    }
    fputs("</svg>\n", f);
    return LOAD_OK;
}

/* ---- top extensions and destinations ------------------------------------- */

static void write_top(FILE *f, const char *id, const char *title,
                      const struct report_summary *s)
{
    size_t n = 0;
    long long top = 0;
    for (size_t i = 0; i < s->n && n < TOP_N; i++) {
        if (s->rows[i].total)
            continue;
        if (s->rows[i].calls > top)
            top = s->rows[i].calls;
        n++;
    }
    fprintf(f, "<div><h3>%s</h3>\n", title);
    if (!n) {
        fputs("<p class=\"empty\">no calls</p></div>\n", f);
        return;
    }
    long long max = report_nice_max(top);
    const double label = 130, bar = 220, row = 22;
    fprintf(f, "<svg id=\"%s\" role=\"img\" aria-label=\"%s\" width=\"%.0f\" height=\"%.0f\""
               " data-max=\"%lld\">\n", id, title, label + bar + 50, row * (double)n + 4, max);
    size_t k = 0;
    for (size_t i = 0; i < s->n && k < n; i++) {
        const struct report_row *r = &s->rows[i];
        if (r->total)
            continue;
        double y = row * (double)k++;
        const char *key = *r->key ? r->key : "(none)";
        char talk[32];
        report_hms(r->talk_s, talk, sizeof talk);
        fputs("<g class=\"top\" data-key=\"", f);
        report_html_text(f, r->key);
        fprintf(f, "\" data-calls=\"%lld\" data-answered=\"%lld\"><title>", r->calls,
                r->answered);
        report_html_text(f, key);
        fprintf(f, ": %lld calls, %lld answered, talk %s</title><text x=\"0\" y=\"%.0f\">",
                r->calls, r->answered, talk, y + 15);
        report_html_text(f, key);
        fprintf(f, "</text><rect class=\"topbar\" x=\"%.0f\" y=\"%.0f\" width=\"%.2f\""
                   " height=\"%.0f\"/><text x=\"%.2f\" y=\"%.0f\">%lld</text></g>\n",
                label, y + 3, report_scale(r->calls, max, bar), row - 6,
                label + report_scale(r->calls, max, bar) + 4, y + 15, r->calls);
    }
    fputs("</svg></div>\n", f);
}

/* ---- missed calls -------------------------------------------------------- */

static enum load_status write_missed(FILE *f, struct db *db, const struct report_opts *o,
                                     const char *const params[3], long long total, char *err,
                                     size_t errlen)
{
    const char *p[4] = {params[0], params[1], params[2], MISSED_MAX};
    PGresult *res = NULL;
    enum load_status st = db_query(db, &res, err, errlen, SQL_REPORT_MISSED[o->calls_from], 4,
                                  p);
    if (st != LOAD_OK)
        return st;
    int n = PQntuples(res);
    if (n == 0) {
        fputs("<p class=\"empty\" id=\"missed\" data-rows=\"0\">no missed calls</p>\n", f);
        PQclear(res);
        return LOAD_OK;
    }
    if (total > n)
        fprintf(f, "<p class=\"period\">the first %d of %lld</p>\n", n, total);
    fprintf(f, "<table id=\"missed\" data-rows=\"%d\"><tr><th>start</th><th>source</th>"
               "<th>caller</th><th>dialled</th><th>extension</th><th>trunk</th>"
               "<th>rang</th><th>legs</th></tr>\n", n);
    for (int i = 0; i < n; i++) {
        fputs("<tr>", f);
        for (int j = 0; j < 6; j++) {
            fputs("<td>", f);
            report_html_text(f, PQgetvalue(res, i, j));
            fputs("</td>", f);
        }
        char ring[32];
        report_hms(PQgetisnull(res, i, 6) ? -1 : strtoll(PQgetvalue(res, i, 6), NULL, 10), ring,
                   sizeof ring);
        fprintf(f, "<td class=\"n\">%s</td><td class=\"n\">%s</td></tr>\n", ring,
                PQgetvalue(res, i, 7));
    }
    fputs("</table>\n", f);
    PQclear(res);
    return LOAD_OK;
}

/* ---- the page ------------------------------------------------------------ */

enum load_status report_html_write(struct db *db, const struct report_opts *o, FILE *f,
                                   char *err, size_t errlen)
{
    char from[16], to[16];
    report_format_date(&o->from, from, sizeof from);
    report_format_date(&o->to, to, sizeof to);
    const char *params[3] = {o->source, from, to};
    struct report_summary days = {0}, ext = {0}, dst = {0};
    enum load_status st;
    /* The top lists fetch their TOP_N rows only: a year has millions of
     * destinations. */
    if ((st = report_summary_query(db, o, REPORT_BY_DAY, 0, &days, err, errlen)) != LOAD_OK ||
        (st = report_summary_query(db, o, REPORT_BY_EXTENSION, TOP_N, &ext, err, errlen)) !=
            LOAD_OK ||
        (st = report_summary_query(db, o, REPORT_BY_DESTINATION, TOP_N, &dst, err, errlen)) !=
            LOAD_OK)
        goto out;
    const struct report_row *total = &days.rows[days.n - 1]; /* ROLLUP's, always there */

    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
          "<title>Calls ", f);
    fprintf(f, "%s to %s</title><style>%s</style></head><body>\n", from, to, style);
    fputs("<h1>Calls of ", f);
    if (o->source)
        report_html_text(f, o->source);
    else
        fputs("all sources", f);
    fprintf(f, "</h1>\n<p class=\"period\" id=\"period\" data-from=\"%s\" data-to=\"%s\">"
               "%s to %s, days on each source's clock</p>\n", from, to, from, to);
    write_summary(f, total);
    fputs("<h2>Calls per day</h2>\n", f);
    write_days(f, o, &days);
    fputs("<h2>Calls by hour of the week</h2>\n", f);
    if ((st = write_heatmap(f, db, o, params, err, errlen)) != LOAD_OK)
        goto out;
    fputs("<h2>Top extensions and destinations</h2>\n<div class=\"cols\">\n", f);
    write_top(f, "top-extensions", "extensions", &ext);
    write_top(f, "top-destinations", "destinations", &dst);
    fputs("</div>\n<h2>Missed calls</h2>\n", f);
    if ((st = write_missed(f, db, o, params, total->missed, err, errlen)) != LOAD_OK)
        goto out;
    fputs("<p class=\"period\" style=\"margin-top:24px\">cdrimport " CDRIMPORT_VERSION ": a call is the CDR rows that"
          " share a call ID; answered on any leg is answered.</p>\n</body></html>\n", f);
out:
    report_summary_free(&days);
    report_summary_free(&ext);
    report_summary_free(&dst);
    return st;
}
