/*
 * test_input_archive.c - input_archive.c: the members of archives that
 * tests/unit/make_archives.py builds with Python's zipfile, tarfile, gzip,
 * bz2, lzma and `zip -P` (index.json says what each must read as), every
 * one read at several read sizes: names byte for byte (hostile ones too),
 * flags, contents and checksums, archives inside archives told by content,
 * encrypted members, damage that cuts a member (its bytes a prefix of the
 * real ones, the reason given), the expansion limits, and the rewind that
 * opens the archive again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "checksum.h"
#include "input.h"
#include "input_archive.h"
#include "testutil.h"

static char dir[] = "/tmp/test_input_archive.XXXXXX";
static json_t *index_json;

/* The archives, built once for every test (a few seconds: a 1 GiB bomb). */
static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    const char *fixtures = getenv("CDR_FIXTURES");
    char *script = xasprintf("%s/../tests/unit/make_archives.py",
                             fixtures ? fixtures : "fixtures");
    char *cmd = xasprintf("/usr/bin/python3 '%s' '%s'", script, dir);
    int rc = system(cmd);
    free(cmd);
    free(script);
    if (rc != 0)
        return -1;
    char *file = xasprintf("%s/index.json", dir);
    json_error_t jerr;
    index_json = json_load_file(file, 0, &jerr);
    free(file);
    return index_json ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(index_json);
    rm_tree(dir);
    return 0;
}

static struct input *open_file(const char *name)
{
    char *path = xasprintf("%s/%s", dir, name);
    struct input *in = NULL;
    char why[256] = "";
    if (input_file_claim(path, false, false, &in, why, sizeof why) != INPUT_CLAIMED)
        fail_msg("%s: %s", path, why);
    free(path);
    return in;
}

static char *unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex) / 2;
    char *out = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (char)v;
    }
    out[n] = '\0';
    *len = n;
    return out;
}

/* Read a member to its end (or a failure) in steps of `step`, at most
 * `cap` bytes; *rc is the last read's answer. */
static char *read_member(struct input *m, size_t step, size_t cap, size_t *len, ssize_t *rc)
{
    size_t n = 0, room = 1 << 16;
    char *out = xmalloc(room);
    char *buf = xmalloc(step);
    for (;;) {
        *rc = input_read(m, buf, step);
        if (*rc <= 0)
            break;
        if (n + (size_t)*rc > room)
            out = xrealloc(out, room = 2 * (n + (size_t)*rc));
        memcpy(out + n, buf, (size_t)*rc);
        n += (size_t)*rc;
        if (n > cap)
            fail_msg("read past %zu bytes: no limit stopped it", cap);
    }
    free(buf);
    *len = n;
    return out;
}

