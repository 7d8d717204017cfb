/*
 * fetch_sched.c - the poll schedule, backoff and log-once rules of a fetch
 * source (see fetch_sched.h). No clock, no I/O.
 */
#include "fetch_sched.h"

void fetch_sched_init(struct fetch_sched *s, double interval_s, double now)
{
    *s = (struct fetch_sched){.interval = interval_s, .next_due = now};
}

void fetch_sched_set_interval(struct fetch_sched *s, double interval_s)
{
    s->interval = interval_s;
}

bool fetch_sched_due(const struct fetch_sched *s, double now)
{
    return now >= s->next_due;
}

double fetch_sched_backoff(double interval_s, unsigned n)
{
    double d = interval_s;
    for (unsigned i = 1; i < n && d < FETCH_SCHED_MAX_BACKOFF_S; i++)
        d *= 2;
    /* An interval longer than the cap is kept: backing off never polls
     * more often than configured. */
    double cap = interval_s > FETCH_SCHED_MAX_BACKOFF_S ? interval_s : FETCH_SCHED_MAX_BACKOFF_S;
    return d < cap ? d : cap;
}

bool fetch_problem_lasting(enum fetch_problem p)
{
    /* A cut answer, a 5xx and a spool write error are each an event of
     * their own (bytes were lost or kept: each one is worth a line); the
     * rest are states that last until someone fixes something. */
    return p != FETCH_FINE && p != FETCH_CUT && p != FETCH_SERVER_ERROR &&
           p != FETCH_SPOOL_ERROR;
}

bool fetch_sched_done(struct fetch_sched *s, enum fetch_problem p, double start, double end,
                      enum fetch_problem *was)
{
    *was = s->shown;
    if (p == FETCH_UNREACHABLE) {
        s->failures++;
        s->next_due = end + fetch_sched_backoff(s->interval, s->failures);
    } else {
        s->failures = 0;
        if (p == FETCH_FINE)
            s->next_due = start + s->interval > end ? start + s->interval : end;
        else
            s->next_due = end + s->interval;
    }
    if (fetch_problem_lasting(p)) {
        if (s->shown == p)
            return false;
        s->shown = p;
        return true;
    }
    /* An answer of any kind (even a cut one or a 5xx) shows the PBX is
     * reachable and the spool has room: a lasting problem is over. A spool
     * write error says nothing about the PBX. */
    if (p != FETCH_SPOOL_ERROR)
        s->shown = FETCH_FINE;
    return p != FETCH_FINE;
}
