/*
 * test_copybin.c - copybin.c, the encoders of PostgreSQL's binary COPY
 * format: every byte the server reads comes from here, and it reads them
 * without a second look. Wall times to "local seconds" and back (against
 * timegm and against constants, through one shared date cache that is made
 * to switch dates in every digit), the big-endian integers, each field kind
 * spelled out byte by byte, the stream header and trailer, PostgreSQL's epoch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "copybin.h"
#include "testutil.h"

/* ---- helpers -------------------------------------------------------------- */

/* Bytes as hex, for messages. */
static const char *hex(const void *p, size_t n)
{
    static char buf[3 * 64 + 1];
    const unsigned char *u = p;
    size_t k = 0;
    for (size_t i = 0; i < n && k + 4 <= sizeof buf; i++)
        k += (size_t)snprintf(buf + k, sizeof buf - k, "%02x ", u[i]);
    buf[k] = '\0';
    return buf;
}

/* `got` (n bytes written, returning `end`) against `want`; the byte after
 * what should be written is a sentinel that must stay untouched. */
#define SENTINEL 0x5A
static void check_bytes(const char *what, const char *buf, const char *end,
                        const unsigned char *want, size_t n)
{
    if (end != buf + n)
        fail_msg("%s: returned w + %td, want w + %zu", what, end - buf, n);
    if (memcmp(buf, want, n) != 0) {
        print_message("%s: want %s\n", what, hex(want, n));
        fail_msg("%s: got  %s", what, hex(buf, n));
    }
    if ((unsigned char)buf[n] != SENTINEL)
        fail_msg("%s: wrote past its %zu bytes", what, n);
}

/* ---- wall times ----------------------------------------------------------- */

struct wall {
    const char *text;
    int y, mo, d, h, mi, s;
    int64_t secs; /* worked out independently (Python's calendar.timegm) */
};

static const struct wall walls[] = {
    {"1970-01-01 00:00:00", 1970, 1, 1, 0, 0, 0, 0},
    {"1970-01-01 00:00:01", 1970, 1, 1, 0, 0, 1, 1},
    {"1999-12-31 23:59:59", 1999, 12, 31, 23, 59, 59, 946684799},
    {"2000-01-01 00:00:00", 2000, 1, 1, 0, 0, 0, 946684800},
    {"2000-02-29 12:34:56", 2000, 2, 29, 12, 34, 56, 951827696},
    {"2000-03-01 00:00:00", 2000, 3, 1, 0, 0, 0, 951868800},
    {"2024-02-29 00:00:00", 2024, 2, 29, 0, 0, 0, 1709164800},
    {"2024-02-29 23:59:59", 2024, 2, 29, 23, 59, 59, 1709251199},
    {"2023-12-31 23:59:59", 2023, 12, 31, 23, 59, 59, 1704067199},
    {"2024-01-01 00:00:00", 2024, 1, 1, 0, 0, 0, 1704067200},
    {"2038-01-19 03:14:07", 2038, 1, 19, 3, 14, 7, 2147483647},
    {"2038-01-19 03:14:08", 2038, 1, 19, 3, 14, 8, 2147483648LL},
    {"2100-02-28 23:59:59", 2100, 2, 28, 23, 59, 59, 4107542399LL},
    {"2100-03-01 00:00:00", 2100, 3, 1, 0, 0, 0, 4107542400LL},
    {"9999-12-31 23:59:59", 9999, 12, 31, 23, 59, 59, 253402300799LL},
    /* 2024-02-29 01:02:03 and dates that differ from it in one digit each
     * (year digits 0..3, month 5..6, day 8..9): a cache comparing fewer
     * than the 10 characters of the date returns the wrong day. */
    {"2024-02-29 01:02:03", 2024, 2, 29, 1, 2, 3, 1709168523},
    {"3024-02-29 01:02:03", 3024, 2, 29, 1, 2, 3, 33266077323LL},
    {"2124-02-29 01:02:03", 2124, 2, 29, 1, 2, 3, 4864842123LL},
    {"2004-02-29 01:02:03", 2004, 2, 29, 1, 2, 3, 1078016523},
    {"2028-02-29 01:02:03", 2028, 2, 29, 1, 2, 3, 1835398923},
    {"2024-12-29 01:02:03", 2024, 12, 29, 1, 2, 3, 1735434123},
    {"2024-01-29 01:02:03", 2024, 1, 29, 1, 2, 3, 1706490123},
    {"2024-02-19 01:02:03", 2024, 2, 19, 1, 2, 3, 1708304523},
    {"2024-02-28 01:02:03", 2024, 2, 28, 1, 2, 3, 1709082123},
};

