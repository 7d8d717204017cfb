/*
 * test_pass.c - pass.c, a dry pass (no load) over the fixtures: how many
 * records it reads, rejects and maps for clean and damaged KX-HTS files
 * (fixtures/bad/README.md names their bad lines), the checksum it ends
 * with (the checksum pass's, so that file.c can tell a changed file), a
 * second pass over the same input (the rejects-only pass of a failed file
 * starts from the first byte again), and a pass its progress callback
 * stops.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "pass.h"
#include "testutil.h"

static char *fixture(const char *rel)
{
    const char *dir = getenv("CDR_FIXTURES");
    return xasprintf("%s/%s", dir && *dir ? dir : "fixtures", rel);
}

static struct input *open_fixture(const char *rel)
{
    char *path = fixture(rel);
    char why[CDR_ERRLEN] = "";
    struct input *in = NULL;
    if (input_file_claim(path, false, false, &in, why, sizeof why) != INPUT_CLAIMED)
        fail_msg("%s: %s", path, why);
    free(path);
    return in;
}

static struct profile *kxhts(void)
{
    char err[CDR_ERRLEN] = "";
    struct profile *p = profile_create(CDR_FMT_KXHTS, NULL, 0, NULL, err, sizeof err);
    if (!p)
        fail_msg("profile_create: %s", err);
    return p;
}

/* ---- counts ------------------------------------------------------------------ */

static const struct pass_case {
    const char *name;
    const char *file;
    size_t max_line;
    uint64_t read, rejected, valid;
} cases[] = {
    {"clean", "import/kxhts_basic.csv", 65536, 7, 0, 7},
    {"three bad of ten", "bad/reject_ratio.csv", 65536, 10, 3, 7},
    {"last line cut after 11 fields", "bad/truncated_fields.csv", 65536, 5, 1, 4},
    {"no valid record", "bad/no_valid_record.csv", 65536, 3, 3, 0},
    {"wrong column count", "bad/wrong_columns.csv", 65536, 5, 1, 4},
    {"empty download", "bad/empty.csv", 65536, 0, 0, 0},
    /* Every line of the file is longer than 64 bytes. */
    {"lines over max_line_bytes", "import/kxhts_basic.csv", 64, 7, 7, 0},
};

static void test_counts(void **state)
{
    const struct pass_case *c = *state;
    struct profile *prof = kxhts();
    struct input *in = open_fixture(c->file);
    const struct pass_spec spec = {.in = in, .name = c->file, .max_line_bytes = c->max_line,
                                   .prof = prof};
    struct pass_result res;
    assert_int_equal(pass_run(&spec, &res), PASS_DONE);
    if (res.stats.rows_read != c->read || res.stats.rows_rejected != c->rejected ||
        res.valid != c->valid)
        fail_msg("%s: read %llu rejected %llu valid %llu, want %llu %llu %llu", c->file,
                 (unsigned long long)res.stats.rows_read,
                 (unsigned long long)res.stats.rows_rejected, (unsigned long long)res.valid,
                 (unsigned long long)c->read, (unsigned long long)c->rejected,
                 (unsigned long long)c->valid);
    assert_int_equal(res.st, LOAD_OK);

    /* The checksum and size are those of the whole file, as its checksum
     * pass finds them. */
    char hex[65];
    uint64_t size = 0;
    assert_int_equal(input_hash_all(in, hex, &size), 0);
    assert_string_equal(res.sha256, hex);
    assert_int_equal(res.size, size);
    input_close(in);
    profile_destroy(prof);
}

/* ---- fixed tests ------------------------------------------------------------- */

/* A second pass over an input already read to its end starts from its
 * first byte and finds the same records (the rejects-only pass). */
static void test_second_pass(void **state)
{
    (void)state;
    struct profile *prof = kxhts();
    struct input *in = open_fixture("bad/reject_ratio.csv");
    struct pass_spec spec = {.in = in, .name = "reject_ratio.csv", .max_line_bytes = 65536,
                             .prof = prof};
    struct pass_result first, again;
    assert_int_equal(pass_run(&spec, &first), PASS_DONE);
    spec.rejects_only = true;
    assert_int_equal(pass_run(&spec, &again), PASS_DONE);
    assert_int_equal(again.stats.rows_read, first.stats.rows_read);
    assert_int_equal(again.stats.rows_rejected, 3);
    assert_string_equal(again.sha256, first.sha256);
    input_close(in);
    profile_destroy(prof);
}

static int calls;

static bool stop_at_once(void *ctx, uint64_t done, uint64_t total, uint64_t rows)
{
    (void)rows;
    calls++;
    assert_ptr_equal(ctx, &calls);
    assert_true(done > 0 && done <= total);
    return false;
}

/* The progress callback stops the pass: it ends cancelled, with no
 * checksum (the file is not to be taken as read). */
static void test_cancelled(void **state)
{
    (void)state;
    struct profile *prof = kxhts();
    struct input *in = open_fixture("import/kxhts_basic.csv");
    const struct pass_spec spec = {.in = in, .name = "kxhts_basic.csv", .max_line_bytes = 65536,
                                   .prof = prof, .progress = stop_at_once,
                                   .progress_ctx = &calls};
    struct pass_result res;
    calls = 0;
    assert_int_equal(pass_run(&spec, &res), PASS_CANCELLED);
    assert_int_equal(calls, 1);
    assert_string_equal(res.sha256, "");
    input_close(in);
    profile_destroy(prof);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_second_pass),
        cmocka_unit_test(test_cancelled),
    };
    RUN_TABLE_THEN_FIXED(cases, test_counts, fixed, NULL, NULL);
}
