/*
 * value.c - reading one field's bytes: timestamps and durations checked and
 * written in canonical form (so that equal values give equal row keys
 * whatever the file wrote), and text made valid UTF-8 for the database,
 * by repair (one U+FFFD per bad byte) or by iconv from the source's
 * charset. Shared by every layout in profile.c; knows no columns.
 */
#include "value.h"
#include "plat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- timestamps ------------------------------------------------------------ */

static bool digits(const char *s, size_t len, size_t *pos, size_t min, size_t max, int *out)
{
    size_t i = *pos, n = 0;
    int v = 0;
    while (i < len && n < max && s[i] >= '0' && s[i] <= '9') {
        v = v * 10 + (s[i] - '0');
        i++;
        n++;
    }
    if (n < min)
        return false;
    *pos = i;
    *out = v;
    return true;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* Already canonical ("2023-11-14 22:12:40", what KX-HTS and Asterisk
 * write): check it in place and copy it. */
static bool canonical_time(const char *s, size_t len, char out[20])
{
    static const char shape[] = "dddd-dd-dd dd:dd:dd";
    if (len != 19)
        return false;
    for (int k = 0; k < 19; k++) {
        bool digit = s[k] >= '0' && s[k] <= '9';
        if (shape[k] == 'd' ? !digit : s[k] != shape[k])
            return false;
    }
#define NUM2(p) ((s[p] - '0') * 10 + (s[p + 1] - '0'))
    int y = NUM2(0) * 100 + NUM2(2), mo = NUM2(5), d = NUM2(8);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || NUM2(11) > 23 ||
        NUM2(14) > 59 || NUM2(17) > 59)
        return false;
#undef NUM2
    memcpy(out, s, 19);
    out[19] = '\0';
    return true;
}

bool value_parse_time(const char *s, size_t len, char out[20])
{
    if (canonical_time(s, len, out))
        return true;
    size_t i = 0;
    int y, mo, d, h, mi, se = 0;
    if (!digits(s, len, &i, 4, 4, &y))
        return false;
    if (i >= len || (s[i] != '-' && s[i] != '/'))
        return false;
    char sep = s[i++];
    if (!digits(s, len, &i, 1, 2, &mo) || i >= len || s[i++] != sep)
        return false;
    if (!digits(s, len, &i, 1, 2, &d))
        return false;
    if (i >= len || (s[i] != ' ' && s[i] != 'T'))
        return false;
    i++;
    if (!digits(s, len, &i, 1, 2, &h) || i >= len || s[i++] != ':')
        return false;
    if (!digits(s, len, &i, 2, 2, &mi))
        return false;
    if (i < len && s[i] == ':') {
        i++;
        if (!digits(s, len, &i, 2, 2, &se))
            return false;
    }
    if (i != len)
        return false;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 ||
        mi > 59 || se > 59)
        return false;
    const int parts[6] = {y, mo, d, h, mi, se};
    static const char seps[6] = {'-', '-', ' ', ':', ':', '\0'};
    char *w = out;
    for (int k = 0; k < 6; k++) {
        int v = parts[k];
        if (k == 0) {
            *w++ = (char)('0' + v / 1000);
            *w++ = (char)('0' + v / 100 % 10);
        }
        *w++ = (char)('0' + v / 10 % 10);
        *w++ = (char)('0' + v % 10);
        *w++ = seps[k];
    }
    return true;
}

/* ---- durations ------------------------------------------------------------- */

bool value_parse_seconds(const char *s, size_t len, char out[VALUE_SECONDS_MAX],
                         size_t *outlen)
{
    /* 18 digits cannot overflow the long long below; any more is no int4. */
    if (len == 0 || len > 18)
        return false;
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    if (v > 2147483647LL)
        return false;
    size_t z = 0;
    while (z + 1 < len && s[z] == '0')
        z++;
    memcpy(out, s + z, len - z);
    out[len - z] = '\0';
    *outlen = len - z;
    return true;
}

/* ---- the buffer ------------------------------------------------------------ */

void value_buf_reserve(struct value_buf *b, size_t more)
{
    if (b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}

void value_buf_put(struct value_buf *b, const void *s, size_t n)
{
    if (n == 0) /* memcpy wants real pointers even for no bytes */
        return;
    value_buf_reserve(b, n);
    memcpy(b->data + b->len, s, n);
    b->len += n;
}

/* ---- text ------------------------------------------------------------------ */

struct value_decoder {
    bool utf8;
    struct plat_conv *cd; /* with !utf8 */
};

static const char REPLACEMENT[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

static bool is_utf8_name(const char *enc)
{
    return strcasecmp(enc, "utf-8") == 0 || strcasecmp(enc, "utf8") == 0;
}

struct value_decoder *value_decoder_open(const char *encoding, char *err, size_t errlen)
{
    struct value_decoder *d = xcalloc(1, sizeof *d);
    d->utf8 = !encoding || is_utf8_name(encoding);
    if (!d->utf8) {
        d->cd = plat_conv_open(encoding);
        if (!d->cd) {
            snprintf(err, errlen, "unknown encoding '%s' (iconv: %s)", encoding, strerror(errno));
            free(d);
            return NULL;
        }
    }
    return d;
}

void value_decoder_close(struct value_decoder *d)
{
    if (!d)
        return;
    plat_conv_close(d->cd);
    free(d);
}

static void repair_utf8(const char *s, size_t len, struct value_buf *out, bool *repaired)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = cdr_utf8_len(u + i, len - i);
        if (k) {
            i += k;
            continue;
        }
        value_buf_put(out, s + run, i - run);
        value_buf_put(out, REPLACEMENT, 3);
        *repaired = true;
        i++;
        run = i;
    }
    value_buf_put(out, s + run, len - run);
}

static void convert(struct plat_conv *cd, const char *s, size_t len, struct value_buf *out,
                    bool *repaired)
{
    char *in = (char *)s;
    size_t inleft = len;
    plat_conv_reset(cd);
    while (inleft > 0) {
        value_buf_reserve(out, inleft * 4 + 16);
        char *w = out->data + out->len;
        size_t outleft = out->cap - out->len;
        size_t before = outleft;
        size_t r = plat_conv(cd, &in, &inleft, &w, &outleft);
        out->len += before - outleft;
        if (r == (size_t)-1) {
            if (errno == E2BIG)
                continue;
            /* EILSEQ or EINVAL: a byte the charset does not define. */
            value_buf_put(out, REPLACEMENT, 3);
            *repaired = true;
            in++;
            inleft--;
        }
    }
}

void value_decode(struct value_decoder *d, const char *s, size_t len, struct value_buf *out,
                  bool *repaired)
{
    if (d->utf8)
        repair_utf8(s, len, out, repaired);
    else
        convert(d->cd, s, len, out, repaired);
}
