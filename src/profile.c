/*
 * profile.c - the column layouts of KX-HTS and Asterisk-family Master.csv
 * files, and the mapping of one parsed record onto a cdr row: validation of
 * dates and durations, text decoding (UTF-8 repair or iconv) and the jsonb
 * `extra` object, all in canonical form. The row key is computed from the
 * mapped row (copytext.c), so equal values mean an equal key whatever the
 * quoting or line ends of the file.
 */
#include "profile.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum field_type { T_TEXT, T_TIME, T_INT };

static const struct {
    const char *name;
    enum field_type type;
} fields[CDR_F_COUNT] = {
    [CDR_F_CALL_ID] = {"call_id", T_TEXT},
    [CDR_F_CALLER_PHONE] = {"caller_phone", T_TEXT},
    [CDR_F_DIALED_PHONE] = {"dialed_phone", T_TEXT},
    [CDR_F_FLAG2] = {"flag2", T_TEXT},
    [CDR_F_FLAG3] = {"flag3", T_TEXT},
    [CDR_F_CALL_TIME] = {"call_time", T_TIME},
    [CDR_F_ANSWER_TIME] = {"answer_time", T_TIME},
    [CDR_F_END_TIME] = {"end_time", T_TIME},
    [CDR_F_TOTAL_DURATION] = {"total_duration_s", T_INT},
    [CDR_F_CALL_DURATION] = {"call_duration_s", T_INT},
    [CDR_F_CALL_TYPE] = {"call_type", T_TEXT},
    [CDR_F_ACCOUNT_CODE] = {"account_code", T_TEXT},
    [CDR_F_SRC_CHANNEL] = {"src_channel", T_TEXT},
    [CDR_F_DST_CHANNEL] = {"dst_channel", T_TEXT},
    [CDR_F_FEATURE] = {"feature", T_TEXT},
};

static const char *const format_names[] = {
    [CDR_FMT_KXHTS] = "kx-hts",
    [CDR_FMT_ASTERISK] = "asterisk",
    [CDR_FMT_ASTERISK_CUSTOM] = "asterisk-custom",
    [CDR_FMT_CUSTOM] = "custom",
};

const char *profile_field_name(enum cdr_field f)
{
    return (unsigned)f < CDR_F_COUNT ? fields[f].name : "?";
}

int profile_field_by_name(const char *name)
{
    for (int i = 0; i < CDR_F_COUNT; i++)
        if (strcmp(fields[i].name, name) == 0)
            return i;
    return -1;
}

const char *profile_format_name(enum cdr_format fmt)
{
    return (unsigned)fmt <= CDR_FMT_CUSTOM ? format_names[fmt] : "?";
}

int profile_format_by_name(const char *name)
{
    for (int i = 0; i <= CDR_FMT_CUSTOM; i++)
        if (strcmp(format_names[i], name) == 0)
            return i;
    return -1;
}

/* ---- layouts ------------------------------------------------------------ */

#define MAX_COLS 64
#define SKIP (-2)
#define EXTRA (-1)

/* One source column: its name in the vendor's documentation, and where it
 * goes (a cdr field, EXTRA under that name, or SKIP). */
struct colmap {
    const char *name;
    int target;
};

struct layout {
    size_t n;
    struct colmap cols[MAX_COLS];
};

static const struct colmap kxhts_cols[] = {
    {"Account Code", CDR_F_ACCOUNT_CODE}, {"Caller", CDR_F_CALLER_PHONE},
    {"Callee", CDR_F_DIALED_PHONE},      {"Source Channel", CDR_F_SRC_CHANNEL},
    {"Destination Channel", CDR_F_DST_CHANNEL}, {"Feature", CDR_F_FEATURE},
    {"Option 1", CDR_F_FLAG2},           {"Option 2", CDR_F_FLAG3},
    {"Start Time", CDR_F_CALL_TIME},     {"Answer Time", CDR_F_ANSWER_TIME},
    {"End Time", CDR_F_END_TIME},        {"Total Duration", CDR_F_TOTAL_DURATION},
    {"Talking Duration", CDR_F_CALL_DURATION}, {"Status", CDR_F_CALL_TYPE},
    {"Unique ID", CDR_F_CALL_ID},
};

