/*
 * test_batch.c - batch.c's send order and count. A batch out of time order
 * is sent sorted by call_time (ties in file order) with the skipped rows
 * left out; one in time order keeps its order, so its tuples go out as one
 * run. Each case is a list of call times (seconds) and skip flags, with
 * the order expected.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
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
 * and call_time, as binary COPY has them. */
static void fill(struct batch *b, const struct order_case *c)
{
    b->len = 0;
    b->nrows = c->n;
    for (size_t i = 0; i < c->n; i++) {
        batch_reserve(&b->buf, &b->cap, b->len, 14);
        b->line_off[i] = b->len;
        char *w = copybin_i16(b->buf + b->len, 20);
        w = copybin_i32(w, 8);
        w = copybin_i64(w, c->t[i] * 1000000);
        b->len = (size_t)(w - b->buf);
        b->skip[i] = c->skip[i];
    }
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
