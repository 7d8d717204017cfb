/*
 * test_input.c - input.c and input_file.c: the checksum every pass yields
 * (plain files against known SHA-256 vectors, read in awkward chunks, after
 * a rewind, and through an input that cannot rewind, as an archive member
 * or an HTTP body will be), and the claim of a plain file: what is refused
 * (links, FIFOs without hanging, folders), what is skipped (gone, locked by
 * another importer), and that the lock holds until input_close.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "input.h"

static const struct {
    const char *data;
    const char *hex;
} vectors[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};
#define NVEC (sizeof vectors / sizeof *vectors)

static char dir[] = "/tmp/test_input.XXXXXX";

static int setup(void **state)
{
    (void)state;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *write_file(const char *name, const void *data, size_t len)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    return path;
}

static struct input *claim_ok(const char *path)
{
    struct input *in = NULL;
    char why[256] = "";
    enum input_claim c = input_file_claim(path, false, true, &in, why, sizeof why);
    if (c != INPUT_CLAIMED)
        fail_msg("%s: not claimed: %s", path, why);
    return in;
}

/* Read to the end in chunks of `step` bytes; the bytes read are returned. */
static char *read_all(struct input *in, size_t step, size_t *len)
{
    size_t cap = 1024, n = 0;
    char *out = xmalloc(cap);
    for (;;) {
        if (n + step > cap)
            out = xrealloc(out, cap = 2 * (n + step));
        ssize_t got = input_read(in, out + n, step);
        assert_true(got >= 0);
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *len = n;
    return out;
}

/* input_hash_all and a chunked pass over plain files give the known
 * digests, the size, and the same bytes after the rewind. */
static void test_plain_checksums(void **state)
{
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        size_t len = strlen(vectors[i].data);
        char *path = write_file("v.csv", vectors[i].data, len);
        struct input *in = claim_ok(path);
        assert_int_equal(input_size(in), (int64_t)len);
        assert_true(input_can_rewind(in));
        char hex[65], again[65];
        uint64_t size = 99;
        assert_int_equal(input_hash_all(in, hex, &size), 0);
        assert_string_equal(hex, vectors[i].hex);
        assert_int_equal(size, len);
        assert_int_equal(input_offset(in), 0); /* rewound */
        assert_false(input_checksum(in, again)); /* a new pass has not ended */
        size_t n;
        char *bytes = read_all(in, 7, &n);
        assert_int_equal(n, len);
        assert_memory_equal(bytes, vectors[i].data, len);
        assert_true(input_checksum(in, again));
        assert_string_equal(again, vectors[i].hex);
        free(bytes);
        input_close(in);
        free(path);
    }
}

/* A file larger than the hash buffer, read in pieces of changing size,
 * rewound half-way: the checksum is of the pass, not of the reads. */
static void test_plain_large_and_rewind(void **state)
{
    (void)state;
    size_t n = (1u << 20) + 12345;
    unsigned char *big = xmalloc(n);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        big[i] = (unsigned char)x;
    }
    char *path = write_file("big.csv", big, n);
    struct input *in = claim_ok(path);
    char first[65], second[65], third[65];
    uint64_t size = 0;
    assert_int_equal(input_hash_all(in, first, &size), 0);
    assert_int_equal(size, n);
    char buf[4099];
    assert_int_equal(input_read(in, buf, sizeof buf), (ssize_t)sizeof buf);
    assert_int_equal(input_rewind(in), 0); /* mid-pass: a fresh checksum */
    size_t got;
    for (size_t step = 1; step < 5000; step = step * 3 + 1) {
        free(read_all(in, step, &got));
        assert_int_equal(got, n);
        assert_true(input_checksum(in, second));
        assert_string_equal(second, first);
        assert_int_equal(input_rewind(in), 0);
    }
    assert_false(input_checksum(in, third));
    input_close(in);
    free(path);
    free(big);
}

/* An input that can be read only once (a compressed member, an HTTP body):
 * its checksum is known at the end of the one pass; rewind says ESPIPE. */
struct once {
    const char *data;
    size_t len, pos;
    bool closed;
};

static ssize_t once_read(void *impl, void *buf, size_t len)
{
    struct once *o = impl;
    size_t n = o->len - o->pos < len ? o->len - o->pos : len;
    n = n > 5 ? 5 : n; /* short reads, as a decompressor gives */
    memcpy(buf, o->data + o->pos, n);
    o->pos += n;
    return (ssize_t)n;
}

