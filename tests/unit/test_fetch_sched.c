/*
 * test_fetch_sched.c - the poll schedule of a fetch source (fetch_sched.c):
 * first poll at once, the interval from start to start, no overlap with a
 * slow answer, a whole interval after a failure, backoff doubling to five
 * minutes for failures before any byte, and each lasting problem logged
 * once until it is over. A table of poll sequences, then fixed cases.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fetch_sched.h"
#include "testutil.h"

/* One poll of a sequence: it took `took` seconds and ended with p; then
 * the schedule must say next (seconds after its end) and log or not. */
struct step {
    enum fetch_problem p;
    double took;
    double next_after_end;
    bool log;
    bool recovered; /* a lasting problem ended with this poll */
};

struct sched_case {
    const char *name;
    double interval;
    struct step steps[8];
    size_t n;
};

#define U FETCH_UNREACHABLE
#define F FETCH_FINE

static const struct sched_case cases[] = {
    {"answers every interval, start to start", 30,
     {{F, 2, 28, false, false}, {F, 0.5, 29.5, false, false}}, 2},
    {"a slow answer: the next right after it, never overlapping", 1,
     {{F, 3, 0, false, false}, {F, 0.2, 0.8, false, false}}, 2},
    {"unreachable backs off 1 2 4 ... and is logged once", 1,
     {{U, 0, 1, true, false}, {U, 0, 2, false, false}, {U, 0, 4, false, false},
      {U, 0, 8, false, false}, {F, 0.1, 0.9, false, true}}, 5},
    {"backoff stops at five minutes", 100,
     {{U, 0, 100, true, false}, {U, 0, 200, false, false}, {U, 0, 300, false, false},
      {U, 0, 300, false, false}}, 4},
    {"a cut answer: a whole interval after it, logged each time", 10,
     {{FETCH_CUT, 4, 10, true, false}, {FETCH_CUT, 4, 10, true, false}}, 2},
    {"refused login logged once, over when it answers", 5,
     {{FETCH_REFUSED, 0, 5, true, false}, {FETCH_REFUSED, 0, 5, false, false},
      {F, 0, 5, false, true}}, 3},
    {"no room: once; then another problem is logged", 5,
     {{FETCH_NO_ROOM, 0, 5, true, false}, {FETCH_NO_ROOM, 0, 5, false, false},
      {FETCH_NOT_FOUND, 0, 5, true, false}}, 3},
    {"5xx each time, and it ends an unreachable spell", 5,
     {{U, 0, 5, true, false}, {FETCH_SERVER_ERROR, 0, 5, true, true},
      {FETCH_SERVER_ERROR, 0, 5, true, false}}, 3},
    {"a spool write error says nothing about the PBX", 5,
     {{FETCH_NO_ANSWER, 0, 5, true, false}, {FETCH_SPOOL_ERROR, 1, 5, true, false},
      {FETCH_NO_ANSWER, 0, 5, false, false}}, 3},
};

static void run_case(void **state)
{
    const struct sched_case *c = *state;
    struct fetch_sched s;
    double now = 1000;
    fetch_sched_init(&s, c->interval, now);
    assert_true(fetch_sched_due(&s, now));
    for (size_t i = 0; i < c->n; i++) {
        const struct step *st = &c->steps[i];
        double start = s.next_due > now ? s.next_due : now;
        double end = start + st->took;
        enum fetch_problem was;
        bool log = fetch_sched_done(&s, st->p, start, end, &was);
        print_message("step %zu: next %.1f after the end\n", i, s.next_due - end);
        assert_true(s.next_due - end > st->next_after_end - 1e-9);
        assert_true(s.next_due - end < st->next_after_end + 1e-9);
        assert_int_equal(log, st->log);
        assert_int_equal(was != FETCH_FINE && s.shown == FETCH_FINE, st->recovered);
        assert_false(fetch_sched_due(&s, end + st->next_after_end - 0.01) &&
                     st->next_after_end > 0.01);
        assert_true(fetch_sched_due(&s, end + st->next_after_end));
        now = end;
    }
}

static void test_backoff_keeps_a_long_interval(void **state)
{
    (void)state;
    assert_true(fetch_sched_backoff(600, 1) == 600);
    assert_true(fetch_sched_backoff(600, 5) == 600);
    assert_true(fetch_sched_backoff(30, 1) == 30);
    assert_true(fetch_sched_backoff(30, 4) == 240);
    assert_true(fetch_sched_backoff(30, 5) == 300);
    assert_true(fetch_sched_backoff(30, 1000) == 300);
}

static void test_reload_keeps_the_due_time(void **state)
{
    (void)state;
    struct fetch_sched s;
    enum fetch_problem was;
    fetch_sched_init(&s, 30, 0);
    fetch_sched_done(&s, FETCH_FINE, 0, 1, &was);
    fetch_sched_set_interval(&s, 5);
    assert_true(s.next_due == 30);
    fetch_sched_done(&s, FETCH_FINE, 30, 31, &was);
    assert_true(s.next_due == 35);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_backoff_keeps_a_long_interval),
        cmocka_unit_test(test_reload_keeps_the_due_time),
    };
    RUN_TABLE_THEN_FIXED(cases, run_case, fixed, NULL, NULL);
}