#define NWALL (sizeof walls / sizeof *walls)
#define BASE_DIGITS 15 /* index of 2024-02-29 01:02:03 */

static void check_wall(struct copybin_dates *c, size_t i, const char *order)
{
    const struct wall *w = &walls[i];
    int64_t got = copybin_local_seconds(c, w->text);
    if (got != w->secs)
        fail_msg("%s: copybin_local_seconds(\"%s\") = %lld, want %lld", order, w->text,
                 (long long)got, (long long)w->secs);
}

/* The table's constants are timegm's answers for its calendar fields. */
static void test_wall_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < NWALL; i++) {
        const struct wall *w = &walls[i];
        int64_t t = utc_of(w->y, w->mo, w->d, w->h, w->mi, w->s);
        if (t != w->secs)
            fail_msg("%s: timegm = %lld, table says %lld", w->text, (long long)t,
                     (long long)w->secs);
        assert_int_equal(strlen(w->text), 19);
    }
}

/* Fresh cache for each, then ONE cache through orders that change the date
 * between almost every two calls (and keep it for some). */
static void test_local_seconds(void **state)
{
    (void)state;
    for (size_t i = 0; i < NWALL; i++) {
        struct copybin_dates fresh = {0};
        check_wall(&fresh, i, "fresh cache");
        /* the same call again: now from the cache */
        check_wall(&fresh, i, "fresh cache, twice");
    }

    struct copybin_dates c = {0};
    for (size_t i = 0; i < NWALL; i++)
        check_wall(&c, i, "forward");
    for (size_t i = NWALL; i-- > 0;)
        check_wall(&c, i, "backward");
    for (size_t i = 0; i < NWALL; i++) { /* first, last, second, second last, ... */
        size_t k = i % 2 ? NWALL - 1 - i / 2 : i / 2;
        check_wall(&c, k, "zigzag");
    }
    for (size_t r = 0; r < 3; r++) /* the base date against each one-digit change */
        for (size_t i = BASE_DIGITS + 1; i < NWALL; i++) {
            check_wall(&c, BASE_DIGITS, "one digit apart");
            check_wall(&c, i, "one digit apart");
            check_wall(&c, i, "one digit apart, same date again");
        }
    for (size_t i = 0; i < 7 * NWALL; i++) /* a stride coprime to the table size */
        check_wall(&c, (i * 5) % NWALL, "stride");

    /* Same date, every time of the day: only the time part moves. */
    char t[20];
    memcpy(t, "2024-02-29 00:00:00", 20);
    for (int s = 0; s < 86400; s += 7) {
        snprintf(t + 11, 9, "%02d:%02d:%02d", s / 3600, s / 60 % 60, s % 60);
        int64_t got = copybin_local_seconds(&c, t);
        if (got != 1709164800 + s)
            fail_msg("%s: %lld", t, (long long)got);
        /* and a different date in between, every few calls */
        if (s % 91 == 0)
            check_wall(&c, 0, "interleaved");
    }
}

