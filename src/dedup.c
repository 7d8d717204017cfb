/*
 * dedup.c - the rows of a batch that must not be sent (see dedup.h): an
 * open-addressing set over the batch's keys for the repeats within it, and
 * the probe that asks the server which keys it holds.
 *
 * The probe first fetches every key stored in the batch's call_time range,
 * but no more than PROBE_RANGE_FACTOR per live row: a range that holds no
 * more than that (a fresh range costs nothing, a re-download finds its own
 * rows) is matched here. A fuller range (files out of time order, other
 * sources or files in the same hours) gets the exact lookup of the batch's
 * own (call_time, row_key) pairs instead: one primary-key descent each.
 * Either way the work and the result are bounded by the batch.
 *
 * A file out of time order (ten blocks over the same weeks, rows
 * shuffled) reaches back past the batch before it in every batch, where
 * only the server knew its earlier rows. A Bloom filter of the keys the
 * file has sent answers most of that here: a batch whose rows all come
 * after those stored before the file asks the server about its rows the
 * filter cannot clear, and no others.
 */
#include "dedup.h"
#include "copybin.h"
#include "sql.h"
#include "plat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Keys per live row the range probe may return before the pair lookup is
 * cheaper: a key of the range costs the server a step of an index scan
 * and the client 16 bytes, a pair one index descent (about 3 us, measured).
 * Past 2 the time hardly changed on a file of ten blocks over the same two
 * weeks, and the result (32k keys, about 1.3 MiB as a PGresult) stays well
 * under a batch. */
#define PROBE_RANGE_FACTOR 2

/* PostgreSQL's type OIDs for the binary arrays of the pair lookup. */
enum { OID_TIMESTAMPTZ = 1184, OID_UUID = 2950, OID_TIMESTAMPTZ_ARRAY = 1185,
       OID_UUID_ARRAY = 2951 };

struct dedup {
    int32_t *slots; /* row indexes, -1 empty; a power of two, at least twice the rows */
    size_t nslots;
    /* The last range probe found more than the batch: a file out of time
     * order, or hours others fill. The next batches of the file go straight
     * to the pair lookup, the range being asked again every few batches in
     * case the file has moved on to hours of its own. */
    bool full;
    unsigned since_range;
    /* The latest call_time stored before the file's transaction began
     * (dedup_begin_file), and the latest the file has sent since. */
    int64_t before, sent_max;
    /* The tail: the keys of the batch remembered last (dedup_remember),
     * in a set of their own, and the latest call_time of the rows the file
     * sent before that batch. A batch whose rows all come after tail_floor
     * can meet the file's own rows only in the tail. */
    unsigned char (*tail)[16];
    int32_t *tail_slots;
    size_t tail_nslots, ntail;
    int64_t tail_floor;
    /* Every key the file sent, for a batch that reaches back past the
     * tail; bloom_keys counts them (0: the filter is clear), and past
     * BLOOM_MAX_KEYS the filter is no longer used for the file. */
    uint64_t *bloom;
    size_t bloom_keys;
    bool *ask; /* the rows the filter cannot clear (bloom_asks) */
};

/* The Bloom filter of the keys a file sent: 4M bits (512 KiB) and three
 * bits a key give 1 false "maybe" in 50 after 250k keys, 1 in 7 after 1M
 * (each one a row asked about). Past BLOOM_MAX_KEYS the file goes on
 * without it. */
#define BLOOM_BITS (1u << 22)
#define BLOOM_K 3
#define BLOOM_MAX_KEYS (1u << 20)

/* Batches that skip the range probe after it overflowed. */
#define FULL_SKIP 7

