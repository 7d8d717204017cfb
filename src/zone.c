/*
 * zone.c - the cache of wall-time offsets answered by the server (zone.h).
 * Two open-addressing maps: local hour -> offset (or "split": the hour holds
 * a clock change), and, for split hours only, local second -> offset.
 */
#include "zone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PENDING INT32_MIN     /* asked, not answered yet */
#define SPLIT (INT32_MIN + 1) /* the hour's ends differ: ask per second */
#define EMPTY INT64_MIN
/* No look-ahead once this many questions are open (scattered times). */
#define AHEAD_MAX_QUESTIONS 2048
/* The hour of 9999-12-31 23:00: questions are asked as four-digit years. */
#define LAST_HOUR (253402300799LL / 3600)

struct zmap {
    int64_t *keys;
    int32_t *vals;
    size_t cap, n; /* cap: a power of two, or 0 */
};

enum ask_kind { ASK_HOUR_FIRST, ASK_HOUR_LAST, ASK_SECOND };

struct zone_cache {
    char *name;
    struct zmap hours, secs;
    int64_t *ask;     /* open questions: wall times */
    unsigned char *kind;
    size_t nask, askcap;
    int64_t ahead;    /* hours the last look-ahead asked for */
    int64_t ahead_end; /* the last hour it asked about */
};

static size_t slot_of(const struct zmap *m, int64_t k)
{
    uint64_t h = (uint64_t)k * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 32) & (m->cap - 1);
}

static int32_t *zmap_find(const struct zmap *m, int64_t k)
{
    if (!m->cap)
        return NULL;
    for (size_t s = slot_of(m, k);; s = (s + 1) & (m->cap - 1)) {
        if (m->keys[s] == k)
            return &m->vals[s];
        if (m->keys[s] == EMPTY)
            return NULL;
    }
}

static void zmap_clear(struct zmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        m->keys[i] = EMPTY;
    m->n = 0;
}

static void zmap_put(struct zmap *m, int64_t k, int32_t v);

static void zmap_grow(struct zmap *m)
{
    struct zmap old = *m;
    m->cap = old.cap ? old.cap * 2 : 256;
    m->keys = xmalloc(m->cap * sizeof *m->keys);
    m->vals = xmalloc(m->cap * sizeof *m->vals);
    zmap_clear(m);
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i] != EMPTY)
            zmap_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
}

/* Insert or overwrite. */
static void zmap_put(struct zmap *m, int64_t k, int32_t v)
{
    int32_t *p = zmap_find(m, k);
    if (p) {
        *p = v;
        return;
    }
    if ((m->n + 1) * 2 > m->cap)
        zmap_grow(m);
    size_t s = slot_of(m, k);
    while (m->keys[s] != EMPTY)
        s = (s + 1) & (m->cap - 1);
    m->keys[s] = k;
    m->vals[s] = v;
    m->n++;
}

static void zmap_free(struct zmap *m)
{
    free(m->keys);
    free(m->vals);
}

struct zone_cache *zone_create(void)
{
    struct zone_cache *zc = xcalloc(1, sizeof(struct zone_cache));
    zc->ahead_end = EMPTY;
    return zc;
}

void zone_destroy(struct zone_cache *zc)
{
    if (!zc)
        return;
    free(zc->name);
    zmap_free(&zc->hours);
    zmap_free(&zc->secs);
    free(zc->ask);
    free(zc->kind);
    free(zc);
}

void zone_begin(struct zone_cache *zc, const char *name)
{
    if (!zc->name || strcmp(zc->name, name) != 0) {
        free(zc->name);
        zc->name = xstrdup(name);
        zmap_clear(&zc->hours);
        zmap_clear(&zc->secs);
        zc->ahead_end = EMPTY;
    } else if (zc->hours.n + zc->secs.n > ZONE_CACHE_MAX || zc->nask) {
        /* Too many answers, or questions a failed batch left open (their
         * PENDING marks would never be answered): start afresh. */
        zmap_clear(&zc->hours);
        zmap_clear(&zc->secs);
    }
    zc->nask = 0;
}

