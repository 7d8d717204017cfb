/*
 * parse.h - the streaming CSV reader: bytes in, records out, each with the
 * 1-based physical line it starts on and its raw bytes exactly as read.
 * libcsv does the RFC 4180 work; this layer adds what a CDR importer needs:
 * line numbers, the verbatim line for rejects, a UTF-8 BOM skipped, memory
 * bounded by max_line_bytes, and recovery after a broken record.
 * Pure: no I/O and no logging.
 */
#ifndef CDR_PARSE_H
#define CDR_PARSE_H

#include "cdrimport.h"

/* What a record consumer answers. */
enum parse_verdict {
    PARSE_OK = 0,   /* taken */
    PARSE_BAD,      /* not valid: reason in the consumer's buffer, see below */
    PARSE_ABORT     /* stop everything (e.g. the database went away) */
};

struct parse_cb {
    /* A complete record. On PARSE_BAD the consumer writes why into reason
     * (reason_len bytes); the parser then reports it through on_reject. */
    enum parse_verdict (*on_record)(void *ctx, const char *const *fields, const size_t *lens,
                                    size_t nfields, uint64_t line_no, char *reason,
                                    size_t reason_len);
    /* A line kept verbatim for cdr_reject (raw cut to max_line_bytes).
     * Returns PARSE_ABORT to stop, PARSE_OK otherwise. */
    enum parse_verdict (*on_reject)(void *ctx, uint64_t line_no, const char *raw,
                                    size_t raw_len, const char *reason);
    void *ctx;
};

struct parser;

struct parser *parse_create(size_t max_line_bytes, const struct parse_cb *cb);
void parse_destroy(struct parser *p);

/* Feed any number of bytes; chunk boundaries may fall anywhere.
 * Returns 0, or -1 when a callback answered PARSE_ABORT. */
int parse_feed(struct parser *p, const void *data, size_t len);
/* End of input: a last record without newline, an unterminated quote. */
int parse_finish(struct parser *p);
/* End of an input that was cut short (a damaged archive): a last line
 * without newline is rejected with reason why, whatever its fields. */
int parse_finish_cut(struct parser *p, const char *why);

/* Physical lines seen so far (a last line without newline counts). */
uint64_t parse_lines(const struct parser *p);

#endif
