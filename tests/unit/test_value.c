/*
 * test_value.c - value.c value by value: timestamps as PBXs and spreadsheets
 * write them into canonical form (impossible dates refused), durations,
 * UTF-8 repair byte by byte (one U+FFFD per bad byte; overlong forms,
 * surrogates and code points past U+10FFFF are bad), and charset
 * conversion with iconv. How profiles use these per column is
 * test_profile.c's.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "value.h"
#include "testutil.h"

/* ---- value_parse_time ------------------------------------------------------ */

struct tcase {
    const char *in;
    size_t len;       /* 0: strlen(in) */
    const char *want; /* canonical form; NULL: must be refused */
};

static const struct tcase time_cases[] = {
    {"2024-01-27 15:07:24", 0, "2024-01-27 15:07:24"},
    {"2020/2/10 22:41", 0, "2020-02-10 22:41:00"},
    {"2020/02/10 22:41:05", 0, "2020-02-10 22:41:05"},
    {"2024-02-29 00:00:00", 0, "2024-02-29 00:00:00"},
    {"2000-02-29 12:00:00", 0, "2000-02-29 12:00:00"},
    {"2024-01-27T15:07:24", 0, "2024-01-27 15:07:24"},
    {"2024-1-5 9:05", 0, "2024-01-05 09:05:00"},
    {"2024-12-31 23:59:59", 0, "2024-12-31 23:59:59"},
    {"1970-01-01 00:00:00", 0, "1970-01-01 00:00:00"},
    {"2024-04-30 08:00", 0, "2024-04-30 08:00:00"},
    /* the length bounds the text, not a NUL */
    {"2024-01-27 15:07:24XYZ", 19, "2024-01-27 15:07:24"},
    {"2024-01-27 15:07", 16, "2024-01-27 15:07:00"},

    {"2023-02-30 10:00:00", 0, NULL},
    {"2023-02-29 10:00:00", 0, NULL},
    {"2100-02-29 10:00:00", 0, NULL},
    {"2024-04-31 10:00:00", 0, NULL},
    {"2024-13-01 10:00:00", 0, NULL},
    {"2024-00-10 10:00:00", 0, NULL},
    {"2024-01-00 10:00:00", 0, NULL},
    {"2024-01-27 24:00", 0, NULL},
    {"2024-01-27 24:00:00", 0, NULL},
    {"2024-01-27 23:60:00", 0, NULL},
    {"2024-01-27 23:59:60x", 0, NULL},
    {"2024-01-27 15:07:24x", 0, NULL},
    {"2024-01-27 15:07:24 ", 0, NULL},
    {"2024-01-27 15:07:24+01", 0, NULL},
    {"2024-01-27 15:07:24.5", 0, NULL},
    {" 2024-01-27 15:07:24", 0, NULL},
    {"2024-01-27 15:7", 0, NULL},
    {"2024-01-27 15", 0, NULL},
    {"2024-01-27", 0, NULL},
    {"2024-01/27 15:07:24", 0, NULL},
    {"24-01-27 15:07:24", 0, NULL},
    {"20240127 150724", 0, NULL},
    {"2024-001-27 15:07:24", 0, NULL},
    {"2024-01-27  15:07:24", 0, NULL},
    {"2024-01-27 15:07:24", 18, NULL},
    {"", 0, NULL},
};

static void test_parse_time(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof time_cases / sizeof *time_cases; i++) {
        const struct tcase *c = &time_cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        char out[21];
        memset(out, '#', sizeof out);
        bool ok = value_parse_time(c->in, len, out);
        if (c->want) {
            if (!ok)
                fail_msg("'%.*s' refused, want '%s'", (int)len, c->in, c->want);
            if (memcmp(out, c->want, 20) != 0) /* 19 characters and the NUL */
                fail_msg("'%.*s' gave '%.19s', want '%s'", (int)len, c->in, out, c->want);
            assert_int_equal(out[20], '#'); /* out[20] is all it may write */
        } else if (ok) {
            fail_msg("'%.*s' accepted as '%.19s', want refused", (int)len, c->in, out);
        }
    }
}

/* ---- UTF-8 repair, byte by byte --------------------------------------------- */

struct ucase {
    struct bytes in;
    const char *want;
    bool repaired;
};

