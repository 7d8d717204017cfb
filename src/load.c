/*
 * load.c - a file's transaction: rows batched by the parser's thread, then
 * keyed, deduplicated, converted (wall times to instants, zone.h) and
 * COPYed in binary by a loader thread, with the rejects and the ledger row
 * (see load.h for the design). The connection is db.c's, the COPY pump
 * pump.c's, the ledger rows ledger.c's and the SQL sql.c's.
 */
#include "load.h"
#include "batch.h"
#include "dedup.h"
#include "partition.h"
#include "copybin.h"
#include "copytext.h"
#include "pump.h"
#include "sql.h"
#include "tuple.h"
#include "zone.h"

#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A file's first batch holds FIRST_BATCH_ROWS rows, each next one twice as
 * many up to BATCH_ROWS, or only up to SMALL_BATCH_ROWS in a file known to
 * be no larger than SMALL_FILE_BYTES. The server starts on a file's rows
 * after 32 of them are parsed (a tenth of a millisecond) rather than 16384
 * (about 25 ms), and even a small file is parsed and stored in overlapping
 * parts (1000 files of 1000 rows, --jobs 1: median 8.3 s with 32 against
 * 8.7 s with 256). The cap keeps a small file's last batch small: it is
 * what the server still has to store, this side idle, once the parse has
 * ended. A 1000-row file sent as 32..512 left it 520 rows, as 32..256, 256,
 * 256 only 264: median 6.9 s against 6.7 s with --jobs 1, 5.8 s against
 * 5.0 s with --jobs 2 (five interleaved rounds each). A large file keeps
 * the doubling: more small batches at its start made a re-download 10%
 * slower (each that overflows its range probe sends the next few batches,
 * large by then, to the pair lookup: dedup.c). */
#define FIRST_BATCH_ROWS 32
#define SMALL_BATCH_ROWS 256
#define SMALL_FILE_BYTES (512u << 10)

/* Savepoints a file may use (copy_guarded): well under the 64
 * subtransactions a backend caches (PGPROC_MAX_CACHED_SUBXIDS). */
#define GUARDED_BATCHES 48

/* PostgreSQL 15 stores a binary COPY's rows 1000 at a time, the rest at
 * its end. A COPY holding fewer after a batch is ended, so that the server
 * stores them while this side prepares the next batch (a 1000-row file in
 * one COPY left this side waiting about 2 ms) - but only once it holds
 * COPY_END_ROWS: each COPY costs the server a statement, a fresh ring of
 * buffers and a slot made and dropped for each row it buffers (perf, 1000
 * files of 1000 rows: ResourceOwner*TupleDesc alone 6% of its time). A
 * 1000-row file went in as 7 COPYs (32, 64, 128, 256, 256, 256, 8 rows), now
 * 2 (736, 264): --jobs 2, five interleaved rounds, median 4.47 s against
 * 4.70 s; --jobs 1 5.43 s against 5.52 s. Never ending one early (one COPY a
 * file) was faster still with --jobs 2 (3.9 s against 4.45 s) but slower
 * with --jobs 1 (6.2 s against 5.6 s): the server stored all of a file's
 * rows while its worker waited. */
#define COPY_STORES_ROWS 1000
#define COPY_END_ROWS (COPY_STORES_ROWS / 2)

struct load {
    struct db *db;
    struct zone_cache *zones; /* db's (db_zones), at hand */
    char *source;
    size_t source_len;
    char *source_esc;      /* COPY-escaped source */
    size_t source_esc_len;
    char *timezone;
    struct copybin_dates dates; /* parser thread only */
    int64_t *answers;      /* the server's instants for zone questions */
    size_t answers_cap;
    long long file_id;     /* 0 until the opening round trip is read */
    char file_id_txt[24];
    /* The opening round trip, sent but not yet read (begin_read): the
     * file's first rows are parsed meanwhile. */
    bool begin_pending;
    struct ledger_begin begin;
    enum load_status begin_st; /* its answer, once read */
    bool known;            /* its answer: the checksum is already imported */
    bool careful;          /* a retry: probe a wider range */
    unsigned guarded_left; /* batches copy_guarded may still send */
    bool cached;           /* the db's, kept across files (loader_get) */
    bool in_use;
    struct batch batches[2];
    int fill;              /* the batch the parser fills */
    size_t batch_rows;     /* rows that fill it (FIRST_BATCH_ROWS, doubling) */
    bool small;            /* no larger than SMALL_FILE_BYTES */
    struct dedup *dedup;   /* over a batch's keys (loader thread only) */
    struct checksum *ck;   /* row keys (loader thread only) */
    struct pump pump;      /* the COPYs, into err */
    size_t copy_held;      /* rows in the open COPY */
    /* the loader thread: owns the connection while `busy` */
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct batch *work;    /* handed over, not yet done */
    bool busy, quit;
    bool draining;         /* idle, but still sending the COPY data queued */
    enum load_status st;   /* first failure of the loader */
    uint64_t inserted, duplicate;
    int64_t tfirst, tlast; /* the call_time range of the file's rows (copybin.h) */
    char err[CDR_ERRLEN];
};

