/*
 * zone.h - wall times of a PBX to instants, with the database server as
 * the authority. Binary COPY sends instants, so the client must convert,
 * and it must convert exactly as PostgreSQL reads text (its zone data, its
 * rule for the repeated and the skipped hour). So the client asks: for
 * every local hour it meets, the server converts the hour's first and last
 * second; equal offsets mean the whole hour has that offset, different ones
 * (an hour with a clock change) make every second of that hour a question
 * of its own. Answers are cached per zone, and a question about an hour
 * also asks about the ZONE_AHEAD_HOURS after it, twice as many as the last
 * time when the hour follows the last look-ahead (a file running forward
 * through it), up to ZONE_AHEAD_MAX_HOURS. A file in time order then asks
 * about once a month of calls: each question ends the COPY in flight. With
 * 48 hours always, a file of 1M rows over 35 days was 20 COPYs; starting
 * at 48 and doubling up to 768, a file of 1M rows over 62 days still asked
 * 5 times. Starting at 768 (1538 conversions, about half a millisecond of
 * the server's) it asks twice: 3.32 s against 3.45 s, median of four
 * interleaved imports of that file.
 *
 * Pure: the caller (load.c) runs the queries. Bounded: the cache is
 * emptied between batches once it holds more than ZONE_CACHE_MAX answers.
 */
#ifndef CDR_ZONE_H
#define CDR_ZONE_H

#include "cdrimport.h"

#define ZONE_CACHE_MAX 16384
/* Hours asked for beyond the one a batch meets: at first, and at most
 * (see zone_need). Equal today: a look-ahead of 4096 hours was faster
 * still (3.25 s) but fills half the cache in one question. */
#define ZONE_AHEAD_HOURS 768
#define ZONE_AHEAD_MAX_HOURS 768

struct zone_cache;

struct zone_cache *zone_create(void);
void zone_destroy(struct zone_cache *zc);

/* Start a batch of conversions in zone `name`: forget answers of another
 * zone, or all of them once there are too many, and any open questions. */
void zone_begin(struct zone_cache *zc, const char *name);

/* Note that local (seconds since 1970 in wall-clock time) will be
 * converted; adds questions for what the cache cannot answer yet. */
void zone_need(struct zone_cache *zc, int64_t local);

/* The open questions: wall times to convert, in order. */
size_t zone_questions(const struct zone_cache *zc, const int64_t **locals);

/* Record the server's answers (instants in seconds since 1970, one per
 * question) and close the questions. Returns true when an hour turned out
 * to hold a clock change: call zone_need again for the batch, whose
 * seconds in that hour are now questions of their own. */
bool zone_answer(struct zone_cache *zc, const int64_t *utc);

/* The instant of a wall time that zone_need has seen and whose questions
 * are answered. */
int64_t zone_to_utc(const struct zone_cache *zc, int64_t local);

#endif
