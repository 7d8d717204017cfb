/*
 * checksum.h - SHA-256 through OpenSSL's EVP interface: streaming for whole
 * inputs (input.c: the ledger's duplicate-file check) and one-shot for row keys.
 * The digest is fetched once per context, not per call: row keys are hashed
 * a million times per file.
 */
#ifndef CDR_CHECKSUM_H
#define CDR_CHECKSUM_H

#include "cdrimport.h"

struct checksum;

struct checksum *checksum_create(void);
void checksum_destroy(struct checksum *c);

/* Streaming: reset, update any number of times, then final. */
void checksum_reset(struct checksum *c);
void checksum_update(struct checksum *c, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL. */
void checksum_final_hex(struct checksum *c, char hex[65]);

/* One-shot SHA-256 of data into out[32]. */
void checksum_digest(struct checksum *c, const void *data, size_t len, unsigned char out[32]);


#endif
