/*
 * test_keytab.c - the key-table engine on its own, with a made-up table
 * that has a row of every type (and a nested map, a custom row, an
 * override and a check across keys). Each case is a YAML text and either
 * the exact message it must fail with (file, line:column, key path) or the
 * loaded struct rendered as one line. The texts never touch the disk:
 * keytab_load reads them from memory, under the name "demo.yaml".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keytab.h"
#include "testutil.h"

/* ---- the demo tables ------------------------------------------------------ */

enum color { RED, GREEN, BLUE };

struct inner {
    unsigned n;
    char *s;
};

struct demo {
    char *id;
    char *label;
    char *dir;
    unsigned count;
    size_t size;
    bool on;
    double ratio;
    int color;
    int shape;
    struct inner in;
    char *tag;
};

static const char *const color_names[] = {[RED] = "red", [GREEN] = "green", [BLUE] = "blue",
                                          NULL};

static int shape_lookup(const char *name)
{
    return !strcmp(name, "circle") ? 0 : !strcmp(name, "square") ? 1 : -1;
}

/* A custom row: upper-case letters only. */
static bool set_tag(struct keytab *kt, const struct keytab_key *k, void *obj, yaml_node_t *n,
                    const char *path)
{
    (void)k;
    struct demo *d = obj;
    const char *s = keytab_scalar(kt, n, path, "a tag");
    if (!s)
        return false;
    if (!*s || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != strlen(s))
        return keytab_fail(kt, n, path, "'%s' is not upper case", s);
    d->tag = xstrdup(s);
    return true;
}

static void dflt_tag(struct keytab *kt, const struct keytab_key *k, void *obj)
{
    (void)kt;
    ((struct demo *)obj)->tag = xstrdup(k->def_str);
}

static const struct keytab_key inner_keys[] = {
    {.name = "n", .type = KEYTAB_UINT, .offset = offsetof(struct inner, n), .def_int = 7,
     .min = 0, .max = 99},
    {.name = "s", .type = KEYTAB_STRING, .offset = offsetof(struct inner, s),
     .flags = KEYTAB_NONEMPTY, .def_str = "x"},
};

static const struct keytab_table inner_table = KEYTAB_TABLE(inner_keys, NULL);

/* An override on top of the "inner" row above it: absent keys stay. */
static bool set_patch(struct keytab *kt, const struct keytab_key *k, void *obj,
                      yaml_node_t *n, const char *path)
{
    (void)k;
    return keytab_load_mapping(kt, &inner_table, &((struct demo *)obj)->in, n, path, false);
}

static bool check_demo(struct keytab *kt, void *obj, yaml_node_t *map, const char *path)
{
    const struct demo *d = obj;
    if (d->count > d->size) {
        yaml_node_pair_t *p = map ? keytab_find(kt, map, "count") : NULL;
        char kpath[KEYTAB_PATH_MAX];
        keytab_path_key(kpath, path, "count");
        return keytab_fail(kt, p ? keytab_node(kt, p->value) : map, kpath,
                           "%u is more than size (%zu)", d->count, d->size);
    }
    return true;
}

#define DEMO(f) offsetof(struct demo, f)

static const struct keytab_key demo_keys[] = {
    {.name = "id", .type = KEYTAB_STRING, .offset = DEMO(id),
     .flags = KEYTAB_REQUIRED | KEYTAB_NONEMPTY},
    {.name = "label", .type = KEYTAB_STRING, .offset = DEMO(label), .def_str = "none"},
    {.name = "dir", .type = KEYTAB_PATH, .offset = DEMO(dir), .def_str = "data"},
    {.name = "count", .type = KEYTAB_UINT, .offset = DEMO(count), .def_int = 3, .min = 1,
     .max = 10},
    {.name = "size", .type = KEYTAB_SIZE, .offset = DEMO(size), .def_int = 100, .min = 0,
     .max = 1000},
    {.name = "on", .type = KEYTAB_BOOL, .offset = DEMO(on), .def_int = true},
    {.name = "ratio", .type = KEYTAB_DOUBLE, .offset = DEMO(ratio), .def_num = 0.5,
     .dmin = 0.0, .dmax = 1.0},
    {.name = "color", .type = KEYTAB_ENUM, .offset = DEMO(color), .names = color_names,
     .def_int = GREEN},
    {.name = "shape", .type = KEYTAB_ENUM, .offset = DEMO(shape), .lookup = shape_lookup,
     .def_int = 1},
    {.name = "inner", .type = KEYTAB_MAP, .offset = DEMO(in), .sub = &inner_table},
    {.name = "patch", .type = KEYTAB_CUSTOM, .set = set_patch},
    {.name = "tag", .type = KEYTAB_CUSTOM, .set = set_tag, .dflt = dflt_tag, .def_str = "TAG"},
};

