/*
 * copybin.h - cdr rows in PostgreSQL's binary COPY format. The server reads
 * binary fields without parsing text (a third less server time per row than
 * COPY text, issue 4), but a timestamptz travels as an instant: the wall
 * times of the file become "local seconds" here and load.c turns them into
 * instants with offsets the server itself computes (see load.c, zone cache).
 * Pure: no I/O. Multi-byte integers are big-endian on the wire.
 */
#ifndef CDR_COPYBIN_H
#define CDR_COPYBIN_H

#include "cdrimport.h"

/* The stream header (signature, flags, header extension length) and the
 * trailer that ends the tuples. */
#define COPYBIN_HEADER_LEN 19
extern const char copybin_header[COPYBIN_HEADER_LEN];
#define COPYBIN_TRAILER_LEN 2
extern const char copybin_trailer[COPYBIN_TRAILER_LEN];

/* Seconds from 1970-01-01 00:00:00 to 2000-01-01 00:00:00, PostgreSQL's epoch. */
#define COPYBIN_PG_EPOCH 946684800LL

/* A canonical wall time "YYYY-MM-DD HH:MM:SS" (value_parse_time's form)
 * as seconds since 1970-01-01 00:00:00 of the same calendar, no zone.
 * Remembers the last date (cache): rows of a file share dates. */
struct copybin_dates {
    char date[10];
    int64_t day_secs;
    bool valid;
};
int64_t copybin_local_seconds(struct copybin_dates *c, const char *t);
/* The inverse, for asking the server about a wall time: writes 19
 * characters and a NUL for years 1970 to 9999 (the caller keeps to them). */
void copybin_format_local(int64_t secs, char out[20]);

/* Big-endian stores; each returns the position after what it wrote. */
char *copybin_i16(char *w, int16_t v);
char *copybin_i32(char *w, int32_t v);
char *copybin_i64(char *w, int64_t v);
int64_t copybin_get_i64(const char *p);
int32_t copybin_get_i32(const char *p);

/* One field: its length word, then the bytes. NULL is length -1. */
char *copybin_null(char *w);
char *copybin_bytes(char *w, const void *s, size_t n);
/* A non-negative decimal (a canonical duration) as int4. */
char *copybin_int4_text(char *w, const char *s, size_t n, int32_t *value);
/* jsonb: version byte 1, then the JSON text. */
char *copybin_jsonb(char *w, const char *json, size_t n);

/* Room a field of n bytes needs (length word included). */
#define COPYBIN_FIELD(n) (4 + (size_t)(n))

#endif
