/*
 * load.c - a file's transaction: rows batched by the parser's thread, then
 * keyed, deduplicated, converted (wall times to instants, zone.h) and
 * COPYed in binary by a loader thread, with the rejects and the ledger row
 * (see load.h for the design). This half is the parser's side: the
 * opening round trip, the batches filled and handed over, the loader
 * thread, the commit; the thread's work on a batch is load_batch.c's, the
 * state both share load_int.h's. The connection is db.c's, the COPY pump
 * pump.c's, the ledger rows ledger.c's and the SQL sql.c's.
 */
#include "load.h"
#include "load_int.h"
#include "copytext.h"
#include "sql.h"
#include "tuple.h"

#include <assert.h>
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
        enum load_status st = skip ? LOAD_OK : load_batch_store(ld, b);
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
     * thread (load_batch_store). */
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
