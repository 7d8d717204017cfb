/*
 * test_checksum.c - checksum.c against the SHA-256 test vectors of FIPS 180-2
 * (appendix B) and NIST's byte-oriented examples: one-shot and streamed in
 * pieces of every awkward size. Whole files are hashed through input.h
 * (test_input.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checksum.h"

struct vector {
    const char *name;
    const char *data; /* NULL: a million 'a' */
    size_t len;
    const char *hex;
};

#define MILLION_A ((size_t)1000000)

static const struct vector vectors[] = {
    {"empty", "", 0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "abc", 3, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"448 bits", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56,
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"896 bits",
     "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
     "lmnopqrsmnopqrstnopqrstu",
     112, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    {"one byte 0xbd", "\xbd", 1, "68325720aabd7c82f30f554b313d0570c95accbb7dc4b5aae11204c08ffe732b"},
    {"four bytes", "\xc9\x8c\x8e\x55", 4,
     "7abc22c0ae5af26ce93dbb94433a0e0b2e119d014f8e7f65bd56c61ccccd9504"},
    {"a million a", NULL, MILLION_A,
     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
};

#define NVEC (sizeof vectors / sizeof *vectors)

static char *vector_bytes(const struct vector *v)
{
    char *buf = xmalloc(v->len ? v->len : 1);
    if (v->data)
        memcpy(buf, v->data, v->len);
    else
        memset(buf, 'a', v->len);
    return buf;
}

static void to_hex(const unsigned char *md, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

/* One-shot, streamed whole, and streamed in pieces of many sizes. */
static void test_vectors(void **state)
{
    (void)state;
    static const size_t pieces[] = {1, 3, 55, 63, 64, 65, 1000, 4096, 65537, 300000};
    struct checksum *c = checksum_create();
    for (size_t i = 0; i < NVEC; i++) {
        const struct vector *v = &vectors[i];
        char *buf = vector_bytes(v);
        unsigned char md[32];
        char hex[65];

        checksum_digest(c, buf, v->len, md);
        to_hex(md, hex);
        if (strcmp(hex, v->hex) != 0)
            fail_msg("%s: checksum_digest gave %s", v->name, hex);

        checksum_reset(c);
        checksum_update(c, buf, v->len);
        checksum_final_hex(c, hex);
        if (strcmp(hex, v->hex) != 0)
            fail_msg("%s: streamed whole gave %s", v->name, hex);

        for (size_t k = 0; k < sizeof pieces / sizeof *pieces; k++) {
            size_t step = pieces[k];
            if (step == 1 && v->len > 100000)
                step = 7; /* a million single updates is slow, not more thorough */
            checksum_reset(c);
            for (size_t off = 0; off < v->len; off += step)
                checksum_update(c, buf + off, v->len - off < step ? v->len - off : step);
            checksum_update(c, buf, 0); /* empty updates change nothing */
            checksum_final_hex(c, hex);
            if (strcmp(hex, v->hex) != 0)
                fail_msg("%s: streamed in %zu-byte pieces gave %s", v->name, step, hex);
        }
        free(buf);
    }
    checksum_destroy(c);
}

/* final_hex leaves the context ready for the next stream; reset discards;
 * a one-shot digest between streams does not disturb the next one. */
static void test_reuse(void **state)
{
    (void)state;
    struct checksum *c = checksum_create();
    char hex[65];
    unsigned char md[32];

    /* fresh context: ready without a reset */
    checksum_update(c, "abc", 3);
    checksum_final_hex(c, hex);
    assert_string_equal(hex, vectors[1].hex);
    /* after final: the empty stream */
    checksum_final_hex(c, hex);
    assert_string_equal(hex, vectors[0].hex);
    /* reset throws away what was fed */
    checksum_update(c, "garbage", 7);
    checksum_reset(c);
    checksum_update(c, "ab", 2);
    checksum_update(c, "c", 1);
    checksum_final_hex(c, hex);
    assert_string_equal(hex, vectors[1].hex);
    /* one-shot, then a stream after a reset */
    checksum_digest(c, "", 0, md);
    to_hex(md, hex);
    assert_string_equal(hex, vectors[0].hex);
    checksum_reset(c);
    checksum_update(c, "abc", 3);
    checksum_final_hex(c, hex);
    assert_string_equal(hex, vectors[1].hex);
    /* two contexts are independent */
    struct checksum *d = checksum_create();
    checksum_update(c, "a", 1);
    checksum_update(d, "abc", 3);
    checksum_update(c, "bc", 2);
    checksum_final_hex(d, hex);
    assert_string_equal(hex, vectors[1].hex);
    checksum_final_hex(c, hex);
    assert_string_equal(hex, vectors[1].hex);
    checksum_destroy(d);
    checksum_destroy(c);
    checksum_destroy(NULL);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_vectors),
    cmocka_unit_test(test_reuse),
};

int main(void)
{
    return cmocka_run_group_tests(tests, NULL, NULL);
}