static const struct ucase utf8_cases[] = {
    {B("plain ascii"), "plain ascii", false},
    {B(""), "", false},
    {B("ab\xA5" "cd"), "ab" FFFD "cd", true},
    {B("\x80"), FFFD, true},
    {B("\xBF\x80"), FFFD FFFD, true},
    {B("\xC3\xA9"), "\xC3\xA9", false},
    {B("\xC3"), FFFD, true},
    {B("\xC3("), FFFD "(", true},
    {B("\xC0\xAF"), FFFD FFFD, true},           /* overlong '/' */
    {B("\xC1\xBF"), FFFD FFFD, true},           /* overlong */
    {B("\xE0\x80\xAF"), FFFD FFFD FFFD, true},  /* overlong, 3 bytes */
    {B("\xE2\x82\xAC"), "\xE2\x82\xAC", false}, /* euro sign */
    {B("\xE2\x82" "x"), FFFD FFFD "x", true},   /* truncated */
    {B("\xE2\x82"), FFFD FFFD, true},           /* truncated at the end */
    {B("\xED\x9F\xBF"), "\xED\x9F\xBF", false}, /* U+D7FF */
    {B("\xED\xA0\x80"), FFFD FFFD FFFD, true},  /* a surrogate */
    {B("\xEF\xBF\xBD"), FFFD, false},           /* U+FFFD itself is fine */
    {B("\xF0\x9F\x98\x80"), "\xF0\x9F\x98\x80", false},
    {B("\xF4\x8F\xBF\xBF"), "\xF4\x8F\xBF\xBF", false}, /* U+10FFFF */
    {B("\xF4\x90\x80\x80"), FFFD FFFD FFFD FFFD, true}, /* past U+10FFFF */
    {B("\xF0\x80\x80\xAF"), FFFD FFFD FFFD FFFD, true}, /* overlong, 4 bytes */
    {B("\xF5\x80\x80\x80"), FFFD FFFD FFFD FFFD, true},
    {B("\xFF\xFE"), FFFD FFFD, true},
    {B("a\xC3\xA9\xA9z"), "a\xC3\xA9" FFFD "z", true},
};

static struct value_decoder *mkdecoder(const char *enc)
{
    char err[CDR_ERRLEN] = "";
    struct value_decoder *d = value_decoder_open(enc, err, sizeof err);
    if (!d)
        fail_msg("value_decoder_open(%s): %s", enc ? enc : "(null)", err);
    return d;
}

/* Decode one input into a fresh buffer and compare, showing the bytes. */
static void check_decode(struct value_decoder *d, const char *what, struct bytes in,
                         const char *want, bool want_repaired)
{
    struct value_buf out = {0};
    bool repaired = false;
    value_decode(d, in.s, in.n, &out, &repaired);
    if (out.len != strlen(want) || (out.len && memcmp(out.data, want, out.len) != 0) ||
        repaired != want_repaired) {
        print_message("in ");
        show_bytes(in.s, in.n);
        print_message("\ngot ");
        show_bytes(out.data ? out.data : "", out.len);
        print_message(" repaired=%d\n", repaired);
        fail_msg("%s differs", what);
    }
    free(out.data);
}

static void test_utf8_repair(void **state)
{
    (void)state;
    struct value_decoder *d = mkdecoder(NULL);
    for (size_t i = 0; i < sizeof utf8_cases / sizeof *utf8_cases; i++) {
        char what[32];
        snprintf(what, sizeof what, "utf8 case %zu", i);
        check_decode(d, what, utf8_cases[i].in, utf8_cases[i].want, utf8_cases[i].repaired);
    }
    value_decoder_close(d);
}

/* ---- charsets ------------------------------------------------------------------ */

struct ccase {
    const char *enc;
    struct bytes in;
    const char *want;
    bool repaired;
};

