/*
 * test_report_args.c - report_args.c: dates as --from and --to read
 * them, h:mm:ss, the names of --by and --format, the whole argument
 * parsing with its defaults and its usage errors, and which format "auto"
 * means. Table-driven; no database.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "report.h"

static void test_parse_date(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        bool end;
        bool ok;
        int y, m, d;
    } cases[] = {
        {"2026-11-02", false, true, 2026, 11, 2},
        {"2026-11", false, true, 2026, 11, 1},
        {"2026-11", true, true, 2026, 11, 30},
        {"2026-02", true, true, 2026, 2, 28},
        {"2024-02", true, true, 2024, 2, 29},
        {"2000-02-29", false, true, 2000, 2, 29},
        {"1900-02-29", false, false, 0, 0, 0},
        {"2026-02-29", false, false, 0, 0, 0},
        {"2026-04-31", false, false, 0, 0, 0},
        {"2026-13-01", false, false, 0, 0, 0},
        {"2026-00", false, false, 0, 0, 0},
        {"2026-1-2", false, false, 0, 0, 0},
        {"26-11-02", false, false, 0, 0, 0},
        {"2026/11/02", false, false, 0, 0, 0},
        {"2026-11-02x", false, false, 0, 0, 0},
        {"yesterday", false, false, 0, 0, 0},
        {"", false, false, 0, 0, 0},
        {"1899-12-31", false, false, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct report_date d = {0};
        bool ok = report_parse_date(cases[i].in, cases[i].end, &d);
        if (ok != cases[i].ok)
            fail_msg("case %zu '%s': ok %d", i, cases[i].in, ok);
        if (ok && (d.y != cases[i].y || d.m != cases[i].m || d.d != cases[i].d))
            fail_msg("case %zu '%s': got %d-%d-%d", i, cases[i].in, d.y, d.m, d.d);
    }
}

static void test_date_next_and_cmp(void **state)
{
    (void)state;
    static const struct {
        struct report_date in, next;
    } cases[] = {
        {{2026, 11, 2}, {2026, 11, 3}}, {{2026, 11, 30}, {2026, 12, 1}},
        {{2026, 12, 31}, {2027, 1, 1}}, {{2024, 2, 28}, {2024, 2, 29}},
        {{2026, 2, 28}, {2026, 3, 1}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct report_date n = report_date_next(cases[i].in);
        assert_int_equal(report_date_cmp(&n, &cases[i].next), 0);
        assert_true(report_date_cmp(&cases[i].in, &n) < 0);
        assert_true(report_date_cmp(&n, &cases[i].in) > 0);
    }
    char buf[16];
    report_format_date(&(struct report_date){2026, 1, 5}, buf, sizeof buf);
    assert_string_equal(buf, "2026-01-05");
}

static void test_hms(void **state)
{
    (void)state;
    static const struct {
        long long s;
        const char *out;
    } cases[] = {
        {0, "0:00:00"}, {5, "0:00:05"}, {59, "0:00:59"}, {60, "0:01:00"}, {3599, "0:59:59"},
        {3600, "1:00:00"}, {3723, "1:02:03"}, {86400, "24:00:00"}, {360000, "100:00:00"},
        {-1, "-"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[32];
        report_hms(cases[i].s, buf, sizeof buf);
        if (strcmp(buf, cases[i].out))
            fail_msg("case %zu %lld: got '%s', want '%s'", i, cases[i].s, buf, cases[i].out);
    }
}

static void test_names(void **state)
{
    (void)state;
    static const char *const by[] = {"day", "week", "month", "hour", "extension",
                                     "destination", "trunk", "outcome"};
    for (int i = 0; i < 8; i++) {
        assert_int_equal(report_by_lookup(by[i]), i);
        assert_string_equal(report_by_name((enum report_by)i), by[i]);
    }
    assert_int_equal(report_by_lookup("Day"), -1);
    assert_int_equal(report_by_lookup("year"), -1);
    assert_int_equal(report_format_lookup("table"), REPORT_FMT_TABLE);
    assert_int_equal(report_format_lookup("csv"), REPORT_FMT_CSV);
    assert_int_equal(report_format_lookup("json"), REPORT_FMT_JSON);
    assert_int_equal(report_format_lookup("html"), REPORT_FMT_HTML);
    assert_int_equal(report_format_lookup("auto"), -1);
    assert_int_equal(report_format_lookup("xml"), -1);
}

#define MAXARGS 12

static void test_args(void **state)
{
    (void)state;
    static const struct {
        const char *argv[MAXARGS];
        const char *err; /* substring; NULL: parses */
        const char *from, *to, *source, *output;
        enum report_by by;
        enum report_format format;
    } cases[] = {
        {{"report"}, NULL, "2026-12-01", "2026-12-02", NULL, NULL, REPORT_BY_DAY,
         REPORT_FMT_AUTO},
        {{"report", "--from", "2026-11", "--to", "2026-11"}, NULL, "2026-11-01", "2026-11-30",
         NULL, NULL, REPORT_BY_DAY, REPORT_FMT_AUTO},
        {{"report", "--from", "2026-10-15"}, NULL, "2026-10-15", "2026-12-02", NULL, NULL,
         REPORT_BY_DAY, REPORT_FMT_AUTO},
        {{"report", "--to", "2026-03-10"}, NULL, "2026-03-01", "2026-03-10", NULL, NULL,
         REPORT_BY_DAY, REPORT_FMT_AUTO},
        {{"report", "--source", "office", "--by", "extension", "--format", "json", "-o",
          "x.json"}, NULL, "2026-12-01", "2026-12-02", "office", "x.json",
         REPORT_BY_EXTENSION, REPORT_FMT_JSON},
        {{"report", "--by=trunk", "--format=html"}, NULL, "2026-12-01", "2026-12-02", NULL,
         NULL, REPORT_BY_TRUNK, REPORT_FMT_HTML},
        {{"report", "--from", "2026-02-30"}, "--from: not a date", NULL, NULL, NULL, NULL, 0, 0},
        {{"report", "--to", "tomorrow"}, "--to: not a date", NULL, NULL, NULL, NULL, 0, 0},
        {{"report", "--by", "year"}, "--by: unknown value 'year'", NULL, NULL, NULL, NULL, 0,
         0},
        {{"report", "--format", "xml"}, "--format: unknown value 'xml'", NULL, NULL, NULL, NULL,
         0, 0},
        {{"report", "--from", "2026-11-05", "--to", "2026-11-04"}, "is after --to", NULL, NULL,
         NULL, NULL, 0, 0},
        {{"report", "extra"}, "takes no arguments", NULL, NULL, NULL, NULL, 0, 0},
        {{"report", "--frmo", "2026-11"}, "--frmo", NULL, NULL, NULL, NULL, 0, 0},
        {{"report", "--from"}, "--from", NULL, NULL, NULL, NULL, 0, 0},
    };
    const struct report_date today = {2026, 12, 2};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *argv[MAXARGS + 1] = {0};
        int argc = 0;
        while (argc < MAXARGS && cases[i].argv[argc]) {
            argv[argc] = (char *)cases[i].argv[argc];
            argc++;
        }
        struct report_opts o;
        char err[512] = "";
        bool ok = report_parse_args(argc, argv, &today, &o, err, sizeof err);
        if (cases[i].err) {
            if (ok || !strstr(err, cases[i].err))
                fail_msg("case %zu: want an error with '%s', got '%s'", i, cases[i].err, err);
            continue;
        }
        if (!ok)
            fail_msg("case %zu: %s", i, err);
        char from[16], to[16];
        report_format_date(&o.from, from, sizeof from);
        report_format_date(&o.to, to, sizeof to);
        assert_string_equal(from, cases[i].from);
        assert_string_equal(to, cases[i].to);
        if (cases[i].source)
            assert_string_equal(o.source, cases[i].source);
        else
            assert_null(o.source);
        if (cases[i].output)
            assert_string_equal(o.output, cases[i].output);
        else
            assert_null(o.output);
        assert_int_equal(o.by, cases[i].by);
        assert_int_equal(o.format, cases[i].format);
    }
}

