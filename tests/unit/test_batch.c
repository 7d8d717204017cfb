/*
 * test_batch.c - batch.c's send order and count. A batch out of time order
 * is sent sorted by call_time (ties in file order) with the skipped rows
 * left out; one in time order keeps its order, so its tuples go out as one
 * run. Each case is a list of call times (seconds) and skip flags, with
 * the order expected; whole batches of each shape a file can have (nearly
 * in order, blocks, reversed, random) must come out as the C library's
 * qsort orders them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "copybin.h"

#define MAXR 8

struct order_case {
    const char *name;
    size_t n;
    int64_t t[MAXR];
    bool skip[MAXR];
    uint32_t want[MAXR]; /* the kept rows' order, then the skipped rows */
    size_t kept;
};

static const struct order_case cases[] = {
    {"empty", 0, {0}, {0}, {0}, 0},
    {"in order stays", 4, {1, 2, 2, 5}, {0}, {0, 1, 2, 3}, 4},
    {"reversed", 4, {9, 7, 5, 3}, {0}, {3, 2, 1, 0}, 4},
    {"ties keep file order", 5, {5, 1, 5, 1, 3}, {0}, {1, 3, 4, 0, 2}, 5},
    {"skipped rows go last", 5, {5, 4, 3, 2, 1}, {false, true, false, true, false},
     {4, 2, 0, 1, 3}, 3},
    {"a skipped row out of order does not unsort", 3, {1, 0, 2}, {false, true, false},
     {0, 1, 2}, 2},
    {"all skipped", 2, {2, 1}, {true, true}, {0, 1}, 0},
    {"negative times (before 2000)", 3, {-5, -10, 0}, {0}, {1, 0, 2}, 3},
};

/* A batch whose tuples hold only what batch_order reads: the field count
 * and call_time (t[i] * scale), as binary COPY has them; skip may be NULL. */
static void fill_times(struct batch *b, const int64_t *t, int64_t scale, const bool *skip,
                       size_t n)
{
    b->len = 0;
    b->nrows = n;
    for (size_t i = 0; i < n; i++) {
        batch_reserve(&b->buf, &b->cap, b->len, 14);
        b->line_off[i] = b->len;
        char *w = copybin_i16(b->buf + b->len, 20);
        w = copybin_i32(w, 8);
        w = copybin_i64(w, t[i] * scale);
        b->len = (size_t)(w - b->buf);
        b->skip[i] = skip && skip[i];
    }
}

static void fill(struct batch *b, const struct order_case *c)
{
    fill_times(b, c->t, 1000000, c->skip, c->n);
}

static void test_order(void **state)
{
    (void)state;
    struct batch b;
    memset(&b, 0, sizeof b);
    batch_init(&b);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        const struct order_case *c = &cases[k];
        fill(&b, c);
        batch_order(&b);
        for (size_t i = 0; i < c->n; i++) {
            if (b.order[i] != c->want[i]) {
                fprintf(stderr, "case '%s': order[%zu] is %u, want %u\n", c->name, i,
                        b.order[i], c->want[i]);
                fail();
            }
        }
        if (batch_kept(&b) != c->kept) {
            fprintf(stderr, "case '%s': kept %zu, want %zu\n", c->name, batch_kept(&b), c->kept);
            fail();
        }
    }
    batch_free(&b);
}

/* ---- whole batches: nearly in order, by blocks, reversed, random -------------- */

static const int64_t *ref_t;

static int ref_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    if (ref_t[x] != ref_t[y])
        return ref_t[x] < ref_t[y] ? -1 : 1;
    return (x > y) - (x < y);
}

/* A scrambled but fixed number for row i (Knuth's multiplicative hash). */
static uint32_t scramble(size_t i)
{
    return (uint32_t)((i * 2654435761u) >> 8);
}

enum shape { NEARLY, BLOCKS, REVERSED, RANDOM, LATE_ONE };

static void shape_times(enum shape sh, int64_t *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (sh) {
        case NEARLY: /* written when calls end: up to 6 rows late */
            t[i] = (int64_t)i * 10 - (int64_t)(scramble(i) % 60);
            break;
        case BLOCKS: /* ten blocks over the same range */
            t[i] = (int64_t)(i % (n / 10 + 1)) * 10 + (int64_t)(i / (n / 10 + 1));
            break;
        case REVERSED:
            t[i] = (int64_t)(n - i);
            break;
        case RANDOM:
            t[i] = (int64_t)(scramble(i) % 1000);
            break;
        case LATE_ONE: /* in order but for one row from long before */
            t[i] = i == n - 1 ? 0 : (int64_t)i + 1;
            break;
        }
    }
}

static void test_order_shapes(void **state)
{
    (void)state;
    static const char *const names[] = {"nearly", "blocks", "reversed", "random", "late one"};
    static const size_t sizes[] = {2, 17, 256, BATCH_ROWS};
    struct batch b;
    memset(&b, 0, sizeof b);
    batch_init(&b);
    int64_t *t = malloc(BATCH_ROWS * sizeof *t);
    uint32_t *want = malloc(BATCH_ROWS * sizeof *want);
    assert_non_null(t);
    assert_non_null(want);
    for (int sh = NEARLY; sh <= LATE_ONE; sh++) {
        for (size_t z = 0; z < sizeof sizes / sizeof *sizes; z++) {
            size_t n = sizes[z];
            shape_times((enum shape)sh, t, n);
            fill_times(&b, t, 1, NULL, n);
            for (size_t i = 0; i < n; i++)
                want[i] = (uint32_t)i;
            ref_t = t;
            qsort(want, n, sizeof *want, ref_cmp);
            batch_order(&b);
            for (size_t i = 0; i < n; i++) {
                if (b.order[i] != want[i]) {
                    fprintf(stderr, "shape %s, %zu rows: order[%zu] is %u, want %u\n",
                            names[sh], n, i, b.order[i], want[i]);
                    fail();
                }
            }
        }
    }
    free(t);
    free(want);
    batch_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_order_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