struct dedup *dedup_create(size_t max_rows)
{
    struct dedup *d = xcalloc(1, sizeof *d);
    d->before = INT64_MAX; /* nothing known until dedup_begin_file */
    d->sent_max = d->tail_floor = INT64_MIN;
    d->nslots = 1;
    while (d->nslots < 2 * max_rows)
        d->nslots *= 2;
    d->slots = xmalloc(d->nslots * sizeof *d->slots);
    d->tail_slots = xmalloc(d->nslots * sizeof *d->tail_slots);
    d->tail = xmalloc(max_rows * sizeof *d->tail);
    d->tail_nslots = 1;
    d->tail_slots[0] = -1;
    /* Pages are touched only as keys go in: a small file's few. */
    d->bloom = xcalloc(BLOOM_BITS / 64, sizeof *d->bloom);
    d->ask = xcalloc(max_rows, sizeof *d->ask);
    return d;
}

void dedup_destroy(struct dedup *d)
{
    if (!d)
        return;
    free(d->slots);
    free(d->tail_slots);
    free(d->tail);
    free(d->bloom);
    free(d->ask);
    free(d);
}

static uint32_t key_hash(const unsigned char k[16])
{
    uint32_t h;
    memcpy(&h, k, sizeof h); /* already uniformly distributed */
    return h;
}

size_t dedup_within(struct dedup *d, const struct dedup_batch *b)
{
    size_t dups = 0, mask = d->nslots - 1;
    memset(d->slots, 0xff, d->nslots * sizeof *d->slots);
    for (size_t i = 0; i < b->nrows; i++) {
        size_t s = key_hash(b->keys[i]) & mask;
        b->skip[i] = false;
        while (d->slots[s] >= 0) {
            if (memcmp(b->keys[d->slots[s]], b->keys[i], 16) == 0) {
                b->skip[i] = true;
                dups++;
                break;
            }
            s = (s + 1) & mask;
        }
        if (!b->skip[i])
            d->slots[s] = (int32_t)i;
    }
    return dups;
}

/* The index of key k in keys through its set (slots), or -1. */
static int32_t find_in(const int32_t *slots, size_t nslots, const unsigned char (*keys)[16],
                       const unsigned char k[16])
{
    size_t mask = nslots - 1, s = key_hash(k) & mask;
    while (slots[s] >= 0) {
        if (memcmp(keys[slots[s]], k, 16) == 0)
            return slots[s];
        s = (s + 1) & mask;
    }
    return -1;
}

static int32_t find(const struct dedup *d, const struct dedup_batch *b, const unsigned char k[16])
{
    return find_in(d->slots, d->nslots, b->keys, k);
}

/* The filter's bits for a key: double hashing of a 64-bit mix of all 16
 * bytes (row keys are SHA-256 bits, but the mix does not rely on it). */
static void bloom_bits(const unsigned char k[16], uint32_t bits[BLOOM_K])
{
    uint64_t a, b;
    memcpy(&a, k, 8);
    memcpy(&b, k + 8, 8);
    uint64_t h = a ^ (b * 0x9e3779b97f4a7c15u);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9u;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebu;
    h ^= h >> 31;
    uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1;
    for (uint32_t i = 0; i < BLOOM_K; i++)
        bits[i] = (h1 + i * h2) & (BLOOM_BITS - 1);
}

static bool bloom_usable(const struct dedup *d)
{
    return d->bloom_keys <= BLOOM_MAX_KEYS;
}

static void bloom_add(struct dedup *d, const unsigned char k[16])
{
    uint32_t bits[BLOOM_K];
    bloom_bits(k, bits);
    for (int i = 0; i < BLOOM_K; i++)
        d->bloom[bits[i] / 64] |= UINT64_C(1) << (bits[i] % 64);
}

static bool bloom_maybe(const struct dedup *d, const unsigned char k[16])
{
    uint32_t bits[BLOOM_K];
    bloom_bits(k, bits);
    for (int i = 0; i < BLOOM_K; i++)
        if (!(d->bloom[bits[i] / 64] & (UINT64_C(1) << (bits[i] % 64))))
            return false;
    return true;
}

