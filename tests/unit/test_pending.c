/*
 * test_pending.c - pending.c, the rule that says when a watched file is
 * complete. A file read too early is imported half-written; one never
 * found ready is never imported: both are silent for the user, so every
 * transition is driven here with made-up times and lstat results. Each
 * scenario is a list of steps on one file (what a backend reports, what
 * lstat says, at what time) with the answer expected after each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "pending.h"
#include "testutil.h"

#define PATH "/in/Master.csv"

static struct stat st_of(off_t size, long long mtime_ns)
{
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_size = size;
    st.st_mtim.tv_sec = (time_t)(mtime_ns / 1000000000);
    st.st_mtim.tv_nsec = (long)(mtime_ns % 1000000000);
    return st;
}

/* Times in the tables are sums that are exact in binary (0.25, 0.5 ...),
 * so that "settled exactly now" means what it says. */

/* ---- scenarios on one file ------------------------------------------------ */

enum op {
    END,
    NOTE,      /* pending_note(kind, size, mtime) at t */
    LOST,      /* pending_note(kind SEEN) with lstat failed */
    READY,     /* pending_ready at t must be true */
    WAIT,      /* ... must be false */
    DUE,       /* pending_next_due must be want (INFINITY: none) */
    RECHECK,   /* pending_recheck(size, mtime) at t must give want */
    KEEP,      /* pending_keep */
    RETRY,     /* pending_retry_later at t */
    COUNT,     /* the table must hold want files */
    SKIPS,     /* the first file's skips must be want (the watcher logs the first) */
};

struct step {
    enum op op;
    double t;
    enum pending_kind kind;
    off_t size;
    long long mtime;
    double want;
};

struct scenario {
    const char *name;
    struct pending_rule rule;
    struct step steps[12];
};

/* Steps, spelled out so that every field is named. */
#define S_NOTE(t_, kind_, size_, mtime_) \
    {.op = NOTE, .t = (t_), .kind = (kind_), .size = (size_), .mtime = (mtime_)}
#define S_AT(op_, t_) {.op = (op_), .t = (t_)}
#define S_WANT(op_, want_) {.op = (op_), .want = (want_)}
#define S_RECHECK(t_, size_, mtime_, want_) \
    {.op = RECHECK, .t = (t_), .size = (size_), .mtime = (mtime_), .want = (want_)}

#define SETTLE1 {.settle_s = 1.0, .quiet_look = false}
#define POLL1 {.settle_s = 1.0, .quiet_look = true}

