/*
 * fetch_sched.h - when a fetch source is polled next, and which of its
 * problems are worth a log line. Pure (the caller passes the monotonic
 * time), so every rule is unit tested (tests/unit/test_fetch_sched.c).
 *
 * The rules: the first poll is at once; after an answer the next starts
 * interval_s after the previous one started, or at once if that has passed
 * (requests never overlap: the caller starts one only when none is in
 * flight). After a failure the next waits a whole interval from the end of
 * the failed one (no blind retry); failures before any byte back off,
 * doubling up to FETCH_SCHED_MAX_BACKOFF_S. A lasting problem is logged
 * once when it starts (or turns into another one) and once when it is over.
 */
#ifndef CDR_FETCH_SCHED_H
#define CDR_FETCH_SCHED_H

#include "cdrimport.h"

#define FETCH_SCHED_MAX_BACKOFF_S 300.0

/* How a poll ended, for the schedule and the log. */
enum fetch_problem {
    FETCH_FINE = 0,      /* an answer: spooled, or nothing new */
    FETCH_UNREACHABLE,   /* nothing came back: refused, DNS, TLS, connect timeout */
    FETCH_NO_ANSWER,     /* a request went out, nothing came back in time */
    FETCH_CUT,           /* the answer broke off: what came is spooled */
    FETCH_REFUSED,       /* 401/403: the login was refused */
    FETCH_NOT_FOUND,     /* 404 */
    FETCH_SERVER_ERROR,  /* 5xx */
    FETCH_HTTP_OTHER,    /* another status, a refused redirect */
    FETCH_NO_ROOM,       /* the spool folder is missing, read-only or full: not polled */
    FETCH_SPOOL_ERROR,   /* writing the spool failed */
    FETCH_NPROBLEMS
};

struct fetch_sched {
    double interval;          /* seconds */
    double next_due;          /* monotonic */
    unsigned failures;        /* consecutive FETCH_UNREACHABLE */
    enum fetch_problem shown; /* the lasting problem last logged; FETCH_FINE: none */
};

void fetch_sched_init(struct fetch_sched *s, double interval_s, double now);
/* A new interval after a reload; the next poll stays due when it was. */
void fetch_sched_set_interval(struct fetch_sched *s, double interval_s);
bool fetch_sched_due(const struct fetch_sched *s, double now);
/* The delay after the n-th consecutive failure before any byte (n >= 1). */
double fetch_sched_backoff(double interval_s, unsigned n);
/*
 * A poll that started at start ended at end with problem p (FETCH_NO_ROOM:
 * it was skipped, start == end). Sets next_due; returns whether p deserves
 * a log line now. *was gets the lasting problem shown before: when it was
 * one and s->shown is FETCH_FINE now, that problem is over (log it once).
 */
bool fetch_sched_done(struct fetch_sched *s, enum fetch_problem p, double start, double end,
                      enum fetch_problem *was);
/* Whether p is logged once while it lasts (else each time it happens). */
bool fetch_problem_lasting(enum fetch_problem p);

#endif
