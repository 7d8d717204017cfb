/*
 * test_db.c - db_params_build, the dsn -> libpq keyword/value arrays step
 * of db_connect: no option is dropped however many there are (a fixed
 * array once cut a dsn after 60 without a word), our defaults never
 * override the user's, a relative socket folder resolves against the
 * config's folder. No server needed. Also the widened send buffer of a
 * local socket (plat_widen_local_socket, called on every connection).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "plat.h"

#ifndef _WIN32
#include <sys/socket.h>
#include <unistd.h>
#endif

/* The value p gives keyword kw, or NULL. */
static const char *param(const struct db_params *p, const char *kw)
{
    const char *v = NULL;
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->kw[i], kw) == 0)
            v = p->val[i];
    return v;
}

#define NOPTS 70

/* More options than any fixed array held: every one comes out, in order,
 * and the last (the one that decides where to connect) too. */
static void test_seventy_options(void **state)
{
    (void)state;
    static char names[NOPTS][16], vals[NOPTS][16];
    PQconninfoOption opts[NOPTS + 2];
    memset(opts, 0, sizeof opts);
    for (int i = 0; i < NOPTS; i++) {
        snprintf(names[i], sizeof names[i], "opt%02d", i);
        snprintf(vals[i], sizeof vals[i], "v%02d", i);
        opts[i].keyword = names[i];
        opts[i].val = vals[i];
    }
    opts[NOPTS - 1].keyword = (char *)"dbname";
    opts[NOPTS].keyword = (char *)"sslmode"; /* known to libpq, not set */
    struct db_params p;
    db_params_build(opts, "/etc/cdr", true, &p);
    assert_int_equal(p.n, NOPTS + 2);
    for (int i = 0; i < NOPTS - 1; i++) {
        assert_string_equal(p.kw[i], names[i]);
        assert_string_equal(p.val[i], vals[i]);
    }
    assert_string_equal(param(&p, "dbname"), "v69");
    assert_string_equal(param(&p, "application_name"), "cdrimport");
    assert_string_equal(param(&p, "connect_timeout"), "10");
    assert_null(param(&p, "sslmode"));
    assert_null(p.kw[p.n]);
    assert_null(p.val[p.n]);
    db_params_free(&p);
}

/* The same through libpq's own parser: 70 options, keywords repeated
 * (the last of each wins), the database named last. */
static void test_seventy_options_parsed(void **state)
{
    (void)state;
    char dsn[4096] = "";
    size_t w = 0;
    for (int i = 0; i < NOPTS - 1; i++)
        w += (size_t)snprintf(dsn + w, sizeof dsn - w, "%s=x%02d ",
                              i % 2 ? "application_name" : "options", i);
    snprintf(dsn + w, sizeof dsn - w, "dbname=calls");
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(dsn, &perr);
    assert_non_null(opts);
    struct db_params p;
    db_params_build(opts, "/etc/cdr", false, &p);
    assert_string_equal(param(&p, "dbname"), "calls");
    assert_string_equal(param(&p, "application_name"), "x67");
    assert_string_equal(param(&p, "options"), "x68");
    assert_null(param(&p, "connect_timeout"));
    db_params_free(&p);
    PQconninfoFree(opts);
}

/* The user's application_name and connect_timeout are kept; no dsn at all
 * gives just our defaults. */
static void test_defaults(void **state)
{
    (void)state;
    PQconninfoOption opts[] = {
        {.keyword = (char *)"application_name", .val = (char *)"billing"},
        {.keyword = (char *)"connect_timeout", .val = (char *)"3"},
        {.keyword = NULL},
    };
    struct db_params p;
    db_params_build(opts, "/etc/cdr", true, &p);
    assert_int_equal(p.n, 2);
    assert_string_equal(param(&p, "application_name"), "billing");
    assert_string_equal(param(&p, "connect_timeout"), "3");
    db_params_free(&p);

    db_params_build(NULL, "/etc/cdr", true, &p);
    assert_int_equal(p.n, 2);
    assert_string_equal(param(&p, "application_name"), "cdrimport");
    assert_string_equal(param(&p, "connect_timeout"), "10");
    db_params_free(&p);
}

/* A host starting with "." is a socket folder relative to importer.yaml's
 * folder (its leading "./"s dropped); any other host is left alone. */
static void test_relative_host(void **state)
{
    (void)state;
    static const struct {
        const char *host, *want;
    } cases[] = {
        {"./run", "/etc/cdr/run"},
        {"././pg/sock", "/etc/cdr/pg/sock"},
        {"../pg", "/etc/cdr/../pg"},
        {"/var/run/postgresql", "/var/run/postgresql"},
        {"db.example.org", "db.example.org"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        PQconninfoOption opts[] = {
            {.keyword = (char *)"host", .val = (char *)cases[i].host},
            {.keyword = NULL},
        };
        struct db_params p;
        db_params_build(opts, "/etc/cdr", true, &p);
        assert_string_equal(param(&p, "host"), cases[i].want);
        db_params_free(&p);
    }
}

#ifndef _WIN32
static int sndbuf(int fd)
{
    int v = 0;
    socklen_t len = sizeof v;
    assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &len), 0);
    return v;
}
#endif

/* A Unix-domain socket gets the buffer asked for, as Linux grants it
 * (doubled, within net.core.wmem_max); a TCP socket keeps the kernel's own
 * sizing, which setting SO_SNDBUF would turn off. */
static void test_widen_local_socket(void **state)
{
    (void)state;
#ifdef _WIN32
    skip(); /* libpq reaches the server over TCP there: a no-op */
#else
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    int before = sndbuf(sv[0]);
    plat_widen_local_socket(sv[0], 1 << 20);
    long cap = 0;
    FILE *f = fopen("/proc/sys/net/core/wmem_max", "r");
    if (f) {
        if (fscanf(f, "%ld", &cap) != 1)
            cap = 0;
        fclose(f);
    }
    if (cap > 0)
        assert_int_equal(sndbuf(sv[0]), 2 * (cap < (1 << 20) ? cap : (1 << 20)));
    else
        assert_true(sndbuf(sv[0]) >= before);
    close(sv[0]);
    close(sv[1]);

    int tcp = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(tcp >= 0);
    before = sndbuf(tcp);
    plat_widen_local_socket(tcp, 1 << 20);
    assert_int_equal(sndbuf(tcp), before);
    close(tcp);
#endif
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_seventy_options),
    cmocka_unit_test(test_seventy_options_parsed),
    cmocka_unit_test(test_defaults),
    cmocka_unit_test(test_relative_host),
    cmocka_unit_test(test_widen_local_socket),
};

int main(void)
{
    return cmocka_run_group_tests(tests, NULL, NULL);
}
