/*
 * load_batch.c - the loader thread's work on one batch of a file's
 * transaction (load.c hands batches over): the rows' keys, the duplicates
 * (dedup.h), the instants of their wall times (zone.h, asked of the
 * server when the cache cannot answer), then the kept rows into the open
 * binary COPY (pump.h), and the batch's rejects.
 */
#include "load_int.h"
#include "copytext.h"
#include "partition.h"
#include "sql.h"
#include "tuple.h"

#include <stdlib.h>
#include <string.h>

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
enum load_status load_batch_store(struct load *ld, struct batch *b)
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