static const struct scenario scenarios[] = {
    {"seen: complete once settled", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_AT(WAIT, 0.5),
      S_AT(WAIT, 0.999),
      S_WANT(DUE, 1.0),
      S_AT(READY, 1.0)}},
    {"settle 0: seen is complete at once", {.settle_s = 0},
     {S_NOTE(5, PENDING_SEEN, 10, 100), S_AT(READY, 5)}},
    {"unchanged sightings do not restart the settle time", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100), S_NOTE(0.5, PENDING_SEEN, 10, 100), S_AT(READY, 1.0)}},
    {"size change restarts the settle time", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_NOTE(0.5, PENDING_SEEN, 20, 100),
      S_AT(WAIT, 1.25),
      S_AT(READY, 1.5)}},
    {"mtime change alone (1 ns) restarts the settle time", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_NOTE(0.5, PENDING_SEEN, 10, 101),
      S_AT(WAIT, 1.25),
      S_AT(READY, 1.5)}},
    {"writing: never complete while open, whatever the time or a scan says", SETTLE1,
     {S_NOTE(0, PENDING_WRITING, 10, 100),
      S_AT(WAIT, 1000),
      S_WANT(DUE, INFINITY),
      S_NOTE(1000, PENDING_SEEN, 10, 100),
      S_AT(WAIT, 2000)}},
    {"writing then closed: settles from the close", SETTLE1,
     {S_NOTE(0, PENDING_WRITING, 10, 100),
      S_NOTE(50, PENDING_CLOSED, 30, 200),
      S_AT(WAIT, 50.5),
      S_WANT(DUE, 51),
      S_AT(READY, 51)}},
    {"closed (moved in): settles from the event", SETTLE1,
     {S_NOTE(0, PENDING_CLOSED, 10, 100), S_AT(WAIT, 0.5), S_AT(READY, 1.0)}},
    {"settle 0: closed is complete at once", {.settle_s = 0},
     {S_NOTE(3, PENDING_CLOSED, 10, 100), S_AT(READY, 3)}},
    {"closed with no change still restarts the settle time", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_NOTE(0.75, PENDING_CLOSED, 10, 100),
      S_AT(WAIT, 1.0),
      S_AT(READY, 1.75)}},
    {"writing on a settled file holds it again", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_AT(READY, 2),
      S_NOTE(2, PENDING_WRITING, 10, 100),
      S_AT(WAIT, 10)}},
    {"poll: the first sighting alone is not enough", POLL1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_AT(WAIT, 5),
      S_WANT(DUE, INFINITY),
      S_NOTE(5, PENDING_SEEN, 10, 100),
      S_AT(READY, 5)}},
    {"poll: one unchanged look and the settle time, both", {.settle_s = 1.5, .quiet_look = true},
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_NOTE(0.2, PENDING_SEEN, 10, 100),
      S_AT(WAIT, 1.0),
      S_WANT(DUE, 1.5),
      S_AT(READY, 1.5)}},
    {"poll: a change wants a new unchanged look", POLL1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_NOTE(1, PENDING_SEEN, 10, 100),
      S_NOTE(2, PENDING_SEEN, 20, 200),
      S_AT(WAIT, 10),
      S_NOTE(10, PENDING_SEEN, 20, 200),
      S_AT(READY, 10)}},
    {"poll: only a sighting counts as a look, not an event", POLL1,
     {S_NOTE(0, PENDING_CLOSED, 10, 100),
      S_NOTE(1, PENDING_CLOSED, 10, 100),
      S_AT(WAIT, 10)}},
    {"gone: dropped", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100), S_NOTE(1, PENDING_GONE, 0, 0), S_WANT(COUNT, 0)}},
    {"lstat failed: dropped", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100), S_AT(LOST, 1), S_WANT(COUNT, 0)}},
    {"gone or lstat failed for an unknown file: nothing noted", SETTLE1,
     {S_NOTE(0, PENDING_GONE, 0, 0), S_AT(LOST, 0), S_WANT(COUNT, 0)}},
    {"recheck unchanged: import", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_RECHECK(2, 10, 100, PENDING_IMPORT),
      S_WANT(COUNT, 1)}},
    {"recheck changed: not ready, settles again from the recheck", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_AT(READY, 2),
      S_RECHECK(2, 11, 100, PENDING_CHANGED),
      S_AT(WAIT, 2.5),
      S_AT(READY, 3),
      S_RECHECK(3, 11, 100, PENDING_IMPORT)}},
    {"poll: recheck changed wants a new look", POLL1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_NOTE(1, PENDING_SEEN, 10, 100),
      S_RECHECK(2, 10, 300, PENDING_CHANGED),
      S_AT(WAIT, 10),
      S_NOTE(10, PENDING_SEEN, 10, 300),
      S_AT(READY, 10)}},
    {"recheck finds it gone: dropped", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_RECHECK(2, -1, 0, PENDING_VANISHED),
      S_WANT(COUNT, 0)}},
    {"kept: not again while unchanged", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_AT(KEEP, 0),
      S_AT(WAIT, 100),
      S_WANT(DUE, INFINITY),
      S_NOTE(100, PENDING_SEEN, 10, 100),
      S_AT(WAIT, 200),
      S_NOTE(200, PENDING_SEEN, 20, 100),
      S_AT(WAIT, 200.5),
      S_AT(READY, 201)}},
    {"kept, then written to: again once closed and settled", SETTLE1,
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_AT(KEEP, 0),
      S_NOTE(5, PENDING_WRITING, 10, 100),
      S_NOTE(6, PENDING_CLOSED, 10, 100),
      S_AT(READY, 7)}},
    {"skipped: not again for PENDING_RETRY_S", {.settle_s = 0},
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_WANT(SKIPS, 0),
      S_AT(READY, 5),
      S_AT(RETRY, 5),
      S_WANT(SKIPS, 1),
      S_AT(WAIT, 5 + PENDING_RETRY_S - 0.001),
      S_WANT(DUE, 5 + PENDING_RETRY_S),
      S_AT(READY, 5 + PENDING_RETRY_S),
      S_AT(RETRY, 5 + PENDING_RETRY_S),
      S_WANT(SKIPS, 2)}},
    {"skipped: the settle time counts from the skip too", {.settle_s = 3},
     {S_NOTE(0, PENDING_SEEN, 10, 100),
      S_AT(RETRY, 5),
      S_AT(WAIT, 7.9),
      S_WANT(DUE, 8),
      S_AT(READY, 8)}},
};

