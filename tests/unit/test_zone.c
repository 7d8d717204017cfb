/*
 * test_zone.c - zone.c, the cache that turns wall times into instants with
 * the database server as the authority. A wrong offset here puts calls at
 * the wrong instant without any error, so every converted second is
 * compared with a fake "server" that applies PostgreSQL's rule (gap: the
 * offset before the change; overlap: the offset after it) to synthetic
 * zones: Berlin-, New-York- and Lord-Howe-like rules, odd-second
 * transitions, a day skipped and a day repeated, and plain UTC. The test
 * drives the cache the way load.c does (zone_begin, zone_need per time,
 * rounds of zone_questions / zone_answer, zone_need again after a clock
 * change) and checks the protocol too: what is asked, how often, what the
 * cache keeps between batches and what it forgets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zone.h"
#include "testutil.h"

/* ---- synthetic zones ------------------------------------------------------ */

struct transition {
    int64_t at;            /* the instant of the change, UTC seconds */
    int32_t before, after; /* offsets (local - UTC) either side of it */
};

#define MAXTR 256
#define FIRST_YEAR 1970
#define LAST_YEAR 2040

struct zone {
    const char *name;
    int32_t base; /* offset before the first transition */
    size_t n;
    struct transition tr[MAXTR];
    size_t nsplit;
    int64_t split[MAXTR]; /* local hours holding a change, sorted */
};

enum { BERLIN, NEWYORK, LORDHOWE, ODD, DATELINE, UTC, NZONES };
static struct zone zones[NZONES];

static int64_t floordiv(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int weekday(int64_t t) /* 0 = Sunday; 1970-01-01 was a Thursday */
{
    return (int)((floordiv(t, 86400) % 7 + 7 + 4) % 7);
}

static int64_t last_sunday(int y, int mo) /* 00:00 UTC of that day */
{
    int64_t d = utc_of(y, mo + 1, 1, 0, 0, 0) - 86400; /* timegm normalizes month 13 */
    while (weekday(d) != 0)
        d -= 86400;
    return d;
}

static int64_t nth_sunday(int y, int mo, int nth)
{
    int64_t d = utc_of(y, mo, 1, 0, 0, 0);
    while (weekday(d) != 0)
        d += 86400;
    return d + (int64_t)(nth - 1) * 7 * 86400;
}

/* The wall time at which the offset changes (PostgreSQL's rule: below it
 * the `before` offset, from it on the `after` one, whether it is the end
 * of a gap or the start of an overlap). */
static int64_t change_local(const struct transition *x)
{
    return x->at + x->after;
}

static void add(struct zone *z, int64_t at, int32_t after)
{
    assert_true(z->n < MAXTR);
    struct transition *x = &z->tr[z->n];
    x->at = at;
    x->before = z->n ? z->tr[z->n - 1].after : z->base;
    x->after = after;
    /* PostgreSQL's own assumption: changes at least 48 hours apart */
    if (z->n)
        assert_true(at - z->tr[z->n - 1].at > 2 * 86400);
    assert_int_not_equal(x->before, x->after);
    int64_t l = change_local(x);
    if (floordiv(l, 3600) * 3600 != l)
        z->split[z->nsplit++] = floordiv(l, 3600);
    z->n++;
}

static void zone_init(struct zone *z, const char *name, int32_t base)
{
    memset(z, 0, sizeof *z);
    z->name = name;
    z->base = base;
}

static int build_zones(void **state)
{
    (void)state;
    /* Europe/Berlin since 1996: last Sundays of March and October, 01:00 UTC. */
    struct zone *z = &zones[BERLIN];
    zone_init(z, "Test/Berlin", 3600);
    for (int y = FIRST_YEAR; y <= LAST_YEAR; y++) {
        add(z, last_sunday(y, 3) + 3600, 7200);
        add(z, last_sunday(y, 10) + 3600, 3600);
    }
    /* America/New_York since 2007: 02:00 local on the second Sunday of
     * March (07:00 UTC) and the first Sunday of November (06:00 UTC). */
    z = &zones[NEWYORK];
    zone_init(z, "Test/New_York", -18000);
    for (int y = FIRST_YEAR; y <= LAST_YEAR; y++) {
        add(z, nth_sunday(y, 3, 2) + 7 * 3600, -14400);
        add(z, nth_sunday(y, 11, 1) + 6 * 3600, -18000);
    }
    /* Australia/Lord_Howe: +10:30, and +11:00 in the southern summer; the
     * changes at 02:00 local of the first Sundays of April and October. */
    z = &zones[LORDHOWE];
    zone_init(z, "Test/Lord_Howe", 39600);
    for (int y = FIRST_YEAR; y <= LAST_YEAR; y++) {
        add(z, nth_sunday(y, 4, 1) + 2 * 3600 - 39600, 37800);
        add(z, nth_sunday(y, 10, 1) + 2 * 3600 - 37800, 39600);
    }
    /* Changes at odd seconds, by odd amounts, one across midnight. */
    z = &zones[ODD];
    zone_init(z, "Test/Odd", 0);
    add(z, utc_of(1975, 6, 1, 0, 13, 37), 1000);   /* gap of 1000 s */
    add(z, utc_of(1975, 11, 2, 3, 21, 19), -77);   /* overlap of 1077 s */
    add(z, utc_of(1980, 2, 29, 23, 59, 59), 1800); /* gap of 1877 s */
    add(z, utc_of(1999, 12, 31, 23, 0, 1), 1799);  /* overlap of 1 s */
    /* Samoa 2011: across the date line, a day skipped; then (invented) a
     * day repeated, at an odd second. */
    z = &zones[DATELINE];
    zone_init(z, "Test/Dateline", -36000);
    add(z, utc_of(2011, 12, 30, 10, 0, 0), 50400);
    add(z, utc_of(2015, 7, 4, 12, 34, 56), -36000);
    z = &zones[UTC];
    zone_init(z, "Test/UTC", 0);
    return 0;
}

/* The offset in effect at an instant. */
static int32_t offset_at(const struct zone *z, int64_t utc)
{
    size_t lo = 0, hi = z->n; /* the first transition after utc */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->tr[mid].at > utc)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo ? z->tr[lo - 1].after : z->base;
}