/* ---- the file's transaction ---------------------------------------------- */

static void *loader_main(void *arg);

static void loader_free(void *arg);

/* The thread, the batches and the hashing state of a connection are made
 * once and kept by the db across files: a thread started and buffers
 * grown afresh for every file cost more than a small file's rows. A load
 * begun while the db's is still open (not done today) gets its own. */
static struct load *loader_get(struct db *db)
{
    struct load *ld = db_loader(db);
    if (ld && !ld->in_use) {
        ld->in_use = true;
        return ld;
    }
    ld = xcalloc(1, sizeof *ld);
    ld->db = db;
    ld->zones = db_zones(db);
    batch_init(&ld->batches[0]);
    batch_init(&ld->batches[1]);
    ld->dedup = dedup_create(BATCH_ROWS);
    ld->ck = checksum_create();
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv, NULL);
    if (pthread_create(&ld->thread, NULL, loader_main, ld) != 0) {
        fprintf(stderr, "cdrimport: cannot start a thread\n");
        abort();
    }
    ld->thread_started = true;
    if (!db_loader(db)) {
        db_set_loader(db, ld, loader_free);
        ld->cached = true;
    }
    ld->in_use = true;
    return ld;
}

/* The per-file state, for a file whose transaction has begun. */
static void loader_reset(struct load *ld, const char *source, const char *timezone,
                         long long file_id, bool careful, uint64_t size)
{
    ld->careful = careful;
    ld->begin_pending = ld->known = false;
    ld->begin_st = LOAD_OK;
    ld->guarded_left = careful ? 0 : GUARDED_BATCHES;
    ld->file_id = file_id;
    snprintf(ld->file_id_txt, sizeof ld->file_id_txt, "%lld", file_id);
    pump_init(&ld->pump, ld->db, ld->err, sizeof ld->err);
    ld->err[0] = '\0';
    ld->source = xstrdup(source);
    ld->source_len = strlen(source);
    ld->timezone = xstrdup(timezone);
    ld->source_esc = xmalloc(strlen(source) * 2 + 1);
    ld->source_esc_len = copytext_escape(ld->source_esc, source, strlen(source));
    for (int k = 0; k < 2; k++) {
        struct batch *b = &ld->batches[k];
        b->nrows = b->len = b->tlen = b->nrejects = b->rlen = 0;
    }
    ld->fill = 0;
    ld->batch_rows = FIRST_BATCH_ROWS;
    ld->small = size > 0 && size <= SMALL_FILE_BYTES; /* 0: not known */
    ld->inserted = ld->duplicate = 0;
    ld->tfirst = INT64_MAX;
    ld->tlast = INT64_MIN;
    pthread_mutex_lock(&ld->mu); /* the loader is idle: ld->st is read under mu */
    ld->st = LOAD_OK;
    pthread_mutex_unlock(&ld->mu);
}

/* The latest call_time stored, from SQL_STORED_MAX's answer, as a tuple's
 * call_time: microseconds since 2000 (copybin.h). */
static int64_t stored_max(PGresult *res)
{
    int64_t t = PQntuples(res) != 1 || PQgetisnull(res, 0, 0)
        ? INT64_MIN
        : strtoll(PQgetvalue(res, 0, 0), NULL, 10) - COPYBIN_PG_EPOCH * 1000000;
    PQclear(res);
    return t;
}

