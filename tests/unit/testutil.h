/*
 * testutil.h - helpers the unit tests share. Include after cmocka.h.
 */
#ifndef CDR_TESTUTIL_H
#define CDR_TESTUTIL_H

#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cdrimport.h"
#include "plat.h"

/* A whole file into memory (NUL bytes and all); fails the test if it
 * cannot be opened. The caller frees. */
static inline char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (are CDR_FIXTURES and SHARED set?)", path);
    size_t cap = 4096, n = 0, k;
    char *buf = xmalloc(cap);
    while ((k = fread(buf + n, 1, cap - n, f)) > 0) {
        n += k;
        if (n == cap)
            buf = xrealloc(buf, cap *= 2);
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Bytes that may hold NULs, from a string literal: B("a\0b"). */
struct bytes {
    const char *s;
    size_t n;
};
#define B(lit) {lit, sizeof(lit) - 1}

/* U+FFFD REPLACEMENT CHARACTER in UTF-8: what a repaired byte becomes. */
#define FFFD "\xEF\xBF\xBD"

/* Bytes into the test's output, control and non-ASCII ones as \xNN. */
static inline void show_bytes(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7F || c == '\\')
            print_message("\\x%02X", c);
        else
            print_message("%c", c);
    }
}

/* A small text file; fails the test if it cannot be written. */
static inline void put_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        fail_msg("cannot create %s", path);
    fputs(text, f);
    if (fclose(f) != 0)
        fail_msg("cannot write %s", path);
}

static inline int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path);
}

/* A temp folder and all below it; links are removed, not followed. */
static inline void rm_tree(const char *dir)
{
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * The body of a table-driven test's main(): one cmocka test per row of
 * cases (named by its .name, run by func with the row as state), then the
 * fixed tests, all in one group with setup and teardown (or NULL).
 */
#define RUN_TABLE_THEN_FIXED(cases, func, fixed, setup, teardown)                          \
    do {                                                                                \
        enum { NROWS_ = sizeof(cases) / sizeof *(cases),                                \
               NFIX_ = sizeof(fixed) / sizeof *(fixed) };                                \
        static struct CMUnitTest all_[NROWS_ + NFIX_];                                  \
        for (size_t i_ = 0; i_ < NROWS_; i_++)                                          \
            all_[i_] = (struct CMUnitTest){.name = (cases)[i_].name, .test_func = (func), \
                                           .initial_state = (void *)&(cases)[i_]};      \
        for (size_t i_ = 0; i_ < NFIX_; i_++)                                           \
            all_[NROWS_ + i_] = (fixed)[i_];                                            \
        return cmocka_run_group_tests(all_, (setup), (teardown));                       \
    } while (0)

/* Seconds since 1970 of a calendar time read as UTC (timegm; plat's for
 * years past Windows' 3000). */
static inline int64_t utc_of(int y, int mo, int d, int h, int mi, int s)
{
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)plat_timegm(&tm);
}

#endif