static const struct keytab_table demo_table = KEYTAB_TABLE(demo_keys, check_demo);

/* Every field on one line, in table order. */
static char *render(const struct demo *d)
{
    return xasprintf("id=%s label=%s dir=%s count=%u size=%zu on=%d ratio=%g color=%d "
                     "shape=%d in.n=%u in.s=%s tag=%s",
                     d->id ? d->id : "(null)", d->label ? d->label : "(null)",
                     d->dir ? d->dir : "(null)", d->count, d->size, d->on, d->ratio, d->color,
                     d->shape, d->in.n, d->in.s ? d->in.s : "(null)",
                     d->tag ? d->tag : "(null)");
}

static void demo_free(struct demo *d)
{
    free(d->id);
    free(d->label);
    free(d->dir);
    free(d->in.s);
    free(d->tag);
}

/* ---- the cases --------------------------------------------------------------- */

struct kcase {
    const char *name;
    const char *yaml;
    const char *err;  /* the exact message; NULL: must load */
    const char *want; /* with err NULL: render() of the result */
};

#define DEFAULTS_AFTER_ID                                                                  \
    "label=none dir=/base/data count=3 size=100 on=1 ratio=0.5 color=1 shape=1 in.n=7 " \
    "in.s=x tag=TAG"

static const struct kcase cases[] = {
    /* defaults, and each type set */
    {"only the required key", "id: a\n", NULL, "id=a " DEFAULTS_AFTER_ID},
    {"null values take the default", "id: a\nlabel: ~\ncount:\ninner: null\ntag: NULL\n", NULL,
     "id=a " DEFAULTS_AFTER_ID},
    {"every type set",
     "id: a\nlabel: hello\ndir: ../x/./y/\ncount: 10\nsize: 1000\non: Off\nratio: 1\n"
     "color: blue\nshape: circle\ninner: {n: 0, s: z}\ntag: ABC\n",
     NULL,
     "id=a label=hello dir=/x/y count=10 size=1000 on=0 ratio=1 color=2 shape=0 in.n=0 in.s=z "
     "tag=ABC"},
    {"an absolute path stays", "id: a\ndir: /abs//d\n", NULL,
     "id=a label=none dir=/abs/d count=3 size=100 on=1 ratio=0.5 color=1 shape=1 in.n=7 "
     "in.s=x tag=TAG"},
    {"booleans in any case", "id: a\non: YES\n", NULL, "id=a " DEFAULTS_AFTER_ID},
    {"a quoted integer and exponent", "id: a\ncount: '4'\nratio: 25e-2\n", NULL,
     "id=a label=none dir=/base/data count=4 size=100 on=1 ratio=0.25 color=1 shape=1 "
     "in.n=7 in.s=x tag=TAG"},
    {"a nested map takes its defaults", "id: a\ninner: {n: 5}\n", NULL,
     "id=a label=none dir=/base/data count=3 size=100 on=1 ratio=0.5 color=1 shape=1 in.n=5 "
     "in.s=x tag=TAG"},
    {"an override keeps what it does not name", "id: a\ninner: {n: 5}\npatch: {s: y}\n", NULL,
     "id=a label=none dir=/base/data count=3 size=100 on=1 ratio=0.5 color=1 shape=1 in.n=5 "
     "in.s=y tag=TAG"},
    {"rows apply in table order, not document order", "patch: {n: 9}\nid: a\n", NULL,
     "id=a label=none dir=/base/data count=3 size=100 on=1 ratio=0.5 color=1 shape=1 in.n=9 "
     "in.s=x tag=TAG"},

    /* required and empty */
    {"required key absent", "label: b\n", "demo.yaml:1:1: id: required", NULL},
    {"required key null", "label: b\nid: ~\n", "demo.yaml:2:5: id: required", NULL},
    {"empty document", "", "demo.yaml: id: required", NULL},
    {"required key empty", "id: ''\n", "demo.yaml:1:5: id: must not be empty", NULL},
    {"nested string empty", "id: a\ninner:\n  s: \"\"\n",
     "demo.yaml:3:6: inner.s: must not be empty", NULL},

    /* unknown and duplicate keys */
    {"unknown key", "id: a\ncolour: red\n", "demo.yaml:2:1: colour: unknown key", NULL},
    {"unknown nested key", "id: a\ninner: {n: 1, m: 2}\n", "demo.yaml:2:15: inner.m: unknown key",
     NULL},
    {"unknown key in an override", "id: a\npatch:\n  q: 1\n",
     "demo.yaml:3:3: patch.q: unknown key", NULL},
    {"duplicate key", "id: a\ncount: 1\ncount: 2\n",
     "demo.yaml:3:1: count: duplicate key (first at line 2)", NULL},
    {"duplicate nested key", "id: a\ninner:\n  n: 1\n  n: 1\n",
     "demo.yaml:4:3: inner.n: duplicate key (first at line 3)", NULL},
    {"a key that is not a name", "id: a\n[x]: 1\n",
     "demo.yaml:2:1: expected a key name, got a list", NULL},

    /* wrong types and bounds */
    {"string given a list", "id: [a]\n", "demo.yaml:1:5: id: expected a string, got a list",
     NULL},
    {"string given a mapping", "id: {a: 1}\n",
     "demo.yaml:1:5: id: expected a string, got a mapping", NULL},
    {"string with a NUL", "id: \"a\\0b\"\n", "demo.yaml:1:5: id: contains a NUL character",
     NULL},
    {"uint not a number", "id: a\ncount: many\n",
     "demo.yaml:2:8: count: expected an integer, got 'many'", NULL},
    {"uint a float", "id: a\ncount: 2.0\n",
     "demo.yaml:2:8: count: expected an integer, got '2.0'", NULL},
    {"uint below", "id: a\ncount: 0\n", "demo.yaml:2:8: count: must be between 1 and 10, got 0",
     NULL},
    {"uint above", "id: a\ncount: 11\n",
     "demo.yaml:2:8: count: must be between 1 and 10, got 11", NULL},
    {"size above", "id: a\nsize: 1001\n",
     "demo.yaml:2:7: size: must be between 0 and 1000, got 1001", NULL},
    {"size negative", "id: a\nsize: -1\n",
     "demo.yaml:2:7: size: must be between 0 and 1000, got -1", NULL},
    {"bool not a bool", "id: a\non: 1\n",
     "demo.yaml:2:5: on: expected a boolean (true or false), got '1'", NULL},
    {"double above", "id: a\nratio: 1.5\n",
     "demo.yaml:2:8: ratio: must be between 0 and 1, got 1.5", NULL},
    {"double not decimal", "id: a\nratio: .inf\n",
     "demo.yaml:2:8: ratio: expected a number, got '.inf'", NULL},
    {"double hex", "id: a\nratio: 0x1\n", "demo.yaml:2:8: ratio: expected a number, got '0x1'",
     NULL},
    {"enum by names", "id: a\ncolor: pink\n",
     "demo.yaml:2:8: color: unknown value 'pink' (one of: red, green, blue)", NULL},
    {"enum by lookup", "id: a\nshape: hexagon\n", "demo.yaml:2:8: shape: unknown shape 'hexagon'",
     NULL},
    {"map given a scalar", "id: a\ninner: 3\n",
     "demo.yaml:2:8: inner: expected a mapping, got '3'", NULL},
    {"nested type error", "id: a\ninner:\n  n: [1]\n",
     "demo.yaml:3:6: inner.n: expected an integer, got a list", NULL},
    {"custom row refuses", "id: a\ntag: low\n", "demo.yaml:2:6: tag: 'low' is not upper case",
     NULL},
    {"check across keys", "id: a\nsize: 2\ncount: 5\n",
     "demo.yaml:3:8: count: 5 is more than size (2)", NULL},
    {"check across defaults", "id: a\nsize: 2\n", "demo.yaml:1:1: count: 3 is more than size (2)",
     NULL},

    /* the document */
    {"top level a list", "- a\n- b\n",
     "demo.yaml:1:1: expected a mapping of settings at the top level, got a list", NULL},
    {"top level a scalar", "hello\n",
     "demo.yaml:1:1: expected a mapping of settings at the top level, got 'hello'", NULL},
    {"two documents", "id: a\n---\nid: b\n", "demo.yaml:2:1: only one YAML document is allowed",
     NULL},
    {"syntax error", "id: a\n  bad: x\n",
     "demo.yaml:2:6: mapping values are not allowed in this context", NULL},
};

