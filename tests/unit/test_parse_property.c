/*
 * test_parse_property.c - a property of the CSV path that the importer's
 * dedup and fidelity rest on: a valid record reads back as exactly the
 * values that were written, however the file writes it. Random KX-HTS
 * rows (15 fields: text with quotes, commas, line ends, tabs, backslashes
 * and multi-byte UTF-8; canonical times; durations) are rendered in every
 * quoting style (none, all quoted, only where needed), with LF or CRLF
 * line ends (a lone CR is data to parse.c, never a line end), with and
 * without a UTF-8 BOM and a last line end, and fed in random chunk sizes.
 * Each rendering must give the generated fields on their physical lines,
 * no reject, and after profile.c's mapping the generated values and one
 * row key per row across all renderings.
 *
 * The rows come from a seeded PRNG: CDR_PROPERTY_SEED=N and
 * CDR_PROPERTY_ROUNDS=N choose them; a failure prints the seed and round.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copytext.h"
#include "parse.h"
#include "profile.h"
#include "testutil.h"

#define NFIELDS 15
#define MAXROWS 6

/* ---- the generator ------------------------------------------------------- */

static uint64_t rng;

static uint64_t next_rand(void)
{
    /* splitmix64: good enough, and the same everywhere. */
    uint64_t z = (rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static unsigned pick(unsigned n)
{
    return (unsigned)(next_rand() % n);
}

/* Pieces text fields are made of: what needs quoting, what COPY and JSON
 * escape, multi-byte UTF-8, and plain letters. */
static const char *const pieces_any[] = {
    "a", "Z", "0", "7", " ", ",", "\"", "\"\"", "\n", "\r\n", "\r", "\t", "\\", "\\N", "'",
    "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x93\x9E", "SIP/1-00", "<100>", ";", "\xEF\xBB\xBF",
};
/* For the unquoted style: nothing that needs quotes. */
static const char *const pieces_bare[] = {
    "a", "Z", "0", "7", " ", "\t", "\\", "\\N", "'", "\xC3\xA9", "\xE2\x82\xAC",
    "\xF0\x9F\x93\x9E", "SIP/1-00", "<100>", ";",
};

/* KX-HTS columns (profile.c's kxhts_cols): 8-10 times, 11-12 durations,
 * 14 the call ID (0-based). */
static bool is_time(int i)
{
    return i >= 8 && i <= 10;
}

static bool is_secs(int i)
{
    return i == 11 || i == 12;
}

struct row {
    char f[NFIELDS][128];
    size_t len[NFIELDS];
};

static void gen_text(char *out, size_t *len, bool bare)
{
    const char *const *p = bare ? pieces_bare : pieces_any;
    unsigned np = bare ? sizeof pieces_bare / sizeof *pieces_bare
                       : sizeof pieces_any / sizeof *pieces_any;
    size_t n = 0;
    unsigned k = pick(8);
    for (unsigned i = 0; i < k; i++) {
        const char *s = p[pick(np)];
        /* U+FEFF first in the file, unquoted, is a BOM by definition. */
        if (i == 0 && !strcmp(s, "\xEF\xBB\xBF"))
            s = "a";
        size_t l = strlen(s);
        if (n + l >= 120)
            break;
        memcpy(out + n, s, l);
        n += l;
    }
    out[n] = '\0';
    *len = n;
}

static void gen_row(struct row *r, bool bare)
{
    for (int i = 0; i < NFIELDS; i++) {
        if (is_time(i)) {
            if (i > 8 && pick(4) == 0) { /* answer or end time left empty */
                r->f[i][0] = '\0';
                r->len[i] = 0;
                continue;
            }
            snprintf(r->f[i], sizeof r->f[i], "%04u-%02u-%02u %02u:%02u:%02u", 1970 + pick(130),
                     1 + pick(12), 1 + pick(28), pick(24), pick(60), pick(60));
        } else if (is_secs(i)) {
            snprintf(r->f[i], sizeof r->f[i], "%u", pick(4) ? pick(100000) : (unsigned)(next_rand() % 2147483648u));
        } else {
            gen_text(r->f[i], &r->len[i], bare);
            if (i == 14 && r->len[i] == 0) /* an empty call ID is NULL: keep one */
                strcpy(r->f[i], "1.1");
            else
                continue;
        }
        r->len[i] = strlen(r->f[i]);
    }
}

/* ---- rendering ------------------------------------------------------------ */

enum style { BARE, ALL_QUOTED, MINIMAL, NSTYLES };
static const char *const style_names[] = {"unquoted", "all quoted", "quoted where needed"};

struct out {
    char *buf;
    size_t len, cap;
};

static void put(struct out *o, const void *s, size_t n)
{
    if (o->len + n > o->cap) {
        while (o->len + n > o->cap)
            o->cap = o->cap ? 2 * o->cap : 1024;
        o->buf = xrealloc(o->buf, o->cap);
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static bool needs_quotes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
            return true;
    return false;
}

static void put_field(struct out *o, const char *s, size_t n, enum style st)
{
    bool quote = st == ALL_QUOTED || (st == MINIMAL && needs_quotes(s, n));
    if (!quote) {
        put(o, s, n);
        return;
    }
    put(o, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            put(o, "\"", 1);
        put(o, s + i, 1);
    }
    put(o, "\"", 1);
}

/* The file, and the line each row starts on. */
static void render(const struct row *rows, size_t nrows, enum style st, bool crlf, bool bom,
                   bool last_eol, struct out *o, uint64_t *lines)
{
    o->len = 0;
    if (bom)
        put(o, "\xEF\xBB\xBF", 3);
    uint64_t line = 1;
    size_t from = o->len;
    for (size_t r = 0; r < nrows; r++) {
        for (size_t i = from; i < o->len; i++)
            line += o->buf[i] == '\n';
        from = o->len;
        lines[r] = line;
        for (int i = 0; i < NFIELDS; i++) {
            if (i)
                put(o, ",", 1);
            put_field(o, rows[r].f[i], rows[r].len[i], st);
        }
        if (r + 1 < nrows || last_eol)
            put(o, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
    }
}

/* ---- the parse -------------------------------------------------------------- */

struct got {
    const struct row *rows;
    const uint64_t *lines;
    size_t nrows, seen;
    struct profile *prof;
    unsigned char keys[MAXROWS][16];
    const char *what; /* for messages */
};

static enum parse_verdict on_record(void *ctx, const char *const *fields, const size_t *lens,
                                    size_t n, uint64_t line, char *reason, size_t reason_len)
{
    struct got *g = ctx;
    if (g->seen >= g->nrows)
        fail_msg("%s: a record more than the %zu written (line %llu)", g->what, g->nrows,
                 (unsigned long long)line);
    const struct row *r = &g->rows[g->seen];
    if (n != NFIELDS)
        fail_msg("%s: row %zu: %zu fields, %d written", g->what, g->seen, n, NFIELDS);
    if (line != g->lines[g->seen])
        fail_msg("%s: row %zu on line %llu, written on %llu", g->what, g->seen,
                 (unsigned long long)line, (unsigned long long)g->lines[g->seen]);
    for (int i = 0; i < NFIELDS; i++) {
        if (lens[i] != r->len[i] || memcmp(fields[i], r->f[i], lens[i]) != 0) {
            print_message("written: ");
            show_bytes(r->f[i], r->len[i]);
            print_message("\nread:    ");
            show_bytes(fields[i], lens[i]);
            print_message("\n");
            fail_msg("%s: row %zu field %d differs", g->what, g->seen, i + 1);
        }
    }
    struct cdr_row row;
    if (!profile_map(g->prof, fields, lens, n, &row, reason, reason_len))
        fail_msg("%s: row %zu not mapped: %s", g->what, g->seen, reason);
    if (row.repaired)
        fail_msg("%s: row %zu repaired, but it is valid UTF-8", g->what, g->seen);
    /* Mapped values are the written ones (times and durations were
     * written canonical, text is valid UTF-8). */
    static const int target[NFIELDS] = {
        CDR_F_ACCOUNT_CODE, CDR_F_CALLER_PHONE, CDR_F_DIALED_PHONE, CDR_F_SRC_CHANNEL,
        CDR_F_DST_CHANNEL, CDR_F_FEATURE, CDR_F_FLAG2, CDR_F_FLAG3, CDR_F_CALL_TIME,
        CDR_F_ANSWER_TIME, CDR_F_END_TIME, CDR_F_TOTAL_DURATION, CDR_F_CALL_DURATION,
        CDR_F_CALL_TYPE, CDR_F_CALL_ID,
    };
    for (int i = 0; i < NFIELDS; i++) {
        int f = target[i];
        bool null = (is_time(i) || is_secs(i)) && r->len[i] == 0;
        if (null ? row.val[f] != NULL
                 : (!row.val[f] || row.len[f] != r->len[i] ||
                    memcmp(row.val[f], r->f[i], r->len[i]) != 0))
            fail_msg("%s: row %zu: mapped %s differs", g->what, g->seen, profile_field_name(f));
    }
    copytext_row_key("property", &row, g->keys[g->seen]);
    g->seen++;
    return PARSE_OK;
}

static enum parse_verdict on_reject(void *ctx, uint64_t line, const char *raw, size_t len,
                                    const char *reason)
{
    struct got *g = ctx;
    print_message("rejected: ");
    show_bytes(raw, len);
    print_message("\n");
    fail_msg("%s: line %llu rejected: %s", g->what, (unsigned long long)line, reason);
    return PARSE_OK;
}

/* Feed in pieces of random sizes (0: the whole file at once). */
static void parse_in_pieces(struct got *g, const struct out *o, unsigned maxpiece)
{
    struct parse_cb cb = {on_record, on_reject, g};
    struct parser *p = parse_create(0, &cb);
    assert_non_null(p);
    for (size_t at = 0; at < o->len;) {
        size_t n = maxpiece ? 1 + pick(maxpiece) : o->len;
        if (n > o->len - at)
            n = o->len - at;
        /* Each piece in its own allocation: an over-read shows under ASan. */
        char *piece = xmalloc(n);
        memcpy(piece, o->buf + at, n);
        assert_int_equal(parse_feed(p, piece, n), 0);
        free(piece);
        at += n;
    }
    assert_int_equal(parse_finish(p), 0);
    parse_destroy(p);
    if (g->seen != g->nrows)
        fail_msg("%s: %zu records read, %zu written", g->what, g->seen, g->nrows);
}

static void test_written_values_read_back(void **state)
{
    (void)state;
    const char *env = getenv("CDR_PROPERTY_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : 20261202u;
    env = getenv("CDR_PROPERTY_ROUNDS");
    unsigned rounds = env ? (unsigned)strtoul(env, NULL, 10) : 300;
    print_message("seed %llu, %u rounds (CDR_PROPERTY_SEED, CDR_PROPERTY_ROUNDS)\n",
                  (unsigned long long)seed, rounds);
    char err[CDR_ERRLEN];
    struct profile *prof = profile_create(CDR_FMT_KXHTS, NULL, 0, NULL, err, sizeof err);
    assert_non_null(prof);
    struct out o = {0};
    static const unsigned pieces[] = {0, 1, 2, 3, 7, 64};

    for (unsigned round = 0; round < rounds; round++) {
        rng = seed * 1000003u + round;
        struct row rows[MAXROWS];
        size_t nrows = 1 + pick(MAXROWS);
        bool bare = round % 3 == 0; /* every style can write these */
        for (size_t r = 0; r < nrows; r++)
            gen_row(&rows[r], bare);
        unsigned char first_keys[MAXROWS][16];
        bool have_keys = false;
        for (int st = bare ? BARE : ALL_QUOTED; st < NSTYLES; st++)
            for (int crlf = 0; crlf < 2; crlf++)
                for (int bom = 0; bom < 2; bom++)
                    for (int eol = 0; eol < 2; eol++)
                        for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
                            uint64_t lines[MAXROWS];
                            render(rows, nrows, (enum style)st, crlf, bom, eol, &o, lines);
                            char what[256];
                            snprintf(what, sizeof what,
                                     "seed %llu round %u (%s, %s, %s BOM, %s last line end, "
                                     "pieces of %s%u bytes)",
                                     (unsigned long long)seed, round, style_names[st],
                                     crlf ? "CRLF" : "LF", bom ? "with" : "no",
                                     eol ? "with" : "no", pieces[k] ? "1 to " : "",
                                     pieces[k] ? pieces[k] : (unsigned)o.len);
                            struct got g = {rows, lines, nrows, 0, prof, {{0}}, what};
                            parse_in_pieces(&g, &o, pieces[k]);
                            if (!have_keys) {
                                memcpy(first_keys, g.keys, sizeof first_keys);
                                have_keys = true;
                            } else if (memcmp(first_keys, g.keys, nrows * 16) != 0) {
                                fail_msg("%s: a row key differs from the first rendering's",
                                         what);
                            }
                        }
    }
    free(o.buf);
    profile_destroy(prof);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_written_values_read_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
