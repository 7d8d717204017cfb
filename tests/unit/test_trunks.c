/*
 * test_trunks.c - trunks.c: the globs' translation into one PostgreSQL
 * regular expression (held to fnmatch, which is what `trunks:` means,
 * through POSIX regexec on the same channel names: the ARE features used,
 * ^ $ (?: ) . * [ ], mean the same in both), the checks of a glob, and the
 * `trunks:` key's default per format. Table-driven.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "plat.h"
#include "trunks.h"

static const struct {
    const char *globs[3];
    const char *regex;
} regexes[] = {
    {{"DAHDI/[1-8]-*", "SIP/carrier*"}, "^(?:DAHDI/[1-8]-.*|SIP/carrier.*)$"},
    {{"SIP/trunk-*"}, "^(?:SIP/trunk-.*)$"},
    {{"PJSIP/prov.der?-*"}, "^(?:PJSIP/prov\\.der.-.*)$"},
    {{"IAX2/[!0-9]*"}, "^(?:IAX2/[^0-9].*)$"},
    {{"a+b(c)|d{2}$^"}, "^(?:a\\+b\\(c\\)\\|d\\{2\\}\\$\\^)$"},
    {{"x\\*y"}, "^(?:x\\*y)$"},
    {{"[]a]z"}, "^(?:[]a]z)$"},
};

static void test_regex_text(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof regexes / sizeof *regexes; i++) {
        size_t n = 0;
        while (n < 3 && regexes[i].globs[n])
            n++;
        char *re = trunks_regex((char *const *)regexes[i].globs, n);
        if (strcmp(re, regexes[i].regex))
            fail_msg("case %zu: got '%s', want '%s'", i, re, regexes[i].regex);
        free(re);
    }
    assert_null(trunks_regex(NULL, 0));
}

/* Every glob against every channel: the regex and fnmatch agree. */
static void test_regex_matches_like_fnmatch(void **state)
{
    (void)state;
    static const char *const globs[] = {"DAHDI/[1-8]-*", "SIP/carrier*", "SIP/trunk-*",
                                        "IAX2/[!0-9]*", "PJSIP/prov.der?-*", "Local/*@from-*"};
    static const char *const channels[] = {
        "DAHDI/1-1", "DAHDI/8-2", "DAHDI/9-1", "DAHDI/12-1", "DAHDI/1", "SIP/carrier1_x-0000002a",
        "SIP/carrier", "SIP/201-0000002a", "SIP/trunk-00000001", "SIP/trunk", "IAX2/a-1",
        "IAX2/1-1", "PJSIP/provider-1", "PJSIP/prov.derX-1", "Local/201@from-internal-0001;1",
        "", "dahdi/1-1"};
    for (size_t g = 0; g < sizeof globs / sizeof *globs; g++) {
        char *re = trunks_regex((char *const *)&globs[g], 1);
        /* PostgreSQL's (?:...) is ERE's (...) for matching. */
        char *ere = xstrdup(re);
        char *p = strstr(ere, "(?:");
        memmove(p + 1, p + 3, strlen(p + 3) + 1);
        regex_t rx;
        assert_int_equal(regcomp(&rx, ere, REG_EXTENDED | REG_NOSUB), 0);
        for (size_t c = 0; c < sizeof channels / sizeof *channels; c++) {
            bool want = plat_fnmatch(globs[g], channels[c], false);
            bool got = regexec(&rx, channels[c], 0, NULL, 0) == 0;
            if (want != got)
                fail_msg("glob '%s' (regex '%s') on '%s': fnmatch %d, regex %d", globs[g], re,
                         channels[c], want, got);
        }
        regfree(&rx);
        free(ere);
        free(re);
    }
}

static void test_glob_ok(void **state)
{
    (void)state;
    static const struct {
        const char *glob;
        bool ok;
    } cases[] = {
        {"DAHDI/[1-8]-*", true}, {"SIP/carrier*", true}, {"[]]", true}, {"[!]x]", true},
        {"", false}, {"DAHDI/[1-8-*", false}, {"a\tb", false}, {"[[:digit:]]", false},
        {"x[", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (trunks_glob_ok(cases[i].glob) != cases[i].ok)
            fail_msg("case %zu '%s': want %d", i, cases[i].glob, cases[i].ok);
}

/* ---- the key ------------------------------------------------------------- */

static struct cdr_config *load(const char *yaml, char *err, size_t errlen)
{
    char path[] = "/tmp/test_trunks.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
    close(fd);
    struct cdr_config *cfg = config_load(path, err, errlen);
    unlink(path);
    return cfg;
}

#define SRC "sources:\n  - name: pbx\n    path: /tmp/in\n    timezone: UTC\n"

static void test_key(void **state)
{
    (void)state;
    static const struct {
        const char *yaml;
        const char *err;         /* substring; NULL: loads */
        size_t ntrunks;
        bool configured;
        const char *channel;     /* a trunk, if ntrunks */
    } cases[] = {
        {SRC, NULL, 2, false, "DAHDI/3-1"},
        {SRC "    format: kx-hts\n", NULL, 2, false, "SIP/carrier2_9-00000001"},
        {SRC "    format: asterisk\n", NULL, 0, false, NULL},
        {SRC "    format: asterisk-custom\n", NULL, 0, false, NULL},
        {SRC "    format: custom\n    columns: [call_time]\n", NULL, 2, false, "DAHDI/8-1"},
        {SRC "    format: asterisk\n    trunks: [\"SIP/trunk-*\"]\n", NULL, 1, true,
         "SIP/trunk-0000001"},
        {SRC "    trunks: [\"DAHDI/1-*\"]\n", NULL, 1, true, "DAHDI/1-2"},
        {SRC "    trunks: []\n", "must list at least one glob", 0, false, NULL},
        {SRC "    trunks: \"SIP/x*\"\n", "expected a list of channel globs", 0, false, NULL},
        {SRC "    trunks: [\"DAHDI/[1-8-*\"]\n", "sources[0].trunks[0]: not a channel glob",
         0, false, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char err[512] = "";
        struct cdr_config *cfg = load(cases[i].yaml, err, sizeof err);
        if (cases[i].err) {
            if (cfg || !strstr(err, cases[i].err))
                fail_msg("case %zu: want an error with '%s', got '%s'", i, cases[i].err, err);
            continue;
        }
        if (!cfg)
            fail_msg("case %zu: %s", i, err);
        const struct cdr_source *s = &cfg->sources[0];
        assert_int_equal(s->ntrunks, cases[i].ntrunks);
        assert_int_equal(s->trunks_configured, cases[i].configured);
        if (cases[i].channel) {
            assert_true(trunks_match(s, cases[i].channel));
            assert_false(trunks_match(s, "SIP/201-0000002a"));
        }
        config_free(cfg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex_text),
        cmocka_unit_test(test_regex_matches_like_fnmatch),
        cmocka_unit_test(test_glob_ok),
        cmocka_unit_test(test_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
