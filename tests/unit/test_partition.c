/*
 * test_partition.c - the month a row's instant falls in, which names its
 * partition (cdr_row_YYYYmMM): UTC months, the first and last microsecond
 * of a month, leap days, and instants before PostgreSQL's epoch (2000),
 * where the microseconds are negative and must round down, not to zero.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "partition.h"

#define US 1000000LL
#define DAY (86400 * US)

static const struct {
    const char *name;
    int64_t pg_usec;
    int year, month;
} cases[] = {
    {"the epoch", 0, 2000, 1},
    {"a microsecond before the epoch", -1, 1999, 12},
    {"a second before the epoch", -US, 1999, 12},
    {"31 Jan 2000 23:59:59.999999", 31 * DAY - 1, 2000, 1},
    {"1 Feb 2000 00:00:00", 31 * DAY, 2000, 2},
    {"29 Feb 2000 (a leap day)", (31 + 28) * DAY, 2000, 2},
    {"1 Mar 2000", (31 + 29) * DAY, 2000, 3},
    {"1970-01-01 (the first time profile.c takes)", -946684800LL * US, 1970, 1},
    {"2024-05-31 23:59:59 UTC", (1717199999LL - 946684800LL) * US, 2024, 5},
    {"2024-06-01 00:00:00 UTC", (1717200000LL - 946684800LL) * US, 2024, 6},
    {"9999-12-31 23:59:59 UTC", (253402300799LL - 946684800LL) * US, 9999, 12},
};

static void test_month(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int32_t m = partition_month(cases[i].pg_usec);
        int32_t want = cases[i].year * 12 + cases[i].month - 1;
        if (m != want) {
            fprintf(stderr, "%s: got %d-%02d, want %d-%02d\n", cases[i].name, m / 12,
                    m % 12 + 1, cases[i].year, cases[i].month);
            fail();
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_month)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
