/*
 * pipeline.c - a file's bytes through parse -> profile -> row key and
 * binary tuple -> reject line, as file.c and load.c take them, without a
 * database (see pipeline.h). The checks here are the contracts between
 * the steps: a row the profile accepts has canonical times and durations,
 * valid UTF-8 text without NUL (the server refuses both), an `extra` that
 * is a JSON object of strings, a COPY text content with exactly its 16
 * separators, a call_time whose local seconds give the same text back;
 * line numbers only go forwards; a rejected line is bytes of the input.
 */
#include "pipeline.h"

#include "checksum.h"
#include "copybin.h"
#include "copytext.h"
#include "ledger.h"
#include "parse.h"
#include "value.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

struct profile *fuzz_profile_make(enum fuzz_profile which, const char *encoding)
{
    char err[CDR_ERRLEN];
    struct profile *p = NULL;
    switch (which) {
    case FUZZ_KXHTS:
        p = profile_create(CDR_FMT_KXHTS, NULL, 0, encoding, err, sizeof err);
        break;
    case FUZZ_ASTERISK:
        p = profile_create(CDR_FMT_ASTERISK, NULL, 0, encoding, err, sizeof err);
        break;
    case FUZZ_ASTERISK_CUSTOM:
        p = profile_create(CDR_FMT_ASTERISK_CUSTOM, NULL, 0, encoding, err, sizeof err);
        break;
    case FUZZ_CUSTOM: {
        /* Every kind of column, and an extra name JSON must escape. */
        char note[] = "note", odd[] = "q\"\\\x01";
        struct cdr_colspec cols[] = {
            {CDR_COL_FIELD, CDR_F_CALL_TIME, NULL},
            {CDR_COL_FIELD, CDR_F_CALLER_PHONE, NULL},
            {CDR_COL_FIELD, CDR_F_DIALED_PHONE, NULL},
            {CDR_COL_EXTRA, CDR_F_COUNT, note},
            {CDR_COL_SKIP, CDR_F_COUNT, NULL},
            {CDR_COL_FIELD, CDR_F_TOTAL_DURATION, NULL},
            {CDR_COL_FIELD, CDR_F_CALL_DURATION, NULL},
            {CDR_COL_FIELD, CDR_F_ANSWER_TIME, NULL},
            {CDR_COL_FIELD, CDR_F_CALL_ID, NULL},
            {CDR_COL_EXTRA, CDR_F_COUNT, odd},
        };
        p = profile_create(CDR_FMT_CUSTOM, cols, sizeof cols / sizeof *cols, encoding, err,
                           sizeof err);
        if (p)
            profile_set_header(p, true);
        break;
    }
    }
    if (!p)
        fuzz_fail("profile %d (%s): %s", (int)which, encoding ? encoding : "utf-8", err);
    return p;
}

/* ---- one pass --------------------------------------------------------------- */

struct run {
    struct profile *prof;
    bool header_pending;      /* as file.c's pass */
    struct checksum *sum;     /* the digest of the pass */
    struct checksum *keys;    /* row keys, as the loader thread makes them */
    struct copybin_dates dates;
    uint64_t last_line;
    const unsigned char *whole; /* the input when it is in memory, else NULL */
    size_t whole_len;
    struct fuzz_summary *out;
    char *text, *tuple, *rej; /* scratch, grown as needed */
    size_t text_cap, tuple_cap, rej_cap;
};

static void grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    free(*buf);
    *buf = xmalloc(need);
    *cap = need;
}

static void check_line(struct run *r, uint64_t line, const char *what)
{
    if (line == 0 || line < r->last_line)
        fuzz_fail("%s at line %llu after line %llu", what, (unsigned long long)line,
                  (unsigned long long)r->last_line);
    r->last_line = line;
}

static void check_text(const char *v, size_t n, int f)
{
    const unsigned char *u = (const unsigned char *)v;
    for (size_t i = 0; i < n;) {
        if (u[i] == 0)
            fuzz_fail("field %s: NUL byte in a mapped value", profile_field_name(f));
        size_t k = cdr_utf8_len(u + i, n - i);
        if (!k)
            fuzz_fail("field %s: invalid UTF-8 at byte %zu", profile_field_name(f), i);
        i += k;
    }
}

