/*
 * test_source.c - source.c's public rules: which file names are candidates
 * (globs matched case-insensitively; hidden and temporary names never), and
 * source_walk on a real temp tree: recursive or not, processed_dir and
 * failed_dir and hidden folders not entered, symbolic links followed only
 * when they stay inside the tree (and never as folders), oldest first by
 * mtime (set with utimensat), ties by path.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "source.h"
#include "testutil.h"

/* cdr_source's strings are not const (config.c owns them). */
static char tname[] = "t";

/* ---- names ---------------------------------------------------------------- */

#define MAXPAT 3

static const struct {
    const char *patterns[MAXPAT]; /* config.c always gives one ("*.csv" by default) */
    const char *name;
    bool want;
} match_cases[] = {
    {{"*.csv"}, "Master.csv", true},
    {{"*.csv"}, "MASTER.CSV", true},
    {{"*.csv"}, "master.Csv", true},
    {{"*.csv"}, "x.csv.bak", false},
    {{"*.csv"}, "x.txt", false},
    {{"*.csv"}, "csv", false},
    {{"*.csv"}, "Master.txt", false},
    {{0}, "Master.csv", false}, /* no pattern, no match: nothing falls back */
    {{"Master*.csv", "*.cdr"}, "master-2024-01.CSV", true},
    {{"Master*.csv", "*.cdr"}, "calls.CDR", true},
    {{"Master*.csv", "*.cdr"}, "calls.csv", false},
    {{"?.csv"}, "a.csv", true},
    {{"?.csv"}, "ab.csv", false},
    {{"[ab]*.csv"}, "B1.csv", true},
    {{"[ab]*.csv"}, "c1.csv", false},
    /* ignored names never match, whatever the pattern */
    {{"*"}, "anything", true},
    {{"*"}, ".hidden.csv", false},
    {{"*"}, "a.csv.part", false},
    {{"*"}, "a.csv.TMP", false},
    {{"*"}, "a.csv.crdownload", false},
    {{"*"}, "a.csv~", false},
    {{"*.csv"}, ".Master.csv", false},
};

static void test_name_matches(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof match_cases / sizeof *match_cases; i++) {
        struct cdr_source src = {.name = tname};
        char *pats[MAXPAT];
        while (src.npatterns < MAXPAT && match_cases[i].patterns[src.npatterns]) {
            pats[src.npatterns] = (char *)match_cases[i].patterns[src.npatterns];
            src.npatterns++;
        }
        src.patterns = pats;
        bool got = source_name_matches(&src, match_cases[i].name);
        if (got != match_cases[i].want)
            fail_msg("case %zu: '%s' against %s...: got %d, want %d", i, match_cases[i].name,
                     src.npatterns ? pats[0] : "(none)", got, match_cases[i].want);
    }
}

/* members: the base name inside an archive, '/' or a Windows '\\' before it. */
static const struct {
    const char *member;
    bool want;
} member_cases[] = {
    {"Master.csv", true},
    {"MASTER.CSV", true},
    {"pbx1/Master.csv", true},
    {"CDR\\2026\\Master.csv", true},
    {"../../etc/Master.csv", true},
    {"csv/readme.txt", false},
    {"Master.csv/", false},
    {"Master.csv.gz", false},
    {"", false},
};

static void test_member_matches(void **state)
{
    (void)state;
    char pat[] = "*.csv";
    char *pats[1] = {pat};
    struct cdr_source src = {.name = tname, .members = pats, .nmembers = 1};
    for (size_t i = 0; i < sizeof member_cases / sizeof *member_cases; i++)
        if (source_member_matches(&src, member_cases[i].member) != member_cases[i].want)
            fail_msg("'%s': want %d", member_cases[i].member, member_cases[i].want);
}