static void run_case(void **state)
{
    const struct kcase *c = *state;
    struct demo d = {0};
    char err[CDR_ERRLEN] = "untouched";
    struct keytab kt = {.file = "demo.yaml", .err = err, .errlen = sizeof err,
                        .base_dir = "/base"};
    bool ok = keytab_load(&kt, c->yaml, strlen(c->yaml), &demo_table, &d);
    char *got = render(&d);
    if (c->err) {
        if (ok || strcmp(err, c->err) != 0)
            fail_msg("%s: want error \"%s\", got %s \"%s\"", c->name, c->err,
                     ok ? "a load and" : "", err);
    } else {
        if (!ok)
            fail_msg("%s: want a load, got \"%s\"", c->name, err);
        if (strcmp(got, c->want) != 0)
            fail_msg("%s:\n got  %s\n want %s", c->name, got, c->want);
    }
    assert_null(kt.doc); /* the document is gone after the load */
    free(got);
    demo_free(&d);
}

/* ---- the exported helpers ---------------------------------------------------- */

static void test_parse_int(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        long long min, max, want;
        const char *err;
    } t[] = {
        {"5", 1, 10, 5, NULL},
        {"+5", 1, 10, 5, NULL},
        {"-5", -10, 10, -5, NULL},
        {"010", 1, 10, 10, NULL}, /* decimal, not octal */
        {"10", 1, 10, 10, NULL},
        {"11", 1, 10, 0, "must be between 1 and 10, got 11"},
        {"0", 1, 10, 0, "must be between 1 and 10, got 0"},
        {"9223372036854775808", 0, 10, 0, "must be between 0 and 10, got 9223372036854775808"},
        {"", 1, 10, 0, "expected an integer, got ''"},
        {"-", 1, 10, 0, "expected an integer, got '-'"},
        {" 5", 1, 10, 0, "expected an integer, got ' 5'"},
        {"5 ", 1, 10, 0, "expected an integer, got '5 '"},
        {"0x5", 1, 10, 0, "expected an integer, got '0x5'"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char msg[CDR_ERRLEN] = "";
        long long v = -999;
        bool ok = keytab_parse_int(t[i].s, t[i].min, t[i].max, &v, msg, sizeof msg);
        if (t[i].err) {
            if (ok || strcmp(msg, t[i].err) != 0)
                fail_msg("'%s': want \"%s\", got %s \"%s\"", t[i].s, t[i].err,
                         ok ? "ok and" : "", msg);
            assert_int_equal(v, -999); /* untouched on failure */
        } else {
            if (!ok)
                fail_msg("'%s': refused: %s", t[i].s, msg);
            assert_int_equal(v, t[i].want);
        }
    }
}

