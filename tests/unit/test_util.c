/*
 * test_util.c - the small helpers every stage shares: cdr_escape (what a
 * log line, an .error note or a text column sees of outside bytes),
 * cdr_utf8_len, cdr_hex and cdr_timespec_cmp. Table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "cdrimport.h"

static const struct {
    const char *in;
    size_t len; /* 0: strlen */
    const char *out;
} escapes[] = {
    {"Master.csv", 0, "Master.csv"},
    {"", 0, ""},
    {"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", 0, "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"},
    {"a\nb\rc\td", 0, "a\\nb\\rc\\td"},
    {"\x1b[31m\x07\x7f", 0, "\\x1b[31m\\x07\\x7f"},
    {"Master-\xff\xfe.csv", 0, "Master-\\xff\\xfe.csv"},
    {"nul\0byte", 8, "nul\\x00byte"},
    {"back\\slash", 0, "back\\slash"},             /* kept: a readable path */
    {"\xc0\xaf", 0, "\\xc0\\xaf"},                   /* overlong '/' */
    {"\xed\xa0\x80", 0, "\\xed\\xa0\\x80"},           /* a UTF-16 surrogate */
    {"\xf4\x90\x80\x80", 0, "\\xf4\\x90\\x80\\x80"},  /* above U+10FFFF */
    {"\xe6\x97", 0, "\\xe6\\x97"},                   /* cut sequence at the end */
    {"\xe6\x97x", 0, "\\xe6\\x97x"},                 /* cut sequence before ASCII */
};

static void test_escape(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof escapes / sizeof *escapes; i++) {
        size_t len = escapes[i].len ? escapes[i].len : strlen(escapes[i].in);
        char *got = cdr_escape(escapes[i].in, len);
        if (strcmp(got, escapes[i].out) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, got, escapes[i].out);
        free(got);
    }
}

/* A short buffer cuts between escapes, never inside one, and ends in NUL. */
static void test_escape_buf_cuts_whole_escapes(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t outlen;
        const char *out;
    } cases[] = {
        {"ab\n\ncd", 6, "ab\\n"},
        {"ab\n\ncd", 5, "ab\\n"},
        {"ab\n\ncd", 4, "ab"},
        {"\xff\xff", 5, "\\xff"},
        {"\xff\xff", 8, "\\xff"},
        {"\xff\xff", 9, "\\xff\\xff"},
        {"\xc3\xa9\xc3\xa9", 4, "\xc3\xa9"},
        {"x", 1, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char out[16];
        memset(out, 'Z', sizeof out);
        size_t n = cdr_escape_buf(cases[i].in, strlen(cases[i].in), out, cases[i].outlen);
        assert_int_equal(n, strlen(cases[i].out));
        if (strcmp(out, cases[i].out) != 0)
            fail_msg("case %zu: got '%s', want '%s'", i, out, cases[i].out);
    }
    char none = 'Z';
    assert_int_equal(cdr_escape_buf("abc", 3, &none, 0), 0);
    assert_int_equal(none, 'Z');
}

static void test_utf8_len(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n, want;
    } cases[] = {
        {"a", 1, 1},           {"\xc3\xa9", 2, 2},     {"\xc3\xa9", 1, 0},
        {"\xe2\x82\xac", 3, 3}, {"\xf0\x9f\x98\x80", 4, 4}, {"\x80", 1, 0},
        {"\xc1\xbf", 2, 0},    {"\xe0\x9f\xbf", 3, 0}, {"\xf0\x8f\xbf\xbf", 4, 0},
        {"\xf5\x80\x80\x80", 4, 0}, {"\xc3(", 2, 0},  {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (cdr_utf8_len((const unsigned char *)cases[i].s, cases[i].n) != cases[i].want)
            fail_msg("case %zu: want %zu", i, cases[i].want);
}

static void test_hex_and_time_order(void **state)
{
    (void)state;
    char out[9];
    cdr_hex((const unsigned char *)"\x00\x0f\xa5\xff", 4, out);
    assert_string_equal(out, "000fa5ff");
    struct timespec a = {10, 5}, b = {10, 6}, c = {11, 0};
    assert_true(cdr_timespec_cmp(&a, &b) < 0);
    assert_true(cdr_timespec_cmp(&b, &a) > 0);
    assert_true(cdr_timespec_cmp(&b, &c) < 0);
    assert_int_equal(cdr_timespec_cmp(&c, &c), 0);
    double t0 = cdr_monotonic(), t1 = cdr_monotonic();
    assert_true(t1 >= t0);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_escape),
    cmocka_unit_test(test_escape_buf_cuts_whole_escapes),
    cmocka_unit_test(test_utf8_len),
    cmocka_unit_test(test_hex_and_time_order),
};

int main(void)
{
    return cmocka_run_group_tests(tests, NULL, NULL);
}