static void ask(struct zone_cache *zc, int64_t local, enum ask_kind kind)
{
    if (zc->nask == zc->askcap) {
        zc->askcap = zc->askcap ? zc->askcap * 2 : 256;
        zc->ask = xrealloc(zc->ask, zc->askcap * sizeof *zc->ask);
        zc->kind = xrealloc(zc->kind, zc->askcap);
    }
    zc->ask[zc->nask] = local;
    zc->kind[zc->nask++] = (unsigned char)kind;
}

static int64_t hour_of(int64_t local)
{
    return local >= 0 ? local / 3600 : -((-local + 3599) / 3600);
}

static void ask_hour(struct zone_cache *zc, int64_t h)
{
    zmap_put(&zc->hours, h, PENDING);
    ask(zc, h * 3600, ASK_HOUR_FIRST);
    ask(zc, h * 3600 + 3599, ASK_HOUR_LAST);
}

void zone_need(struct zone_cache *zc, int64_t local)
{
    int64_t h = hour_of(local);
    int32_t *v = zmap_find(&zc->hours, h);
    if (!v) {
        ask_hour(zc, h);
        /* Files run forward in time: ask for the next hours too, so that
         * the following batches find their answers here and need no
         * round trip. Only while the questions are few: scattered times
         * must not multiply them. Each look-ahead that starts where the
         * last one ended (the file ran through it) asks for twice as
         * many hours, up to ZONE_AHEAD_MAX_HOURS; any other starts again
         * from ZONE_AHEAD_HOURS. */
        zc->ahead = h == zc->ahead_end + 1 && zc->ahead_end != EMPTY
            ? (zc->ahead * 2 < ZONE_AHEAD_MAX_HOURS ? zc->ahead * 2 : ZONE_AHEAD_MAX_HOURS)
            : ZONE_AHEAD_HOURS;
        int64_t k = h + 1;
        for (; k <= h + zc->ahead && k <= LAST_HOUR && zc->nask < AHEAD_MAX_QUESTIONS; k++)
            if (!zmap_find(&zc->hours, k))
                ask_hour(zc, k);
        zc->ahead_end = k - 1;
        return;
    }
    if (*v != SPLIT || zmap_find(&zc->secs, local))
        return;
    zmap_put(&zc->secs, local, PENDING);
    ask(zc, local, ASK_SECOND);
}

size_t zone_questions(const struct zone_cache *zc, const int64_t **locals)
{
    *locals = zc->ask;
    return zc->nask;
}

bool zone_answer(struct zone_cache *zc, const int64_t *utc)
{
    bool split = false;
    for (size_t i = 0; i < zc->nask; i++) {
        int64_t off = zc->ask[i] - utc[i];
        if (zc->kind[i] == ASK_HOUR_FIRST) {
            /* The next question is the same hour's last second. */
            int64_t last = zc->ask[i + 1] - utc[i + 1];
            bool uniform = off == last;
            zmap_put(&zc->hours, hour_of(zc->ask[i]), uniform ? (int32_t)off : SPLIT);
            split |= !uniform;
            i++;
        } else {
            zmap_put(&zc->secs, zc->ask[i], (int32_t)off);
        }
    }
    zc->nask = 0;
    return split;
}

int64_t zone_to_utc(const struct zone_cache *zc, int64_t local)
{
    const int32_t *v = zmap_find(&zc->hours, hour_of(local));
    if (v && *v == SPLIT)
        v = zmap_find(&zc->secs, local);
    /* zone_need and zone_answer came first: an answer is there. Anything
     * else is a bug that would store a wrong instant: stop. */
    if (!v || *v == PENDING || *v == SPLIT) {
        cdr_fatal("zone_to_utc: no answer for local time %lld", (long long)local);
    }
    return local - *v;
}
