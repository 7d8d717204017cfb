/*
 * test_dedup.c - dedup.c's checks that need no server: the repeats within
 * a batch, and dedup_local, which lets a batch skip the probe when it can
 * meet only the rows of the batch before it. Each case is one file: the
 * latest call stored before it, then its batches in order, each a list of
 * (call time, key) rows with the verdict expected (local or not) and the
 * rows expected to be marked. A wrong "local" would send a stored row
 * again (the primary key would refuse the file); a wrong "not local" costs
 * a round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "copybin.h"
#include "dedup.h"

#define MAXR 6
#define MAXB 4

struct row {
    int64_t t;   /* call_time, microseconds */
    int key;     /* the row key's first byte; the same key means the same row */
};

struct batch_case {
    size_t n;
    struct row r[MAXR];
    bool local;          /* dedup_local's answer */
    bool skip[MAXR];     /* marked after dedup_within and dedup_local */
    bool pre_skip[MAXR]; /* where not local: marked as stored (as the probe would) */
};

struct file_case {
    const char *name;
    int64_t before; /* the latest call stored (INT64_MIN: none) */
    bool careful;
    size_t nb;
    struct batch_case b[MAXB];
};

#define NONE INT64_MIN

static const struct file_case cases[] = {
    {"a fresh table: every batch local", NONE, false, 2,
     {{3, {{10, 1}, {20, 2}, {30, 3}}, true, {0}, {0}},
      {2, {{40, 4}, {50, 5}}, true, {0}, {0}}}},
    {"wholly after the rows stored", 100, false, 1,
     {{2, {{101, 1}, {102, 2}}, true, {0}, {0}}}},
    {"reaching back to a stored call: the server's", 100, false, 1,
     {{2, {{100, 1}, {102, 2}}, false, {0}, {0}}}},
    {"reaching back into the batch before: its repeats marked", 100, false, 2,
     {{3, {{101, 1}, {105, 2}, {110, 3}}, true, {0}, {0}},
      {3, {{108, 4}, {110, 3}, {112, 5}}, true, {false, true, false}, {0}}}},
    {"a repeat of a row sent in the batch before is marked, a new row at its time is not", NONE,
     false, 2,
     {{2, {{10, 1}, {20, 2}}, true, {0}, {0}},
      {3, {{20, 2}, {20, 7}, {25, 8}}, true, {true, false, false}, {0}}}},
    {"reaching back past the batch before: the server's", 0, false, 3,
     {{2, {{10, 1}, {20, 2}}, true, {0}, {0}},
      {2, {{30, 3}, {40, 4}}, true, {0}, {0}},
      {2, {{20, 2}, {50, 5}}, false, {0}, {0}}}},
    {"back past the batch before, rows the file never sent: local (its filter clears them)", 0,
     false, 3,
     {{2, {{10, 1}, {20, 2}}, true, {0}, {0}},
      {2, {{30, 3}, {40, 4}}, true, {0}, {0}},
      {2, {{15, 6}, {50, 5}}, true, {0}, {0}}}},
    {"back past the batch before to a row stored before the file: the server's", 25, false, 3,
     {{2, {{30, 1}, {40, 2}}, true, {0}, {0}},
      {2, {{50, 3}, {60, 4}}, true, {0}, {0}},
      {2, {{24, 6}, {70, 5}}, false, {0}, {0}}}},
    {"just after the batch before the last: local", 0, false, 3,
     {{2, {{10, 1}, {20, 2}}, true, {0}, {0}},
      {2, {{30, 3}, {40, 4}}, true, {0}, {0}},
      {2, {{21, 6}, {40, 4}}, true, {false, true}, {0}}}},
    {"a retry always asks the server", NONE, true, 2,
     {{2, {{10, 1}, {20, 2}}, false, {0}, {0}},
      {2, {{30, 3}, {40, 4}}, false, {0}, {0}}}},
    {"repeats within a batch are dedup_within's", NONE, false, 1,
     {{3, {{10, 1}, {10, 1}, {11, 2}}, true, {false, true, false}, {0}}}},
    {"after a batch the server checked, the next is local", 100, false, 2,
     {{2, {{100, 1}, {105, 2}}, false, {true, false}, {true, false}},
      {2, {{105, 2}, {106, 3}}, true, {true, false}, {0}}}},
    {"a batch of nothing but repeats changes nothing", NONE, false, 2,
     {{1, {{10, 1}}, true, {0}, {0}},
      {2, {{10, 1}, {12, 2}}, true, {true, false}, {0}}}},
};

/* What dedup sees of a batch: keys, skip flags and call times. */
struct view_store {
    unsigned char keys[MAXR][16];
    bool skip[MAXR];
    char times[MAXR][8];
};

static const char *call_time(const void *ctx, size_t i)
{
    return ((const struct view_store *)ctx)->times[i];
}

static struct dedup_batch make_view(struct view_store *v, const struct batch_case *bc)
{
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < bc->n; i++) {
        v->keys[i][0] = (unsigned char)bc->r[i].key;
        v->keys[i][15] = 0x5a;
        copybin_i64(v->times[i], bc->r[i].t);
    }
    return (struct dedup_batch){.nrows = bc->n, .keys = (const unsigned char (*)[16])v->keys,
                                .skip = v->skip, .call_time = call_time, .ctx = v};
}

/* Run one file's batches as load.c does: within, then local (where the
 * batch is not local, pre_skip stands in for the server's probe), then
 * remember. */
static void run_file(struct dedup *d, const struct file_case *c)
{
    dedup_begin_file(d, c->before);
    for (size_t k = 0; k < c->nb; k++) {
        const struct batch_case *bc = &c->b[k];
        struct view_store v;
        struct dedup_batch view = make_view(&v, bc);
        uint64_t dups = dedup_within(d, &view);
        bool local = dedup_local(d, &view, c->careful, &dups);
        for (size_t i = 0; !local && i < bc->n; i++)
            v.skip[i] = v.skip[i] || bc->pre_skip[i];
        char what[160];
        snprintf(what, sizeof what, "%s: batch %zu", c->name, k + 1);
        if (local != bc->local)
            fail_msg("%s: local %d, expected %d", what, local, bc->local);
        uint64_t marked = 0;
        for (size_t i = 0; i < bc->n; i++) {
            if (v.skip[i] != bc->skip[i])
                fail_msg("%s: row %zu marked %d, expected %d", what, i + 1, v.skip[i],
                         bc->skip[i]);
            marked += v.skip[i] && !bc->pre_skip[i];
        }
        if (dups != marked)
            fail_msg("%s: %llu counted, %llu marked", what, (unsigned long long)dups,
                     (unsigned long long)marked);
        dedup_remember(d, &view);
    }
}

static void test_files(void **state)
{
    (void)state;
    struct dedup *d = dedup_create(16);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_file(d, &cases[i]); /* one dedup across files, as a loader keeps it */
    dedup_destroy(d);
}

/* A new file forgets the last one's tail: its first batch, with a row
 * equal to one the last file sent, is local (after everything stored) and
 * marks nothing; only the server could know that row. */
static void test_new_file_forgets_the_tail(void **state)
{
    (void)state;
    struct dedup *d = dedup_create(16);
    static const struct file_case first = {"first", NONE, false, 1,
                                           {{2, {{10, 1}, {20, 2}}, true, {0}, {0}}}};
    static const struct file_case second = {"second", NONE, false, 1,
                                            {{2, {{20, 2}, {30, 3}}, true, {0}, {0}}}};
    run_file(d, &first);
    run_file(d, &second);
    dedup_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_new_file_forgets_the_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
