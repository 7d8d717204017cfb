/*
 * pipeline.h - what the fuzz targets share: a file's bytes taken through
 * the same steps file.c takes them (parse.c, the header skip, profile.c's
 * mapping with value.c's checks and repairs, copytext.c's row key,
 * copybin.c's tuple, ledger.c's reject line), stopping where load.c would
 * hand a batch to the database. Every step's output is checked against
 * what the next one relies on, and the run is summed up in a digest so
 * that a target can compare two runs of the same bytes fed in different
 * chunks. A broken promise aborts: libFuzzer reports it as a crash.
 */
#ifndef FUZZ_PIPELINE_H
#define FUZZ_PIPELINE_H

#include "cdrimport.h"
#include "profile.h"

#include <stdint.h>

/* The profiles a target can choose (custom: a fixed layout with a header,
 * extras and a skipped column). */
enum fuzz_profile { FUZZ_KXHTS = 0, FUZZ_ASTERISK, FUZZ_ASTERISK_CUSTOM, FUZZ_CUSTOM };

/* A profile set up as config.c would set it up; encoding NULL is UTF-8. */
struct profile *fuzz_profile_make(enum fuzz_profile which, const char *encoding);

/* How one pass ended, for comparing two passes of the same bytes. */
struct fuzz_summary {
    char digest[65];          /* SHA-256 over every row and reject, in order */
    uint64_t rows, rejects, lines;
};

/* A source of bytes for a pass: next(ctx, buf, cap) returns up to cap
 * bytes, 0 at the end. */
typedef size_t fuzz_next_fn(void *ctx, unsigned char *buf, size_t cap);
/* After the end: why the bytes were cut short (input_why), or NULL. */
typedef const char *fuzz_cut_fn(void *ctx);

/*
 * One pass: bytes from next (in the chunks it hands out) through the
 * parser with max_line bytes per line, then parse_finish, or
 * parse_finish_cut when cut (may be NULL) gives a reason, as file.c does.
 * chunk bounds the size of each feed. Aborts when a step breaks its
 * promise.
 */
void fuzz_pipeline_run(struct profile *prof, size_t max_line, fuzz_next_fn *next,
                       fuzz_cut_fn *cut, void *ctx, size_t chunk, struct fuzz_summary *out);

/* The same over bytes in memory, fed in pieces whose sizes come from
 * seed (0: in one piece). Rejected lines are also checked to be bytes of
 * data. */
void fuzz_pipeline_bytes(struct profile *prof, size_t max_line, const unsigned char *data,
                         size_t len, unsigned seed, const char *cut, struct fuzz_summary *out);

/* Abort with a message (the target's finding). */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
