/*
 * copytext.h - a cdr row in PostgreSQL's COPY text format, and its row key.
 * The content part of a row's COPY line (source, the 15 fields, extra) is
 * an injective encoding of the row (tabs separate, backslash escapes, \N is
 * NULL), so the row key is simply SHA-256 of those bytes (first 128 bits):
 * the same record written with other quoting or line ends has the same
 * key, and the loader can compute it off the parser's thread.
 * Pure: no I/O.
 */
#ifndef CDR_COPYTEXT_H
#define CDR_COPYTEXT_H

#include "cdrimport.h"
#include "checksum.h"
#include "profile.h"

/* Escape s for COPY text into w (room for 2 * n bytes); returns the length. */
size_t copytext_escape(char *w, const char *s, size_t n);

/* Room copytext_content needs for this row, with source_esc_len bytes of
 * already escaped source. */
size_t copytext_content_max(size_t source_esc_len, const struct cdr_row *row);

/* Write "source\tcall_id\t...\tfeature\textra" (no newline); returns its length. */
size_t copytext_content(char *w, const char *source_esc, size_t source_esc_len,
                        const struct cdr_row *row);

/* The row key of a content part. */
void copytext_key(struct checksum *ck, const char *content, size_t len, unsigned char key[16]);

/* Both steps for one row (for tests and callers without a buffer). */
void copytext_row_key(const char *source, const struct cdr_row *row, unsigned char key[16]);

#endif