/* Whether the filter clears every live row of the batch: stops at the
 * first "maybe" (the rows to ask about are then marked by dedup_stored). */
static bool bloom_clears(const struct dedup *d, const struct dedup_batch *b)
{
    for (size_t i = 0; i < b->nrows; i++)
        if (!b->skip[i] && bloom_maybe(d, b->keys[i]))
            return false;
    return true;
}

/* Mark in d->ask the batch's live rows the file may have sent before (the
 * filter says maybe); how many. The others it certainly did not send. */
static size_t bloom_asks(struct dedup *d, const struct dedup_batch *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->nrows; i++) {
        d->ask[i] = !b->skip[i] && bloom_maybe(d, b->keys[i]);
        n += d->ask[i];
    }
    return n;
}

/* A probe query; its result is one binary row_key per row. Unless it has
 * more than limit rows (*more, then nothing is marked), mark the batch's
 * rows holding those keys. */
struct query {
    const char *tmpl;
    int n;
    const Oid *types;
    const char *const *params;
    const int *lengths, *formats;
};

static enum load_status run(const struct dedup *d, struct db *db, const struct dedup_batch *b,
                            const struct query *q, size_t limit, bool *more, uint64_t *dups,
                            char *err, size_t errlen)
{
    *more = false; /* also when the query fails (the server went away) */
    char *sql = db_sql(db, q->tmpl);
    /* Binary results: 16 bytes a key instead of 36 characters. */
    PGresult *res = PQexecParams(db_conn(db), sql, q->n, q->types, q->params, q->lengths,
                                 q->formats, 1);
    free(sql);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        enum load_status st = db_classify(db, res);
        cdr_seterr(err, errlen, "%s", PQerrorMessage(db_conn(db)));
        PQclear(res);
        return st;
    }
    *more = (size_t)PQntuples(res) > limit;
    for (int r = 0; !*more && r < PQntuples(res); r++) {
        if (PQgetlength(res, r, 0) != 16)
            continue;
        int32_t i = find(d, b, (const unsigned char *)PQgetvalue(res, r, 0));
        if (i >= 0 && !b->skip[i]) {
            b->skip[i] = true;
            (*dups)++;
        }
    }
    PQclear(res);
    return LOAD_OK;
}

/* A one-dimensional binary array header (PostgreSQL's array_send). */
static char *array_header(char *w, Oid elem, size_t n)
{
    w = copybin_i32(w, 1);          /* dimensions */
    w = copybin_i32(w, 0);          /* no NULLs */
    w = copybin_i32(w, (int32_t)elem);
    w = copybin_i32(w, (int32_t)n); /* length */
    return copybin_i32(w, 1);       /* lower bound */
}

/* The exact lookup: the live rows' (call_time, row_key) pairs as two
 * binary arrays; only those marked in `only` (live of them) unless NULL. */
static enum load_status pairs(const struct dedup *d, struct db *db, const struct dedup_batch *b,
                              const bool *only, size_t live, uint64_t *dups, char *err,
                              size_t errlen)
{
    char *times = xmalloc(20 + live * 12), *keys = xmalloc(20 + live * 20);
    char *t = array_header(times, OID_TIMESTAMPTZ, live);
    char *k = array_header(keys, OID_UUID, live);
    /* In the batch's send order (sorted by call_time when it was not):
     * the server's index descents then walk the index in order. */
    for (size_t j = 0; j < b->nrows; j++) {
        size_t i = b->order ? b->order[j] : j;
        if (b->skip[i] || (only && !only[i]))
            continue;
        t = copybin_bytes(t, b->call_time(b->ctx, i), 8);
        k = copybin_bytes(k, b->keys[i], 16);
    }
    const Oid types[2] = {OID_TIMESTAMPTZ_ARRAY, OID_UUID_ARRAY};
    const char *params[2] = {times, keys};
    const int lengths[2] = {(int)(t - times), (int)(k - keys)}, formats[2] = {1, 1};
    const struct query q = {SQL_PROBE_PAIRS, 2, types, params, lengths, formats};
    bool more;
    enum load_status st = run(d, db, b, &q, live, &more, dups, err, errlen);
    free(times);
    free(keys);
    return st;
}