static void test_resolve_format(void **state)
{
    (void)state;
    static const struct {
        enum report_format in;
        const char *output;
        bool tty;
        enum report_format out;
    } cases[] = {
        {REPORT_FMT_AUTO, NULL, true, REPORT_FMT_TABLE},
        {REPORT_FMT_AUTO, NULL, false, REPORT_FMT_CSV},
        {REPORT_FMT_AUTO, "r.html", false, REPORT_FMT_HTML},
        {REPORT_FMT_AUTO, "R.HTM", false, REPORT_FMT_HTML},
        {REPORT_FMT_AUTO, "r.json", false, REPORT_FMT_JSON},
        {REPORT_FMT_AUTO, "r.csv", false, REPORT_FMT_CSV},
        {REPORT_FMT_AUTO, "report", false, REPORT_FMT_CSV},
        {REPORT_FMT_TABLE, "r.html", false, REPORT_FMT_TABLE},
        {REPORT_FMT_JSON, NULL, true, REPORT_FMT_JSON},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (report_resolve_format(cases[i].in, cases[i].output, cases[i].tty) != cases[i].out)
            fail_msg("case %zu", i);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_date),
        cmocka_unit_test(test_date_next_and_cmp),
        cmocka_unit_test(test_hms),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_resolve_format),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
