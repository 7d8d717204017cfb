/*
 * report_args.c - `cdrimport report`'s command line (report.h): the
 * options, the period's dates, the names of --by and --format, and what
 * --format auto means. Pure, for the unit tests; dates are checked here,
 * before any query, so that a bad one is a usage error naming the
 * argument, not a server message.
 */
#include "report.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const by_names[] = {
    [REPORT_BY_DAY] = "day",           [REPORT_BY_WEEK] = "week",
    [REPORT_BY_MONTH] = "month",       [REPORT_BY_HOUR] = "hour",
    [REPORT_BY_EXTENSION] = "extension", [REPORT_BY_DESTINATION] = "destination",
    [REPORT_BY_TRUNK] = "trunk",       [REPORT_BY_OUTCOME] = "outcome"};
static const char *const format_names[] = {
    [REPORT_FMT_AUTO] = "auto", [REPORT_FMT_TABLE] = "table", [REPORT_FMT_CSV] = "csv",
    [REPORT_FMT_JSON] = "json", [REPORT_FMT_HTML] = "html"};

#define NELEM(a) (sizeof(a) / sizeof *(a))

/* ---- dates and durations ------------------------------------------------- */

int report_days_in_month(int y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

/* n digits exactly, as a number; -1 otherwise. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

bool report_parse_date(const char *s, bool end, struct report_date *out)
{
    size_t n = strlen(s);
    if ((n != 7 && n != 10) || s[4] != '-' || (n == 10 && s[7] != '-'))
        return false;
    int y = digits(s, 4), m = digits(s + 5, 2);
    if (y < 1900 || m < 1 || m > 12)
        return false;
    int d;
    if (n == 7) {
        d = end ? report_days_in_month(y, m) : 1;
    } else {
        d = digits(s + 8, 2);
        if (d < 1 || d > report_days_in_month(y, m))
            return false;
    }
    *out = (struct report_date){y, m, d};
    return true;
}

void report_format_date(const struct report_date *d, char *buf, size_t len)
{
    snprintf(buf, len, "%04d-%02d-%02d", d->y, d->m, d->d);
}

int report_date_cmp(const struct report_date *a, const struct report_date *b)
{
    if (a->y != b->y)
        return a->y < b->y ? -1 : 1;
    if (a->m != b->m)
        return a->m < b->m ? -1 : 1;
    return a->d < b->d ? -1 : a->d > b->d;
}

struct report_date report_date_next(struct report_date d)
{
    if (++d.d > report_days_in_month(d.y, d.m)) {
        d.d = 1;
        if (++d.m > 12) {
            d.m = 1;
            d.y++;
        }
    }
    return d;
}

void report_hms(long long secs, char *buf, size_t len)
{
    if (secs < 0) {
        snprintf(buf, len, "-");
        return;
    }
    snprintf(buf, len, "%lld:%02lld:%02lld", secs / 3600, secs / 60 % 60, secs % 60);
}

static int lookup(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (names[i] && !strcmp(names[i], name))
            return (int)i;
    return -1;
}

int report_by_lookup(const char *name)
{
    return lookup(by_names, NELEM(by_names), name);
}

int report_format_lookup(const char *name)
{
    /* "auto" is the absence of --format, not a value of it. */
    int v = lookup(format_names, NELEM(format_names), name);
    return v == REPORT_FMT_AUTO ? -1 : v;
}

const char *report_by_name(enum report_by by)
{
    return by_names[by];
}

/* ---- the command line ---------------------------------------------------- */

bool report_parse_args(int argc, char **argv, const struct report_date *today,
                       struct report_opts *o, char *err, size_t errlen)
{
    static const struct option opts[] = {
        {"source", required_argument, NULL, 's'}, {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},     {"by", required_argument, NULL, 'b'},
        {"format", required_argument, NULL, 'F'}, {"output", required_argument, NULL, 'o'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct report_opts){.by = REPORT_BY_DAY, .format = REPORT_FMT_AUTO};
    bool have_from = false, have_to = false;
    int c;
    optind = 1;
    opterr = 0; /* our own messages, naming the argument */
    while ((c = getopt_long(argc, argv, "+s:o:", opts, NULL)) != -1) {
        switch (c) {
        case 's': o->source = optarg; break;
        case 'o': o->output = optarg; break;
        case 'f':
            if (!report_parse_date(optarg, false, &o->from))
                return cdr_fail(err, errlen, "--from: not a date (YYYY-MM-DD or YYYY-MM): '%s'",
                            optarg);
            have_from = true;
            break;
        case 't':
            if (!report_parse_date(optarg, true, &o->to))
                return cdr_fail(err, errlen, "--to: not a date (YYYY-MM-DD or YYYY-MM): '%s'",
                            optarg);
            have_to = true;
            break;
        case 'b': {
            int v = report_by_lookup(optarg);
            if (v < 0)
                return cdr_fail(err, errlen, "--by: unknown value '%s' (one of: day, week, month,"
                            " hour, extension, destination, trunk, outcome)", optarg);
            o->by = (enum report_by)v;
            break;
        }
        case 'F': {
            int v = report_format_lookup(optarg);
            if (v < 0)
                return cdr_fail(err, errlen,
                            "--format: unknown value '%s' (one of: table, csv, json, html)",
                            optarg);
            o->format = (enum report_format)v;
            break;
        }
        default:
            /* getopt has stepped past the word at fault: an unknown option,
             * or one whose value is missing. */
            return cdr_fail(err, errlen, "report: unknown option or missing value: '%s'",
                        argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cdr_fail(err, errlen, "report takes no arguments: '%s'", argv[optind]);
    if (!have_to)
        o->to = *today;
    if (!have_from)
        o->from = (struct report_date){o->to.y, o->to.m, 1};
    if (report_date_cmp(&o->from, &o->to) > 0) {
        char a[16], b[16];
        report_format_date(&o->from, a, sizeof a);
        report_format_date(&o->to, b, sizeof b);
        return cdr_fail(err, errlen, "--from %s is after --to %s", a, b);
    }
    return true;
}

enum report_format report_resolve_format(enum report_format f, const char *output, bool tty)
{
    if (f != REPORT_FMT_AUTO)
        return f;
    if (output) {
        const char *dot = strrchr(output, '.');
        if (dot && (!strcasecmp(dot, ".html") || !strcasecmp(dot, ".htm")))
            return REPORT_FMT_HTML;
        if (dot && !strcasecmp(dot, ".json"))
            return REPORT_FMT_JSON;
        return REPORT_FMT_CSV;
    }
    return tty ? REPORT_FMT_TABLE : REPORT_FMT_CSV;
}