static void once_close(void *impl)
{
    ((struct once *)impl)->closed = true;
}

static const struct input_ops once_ops = {.read = once_read, .close = once_close};

static void test_stream_checksum(void **state)
{
    (void)state;
    for (size_t i = 0; i < NVEC; i++) {
        struct once o = {vectors[i].data, strlen(vectors[i].data), 0, false};
        struct input *in = input_new("member.csv", -1, &once_ops, &o);
        assert_string_equal(input_name(in), "member.csv");
        assert_int_equal(input_size(in), -1);
        assert_false(input_can_rewind(in));
        char hex[65];
        uint64_t size;
        errno = 0;
        assert_int_equal(input_hash_all(in, hex, &size), -1); /* no second pass */
        assert_int_equal(errno, ESPIPE);
        assert_true(input_checksum(in, hex)); /* but the pass's checksum is known */
        assert_string_equal(hex, vectors[i].hex);
        assert_int_equal(input_offset(in), o.len);
        char buf[8];
        assert_int_equal(input_read(in, buf, sizeof buf), 0); /* stays at the end */
        input_close(in);
        assert_true(o.closed);
    }
    input_close(NULL);
}

/* What a claim refuses or skips, each with its reason; none of it hangs. */
static void test_claim_outcomes(void **state)
{
    (void)state;
    char *file = write_file("Master.csv", "a,b\n", 4);
    char *link = xasprintf("%s/link.csv", dir);
    char *fifo = xasprintf("%s/fifo.csv", dir);
    char *sub = xasprintf("%s/sub.csv", dir);
    char *gone = xasprintf("%s/gone.csv", dir);
    assert_int_equal(symlink(file, link), 0);
    assert_int_equal(mkfifo(fifo, 0600), 0); /* no writer: open must not wait */
    assert_int_equal(mkdir(sub, 0700), 0);

    static const struct {
        int which;
        bool follow;
        enum input_claim want;
        const char *why;
    } cases[] = {
        {1, false, INPUT_UNREADABLE, "cannot open: it is a symbolic link"},
        {1, true, INPUT_CLAIMED, ""},
        {2, false, INPUT_UNREADABLE, "not a regular file (a FIFO)"},
        {3, false, INPUT_UNREADABLE, "not a regular file (a directory)"},
        {4, false, INPUT_GONE, "gone before it could be read"},
    };
    const char *paths[] = {file, link, fifo, sub, gone};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct input *in = (struct input *)1;
        char why[256] = "";
        enum input_claim c =
            input_file_claim(paths[cases[i].which], cases[i].follow, true, &in, why, sizeof why);
        if (c != cases[i].want)
            fail_msg("case %zu: claim gave %d (%s), want %d", i, c, why, cases[i].want);
        if (c == INPUT_CLAIMED) {
            assert_non_null(in);
            input_close(in);
        } else {
            assert_null(in);
            assert_string_equal(why, cases[i].why);
        }
    }
    free(file), free(link), free(fifo), free(sub), free(gone);
}

/* The claim is an exclusive flock held until input_close: a second
 * importer is told the file is busy; a dry run (no lock) is not. */
static void test_claim_lock(void **state)
{
    (void)state;
    char *file = write_file("locked.csv", "x\n", 2);
    struct input *first = claim_ok(file), *second = NULL;
    char why[256] = "";
    assert_int_equal(input_file_claim(file, false, true, &second, why, sizeof why), INPUT_BUSY);
    assert_null(second);
    assert_string_equal(why, "being imported by another process");
    assert_int_equal(input_file_claim(file, false, false, &second, why, sizeof why),
                     INPUT_CLAIMED);
    input_close(second);
    /* another process's view: flock on a new open file description */
    int fd = open(file, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), -1);
    input_close(first);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
    close(fd);
    free(file);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_plain_checksums),
    cmocka_unit_test(test_plain_large_and_rewind),
    cmocka_unit_test(test_stream_checksum),
    cmocka_unit_test(test_claim_outcomes),
    cmocka_unit_test(test_claim_lock),
};

int main(void)
{
    return cmocka_run_group_tests(tests, setup, teardown);
}