/* Its inverse: exactly the 19 characters of the table, then a NUL. */
static void test_format_local(void **state)
{
    (void)state;
    for (size_t i = 0; i < NWALL; i++) {
        char out[20];
        memset(out, 'x', sizeof out);
        copybin_format_local(walls[i].secs, out);
        if (out[19] != '\0' || strcmp(out, walls[i].text) != 0)
            fail_msg("copybin_format_local(%lld) = \"%.20s\", want \"%s\"",
                     (long long)walls[i].secs, out, walls[i].text);
    }

    /* Round trip over the whole range 1970..9999 at an odd stride (every
     * hour of day, minute and second comes up), through one cache. */
    struct copybin_dates c = {0};
    int64_t last = 253402300799LL;
    for (int64_t s = 0; s <= last; s += 1000003) {
        char out[20];
        copybin_format_local(s, out);
        assert_int_equal(strlen(out), 19);
        int64_t back = copybin_local_seconds(&c, out);
        if (back != s)
            fail_msg("%lld -> \"%s\" -> %lld", (long long)s, out, (long long)back);
    }
    char out[20];
    copybin_format_local(last, out);
    assert_int_equal(copybin_local_seconds(&c, out), last);
}

/* ---- integers ------------------------------------------------------------- */

struct int_case {
    int64_t v;
    unsigned char be[8];
};

static const struct int_case i16_cases[] = {
    {0, {0x00, 0x00}},          {1, {0x00, 0x01}},          {-1, {0xff, 0xff}},
    {-2, {0xff, 0xfe}},         {0x0102, {0x01, 0x02}},     {INT16_MAX, {0x7f, 0xff}},
    {INT16_MIN, {0x80, 0x00}},  {21, {0x00, 0x15}}, /* a tuple's field count */
};

static const struct int_case i32_cases[] = {
    {0, {0, 0, 0, 0}},
    {1, {0, 0, 0, 1}},
    {-1, {0xff, 0xff, 0xff, 0xff}},
    {-2, {0xff, 0xff, 0xff, 0xfe}},
    {0x01020304, {0x01, 0x02, 0x03, 0x04}},
    {INT32_MAX, {0x7f, 0xff, 0xff, 0xff}},
    {INT32_MIN, {0x80, 0x00, 0x00, 0x00}},
    {256, {0x00, 0x00, 0x01, 0x00}},
};

static const struct int_case i64_cases[] = {
    {0, {0, 0, 0, 0, 0, 0, 0, 0}},
    {1, {0, 0, 0, 0, 0, 0, 0, 1}},
    {-1, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
    {-2, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}},
    {0x01020304, {0, 0, 0, 0, 0x01, 0x02, 0x03, 0x04}},
    {0x0102030405060708LL, {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08}},
    {INT64_MAX, {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}},
    {INT64_MIN, {0x80, 0, 0, 0, 0, 0, 0, 0}},
    {(int64_t)INT32_MIN, {0xff, 0xff, 0xff, 0xff, 0x80, 0, 0, 0}},
    /* 2024-01-01 00:00:00 UTC as a timestamptz: microseconds since 2000 */
    {757382400000000LL, {0x00, 0x02, 0xb0, 0xd5, 0xd4, 0xe9, 0x40, 0x00}},
};