/* ---- the fake server ------------------------------------------------------ */

/* What PostgreSQL's timestamptz input (DetermineTimeZoneOffsetInternal)
 * makes of a wall time: the first transition after local - 1 day decides;
 * both candidates before it: `before`; both at or after it: `after`; in a
 * gap the offset before the change, in an overlap the one after it. */
static int64_t server(const struct zone *z, int64_t local)
{
    size_t lo = 0, hi = z->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->tr[mid].at > local - 86400)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo == z->n)
        return local - (z->n ? z->tr[z->n - 1].after : z->base);
    const struct transition *x = &z->tr[lo];
    int64_t b = local - x->before, a = local - x->after;
    if (b < x->at && a < x->at)
        return b;
    if (b >= x->at && a >= x->at)
        return a;
    if (x->before < x->after)
        return b; /* gap */
    return a;     /* overlap */
}

static bool split_hour(const struct zone *z, int64_t h)
{
    size_t lo = 0, hi = z->nsplit;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->split[mid] == h)
            return true;
        if (z->split[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* ---- driving the cache as load.c does ------------------------------------- */

struct rounds {
    size_t n;         /* rounds of questions */
    size_t asked[2];  /* questions in each */
    bool again[2];    /* what zone_answer returned */
};

static const char *when(int64_t t, char buf[40])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm))
        snprintf(buf, 40, "%lld", (long long)t);
    else
        strftime(buf, 40, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

static void need_all(struct zone_cache *zc, const int64_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zone_need(zc, b[i]);
}

/* Answer the open questions, round after round (zone_resolve). */
static struct rounds answer_all(struct zone_cache *zc, const struct zone *z, const int64_t *b,
                                size_t n)
{
    struct rounds r = {0};
    const int64_t *q;
    size_t nq;
    while ((nq = zone_questions(zc, &q)) != 0) {
        if (r.n == 2)
            fail_msg("%s: a third round of %zu questions", z->name, nq);
        int64_t *ans = xmalloc(nq * sizeof *ans);
        for (size_t i = 0; i < nq; i++)
            ans[i] = server(z, q[i]);
        r.asked[r.n] = nq;
        bool again = zone_answer(zc, ans);
        r.again[r.n++] = again;
        free(ans);
        if (zone_questions(zc, &q) != 0)
            fail_msg("%s: questions still open after zone_answer", z->name);
        if (again)
            need_all(zc, b, n);
    }
    return r;
}

static void check(const struct zone_cache *zc, const struct zone *z, const int64_t *b, size_t n,
                  const char *what)
{
    for (size_t i = 0; i < n; i++) {
        int64_t want = server(z, b[i]), got = zone_to_utc(zc, b[i]);
        if (got != want) {
            char l[40], g[40], w[40];
            fail_msg("%s, %s: %s local -> %s UTC (offset %lld), want %s UTC (offset %lld)",
                     z->name, what, when(b[i], l), when(got, g), (long long)(b[i] - got),
                     when(want, w), (long long)(b[i] - want));
        }
    }
}

/* One batch: begin, need, answer, convert. */
static struct rounds run(struct zone_cache *zc, const struct zone *z, const int64_t *b, size_t n,
                         const char *what)
{
    zone_begin(zc, z->name);
    need_all(zc, b, n);
    struct rounds r = answer_all(zc, z, b, n);
    check(zc, z, b, n, what);
    return r;
}

/* Questions a batch must ask in its second round: its distinct seconds in
 * hours that hold a change (none of them in the cache before). */
static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static size_t split_seconds(const struct zone *z, const int64_t *b, size_t n)
{
    int64_t *c = xmalloc((n ? n : 1) * sizeof *c);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (split_hour(z, floordiv(b[i], 3600)))
            c[k++] = b[i];
    qsort(c, k, sizeof *c, cmp_i64);
    size_t distinct = 0;
    for (size_t i = 0; i < k; i++)
        distinct += i == 0 || c[i] != c[i - 1];
    free(c);
    return distinct;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void shuffle(int64_t *b, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(next_rand() % i);
        int64_t t = b[i - 1];
        b[i - 1] = b[j];
        b[j] = t;
    }
}

static void reverse(int64_t *b, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        int64_t t = b[i];
        b[i] = b[n - 1 - i];
        b[n - 1 - i] = t;
    }
}