static void check_row(struct run *r, const struct cdr_row *row)
{
    for (int f = 0; f < CDR_F_COUNT; f++) {
        if (!row->val[f]) {
            if (row->len[f])
                fuzz_fail("field %s: NULL with length %zu", profile_field_name(f), row->len[f]);
            if (f == CDR_F_CALL_TIME)
                fuzz_fail("a row without call_time");
            continue;
        }
        if (f >= CDR_F_CALL_TIME && f <= CDR_F_END_TIME) {
            char again[20];
            if (row->len[f] != 19 || !value_parse_time(row->val[f], 19, again) ||
                memcmp(again, row->val[f], 19) != 0)
                fuzz_fail("field %s: time not canonical", profile_field_name(f));
            /* load.c's local seconds, and zone.c's question text back. */
            int64_t secs = copybin_local_seconds(&r->dates, row->val[f]);
            copybin_format_local(secs, again);
            if (memcmp(again, row->val[f], 19) != 0)
                fuzz_fail("field %s: local seconds of '%.19s' read back as '%s'",
                          profile_field_name(f), row->val[f], again);
        } else if (f == CDR_F_TOTAL_DURATION || f == CDR_F_CALL_DURATION) {
            char num[VALUE_SECONDS_MAX];
            size_t k;
            if (!value_parse_seconds(row->val[f], row->len[f], num, &k) || k != row->len[f] ||
                memcmp(num, row->val[f], k) != 0)
                fuzz_fail("field %s: duration not canonical", profile_field_name(f));
        } else {
            check_text(row->val[f], row->len[f], f);
        }
    }
    if (row->extra_json) {
        check_text(row->extra_json, row->extra_len, CDR_F_COUNT);
        json_error_t jerr;
        json_t *j = json_loadb(row->extra_json, row->extra_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!j || !json_is_object(j) || json_object_size(j) == 0)
            fuzz_fail("extra is not a non-empty JSON object: %s: %.*s", j ? "" : jerr.text,
                      (int)row->extra_len, row->extra_json);
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) {
            if (!json_is_string(v))
                fuzz_fail("extra.%s is not a string", k);
        }
        json_decref(j);
    } else if (row->extra_len) {
        fuzz_fail("no extra, but extra_len %zu", row->extra_len);
    }
}

/* The row's COPY text content and key (load_row, load_batch), and its
 * binary tuple as load_row writes it. */