static const struct {
    const char *name;
    bool want;
} ignored_cases[] = {
    {".x", true},
    {".csv", true},
    {"..csv", true},
    {"a.part", true},
    {"A.PART", true},
    {"a.tmp", true},
    {"Master.csv.tmp", true},
    {"a.crdownload", true},
    {"x~", true},
    {"a.swp", true},
    {"a.csv", false},
    {"part", false},
    {"a.partial", false},
    {"tmp", false},
    {"~x", false},
    {"a.tmp.csv", false},
    {"a.csv.", false},
};

static void test_name_ignored(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof ignored_cases / sizeof *ignored_cases; i++)
        if (source_name_ignored(ignored_cases[i].name) != ignored_cases[i].want)
            fail_msg("'%s': want %s", ignored_cases[i].name,
                     ignored_cases[i].want ? "ignored" : "a candidate");
}

/* ---- walking a tree ----------------------------------------------------------- */

static char root[] = "/tmp/test_source.XXXXXX";

/* Files below root: relative path and mtime (seconds; 0: not a file here). */
static const struct {
    const char *path;
    time_t mtime;
} tree_files[] = {
    {"in/a.csv", 300},
    {"in/b.CSV", 100},
    {"in/sub/c.csv", 200},
    {"in/sub/deep/d.csv", 50},
    {"in/notes.txt", 10},
    {"in/.hidden.csv", 10},
    {"in/e.csv.part", 10},
    {"in/.git/g.csv", 10},
    {"in/processed/p.csv", 10},
    {"in/failed/f.csv", 10},
    {"outside/o.csv", 10},
};

/* Symbolic links: where, and what they point at (as written in the link). */
static const struct {
    const char *path, *target;
} tree_links[] = {
    {"in/link_in.csv", "sub/c.csv"},      /* inside: listed, with c.csv's mtime */
    {"in/link_out.csv", "../outside/o.csv"}, /* leaves the tree: not listed */
    {"in/dangling.csv", "nowhere.csv"},   /* points at nothing: not listed */
    {"in/linkdir", "sub"},                /* a folder: never descended into */
    {"in/linkdir.csv", "sub"},            /* a folder under a matching name */
};

static char *at(const char *rel)
{
    return xasprintf("%s/%s", root, rel);
}

static void make_parents(const char *rel)
{
    char *path = at(rel);
    for (char *s = path + strlen(root) + 1; (s = strchr(s, '/')) != NULL; s++) {
        *s = '\0';
        if (mkdir(path, 0700) < 0 && errno != EEXIST)
            fail_msg("mkdir %s: %s", path, strerror(errno));
        *s = '/';
    }
    free(path);
}