static struct stat *stat_for(const struct step *s, struct stat *buf)
{
    if (s->size < 0)
        return NULL;
    *buf = st_of(s->size, s->mtime);
    return buf;
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof scenarios / sizeof *scenarios; k++) {
        const struct scenario *sc = &scenarios[k];
        struct pending_table t = {0};
        for (size_t i = 0; i < sizeof sc->steps / sizeof *sc->steps && sc->steps[i].op != END;
             i++) {
            const struct step *s = &sc->steps[i];
            struct stat buf;
            const struct pending_file *p = t.n ? &t.files[0] : NULL;
            bool ok = true;
            switch (s->op) {
            case END:
                break;
            case NOTE:
                pending_note(&t, 0, PATH, s->kind, stat_for(s, &buf), &sc->rule, s->t);
                break;
            case LOST:
                pending_note(&t, 0, PATH, PENDING_SEEN, NULL, &sc->rule, s->t);
                break;
            case READY:
            case WAIT:
                ok = p && pending_ready(p, s->t) == (s->op == READY);
                break;
            case DUE:
                ok = pending_next_due(&t) == s->want;
                break;
            case RECHECK:
                ok = p && pending_recheck(&t, 0, stat_for(s, &buf), s->t) ==
                              (enum pending_check)s->want;
                break;
            case KEEP:
                ok = p != NULL;
                if (p)
                    pending_keep(&t.files[0]);
                break;
            case RETRY:
                ok = p != NULL;
                if (p)
                    pending_retry_later(&t.files[0], s->t);
                break;
            case COUNT:
                ok = t.n == (size_t)s->want;
                break;
            case SKIPS:
                ok = p != NULL && t.files[0].skips == (unsigned)s->want;
                break;
            }
            if (!ok)
                fail_msg("scenario \"%s\", step %zu: unexpected outcome", sc->name, i + 1);
        }
        pending_free(&t);
    }
}

/* ---- the table ------------------------------------------------------------ */

static const struct pending_rule rule = SETTLE1;

static void note_seen(struct pending_table *t, size_t si, const char *path, long long mtime,
                      double now)
{
    struct stat st = st_of(10, mtime);
    pending_note(t, si, path, PENDING_SEEN, &st, &rule, now);
}

static bool has(const struct pending_table *t, const char *path)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->files[i].path, path) == 0)
            return true;
    return false;
}

static void test_note_says_new_once(void **state)
{
    (void)state;
    struct pending_table t = {0};
    struct stat st = st_of(10, 100);
    assert_true(pending_note(&t, 2, "/in/a.csv", PENDING_SEEN, &st, &rule, 0));
    assert_false(pending_note(&t, 2, "/in/a.csv", PENDING_CLOSED, &st, &rule, 1));
    assert_false(pending_note(&t, 2, "/in/b.csv", PENDING_GONE, NULL, &rule, 1));
    assert_int_equal(t.n, 1);
    assert_int_equal(t.files[0].si, 2);
    pending_note(&t, 2, "/in/a.csv", PENDING_GONE, NULL, &rule, 2);
    assert_true(pending_note(&t, 2, "/in/a.csv", PENDING_SEEN, &st, &rule, 3));
    pending_free(&t);
}

/* A backlog of thousands (the start-up scan of a full inbox): each path
 * is new exactly once, whatever drops and sorts came between, and the
 * table always finds what it holds (the hash index behind pending_note). */
static void test_many_files_each_new_once(void **state)
{
    (void)state;
    enum { N = 5000 };
    struct pending_table t = {0};
    char path[64];
    for (int i = 0; i < N; i++) {
        struct stat st = st_of(10, (long long)(N - i) * 1000000000LL);
        snprintf(path, sizeof path, "/in/Master.%05d.csv", i);
        assert_true(pending_note(&t, 0, path, PENDING_SEEN, &st, &rule, 0));
    }
    assert_int_equal(t.n, N);
    pending_sort(&t); /* moves every entry */
    for (int i = 0; i < N; i += 2) {
        snprintf(path, sizeof path, "/in/Master.%05d.csv", i);
        pending_note(&t, 0, path, PENDING_GONE, NULL, &rule, 1);
    }
    assert_int_equal(t.n, N / 2);
    for (int i = 0; i < N; i++) {
        struct stat st = st_of(10, (long long)(N - i) * 1000000000LL);
        snprintf(path, sizeof path, "/in/Master.%05d.csv", i);
        /* the dropped ones are new again, the others are not */
        assert_int_equal(pending_note(&t, 0, path, PENDING_SEEN, &st, &rule, 2), i % 2 == 0);
    }
    assert_int_equal(t.n, N);
    pending_free(&t);
}