/* ---- the fake server itself ----------------------------------------------- */

struct known {
    int zone;
    const char *local;
    int64_t utc;
};

static int64_t parse(const char *s)
{
    int y, mo, d, h, mi, se;
    assert_int_equal(sscanf(s, "%d-%d-%d %d:%d:%d", &y, &mo, &d, &h, &mi, &se), 6);
    return utc_of(y, mo, d, h, mi, se);
}

/* Against what PostgreSQL says for the real zones in 2024 (and by hand for
 * the invented ones), then against the definition: outside gaps and
 * overlaps the only instant whose offset gives the wall time back. */
static void test_fake_server(void **state)
{
    (void)state;
    static const struct known known[] = {
        {BERLIN, "2024-03-31 01:59:59", 1711846799}, /* 00:59:59Z */
        {BERLIN, "2024-03-31 02:00:00", 1711846800}, /* gap: +01 */
        {BERLIN, "2024-03-31 02:30:00", 1711848600},
        {BERLIN, "2024-03-31 03:00:00", 1711846800},
        {BERLIN, "2024-10-27 01:59:59", 1729987199}, /* 2024-10-26 23:59:59Z */
        {BERLIN, "2024-10-27 02:00:00", 1729990800}, /* overlap: +01, 01:00Z */
        {BERLIN, "2024-10-27 02:59:59", 1729994399},
        {BERLIN, "2024-10-27 03:00:00", 1729994400},
        {NEWYORK, "2024-03-10 01:59:59", 1710053999},
        {NEWYORK, "2024-03-10 02:30:00", 1710055800}, /* gap: EST, 07:30Z */
        {NEWYORK, "2024-03-10 03:00:00", 1710054000},
        {NEWYORK, "2024-11-03 00:59:59", 1730609999},
        {NEWYORK, "2024-11-03 01:30:00", 1730615400}, /* overlap: EST, 06:30Z */
        {NEWYORK, "2024-11-03 02:00:00", 1730617200},
        {LORDHOWE, "2024-04-07 01:29:59", 1712413799}, /* +11 */
        {LORDHOWE, "2024-04-07 01:30:00", 1712415600}, /* overlap: +10:30, 15:00Z */
        {LORDHOWE, "2024-04-07 01:45:00", 1712416500},
        {LORDHOWE, "2024-04-07 02:00:00", 1712417400},
        {LORDHOWE, "2024-10-06 01:59:59", 1728142199}, /* +10:30 */
        {LORDHOWE, "2024-10-06 02:15:00", 1728143100}, /* gap: +10:30 */
        {LORDHOWE, "2024-10-06 02:30:00", 1728142200}, /* +11, 15:30Z */
        {ODD, "1975-06-01 00:13:36", 170813616},
        {ODD, "1975-06-01 00:20:00", 170814000}, /* gap: +0 */
        {ODD, "1975-06-01 00:30:17", 170813617}, /* +1000 */
        {ODD, "1975-11-02 03:20:01", 184129401}, /* +1000 */
        {ODD, "1975-11-02 03:20:02", 184130479}, /* overlap: -77 */
        {ODD, "1975-11-02 03:37:59", 184131556},
        {DATELINE, "2011-12-29 23:59:59", 1325239199}, /* -10 */
        {DATELINE, "2011-12-30 12:00:00", 1325282400}, /* skipped day: -10 */
        {DATELINE, "2011-12-31 00:00:00", 1325239200}, /* +14 */
        {UTC, "2024-03-31 02:30:00", 1711852200},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        const struct zone *z = &zones[known[i].zone];
        int64_t got = server(z, parse(known[i].local));
        char g[40], w[40];
        if (got != known[i].utc)
            fail_msg("server(%s, %s) = %s, want %s", z->name, known[i].local, when(got, g),
                     when(known[i].utc, w));
    }

    for (int zi = 0; zi < NZONES; zi++) {
        const struct zone *z = &zones[zi];
        for (size_t i = 0; i < z->n; i++) {
            const struct transition *x = &z->tr[i];
            int64_t lb = x->at + x->before, la = x->at + x->after;
            int64_t lo = (lb < la ? lb : la) - 7200, hi = (lb > la ? lb : la) + 7200;
            for (int64_t l = lo; l < hi; l++) {
                int64_t u = server(z, l);
                bool gap = l >= lb && l < la, overlap = l >= la && l < lb;
                int32_t off = offset_at(z, u);
                if (gap ? u != l - x->before : overlap ? u != l - x->after : l - u != off)
                    fail_msg("%s: server is wrong at %lld (gap %d overlap %d)", z->name,
                             (long long)l, gap, overlap);
                if (!gap && l - u != off)
                    fail_msg("%s: %lld gives an instant of another offset", z->name,
                             (long long)l);
            }
        }
    }
}

/* ---- every second around every change ------------------------------------- */

enum order { FORWARD, BACKWARD, SHUFFLED };

