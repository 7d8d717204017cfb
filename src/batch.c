/*
 * batch.c - a batch's memory, its send order and its sending (batch.h).
 */
#include "batch.h"
#include "copybin.h"

#include <stdlib.h>
#include <string.h>

/* Runs shorter than a quarter of this are gathered into the staging
 * buffer before they are queued: a batch sorted out of file order is many
 * short runs, and a COPY message each made about 30 sends and as many
 * EAGAIN reads for a file of 1000 rows. */
#define STAGE_BYTES (64u * 1024u)

void batch_reserve(char **buf, size_t *cap, size_t len, size_t more)
{
    if (len + more <= *cap)
        return;
    size_t c = *cap ? *cap : 65536;
    while (c < len + more)
        c *= 2;
    *buf = xrealloc(*buf, c);
    *cap = c;
}

void batch_init(struct batch *b)
{
    b->line_off = xmalloc(BATCH_ROWS * sizeof *b->line_off);
    b->text_off = xmalloc(BATCH_ROWS * sizeof *b->text_off);
    b->content_len = xmalloc(BATCH_ROWS * sizeof *b->content_len);
    b->keys = xmalloc(BATCH_ROWS * sizeof *b->keys);
    b->skip = xmalloc(BATCH_ROWS * sizeof *b->skip);
    b->order = xmalloc(BATCH_ROWS * sizeof *b->order);
    b->okeys = xmalloc(BATCH_ROWS * sizeof *b->okeys);
    b->stage = xmalloc(STAGE_BYTES);
}

void batch_free(struct batch *b)
{
    free(b->buf);
    free(b->line_off);
    free(b->text_off);
    free(b->tbuf);
    free(b->content_len);
    free(b->keys);
    free(b->skip);
    free(b->order);
    free(b->okeys);
    free(b->stage);
    free(b->rbuf);
}

/* call_time of tuple i: its 8 bytes after the field count and length
 * word (never NULL: the table says so, and a NULL fails the COPY anyway). */
const char *batch_call_time(const void *ctx, size_t i)
{
    const struct batch *b = ctx;
    return b->buf + b->line_off[i] + 2 + 4;
}

struct dedup_batch batch_view(struct batch *b)
{
    return (struct dedup_batch){b->nrows, (const unsigned char (*)[16])b->keys, b->skip,
                                b->tmin, b->tmax, batch_call_time, b, b->order};
}

static int okey_cmp(const void *a, const void *b)
{
    const struct batch_okey *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* Rows are written when calls end, so a download's call times are nearly in
 * order: each row a few places late at most. Insertion sort puts such a
 * batch in order in one pass; one that needs more than ORDER_MOVES moves a
 * row on average (blocks, random order) is left to qsort. Returns whether
 * the keys are sorted. The keys are distinct (t, i), so either way gives
 * the same order. */
#define ORDER_MOVES 8

static bool nearly_sorted(struct batch_okey *k, size_t n)
{
    size_t budget = ORDER_MOVES * n;
    for (size_t j = 1; j < n; j++) {
        struct batch_okey x = k[j];
        size_t at = j;
        while (at > 0 && okey_cmp(&k[at - 1], &x) > 0) {
            if (budget-- == 0) {
                k[at] = x; /* still a permutation of the keys, for qsort */
                return false;
            }
            k[at] = k[at - 1];
            at--;
        }
        k[at] = x;
    }
    return true;
}

/* The order the batch's rows are looked up and sent in: by call_time. A
 * file out of time order (random rows, blocks over the same weeks) would
 * otherwise make every index insert and lookup land somewhere else in
 * the index; sorted, a batch walks it once from left to right. A batch in
 * time order already (the common download) is left as it is. */
void batch_order(struct batch *b)
{
    bool sorted = true;
    int64_t prev = INT64_MIN;
    size_t n = 0;
    for (size_t i = 0; i < b->nrows; i++) {
        b->order[i] = (uint32_t)i;
        if (b->skip[i])
            continue;
        int64_t t = copybin_get_i64(batch_call_time(b, i));
        sorted &= t >= prev;
        prev = t;
        b->okeys[n++] = (struct batch_okey){t, (uint32_t)i};
    }
    if (sorted)
        return;
    if (!nearly_sorted(b->okeys, n))
        qsort(b->okeys, n, sizeof *b->okeys, okey_cmp);
    for (size_t j = 0; j < n; j++)
        b->order[j] = b->okeys[j].i;
    for (size_t i = 0, j = n; i < b->nrows; i++) /* skipped rows last */
        if (b->skip[i])
            b->order[j++] = (uint32_t)i;
}

size_t batch_kept(const struct batch *b)
{
    size_t kept = b->nrows;
    for (size_t i = 0; i < b->nrows; i++)
        kept -= b->skip[i];
    return kept;
}

void batch_send(struct batch *b, struct pump *p)
{
    size_t staged = 0;
    for (size_t k = 0; k < b->nrows;) {
        size_t i = b->order[k];
        if (b->skip[i]) {
            k++;
            continue;
        }
        /* A run: rows next to each other in both orders, sent as one. */
        size_t n = 1;
        while (k + n < b->nrows && b->order[k + n] == i + n && !b->skip[i + n])
            n++;
        size_t end = i + n < b->nrows ? b->line_off[i + n] : b->len;
        size_t len = end - b->line_off[i];
        if (staged + len > STAGE_BYTES) {
            pump_put(p, b->stage, staged);
            staged = 0;
        }
        if (len >= STAGE_BYTES / 4) {
            pump_put(p, b->buf + b->line_off[i], len);
        } else {
            memcpy(b->stage + staged, b->buf + b->line_off[i], len);
            staged += len;
        }
        k += n;
    }
    if (staged)
        pump_put(p, b->stage, staged);
}
