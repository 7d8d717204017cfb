/*
 * test_transfer.c - what transfer.c makes of a fetch source's settings,
 * without a network: the url's user and password split off (a password is
 * never in the url libcurl is given, nor in the one people see),
 * username and password_file taking precedence, the warning for a password
 * file others can read, and the masking of urls. The requests themselves
 * are tested end to end against the fake PBX (tests/e2e/test_fetch*.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transfer.h"
#include "testutil.h"

struct conf_case {
    const char *name;
    const char *url;
    const char *username;      /* the username key, NULL if absent */
    const char *password_line; /* password_file's content, NULL: no file */
    const char *want_url, *want_shown, *want_user, *want_password;
};

static const struct conf_case cases[] = {
    {"userinfo in the url", "http://INSTALLER:1234@pbx.example:8080/cdr", NULL, NULL,
     "http://pbx.example:8080/cdr", "http://INSTALLER:***@pbx.example:8080/cdr", "INSTALLER",
     "1234"},
    {"percent-encoded password", "https://admin:p%40ss%3Aw@pbx.example/cdr", NULL, NULL,
     "https://pbx.example/cdr", "https://admin:***@pbx.example/cdr", "admin", "p@ss:w"},
    {"username key and password_file win", "http://old:old@pbx.example/x", "INSTALLER",
     "s3cret\nsecond line\n", "http://pbx.example/x", "http://INSTALLER:***@pbx.example/x",
     "INSTALLER", "s3cret"},
    {"password_file with CRLF", "http://pbx.example/x", "u", "pw\r\n", "http://pbx.example/x",
     "http://u:***@pbx.example/x", "u", "pw"},
    {"no credentials", "http://127.0.0.1:8080/cdr", NULL, NULL, "http://127.0.0.1:8080/cdr",
     "http://127.0.0.1:8080/cdr", NULL, NULL},
};

static void run_case(void **state)
{
    const struct conf_case *c = *state;
    char pwfile[] = "/tmp/test_transfer.XXXXXX";
    struct cdr_fetch f = {.url = (char *)c->url, .username = (char *)c->username,
                          .interval_s = 30, .timeout_s = 60, .connect_timeout_s = 10,
                          .max_response_bytes = 1 << 20};
    struct cdr_source src = {.name = (char *)"office", .path = (char *)"/srv/spool",
                             .fetch = &f};
    if (c->password_line) {
        int fd = mkstemp(pwfile);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, c->password_line, strlen(c->password_line)),
                         (ssize_t)strlen(c->password_line));
        close(fd);
        f.password_file = pwfile;
    }
    struct transfer_conf t;
    char warn[CDR_ERRLEN], err[CDR_ERRLEN];
    assert_true(transfer_conf_make(&src, &t, warn, sizeof warn, err, sizeof err));
    assert_string_equal(warn, ""); /* mkstemp makes 0600 */
    assert_string_equal(t.url, c->want_url);
    assert_string_equal(t.shown_url, c->want_shown);
    if (c->want_user)
        assert_string_equal(t.username, c->want_user);
    else
        assert_null(t.username);
    if (c->want_password)
        assert_string_equal(t.password, c->want_password);
    else
        assert_null(t.password);
    assert_string_equal(t.spool_dir, "/srv/spool");
    transfer_conf_free(&t);
    if (c->password_line)
        unlink(pwfile);
}

static void test_password_file_readable_by_others(void **state)
{
    (void)state;
#ifdef _WIN32
    skip(); /* no modes there: plat_readable_by_others is false (plat.h) */
#endif
    char pwfile[] = "/tmp/test_transfer.XXXXXX";
    int fd = mkstemp(pwfile);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "x\n", 2), 2);
    close(fd);
    chmod(pwfile, 0644);
    struct cdr_fetch f = {.url = (char *)"http://pbx.example/", .password_file = pwfile};
    struct cdr_source src = {.name = (char *)"office", .path = (char *)"/s", .fetch = &f};
    struct transfer_conf t;
    char warn[CDR_ERRLEN], err[CDR_ERRLEN];
    assert_true(transfer_conf_make(&src, &t, warn, sizeof warn, err, sizeof err));
    assert_non_null(strstr(warn, "can be read by group or others (mode 0644)"));
    transfer_conf_free(&t);
    unlink(pwfile);
    /* A missing file is an error naming it, not an empty password. */
    assert_false(transfer_conf_make(&src, &t, warn, sizeof warn, err, sizeof err));
    assert_non_null(strstr(err, pwfile));
}

static void test_bad_url_not_quoted(void **state)
{
    (void)state;
    struct cdr_fetch f = {.url = (char *)"http://user:top secret@/"};
    struct cdr_source src = {.name = (char *)"office", .path = (char *)"/s", .fetch = &f};
    struct transfer_conf t;
    char warn[CDR_ERRLEN], err[CDR_ERRLEN];
    assert_false(transfer_conf_make(&src, &t, warn, sizeof warn, err, sizeof err));
    assert_null(strstr(err, "secret"));
    assert_non_null(strstr(err, "fetch.url"));
}

static void test_mask_url(void **state)
{
    (void)state;
    char *m = transfer_mask_url("https://INSTALLER:1234@pbx.example:443/cdr?x=1");
    assert_string_equal(m, "https://INSTALLER:***@pbx.example:443/cdr?x=1");
    free(m);
    m = transfer_mask_url("http://pbx.example/cdr");
    assert_string_equal(m, "http://pbx.example/cdr");
    free(m);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_password_file_readable_by_others),
        cmocka_unit_test(test_bad_url_not_quoted),
        cmocka_unit_test(test_mask_url),
    };
    RUN_TABLE_THEN_FIXED(cases, run_case, fixed, NULL, NULL);
}