/* One entry of index.json against what the reader says. */
static void check_entry(const char *file, size_t step, struct input_archive *ar,
                        const json_t *want)
{
    struct input_archive_entry e;
    char why[CDR_ERRLEN];
    size_t name_len;
    char *name = unhex(json_string_value(json_object_get(want, "name")), &name_len);
    int rc = input_archive_next(ar, &e, why, sizeof why);
    if (rc != 1)
        fail_msg("%s at %zu: expected entry '%s', got %d (%s)", file, step, name, rc, why);
    if (strlen(e.name) != name_len || memcmp(e.name, name, name_len) != 0) {
        print_message("got name: ");
        show_bytes(e.name, strlen(e.name));
        print_message("\nwant:     ");
        show_bytes(name, name_len);
        print_message("\n");
        fail_msg("%s: entry name differs", file);
    }
    assert_int_equal(e.regular, json_is_true(json_object_get(want, "regular")));
    assert_int_equal(e.single, json_is_true(json_object_get(want, "single")));
    assert_int_equal(e.encrypted, json_is_true(json_object_get(want, "encrypted")));
    if (!e.regular || e.encrypted) {
        assert_int_equal(input_archive_skip(ar, why, sizeof why), 0);
        free(name);
        return;
    }
    bool packed;
    struct input *m = input_archive_member(ar, &packed);
    assert_int_equal(packed, json_is_true(json_object_get(want, "packed")));
    assert_true(input_rewind_costly(m));
    assert_non_null(input_member(m));
    assert_memory_equal(input_member(m), name, name_len);

    size_t want_len = 0, got_len;
    ssize_t last;
    const json_t *content = json_object_get(want, "content");
    char *expect = NULL;
    if (json_is_string(content)) {
        char *p = xasprintf("%s/%s", dir, json_string_value(content));
        expect = slurp(p, &want_len);
        free(p);
    }
    char *got = read_member(m, step, 64u << 20, &got_len, &last);
    const char *limit = json_string_value(json_object_get(want, "limit"));
    if (limit) {
        assert_int_equal(last, -1);
        assert_non_null(input_why(m));
        const char *word = !strcmp(limit, "ratio") ? "1000:1" : "max_member_bytes";
        if (!strstr(input_why(m), word))
            fail_msg("%s: limit reason '%s' lacks '%s'", file, input_why(m), word);
    } else if (json_is_true(json_object_get(want, "cut"))) {
        assert_int_equal(last, 0);
        if (!input_why(m))
            fail_msg("%s at %zu: a cut member without a reason (%zu of %zu bytes)", file, step,
                     got_len, want_len);
        assert_true(got_len <= want_len);
        assert_memory_equal(got, expect, got_len);
    } else {
        assert_int_equal(last, 0);
        if (input_why(m))
            fail_msg("%s: unexpected cut: %s", file, input_why(m));
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, expect, want_len);
        /* The checksum learnt while reading is the content's. */
        char hex[65], want_hex[65];
        assert_true(input_checksum(m, hex));
        struct checksum *ck = checksum_create();
        checksum_update(ck, expect, want_len);
        checksum_final_hex(ck, want_hex);
        checksum_destroy(ck);
        assert_string_equal(hex, want_hex);
    }
    free(got);
    free(expect);
    free(name);
    input_close(m);
}

static void check_archive(const json_t *a, size_t step)
{
    const char *file = json_string_value(json_object_get(a, "file"));
    struct input *in = open_file(file);
    char why[CDR_ERRLEN];
    struct input_archive *ar = input_archive_open(
        in, (uint64_t)json_integer_value(json_object_get(a, "max")), why, sizeof why);
    if (!ar)
        fail_msg("%s: not opened: %s", file, why);
    size_t i;
    const json_t *want;
    json_array_foreach(json_object_get(a, "entries"), i, want)
        check_entry(file, step, ar, want);
    const char *end = json_string_value(json_object_get(a, "end"));
    struct input_archive_entry e;
    int rc;
    if (!strcmp(end, "any")) {
        while ((rc = input_archive_next(ar, &e, why, sizeof why)) == 1)
            assert_int_equal(input_archive_skip(ar, why, sizeof why), 0);
    } else {
        rc = input_archive_next(ar, &e, why, sizeof why);
        if (rc != (!strcmp(end, "ok") ? 0 : -1))
            fail_msg("%s at %zu: ends with %d, want %s (%s)", file, step, rc, end,
                     rc == 1 ? e.name : why);
        if (rc < 0)
            assert_non_null(input_archive_broken(ar));
    }
    input_archive_close(ar);
    input_close(in);
}

/* Every archive of index.json, at read sizes from one byte up. */
static void test_every_archive_every_read_size(void **state)
{
    (void)state;
    static const size_t steps[] = {1, 7, 512, 4096, 65536, 1 << 20};
    size_t i;
    const json_t *a;
    json_array_foreach(index_json, i, a)
        for (size_t k = 0; k < sizeof steps / sizeof *steps; k++) {
            /* A byte at a time through a 1 GiB bomb is slow for nothing. */
            const char *f = json_string_value(json_object_get(a, "file"));
            if (steps[k] < 512 && !strcmp(f, "bomb.zip"))
                continue;
            check_archive(a, steps[k]);
        }
}