/* A full scan forgets the files of its source it did not find (deleted
 * while no event told us); other sources' files and files noted by events
 * since the scan began stay. */
static void test_sweep(void **state)
{
    (void)state;
    struct pending_table t = {0};
    pending_scan_begin(&t);
    note_seen(&t, 0, "/in/a.csv", 100, 0);
    note_seen(&t, 0, "/in/deleted.csv", 100, 0);
    note_seen(&t, 1, "/in2/other.csv", 100, 0);
    pending_scan_begin(&t);
    note_seen(&t, 0, "/in/a.csv", 100, 1);
    note_seen(&t, 0, "/in/event.csv", 100, 1); /* an inotify event during the scan */
    pending_sweep(&t, 0);
    assert_int_equal(t.n, 3);
    assert_true(has(&t, "/in/a.csv"));
    assert_true(has(&t, "/in/event.csv"));
    assert_true(has(&t, "/in2/other.csv"));
    assert_false(has(&t, "/in/deleted.csv"));
    pending_free(&t);
}

/* Oldest mtime first, the path deciding a tie; drop keeps that order. */
static void test_order(void **state)
{
    (void)state;
    struct pending_table t = {0};
    note_seen(&t, 0, "/in/c.csv", 300000000000LL, 0);
    note_seen(&t, 0, "/in/b.csv", 100000000001LL, 0);
    note_seen(&t, 0, "/in/z.csv", 100000000000LL, 0);
    note_seen(&t, 0, "/in/a.csv", 100000000000LL, 0);
    note_seen(&t, 0, "/in/d.csv", 200000000000LL, 0);
    pending_sort(&t);
    static const char *const want[] = {"/in/a.csv", "/in/z.csv", "/in/b.csv", "/in/d.csv",
                                       "/in/c.csv"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(t.files[i].path, want[i]);
    pending_drop(&t, 1);
    static const char *const left[] = {"/in/a.csv", "/in/b.csv", "/in/d.csv", "/in/c.csv"};
    assert_int_equal(t.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(t.files[i].path, left[i]);
    pending_free(&t);
}

/* The loop sleeps until the earliest file that the clock alone will make
 * ready; files that wait for something else do not wake it. */
static void test_next_due_is_the_earliest(void **state)
{
    (void)state;
    struct pending_table t = {0};
    assert_true(isinf(pending_next_due(&t)));
    struct pending_rule poll = POLL1, slow = {.settle_s = 5};
    struct stat st = st_of(10, 100);
    pending_note(&t, 0, "/in/slow.csv", PENDING_SEEN, &st, &slow, 0);   /* due 5 */
    pending_note(&t, 0, "/in/open.csv", PENDING_WRITING, &st, &rule, 0); /* never */
    pending_note(&t, 1, "/in2/polled.csv", PENDING_SEEN, &st, &poll, 0); /* a look */
    assert_true(pending_next_due(&t) == 5.0);
    pending_note(&t, 0, "/in/fast.csv", PENDING_SEEN, &st, &rule, 2);   /* due 3 */
    assert_true(pending_next_due(&t) == 3.0);
    pending_note(&t, 1, "/in2/polled.csv", PENDING_SEEN, &st, &poll, 2.5); /* due 1 */
    assert_true(pending_next_due(&t) == 1.0);
    pending_clear(&t);
    assert_int_equal(t.n, 0);
    assert_true(isinf(pending_next_due(&t)));
    pending_free(&t);
}

/* The rule a file was noted under is its own: one source's settle time
 * does not apply to another's files. */
static void test_rule_per_source(void **state)
{
    (void)state;
    struct pending_table t = {0};
    struct pending_rule quick = {.settle_s = 0}, slow = {.settle_s = 10};
    struct stat st = st_of(10, 100);
    pending_note(&t, 0, "/in/a.csv", PENDING_SEEN, &st, &quick, 0);
    pending_note(&t, 1, "/in2/a.csv", PENDING_SEEN, &st, &slow, 0);
    assert_true(pending_ready(&t.files[0], 1));
    assert_false(pending_ready(&t.files[1], 1));
    assert_true(pending_ready(&t.files[1], 10));
    pending_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_note_says_new_once),
        cmocka_unit_test(test_many_files_each_new_once),
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_next_due_is_the_earliest),
        cmocka_unit_test(test_rule_per_source),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