static void test_integers(void **state)
{
    (void)state;
    char buf[16];
    char what[64];
    for (size_t i = 0; i < sizeof i16_cases / sizeof *i16_cases; i++) {
        const struct int_case *k = &i16_cases[i];
        memset(buf, SENTINEL, sizeof buf);
        snprintf(what, sizeof what, "copybin_i16(%lld)", (long long)k->v);
        check_bytes(what, buf, copybin_i16(buf, (int16_t)k->v), k->be, 2);
    }
    for (size_t i = 0; i < sizeof i32_cases / sizeof *i32_cases; i++) {
        const struct int_case *k = &i32_cases[i];
        memset(buf, SENTINEL, sizeof buf);
        snprintf(what, sizeof what, "copybin_i32(%lld)", (long long)k->v);
        check_bytes(what, buf, copybin_i32(buf, (int32_t)k->v), k->be, 4);
        assert_int_equal(copybin_get_i32(buf), k->v);
        /* reading from an odd address */
        memcpy(buf + 1, k->be, 4);
        assert_int_equal(copybin_get_i32(buf + 1), k->v);
    }
    for (size_t i = 0; i < sizeof i64_cases / sizeof *i64_cases; i++) {
        const struct int_case *k = &i64_cases[i];
        memset(buf, SENTINEL, sizeof buf);
        snprintf(what, sizeof what, "copybin_i64(%lld)", (long long)k->v);
        check_bytes(what, buf, copybin_i64(buf, k->v), k->be, 8);
        if (copybin_get_i64(buf) != k->v)
            fail_msg("copybin_get_i64 of %s= %lld", hex(k->be, 8), (long long)copybin_get_i64(buf));
        memcpy(buf + 3, k->be, 8);
        if (copybin_get_i64(buf + 3) != k->v)
            fail_msg("copybin_get_i64 at an odd address: %lld", (long long)copybin_get_i64(buf + 3));
    }
    /* the stores chain: each returns where the next one writes */
    memset(buf, SENTINEL, sizeof buf);
    char *w = copybin_i16(buf + 1, 0x0102);
    w = copybin_i32(w, 0x03040506);
    w = copybin_i64(w, 0x0708090a0b0c0d0eLL);
    static const unsigned char chained[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                            0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e};
    assert_int_equal((unsigned char)buf[0], SENTINEL);
    check_bytes("chained stores", buf + 1, w, chained, sizeof chained);
}

/* ---- fields --------------------------------------------------------------- */

