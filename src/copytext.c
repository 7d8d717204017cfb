/*
 * copytext.c - COPY text encoding of cdr rows and the row key over it
 * (see copytext.h for why the key hashes exactly these bytes). SHA-256
 * because the files are untrusted: nobody may craft a row that collides
 * with, and so suppresses, a real call.
 */
#include "copytext.h"

#include <stdlib.h>
#include <string.h>

/* Bytes COPY text must escape: backslash and the three control characters
 * that would end a field or a line. */
static bool special(unsigned char c)
{
    return c <= '\r' ? (c == '\t' || c == '\n' || c == '\r') : c == '\\';
}

size_t copytext_escape(char *w, const char *s, size_t n)
{
    char *start = w;
    size_t i = 0;
    for (;;) {
        /* Copy the run up to the next special byte in one go: most
         * values have none. */
        size_t run = i;
        while (i < n && !special((unsigned char)s[i]))
            i++;
        memcpy(w, s + run, i - run);
        w += i - run;
        if (i == n)
            break;
        char c = s[i++];
        *w++ = '\\';
        *w++ = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
    }
    return (size_t)(w - start);
}

size_t copytext_content_max(size_t source_esc_len, const struct cdr_row *row)
{
    size_t need = source_esc_len + 2 * row->extra_len + 4;
    for (int i = 0; i < CDR_F_COUNT; i++)
        need += 2 * row->len[i] + 3;
    return need;
}

size_t copytext_content(char *w, const char *source_esc, size_t source_esc_len,
                        const struct cdr_row *row)
{
    char *start = w;
    memcpy(w, source_esc, source_esc_len);
    w += source_esc_len;
    for (int i = 0; i < CDR_F_COUNT; i++) {
        *w++ = '\t';
        if (!row->val[i]) {
            *w++ = '\\';
            *w++ = 'N';
        } else {
            w += copytext_escape(w, row->val[i], row->len[i]);
        }
    }
    *w++ = '\t';
    if (row->extra_json) {
        w += copytext_escape(w, row->extra_json, row->extra_len);
    } else {
        *w++ = '\\';
        *w++ = 'N';
    }
    return (size_t)(w - start);
}

void copytext_key(struct checksum *ck, const char *content, size_t len, unsigned char key[16])
{
    unsigned char md[32];
    checksum_digest(ck, content, len, md);
    memcpy(key, md, 16);
}

void copytext_row_key(const char *source, const struct cdr_row *row, unsigned char key[16])
{
    size_t sl = strlen(source);
    char *esc = xmalloc(2 * sl + 1);
    size_t el = copytext_escape(esc, source, sl);
    char *buf = xmalloc(copytext_content_max(el, row));
    size_t n = copytext_content(buf, esc, el, row);
    struct checksum *ck = checksum_create();
    copytext_key(ck, buf, n, key);
    checksum_destroy(ck);
    free(buf);
    free(esc);
}