static int make_tree(void **state)
{
    (void)state;
    log_set_level(LOG_ERROR); /* the walk warns about the links it skips */
    if (!mkdtemp(root))
        return -1;
    for (size_t i = 0; i < sizeof tree_files / sizeof *tree_files; i++) {
        make_parents(tree_files[i].path);
        char *path = at(tree_files[i].path);
        put_file(path, "x\n");
        struct timespec ts[2] = {{tree_files[i].mtime, 0}, {tree_files[i].mtime, 0}};
        if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
            return -1;
        free(path);
    }
    for (size_t i = 0; i < sizeof tree_links / sizeof *tree_links; i++) {
        char *path = at(tree_links[i].path);
        int rc = symlink(tree_links[i].target, path);
        free(path);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int remove_tree(void **state)
{
    (void)state;
    rm_tree(root);
    return 0;
}

#define MAXLISTED 12

struct walk_case {
    const char *name;
    const char *dir;         /* relative to root */
    bool recursive;
    bool dirs_inside;        /* processed_dir and failed_dir are in/processed, in/failed */
    const char *want[MAXLISTED]; /* relative paths, oldest first */
};

static const struct walk_case walk_cases[] = {
    {"recursive", "in", true, true,
     {"in/sub/deep/d.csv", "in/b.CSV", "in/link_in.csv", "in/sub/c.csv", "in/a.csv"}},
    {"not recursive", "in", false, true, {"in/b.CSV", "in/link_in.csv", "in/a.csv"}},
    /* the same tree with processed_dir and failed_dir elsewhere: their
     * folders are ordinary ones then (so the skip above is by path) */
    {"recursive, archive folders elsewhere", "in", true, false,
     {"in/failed/f.csv", "in/processed/p.csv", "in/sub/deep/d.csv", "in/b.CSV",
      "in/link_in.csv", "in/sub/c.csv", "in/a.csv"}},
    /* a folder given to import below the source's path */
    {"a sub-folder", "in/sub", true, true, {"in/sub/deep/d.csv", "in/sub/c.csv"}},
    {"a sub-folder, not recursive", "in/sub", false, true, {"in/sub/c.csv"}},
};

static void run_walk_case(void **state)
{
    const struct walk_case *c = *state;
    char *in = at("in"), *processed = at(c->dirs_inside ? "in/processed" : "processed");
    char *failed = at(c->dirs_inside ? "in/failed" : "failed");
    char *dir = at(c->dir);
    char pattern[] = "*.csv";
    char *patterns[] = {pattern};
    struct cdr_source src = {.name = tname, .path = in, .patterns = patterns, .npatterns = 1,
                             .recursive = c->recursive, .processed_dir = processed,
                             .failed_dir = failed};
    struct source_list list = {0};
    char err[CDR_ERRLEN] = "";

    if (source_walk(&src, dir, c->recursive, true, &list, err, sizeof err) != 0)
        fail_msg("%s: %s", c->name, err);
    size_t nwant = 0;
    while (nwant < MAXLISTED && c->want[nwant])
        nwant++;
    bool same = list.n == nwant;
    for (size_t i = 0; same && i < nwant; i++) {
        char *want = at(c->want[i]);
        same = strcmp(list.files[i].path, want) == 0;
        free(want);
    }
    if (!same) {
        for (size_t i = 0; i < list.n; i++)
            print_message("  got %s (mtime %lld)\n", list.files[i].path,
                          (long long)list.files[i].mtime.tv_sec);
        fail_msg("%s: %zu files listed, want %zu in the order of the table", c->name, list.n,
                 nwant);
    }
    /* A link is listed with its target's times and size. */
    for (size_t i = 0; i < list.n; i++)
        if (strstr(list.files[i].path, "/link_in.csv")) {
            assert_int_equal(list.files[i].mtime.tv_sec, 200);
            assert_int_equal(list.files[i].size, 2);
        }
    source_list_free(&list);
    assert_null(list.files);
    assert_int_equal(list.n, 0);
    free(in);
    free(processed);
    free(failed);
    free(dir);
}

static void test_walk_errors(void **state)
{
    (void)state;
    struct cdr_source src = {.name = tname};
    struct source_list list = {0};
    char err[CDR_ERRLEN] = "";

    char *missing = at("no-such-folder");
    char *want = xasprintf("cannot read folder %s: No such file or directory", missing);
    assert_int_equal(source_walk(&src, missing, true, true, &list, err, sizeof err), -1);
    assert_string_equal(err, want);
    assert_int_equal(list.n, 0);

    char *file = at("in/a.csv");
    err[0] = '\0';
    assert_int_equal(source_walk(&src, file, true, true, &list, err, sizeof err), -1);
    char *prefix = xasprintf("cannot read folder %s: ", file);
    assert_true(strncmp(err, prefix, strlen(prefix)) == 0);
    assert_int_equal(list.n, 0);

    free(prefix);
    free(file);
    free(want);
    free(missing);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_name_matches),
        cmocka_unit_test(test_member_matches),
        cmocka_unit_test(test_name_ignored),
        cmocka_unit_test(test_walk_errors),
    };
    RUN_TABLE_THEN_FIXED(walk_cases, run_walk_case, fixed, make_tree, remove_tree);
}
