/*
 * test_keydoc.c - importer.yaml(5) against the loader's key tables: every
 * key of config_table (config.c, config_fetch.c) has words in
 * man/importer.yaml.keys and every entry there is a key, so a key added by
 * anyone (database.partition, ...) fails here until it is described; the
 * generated scdoc lists every key with the type and default the rows say;
 * and keydoc's own rules (type and default text, custom rows, tables met
 * twice) on small tables of its own.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "keydoc.h"
#include "testutil.h"

static struct keydoc_words *real_words(void)
{
    const char *fx = getenv("CDR_FIXTURES");
    if (!fx)
        fail_msg("CDR_FIXTURES is not set (make unit sets it)");
    char path[1024];
    snprintf(path, sizeof path, "%s/../man/importer.yaml.keys", fx);
    size_t len;
    char *text = slurp(path, &len);
    struct keydoc_words *w = keydoc_words_parse(text, len);
    free(text);
    return w;
}

/* The manual describes exactly the keys the loader reads. */
static void test_every_key_documented(void **state)
{
    (void)state;
    struct keydoc_words *w = real_words();
    char *msgs = NULL;
    size_t mlen = 0;
    FILE *out = open_memstream(&msgs, &mlen);
    size_t problems = keydoc_check(&config_table, w, out);
    fclose(out);
    if (problems)
        fail_msg("%zu problem(s):\n%s", problems, msgs);
    free(msgs);
    keydoc_words_free(w);
}

static char *scdoc_of(const struct keytab_table *t, const struct keydoc_words *w)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    keydoc_scdoc(t, w, out);
    fclose(out);
    return text;
}

/* Each key of the walk appears, with what its row says. */
static void test_generated_page(void **state)
{
    (void)state;
    struct keydoc_words *w = real_words();
    char *text = scdoc_of(&config_table, w);
    size_t n;
    struct keydoc_key *keys = keydoc_walk(&config_table, &n);
    assert_true(n > 30);
    for (size_t i = 0; i < n; i++) {
        char want[KEYTAB_PATH_MAX + 4];
        snprintf(want, sizeof want, "*%s*\n", keys[i].path);
        if (!strstr(text, want))
            fail_msg("%s is not in the generated page", keys[i].path);
    }
    static const char *const lines[] = {
        "*jobs*\n\tType: integer, 1 to 1024. Default: 1.\n",
        "*sources[].format*\n\tType: one of: kx-hts, asterisk, asterisk-custom, custom, auto."
        " Default: auto.\n",
        "*sources[].name*\n\tType: string. Default: none: required.\n",
        "*sources[].max_reject_ratio*\n\tType: number, 0 to 1. Default: 0.5.\n",
        "*watch.backend*\n\tType: one of: inotify, poll. Default: inotify.\n",
        "*sources[].fetch.auth*\n\tType: one of: any, basic, digest. Default: any.\n",
        "*sources[].watch*\n\tType: mapping. Default: the top-level watch keys.\n"
        "\tIts keys are those of *watch*.\n",
        "## sources[].fetch\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++)
        if (!strstr(text, lines[i]))
            fail_msg("the page lacks:\n%s", lines[i]);
    free(keys);
    free(text);
    keydoc_words_free(w);
}

/* ---- keydoc's rules, on tables of its own ----------------------------------- */

struct small {
    unsigned u;
    bool b;
    char *s;
    int e;
};

static const char *const colours[] = {"red", "green", NULL};
static void dflt_nothing(struct keytab *kt, const struct keytab_key *k, void *obj)
{
    (void)kt, (void)k, (void)obj;
}

static const struct keytab_key inner_keys[] = {
    {.name = "depth", .type = KEYTAB_UINT, .offset = offsetof(struct small, u), .def_int = 3,
     .min = 1, .max = 9},
};
static const struct keytab_table inner = KEYTAB_TABLE(inner_keys, NULL);

static const struct keytab_key small_keys[] = {
    {.name = "count", .type = KEYTAB_UINT, .offset = offsetof(struct small, u), .def_int = 7,
     .min = 0, .max = 10},
    {.name = "on", .type = KEYTAB_BOOL, .offset = offsetof(struct small, b), .def_int = true},
    {.name = "label", .type = KEYTAB_STRING, .offset = offsetof(struct small, s),
     .def_str = "x"},
    {.name = "colour", .type = KEYTAB_ENUM, .offset = offsetof(struct small, e),
     .names = colours, .def_int = 1},
    {.name = "computed", .type = KEYTAB_STRING, .offset = offsetof(struct small, s),
     .dflt = dflt_nothing},
    {.name = "items", .type = KEYTAB_CUSTOM, .flags = KEYTAB_LIST, .sub = &inner},
    {.name = "again", .type = KEYTAB_CUSTOM, .sub = &inner},
    {.name = "opaque", .type = KEYTAB_CUSTOM},
};
static const struct keytab_table small = KEYTAB_TABLE(small_keys, NULL);

static const struct {
    const char *name;
    const char *words;
    size_t problems;
    const char *says; /* a substring of the problems, or NULL */
} checks[] = {
    {"all described",
     "== count\nc\n== on\no\n== label\nl\n== colour\nc\n== computed\ndefault: d\nc\n"
     "== items\ndefault: none\ni\n== items[].depth\nd\n== again\ndefault: none\na\n"
     "== opaque\ntype: t\ndefault: d\no\n",
     0, NULL},
    {"a key without words",
     "== on\no\n== label\nl\n== colour\nc\n== computed\ndefault: d\nc\n"
     "== items\ndefault: none\ni\n== items[].depth\nd\n== again\ndefault: none\na\n"
     "== opaque\ntype: t\ndefault: d\no\n",
     1, "key count has no description"},
    {"words without a key",
     "== count\nc\n== on\no\n== label\nl\n== colour\nc\n== computed\ndefault: d\nc\n"
     "== items\ndefault: none\ni\n== items[].depth\nd\n== again\ndefault: none\na\n"
     "== opaque\ntype: t\ndefault: d\no\n== gone\ng\n",
     1, "describes gone, which no key table has"},
    {"a computed default needs words",
     "== count\nc\n== on\no\n== label\nl\n== colour\nc\n== computed\nc\n"
     "== items\ndefault: none\ni\n== items[].depth\nd\n== again\ndefault: none\na\n"
     "== opaque\ntype: t\ndefault: d\no\n",
     1, "computed has a default its row cannot say"},
    {"a custom row needs a type and a default",
     "== count\nc\n== on\no\n== label\nl\n== colour\nc\n== computed\ndefault: d\nc\n"
     "== items\ndefault: none\ni\n== items[].depth\nd\n== again\ndefault: none\na\n== opaque\no\n",
     1, "opaque is a custom row"},
    {"an entry with no words is none", "== count\n", 9, "count has no description"},
};

static void test_check_rules(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof checks / sizeof *checks; i++) {
        struct keydoc_words *w = keydoc_words_parse(checks[i].words, strlen(checks[i].words));
        char *msgs = NULL;
        size_t mlen = 0;
        FILE *out = open_memstream(&msgs, &mlen);
        size_t problems = keydoc_check(&small, w, out);
        fclose(out);
        if (problems != checks[i].problems || (checks[i].says && !strstr(msgs, checks[i].says)))
            fail_msg("%s: %zu problems:\n%s", checks[i].name, problems, msgs);
        free(msgs);
        keydoc_words_free(w);
    }
}