static void around_changes(enum order order)
{
    static const char *const names[] = {"forward", "backward", "shuffled"};
    for (int zi = 0; zi < NZONES; zi++) {
        const struct zone *z = &zones[zi];
        for (size_t i = 0; i < z->n; i++) {
            /* A cache of its own: a window that starts where the last
             * one's look-ahead ended would see it grow (zone_need). */
            struct zone_cache *zc = zone_create();
            const struct transition *x = &z->tr[i];
            int64_t lb = x->at + x->before, la = change_local(x);
            int64_t lo = (lb < la ? lb : la) - 3 * 3600 - 17;
            int64_t hi = (lb > la ? lb : la) + 3 * 3600 + 17;
            size_t n = (size_t)(hi - lo);
            int64_t *b = xmalloc(n * sizeof *b);
            for (size_t k = 0; k < n; k++)
                b[k] = lo + (int64_t)k;
            if (order == BACKWARD)
                reverse(b, n);
            else if (order == SHUFFLED)
                shuffle(b, n);
            struct rounds r = run(zc, z, b, n, names[order]);

            /* Round one asks hours. Forward, the first hour met and the
             * ZONE_AHEAD_HOURS after it cover the whole window; backward,
             * the last hour and the ZONE_AHEAD_HOURS after it, then each
             * earlier hour on its own. Round two asks each second of the
             * hour holding the change, if that hour is split. */
            int64_t hours = floordiv(hi - 1, 3600) - floordiv(lo, 3600) + 1;
            bool split = split_hour(z, floordiv(la, 3600));
            assert_int_equal(r.n, split ? 2 : 1);
            assert_int_equal(r.again[0], split);
            assert_true(hours <= 1 + ZONE_AHEAD_HOURS);
            if (order == FORWARD)
                assert_int_equal(r.asked[0], 2 * (1 + ZONE_AHEAD_HOURS));
            else if (order == BACKWARD)
                assert_int_equal(r.asked[0], 2 * (hours + ZONE_AHEAD_HOURS));
            else
                assert_in_range(r.asked[0], 2 * hours, 2 * (hours + ZONE_AHEAD_HOURS));
            if (split) {
                assert_int_equal(r.asked[1], 3600);
                assert_false(r.again[1]);
            }
            free(b);
            zone_destroy(zc);
        }
    }
}

/* One test per batch order; the order comes as the test's state. */
static const enum order orders[] = {FORWARD, BACKWARD, SHUFFLED};

static void test_around_changes(void **state)
{
    around_changes(*(const enum order *)*state);
}

/* Batches longer than the look-ahead: three days by the second around a
 * few changes, then a whole year every 61 seconds. */
static void test_long_batches(void **state)
{
    (void)state;
    for (int zi = 0; zi < NZONES; zi++) {
        const struct zone *z = &zones[zi];
        struct zone_cache *zc = zone_create();
        size_t picks[3] = {0, z->n / 2, z->n ? z->n - 1 : 0};
        for (size_t p = 0; p < 3; p++) {
            if (p && picks[p] == picks[p - 1])
                continue;
            int64_t mid = z->n ? change_local(&z->tr[picks[p]]) : utc_of(2024, 6, 1, 12, 0, 0);
            int64_t lo = mid - 36 * 3600 - 1, hi = mid + 36 * 3600 + 1;
            size_t n = (size_t)(hi - lo);
            int64_t *b = xmalloc(n * sizeof *b);
            for (size_t k = 0; k < n; k++)
                b[k] = lo + (int64_t)k;
            if (p == 1)
                reverse(b, n);
            struct rounds r = run(zc, z, b, n, "three days");
            int64_t hours = floordiv(hi - 1, 3600) - floordiv(lo, 3600) + 1;
            /* the look-ahead grows as the batch runs through it */
            assert_in_range(r.asked[0], 2 * hours, 2 * (hours + ZONE_AHEAD_MAX_HOURS));
            size_t want2 = split_seconds(z, b, n);
            assert_int_equal(r.n, want2 ? 2 : 1);
            if (want2)
                assert_int_equal(r.asked[1], want2);
            free(b);
        }

        static const int years[] = {1975, 2011, 2024};
        for (size_t y = 0; y < sizeof years / sizeof *years; y++) {
            int64_t lo = utc_of(years[y], 1, 1, 0, 0, 0), hi = utc_of(years[y] + 1, 1, 1, 0, 0, 0);
            zone_destroy(zc); /* nothing of the three days in the cache */
            zc = zone_create();
            size_t n = (size_t)((hi - lo + 60) / 61);
            int64_t *b = xmalloc(n * sizeof *b);
            for (size_t k = 0; k < n; k++)
                b[k] = lo + (int64_t)k * 61;
            struct rounds r = run(zc, z, b, n, "a year");
            int64_t hours = floordiv(b[n - 1], 3600) - floordiv(lo, 3600) + 1;
            /* the look-ahead grows as the batch runs through it */
            assert_in_range(r.asked[0], 2 * hours, 2 * (hours + ZONE_AHEAD_MAX_HOURS));
            size_t want2 = split_seconds(z, b, n);
            assert_int_equal(r.n, want2 ? 2 : 1);
            if (want2)
                assert_int_equal(r.asked[1], want2);
            free(b);
        }
        zone_destroy(zc);
    }
}

