/*
 * profile.c - the column layouts of KX-HTS and Asterisk-family Master.csv
 * files, and the mapping of one parsed record onto a cdr row: which column
 * is which field, and the jsonb `extra` object. Reading each value (dates,
 * durations, UTF-8 repair or iconv) is value.c's, in canonical form. The
 * row key is computed from the mapped row (copytext.c), so equal values
 * mean an equal key whatever the quoting or line ends of the file.
 */
#include "profile.h"
#include "value.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

const char *const profile_format_names[] = {
    [CDR_FMT_KXHTS] = "kx-hts",
    [CDR_FMT_ASTERISK] = "asterisk",
    [CDR_FMT_ASTERISK_CUSTOM] = "asterisk-custom",
    [CDR_FMT_CUSTOM] = "custom",
    [CDR_FMT_AUTO] = "auto",
    NULL,
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
    return (unsigned)fmt <= CDR_FMT_AUTO ? profile_format_names[fmt] : "?";
}

int profile_format_by_name(const char *name)
{
    for (int i = 0; i <= CDR_FMT_AUTO; i++)
        if (strcmp(profile_format_names[i], name) == 0)
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
    struct value_decoder *dec;
    /* format auto: one profile per format it can choose, by enum value. */
    struct profile *variants[CDR_FMT_CUSTOM];
    /* Decoded values of the current row: offsets into buf, which grows. */
    struct value_buf buf;
    size_t off[CDR_F_COUNT];
    bool isnull[CDR_F_COUNT];
    struct extra_ref extras[MAX_COLS];
    size_t nextras;
    size_t json_off, json_len;
};

struct profile *profile_create(enum cdr_format fmt, const struct cdr_colspec *columns,
                               size_t ncolumns, const char *encoding, char *err, size_t errlen)
{
    struct profile *p = xcalloc(1, sizeof *p);
    p->fmt = fmt;
    p->dec = value_decoder_open(encoding, err, errlen);
    if (!p->dec)
        goto fail;

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
    case CDR_FMT_AUTO:
        /* Never maps by itself: file.c asks for the variant first. */
        for (int v = 0; v < CDR_FMT_CUSTOM; v++)
            if (!(p->variants[v] = profile_create((enum cdr_format)v, NULL, 0, encoding, err,
                                                  errlen)))
                goto fail;
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
    value_buf_reserve(&p->buf, 4096);
    return p;
fail:
    profile_destroy(p);
    return NULL;
}

void profile_destroy(struct profile *p)
{
    if (!p)
        return;
    value_decoder_close(p->dec);
    for (int v = 0; v < CDR_FMT_CUSTOM; v++)
        profile_destroy(p->variants[v]);
    free(p->layouts);
    free(p->custom_names);
    free(p->buf.data);
    free(p);
}

