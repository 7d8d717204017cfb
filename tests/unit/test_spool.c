/*
 * test_spool.c - the fetch spool (spool.c): a response written to a hidden
 * temporary file becomes a visible, uniquely named file; an empty one
 * leaves nothing; leftovers of a crash are promoted (never deleted unless
 * empty), but not while their writer lives; the room check; the lock that
 * keeps two processes from polling one PBX at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "spool.h"
#include "testutil.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/test_spool.XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    rm_tree(dir);
    return 0;
}

/* The names in dir, sorted, joined by spaces. */
static char *listing(void)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    assert_true(n >= 0);
    char *out = xstrdup("");
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i]->d_name, ".") && strcmp(names[i]->d_name, "..")) {
            char *next = xasprintf("%s%s%s", out, *out ? " " : "", names[i]->d_name);
            free(out);
            out = next;
        }
        free(names[i]);
    }
    free(names);
    return out;
}

static const time_t WHEN = 1795243290; /* 2026-11-21T06:41:30Z */

static void test_names(void **state)
{
    (void)state;
    char name[64];
    spool_name(name, sizeof name, WHEN, 3);
    assert_string_equal(name, "Master.20261121T064130Z.3.csv");
    assert_true(spool_is_temp(".Master.a1B2c3.part"));
    assert_false(spool_is_temp("Master.csv"));
    assert_false(spool_is_temp(".Master..part"));
    assert_false(spool_is_temp(".fetch.lock"));
    assert_false(spool_is_temp(".Master.x.csv"));
}

static void test_commit_makes_unique_visible_names(void **state)
{
    (void)state;
    char err[CDR_ERRLEN];
    char *finals[2];
    for (int i = 0; i < 2; i++) {
        struct spool_file f;
        assert_true(spool_open(dir, &f, err, sizeof err));
        char *l = listing();
        assert_true(strncmp(l, ".Master.", 8) == 0); /* hidden while written */
        free(l);
        assert_true(spool_write(&f, "a,b\n", 4));
        assert_true(spool_write(&f, "c,d\n", 4));
        assert_true(spool_commit(&f, WHEN, &finals[i], err, sizeof err));
    }
    char *l = listing();
    assert_string_equal(l, "Master.20261121T064130Z.1.csv Master.20261121T064130Z.2.csv");
    free(l);
    size_t len;
    char *text = slurp(finals[1], &len);
    assert_int_equal(len, 8);
    assert_memory_equal(text, "a,b\nc,d\n", 8);
    free(text);
    for (int i = 0; i < 2; i++) {
        unlink(finals[i]);
        free(finals[i]);
    }
}

static void test_empty_response_leaves_nothing(void **state)
{
    (void)state;
    char err[CDR_ERRLEN], *final = (char *)"x";
    struct spool_file f;
    assert_true(spool_open(dir, &f, err, sizeof err));
    assert_true(spool_commit(&f, WHEN, &final, err, sizeof err));
    assert_null(final);
    char *l = listing();
    assert_string_equal(l, "");
    free(l);
}

static void test_promote_leftovers(void **state)
{
    (void)state;
    char *left = xasprintf("%s/.Master.AbCdEf.part", dir);
    char *empty = xasprintf("%s/.Master.ZyXwVu.part", dir);
    char *other = xasprintf("%s/.other.part", dir);
    put_file(left, "1,2,3\n4,5");
    put_file(empty, "");
    put_file(other, "not ours");
    /* A living writer's file: locked, so left alone. */
    char err[CDR_ERRLEN];
    struct spool_file live;
    assert_true(spool_open(dir, &live, err, sizeof err));
    assert_true(spool_write(&live, "x\n", 2));

    char **paths;
    size_t n;
    assert_true(spool_promote(dir, &paths, &n, err, sizeof err));
    assert_int_equal(n, 1);
    assert_string_equal(err, "");
    size_t len;
    char *text = slurp(paths[0], &len);
    assert_int_equal(len, 9); /* every byte, the cut last record too */
    free(text);
    assert_true(strstr(paths[0], "/Master.") && strstr(paths[0], ".1.csv"));
    assert_int_equal(access(empty, F_OK), -1);
    assert_int_equal(access(other, F_OK), 0);
    assert_int_equal(access(live.tmp_path, F_OK), 0);

    char *final;
    assert_true(spool_commit(&live, WHEN, &final, err, sizeof err));
    unlink(final);
    free(final);
    unlink(paths[0]);
    unlink(other);
    free(paths[0]);
    free(paths);
    free(left);
    free(empty);
    free(other);
}

static void test_room(void **state)
{
    (void)state;
    char err[CDR_ERRLEN];
    assert_true(spool_room(dir, 0, err, sizeof err));
    assert_false(spool_room(dir, UINT64_MAX, err, sizeof err));
    assert_non_null(strstr(err, "min_free_bytes"));
    char *missing = xasprintf("%s/nope", dir);
    assert_false(spool_room(missing, 0, err, sizeof err));
    assert_non_null(strstr(err, "No such file"));
    put_file(missing, "");
    assert_false(spool_room(missing, 0, err, sizeof err));
    assert_non_null(strstr(err, "not a folder"));
    unlink(missing);
    free(missing);
}

static void test_lock_is_exclusive(void **state)
{
    (void)state;
    char err[CDR_ERRLEN];
    int a = spool_lock(dir, err, sizeof err);
    assert_true(a >= 0);
    int b = spool_lock(dir, err, sizeof err);
    assert_int_equal(b, -1);
    assert_string_equal(err, ""); /* busy is not an error */
    spool_unlock(a);
    b = spool_lock(dir, err, sizeof err);
    assert_true(b >= 0);
    spool_unlock(b);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_commit_makes_unique_visible_names),
        cmocka_unit_test(test_empty_response_leaves_nothing),
        cmocka_unit_test(test_promote_leftovers),
        cmocka_unit_test(test_room),
        cmocka_unit_test(test_lock_is_exclusive),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