/* Only the edges of each gap and overlap, each change a batch of its own,
 * checked against the rule spelled out (not only against the server). */
static void test_edges(void **state)
{
    (void)state;
    for (int zi = 0; zi < NZONES; zi++) {
        const struct zone *z = &zones[zi];
        struct zone_cache *zc = zone_create();
        for (size_t i = 0; i < z->n; i++) {
            const struct transition *x = &z->tr[i];
            int64_t lb = x->at + x->before, la = change_local(x);
            int64_t hb = floordiv(lb, 3600) * 3600, ha = floordiv(la, 3600) * 3600;
            int64_t b[] = {la, la - 1, la + 1, lb - 1, lb, lb + 1, ha - 1, ha, ha + 3599, ha + 3600,
                           hb - 1, hb, hb + 3599, hb + 3600, la, la - 1};
            size_t n = sizeof b / sizeof *b;
            struct rounds r = run(zc, z, b, n, "edges");
            size_t want2 = split_seconds(z, b, n);
            assert_int_equal(r.n, want2 ? 2 : 1);
            if (want2)
                assert_int_equal(r.asked[1], want2);

            /* the offset before below la, the offset after from la on */
            assert_int_equal(zone_to_utc(zc, la), x->at);
            assert_int_equal(zone_to_utc(zc, la - 1), la - 1 - x->before);
            assert_int_equal(zone_to_utc(zc, la + 1), x->at + 1);
            if (lb < la) { /* gap [lb, la): before */
                assert_int_equal(zone_to_utc(zc, lb - 1), x->at - 1);
                assert_int_equal(zone_to_utc(zc, lb), x->at);
                assert_int_equal(zone_to_utc(zc, lb + 1), x->at + 1);
            } else { /* overlap [la, lb): after, the later instant */
                assert_int_equal(zone_to_utc(zc, lb - 1), lb - 1 - x->after);
                assert_int_equal(zone_to_utc(zc, lb), lb - x->after);
                assert_true(zone_to_utc(zc, lb - 1) > lb - 1 - x->before);
            }
        }
        zone_destroy(zc);
    }
}

/* ---- the protocol and the cache ------------------------------------------- */

static int64_t *range(int64_t lo, int64_t hi, int64_t step, size_t *n)
{
    *n = (size_t)((hi - lo + step - 1) / step);
    int64_t *b = xmalloc(*n * sizeof *b);
    for (size_t k = 0; k < *n; k++)
        b[k] = lo + (int64_t)k * step;
    return b;
}

/* One time asks for its hour and the ZONE_AHEAD_HOURS after it: each hour
 * as its first and its last second. */
static void test_questions(void **state)
{
    (void)state;
    const struct zone *z = &zones[BERLIN];
    struct zone_cache *zc = zone_create();
    const int64_t *q;
    zone_begin(zc, z->name);
    assert_int_equal(zone_questions(zc, &q), 0);
    int64_t t = parse("2024-03-31 00:29:13"), h = floordiv(t, 3600);
    zone_need(zc, t);
    size_t nq = zone_questions(zc, &q);
    assert_int_equal(nq, 2 * (1 + ZONE_AHEAD_HOURS));
    for (size_t k = 0; k < nq / 2; k++) {
        assert_int_equal(q[2 * k], (h + (int64_t)k) * 3600);
        assert_int_equal(q[2 * k + 1], (h + (int64_t)k) * 3600 + 3599);
    }
    /* more times in the hours already asked add nothing */
    zone_need(zc, t);
    zone_need(zc, t + 3600 * ZONE_AHEAD_HOURS);
    assert_int_equal(zone_questions(zc, &q), nq);
    struct rounds r = answer_all(zc, z, &t, 1);
    assert_int_equal(r.n, 1);
    assert_false(r.again[0]);
    assert_int_equal(zone_to_utc(zc, t), parse("2024-03-30 23:29:13"));
    /* the look-ahead's hours are answered: 02:30 (gap) and 03:30 */
    assert_int_equal(zone_to_utc(zc, parse("2024-03-31 02:30:00")), parse("2024-03-31 01:30:00"));
    assert_int_equal(zone_to_utc(zc, parse("2024-03-31 03:30:00")), parse("2024-03-31 01:30:00"));
    assert_int_equal(zone_to_utc(zc, t + 3600 * ZONE_AHEAD_HOURS),
                     server(z, t + 3600 * ZONE_AHEAD_HOURS));

    /* The look-ahead stops at 9999-12-31 23:59:59: the questions travel as
     * "YYYY-MM-DD HH:MM:SS" text, and year 10000 does not fit. */
    static const struct {
        const char *local;
        size_t hours;
    } ends[] = {
        {"9999-11-29 00:00:00", 1 + ZONE_AHEAD_HOURS}, /* 792 hours from the end */
        {"9999-12-30 00:00:01", 48},
        {"9999-12-31 12:00:00", 12},
        {"9999-12-31 23:59:59", 1},
    };
    for (size_t i = 0; i < sizeof ends / sizeof *ends; i++) {
        int64_t l = parse(ends[i].local);
        zone_destroy(zc);
        zc = zone_create();
        zone_begin(zc, z->name);
        zone_need(zc, l);
        nq = zone_questions(zc, &q);
        if (nq != 2 * ends[i].hours)
            fail_msg("%s: %zu questions, want %zu", ends[i].local, nq, 2 * ends[i].hours);
        assert_int_equal(q[nq - 1], floordiv(l, 3600) * 3600 + 3600 * (int64_t)ends[i].hours - 1);
        assert_true(q[nq - 1] <= 253402300799LL);
        answer_all(zc, z, &l, 1);
        assert_int_equal(zone_to_utc(zc, l), l - 3600);
    }
    zone_destroy(zc);
}

