/*
 * pump.h - COPY FROM STDIN without waiting on the network: data is queued
 * in libpq in non-blocking mode and fed to the server a socket-full at a
 * time (pump_feed) while the caller prepares what comes next; only
 * pump_wait blocks, to collect the COPY's result. One COPY in flight at a
 * time per connection; a failure is kept and reported by pump_wait.
 *
 * Never logs: the message goes to the caller's error buffer.
 */
#ifndef CDR_PUMP_H
#define CDR_PUMP_H

#include "db.h"

/* Embedded in its owner (struct load); fields are pump.c's. */
struct pump {
    struct db *db;
    char *err;             /* the owner's error buffer */
    size_t errlen;
    bool pending;          /* a COPY sent, its result not read yet */
    bool open;             /* ... and its data not ended yet (pump_end) */
    bool binary;           /* ... in binary: pump_end sends the trailer */
    bool failed;
    bool flushing;         /* COPY data queued in libpq, not all sent yet */
    size_t queued;         /* bytes queued since libpq's buffer was last empty */
};

void pump_init(struct pump *p, struct db *db, char *err, size_t errlen);
/* Start a COPY (a template of sql.h). */
enum load_status pump_open(struct pump *p, const char *tmpl);
/* Start a binary COPY: its header is queued now, its trailer by pump_end. */
enum load_status pump_open_binary(struct pump *p, const char *tmpl);
/* Queue data; a failure shows in pump_wait. A COPY stays open across
 * puts until pump_end: data queued later joins the same statement. */
void pump_put(struct pump *p, const char *data, size_t len);
/* Whether a COPY is open (opened and not ended). */
bool pump_is_open(const struct pump *p);
/* Whether COPY data is queued in libpq, not all sent yet (pump_drain). */
bool pump_is_sending(const struct pump *p);
/* End the data and send what the socket takes now. */
void pump_end(struct pump *p);
/* Send what the socket takes now, or (block) all that is queued. */
void pump_feed(struct pump *p, bool block);
/* Wait up to timeout_ms for the socket to take more, and send what it
 * takes: whether data is still queued. */
bool pump_drain(struct pump *p, int timeout_ms);
/* Wait for the COPY in flight, if any (ending it first if it is open):
 * whether its rows went in. */
enum load_status pump_wait(struct pump *p);
/* A whole COPY, waited for. */
enum load_status pump_send(struct pump *p, const char *tmpl, const char *data, size_t len);

#endif
