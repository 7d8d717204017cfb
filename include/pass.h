/*
 * pass.h - one pass over an input from its first byte: its bytes through
 * the CSV parser (parse.h), each record through the source's profile
 * (profile.h) into the file's load (load.h), each bad line handed to the
 * load verbatim as a reject. file.c makes one pass to import a file, and a
 * second, rejects only, to keep the bad lines of a file that failed. The
 * pass only reports: what the file's result becomes is file.c's to say.
 */
#ifndef CDR_PASS_H
#define CDR_PASS_H

#include "load.h"
#include "profile.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct input;

/* How a pass ended. */
enum pass_end {
    PASS_DONE = 0,
    PASS_READ_ERROR,  /* errno set; input_why(in) may say more */
    PASS_CHANGED,     /* file.c's: the content differs from the checksum pass */
    PASS_LOAD_FAILED, /* res->st says why, load_error(ld) in words */
    PASS_CANCELLED,   /* the progress callback said stop */
    PASS_NO_PARSER
};

struct pass_spec {
    struct input *in;      /* read from its first byte (rewound if need be) */
    const char *name;      /* for messages: NAME:LINE: rejected: why */
    size_t max_line_bytes; /* longer lines are rejected (parse.h) */
    struct profile *prof;
    struct load *ld;       /* NULL: nothing is stored (a dry run) */
    bool rejects_only;     /* store the bad lines only, and log none */
    /* Progress in bytes after each chunk read, may be NULL: false stops
     * the pass (PASS_CANCELLED). */
    bool (*progress)(void *ctx, uint64_t done, uint64_t total, uint64_t rows);
    void *progress_ctx;
};

struct pass_result {
    struct load_stats stats; /* rows read, rejected, repaired */
    uint64_t valid;          /* rows that mapped cleanly */
    enum load_status st;     /* the load's first failure (PASS_LOAD_FAILED) */
    char sha256[65];         /* of every byte read (PASS_DONE) */
    uint64_t size;           /* bytes read (PASS_DONE) */
};

/* One pass; logs the first PASS_MAX_LOGGED_REJECTS bad lines of a pass
 * that is not rejects_only, and nothing else. */
enum pass_end pass_run(const struct pass_spec *spec, struct pass_result *res);

#define PASS_MAX_LOGGED_REJECTS 20

#endif
