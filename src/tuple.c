/*
 * tuple.c - a CDR row as a binary COPY tuple of cdr_row (see tuple.h): the
 * one place that knows the column order SQL_COPY_ROWS names.
 */
#include "tuple.h"

#include <string.h>

/* The text columns of a tuple after source, in COPY order. */
static const enum cdr_field tuple_text[] = {
    CDR_F_CALL_ID, CDR_F_CALLER_PHONE, CDR_F_DIALED_PHONE, CDR_F_FLAG2, CDR_F_FLAG3,
    CDR_F_CALL_TYPE, CDR_F_ACCOUNT_CODE, CDR_F_SRC_CHANNEL, CDR_F_DST_CHANNEL, CDR_F_FEATURE,
};
#define NTEXT (sizeof tuple_text / sizeof tuple_text[0])
#define TUPLE_FIELDS 20
/* Bytes of a tuple besides its text values and extra: field count, three
 * times, key, file_id, line_no, two int4s, 12 length words, jsonb's
 * version byte. */
#define TUPLE_FIXED (2 + 3 * 12 + 20 + 2 * 8 + 2 * 8 + 12 * 4 + 1)

size_t tuple_max(const struct cdr_row *row, size_t source_len)
{
    size_t need = TUPLE_FIXED + source_len + row->extra_len;
    for (size_t k = 0; k < NTEXT; k++)
        need += row->len[tuple_text[k]];
    return need;
}

char *tuple_write(char *w, const struct cdr_row *row, struct copybin_dates *dates,
                  int32_t file_id, int32_t line_no, const char *source, size_t source_len)
{
    w = copybin_i16(w, TUPLE_FIELDS);
    for (int f = CDR_F_CALL_TIME; f <= CDR_F_END_TIME; f++) {
        if (row->val[f]) {
            w = copybin_i32(w, 8);
            w = copybin_i64(w, copybin_local_seconds(dates, row->val[f]));
        } else {
            w = copybin_null(w);
        }
    }
    w = copybin_i32(w, 16);
    memset(w, 0, 16);
    w += 16;
    w = copybin_i32(w, 4);
    w = copybin_i32(w, file_id);
    w = copybin_i32(w, 4);
    w = copybin_i32(w, line_no);
    int32_t secs;
    for (int f = CDR_F_TOTAL_DURATION; f <= CDR_F_CALL_DURATION; f++)
        w = row->val[f] ? copybin_int4_text(w, row->val[f], row->len[f], &secs) : copybin_null(w);
    w = copybin_bytes(w, source, source_len);
    for (size_t k = 0; k < NTEXT; k++) {
        enum cdr_field f = tuple_text[k];
        w = row->val[f] ? copybin_bytes(w, row->val[f], row->len[f]) : copybin_null(w);
    }
    return row->extra_json ? copybin_jsonb(w, row->extra_json, row->extra_len) : copybin_null(w);
}

char *tuple_times(char *t, void (*fn)(void *ctx, char *p), void *ctx)
{
    char *p = t + 2; /* after the field count */
    for (int k = 0; k < 3; k++) {
        int32_t len = copybin_get_i32(p);
        p += 4;
        if (len == 8) {
            fn(ctx, p);
            p += 8;
        }
    }
    return p;
}

void tuple_set_file_id(char *key, int32_t file_id)
{
    /* The key's length word and 16 bytes, then file_id's length word. */
    copybin_i32(key + 4 + 16 + 4, file_id);
}
