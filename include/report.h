/*
 * report.h - `cdrimport report`: the calls of a period (the view cdr_call,
 * through cdr_calls) counted per day, week, month, hour, extension,
 * destination, trunk or outcome, as an aligned table, CSV, JSON or one
 * self-contained HTML page (report_html.c). The database does the counting;
 * this module parses the command line, runs the named statements of sql.c
 * and formats what comes back.
 */
#ifndef CDR_REPORT_H
#define CDR_REPORT_H

#include "cdrimport.h"
#include "config.h"
#include "db.h"

#include <stdio.h>

enum report_by {
    REPORT_BY_DAY, REPORT_BY_WEEK, REPORT_BY_MONTH, REPORT_BY_HOUR, REPORT_BY_EXTENSION,
    REPORT_BY_DESTINATION, REPORT_BY_TRUNK, REPORT_BY_OUTCOME
};
/* REPORT_FMT_AUTO: table on a terminal, else by -o's extension, else CSV. */
enum report_format { REPORT_FMT_AUTO, REPORT_FMT_TABLE, REPORT_FMT_CSV, REPORT_FMT_JSON,
                     REPORT_FMT_HTML };

/* A calendar day. */
struct report_date {
    int y, m, d;
};

struct report_opts {
    const char *source;          /* NULL: every source */
    struct report_date from, to; /* inclusive, local days of each source */
    enum report_by by;
    enum report_format format;
    const char *output;          /* NULL: stdout */
    int calls_from;              /* report_run's: sql.h's SQL_FROM_STORE or _ROWS */
};

/* One line of the summary: a key's counts (or the totals). */
struct report_row {
    char *key;
    long long calls, in, out, internal, answered, missed, busy, failed, talk_s, ring_s;
    bool total;
};

struct report_summary {
    struct report_row *rows; /* the keys, then the totals row last */
    size_t n, cap;
};

/* ---- pure pieces (unit tests) -------------------------------------------- */

/*
 * "YYYY-MM-DD", or "YYYY-MM" meaning the month's first day (last when
 * end), a real date between 1900 and 9999. False when it is not one.
 */
bool report_parse_date(const char *s, bool end, struct report_date *out);
/* "YYYY-MM-DD" into buf (at least 11 bytes). */
void report_format_date(const struct report_date *d, char *buf, size_t len);
/* <0, 0, >0 as strcmp. */
int report_date_cmp(const struct report_date *a, const struct report_date *b);
/* The next day. */
struct report_date report_date_next(struct report_date d);
int report_days_in_month(int y, int m);
/* Names to values: -1 when unknown. */
int report_by_lookup(const char *name);
int report_format_lookup(const char *name);
const char *report_by_name(enum report_by by);
/* Seconds as h:mm:ss ("0:00:00", "1:02:03", "100:00:00"); "-" below 0. */
void report_hms(long long secs, char *buf, size_t len);

/*
 * Parse `report`'s arguments (argv[0] is "report"); defaults for what is
 * absent: the month so far (from the first of this month to today),
 * format auto. On a usage error returns false with a message naming the
 * argument in err. today is the local date to default from.
 */
bool report_parse_args(int argc, char **argv, const struct report_date *today,
                       struct report_opts *o, char *err, size_t errlen);
/* The format that auto means: table on a terminal (tty), else by the
 * output's extension (.html, .json, .csv), else CSV. */
enum report_format report_resolve_format(enum report_format f, const char *output, bool tty);

/* Chart scaling (report_html.c): the axis maximum for a largest value v,
 * the smallest 1, 2 or 5 times a power of ten not below v (1 for v <= 1),
 * and a value's length in pixels on an axis of max over len pixels. */
long long report_nice_max(long long v);
/* How many intervals an axis of report_nice_max's max is cut into, so that
 * every tick is a whole number (1 -> 1, 2 -> 2, 5 -> 5, 10 -> 5, 20 -> 4). */
int report_ticks(long long max);
double report_scale(long long v, long long max, double len);

/* ---- the database -------------------------------------------------------- */

/* The summary of o's period by `by`, a row at a time to fn as the server
 * sends it (r and its key are fn's to read during the call only), or all
 * of it in *s (report_summary_query; frees with report_summary_free).
 * top > 0: only the first top keys, and no totals row. */
typedef void report_row_fn(void *ctx, const struct report_row *r);
enum load_status report_summary_each(struct db *db, const struct report_opts *o,
                                     enum report_by by, int top, report_row_fn *fn, void *ctx,
                                     char *err, size_t errlen);
enum load_status report_summary_query(struct db *db, const struct report_opts *o,
                                      enum report_by by, int top, struct report_summary *s,
                                      char *err, size_t errlen);
void report_summary_free(struct report_summary *s);

/* Text escaped for HTML (&, <, >, ", '), written to f. */
void report_html_text(FILE *f, const char *s);

/*
 * The whole command, after report_parse_args, with cfg loaded: checks
 * --source, connects, queries and writes. An exit status (cdrimport.h).
 */
int report_run(const struct cdr_config *cfg, const struct report_opts *o);

/* report_html.c: the HTML page for o (format already html). */
enum load_status report_html_write(struct db *db, const struct report_opts *o, FILE *f,
                                   char *err, size_t errlen);

#endif