/* Asterisk cdr_csv: these 16 always, in this order. */
static const struct colmap ast_base[] = {
    {"accountcode", CDR_F_ACCOUNT_CODE}, {"src", CDR_F_CALLER_PHONE},
    {"dst", CDR_F_DIALED_PHONE},         {"dcontext", CDR_F_FLAG2},
    {"clid", EXTRA},                     {"channel", CDR_F_SRC_CHANNEL},
    {"dstchannel", CDR_F_DST_CHANNEL},   {"lastapp", CDR_F_FEATURE},
    {"lastdata", CDR_F_FLAG3},           {"start", CDR_F_CALL_TIME},
    {"answer", CDR_F_ANSWER_TIME},       {"end", CDR_F_END_TIME},
    {"duration", CDR_F_TOTAL_DURATION},  {"billsec", CDR_F_CALL_DURATION},
    {"disposition", CDR_F_CALL_TYPE},    {"amaflags", EXTRA},
};
static const struct colmap ast_uniqueid = {"uniqueid", CDR_F_CALL_ID};
static const struct colmap ast_userfield = {"userfield", EXTRA};
static const struct colmap ast_newcols[] = {
    {"peeraccount", EXTRA}, {"linkedid", EXTRA}, {"sequence", EXTRA},
};

/* cdr_custom's default mapping: every field quoted, clid first. */
static const struct colmap astcustom_cols[] = {
    {"clid", EXTRA},                   {"src", CDR_F_CALLER_PHONE},
    {"dst", CDR_F_DIALED_PHONE},       {"dcontext", CDR_F_FLAG2},
    {"channel", CDR_F_SRC_CHANNEL},    {"dstchannel", CDR_F_DST_CHANNEL},
    {"lastapp", CDR_F_FEATURE},        {"lastdata", CDR_F_FLAG3},
    {"start", CDR_F_CALL_TIME},        {"answer", CDR_F_ANSWER_TIME},
    {"end", CDR_F_END_TIME},           {"duration", CDR_F_TOTAL_DURATION},
    {"billsec", CDR_F_CALL_DURATION},  {"disposition", CDR_F_CALL_TYPE},
    {"amaflags", EXTRA},               {"accountcode", CDR_F_ACCOUNT_CODE},
    {"uniqueid", CDR_F_CALL_ID},       {"userfield", EXTRA},
    {"sequence", EXTRA},
};

static void layout_add(struct layout *l, const struct colmap *c, size_t n)
{
    for (size_t i = 0; i < n && l->n < MAX_COLS; i++)
        l->cols[l->n++] = c[i];
}

/* ---- the profile ---------------------------------------------------------- */

struct extra_ref {
    const char *name;
    size_t off, len;
};

struct profile {
    enum cdr_format fmt;
    bool header;
    /* Asterisk: layouts[n - 16] for n columns; 17 and 20 are ambiguous
     * (uniqueid or userfield) and have an alternative in alt17/alt20. */
    struct layout *layouts;
    size_t nlayouts;
    size_t min_cols, max_cols;
    struct layout alt17, alt20;
    char *custom_names; /* owned storage for custom column names */
    bool utf8;
    iconv_t cd;
    /* Decoded values of the current row: offsets into buf, which grows. */
    char *buf;
    size_t cap, used;
    size_t off[CDR_F_COUNT];
    bool isnull[CDR_F_COUNT];
    struct extra_ref extras[MAX_COLS];
    size_t nextras;
    size_t json_off, json_len;
};

static bool is_utf8_name(const char *enc)
{
    return strcasecmp(enc, "utf-8") == 0 || strcasecmp(enc, "utf8") == 0;
}