/* A member read halfway, rewound (the archive opened again and passed up
 * to it), read whole; then the entries after it follow as before. */
static void rewind_case(const char *file, const char *member, const char *content,
                        const char *next)
{
    struct input *in = open_file(file);
    char why[CDR_ERRLEN];
    struct input_archive *ar = input_archive_open(in, 4ull << 30, why, sizeof why);
    assert_non_null(ar);
    struct input_archive_entry e;
    struct input *m = NULL;
    while (input_archive_next(ar, &e, why, sizeof why) == 1) {
        if (!strcmp(e.name, member)) {
            bool packed;
            m = input_archive_member(ar, &packed);
            break;
        }
        assert_int_equal(input_archive_skip(ar, why, sizeof why), 0);
    }
    assert_non_null(m);
    size_t len, want_len;
    char *p = xasprintf("%s/%s", dir, content);
    char *want = slurp(p, &want_len);
    char buf[1000];
    for (size_t k = 0; k < want_len / 2; k += sizeof buf) /* about half of it */
        assert_true(input_read(m, buf, sizeof buf) > 0);
    assert_int_equal(input_rewind(m), 0);
    ssize_t last;
    char *got = read_member(m, 3000, 16u << 20, &len, &last);
    assert_int_equal(last, 0);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
    input_close(m);
    int rc = input_archive_next(ar, &e, why, sizeof why);
    if (next) {
        assert_int_equal(rc, 1);
        assert_string_equal(e.name, next);
    } else {
        assert_int_equal(rc, 0);
    }
    free(p);
    free(got);
    free(want);
    input_archive_close(ar);
    input_close(in);
}

static void test_rewind_zip(void **state)
{
    (void)state;
    rewind_case("deflated.zip", "sub/Master2.csv", "deflated.zip.2", NULL);
    rewind_case("streamed.zip", "Master2.csv", "streamed.zip.1", NULL);
}

static void test_rewind_tar_gz(void **state)
{
    (void)state;
    rewind_case("t.tar.gz", "pbx/Master2.csv", "t.tar.gz.2", NULL);
    rewind_case("t.tar.xz", "pbx/Master.csv", "t.tar.xz.1", "pbx/Master2.csv");
}

/* Found by fuzz_archive: a rewind must come back to the same entry. The
 * first pass reads entries (their data), the rewind passes them by their
 * declared sizes; in a crafted zip the two can part ways (a deflate
 * stream that ends before its declared size, with another local header
 * inside the rest). Each member is read whole, then rewound and read
 * again: the second reading must give the same bytes or fail, never the
 * bytes of another entry. */
static const struct {
    const char *name;
    struct bytes zip;
} rewind_same_cases[] = {
    /* a.csv: deflated "1,2\n", declared 48 bytes long; b.csv's header and
     * data sit inside those 48 bytes, c.csv's right after them. */
    {"local header inside a deflated entry's declared size",
     B("\x50\x4b\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00\x21\x00\x33\x42\x21\x55"
       "\x30\x00\x00\x00\x04\x00\x00\x00\x05\x00\x00\x00\x61\x2e\x63\x73\x76\x33"
       "\xd4\x31\xe2\x02\x00\x50\x4b\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x21"
       "\x00\x2b\xbf\x22\x36\x04\x00\x00\x00\x04\x00\x00\x00\x05\x00\x00\x00\x62"
       "\x2e\x63\x73\x76\x62\x2c\x62\x0a\x00\x00\x00\x50\x4b\x03\x04\x14\x00\x00"
       "\x00\x00\x00\x00\x00\x21\x00\x0f\xe9\x85\x97\x04\x00\x00\x00\x04\x00\x00"
       "\x00\x05\x00\x00\x00\x63\x2e\x63\x73\x76\x63\x2c\x63\x0a")},
};