static void encode_row(struct run *r, const struct cdr_row *row, uint64_t line)
{
    static const char source[] = "fuzz\t\\src";
    char esc[2 * sizeof source];
    size_t el = copytext_escape(esc, source, sizeof source - 1);
    size_t max = copytext_content_max(el, row);
    grow(&r->text, &r->text_cap, max);
    size_t n = copytext_content(r->text, esc, el, row);
    if (n > max)
        fuzz_fail("COPY content of %zu bytes, room for %zu", n, max);
    size_t tabs = 0;
    for (size_t i = 0; i < n; i++) {
        if (r->text[i] == '\t')
            tabs++;
        else if (r->text[i] == '\n' || r->text[i] == '\r')
            fuzz_fail("raw line end in COPY content");
    }
    if (tabs != CDR_F_COUNT + 1)
        fuzz_fail("COPY content with %zu separators", tabs);
    unsigned char key[16];
    copytext_key(r->keys, r->text, n, key);

    /* The tuple: the same calls, in the same order, as load_row (schema 6:
     * file_id and line_no int4, no stored call_duration). */
    size_t need = 2 + 20 * 4 + 3 * 8 + 16 + 4 + 4 + 2 * 4 + sizeof source + row->extra_len + 1;
    for (int f = 0; f < CDR_F_COUNT; f++)
        need += row->len[f];
    grow(&r->tuple, &r->tuple_cap, need);
    char *w = copybin_i16(r->tuple, 20);
    for (int f = CDR_F_CALL_TIME; f <= CDR_F_END_TIME; f++) {
        if (row->val[f]) {
            w = copybin_i32(w, 8);
            w = copybin_i64(w, copybin_local_seconds(&r->dates, row->val[f]));
        } else {
            w = copybin_null(w);
        }
    }
    w = copybin_bytes(w, key, 16);
    w = copybin_i32(w, 4);
    w = copybin_i32(w, 1);
    w = copybin_i32(w, 4);
    w = copybin_i32(w, (int32_t)line);
    int32_t secs;
    for (int f = CDR_F_TOTAL_DURATION; f <= CDR_F_CALL_DURATION; f++) {
        if (row->val[f]) {
            w = copybin_int4_text(w, row->val[f], row->len[f], &secs);
            if (secs < 0)
                fuzz_fail("negative duration");
        } else {
            w = copybin_null(w);
        }
    }
    w = copybin_bytes(w, source, sizeof source - 1);
    static const enum cdr_field text[] = {
        CDR_F_CALL_ID, CDR_F_CALLER_PHONE, CDR_F_DIALED_PHONE, CDR_F_FLAG2, CDR_F_FLAG3,
        CDR_F_CALL_TYPE, CDR_F_ACCOUNT_CODE, CDR_F_SRC_CHANNEL, CDR_F_DST_CHANNEL, CDR_F_FEATURE,
    };
    for (size_t k = 0; k < sizeof text / sizeof *text; k++) {
        enum cdr_field f = text[k];
        w = row->val[f] ? copybin_bytes(w, row->val[f], row->len[f]) : copybin_null(w);
    }
    w = row->extra_json ? copybin_jsonb(w, row->extra_json, row->extra_len) : copybin_null(w);
    if ((size_t)(w - r->tuple) > need)
        fuzz_fail("tuple of %zu bytes, room for %zu", (size_t)(w - r->tuple), need);

    unsigned char tag = 'R';
    checksum_update(r->sum, &tag, 1);
    checksum_update(r->sum, &line, sizeof line);
    checksum_update(r->sum, r->text, n);
}

static enum parse_verdict on_record(void *ctx, const char *const *fields, const size_t *lens,
                                    size_t n, uint64_t line, char *reason, size_t reason_len)
{
    struct run *r = ctx;
    check_line(r, line, "record");
    if (r->header_pending) {
        r->header_pending = false;
        return PARSE_OK;
    }
    struct cdr_row row;
    if (!profile_map(r->prof, fields, lens, n, &row, reason, reason_len))
        return PARSE_BAD;
    if (!memchr(reason, '\0', reason_len))
        fuzz_fail("reason not terminated");
    check_row(r, &row);
    encode_row(r, &row, line);
    r->out->rows++;
    return PARSE_OK;
}

static enum parse_verdict on_reject(void *ctx, uint64_t line, const char *raw, size_t len,
                                    const char *reason)
{
    struct run *r = ctx;
    check_line(r, line, "reject");
    r->header_pending = false; /* a broken first line is not a header */
    if (r->whole && len && !memmem(r->whole, r->whole_len, raw, len))
        fuzz_fail("rejected line %llu: bytes that are not in the input",
                  (unsigned long long)line);
    if (len && (raw[len - 1] == '\n'))
        fuzz_fail("rejected line %llu keeps its line end", (unsigned long long)line);
    size_t max = ledger_reject_max(len, reason);
    grow(&r->rej, &r->rej_cap, max);
    size_t n = ledger_reject_line(r->rej, "1", line, raw, len, reason);
    if (n > max)
        fuzz_fail("reject line of %zu bytes, room for %zu", n, max);
    if (memchr(r->rej, '\n', n) != r->rej + n - 1)
        fuzz_fail("reject COPY line with a raw line end inside");
    unsigned char tag = 'J';
    checksum_update(r->sum, &tag, 1);
    checksum_update(r->sum, &line, sizeof line);
    checksum_update(r->sum, raw, len);
    checksum_update(r->sum, reason, strlen(reason) + 1);
    r->out->rejects++;
    return PARSE_OK;
}