struct profile *profile_create(enum cdr_format fmt, const struct cdr_colspec *columns,
                               size_t ncolumns, const char *encoding, char *err, size_t errlen)
{
    struct profile *p = xcalloc(1, sizeof *p);
    p->fmt = fmt;
    p->cd = (iconv_t)-1;
    p->utf8 = !encoding || is_utf8_name(encoding);
    if (!p->utf8) {
        p->cd = iconv_open("UTF-8", encoding);
        if (p->cd == (iconv_t)-1) {
            snprintf(err, errlen, "unknown encoding '%s' (iconv: %s)", encoding, strerror(errno));
            goto fail;
        }
    }

    switch (fmt) {
    case CDR_FMT_KXHTS:
        p->nlayouts = 1;
        p->layouts = xcalloc(1, sizeof *p->layouts);
        layout_add(&p->layouts[0], kxhts_cols, 15);
        p->min_cols = p->max_cols = 15;
        break;
    case CDR_FMT_ASTERISK:
        p->nlayouts = 6;
        p->layouts = xcalloc(6, sizeof *p->layouts);
        for (size_t n = 16; n <= 21; n++) {
            struct layout *l = &p->layouts[n - 16];
            size_t opt = (n >= 19) ? n - 19 : n - 16; /* uniqueid/userfield present */
            layout_add(l, ast_base, 16);
            if (opt >= 1)
                layout_add(l, &ast_uniqueid, 1);
            if (opt >= 2)
                layout_add(l, &ast_userfield, 1);
            if (n >= 19)
                layout_add(l, ast_newcols, 3);
        }
        layout_add(&p->alt17, ast_base, 16);
        layout_add(&p->alt17, &ast_userfield, 1);
        layout_add(&p->alt20, ast_base, 16);
        layout_add(&p->alt20, &ast_userfield, 1);
        layout_add(&p->alt20, ast_newcols, 3);
        p->min_cols = 16;
        p->max_cols = 21;
        break;
    case CDR_FMT_ASTERISK_CUSTOM:
        p->nlayouts = 2;
        p->layouts = xcalloc(2, sizeof *p->layouts);
        layout_add(&p->layouts[0], astcustom_cols, 18);
        layout_add(&p->layouts[1], astcustom_cols, 19);
        p->min_cols = 18;
        p->max_cols = 19;
        break;
    case CDR_FMT_CUSTOM: {
        if (!columns || ncolumns == 0 || ncolumns > MAX_COLS) {
            snprintf(err, errlen, "format custom needs a columns list of 1 to %d entries", MAX_COLS);
            goto fail;
        }
        p->nlayouts = 1;
        p->layouts = xcalloc(1, sizeof *p->layouts);
        struct layout *l = &p->layouts[0];
        for (size_t i = 0; i < ncolumns; i++) {
            const struct cdr_colspec *c = &columns[i];
            struct colmap m = {NULL, SKIP};
            if (c->kind == CDR_COL_FIELD) {
                m.target = (int)c->field;
                m.name = fields[c->field].name;
            } else if (c->kind == CDR_COL_EXTRA) {
                m.target = EXTRA;
                m.name = c->extra_name;
            } else {
                m.name = "-";
            }
            l->cols[l->n++] = m;
        }
        p->min_cols = p->max_cols = ncolumns;
        /* extra names point into the caller's config, which outlives us;
         * copy them anyway so a config reload cannot pull them away. */
        size_t total = 0;
        for (size_t i = 0; i < l->n; i++)
            total += strlen(l->cols[i].name) + 1;
        p->custom_names = xmalloc(total);
        char *w = p->custom_names;
        for (size_t i = 0; i < l->n; i++) {
            size_t k = strlen(l->cols[i].name) + 1;
            memcpy(w, l->cols[i].name, k);
            l->cols[i].name = w;
            w += k;
        }
        break;
    }
    default:
        snprintf(err, errlen, "unknown format %d", (int)fmt);
        goto fail;
    }
    p->cap = 4096;
    p->buf = xmalloc(p->cap);
    return p;
fail:
    profile_destroy(p);
    return NULL;
}

void profile_destroy(struct profile *p)
{
    if (!p)
        return;
    if (p->cd != (iconv_t)-1)
        iconv_close(p->cd);
    free(p->layouts);
    free(p->custom_names);
    free(p->buf);
    free(p);
}

bool profile_has_header(const struct profile *p)
{
    return p->header;
}

void profile_set_header(struct profile *p, bool header)
{
    p->header = header;
}


/* ---- arena ---------------------------------------------------------------- */

static void reserve(struct profile *p, size_t more)
{
    if (p->used + more <= p->cap)
        return;
    size_t cap = p->cap;
    while (cap < p->used + more)
        cap *= 2;
    p->buf = xrealloc(p->buf, cap);
    p->cap = cap;
}

