/*
 * batch.h - a batch of rows on their way to the server (load.c's unit of
 * work): binary COPY tuples, each row's text content and key, the rows
 * not to send, the order to send them in, and the batch's rejects.
 * load.c fills and ships batches; this module owns their memory, the
 * tuple layout's fixed offsets, the send order and the sending itself.
 */
#ifndef CDR_BATCH_H
#define CDR_BATCH_H

#include "cdrimport.h"
#include "dedup.h"
#include "pump.h"

#include <stdint.h>

#define BATCH_ROWS 16384
#define BATCH_BYTES (8u << 20)

/* A batch of rows as binary COPY tuples, with each row's COPY text content
 * (what its key hashes) and the rejected lines met while filling it. Two
 * of them alternate: the parser fills one while the loader thread probes
 * and copies the other, so client and server work overlap on two cores.
 * Memory: two batches, whatever the size of the file. */
struct batch {
    char *buf;             /* one binary COPY tuple per row */
    size_t len, cap;
    size_t *line_off;      /* start of each row's tuple in buf */
    char *tbuf;            /* the rows' COPY text content parts */
    size_t tlen, tcap;
    size_t *text_off;      /* start of each row's content in tbuf */
    uint32_t *content_len;
    unsigned char (*keys)[16];
    bool *skip;
    uint32_t *order;       /* send order: by call_time (order_rows) */
    struct batch_okey *okeys;
    char *stage;           /* batch_send's gathering of short runs */
    size_t nrows;
    char tmin[20], tmax[20]; /* call_time range (local, canonical) */
    char *rbuf;            /* rejects: COPY text lines for cdr_reject */
    size_t rlen, rcap;
    size_t nrejects;
};

struct batch_okey {
    int64_t t;
    uint32_t i;
};

void batch_init(struct batch *b);
void batch_free(struct batch *b);
/* Grow *buf (capacity *cap, len used) to hold more bytes. */
void batch_reserve(char **buf, size_t *cap, size_t len, size_t more);
/* Row i's call_time: 8 bytes of binary timestamptz in its tuple. */
const char *batch_call_time(const void *b, size_t i);
/* What dedup.h sees of the batch. */
struct dedup_batch batch_view(struct batch *b);
/* Set the send order: by call_time, once the tuples hold instants. */
void batch_order(struct batch *b);
/* Rows to send (not skipped). */
size_t batch_kept(const struct batch *b);
/* Queue the kept tuples, in the send order, into an open binary COPY
 * (pump_open_binary): batches one after another make one COPY. */
void batch_send(struct batch *b, struct pump *p);

#endif