static void test_rewind_same_entry(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof rewind_same_cases / sizeof *rewind_same_cases; c++) {
        char *path = xasprintf("%s/rewind_same%zu.zip", dir, c);
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(rewind_same_cases[c].zip.s, 1, rewind_same_cases[c].zip.n, f),
                         rewind_same_cases[c].zip.n);
        fclose(f);
        struct input *in = NULL;
        char why[CDR_ERRLEN] = "";
        assert_int_equal(input_file_claim(path, false, false, &in, why, sizeof why),
                         INPUT_CLAIMED);
        struct input_archive *ar = input_archive_open(in, 4ull << 30, why, sizeof why);
        assert_non_null(ar);
        struct input_archive_entry e;
        while (input_archive_next(ar, &e, why, sizeof why) == 1) {
            bool packed;
            struct input *m = input_archive_member(ar, &packed);
            size_t len1, len2;
            ssize_t rc;
            char *first = read_member(m, 1000, 1u << 20, &len1, &rc);
            if (input_rewind(m) == 0) {
                char *again = read_member(m, 1000, 1u << 20, &len2, &rc);
                if (len1 != len2 || memcmp(first, again, len1) != 0)
                    fail_msg("%s: %s reads %zu other bytes after its rewind (%zu before)",
                             rewind_same_cases[c].name, e.name, len2, len1);
                free(again);
            } else if (!input_why(m)) {
                fail_msg("%s: %s: a failed rewind without a reason", rewind_same_cases[c].name,
                         e.name);
            }
            free(first);
            input_close(m);
            if (input_archive_broken(ar))
                break;
        }
        input_archive_close(ar);
        input_close(in);
        unlink(path);
        free(path);
    }
}

/* The 1 GiB bomb is stopped after little work: bounded time. */
static void test_bomb_stops_early(void **state)
{
    (void)state;
    struct input *in = open_file("bomb.zip");
    char why[CDR_ERRLEN];
    struct input_archive *ar = input_archive_open(in, 4ull << 30, why, sizeof why);
    struct input_archive_entry e;
    assert_int_equal(input_archive_next(ar, &e, why, sizeof why), 1);
    bool packed;
    struct input *m = input_archive_member(ar, &packed);
    double t0 = cdr_monotonic();
    size_t len;
    ssize_t last;
    char *got = read_member(m, 1 << 16, 64u << 20, &len, &last);
    assert_int_equal(last, -1);
    assert_true(len < (8u << 20)); /* stopped soon after its first MiB */
    assert_true(cdr_monotonic() - t0 < 2.0);
    free(got);
    input_close(m);
    input_archive_close(ar);
    input_close(in);
}