struct profile *profile_variant(struct profile *p, enum cdr_format fmt)
{
    if (p->fmt != CDR_FMT_AUTO || (unsigned)fmt >= CDR_FMT_CUSTOM)
        return p;
    return p->variants[fmt];
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

static void put(struct profile *p, const void *s, size_t n)
{
    value_buf_put(&p->buf, s, n);
}

static void putc_(struct profile *p, char c)
{
    value_buf_put(&p->buf, &c, 1);
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

/* ---- JSON for `extra` ---------------------------------------------------- */

static void put_json_string(struct profile *p, const char *s, size_t len)
{
    putc_(p, '"');
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(p, s + run, i - run);
        run = i + 1;
        char esc[7] = {'\\', 'u', '0', '0'};
        cdr_hex(&c, 1, esc + 4);
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



bool profile_map(struct profile *p, const char *const *f, const size_t *lens, size_t n,
                 struct cdr_row *row, char *err, size_t errlen)
{
    char shown[64];
    if (p->fmt == CDR_FMT_AUTO) /* not chosen: the historic default */
        p = p->variants[CDR_FMT_KXHTS];
    const struct layout *l = pick_layout(p, f, lens, n);
    if (!l) {
        if (p->min_cols == p->max_cols)
            return cdr_fail(err, errlen, "expected %zu fields, got %zu", p->min_cols, n);
        return cdr_fail(err, errlen, "expected %zu to %zu fields, got %zu", p->min_cols,
                    p->max_cols, n);
    }

    p->buf.len = 0;
    p->nextras = 0;
    bool repaired = false;
    for (int i = 0; i < CDR_F_COUNT; i++)
        p->isnull[i] = true;

    for (size_t i = 0; i < n; i++) {
        const struct colmap *c = &l->cols[i];
        if (c->target == SKIP)
            continue;
        if (memchr(f[i], '\0', lens[i]))
            return cdr_fail(err, errlen, "field %zu (%s): NUL byte", i + 1, c->name);
        if (c->target == EXTRA) {
            if (lens[i] == 0)
                continue;
            struct extra_ref *e = &p->extras[p->nextras++];
            e->name = c->name;
            e->off = p->buf.len;
            value_decode(p->dec, f[i], lens[i], &p->buf, &repaired);
            e->len = p->buf.len - e->off;
            continue;
        }
        enum cdr_field fld = (enum cdr_field)c->target;
        size_t start = p->buf.len;
        switch (fields[fld].type) {
        case T_TIME: {
            if (lens[i] == 0) {
                if (fld == CDR_F_CALL_TIME)
                    return cdr_fail(err, errlen, "field %zu (%s): empty start time", i + 1, c->name);
                continue;
            }
            char t[20];
            if (!value_parse_time(f[i], lens[i], t)) {
                show(shown, sizeof shown, f[i], lens[i]);
                return cdr_fail(err, errlen, "field %zu (%s): impossible date '%s'", i + 1, c->name,
                            shown);
            }
            put(p, t, 19);
            break;
        }
        case T_INT: {
            if (lens[i] == 0)
                continue;
            char num[VALUE_SECONDS_MAX];
            size_t k;
            if (!value_parse_seconds(f[i], lens[i], num, &k)) {
                show(shown, sizeof shown, f[i], lens[i]);
                return cdr_fail(err, errlen, "field %zu (%s): not a number of seconds '%s'", i + 1,
                            c->name, shown);
            }
            put(p, num, k);
            break;
        }
        case T_TEXT:
            value_decode(p->dec, f[i], lens[i], &p->buf, &repaired);
            break;
        }
        p->isnull[fld] = false;
        p->off[fld] = start;
        row->len[fld] = p->buf.len - start;
    }

    /* Files without a call ID column keep call_id NULL; an empty ID too. */
    if (!p->isnull[CDR_F_CALL_ID] && row->len[CDR_F_CALL_ID] == 0)
        p->isnull[CDR_F_CALL_ID] = true;

    p->json_len = 0;
    if (p->nextras) {
        p->json_off = p->buf.len;
        putc_(p, '{');
        for (size_t i = 0; i < p->nextras; i++) {
            if (i)
                putc_(p, ',');
            put_json_string(p, p->extras[i].name, strlen(p->extras[i].name));
            putc_(p, ':');
            /* The value is in buf already; copy by offset, buf may move. */
            size_t off = p->extras[i].off, len = p->extras[i].len;
            value_buf_reserve(&p->buf, len * 6 + 2);
            put_json_string(p, p->buf.data + off, len);
        }
        putc_(p, '}');
        p->json_len = p->buf.len - p->json_off;
    }

    /* Pointers only now: buf may have moved while it grew. */
    for (int i = 0; i < CDR_F_COUNT; i++) {
        if (p->isnull[i]) {
            row->val[i] = NULL;
            row->len[i] = 0;
        } else {
            row->val[i] = p->buf.data + p->off[i];
        }
    }
    row->extra_json = p->json_len ? p->buf.data + p->json_off : NULL;
    row->extra_len = p->json_len;
    row->repaired = repaired;
    return true;
}