void dedup_begin_file(struct dedup *d, int64_t stored_max)
{
    d->full = false;
    d->since_range = 0;
    d->before = stored_max;
    d->sent_max = d->tail_floor = INT64_MIN;
    d->ntail = 0;
    d->tail_nslots = 1; /* empty: find_in needs one empty slot */
    d->tail_slots[0] = -1;
    if (d->bloom_keys)
        memset(d->bloom, 0, BLOOM_BITS / 8);
    d->bloom_keys = 0;
}

/* The call_time range of the batch's live rows; how many there are. */
static size_t live_range(const struct dedup_batch *b, int64_t *lo, int64_t *hi)
{
    size_t live = 0;
    *lo = INT64_MAX;
    *hi = INT64_MIN;
    for (size_t i = 0; i < b->nrows; i++) {
        if (b->skip[i])
            continue;
        live++;
        int64_t t = copybin_get_i64(b->call_time(b->ctx, i));
        *lo = t < *lo ? t : *lo;
        *hi = t > *hi ? t : *hi;
    }
    return live;
}

bool dedup_local(struct dedup *d, const struct dedup_batch *b, bool careful, uint64_t *dups)
{
    int64_t lo, hi;
    if (live_range(b, &lo, &hi) == 0)
        return true;
    /* Rows stored before the file, or sent by it before the tail: only the
     * server knows them. */
    if (careful || lo <= d->before)
        return false;
    if (lo > d->sent_max)
        return true; /* after everything: nothing to meet */
    /* Back past the tail: local only if the filter clears every row (the
     * tail's keys are in it too: nothing to mark then). */
    if (lo <= d->tail_floor)
        return bloom_usable(d) && bloom_clears(d, b);
    for (size_t i = 0; i < b->nrows; i++) {
        if (!b->skip[i] && find_in(d->tail_slots, d->tail_nslots,
                                   (const unsigned char (*)[16])d->tail, b->keys[i]) >= 0) {
            b->skip[i] = true;
            (*dups)++;
        }
    }
    return true;
}

void dedup_remember(struct dedup *d, const struct dedup_batch *b)
{
    int64_t lo, hi;
    size_t live = live_range(b, &lo, &hi);
    if (live == 0)
        return;
    /* The next batch is checked here only if all its rows come after the
     * rows sent before this one (dedup_local): this batch's rows up to
     * those cannot be asked about, and are not kept. So a file in time
     * order keeps about a batch of keys, one in random order hardly any. */
    if (bloom_usable(d)) {
        for (size_t i = 0; i < b->nrows; i++)
            if (!b->skip[i])
                bloom_add(d, b->keys[i]);
        d->bloom_keys += live;
    }
    int64_t floor = d->sent_max;
    size_t keep = 0;
    for (size_t i = 0; i < b->nrows; i++)
        keep += !b->skip[i] && copybin_get_i64(b->call_time(b->ctx, i)) > floor;
    /* The set sized for the rows kept, not for a whole batch: the pages
     * of a large one are touched only by files in time order. */
    d->tail_nslots = 2;
    while (d->tail_nslots < 2 * keep)
        d->tail_nslots *= 2;
    size_t mask = d->tail_nslots - 1;
    memset(d->tail_slots, 0xff, d->tail_nslots * sizeof *d->tail_slots);
    d->ntail = 0;
    for (size_t i = 0; i < b->nrows; i++) {
        if (b->skip[i] || copybin_get_i64(b->call_time(b->ctx, i)) <= floor)
            continue;
        memcpy(d->tail[d->ntail], b->keys[i], 16);
        size_t s = key_hash(b->keys[i]) & mask;
        while (d->tail_slots[s] >= 0)
            s = (s + 1) & mask;
        d->tail_slots[s] = (int32_t)d->ntail++;
    }
    d->tail_floor = floor;
    d->sent_max = hi > floor ? hi : floor;
}