/* Answers stay for the next batches of the same zone; seconds of a split
 * hour are asked once each, on their own. */
static void test_cache_kept(void **state)
{
    (void)state;
    const struct zone *z = &zones[BERLIN];
    struct zone_cache *zc = zone_create();
    size_t n;
    int64_t lo = parse("2024-03-31 00:00:00");
    int64_t *b = range(lo, lo + 6 * 3600, 10, &n);
    struct rounds r = run(zc, z, b, n, "first batch");
    assert_int_equal(r.n, 1);

    /* the same hours again, named through another buffer */
    char name[64];
    snprintf(name, sizeof name, "%s", z->name);
    zone_begin(zc, name);
    need_all(zc, b, n);
    const int64_t *q;
    assert_int_equal(zone_questions(zc, &q), 0);
    check(zc, z, b, n, "second batch, from the cache");
    free(b);

    /* within the look-ahead: nothing to ask; beyond it: asked */
    b = range(lo + 40 * 3600, lo + 46 * 3600, 7, &n);
    zone_begin(zc, z->name);
    need_all(zc, b, n);
    assert_int_equal(zone_questions(zc, &q), 0);
    check(zc, z, b, n, "within the look-ahead");
    free(b);
    b = range(lo + (ZONE_AHEAD_HOURS + 12) * 3600, lo + (ZONE_AHEAD_HOURS + 13) * 3600, 7, &n);
    r = run(zc, z, b, n, "beyond the look-ahead");
    assert_int_equal(r.n, 1);
    assert_int_equal(r.asked[0], 2 * (1 + ZONE_AHEAD_HOURS));
    free(b);

    /* Lord Howe: some seconds of the split hour of April 2024... */
    const struct zone *lh = &zones[LORDHOWE];
    int64_t s = parse("2024-04-07 01:00:00"); /* the hour; overlap from 01:30 */
    int64_t first[] = {s + 5, s + 1799, s + 1800, s + 3599};
    r = run(zc, lh, first, 4, "split hour, first seconds");
    assert_int_equal(r.n, 2);
    assert_int_equal(r.asked[1], 4);
    /* ...the same seconds again: nothing; new ones (one twice): just them,
     * one round, and no further clock change reported */
    int64_t again[] = {s + 5, s + 1800, s + 1801, s + 1801, s + 17, s + 3599};
    zone_begin(zc, lh->name);
    need_all(zc, again, 2);
    assert_int_equal(zone_questions(zc, &q), 0);
    r = run(zc, lh, again, 6, "split hour, more seconds");
    assert_int_equal(r.n, 1);
    assert_int_equal(r.asked[0], 2);
    assert_false(r.again[0]);
    /* seconds of a known split hour together with new hours that hold a
     * change (October): mixed first round, then the new split seconds */
    int64_t oct = parse("2024-10-06 02:00:00"); /* gap 02:00..02:30 */
    int64_t mixed[] = {s + 100, oct + 100, s + 101, oct + 1800, oct + 3599, oct - 1};
    r = run(zc, lh, mixed, 6, "known and new split hours");
    assert_int_equal(r.n, 2);
    assert_true(r.again[0]);
    /* s+100 and s+101; the hour of oct and those after it; the hour
     * before oct (the look-ahead only looks forward) */
    assert_int_equal(r.asked[0], 2 + 2 * (1 + ZONE_AHEAD_HOURS) + 2);
    assert_int_equal(r.asked[1], 3);
    zone_destroy(zc);
}

/* Another zone's answers are forgotten: the same wall times are asked
 * again and get the new zone's instants. */
static void test_zone_switch(void **state)
{
    (void)state;
    struct zone_cache *zc = zone_create();
    size_t n;
    int64_t lo = parse("2024-03-10 00:00:00"); /* New York's spring change */
    int64_t *b = range(lo, lo + 5 * 86400, 13, &n);
    static const int order[] = {BERLIN, NEWYORK, LORDHOWE, BERLIN, UTC, NEWYORK, NEWYORK};
    for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
        const struct zone *z = &zones[order[i]];
        struct rounds r = run(zc, z, b, n, "after a zone switch");
        bool same = i > 0 && order[i] == order[i - 1];
        if (same)
            assert_int_equal(r.n, 0);
        else
            assert_in_range(r.asked[0], 2 * (5 * 24), 2 * (5 * 24 + ZONE_AHEAD_HOURS));
    }
    /* the instants really differ between the zones */
    assert_int_not_equal(server(&zones[BERLIN], lo), server(&zones[NEWYORK], lo));
    free(b);
    zone_destroy(zc);
}

