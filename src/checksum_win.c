/*
 * checksum_win.c - checksum.h on Windows: SHA-256 from CNG (bcrypt.dll),
 * the system's own, validated implementation, instead of an OpenSSL built
 * and shipped only for this (the Linux build keeps libcrypto: checksum.c).
 * The algorithm provider is opened once per context and the hash object
 * made reusable, so that a row key costs no provider look-up.
 */
#include "checksum.h"

#include <windows.h>
#include <bcrypt.h>
#include <stdlib.h>

struct checksum {
    BCRYPT_ALG_HANDLE alg;
    BCRYPT_HASH_HANDLE hash;
    bool fed; /* data since the last finish */
};

static void check(NTSTATUS st, const char *what)
{
    if (!BCRYPT_SUCCESS(st))
        cdr_fatal("CNG %s failed (NTSTATUS 0x%08lx)", what, (unsigned long)st);
}

struct checksum *checksum_create(void)
{
    struct checksum *c = xcalloc(1, sizeof *c);
    check(BCryptOpenAlgorithmProvider(&c->alg, BCRYPT_SHA256_ALGORITHM, NULL,
                                      BCRYPT_HASH_REUSABLE_FLAG),
          "SHA-256 provider");
    check(BCryptCreateHash(c->alg, &c->hash, NULL, 0, NULL, 0, BCRYPT_HASH_REUSABLE_FLAG),
          "SHA-256 set-up");
    return c;
}

void checksum_destroy(struct checksum *c)
{
    if (!c)
        return;
    if (c->hash)
        BCryptDestroyHash(c->hash);
    if (c->alg)
        BCryptCloseAlgorithmProvider(c->alg, 0);
    free(c);
}

void checksum_reset(struct checksum *c)
{
    /* A reusable hash starts again after each BCryptFinishHash: finish
     * into a scratch buffer to drop what was fed. */
    unsigned char scratch[32];
    if (c->fed)
        check(BCryptFinishHash(c->hash, scratch, sizeof scratch, 0), "digest reset");
    c->fed = false;
}

void checksum_update(struct checksum *c, const void *data, size_t len)
{
    const unsigned char *p = data;
    c->fed = c->fed || len > 0;
    while (len > 0) { /* ULONG lengths */
        ULONG n = len > 0x40000000u ? 0x40000000u : (ULONG)len;
        check(BCryptHashData(c->hash, (PUCHAR)p, n, 0), "digest update");
        p += n;
        len -= n;
    }
}

void checksum_final_hex(struct checksum *c, char hex[65])
{
    unsigned char md[32];
    check(BCryptFinishHash(c->hash, md, sizeof md, 0), "digest final");
    c->fed = false;
    cdr_hex(md, 32, hex);
}

void checksum_digest(struct checksum *c, const void *data, size_t len, unsigned char out[32])
{
    checksum_reset(c);
    checksum_update(c, data, len);
    check(BCryptFinishHash(c->hash, out, 32, 0), "digest");
    c->fed = false;
}
