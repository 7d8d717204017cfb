/*
 * checksum.c - SHA-256 with OpenSSL's libcrypto (EVP). One EVP_MD is
 * fetched per context so that hashing a row key costs no provider look-up.
 */
#include "checksum.h"

#include <stdio.h>
#include <stdlib.h>
#include <openssl/evp.h>

struct checksum {
    EVP_MD *md;
    EVP_MD_CTX *ctx;
};

static void crypto_abort(const char *what)
{
    cdr_fatal("OpenSSL %s failed", what);
}

struct checksum *checksum_create(void)
{
    struct checksum *c = xcalloc(1, sizeof *c);
    c->md = EVP_MD_fetch(NULL, "SHA256", NULL);
    c->ctx = EVP_MD_CTX_new();
    if (!c->md || !c->ctx)
        crypto_abort("SHA-256 set-up");
    checksum_reset(c);
    return c;
}

void checksum_destroy(struct checksum *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->ctx);
    EVP_MD_free(c->md);
    free(c);
}

void checksum_reset(struct checksum *c)
{
    if (EVP_DigestInit_ex2(c->ctx, c->md, NULL) != 1)
        crypto_abort("digest init");
}

void checksum_update(struct checksum *c, const void *data, size_t len)
{
    if (len && EVP_DigestUpdate(c->ctx, data, len) != 1)
        crypto_abort("digest update");
}

void checksum_final_hex(struct checksum *c, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_DigestFinal_ex(c->ctx, md, &n) != 1 || n != 32)
        crypto_abort("digest final");
    cdr_hex(md, 32, hex);
    checksum_reset(c);
}

void checksum_digest(struct checksum *c, const void *data, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    if (EVP_DigestInit_ex2(c->ctx, c->md, NULL) != 1 ||
        EVP_DigestUpdate(c->ctx, data, len) != 1 ||
        EVP_DigestFinal_ex(c->ctx, out, &n) != 1 || n != 32)
        crypto_abort("digest");
}