static void test_path_resolve(void **state)
{
    (void)state;
    static const struct {
        const char *base, *p, *want;
    } t[] = {
        {"/base", "a", "/base/a"},
        {"/base", "a/./b/../c", "/base/a/c"},
        {"/base", "../x", "/x"},
        {"/base", "../../../x", "/x"},
        {"/base", "/abs//d/", "/abs/d"},
        {"/base", ".", "/base"},
        {"/", "..", "/"},
        {"/a/b", "../..", "/"},
        {"/a", "b//c///", "/a/b/c"},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
        char *got = keytab_path_resolve(t[i].base, t[i].p);
        if (strcmp(got, t[i].want) != 0)
            fail_msg("resolve('%s', '%s') = '%s', want '%s'", t[i].base, t[i].p, got,
                     t[i].want);
        free(got);
    }
}

/* A key path too long for a message is cut and marked, never overflowed. */
static void test_long_key_path(void **state)
{
    (void)state;
    char name[KEYTAB_PATH_MAX * 2];
    memset(name, 'k', sizeof name - 1);
    name[sizeof name - 1] = '\0';
    char out[KEYTAB_PATH_MAX];
    keytab_path_key(out, "top", name);
    assert_int_equal(strlen(out), KEYTAB_PATH_MAX - 1);
    assert_string_equal(out + KEYTAB_PATH_MAX - 4, "...");
    assert_memory_equal(out, "top.kkk", 7);

    keytab_path_index(out, "list", 12);
    assert_string_equal(out, "list[12]");
}

/* With no error buffer a failing load still fails, quietly. */
static void test_no_error_buffer(void **state)
{
    (void)state;
    struct demo d = {0};
    struct keytab kt = {.file = "demo.yaml", .base_dir = "/base"};
    assert_false(keytab_load(&kt, "id: a\ncount: 0\n", 15, &demo_table, &d));
    demo_free(&d);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_parse_int),
        cmocka_unit_test(test_path_resolve),
        cmocka_unit_test(test_long_key_path),
        cmocka_unit_test(test_no_error_buffer),
    };
    RUN_TABLE_THEN_FIXED(cases, run_case, fixed, NULL, NULL);
}