static void run_pass(struct run *r, size_t max_line, fuzz_next_fn *next, fuzz_cut_fn *cutfn,
                     void *ctx, size_t chunk)
{
    struct parse_cb cb = {on_record, on_reject, r};
    struct parser *p = parse_create(max_line, &cb);
    if (!p)
        fuzz_fail("parse_create");
    memset(r->out, 0, sizeof *r->out);
    r->header_pending = profile_has_header(r->prof);
    /* Made once: OpenSSL's digest fetch would cost more than a pass. */
    static struct checksum *sum, *keys;
    if (!sum) {
        sum = checksum_create();
        keys = checksum_create();
    }
    r->sum = sum;
    r->keys = keys;
    checksum_reset(sum);
    r->last_line = 0;
    unsigned char *buf = xmalloc(chunk ? chunk : 1);
    size_t n;
    while ((n = next(ctx, buf, chunk ? chunk : 1)) > 0)
        if (parse_feed(p, buf, n) < 0)
            fuzz_fail("parse_feed aborted, but no callback asked it to");
    const char *why = cutfn ? cutfn(ctx) : NULL;
    char cut[CDR_ERRLEN];
    if (why)
        snprintf(cut, sizeof cut, "cut short by damage to the archive: %s", why);
    if ((why ? parse_finish_cut(p, cut) : parse_finish(p)) < 0)
        fuzz_fail("parse_finish aborted, but no callback asked it to");
    r->out->lines = parse_lines(p);
    if (r->last_line > r->out->lines)
        fuzz_fail("a record on line %llu of %llu", (unsigned long long)r->last_line,
                  (unsigned long long)r->out->lines);
    checksum_update(r->sum, &r->out->lines, sizeof r->out->lines);
    checksum_final_hex(r->sum, r->out->digest);
    free(buf);
    parse_destroy(p);
    free(r->text);
    free(r->tuple);
    free(r->rej);
    r->text = r->tuple = r->rej = NULL;
    r->text_cap = r->tuple_cap = r->rej_cap = 0;
}

void fuzz_pipeline_run(struct profile *prof, size_t max_line, fuzz_next_fn *next,
                       fuzz_cut_fn *cut, void *ctx, size_t chunk, struct fuzz_summary *out)
{
    struct run r = {.prof = prof, .out = out};
    run_pass(&r, max_line, next, cut, ctx, chunk);
}

/* Bytes in memory, handed out in pieces of pseudo-random sizes. */
struct mem {
    const unsigned char *data;
    size_t len, pos;
    uint32_t state; /* 0: everything at once */
    const char *cut;
};

static const char *mem_cut(void *ctx)
{
    return ((struct mem *)ctx)->cut;
}

static size_t mem_next(void *ctx, unsigned char *buf, size_t cap)
{
    struct mem *m = ctx;
    size_t n = m->len - m->pos;
    if (m->state) {
        /* xorshift: a quarter of the pieces tiny (a CRLF or a BOM split
         * across feeds), the rest up to 128 bytes (tiny ones only would
         * make the pass four times slower for little more coverage). */
        m->state ^= m->state << 13;
        m->state ^= m->state >> 17;
        m->state ^= m->state << 5;
        size_t want = (m->state & 3) ? 1 + (m->state >> 8) % 128 : 1 + (m->state >> 8) % 4;
        if (n > want)
            n = want;
    }
    if (n > cap)
        n = cap;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return n;
}

void fuzz_pipeline_bytes(struct profile *prof, size_t max_line, const unsigned char *data,
                         size_t len, unsigned seed, const char *cut, struct fuzz_summary *out)
{
    struct mem m = {data, len, 0, seed ? seed * 2654435761u | 1u : 0, cut};
    struct run r = {.prof = prof, .out = out, .whole = data, .whole_len = len};
    run_pass(&r, max_line, mem_next, mem_cut, &m, len ? len : 1);
}