static const struct ccase charset_cases[] = {
    /* utf-8 spelled any way: repaired, not converted */
    {"UTF8", B("a\xC3\xA9\xFF"), "a\xC3\xA9" FFFD, true},
    {"Utf-8", B("\xE2\x82\xAC"), "\xE2\x82\xAC", false},
    {"latin1", B("M\xFCller \xE9"), "M\xC3\xBCller \xC3\xA9", false},
    {"ISO-8859-15", B("\xA4"), "\xE2\x82\xAC", false}, /* the euro sign */
    {"CP1252", B("\x80" "5"), "\xE2\x82\xAC" "5", false},
    {"CP1252", B("a\x81" "b"), "a" FFFD "b", true},     /* undefined in CP1252 */
    {"UTF-16LE", B("h\0\xE9\0"), "h\xC3\xA9", false},
    {"UTF-16LE", B("h\0\xE9"), "h" FFFD, true},         /* a half code unit at the end */
    {"latin1", B(""), "", false},
    /* Double-byte code pages (Windows: MultiByteToWideChar over the field).
     * Bytes whose meaning differs between iconv's and Windows' forms of a
     * charset (Shift-JIS 0x5C, 0x7E) are left out. */
    {"SHIFT_JIS", B("\x93\xFA\x96\x7B 1"), "\xE6\x97\xA5\xE6\x9C\xAC 1", false}, /* 日本 */
    {"CP932", B("\xB1\x83\x65"), "\xEF\xBD\xB1\xE3\x83\x86", false},            /* ｱテ */
    {"CP932", B("a\x81\x20" "b"), "a" FFFD " b", true}, /* a lead byte, then no trail byte */
    {"SHIFT_JIS", B("a\x93"), "a" FFFD, true},             /* a lead byte cut at the end */
    {"GBK", B("\xD6\xD0\xCE\xC4"), "\xE4\xB8\xAD\xE6\x96\x87", false},         /* 中文 */
    {"GBK", B("\xD6\xD0\xD6"), "\xE4\xB8\xAD" FFFD, true},
    {"BIG5", B("\xA4\xA4\xA4\xE5"), "\xE4\xB8\xAD\xE6\x96\x87", false},        /* 中文 */
    {"EUC-KR", B("\xC7\xD1\xB1\xB9"), "\xED\x95\x9C\xEA\xB5\xAD", false},      /* 한국 */
    {"CP949", B("x\xC7\xD1"), "x\xED\x95\x9C", false},
};

static void test_charsets(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof charset_cases / sizeof *charset_cases; i++) {
        const struct ccase *c = &charset_cases[i];
        struct value_decoder *d = mkdecoder(c->enc);
        char what[64];
        snprintf(what, sizeof what, "charset case %zu (%s)", i, c->enc);
        check_decode(d, what, c->in, c->want, c->repaired);
        value_decoder_close(d);
    }
}

/* Output appends to what the buffer holds, across growth, and repaired is
 * never cleared by a clean value. */
static void test_decode_appends(void **state)
{
    (void)state;
    struct value_decoder *d = mkdecoder("latin1");
    struct value_buf out = {0};
    bool repaired = true;
    value_buf_put(&out, "<", 1);
    char *big = xmalloc(10000);
    memset(big, 0xE9, 10000); /* each byte becomes two */
    value_decode(d, big, 10000, &out, &repaired);
    value_decode(d, ">", 1, &out, &repaired);
    assert_true(repaired);
    assert_int_equal(out.len, 1 + 20000 + 1);
    assert_int_equal(out.data[0], '<');
    for (size_t i = 1; i < 20001; i += 2)
        assert_memory_equal(out.data + i, "\xC3\xA9", 2);
    assert_int_equal(out.data[20001], '>');
    free(big);
    free(out.data);
    value_decoder_close(d);
}

static void test_unknown_charset(void **state)
{
    (void)state;
    char err[CDR_ERRLEN] = "";
    assert_null(value_decoder_open("no-such-charset", err, sizeof err));
    assert_non_null(strstr(err, "unknown encoding 'no-such-charset' (iconv: "));
    value_decoder_close(NULL); /* accepted, as free() is */
}

/* ---- value_parse_seconds ------------------------------------------------------ */

static const struct {
    const char *in;
    const char *want; /* NULL: refused */
} seconds_cases[] = {
    {"0", "0"},
    {"42", "42"},
    {"007", "7"},
    {"0000", "0"},
    {"2147483647", "2147483647"},
    {"000000002147483647", "2147483647"}, /* 18 digits, leading zeros */
    {"2147483648", NULL},                 /* past int4 */
    {"0000000000000000001", NULL},        /* 19 digits */
    {"", NULL},
    {"-1", NULL},
    {"+1", NULL},
    {"1.5", NULL},
    {" 1", NULL},
    {"1 ", NULL},
    {"1e3", NULL},
};

static void test_parse_seconds(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof seconds_cases / sizeof *seconds_cases; i++) {
        const char *in = seconds_cases[i].in, *want = seconds_cases[i].want;
        char out[VALUE_SECONDS_MAX];
        size_t n = 99;
        bool ok = value_parse_seconds(in, strlen(in), out, &n);
        if (want && (!ok || n != strlen(want) || strcmp(out, want) != 0))
            fail_msg("'%s': want '%s', got %s '%s'", in, want, ok ? "" : "refused",
                     ok ? out : "");
        if (!want && ok)
            fail_msg("'%s' accepted as '%s', want refused", in, out);
    }
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_time),
        cmocka_unit_test(test_parse_seconds),
        cmocka_unit_test(test_utf8_repair),
        cmocka_unit_test(test_charsets),
        cmocka_unit_test(test_decode_appends),
        cmocka_unit_test(test_unknown_charset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
