/*
 * util.c - allocation wrappers that abort on out-of-memory, so that the
 * pipeline's callers need not each check (the Redis zmalloc habit), and the
 * few small helpers every stage shares (clock, hex, time order).
 */
#include "cdrimport.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cdr_fatal(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "cdrimport: %s\n", msg);
    abort();
}

static void oom(size_t n)
{
    cdr_fatal("out of memory (%zu bytes)", n);
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        oom(0);
    char *p = xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

double cdr_monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void cdr_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int cdr_timespec_cmp(const struct timespec *a, const struct timespec *b)
{
    if (a->tv_sec != b->tv_sec)
        return a->tv_sec < b->tv_sec ? -1 : 1;
    if (a->tv_nsec != b->tv_nsec)
        return a->tv_nsec < b->tv_nsec ? -1 : 1;
    return 0;
}

size_t cdr_utf8_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0)
            lo = 0xa0; /* no overlong forms */
        else if (c == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f; /* nothing above U+10FFFF */
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return len;
}

/* The escape of one byte or sequence into esc; returns its length. */
static size_t escape_one(const unsigned char *s, size_t n, char esc[8], size_t *used)
{
    unsigned c = s[0];
    size_t len = cdr_utf8_len(s, n);
    if (len > 1 || (len == 1 && c >= 0x20 && c != 0x7f)) {
        memcpy(esc, s, len);
        *used = len;
        return len;
    }
    *used = 1;
    esc[0] = '\\';
    if (c == '\n' || c == '\r' || c == '\t') {
        esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        return 2;
    }
    esc[1] = 'x';
    cdr_hex(s, 1, esc + 2);
    return 4;
}

size_t cdr_escape_buf(const char *s, size_t n, char *out, size_t outlen)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t w = 0;
    if (outlen == 0)
        return 0;
    for (size_t i = 0; i < n;) {
        char esc[8];
        size_t used, len = escape_one(u + i, n - i, esc, &used);
        if (w + len >= outlen)
            break;
        memcpy(out + w, esc, len);
        w += len;
        i += used;
    }
    out[w] = '\0';
    return w;
}

char *cdr_escape(const char *s, size_t n)
{
    size_t cap = 4 * n + 1; /* the longest escape is 4 bytes per byte */
    char *out = xmalloc(cap);
    cdr_escape_buf(s, n, out, cap);
    return out;
}

static void seterr_v(char *err, size_t errlen, const char *fmt, va_list ap)
    CDR_PRINTF(3, 0);
static void seterr_v(char *err, size_t errlen, const char *fmt, va_list ap)
{
    if (!err || !errlen)
        return;
    vsnprintf(err, errlen, fmt, ap);
    size_t n = strlen(err);
    while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
        err[--n] = '\0';
}

void cdr_seterr(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    seterr_v(err, errlen, fmt, ap);
    va_end(ap);
}

bool cdr_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    seterr_v(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}
