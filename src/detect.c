/*
 * detect.c - which profile a file is in, from its first records (see
 * detect.h). Column counts alone do not settle it: cdr_csv and cdr_custom
 * both write 18 and 19 columns. What does is where the times stand: the
 * start time is column 9 in KX-HTS and cdr_custom files and column 10 in
 * cdr_csv ones, and the end time is followed by the duration (a number)
 * in all three. A record that fits no layout (a header row, a damaged
 * line) votes for nothing; the layout most records fit wins.
 */
#include "detect.h"
#include "input.h"
#include "parse.h"
#include "value.h"
#include "plat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- one record ---------------------------------------------------------- */

static bool is_time(const char *s, size_t len)
{
    char out[20];
    return len > 0 && value_parse_time(s, len, out);
}

static bool is_time_or_empty(const char *s, size_t len)
{
    return len == 0 || is_time(s, len);
}

/* A duration: digits, or empty (some exports leave it out). */
static bool is_seconds(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* start, answer (empty when unanswered), end, then a duration. */
static bool times_at(const char *const *f, const size_t *lens, size_t start)
{
    return is_time(f[start], lens[start]) && is_time_or_empty(f[start + 1], lens[start + 1]) &&
           is_time(f[start + 2], lens[start + 2]) && is_seconds(f[start + 3], lens[start + 3]);
}

unsigned detect_record(const char *const *f, const size_t *lens, size_t n)
{
    unsigned fits = 0;
    if (n == 15 && times_at(f, lens, 8))
        fits |= DETECT_BIT(CDR_FMT_KXHTS);
    if (n >= 16 && n <= 21 && times_at(f, lens, 9))
        fits |= DETECT_BIT(CDR_FMT_ASTERISK);
    if ((n == 18 || n == 19) && times_at(f, lens, 8))
        fits |= DETECT_BIT(CDR_FMT_ASTERISK_CUSTOM);
    return fits;
}

/* cdr_csv's optional 17th column: a uniqueid ("1427211880.0",
 * "host-1427211880.0") rather than a userfield. profile.c decides row by
 * row the same way; here it only explains the choice. */
static bool uniqueid_shaped(const char *s, size_t len)
{
    const char *dot = NULL;
    for (size_t i = len; i-- > 0;)
        if (s[i] == '.') {
            dot = s + i;
            break;
        }
    if (!dot || dot == s || dot + 1 == s + len)
        return false;
    for (const char *c = dot + 1; c < s + len; c++)
        if (*c < '0' || *c > '9')
            return false;
    for (const char *c = dot; c-- > s && *c != '-';)
        if (*c < '0' || *c > '9')
            return false;
    return true;
}

/* ---- the first records --------------------------------------------------- */

#define NFMT (CDR_FMT_ASTERISK_CUSTOM + 1)

struct tally {
    unsigned records;
    unsigned votes[NFMT];
    unsigned first_cols[NFMT]; /* column count of the first record fitting each */
    unsigned first_any;        /* column count of the very first record */
    unsigned odd, odd_uid;     /* asterisk records of 17/20 columns; uniqueid-shaped */
    char odd_sample[48];
};

static enum parse_verdict on_record(void *ctx, const char *const *f, const size_t *lens,
                                    size_t n, uint64_t line, char *reason, size_t reason_len)
{
    (void)line, (void)reason, (void)reason_len;
    struct tally *t = ctx;
    if (t->records++ == 0)
        t->first_any = (unsigned)n;
    unsigned fits = detect_record(f, lens, n);
    for (int k = 0; k < NFMT; k++) {
        if (!(fits & DETECT_BIT(k)))
            continue;
        if (t->votes[k]++ == 0)
            t->first_cols[k] = (unsigned)n;
    }
    if ((fits & DETECT_BIT(CDR_FMT_ASTERISK)) && (n == 17 || n == 20)) {
        bool uid = uniqueid_shaped(f[16], lens[16]);
        if (t->odd++ == 0)
            snprintf(t->odd_sample, sizeof t->odd_sample, "%.*s",
                     (int)(lens[16] > 40 ? 40 : lens[16]), f[16]);
        t->odd_uid += uid;
    }
    return t->records >= DETECT_RECORDS ? PARSE_ABORT : PARSE_OK;
}

static enum parse_verdict on_reject(void *ctx, uint64_t line, const char *raw, size_t len,
                                    const char *reason)
{
    (void)ctx, (void)line, (void)raw, (void)len, (void)reason;
    return PARSE_OK;
}

/* The sample is shown in a log line: printable ASCII only. */
static void printable(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7F)
            *s = '?';
}