/* A call_time as sent (microseconds since 2000, UTC) as text the server
 * reads as that instant whatever its TimeZone, rounded up to the second. */
static const char *format_instant(int64_t t, char out[32])
{
    time_t secs = (time_t)(t / 1000000 + (t % 1000000 > 0) + COPYBIN_PG_EPOCH);
    struct tm tm;
    plat_gmtime(secs, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S+00", &tm);
    return out;
}

/* Local times convert to instants monotonically except around a clock
 * change, so the range of a first attempt is exact and that of a retry
 * (after a unique violation) is widened by a day each side.
 *
 * A first attempt's range also ends at the latest call_time stored when
 * the file's transaction began or sent by it since: no row after that can
 * be there. Files of one PBX in time order overlap the one before by a few
 * rows, so most of a small file's probe was for rows that could not be
 * there, and a batch wholly after it needs no probe at all (a round trip a
 * file). Nor does a batch that can meet only the rows of the batch before
 * it (dedup_local): rows are written as calls end, so each batch's first
 * call_times reach back into the one before, and every batch of a file
 * used to be probed for its own rows (three round trips, with the COPYs
 * between them, for a file of 1000 rows). Rows a concurrent importer
 * commits meanwhile are for the primary key to catch, as they are after a
 * probe: unique violation, then a careful retry, which always probes the
 * whole range. */
enum load_status dedup_pairs(struct dedup *d, struct db *db, const struct dedup_batch *b,
                             uint64_t *dups, char *err, size_t errlen)
{
    size_t live = 0;
    for (size_t i = 0; i < b->nrows; i++)
        live += !b->skip[i];
    return live ? pairs(d, db, b, NULL, live, dups, err, errlen) : LOAD_OK;
}

enum load_status dedup_stored(struct dedup *d, struct db *db, const struct dedup_batch *b,
                              bool careful, bool may_skip, bool *unchecked, uint64_t *dups,
                              char *err, size_t errlen)
{
    *unchecked = false;
    int64_t lo, hi;
    size_t live = live_range(b, &lo, &hi);
    if (live == 0)
        return LOAD_OK;
    int64_t known = d->before > d->sent_max ? d->before : d->sent_max;
    if (!careful && lo > known)
        return LOAD_OK;
    /* After every row stored before the file: only the file's own rows can
     * be met, and the filter says which rows may be those. */
    if (!careful && lo > d->before && bloom_usable(d)) {
        size_t n = bloom_asks(d, b);
        return n ? pairs(d, db, b, d->ask, n, dups, err, errlen) : LOAD_OK;
    }
    if (d->full && d->since_range < FULL_SKIP) {
        d->since_range++;
        *unchecked = may_skip;
        return may_skip ? LOAD_OK : pairs(d, db, b, NULL, live, dups, err, errlen);
    }
    char limit[24], upto[32];
    snprintf(limit, sizeof limit, "%zu", PROBE_RANGE_FACTOR * live + 1);
    const char *tmax = !careful && hi > known ? format_instant(known, upto) : b->tmax;
    const char *params[4] = {b->tmin, tmax, careful ? "1 day" : "0", limit};
    const struct query q = {SQL_PROBE_KEYS, 4, NULL, params, NULL, NULL};
    bool more;
    enum load_status st = run(d, db, b, &q, PROBE_RANGE_FACTOR * live, &more, dups, err, errlen);
    d->full = more;
    d->since_range = 0;
    if (st == LOAD_OK && more && may_skip)
        *unchecked = true;
    else if (st == LOAD_OK && more)
        st = pairs(d, db, b, NULL, live, dups, err, errlen);
    return st;
}