static void put(struct profile *p, const void *s, size_t n)
{
    reserve(p, n);
    memcpy(p->buf + p->used, s, n);
    p->used += n;
}

static void putc_(struct profile *p, char c)
{
    reserve(p, 1);
    p->buf[p->used++] = c;
}

static const char REPLACEMENT[3] = {(char)0xEF, (char)0xBF, (char)0xBD};

/* Length of the valid UTF-8 sequence at s (max n bytes), or 0 if invalid:
 * overlong forms, surrogates and code points past U+10FFFF are invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t k;
    unsigned min;
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (n < k)
        return 0;
    unsigned cp = c & (0x7F >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return k;
}

/* Append text decoded to UTF-8; every invalid byte becomes one U+FFFD. */
static void put_text(struct profile *p, const char *s, size_t len, bool *repaired)
{
    const unsigned char *u = (const unsigned char *)s;
    if (p->utf8) {
        size_t i = 0, run = 0;
        while (i < len) {
            if (u[i] < 0x80) {
                i++;
                continue;
            }
            size_t k = utf8_seq(u + i, len - i);
            if (k) {
                i += k;
                continue;
            }
            put(p, s + run, i - run);
            put(p, REPLACEMENT, 3);
            *repaired = true;
            i++;
            run = i;
        }
        put(p, s + run, len - run);
        return;
    }
    char *in = (char *)s;
    size_t inleft = len;
    iconv(p->cd, NULL, NULL, NULL, NULL);
    while (inleft > 0) {
        reserve(p, inleft * 4 + 16);
        char *out = p->buf + p->used;
        size_t outleft = p->cap - p->used;
        size_t before = outleft;
        size_t r = iconv(p->cd, &in, &inleft, &out, &outleft);
        p->used += before - outleft;
        if (r == (size_t)-1) {
            if (errno == E2BIG)
                continue;
            /* EILSEQ or EINVAL: a byte the charset does not define. */
            put(p, REPLACEMENT, 3);
            *repaired = true;
            in++;
            inleft--;
        }
    }
}

/* A value quoted for an error message: printable ASCII, at most 40 bytes. */
static void show(char *out, size_t outlen, const char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len && w + 4 < outlen && i < 40; i++) {
        unsigned char c = (unsigned char)s[i];
        out[w++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
    }
    if (len > 40 && w + 4 < outlen) {
        out[w++] = '.';
        out[w++] = '.';
        out[w++] = '.';
    }
    out[w] = '\0';
}

/* ---- timestamps and numbers ------------------------------------------------ */

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

bool profile_parse_time(const char *s, size_t len, char out[20])
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

/* A duration: bare digits fitting an int4, written back without leading zeros. */
static bool parse_seconds(const char *s, size_t len, char *out, size_t *outlen)
{
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

/* ---- JSON for `extra` ---------------------------------------------------- */

static void put_json_string(struct profile *p, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    putc_(p, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(p, s + run, i - run);
        run = i + 1;
        char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            put(p, esc, 2);
        } else {
            put(p, esc, 6);
        }
    }
    put(p, s + run, len - run);
    putc_(p, '"');
}

/* ---- mapping -------------------------------------------------------------- */

static const struct layout *pick_layout(const struct profile *p, const char *const *f,
                                        const size_t *lens, size_t n)
{
    if (n < p->min_cols || n > p->max_cols)
        return NULL;
    if (p->fmt == CDR_FMT_ASTERISK && (n == 17 || n == 20)) {
        /* One optional column: uniqueid ("1427211880.0", "host-1427211880.0")
         * or userfield. Tell them apart by shape, row by row. */
        const char *s = f[16];
        size_t len = lens[16];
        size_t dot = len;
        for (size_t i = len; i-- > 0;)
            if (s[i] == '.') {
                dot = i;
                break;
            }
        bool uid = dot > 0 && dot + 1 < len;
        for (size_t i = dot + 1; uid && i < len; i++)
            uid = s[i] >= '0' && s[i] <= '9';
        for (size_t i = dot; uid && i-- > 0 && s[i] != '-';)
            uid = s[i] >= '0' && s[i] <= '9';
        if (!uid)
            return n == 17 ? &p->alt17 : &p->alt20;
    }
    if (p->fmt == CDR_FMT_ASTERISK)
        return &p->layouts[n - 16];
    return &p->layouts[n - p->min_cols];
}