static void test_walk_and_text(void **state)
{
    (void)state;
    size_t n;
    struct keydoc_key *keys = keydoc_walk(&small, &n);
    static const char *const paths[] = {"count", "on",    "label",           "colour",
                                        "computed", "items", "items[].depth", "again",
                                        "opaque"};
    assert_int_equal(n, sizeof paths / sizeof *paths);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(keys[i].path, paths[i]);
    /* the second use of a table refers to the first */
    assert_null(keys[5].same_as);
    assert_string_equal(keys[7].same_as, "items[]");
    free(keys);

    static const struct {
        size_t row;
        const char *type, *dflt; /* dflt NULL: the row cannot say */
    } want[] = {
        {0, "integer, 0 to 10", "7"},     {1, "boolean", "true"},
        {2, "string", "x"},               {3, "one of: red, green", "green"},
        {4, "string", NULL},              {5, "list of mappings", NULL},
        {6, "mapping", NULL},             {7, "", NULL},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        char type[128], dflt[128];
        keydoc_type(&small_keys[want[i].row], type, sizeof type);
        assert_string_equal(type, want[i].type);
        bool has = keydoc_default(&small_keys[want[i].row], dflt, sizeof dflt);
        assert_int_equal(has, want[i].dflt != NULL);
        if (has)
            assert_string_equal(dflt, want[i].dflt);
    }
}

/* scdoc markup in a type or default text is escaped; words are not. */
static void test_scdoc_escapes(void **state)
{
    (void)state;
    const char *words = "== opaque\ntype: glob like *.csv\ndefault: _x and *.gz\nThe *words*.\n";
    struct keydoc_words *w = keydoc_words_parse(words, strlen(words));
    char *text = scdoc_of(&small, w);
    assert_non_null(strstr(text, "Type: glob like \\*.csv. Default: \\_x and \\*.gz.\n"));
    assert_non_null(strstr(text, "\tThe *words*.\n"));
    assert_non_null(strstr(text, "## The top level\n"));
    assert_non_null(strstr(text, "## items[]\n"));
    free(text);
    keydoc_words_free(w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_key_documented), cmocka_unit_test(test_generated_page),
        cmocka_unit_test(test_check_rules),          cmocka_unit_test(test_walk_and_text),
        cmocka_unit_test(test_scdoc_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