static void test_null_and_bytes(void **state)
{
    (void)state;
    char buf[64];

    memset(buf, SENTINEL, sizeof buf);
    static const unsigned char null[] = {0xff, 0xff, 0xff, 0xff};
    check_bytes("copybin_null", buf, copybin_null(buf), null, 4);

    struct {
        const char *s;
        size_t n;
        unsigned char want[16];
    } cases[] = {
        {"", 0, {0, 0, 0, 0}},
        {"abc", 3, {0, 0, 0, 3, 'a', 'b', 'c'}},
        {"a\0b", 3, {0, 0, 0, 3, 'a', 0, 'b'}},
        {"\xff\x80", 2, {0, 0, 0, 2, 0xff, 0x80}},
        {"0123456789ab", 12, {0, 0, 0, 12, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b'}},
        {"xyz-ignored", 3, {0, 0, 0, 3, 'x', 'y', 'z'}}, /* only n bytes */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memset(buf, SENTINEL, sizeof buf);
        char what[64];
        snprintf(what, sizeof what, "copybin_bytes(\"%s\", %zu)", cases[i].s, cases[i].n);
        check_bytes(what, buf, copybin_bytes(buf, cases[i].s, cases[i].n), cases[i].want,
                    4 + cases[i].n);
        assert_int_equal(COPYBIN_FIELD(cases[i].n), 4 + cases[i].n);
    }

    /* a long value: the length word above one byte */
    static char big[70000];
    memset(big, 'q', sizeof big);
    static char out[70000 + 8];
    memset(out, SENTINEL, sizeof out);
    char *end = copybin_bytes(out, big, sizeof big);
    assert_ptr_equal(end, out + 4 + sizeof big);
    static const unsigned char len70000[] = {0x00, 0x01, 0x11, 0x70};
    assert_memory_equal(out, len70000, 4);
    assert_memory_equal(out + 4, big, sizeof big);
    assert_int_equal((unsigned char)out[4 + sizeof big], SENTINEL);
}

static void test_int4_text(void **state)
{
    (void)state;
    struct {
        const char *s;
        size_t n;
        int32_t value;
        unsigned char want[8];
    } cases[] = {
        {"0", 1, 0, {0, 0, 0, 4, 0, 0, 0, 0}},
        {"7", 1, 7, {0, 0, 0, 4, 0, 0, 0, 7}},
        {"318", 3, 318, {0, 0, 0, 4, 0, 0, 0x01, 0x3e}},
        {"65536", 5, 65536, {0, 0, 0, 4, 0, 0x01, 0, 0}},
        {"1000000", 7, 1000000, {0, 0, 0, 4, 0, 0x0f, 0x42, 0x40}},
        {"2147483647", 10, INT32_MAX, {0, 0, 0, 4, 0x7f, 0xff, 0xff, 0xff}},
        {"12345", 3, 123, {0, 0, 0, 4, 0, 0, 0, 123}}, /* only n digits */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[16];
        memset(buf, SENTINEL, sizeof buf);
        int32_t value = -12345;
        char what[64];
        snprintf(what, sizeof what, "copybin_int4_text(\"%.*s\")", (int)cases[i].n, cases[i].s);
        check_bytes(what, buf, copybin_int4_text(buf, cases[i].s, cases[i].n, &value),
                    cases[i].want, 8);
        assert_int_equal(value, cases[i].value);
    }
}

static void test_jsonb(void **state)
{
    (void)state;
    struct {
        const char *json;
        unsigned char want[24];
    } cases[] = {
        {"{}", {0, 0, 0, 3, 1, '{', '}'}},
        {"{\"a\":1}", {0, 0, 0, 8, 1, '{', '"', 'a', '"', ':', '1', '}'}},
        {"{\"k\":\"\xc3\xa9\"}", {0, 0, 0, 11, 1, '{', '"', 'k', '"', ':', '"', 0xc3, 0xa9, '"', '}'}},
        {"", {0, 0, 0, 1, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[32];
        memset(buf, SENTINEL, sizeof buf);
        size_t n = strlen(cases[i].json);
        char what[64];
        snprintf(what, sizeof what, "copybin_jsonb(%s)", cases[i].json);
        check_bytes(what, buf, copybin_jsonb(buf, cases[i].json, n), cases[i].want, 5 + n);
        assert_int_equal(copybin_get_i32(buf), (int32_t)n + 1);
        assert_int_equal(buf[4], 1);
    }
}

/* ---- stream framing, epoch ------------------------------------------------ */

static void test_header_trailer_epoch(void **state)
{
    (void)state;
    assert_int_equal(COPYBIN_HEADER_LEN, 19);
    static const unsigned char header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n',
                                             0, 0, 0, 0, 0, 0, 0, 0, 0};
    assert_memory_equal(copybin_header, header, sizeof header);
    assert_memory_equal(copybin_header, "PGCOPY\n\377\r\n\0", 11);
    assert_int_equal(sizeof copybin_header, 19);

    assert_int_equal(COPYBIN_TRAILER_LEN, 2);
    static const unsigned char trailer[2] = {0xff, 0xff};
    assert_memory_equal(copybin_trailer, trailer, 2);
    /* the trailer is the field count -1 */
    assert_int_equal(copybin_get_i32((const char[4]){'\377', '\377', '\377', '\377'}), -1);

    assert_int_equal(COPYBIN_PG_EPOCH, utc_of(2000, 1, 1, 0, 0, 0));
    struct copybin_dates c = {0};
    assert_int_equal(copybin_local_seconds(&c, "2000-01-01 00:00:00"), COPYBIN_PG_EPOCH);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_wall_table),
    cmocka_unit_test(test_local_seconds),
    cmocka_unit_test(test_format_local),
    cmocka_unit_test(test_integers),
    cmocka_unit_test(test_null_and_bytes),
    cmocka_unit_test(test_int4_text),
    cmocka_unit_test(test_jsonb),
    cmocka_unit_test(test_header_trailer_epoch),
};

int main(void)
{
    return cmocka_run_group_tests(tests, NULL, NULL);
}