static struct db_step stored_max_step(const char *const *params)
{
    return (struct db_step){.tmpl = SQL_STORED_MAX, .n = 1, .params = params,
                            .want = PGRES_TUPLES_OK, .prepare = true, .keep = true};
}

/* The file's transaction opens in one round trip (ledger.h) that also
 * reads the latest call_time stored, for the probe (dedup.h). A first
 * attempt does not wait for it: it is read as the first batch is handed
 * to the loader (begin_read), so that the server opens the transaction
 * while the file's first rows are parsed (1000 files of 1000 rows: the
 * server sat idle about 0.25 ms a file in between). A retry waits, as it
 * may have to wait for the source's other imports (ledger.h). */
enum load_status load_begin(struct db *db, const char *source, const char *timezone,
                            const char *path, const char *member, const char *format,
                            const char *sha256, uint64_t size, bool careful, bool *known,
                            struct load **out, char *err, size_t errlen)
{
    *out = NULL;
    if (known)
        *known = false;
    const char *max_params[1] = {source};
    struct db_step max = stored_max_step(max_params);
    long long file_id = 0;
    enum load_status st;
    if (careful) {
        st = ledger_begin_file(db, source, timezone, path, member, format, sha256, size, true,
                               known, &max, &file_id, err, errlen);
        if (st != LOAD_OK || !file_id)
            return st;
    }
    struct load *ld = loader_get(db);
    loader_reset(ld, source, timezone, file_id, careful, size);
    if (careful) {
        dedup_begin_file(ld->dedup, stored_max(max.res)); /* the loader is idle */
    } else {
        st = ledger_begin_send(db, source, timezone, path, member, format, sha256, size, false,
                               known != NULL, &max, &ld->begin, err, errlen);
        if (st != LOAD_OK) {
            load_close(ld);
            return st;
        }
        ld->begin_pending = true;
    }
    *out = ld;
    return LOAD_OK;
}

/* Read the opening round trip's answer, once: the file id that tags the
 * rows and rejects, the latest call stored (dedup_begin_file), or that the
 * checksum is known (LOAD_ERROR, ld->known; load_opened says so). Called
 * on the parser's thread while the loader is idle: before the first batch
 * is handed over, before the first reject is written, and at the end. */
static enum load_status begin_read(struct load *ld)
{
    if (!ld->begin_pending)
        return ld->begin_st;
    ld->begin_pending = false;
    struct db_step max = {0};
    bool locked;
    long long file_id;
    enum load_status st = ledger_begin_collect(ld->db, &ld->begin, &locked, &ld->known, &max,
                                               &file_id, ld->err, sizeof ld->err);
    if (st == LOAD_OK && ld->known) {
        cdr_seterr(ld->err, sizeof ld->err, "already imported");
        st = LOAD_ERROR;
    }
    if (st == LOAD_OK) {
        ld->file_id = file_id;
        snprintf(ld->file_id_txt, sizeof ld->file_id_txt, "%lld", file_id);
        dedup_begin_file(ld->dedup, stored_max(max.res));
    }
    ld->begin_st = st;
    return st;
}

enum load_status load_opened(struct load *ld, bool *known)
{
    enum load_status st = begin_read(ld);
    *known = ld->known;
    return *known ? LOAD_OK : st;
}

const char *load_error(const struct load *ld)
{
    return ld ? ld->err : "";
}

static void need_time(void *zc, char *p)
{
    zone_need(zc, copybin_get_i64(p));
}

/* Local seconds in, PostgreSQL's timestamptz (microseconds since 2000,
 * UTC) out. */
static void convert_time(void *zc, char *p)
{
    int64_t utc = zone_to_utc(zc, copybin_get_i64(p));
    copybin_i64(p, (utc - COPYBIN_PG_EPOCH) * 1000000);
}

/* Ask the server for the instants of wall times, in this transaction's
 * TimeZone: the conversion text COPY would have made. */
