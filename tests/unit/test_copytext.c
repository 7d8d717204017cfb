/*
 * test_copytext.c - copytext.c's COPY text encoding and the row key over it.
 * The escape is checked against a byte-by-byte reference written here, for
 * every length up to 40 and every position of every special byte and of
 * its neighbours (the code copies plain runs in one go, so run edges are
 * where it could go wrong).
 * The row keys are checked against values computed outside cdrimport
 * (Python's hashlib over the content shown): keys are stored, so they must
 * never change.
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

/* The rule, one byte at a time. */
static size_t ref_escape(char *w, const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '\t': w[k++] = '\\'; w[k++] = 't'; break;
        case '\n': w[k++] = '\\'; w[k++] = 'n'; break;
        case '\r': w[k++] = '\\'; w[k++] = 'r'; break;
        case '\\': w[k++] = '\\'; w[k++] = '\\'; break;
        default: w[k++] = s[i];
        }
    }
    return k;
}

static void check_escape(const char *s, size_t n)
{
    char got[160], want[160];
    assert_true(2 * n <= sizeof got);
    size_t gl = copytext_escape(got, s, n);
    size_t wl = ref_escape(want, s, n);
    assert_int_equal(gl, wl);
    assert_memory_equal(got, want, wl);
}

struct escape_case {
    const char *in, *out;
};

static const struct escape_case escape_cases[] = {
    {"", ""},
    {"DAHDI/1-1", "DAHDI/1-1"},
    {"a\tb", "a\\tb"},
    {"a\nb\rc", "a\\nb\\rc"},
    {"C:\\PBX\\Master.csv", "C:\\\\PBX\\\\Master.csv"},
    {"\\\\\\\\\\\\\\\\\\", "\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\\"},
    {"ends in a tab\t", "ends in a tab\\t"},
    /* Bytes below 14 that are not special, and bytes above 0x7f, stay. */
    {"\x01\x02\x0b\x0c\x0e\x1f", "\x01\x02\x0b\x0c\x0e\x1f"},
    {"caf\xc3\xa9 \xe2\x82\xac \xff\xfe", "caf\xc3\xa9 \xe2\x82\xac \xff\xfe"},
    {"]\\[", "]\\\\["},
};

static void test_escape_cases(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof escape_cases / sizeof escape_cases[0]; c++) {
        const struct escape_case *ec = &escape_cases[c];
        char got[64];
        size_t n = copytext_escape(got, ec->in, strlen(ec->in));
        assert_int_equal(n, strlen(ec->out));
        assert_memory_equal(got, ec->out, n);
    }
}

/* Every length up to 40, every position of each byte that matters: the
 * four special ones, and neighbours that must stay as they are (0x0b,
 * 0x0e, '[', ']', 0x80, 0xdc, NUL). */
static void test_escape_every_position(void **state)
{
    (void)state;
    static const char probes[] = {'\t', '\n', '\r', '\\', 0x0b, 0x0e, '[', ']',
                                  (char)0x80, (char)0xdc, 0x00};
    char s[48];
    for (size_t n = 0; n <= 40; n++) {
        memset(s, 'x', sizeof s);
        check_escape(s, n);
        for (size_t pos = 0; pos < n; pos++) {
            for (size_t p = 0; p < sizeof probes; p++) {
                memset(s, 'x', sizeof s);
                s[pos] = probes[p];
                check_escape(s, n);
                /* and a second one further on */
                for (size_t pos2 = pos + 1; pos2 < n; pos2 += 3) {
                    s[pos2] = probes[(p + pos2) % sizeof probes];
                    check_escape(s, n);
                    s[pos2] = 'x';
                }
            }
        }
    }
}

static void hex(const unsigned char *k, char out[33])
{
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", k[i]);
}

static void set(struct cdr_row *row, enum cdr_field f, const char *v)
{
    row->val[f] = v;
    row->len[f] = v ? strlen(v) : 0;
}

/* A row with every kind of byte COPY text escapes, NULLs, an empty value
 * and extra; its content and key as PostgreSQL's text format and
 * hashlib.sha256(content).hexdigest()[:32] give them. */
static void test_row_key_golden(void **state)
{
    (void)state;
    struct cdr_row row = {0};
    set(&row, CDR_F_CALL_ID, "1700000000.1");
    set(&row, CDR_F_CALLER_PHONE, "201");
    set(&row, CDR_F_DIALED_PHONE, "09012345678");
    set(&row, CDR_F_FLAG3, "x\ny\r");
    set(&row, CDR_F_CALL_TIME, "2024-03-01 10:00:00");
    set(&row, CDR_F_END_TIME, "2024-03-01 10:01:00");
    set(&row, CDR_F_TOTAL_DURATION, "60");
    set(&row, CDR_F_CALL_TYPE, "ANSWERED");
    set(&row, CDR_F_ACCOUNT_CODE, "");
    set(&row, CDR_F_SRC_CHANNEL, "DAHDI/1-1");
    set(&row, CDR_F_DST_CHANNEL, "SIP/201-0000\\1");
    set(&row, CDR_F_FEATURE, "Voicemail");
    row.extra_json = "{\"k\":\"v\\\\w\"}";
    row.extra_len = strlen(row.extra_json);

    static const char src[] = "site\\A\tB";
    static const char want[] =
        "site\\\\A\\tB\t1700000000.1\t201\t09012345678\t\\N\tx\\ny\\r\t2024-03-01 10:00:00"
        "\t\\N\t2024-03-01 10:01:00\t60\t\\N\tANSWERED\t\tDAHDI/1-1\tSIP/201-0000\\\\1"
        "\tVoicemail\t{\"k\":\"v\\\\\\\\w\"}";
    char esc[32];
    size_t el = copytext_escape(esc, src, strlen(src));
    char *buf = malloc(copytext_content_max(el, &row));
    assert_non_null(buf);
    size_t n = copytext_content(buf, esc, el, &row);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    free(buf);

    unsigned char key[16];
    char h[33];
    copytext_row_key(src, &row, key);
    hex(key, h);
    assert_string_equal(h, "50f20c10ead81480dbbe5543783900b8");

    /* Only the call time: every other field and extra NULL. */
    struct cdr_row bare = {0};
    set(&bare, CDR_F_CALL_TIME, "2024-03-01 10:00:00");
    copytext_row_key("office", &bare, key);
    hex(key, h);
    assert_string_equal(h, "8099c0daeea6d9daf1b6a3578e10608a");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escape_cases),
        cmocka_unit_test(test_escape_every_position),
        cmocka_unit_test(test_row_key_golden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