/* A batch whose questions are never answered (the query failed): the next
 * zone_begin of the same zone starts clean. */
static void test_failed_batch(void **state)
{
    (void)state;
    struct zone_cache *zc = zone_create();
    const int64_t *q;
    size_t n;

    /* failed in the first round */
    const struct zone *z = &zones[BERLIN];
    int64_t lo = parse("2024-10-26 22:00:00");
    int64_t *b = range(lo, lo + 8 * 3600, 1, &n);
    zone_begin(zc, z->name);
    need_all(zc, b, n);
    size_t asked = zone_questions(zc, &q);
    assert_int_equal(asked, 2 * (1 + ZONE_AHEAD_HOURS));
    zone_begin(zc, z->name);
    assert_int_equal(zone_questions(zc, &q), 0);
    need_all(zc, b, n);
    assert_int_equal(zone_questions(zc, &q), asked); /* all asked again */
    struct rounds r = answer_all(zc, z, b, n);
    assert_int_equal(r.n, 1);
    check(zc, z, b, n, "after a failed first round");
    free(b);

    /* failed in the second round (the seconds of a split hour) */
    const struct zone *lh = &zones[LORDHOWE];
    lo = parse("2024-10-06 00:00:00");
    b = range(lo, lo + 5 * 3600, 1, &n);
    zone_begin(zc, lh->name);
    need_all(zc, b, n);
    size_t nq = zone_questions(zc, &q);
    int64_t *ans = xmalloc(nq * sizeof *ans);
    for (size_t i = 0; i < nq; i++)
        ans[i] = server(lh, q[i]);
    assert_true(zone_answer(zc, ans));
    free(ans);
    need_all(zc, b, n);
    assert_int_equal(zone_questions(zc, &q), 3600);
    /* not answered; the same zone again */
    zone_begin(zc, lh->name);
    assert_int_equal(zone_questions(zc, &q), 0);
    r = run(zc, lh, b, n, "after a failed second round");
    assert_int_equal(r.n, 2);
    assert_int_equal(r.asked[1], 3600);

    /* failed, then another zone, then back */
    zone_begin(zc, z->name);
    need_all(zc, b, n);
    assert_true(zone_questions(zc, &q) > 0);
    run(zc, lh, b, n, "failed, switched");
    run(zc, z, b, n, "failed, switched, back");
    free(b);
    zone_destroy(zc);
}

/* Each look-ahead that starts where the last one ended asks about twice as
 * many hours, up to ZONE_AHEAD_MAX_HOURS, and every answer is the
 * server's; a jump in time, or another zone, starts again from
 * ZONE_AHEAD_HOURS. */
static void test_lookahead_grows(void **state)
{
    (void)state;
    const struct zone *z = &zones[NEWYORK];
    struct zone_cache *zc = zone_create();
    int64_t t = parse("2024-01-01 00:10:00");
    int64_t want = ZONE_AHEAD_HOURS;
    const int64_t *q;
    for (int round = 0; round < 7; round++) {
        zone_begin(zc, z->name);
        zone_need(zc, t);
        assert_int_equal(zone_questions(zc, &q), 2 * (1 + want));
        answer_all(zc, z, &t, 1);
        /* the last hour asked is answered; the next one is not */
        int64_t last = t + 3600 * want;
        zone_begin(zc, z->name);
        zone_need(zc, last);
        assert_int_equal(zone_questions(zc, &q), 0);
        assert_int_equal(zone_to_utc(zc, last), server(z, last));
        t = last + 3600;
        want = want * 2 < ZONE_AHEAD_MAX_HOURS ? want * 2 : ZONE_AHEAD_MAX_HOURS;
    }
    assert_int_equal(want, ZONE_AHEAD_MAX_HOURS);
    t += 3600 * 24; /* a day past the answers */
    zone_begin(zc, z->name);
    zone_need(zc, t);
    assert_int_equal(zone_questions(zc, &q), 2 * (1 + ZONE_AHEAD_HOURS));
    answer_all(zc, z, &t, 1);
    t += 3600 * (1 + ZONE_AHEAD_HOURS);
    zone_begin(zc, zones[BERLIN].name);
    zone_need(zc, t);
    assert_int_equal(zone_questions(zc, &q), 2 * (1 + ZONE_AHEAD_HOURS));
    zone_destroy(zc);
}

/* Times scattered over many days, one per day, in random order. Each
 * distinct hour of the batch is asked once (2 questions); the look-ahead
 * asks only while fewer than 2048 questions are open, two per hour, so it
 * adds at most 1024 hours: 2 * days <= asked <= 2 * days + 2048 (without
 * that stop: up to 2 * 49 * days, more as the look-ahead grows). Then the
 * size bound: more than ZONE_CACHE_MAX answers are forgotten at the next
 * zone_begin, fewer are kept. */