static enum load_status zone_ask(struct load *ld, const int64_t *locals, size_t n)
{
    char *arr = xmalloc(n * 22 + 3), *w = arr;
    *w++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = ',';
        *w++ = '"';
        copybin_format_local(locals[i], w);
        w += 19;
        *w++ = '"';
    }
    *w++ = '}';
    *w = '\0';
    const char *params[1] = {arr};
    PGresult *res = NULL;
    enum load_status st = db_exec(ld->db, &res, PGRES_TUPLES_OK, ld->err, sizeof ld->err,
                                  SQL_ZONE_INSTANTS, 1, params);
    free(arr);
    if (st != LOAD_OK)
        return st;
    if ((size_t)PQntuples(res) != n) {
        cdr_seterr(ld->err, sizeof ld->err, "time zone conversion: %d answers to %zu questions",
                  PQntuples(res), n);
        PQclear(res);
        return LOAD_ERROR;
    }
    if (ld->answers_cap < n) {
        ld->answers_cap = n;
        ld->answers = xrealloc(ld->answers, n * sizeof *ld->answers);
    }
    for (size_t i = 0; i < n; i++)
        ld->answers[i] = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
    PQclear(res);
    return LOAD_OK;
}

/* Collect the zone questions of a batch's times. */
static void zone_needs(struct load *ld, struct batch *b)
{
    for (size_t i = 0; i < b->nrows; i++) {
        if (!b->skip[i])
            tuple_times(b->buf + b->line_off[i], need_time, ld->zones);
        if (i % 1024 == 1023)
            pump_feed(&ld->pump, false);
    }
}

/* Answer the open zone questions through the server: at most two round
 * trips (hours, then the seconds of hours with a clock change). */
static enum load_status zone_resolve(struct load *ld, struct batch *b)
{
    struct zone_cache *zc = ld->zones;
    const int64_t *q;
    size_t n;
    while ((n = zone_questions(zc, &q)) != 0) {
        enum load_status st = zone_ask(ld, q, n);
        if (st != LOAD_OK)
            return st;
        if (zone_answer(zc, ld->answers))
            zone_needs(ld, b);
    }
    return LOAD_OK;
}

/* Fill in the instants and the keys of the batch's tuples. */
static void finish_tuples(struct load *ld, struct batch *b)
{
    for (size_t i = 0; i < b->nrows; i++) {
        if (!b->skip[i]) {
            char *t = b->buf + b->line_off[i];
            char *key = tuple_times(t, convert_time, ld->zones);
            memcpy(key + 4, b->keys[i], 16);
            tuple_set_file_id(key, (int32_t)ld->file_id); /* known only now: begin_read */
            int64_t at = copybin_get_i64(batch_call_time(b, i));
            partition_note(db_partitions(ld->db), at);
            /* For the ledger: which calls the stored calls must redo. */
            ld->tfirst = at < ld->tfirst ? at : ld->tfirst;
            ld->tlast = at > ld->tlast ? at : ld->tlast;
        }
        if (i % 1024 == 1023)
            pump_feed(&ld->pump, false);
    }
}

/* Queue the batch's kept rows in the rows' COPY, opened if it is not: the
 * next batch joins it unless it must ask the server first or the COPY was
 * ended short (COPY_END_ROWS). A 1M-row file is a few COPYs, not 62. */
static enum load_status copy_rows(struct load *ld, struct batch *b)
{
    if (!pump_is_open(&ld->pump)) {
        enum load_status st = pump_wait(&ld->pump);
        if (st == LOAD_OK)
            st = pump_open_binary(&ld->pump, SQL_COPY_ROWS);
        if (st != LOAD_OK)
            return st;
        ld->copy_held = 0;
    }
    batch_send(b, &ld->pump);
    ld->inserted += batch_kept(b);
    ld->copy_held += batch_kept(b);
    if (ld->copy_held >= COPY_END_ROWS && ld->copy_held < COPY_STORES_ROWS)
        pump_end(&ld->pump);
    return LOAD_OK;
}

/* A batch the probe left unchecked (its hours hold more than it: rows out
 * of time order, or other sources' hours) goes in under a savepoint
 * without the lookup of each of its keys, which costs as much as the COPY;
 * only if the key refuses a row is the savepoint rolled back, the lookup
 * made and the rest sent. The file then looks up every later batch: it has
 * met its stored rows. At most GUARDED_BATCHES a file: each savepoint that
 * writes is a subtransaction, and past the 64 a backend keeps in shared
 * memory every other session's snapshots get slower. */