static bool fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static bool fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return false;
}



bool profile_map(struct profile *p, const char *const *f, const size_t *lens, size_t n,
                 struct cdr_row *row, char *err, size_t errlen)
{
    char shown[64];
    const struct layout *l = pick_layout(p, f, lens, n);
    if (!l) {
        if (p->min_cols == p->max_cols)
            return fail(err, errlen, "expected %zu fields, got %zu", p->min_cols, n);
        return fail(err, errlen, "expected %zu to %zu fields, got %zu", p->min_cols,
                    p->max_cols, n);
    }

    p->used = 0;
    p->nextras = 0;
    bool repaired = false;
    for (int i = 0; i < CDR_F_COUNT; i++)
        p->isnull[i] = true;

    for (size_t i = 0; i < n; i++) {
        const struct colmap *c = &l->cols[i];
        if (c->target == SKIP)
            continue;
        if (memchr(f[i], '\0', lens[i]))
            return fail(err, errlen, "field %zu (%s): NUL byte", i + 1, c->name);
        if (c->target == EXTRA) {
            if (lens[i] == 0)
                continue;
            struct extra_ref *e = &p->extras[p->nextras++];
            e->name = c->name;
            e->off = p->used;
            put_text(p, f[i], lens[i], &repaired);
            e->len = p->used - e->off;
            continue;
        }
        enum cdr_field fld = (enum cdr_field)c->target;
        size_t start = p->used;
        switch (fields[fld].type) {
        case T_TIME: {
            if (lens[i] == 0) {
                if (fld == CDR_F_CALL_TIME)
                    return fail(err, errlen, "field %zu (%s): empty start time", i + 1, c->name);
                continue;
            }
            char t[20];
            if (!profile_parse_time(f[i], lens[i], t)) {
                show(shown, sizeof shown, f[i], lens[i]);
                return fail(err, errlen, "field %zu (%s): impossible date '%s'", i + 1, c->name,
                            shown);
            }
            put(p, t, 19);
            break;
        }
        case T_INT: {
            if (lens[i] == 0)
                continue;
            char num[16];
            size_t k;
            if (!parse_seconds(f[i], lens[i], num, &k)) {
                show(shown, sizeof shown, f[i], lens[i]);
                return fail(err, errlen, "field %zu (%s): not a number of seconds '%s'", i + 1,
                            c->name, shown);
            }
            put(p, num, k);
            break;
        }
        case T_TEXT:
            put_text(p, f[i], lens[i], &repaired);
            break;
        }
        p->isnull[fld] = false;
        p->off[fld] = start;
        row->len[fld] = p->used - start;
    }

    /* Files without a call ID column keep call_id NULL; an empty ID too. */
    if (!p->isnull[CDR_F_CALL_ID] && row->len[CDR_F_CALL_ID] == 0)
        p->isnull[CDR_F_CALL_ID] = true;

    p->json_len = 0;
    if (p->nextras) {
        p->json_off = p->used;
        putc_(p, '{');
        for (size_t i = 0; i < p->nextras; i++) {
            if (i)
                putc_(p, ',');
            put_json_string(p, p->extras[i].name, strlen(p->extras[i].name));
            putc_(p, ':');
            /* The value is in buf already; copy by offset, buf may move. */
            size_t off = p->extras[i].off, len = p->extras[i].len;
            reserve(p, len * 6 + 2);
            put_json_string(p, p->buf + off, len);
        }
        putc_(p, '}');
        p->json_len = p->used - p->json_off;
    }

    /* Pointers only now: buf may have moved while it grew. */
    for (int i = 0; i < CDR_F_COUNT; i++) {
        if (p->isnull[i]) {
            row->val[i] = NULL;
            row->len[i] = 0;
        } else {
            row->val[i] = p->buf + p->off[i];
        }
    }
    row->extra_json = p->json_len ? p->buf + p->json_off : NULL;
    row->extra_len = p->json_len;
    row->repaired = repaired;
    return true;
}