static void scattered(const struct zone *z, size_t days, bool over_max)
{
    int64_t *b = xmalloc(days * sizeof *b);
    for (size_t d = 0; d < days; d++)
        b[d] = (int64_t)d * 86400 + (int64_t)(next_rand() % 86400);
    /* where a change falls on one of the days: a time in its split hour */
    for (size_t i = 0; i < z->n; i++) {
        int64_t la = change_local(&z->tr[i]);
        size_t d = (size_t)floordiv(la, 86400);
        if (d < days && split_hour(z, floordiv(la, 3600))) {
            b[d] = la + (la % 3600 < 1800 ? 17 : -17);
            assert_true(split_hour(z, floordiv(b[d], 3600)) && floordiv(b[d], 86400) == (int64_t)d);
        }
    }
    shuffle(b, days);
    struct zone_cache *zc = zone_create();
    struct rounds r = run(zc, z, b, days, "scattered");
    assert_in_range(r.asked[0], 2 * days, 2 * days + 2048);
    size_t want2 = split_seconds(z, b, days);
    assert_int_equal(r.n, want2 ? 2 : 1);
    if (want2)
        assert_int_equal(r.asked[1], want2);
    if (z->nsplit && days > 10000)
        assert_true(want2 > 0);

    /* the next batch of the same zone */
    zone_begin(zc, z->name);
    need_all(zc, b, days);
    const int64_t *q;
    size_t nq = zone_questions(zc, &q);
    if (over_max) /* forgotten: everything asked again */
        assert_in_range(nq, 2 * days, 2 * days + 2048);
    else
        assert_int_equal(nq, 0);
    answer_all(zc, z, b, days);
    check(zc, z, b, days, "scattered, second batch");
    free(b);
    zone_destroy(zc);
}

static void test_scattered(void **state)
{
    (void)state;
    for (int zi = 0; zi < NZONES; zi++) {
        scattered(&zones[zi], 20000, true);
        scattered(&zones[zi], 8000, false);
    }
}

/* A cache of up to ZONE_CACHE_MAX answers survives the next zone_begin;
 * one more than that does not. Entries are counted from the questions:
 * every hour asked is one (the batches below meet no clock change, and
 * their hours are far apart, so no hour is asked twice). */
static void test_cache_max(void **state)
{
    (void)state;
    const struct zone *z = &zones[NEWYORK];
    struct zone_cache *zc = zone_create();
    const int64_t *q;
    int64_t probe = parse("2024-11-03 01:30:00"); /* the repeated hour: EST */
    struct rounds r = run(zc, z, &probe, 1, "probe");
    size_t held = r.asked[0] / 2, batches = 0;
    int64_t t = parse("1971-01-01 00:00:00");
    for (;;) {
        int64_t b[100];
        for (size_t k = 0; k < 100; k++, t += 7 * 86400 + 3600)
            b[k] = t;
        r = run(zc, z, b, 100, "filling");
        assert_int_equal(r.n, 1);
        held += r.asked[0] / 2;
        batches++;
        zone_begin(zc, z->name);
        zone_need(zc, probe);
        size_t nq = zone_questions(zc, &q);
        if (held <= ZONE_CACHE_MAX) {
            assert_int_equal(nq, 0); /* kept */
            assert_int_equal(zone_to_utc(zc, probe), parse("2024-11-03 06:30:00"));
            continue;
        }
        /* over the bound: forgotten, the probe is asked again */
        assert_int_equal(nq, 2 * (1 + ZONE_AHEAD_HOURS));
        answer_all(zc, z, &probe, 1);
        assert_int_equal(zone_to_utc(zc, probe), parse("2024-11-03 06:30:00"));
        break;
    }
    assert_true(batches > 1);
    zone_destroy(zc);
}

/* UTC: no changes, every instant is its wall time, one round. */
static void test_utc(void **state)
{
    (void)state;
    const struct zone *z = &zones[UTC];
    struct zone_cache *zc = zone_create();
    size_t n;
    int64_t *b = range(0, 3 * 86400, 1, &n);
    struct rounds r = run(zc, z, b, n, "utc");
    assert_int_equal(r.n, 1);
    for (size_t i = 0; i < n; i += 997)
        assert_int_equal(zone_to_utc(zc, b[i]), b[i]);
    free(b);
    int64_t far[] = {parse("9999-12-28 23:59:59"), parse("2038-01-19 03:14:08")};
    run(zc, z, far, 2, "utc, far");
    assert_int_equal(zone_to_utc(zc, far[0]), far[0]);
    assert_int_equal(zone_to_utc(zc, far[1]), 2147483648LL);
    zone_destroy(zc);
    zone_destroy(NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_fake_server),
    cmocka_unit_test(test_questions),
    cmocka_unit_test_prestate(test_around_changes, (void *)&orders[0]),
    cmocka_unit_test_prestate(test_around_changes, (void *)&orders[1]),
    cmocka_unit_test_prestate(test_around_changes, (void *)&orders[2]),
    cmocka_unit_test(test_long_batches),
    cmocka_unit_test(test_edges),
    cmocka_unit_test(test_cache_kept),
    cmocka_unit_test(test_lookahead_grows),
    cmocka_unit_test(test_zone_switch),
    cmocka_unit_test(test_failed_batch),
    cmocka_unit_test(test_scattered),
    cmocka_unit_test(test_cache_max),
    cmocka_unit_test(test_utc),
};

int main(void)
{
    return cmocka_run_group_tests(tests, build_zones, NULL);
}