static enum load_status copy_guarded(struct load *ld, struct batch *b,
                                     const struct dedup_batch *view)
{
    enum load_status st;
    ld->guarded_left--;
    if ((st = db_cmd(ld->db, ld->err, sizeof ld->err, SQL_SAVEPOINT, 0, NULL)) != LOAD_OK ||
        (st = copy_rows(ld, b)) != LOAD_OK)
        return st;
    st = pump_wait(&ld->pump);
    if (st == LOAD_OK)
        return db_cmd(ld->db, ld->err, sizeof ld->err, SQL_RELEASE_SAVEPOINT, 0, NULL);
    if (st != LOAD_CONFLICT)
        return st;
    ld->inserted -= batch_kept(b);
    ld->guarded_left = 0;
    if ((st = db_cmd(ld->db, ld->err, sizeof ld->err, SQL_ROLLBACK_SAVEPOINT, 0, NULL)) !=
            LOAD_OK ||
        (st = dedup_pairs(ld->dedup, ld->db, view, &ld->duplicate, ld->err, sizeof ld->err)) !=
            LOAD_OK)
        return st;
    return batch_kept(b) ? copy_rows(ld, b) : LOAD_OK;
}

/* A batch that must ask the server before its rows go: the probe, a new
 * partition. The COPY in flight ends first: the probe must see its rows. */
static enum load_status load_asking(struct load *ld, struct batch *b, struct dedup_batch *view)
{
    enum load_status st;
    if ((st = pump_wait(&ld->pump)) != LOAD_OK)
        return st;
    /* Rows that may all be new in hours others fill: sent unchecked
     * (copy_guarded), as long as the file has not met a stored row. */
    bool unchecked = false;
    st = dedup_stored(ld->dedup, ld->db, view, ld->careful, ld->guarded_left > 0, &unchecked,
                      &ld->duplicate, ld->err, sizeof ld->err);
    if (st != LOAD_OK || !batch_kept(b))
        return st;
    st = partition_ensure(db_partitions(ld->db), ld->db, ld->err, sizeof ld->err);
    if (st != LOAD_OK)
        return st;
    return unchecked ? copy_guarded(ld, b, view) : copy_rows(ld, b);
}

/* Loader thread: key, check and COPY one batch, then its rejects. The
 * rows' COPY is left open: while the server works through it (pump_feed
 * keeps feeding it), this thread prepares the next batch as far as it can
 * without the connection: keys, duplicates within the batch and against
 * the batch before, instants. A batch that needs no more joins the same
 * COPY; one that must ask the server first ends it: for the zone of new
 * hours (a query cannot run inside a COPY), then for the probe or a new
 * partition (load_asking). A batch whose hours had to be asked about is
 * still checked in the client when it can be, as any other. */
static enum load_status load_batch(struct load *ld, struct batch *b)
{
    enum load_status st;
    if (b->nrows) {
        for (size_t i = 0; i < b->nrows; i++) {
            copytext_key(ld->ck, b->tbuf + b->text_off[i], b->content_len[i], b->keys[i]);
            if (i % 256 == 255)
                pump_feed(&ld->pump, false);
        }
        struct dedup_batch view = batch_view(b);
        ld->duplicate += dedup_within(ld->dedup, &view);
        zone_begin(ld->zones, ld->timezone);
        zone_needs(ld, b);
        const int64_t *q;
        if (zone_questions(ld->zones, &q) != 0 &&
            ((st = pump_wait(&ld->pump)) != LOAD_OK || (st = zone_resolve(ld, b)) != LOAD_OK))
            return st;
        finish_tuples(ld, b);
        batch_order(b);
        if (partition_settled(db_partitions(ld->db)) &&
            dedup_local(ld->dedup, &view, ld->careful, &ld->duplicate))
            st = batch_kept(b) ? copy_rows(ld, b) : LOAD_OK;
        else
            st = load_asking(ld, b, &view);
        if (st != LOAD_OK)
            return st;
        dedup_remember(ld->dedup, &view);
    }
    if (b->nrejects) {
        if ((st = pump_wait(&ld->pump)) != LOAD_OK)
            return st;
        st = pump_send(&ld->pump, SQL_COPY_REJECTS, b->rbuf, b->rlen);
        if (st != LOAD_OK)
            return st;
    }
    return LOAD_OK;
}

