/*
 * tuple.h - a CDR row as a tuple of binary COPY into cdr_row (copybin.h
 * writes the fields). The column order is SQL_COPY_ROWS': call_time,
 * answer_time and end_time first, then row_key, file_id, line_no, the two
 * durations, source, the text fields and extra. The parser's thread
 * writes the times as local seconds and the key as zeros; the loader
 * thread fills both in place once it knows them (load.c).
 */
#ifndef CDR_TUPLE_H
#define CDR_TUPLE_H

#include "copybin.h"
#include "profile.h"

#include <stddef.h>
#include <stdint.h>

/* Bytes tuple_write may write for row. */
size_t tuple_max(const struct cdr_row *row, size_t source_len);

/* Write row's tuple at w; returns its end. */
char *tuple_write(char *w, const struct cdr_row *row, struct copybin_dates *dates,
                  int32_t file_id, int32_t line_no, const char *source, size_t source_len);

/* Call fn on each time field of the tuple at t that is not NULL (its 8
 * bytes, in place); returns where the row_key field begins (its length
 * word, then 16 bytes). */
char *tuple_times(char *t, void (*fn)(void *ctx, char *p), void *ctx);
/* Set the file id of a tuple, given its key field (what tuple_times
 * returns): a file's rows may be built before its ledger row is read. */
void tuple_set_file_id(char *key, int32_t file_id);

#endif
