/*
 * pump.c - COPY data fed to the server without blocking (see pump.h). It
 * lets the loader thread overlap its work on the next batch with the
 * server's work on this one: the rows' COPY is the hot path, so this file
 * only moves bytes and keeps state; it never looks at them.
 */
#include "pump.h"
#include "copybin.h"

#include "plat.h"

#include <stdlib.h>

#define SEND_CHUNK (64u * 1024u) /* larger chunks measured slower (issue 4) */
/* COPY data left queued in libpq at most. The loader feeds it to the
 * server between batches too (load.c), so it need not hold a whole batch:
 * 2 MiB stored 1M rows as fast as 4 MiB did, in 1.8 MiB less memory. */
#define COPY_QUEUE (2u << 20)

void pump_init(struct pump *p, struct db *db, char *err, size_t errlen)
{
    *p = (struct pump){.db = db, .err = err, .errlen = errlen};
}

/* Send queued COPY data: what the socket takes now, or (block) all of it,
 * then back to blocking mode. */
static int flush_some(PGconn *c, bool block)
{
    int r;
    while ((r = PQflush(c)) == 1 && block) {
        plat_wait_writable_socket(PQsocket(c), 1000);
    }
    return r;
}

void pump_feed(struct pump *p, bool block)
{
    if (!p->flushing)
        return;
    PGconn *c = db_conn(p->db);
    int r = flush_some(c, block);
    if (r == 1)
        return;
    p->queued = 0;
    if (r < 0) {
        cdr_seterr(p->err, p->errlen, "COPY: %s", PQerrorMessage(c));
        p->failed = true;
    }
    p->flushing = false;
    PQsetnonblocking(c, 0);
}

bool pump_drain(struct pump *p, int timeout_ms)
{
    if (!p->flushing)
        return false;
    plat_wait_writable_socket(PQsocket(db_conn(p->db)), timeout_ms);
    pump_feed(p, false);
    return p->flushing;
}

/* Its data is queued without blocking (pump_put, then pump_end), and
 * pump_feed sends what the socket takes while the caller works on the next
 * batch; pump_wait sends the rest and collects the result. */
enum load_status pump_open(struct pump *p, const char *tmpl)
{
    PGconn *c = db_conn(p->db);
    char *q = db_sql(p->db, tmpl);
    PGresult *res = PQexec(c, q);
    free(q);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        enum load_status st = db_classify(p->db, res);
        cdr_seterr(p->err, p->errlen, "%s", PQerrorMessage(c));
        PQclear(res);
        return st;
    }
    PQclear(res);
    p->pending = p->open = true;
    PQsetnonblocking(c, 1);
    p->flushing = true;
    return LOAD_OK;
}

enum load_status pump_open_binary(struct pump *p, const char *tmpl)
{
    enum load_status st = pump_open(p, tmpl);
    if (st == LOAD_OK) {
        p->binary = true;
        pump_put(p, copybin_header, COPYBIN_HEADER_LEN);
    }
    return st;
}

/* Queue data in messages of SEND_CHUNK bytes. */
void pump_put(struct pump *p, const char *data, size_t len)
{
    PGconn *c = db_conn(p->db);
    if (!p->flushing) { /* all sent before: the COPY goes on */
        PQsetnonblocking(c, 1);
        p->flushing = true;
    }
    for (size_t off = 0; off < len && !p->failed; off += SEND_CHUNK) {
        size_t n = len - off < SEND_CHUNK ? len - off : SEND_CHUNK;
        if (PQputCopyData(c, data + off, (int)n) != 1) {
            cdr_seterr(p->err, p->errlen, "COPY: %s", PQerrorMessage(c));
            p->failed = true;
        }
        /* Bound what libpq holds: wait until the server has taken the
         * rest before queueing more. */
        p->queued += n;
        if (p->queued >= COPY_QUEUE && !p->failed) {
            if (flush_some(c, true) < 0) {
                cdr_seterr(p->err, p->errlen, "COPY: %s", PQerrorMessage(c));
                p->failed = true;
            }
            p->queued = 0;
        }
    }
}

bool pump_is_open(const struct pump *p)
{
    return p->open;
}

bool pump_is_sending(const struct pump *p)
{
    return p->flushing;
}

void pump_end(struct pump *p)
{
    PGconn *c = db_conn(p->db);
    if (p->binary)
        pump_put(p, copybin_trailer, COPYBIN_TRAILER_LEN);
    p->open = p->binary = false;
    if (!p->flushing) {
        PQsetnonblocking(c, 1);
        p->flushing = true;
    }
    if (PQputCopyEnd(c, p->failed ? "cdrimport: send failed" : NULL) != 1 && !p->failed) {
        cdr_seterr(p->err, p->errlen, "COPY end: %s", PQerrorMessage(c));
        p->failed = true;
    }
    pump_feed(p, false);
}

enum load_status pump_wait(struct pump *p)
{
    if (!p->pending)
        return LOAD_OK;
    if (p->open)
        pump_end(p);
    pump_feed(p, true);
    PGconn *c = db_conn(p->db);
    enum load_status st = p->failed ? LOAD_DB_DOWN : LOAD_OK;
    PGresult *res;
    /* Drain every result; the COPY's own tells whether the rows went in. */
    while ((res = PQgetResult(c)) != NULL) {
        if (PQresultStatus(res) != PGRES_COMMAND_OK && st == LOAD_OK) {
            st = db_classify(p->db, res);
            cdr_seterr(p->err, p->errlen, "%s", PQerrorMessage(c));
        }
        PQclear(res);
        if (PQstatus(c) == CONNECTION_BAD)
            break;
    }
    if (st == LOAD_OK && PQstatus(c) == CONNECTION_BAD)
        st = LOAD_DB_DOWN;
    p->pending = p->open = p->binary = false;
    p->failed = false;
    return st;
}

enum load_status pump_send(struct pump *p, const char *tmpl, const char *data, size_t len)
{
    enum load_status st = pump_open(p, tmpl);
    if (st != LOAD_OK)
        return st;
    pump_put(p, data, len);
    pump_end(p);
    return pump_wait(p);
}
