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
    bool failed;
    bool flushing;         /* COPY data queued in libpq, not all sent yet */
    size_t queued;         /* bytes queued since libpq's buffer was last empty */
};

void pump_init(struct pump *p, struct db *db, char *err, size_t errlen);
/* Start a COPY (a template of sql.h). */
enum load_status pump_open(struct pump *p, const char *tmpl);
/* Queue data; a failure shows in pump_wait. */
void pump_put(struct pump *p, const char *data, size_t len);
/* End the data and send what the socket takes now. */
void pump_end(struct pump *p);
/* Send what the socket takes now, or (block) all that is queued. */
void pump_feed(struct pump *p, bool block);
/* Wait for the COPY in flight, if any: whether its rows went in. */
enum load_status pump_wait(struct pump *p);
/* A whole COPY, waited for. */
enum load_status pump_send(struct pump *p, const char *tmpl, const char *data, size_t len);

#endif
