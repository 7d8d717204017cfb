/*
 * test_report_html.c - report_html.c's chart arithmetic: the axis maximum
 * (1, 2 or 5 times a power of ten), the whole-number ticks, and a value's
 * length on an axis; and the HTML escaping every text of the page goes
 * through. Table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static void test_nice_max(void **state)
{
    (void)state;
    static const long long cases[][2] = {
        {-3, 1}, {0, 1}, {1, 1}, {2, 2}, {3, 5}, {5, 5}, {6, 10}, {10, 10}, {11, 20},
        {20, 20}, {21, 50}, {50, 50}, {51, 100}, {999, 1000}, {1001, 2000},
        {4000000000LL, 5000000000LL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (report_nice_max(cases[i][0]) != cases[i][1])
            fail_msg("case %zu: %lld -> %lld, want %lld", i, cases[i][0],
                     report_nice_max(cases[i][0]), cases[i][1]);
}

/* Every tick of every nice maximum is a whole number. */
static void test_ticks(void **state)
{
    (void)state;
    static const long long cases[][2] = {{1, 1}, {2, 2}, {5, 5}, {10, 5}, {20, 4}, {50, 5},
                                         {100, 5}, {200, 4}, {500, 5}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int t = report_ticks(cases[i][0]);
        assert_int_equal(t, cases[i][1]);
        assert_int_equal(cases[i][0] % t, 0);
    }
}

static void test_scale(void **state)
{
    (void)state;
    static const struct {
        long long v, max;
        double len, out;
    } cases[] = {
        {0, 10, 180, 0},     {5, 10, 180, 90},   {10, 10, 180, 180}, {12, 10, 180, 180},
        {1, 1, 220, 220},    {3, 0, 100, 0},     {-2, 10, 100, 0},   {1, 3, 90, 30},
        {7, 20, 900, 315},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        double got = report_scale(cases[i].v, cases[i].max, cases[i].len);
        if (got < cases[i].out - 1e-9 || got > cases[i].out + 1e-9)
            fail_msg("case %zu: got %f, want %f", i, got, cases[i].out);
    }
}

static void test_html_text(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"201", "201"},
        {"<script>alert('x')</script>", "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"},
        {"\"Name\" <100> & co", "&quot;Name&quot; &lt;100&gt; &amp; co"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        report_html_text(f, cases[i][0]);
        fclose(f);
        if (strcmp(buf, cases[i][1]))
            fail_msg("case %zu: got '%s', want '%s'", i, buf, cases[i][1]);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nice_max),
        cmocka_unit_test(test_ticks),
        cmocka_unit_test(test_scale),
        cmocka_unit_test(test_html_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
