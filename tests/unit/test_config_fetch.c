/*
 * test_config_fetch.c - the `fetch:` block of a source (config_fetch.c):
 * every key and its default, relative paths, and the errors that name the
 * key (a url that is not http(s), never quoted since it may carry a
 * password; TLS keys on a plain http url; a pattern that would never match
 * the spooled responses).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "testutil.h"

/* A zone of its own: on Windows a source without one is an error. */
#define SRC "sources:\n  - name: office\n    path: /srv/spool/office\n    timezone: UTC\n"

struct fetch_case {
    const char *name;
    const char *yaml;
    const char *err; /* substring of the error; NULL: must load */
    void (*check)(const struct cdr_source *src);
};

static void check_defaults(const struct cdr_source *s)
{
    const struct cdr_fetch *f = s->fetch;
    assert_non_null(f);
    assert_string_equal(f->url, "http://pbx.example:8080/cdr");
    assert_null(f->username);
    assert_null(f->password_file);
    assert_int_equal(f->auth, CDR_FETCH_AUTH_ANY);
    assert_int_equal(f->interval_s, 30);
    assert_int_equal(f->timeout_s, 60);
    assert_int_equal(f->connect_timeout_s, 10);
    assert_null(f->ca_file);
    assert_null(f->pinned_public_key);
    assert_false(f->insecure_tls);
    assert_int_equal(f->max_response_bytes, 64u << 20);
    assert_int_equal(f->min_free_bytes, 64u << 20);
    assert_int_equal(s->watch.backend, CDR_WATCH_FETCH);
    assert_int_equal(s->watch.settle_ms, 0);
}

static void check_all_keys(const struct cdr_source *s)
{
    const struct cdr_fetch *f = s->fetch;
    assert_string_equal(f->username, "INSTALLER");
    assert_string_equal(f->password_file, "/etc/cdrimport/office.pass");
    assert_int_equal(f->auth, CDR_FETCH_AUTH_DIGEST);
    assert_int_equal(f->interval_s, 1);
    assert_int_equal(f->timeout_s, 20);
    assert_int_equal(f->connect_timeout_s, 3);
    assert_true(strstr(f->ca_file, "/etc/pbx-ca.pem") != NULL && f->ca_file[0] == '/');
    assert_string_equal(f->pinned_public_key, "sha256//AAAA");
    assert_true(f->insecure_tls);
    assert_int_equal(f->max_response_bytes, 1048576);
    assert_int_equal(f->min_free_bytes, 0);
}

static void check_folder_source(const struct cdr_source *s)
{
    assert_null(s->fetch);
    assert_int_equal(s->watch.backend, CDR_WATCH_INOTIFY);
}

static const struct fetch_case cases[] = {
    {"defaults", SRC "    fetch:\n      url: http://pbx.example:8080/cdr\n", NULL, check_defaults},
    {"every key", SRC "    fetch:\n      url: https://pbx.example/cdr\n      username: INSTALLER\n"
     "      password_file: /etc/cdrimport/office.pass\n      auth: digest\n"
     "      interval_s: 1\n      timeout_s: 20\n      connect_timeout_s: 3\n"
     "      ca_file: etc/pbx-ca.pem\n      pinned_public_key: \"sha256//AAAA\"\n"
     "      insecure_tls: true\n      max_response_bytes: 1048576\n      min_free_bytes: 0\n",
     NULL, check_all_keys},
    {"no fetch block", SRC, NULL, check_folder_source},
    {"url required", SRC "    fetch:\n      interval_s: 5\n", "fetch.url", NULL},
    {"ftp url, not quoted", SRC "    fetch:\n      url: ftp://u:hunter2@pbx.example/\n",
     "fetch.url: expected an http:// or https:// url", NULL},
    {"no host", SRC "    fetch:\n      url: http:///cdr\n", "names no host", NULL},
    {"unknown auth", SRC "    fetch:\n      url: http://pbx.example/\n      auth: ntlm\n",
     "fetch.auth", NULL},
    {"interval 0", SRC "    fetch:\n      url: http://pbx.example/\n      interval_s: 0\n",
     "fetch.interval_s", NULL},
    {"unknown key", SRC "    fetch:\n      url: http://pbx.example/\n      pasword: x\n",
     "pasword", NULL},
    {"TLS key on http", SRC "    fetch:\n      url: http://pbx.example/\n      ca_file: /x.pem\n",
     "fetch.ca_file: only makes sense with an https:// url", NULL},
    {"a pattern that misses the spool", SRC "    pattern: \"*.txt\"\n"
     "    fetch:\n      url: http://pbx.example/\n", "does not match the spooled", NULL},
    {"not a mapping", SRC "    fetch: http://pbx.example/\n", "expected a mapping", NULL},
};

static void run_case(void **state)
{
    const struct fetch_case *c = *state;
    char path[] = "/tmp/test_config_fetch.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, c->yaml, strlen(c->yaml)), (ssize_t)strlen(c->yaml));
    close(fd);
    char err[CDR_ERRLEN];
    struct cdr_config *cfg = config_load(path, err, sizeof err);
    unlink(path);
    if (c->err) {
        if (cfg || !strstr(err, c->err))
            fail_msg("want an error with '%s', got: %s", c->err, cfg ? "(loaded)" : err);
        assert_null(strstr(err, "hunter2"));
        return;
    }
    if (!cfg)
        fail_msg("%s", err);
    c->check(&cfg->sources[0]);
    config_free(cfg);
}

/* The spool is written only by cdrimport, file by complete file: a watch
 * override cannot make the daemon watch it some other way. */
static void test_watch_override_gives_way(void **state)
{
    (void)state;
    static const struct fetch_case c = {
        "override", SRC "    watch:\n      backend: poll\n      settle_ms: 500\n"
        "    fetch:\n      url: http://pbx.example:8080/cdr\n", NULL, check_defaults};
    const void *row = &c;
    run_case((void **)&row);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_watch_override_gives_way),
    };
    RUN_TABLE_THEN_FIXED(cases, run_case, fixed, NULL, NULL);
}
