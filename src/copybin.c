/*
 * copybin.c - encoders for PostgreSQL's binary COPY format (copybin.h).
 * Dates go through timegm once per date, not per row: files are in time
 * order, so a million rows cost a few hundred calendar conversions.
 */
#include "copybin.h"
#include "plat.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

const char copybin_header[COPYBIN_HEADER_LEN] = {
    'P', 'G', 'C', 'O', 'P', 'Y', '\n', '\377', '\r', '\n', '\0', /* signature */
    0, 0, 0, 0, /* flags: no OIDs */
    0, 0, 0, 0  /* no header extension */
};

const char copybin_trailer[COPYBIN_TRAILER_LEN] = {'\377', '\377'};

/* Host order <-> network (big-endian) order. */
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define be16(x) (x)
#define be32(x) (x)
#define be64(x) (x)
#else
#define be16(x) __builtin_bswap16(x)
#define be32(x) __builtin_bswap32(x)
#define be64(x) __builtin_bswap64(x)
#endif

static int two(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

int64_t copybin_local_seconds(struct copybin_dates *c, const char *t)
{
    if (!c->valid || memcmp(c->date, t, 10) != 0) {
        /* timegm: the calendar without any zone, and thread-safe. */
        struct tm tm = {0};
        tm.tm_year = two(t) * 100 + two(t + 2) - 1900;
        tm.tm_mon = two(t + 5) - 1;
        tm.tm_mday = two(t + 8);
        c->day_secs = (int64_t)plat_timegm(&tm);
        memcpy(c->date, t, 10);
        c->valid = true;
    }
    return c->day_secs + two(t + 11) * 3600 + two(t + 14) * 60 + two(t + 17);
}

void copybin_format_local(int64_t secs, char out[20])
{
    time_t tt = (time_t)secs;
    struct tm tm;
    plat_gmtime(tt, &tm);
    /* Years 1970-9999 (what profile.c accepts) make exactly 19 characters. */
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    memcpy(out, tmp, 19);
    out[19] = '\0';
}

char *copybin_i16(char *w, int16_t v)
{
    uint16_t u = be16((uint16_t)v);
    memcpy(w, &u, 2);
    return w + 2;
}

char *copybin_i32(char *w, int32_t v)
{
    uint32_t u = be32((uint32_t)v);
    memcpy(w, &u, 4);
    return w + 4;
}

char *copybin_i64(char *w, int64_t v)
{
    uint64_t u = be64((uint64_t)v);
    memcpy(w, &u, 8);
    return w + 8;
}

int64_t copybin_get_i64(const char *p)
{
    uint64_t u;
    memcpy(&u, p, 8);
    return (int64_t)be64(u);
}

int32_t copybin_get_i32(const char *p)
{
    uint32_t u;
    memcpy(&u, p, 4);
    return (int32_t)be32(u);
}

char *copybin_null(char *w)
{
    return copybin_i32(w, -1);
}

char *copybin_bytes(char *w, const void *s, size_t n)
{
    w = copybin_i32(w, (int32_t)n);
    memcpy(w, s, n);
    return w + n;
}

char *copybin_int4_text(char *w, const char *s, size_t n, int32_t *value)
{
    /* profile.c has checked: bare digits, no leading zeros, fits an int4. */
    int64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    *value = (int32_t)v;
    w = copybin_i32(w, 4);
    return copybin_i32(w, (int32_t)v);
}

char *copybin_jsonb(char *w, const char *json, size_t n)
{
    w = copybin_i32(w, (int32_t)(n + 1));
    *w++ = 1; /* jsonb binary format version */
    memcpy(w, json, n);
    return w + n;
}
