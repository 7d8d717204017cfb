/*
 * test_tuple.c - tuple.c's binary COPY tuple of a CDR row. Each case is a
 * row (which fields are NULL, extra or not); the tuple must hold 20 fields
 * in SQL_COPY_ROWS' order with the lengths and values expected, within
 * tuple_max's bytes, tuple_times must visit exactly the times that are
 * there and return the row_key field, and tuple_set_file_id must change
 * the file id and nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tuple.h"

struct tuple_case {
    const char *name;
    const char *answer, *end;  /* NULL: the field is NULL */
    const char *total, *talk;
    const char *call_id;
    const char *extra;
};

static const struct tuple_case cases[] = {
    {"every field", "2024-03-01 10:00:05", "2024-03-01 10:01:00", "60", "55", "1709287200.1",
     "{\"k\": \"v\"}"},
    {"unanswered", NULL, "2024-03-01 10:01:00", "60", "0", "x", NULL},
    {"no times but the call's", NULL, NULL, NULL, NULL, NULL, NULL},
    {"an empty call id is not NULL", NULL, NULL, "0", "0", "", NULL},
};

static void count_time(void *ctx, char *p)
{
    (void)p;
    (*(int *)ctx)++;
}

/* The field at *p: its length (-1 NULL) and value; *p moves past it. */
static int32_t next_field(const char **p, const char **val)
{
    int32_t len = copybin_get_i32(*p);
    *p += 4;
    *val = *p;
    if (len > 0)
        *p += len;
    return len;
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const struct tuple_case *tc = &cases[c];
        struct cdr_row row = {0};
        const char *vals[CDR_F_COUNT] = {0};
        vals[CDR_F_CALL_TIME] = "2024-03-01 10:00:00";
        vals[CDR_F_ANSWER_TIME] = tc->answer;
        vals[CDR_F_END_TIME] = tc->end;
        vals[CDR_F_TOTAL_DURATION] = tc->total;
        vals[CDR_F_CALL_DURATION] = tc->talk;
        vals[CDR_F_CALL_ID] = tc->call_id;
        vals[CDR_F_DST_CHANNEL] = "SIP/carrier1-0001";
        for (int f = 0; f < CDR_F_COUNT; f++) {
            row.val[f] = vals[f];
            row.len[f] = vals[f] ? strlen(vals[f]) : 0;
        }
        row.extra_json = tc->extra;
        row.extra_len = tc->extra ? strlen(tc->extra) : 0;

        size_t max = tuple_max(&row, 5);
        char *buf = malloc(max);
        struct copybin_dates dates = {0};
        char *end = tuple_write(buf, &row, &dates, 42, 7, "bench", 5);
        if ((size_t)(end - buf) > max)
            fail_msg("%s: %zu bytes written, tuple_max %zu", tc->name, (size_t)(end - buf), max);

        int times = 0, want_times = 1 + (tc->answer != NULL) + (tc->end != NULL);
        char *key = tuple_times(buf, count_time, &times);
        if (times != want_times)
            fail_msg("%s: %d times visited, %d expected", tc->name, times, want_times);
        if (copybin_get_i32(key) != 16)
            fail_msg("%s: tuple_times did not end at the 16-byte key", tc->name);
        /* A file's id, known only once its ledger row is read, set
         * afterwards over the one written (load.c). */
        tuple_set_file_id(key, 4242);

        const char *p = buf, *v;
        assert_int_equal(((unsigned char)p[0] << 8) | (unsigned char)p[1], 20);
        p += 2;
        for (int k = 0; k < 3; k++) /* the times */
            next_field(&p, &v);
        assert_ptr_equal(p, key);
        assert_int_equal(next_field(&p, &v), 16);
        assert_int_equal(next_field(&p, &v), 4);
        assert_int_equal(copybin_get_i32(v), 4242); /* file_id, as set */
        assert_int_equal(next_field(&p, &v), 4);
        assert_int_equal(copybin_get_i32(v), 7);    /* line_no, untouched */
        assert_int_equal(next_field(&p, &v), tc->total ? 4 : -1);
        if (tc->total)
            assert_int_equal(copybin_get_i32(v), atoi(tc->total));
        assert_int_equal(next_field(&p, &v), tc->talk ? 4 : -1);
        assert_int_equal(next_field(&p, &v), 5);
        assert_memory_equal(v, "bench", 5);
        int32_t id_len = next_field(&p, &v); /* call_id, the first text column */
        assert_int_equal(id_len, tc->call_id ? (int32_t)strlen(tc->call_id) : -1);
        for (int k = 0; k < 7; k++)       /* caller .. src_channel: NULL here */
            assert_int_equal(next_field(&p, &v), -1);
        assert_int_equal(next_field(&p, &v), (int32_t)strlen("SIP/carrier1-0001"));
        assert_memory_equal(v, "SIP/carrier1-0001", strlen("SIP/carrier1-0001"));
        assert_int_equal(next_field(&p, &v), -1); /* feature */
        int32_t extra = next_field(&p, &v);
        assert_int_equal(extra, tc->extra ? (int32_t)strlen(tc->extra) + 1 : -1);
        assert_ptr_equal(p, end);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