static void verdict(const struct tally *t, struct detect_result *out)
{
    int best = -1;
    /* Ties go to the earlier format in enum order (kx-hts first). */
    for (int k = 0; k < NFMT; k++)
        if (t->votes[k] && (best < 0 || t->votes[k] > t->votes[best]))
            best = k;
    *out = (struct detect_result){.fmt = CDR_FMT_KXHTS, .records = t->records};
    if (t->records == 0) {
        snprintf(out->reason, sizeof out->reason, "no records to look at; read as kx-hts");
        return;
    }
    if (best < 0) {
        snprintf(out->reason, sizeof out->reason,
                 "none of the first %u records fits a known layout (the first has %u "
                 "columns); read as kx-hts",
                 t->records, t->first_any);
        return;
    }
    out->known = true;
    out->fmt = (enum cdr_format)best;
    out->columns = t->first_cols[best];
    out->matched = t->votes[best];
    const char *where = best == CDR_FMT_ASTERISK ? "10" : "9";
    int w = snprintf(out->reason, sizeof out->reason,
                     "%u columns, start time in column %s (%u of %u records)", out->columns,
                     where, out->matched, t->records);
    if (best == CDR_FMT_ASTERISK && t->odd && w > 0 && (size_t)w < sizeof out->reason) {
        /* 17 or 20 columns: one of uniqueid and userfield is there. */
        char sample[48];
        snprintf(sample, sizeof sample, "%s", t->odd_sample);
        printable(sample);
        out->ambiguous = true;
        bool uid = t->odd_uid * 2 >= t->odd;
        snprintf(out->reason + w, sizeof out->reason - (size_t)w,
                 "; with %u columns cdr_csv has a uniqueid or a userfield: column 17 "
                 "('%s') is shaped like a uniqueid in %u of %u records, so it is taken "
                 "for %s (each row is looked at again)",
                 out->columns, sample, t->odd_uid, t->odd, uid ? "the uniqueid" : "the userfield");
    }
}

void detect_text(const char *head, size_t len, bool complete, size_t max_line_bytes,
                 struct detect_result *out)
{
    struct tally t = {0};
    struct parse_cb cb = {on_record, on_reject, &t};
    if (!complete) {
        /* Leave out a last line the head may have cut. */
        const char *nl = len ? plat_memrchr(head, '\n', len) : NULL;
        len = nl ? (size_t)(nl - head) + 1 : 0;
    }
    struct parser *p = parse_create(max_line_bytes, &cb);
    if (p) {
        if (parse_feed(p, head, len) == 0 && complete)
            parse_finish(p);
        parse_destroy(p);
    }
    verdict(&t, out);
}

int detect_input(struct input *in, size_t max_line_bytes, struct detect_result *out)
{
    if (!input_can_rewind(in)) {
        *out = (struct detect_result){.fmt = CDR_FMT_KXHTS};
        snprintf(out->reason, sizeof out->reason,
                 "an input that cannot be read twice is not looked at; read as kx-hts");
        return 0;
    }
    if (input_offset(in) != 0 && input_rewind(in) < 0)
        return -1;
    char *head = xmalloc(DETECT_HEAD);
    size_t len = 0;
    ssize_t n = 0;
    while (len < DETECT_HEAD && (n = input_read(in, head + len, DETECT_HEAD - len)) > 0)
        len += (size_t)n;
    int saved = errno;
    if (n < 0) {
        free(head);
        errno = saved;
        return -1;
    }
    detect_text(head, len, len < DETECT_HEAD, max_line_bytes, out);
    free(head);
    return input_rewind(in);
}

/* ---- words --------------------------------------------------------------- */

const char *detect_describe(enum cdr_format fmt)
{
    switch (fmt) {
    case CDR_FMT_KXHTS: return "a Panasonic KX-HTS file";
    case CDR_FMT_ASTERISK: return "an Asterisk cdr_csv file";
    case CDR_FMT_ASTERISK_CUSTOM: return "an Asterisk cdr_custom file";
    case CDR_FMT_CUSTOM: return "a file of the source's own columns";
    case CDR_FMT_AUTO: break;
    }
    return "a file of unknown format";
}

bool detect_hint(const struct detect_result *d, enum cdr_format configured, const char *source,
                 char *out, size_t outlen)
{
    if (!d->known || d->fmt == configured || configured == CDR_FMT_AUTO)
        return false;
    snprintf(out, outlen,
             "it looks like %s (%u columns), not %s: set `format: %s` (or `format: auto`) "
             "for source '%s' in importer.yaml",
             detect_describe(d->fmt), d->columns, profile_format_name(configured),
             profile_format_name(d->fmt), source);
    return true;
}