/* Recognised by content: what a name would not tell. */
static void test_sniff(void **state)
{
    (void)state;
    static const struct {
        struct bytes head;
        bool packed;
    } cases[] = {
        {B("PK\x03\x04\x14\0"), true},
        {B("PK\x05\x06\0\0\0\0"), true},
        {B("\x1f\x8b\x08\0"), true},
        {B("BZh91AY&SY"), true},
        {B("\xfd" "7zXZ\0\0\x04"), true},
        {B("BZx9"), false},
        {B("PK"), false},
        {B("\"\",\"201\",\"0312345678\""), false},
        {B(""), false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (input_archive_sniff(cases[i].head.s, cases[i].head.n) != cases[i].packed)
            fail_msg("case %zu: sniff says %d", i, !cases[i].packed);
    char tar[512] = "Master.csv";
    memcpy(tar + 257, "ustar\0" "00", 8);
    assert_true(input_archive_sniff(tar, sizeof tar));
    memcpy(tar + 257, "ustar  \0", 8);
    assert_true(input_archive_sniff(tar, sizeof tar));
    assert_false(input_archive_sniff(tar, 261)); /* too short to tell */
}

/* An input in memory for input_archive_is_packed: how it reads and
 * rewinds is the case's. */
struct mem {
    const char *s;
    size_t n, pos;
    bool read_fails;
};

static ssize_t mem_read(void *impl, void *buf, size_t len)
{
    struct mem *m = impl;
    if (m->read_fails) {
        errno = EIO;
        return -1;
    }
    len = len < m->n - m->pos ? len : m->n - m->pos;
    len = len < 7 ? len : 7; /* short reads: the head is gathered */
    memcpy(buf, m->s + m->pos, len);
    m->pos += len;
    return (ssize_t)len;
}

static int mem_rewind(void *impl)
{
    ((struct mem *)impl)->pos = 0;
    return 0;
}

/* Looked at only where a rewind is cheap; left at its first byte. */
static void test_is_packed(void **state)
{
    (void)state;
    static const struct input_ops plain = {.read = mem_read, .rewind = mem_rewind};
    static const struct input_ops costly = {.read = mem_read, .rewind = mem_rewind,
                                            .rewind_costly = true};
    static const struct input_ops once = {.read = mem_read};
    static const struct {
        struct bytes data;
        const struct input_ops *ops;
        bool read_fails;
        int want;
    } cases[] = {
        {B("PK\x03\x04\x14\0\0\0\x08\0"), &plain, false, 1},
        {B("\x1f\x8b\x08\0\0\0"), &plain, false, 1},
        {B("\"\",\"201\",\"0312345678\"\r\n"), &plain, false, 0},
        {B(""), &plain, false, 0},
        {B("\x1f\x8b\x08\0"), &costly, false, 0}, /* a member: never opened */
        {B("\x1f\x8b\x08\0"), &once, false, 0},   /* read once: taken as CSV */
        {B("\x1f\x8b\x08\0"), &plain, true, -1},  /* not "short, so CSV" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct mem m = {cases[i].data.s, cases[i].data.n, 0, cases[i].read_fails};
        struct input *in = input_new("mem", (int64_t)m.n, cases[i].ops, &m);
        int got = input_archive_is_packed(in);
        if (got != cases[i].want)
            fail_msg("case %zu: %d, want %d", i, got, cases[i].want);
        if (got >= 0 && m.pos != 0)
            fail_msg("case %zu: left at byte %zu", i, m.pos);
        input_close(in);
    }
}

/* Garbage after a magic number (a gzip header that is not one, a zip cut
 * inside its first header): not a member of garbage, but a reason. */
static void test_garbage(void **state)
{
    (void)state;
    static const char *const files[] = {"\x1f\x8b this is not gzip data at all",
                                        "PK\x03\x04\x14"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char *path = xasprintf("%s/garbage%zu", dir, i);
        put_file(path, files[i]);
        struct input *in = NULL;
        char why[CDR_ERRLEN] = "";
        assert_int_equal(input_file_claim(path, false, false, &in, why, sizeof why),
                         INPUT_CLAIMED);
        struct input_archive *ar = input_archive_open(in, 4ull << 30, why, sizeof why);
        if (ar) {
            struct input_archive_entry e;
            assert_int_equal(input_archive_next(ar, &e, why, sizeof why), -1);
            assert_non_null(input_archive_broken(ar));
            input_archive_close(ar);
        }
        if (!*why)
            fail_msg("%s: no reason", files[i]);
        input_close(in);
        free(path);
    }
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_sniff),
    cmocka_unit_test(test_is_packed),
    cmocka_unit_test(test_every_archive_every_read_size),
    cmocka_unit_test(test_rewind_zip),
    cmocka_unit_test(test_rewind_tar_gz),
    cmocka_unit_test(test_rewind_same_entry),
    cmocka_unit_test(test_bomb_stops_early),
    cmocka_unit_test(test_garbage),
};

int main(void)
{
    return cmocka_run_group_tests(tests, setup, teardown);
}