/* Between batches the loader keeps feeding the COPY data libpq holds (up
 * to a batch: the socket takes a fraction), so that the server does not
 * run dry while the parser fills the next batch; it looks for new work
 * every DRAIN_POLL_MS. */
#define DRAIN_POLL_MS 1

static void *loader_main(void *arg)
{
    struct load *ld = arg;
    pthread_mutex_lock(&ld->mu);
    for (;;) {
        while (!ld->work && !ld->quit) {
            if (!ld->draining) {
                pthread_cond_wait(&ld->cv, &ld->mu);
                continue;
            }
            pthread_mutex_unlock(&ld->mu);
            bool more = pump_drain(&ld->pump, DRAIN_POLL_MS);
            pthread_mutex_lock(&ld->mu);
            if (!more) {
                ld->draining = false;
                pthread_cond_broadcast(&ld->cv);
            }
        }
        if (!ld->work)
            break; /* quit */
        struct batch *b = ld->work;
        ld->draining = false;
        bool skip = ld->st != LOAD_OK; /* after a failure: just drop batches */
        pthread_mutex_unlock(&ld->mu);
        enum load_status st = skip ? LOAD_OK : load_batch(ld, b);
        pthread_mutex_lock(&ld->mu);
        if (st != LOAD_OK && ld->st == LOAD_OK)
            ld->st = st;
        b->nrows = b->len = b->tlen = 0;
        b->nrejects = b->rlen = 0;
        ld->work = NULL;
        ld->busy = false;
        ld->draining = ld->st == LOAD_OK && pump_is_sending(&ld->pump);
        pthread_cond_broadcast(&ld->cv);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

/* Wait until the loader has finished its batch (and, to hand the
 * connection back, its sending: all), its status. */
static enum load_status wait_loader(struct load *ld, bool all)
{
    pthread_mutex_lock(&ld->mu);
    while (ld->busy || (all && ld->draining))
        pthread_cond_wait(&ld->cv, &ld->mu);
    enum load_status st = ld->st;
    pthread_mutex_unlock(&ld->mu);
    return st;
}

static enum load_status wait_idle(struct load *ld)
{
    return wait_loader(ld, true);
}

/* Hand the batch being filled to the loader, and fill the other one. */
static enum load_status submit(struct load *ld)
{
    enum load_status st = wait_loader(ld, false);
    if (st != LOAD_OK)
        return st;
    struct batch *b = &ld->batches[ld->fill];
    if (!b->nrows && !b->nrejects)
        return LOAD_OK;
    if ((st = begin_read(ld)) != LOAD_OK)
        return st;
    pthread_mutex_lock(&ld->mu);
    ld->work = b;
    ld->busy = true;
    pthread_cond_broadcast(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
    ld->fill ^= 1;
    return LOAD_OK;
}

enum load_status load_row(struct load *ld, const struct cdr_row *row, uint64_t line_no)
{
    struct batch *b = &ld->batches[ld->fill];
    size_t i = b->nrows;

    /* line_no is an integer column: a file of 2^31 lines (200 GB of
     * KX-HTS rows) is refused rather than numbered wrong. */
    if (line_no > INT32_MAX) {
        cdr_seterr(ld->err, sizeof ld->err, "line %llu: past the last line number cdr stores",
                   (unsigned long long)line_no);
        return LOAD_ERROR;
    }

    /* The row's COPY text content: what its key hashes (copytext.h). */
    batch_reserve(&b->tbuf, &b->tcap, b->tlen, copytext_content_max(ld->source_esc_len, row));
    b->text_off[i] = b->tlen;
    b->content_len[i] = (uint32_t)copytext_content(b->tbuf + b->tlen, ld->source_esc,
                                                   ld->source_esc_len, row);
    b->tlen += b->content_len[i];
    /* Canonical "YYYY-MM-DD HH:MM:SS" compares as text in time order. */
    const char *t = row->val[CDR_F_CALL_TIME];
    if (i == 0 || memcmp(t, b->tmin, 19) < 0)
        memcpy(b->tmin, t, 19);
    if (i == 0 || memcmp(t, b->tmax, 19) > 0)
        memcpy(b->tmax, t, 19);

    /* The tuple that is sent, its times and key filled in by the loader
     * thread (load_batch). */
    size_t need = tuple_max(row, ld->source_len);
    batch_reserve(&b->buf, &b->cap, b->len, need);
    b->line_off[i] = b->len;
    char *w = tuple_write(b->buf + b->len, row, &ld->dates, (int32_t)ld->file_id,
                          (int32_t)line_no, ld->source, ld->source_len);
    assert((size_t)(w - (b->buf + b->line_off[i])) <= need); /* tuple_max is right */
    b->len = (size_t)(w - b->buf);
    b->nrows++;
    bool room = b->nrows < BATCH_ROWS && b->len + b->tlen < BATCH_BYTES && b->rlen < BATCH_BYTES;
    /* While the file's transaction is still opening (load_begin), the
     * first batch grows rather than wait for it, asking every 16 rows. */
    if (room && ld->begin_pending && b->nrows >= ld->batch_rows &&
        (b->nrows % 16 != 0 || !db_reply_ready(ld->db)))
        return LOAD_OK;
    if (b->nrows >= ld->batch_rows || !room) {
        if (ld->batch_rows < BATCH_ROWS &&
            (!ld->small || ld->batch_rows < SMALL_BATCH_ROWS))
            ld->batch_rows *= 2;
        return submit(ld);
    }
    return LOAD_OK;
}

enum load_status load_reject(struct load *ld, uint64_t line_no, const char *raw, size_t len,
                             const char *reason)
{
    enum load_status st = begin_read(ld); /* the file id the line is written with */
    if (st != LOAD_OK)
        return st;
    struct batch *b = &ld->batches[ld->fill];
    batch_reserve(&b->rbuf, &b->rcap, b->rlen, ledger_reject_max(len, reason));
    b->rlen += ledger_reject_line(b->rbuf + b->rlen, ld->file_id_txt, line_no, raw, len, reason);
    b->nrejects++;
    if (b->rlen >= BATCH_BYTES)
        return submit(ld);
    return LOAD_OK;
}

enum load_status load_settle(struct load *ld)
{
    enum load_status st = begin_read(ld);
    if (st == LOAD_OK)
        st = submit(ld);
    if (st == LOAD_OK)
        st = wait_idle(ld);
    /* The loader is idle: the connection is ours again. */
    if (st == LOAD_OK)
        st = pump_wait(&ld->pump);
    return st;
}

enum load_status load_commit(struct load *ld, const char *status, const char *error,
                             const char *sha256, uint64_t size, struct load_stats *stats)
{
    enum load_status st = load_settle(ld);
    if (st != LOAD_OK)
        return st;
    stats->rows_inserted = ld->inserted;
    stats->rows_duplicate = ld->duplicate;
    stats->first_call = ld->tfirst;
    stats->last_call = ld->tlast;
    return ledger_finish_commit(ld->db, ld->file_id_txt, status, error, sha256, size, stats,
                                ld->err, sizeof ld->err);
}

static void loader_free(void *arg)
{
    struct load *ld = arg;
    if (ld->thread_started) {
        wait_idle(ld);
        pthread_mutex_lock(&ld->mu);
        ld->quit = true;
        pthread_cond_broadcast(&ld->cv);
        pthread_mutex_unlock(&ld->mu);
        pthread_join(ld->thread, NULL);
        pthread_mutex_destroy(&ld->mu);
        pthread_cond_destroy(&ld->cv);
    }
    free(ld->answers);
    batch_free(&ld->batches[0]);
    batch_free(&ld->batches[1]);
    dedup_destroy(ld->dedup);
    checksum_destroy(ld->ck);
    free(ld);
}

void load_close(struct load *ld)
{
    if (!ld)
        return;
    wait_idle(ld);
    pump_wait(&ld->pump);
    begin_read(ld); /* an answer not read yet is read, then rolled back */
    PGconn *c = db_conn(ld->db);
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) != PQTRANS_IDLE)
        db_rollback(ld->db);
    free(ld->source);
    free(ld->source_esc);
    free(ld->timezone);
    ld->source = ld->source_esc = ld->timezone = NULL;
    ld->in_use = false;
    if (!ld->cached)
        loader_free(ld);
}
