/*
 * test_config.c - config.c against a table of importer.yaml texts: each
 * case is a YAML text and either the substring its error must contain (with
 * the line:column where that matters) or a check of the loaded structs.
 * The texts go to mkstemp files under etc/ in a fresh temp folder, so that
 * relative paths have a known folder to resolve against.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char tmpdir[] = "/tmp/test_config.XXXXXX";

struct config_case {
    const char *name;
    const char *yaml;
    const char *err;  /* substring of the error; NULL: must load */
    void (*check)(const struct cdr_config *cfg);
    const char *tz;   /* $TZ during the load; NULL: as inherited */
};

/* One source with only the required keys, lines 1-3. */
#define SRC "sources:\n  - name: pbx\n    path: /var/spool/cdr/in\n"
#define CUSTOM SRC "    format: custom\n"

/* ---- helpers ------------------------------------------------------------- */

static char *write_yaml(const char *text)
{
    char *path = xasprintf("%s/etc/importer.XXXXXX", tmpdir);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
    return path;
}

static char *tmp_path(const char *suffix)
{
    return xasprintf("%s/%s", tmpdir, suffix);
}

static void assert_watch(const struct cdr_watch_config *w, enum cdr_watch_backend backend,
                         unsigned poll_ms, unsigned settle_ms, unsigned rescan_s)
{
    assert_int_equal(w->backend, backend);
    assert_int_equal(w->poll_interval_ms, poll_ms);
    assert_int_equal(w->settle_ms, settle_ms);
    assert_int_equal(w->rescan_interval_s, rescan_s);
}

/* ---- checks of configs that load ------------------------------------------ */

static void check_defaults(const struct cdr_config *cfg)
{
    char *host_tz = config_host_timezone();
    char *etc = tmp_path("etc");

    assert_string_equal(cfg->base_dir, etc);
    assert_true(strncmp(cfg->file, etc, strlen(etc)) == 0 && cfg->file[strlen(etc)] == '/');
    assert_null(cfg->dsn);
    assert_string_equal(cfg->schema, "public");
    assert_int_equal(cfg->partition, CDR_PARTITION_NONE);
    assert_int_equal(cfg->retention_months, 0);
    assert_int_equal(cfg->jobs, 1);
    assert_watch(&cfg->watch, CDR_WATCH_INOTIFY, 2000, 1000, 300);
    assert_int_equal(cfg->nsources, 1);

    const struct cdr_source *s = &cfg->sources[0];
    assert_string_equal(s->name, "pbx");
    assert_string_equal(s->path, "/var/spool/cdr/in");
    /* The CSV and the packed downloads (issue 10). */
    static const char *const packed[] = {"*.csv", "*.zip", "*.tar", "*.tgz",
                                         "*.tar.gz", "*.tar.bz2", "*.tar.xz", "*.gz"};
    assert_int_equal(s->npatterns, sizeof packed / sizeof *packed);
    for (size_t i = 0; i < s->npatterns; i++)
        assert_string_equal(s->patterns[i], packed[i]);
    assert_int_equal(s->nmembers, 1);
    assert_string_equal(s->members[0], "*.csv");
    assert_int_equal(s->max_member_bytes, 4ull << 30);
    assert_true(s->recursive);
    assert_int_equal(s->format, CDR_FMT_KXHTS);
    assert_null(s->columns);
    assert_int_equal(s->ncolumns, 0);
    assert_false(s->header);
    assert_string_equal(s->timezone, host_tz);
    assert_string_equal(s->encoding, "utf-8");
    assert_int_equal(s->on_success, CDR_ON_SUCCESS_MOVE);
    assert_string_equal(s->processed_dir, "/var/spool/cdr/processed");
    assert_string_equal(s->failed_dir, "/var/spool/cdr/failed");
    assert_true(s->max_reject_ratio == CDR_DEFAULT_MAX_REJECT_RATIO);
    assert_int_equal(s->max_line_bytes, CDR_DEFAULT_MAX_LINE_BYTES);
    assert_false(s->has_watch);
    assert_watch(&s->watch, CDR_WATCH_INOTIFY, 2000, 1000, 300);
    free(etc);
    free(host_tz);
}

static void check_all_set(const struct cdr_config *cfg)
{
    assert_string_equal(cfg->dsn, "dbname=cdr");
    assert_string_equal(cfg->schema, "telephony");
    assert_int_equal(cfg->partition, CDR_PARTITION_MONTH);
    assert_int_equal(cfg->retention_months, 1200);
    assert_int_equal(cfg->jobs, 8);
    assert_watch(&cfg->watch, CDR_WATCH_POLL, 250, 0, 60);
    const struct cdr_source *s = &cfg->sources[0];
    assert_int_equal(s->npatterns, 2);
    assert_string_equal(s->patterns[0], "*.CSV");
    assert_string_equal(s->patterns[1], "cdr-?.txt");
    assert_int_equal(s->nmembers, 2);
    assert_string_equal(s->members[0], "Master*.csv");
    assert_string_equal(s->members[1], "*.CDR");
    assert_int_equal(s->max_member_bytes, 1048576);
    assert_false(s->recursive);
    assert_int_equal(s->format, CDR_FMT_CUSTOM);
    assert_true(s->header);
    assert_string_equal(s->timezone, "America/Sao_Paulo");
    assert_string_equal(s->encoding, "ISO-8859-1");
    assert_int_equal(s->on_success, CDR_ON_SUCCESS_DELETE);
    assert_string_equal(s->processed_dir, "/srv/done");
    assert_string_equal(s->failed_dir, "/srv/bad");
    assert_true(s->max_reject_ratio == 0.25);
    assert_int_equal(s->max_line_bytes, 1024);
    assert_true(s->has_watch);
    assert_watch(&s->watch, CDR_WATCH_INOTIFY, 9, 8, 7);
}

static void check_relative(const struct cdr_config *cfg)
{
    char *in = tmp_path("spool/in");
    char *done = tmp_path("etc/done");
    char *failed = tmp_path("spool/failed");
    assert_string_equal(cfg->sources[0].path, in);
    assert_string_equal(cfg->sources[0].processed_dir, done);
    assert_string_equal(cfg->sources[0].failed_dir, failed);
    free(in);
    free(done);
    free(failed);
}

static void check_normalised(const struct cdr_config *cfg)
{
    assert_string_equal(cfg->sources[0].path, "/var/cdr");
    assert_string_equal(cfg->sources[0].processed_dir, "/var/processed");
    assert_string_equal(cfg->sources[0].failed_dir, "/");
}

static void check_watch_merge(const struct cdr_config *cfg)
{
    assert_watch(&cfg->watch, CDR_WATCH_POLL, 500, 1000, 300);
    assert_true(cfg->sources[0].has_watch);
    assert_watch(&cfg->sources[0].watch, CDR_WATCH_POLL, 500, 50, 300);
    assert_false(cfg->sources[1].has_watch);
    assert_watch(&cfg->sources[1].watch, CDR_WATCH_POLL, 500, 1000, 300);
    assert_true(cfg->sources[2].has_watch);
    assert_watch(&cfg->sources[2].watch, CDR_WATCH_INOTIFY, 500, 1000, 30);
}

static void check_watch_alias(const struct cdr_config *cfg)
{
    assert_watch(&cfg->watch, CDR_WATCH_INOTIFY, 2000, 10, 300);
    assert_true(cfg->sources[0].has_watch);
    assert_watch(&cfg->sources[0].watch, CDR_WATCH_INOTIFY, 2000, 10, 300);
}

static void check_empty_watch(const struct cdr_config *cfg)
{
    assert_true(cfg->sources[0].has_watch);
    assert_watch(&cfg->sources[0].watch, CDR_WATCH_INOTIFY, 2000, 1000, 300);
}

static void check_pattern_string(const struct cdr_config *cfg)
{
    assert_int_equal(cfg->sources[0].npatterns, 1);
    assert_string_equal(cfg->sources[0].patterns[0], "Master*.csv");
}

static void check_pattern_list(const struct cdr_config *cfg)
{
    assert_int_equal(cfg->sources[0].npatterns, 3);
    assert_string_equal(cfg->sources[0].patterns[0], "a.csv");
    assert_string_equal(cfg->sources[0].patterns[1], "*.cdr");
    assert_string_equal(cfg->sources[0].patterns[2], "123");
}

static void check_columns(const struct cdr_config *cfg)
{
    const struct cdr_source *s = &cfg->sources[0];
    assert_int_equal(s->format, CDR_FMT_CUSTOM);
    assert_int_equal(s->ncolumns, 9);
    assert_int_equal(s->columns[0].kind, CDR_COL_FIELD);
    assert_int_equal(s->columns[0].field, CDR_F_CALL_ID);
    for (size_t i = 1; i <= 3; i++)
        assert_int_equal(s->columns[i].kind, CDR_COL_SKIP);
    assert_int_equal(s->columns[4].kind, CDR_COL_EXTRA);
    assert_string_equal(s->columns[4].extra_name, "trunk");
    assert_int_equal(s->columns[5].kind, CDR_COL_FIELD);
    assert_int_equal(s->columns[5].field, CDR_F_CALLER_PHONE);
    assert_int_equal(s->columns[6].kind, CDR_COL_SKIP);
    assert_int_equal(s->columns[7].kind, CDR_COL_EXTRA);
    assert_string_equal(s->columns[7].extra_name, "x.y");
    assert_true(s->header);
}

static void check_booleans(const struct cdr_config *cfg)
{
    static const bool recursive[] = {false, false, false, true, true};
    static const bool header[] = {true, true, true, false, false};
    assert_int_equal(cfg->nsources, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(cfg->sources[i].recursive, recursive[i]);
        assert_int_equal(cfg->sources[i].header, header[i]);
    }
}

static void check_nulls_default(const struct cdr_config *cfg)
{
    char *host_tz = config_host_timezone();
    assert_string_equal(cfg->sources[0].encoding, "utf-8");
    assert_string_equal(cfg->sources[0].timezone, host_tz);
    assert_int_equal(cfg->jobs, 1);
    assert_string_equal(cfg->schema, "public");
    free(host_tz);
}

static void check_host_tz(const struct cdr_config *cfg)
{
    assert_string_equal(cfg->sources[0].timezone, "America/New_York");
}

static void check_empty_dsn(const struct cdr_config *cfg)
{
    assert_string_equal(cfg->dsn, "");
}

static void check_quoted_int(const struct cdr_config *cfg)
{
    assert_int_equal(cfg->jobs, 4);
}

static void check_bounds_low(const struct cdr_config *cfg)
{
    assert_true(cfg->sources[0].max_reject_ratio == 0.0);
    assert_int_equal(cfg->sources[0].max_line_bytes, 1024);
    assert_int_equal(cfg->jobs, 1024);
}

static void check_bounds_high(const struct cdr_config *cfg)
{
    assert_true(cfg->sources[0].max_reject_ratio == 1.0);
    assert_int_equal(cfg->sources[0].max_line_bytes, 64u * 1024u * 1024u);
    assert_true(cfg->sources[1].max_reject_ratio == 0.5);
}

static void check_nonrecursive_inside(const struct cdr_config *cfg)
{
    assert_string_equal(cfg->sources[0].processed_dir, "/var/spool/cdr/in/done");
}

static void check_two_sources(const struct cdr_config *cfg)
{
    assert_int_equal(cfg->nsources, 2);
    assert_ptr_equal(config_find_source(cfg, "b"), &cfg->sources[1]);
    assert_ptr_equal(config_find_source(cfg, "a"), &cfg->sources[0]);
    assert_null(config_find_source(cfg, "c"));
    assert_null(config_find_source(cfg, NULL));
    assert_null(config_find_source(NULL, "a"));
}

/* ---- the table ------------------------------------------------------------ */

static const struct config_case cases[] = {
    /* Loads, and the values are what the text (or the default) says. */
    {"defaults", SRC, NULL, check_defaults, NULL},
    {"document markers", "---\n" SRC "...\n", NULL, check_defaults, NULL},
    {"every key set",
     "database: {dsn: dbname=cdr, schema: telephony, partition: month,"
     " retention_months: 1200}\n"
     "jobs: 8\n"
     "watch: {backend: poll, poll_interval_ms: 250, settle_ms: 0, rescan_interval_s: 60}\n"
     SRC
     "    pattern: ['*.CSV', 'cdr-?.txt']\n"
     "    members: ['Master*.csv', '*.CDR']\n"
     "    max_member_bytes: 1048576\n"
     "    recursive: false\n"
     "    format: custom\n"
     "    columns: [call_time, extra.a]\n"
     "    header: true\n"
     "    timezone: America/Sao_Paulo\n"
     "    encoding: ISO-8859-1\n"
     "    on_success: delete\n"
     "    processed_dir: /srv/done\n"
     "    failed_dir: /srv/bad\n"
     "    max_reject_ratio: 0.25\n"
     "    max_line_bytes: 1024\n"
     "    watch: {backend: inotify, poll_interval_ms: 9, settle_ms: 8, rescan_interval_s: 7}\n",
     NULL, check_all_set, NULL},
    {"relative paths resolve against the config's folder",
     "sources:\n  - name: rel\n    path: ../spool/./in//\n    processed_dir: done\n",
     NULL, check_relative, NULL},
    {"absolute paths are normalised",
     "sources:\n  - name: abs\n    path: /var//x/../cdr/.\n    failed_dir: /../..\n",
     NULL, check_normalised, NULL},
    {"per-source watch overrides key by key, whatever the order",
     "sources:\n"
     "  - name: a\n    path: /a/in\n    watch:\n      settle_ms: 50\n"
     "  - name: b\n    path: /b/in\n"
     "  - name: c\n    path: /c/in\n    watch: {backend: inotify, rescan_interval_s: 30}\n"
     "watch:\n  backend: poll\n  poll_interval_ms: 500\n",
     NULL, check_watch_merge, NULL},
    {"watch through an alias", "watch: &w {settle_ms: 10}\n" SRC "    watch: *w\n", NULL,
     check_watch_alias, NULL},
    {"empty per-source watch", SRC "    watch: {}\n", NULL, check_empty_watch, NULL},
    {"pattern as a string", SRC "    pattern: Master*.csv\n", NULL, check_pattern_string, NULL},
    {"pattern as a list", SRC "    pattern:\n      - a.csv\n      - '*.cdr'\n      - 123\n",
     NULL, check_pattern_list, NULL},
    {"custom columns", CUSTOM
     "    header: yes\n"
     "    columns: [call_id, '-', '', ~, extra.trunk, caller_phone, null, extra.x.y, call_time]\n",
     NULL, check_columns, NULL},
    {"booleans, YAML 1.1 style",
     "sources:\n"
     "  - {name: a, path: /a, recursive: no, header: yes, format: custom, columns: [call_time]}\n"
     "  - {name: b, path: /b, recursive: NO, header: True, format: custom, columns: [call_time]}\n"
     "  - {name: c, path: /c, recursive: Off, header: ON, format: custom, columns: [call_time]}\n"
     "  - {name: d, path: /d, recursive: TRUE, header: False}\n"
     "  - {name: e, path: /e, recursive: yes, header: no}\n",
     NULL, check_booleans, NULL},
    {"null values take the default",
     "jobs:\ndatabase:\n  schema: ~\nwatch:\n" SRC "    encoding:\n    timezone: null\n",
     NULL, check_nulls_default, NULL},
    {"the host's zone is the default", SRC, NULL, check_host_tz, "America/New_York"},
    {"an empty dsn is kept", "database:\n  dsn: ''\n" SRC, NULL, check_empty_dsn, NULL},
    {"a quoted integer is accepted", "jobs: '4'\n" SRC, NULL, check_quoted_int, NULL},
    {"lower bounds", "jobs: 1024\n" SRC "    max_reject_ratio: 0\n    max_line_bytes: 1024\n",
     NULL, check_bounds_low, NULL},
    {"upper bounds",
     SRC "    max_reject_ratio: 1.0\n    max_line_bytes: 67108864\n"
     "  - {name: b, path: /b, max_reject_ratio: 5e-1}\n",
     NULL, check_bounds_high, NULL},
    {"non-recursive: processed_dir may be inside path",
     SRC "    recursive: false\n    processed_dir: /var/spool/cdr/in/done\n", NULL,
     check_nonrecursive_inside, NULL},
    {"config_find_source", "sources:\n  - {name: a, path: /a}\n  - {name: b, path: /b}\n",
     NULL, check_two_sources, NULL},

    /* Empty, malformed and misshapen documents. */
    {"empty file", "", "sources: required", NULL, NULL},
    {"only a comment", "# nothing yet\n", "sources: required", NULL, NULL},
    {"only a document marker", "---\n", "sources: required", NULL, NULL},
    {"sources missing", "jobs: 2\n", ":1:1: sources: required", NULL, NULL},
    {"sources null", "sources:\n", "sources: required", NULL, NULL},
    {"top level is a scalar", "hello\n",
     ":1:1: expected a mapping of settings at the top level, got 'hello'", NULL, NULL},
    {"top level is a list", "- a\n", ":1:1: expected a mapping of settings at the top level, got a list",
     NULL, NULL},
    {"syntax: bad indentation", "jobs: 1\n  bad: x\n",
     ":2:6: mapping values are not allowed in this context", NULL, NULL},
    {"syntax: unclosed flow list", "sources: [\n",
     ":2:1: did not find expected node content (while parsing a flow node at 2:1)", NULL, NULL},
    {"syntax: undefined alias", SRC "    encoding: *nope\n", ":4:15: found undefined alias",
     NULL, NULL},
    {"two documents", SRC "---\njobs: 2\n", ":4:1: only one YAML document is allowed", NULL,
     NULL},
    {"a key that is not a name", "? [a]\n: b\n", ":1:3: expected a key name, got a list", NULL,
     NULL},
    {"a NUL in a string", SRC "    encoding: \"utf\\0\"\n",
     ":4:15: sources[0].encoding: contains a NUL character", NULL, NULL},

    /* Unknown and duplicate keys at every level. */
    {"unknown top-level key", "jbos: 2\n" SRC, ":1:1: jbos: unknown key", NULL, NULL},
    {"unknown database key", "database:\n  dns: x\n" SRC, ":2:3: database.dns: unknown key",
     NULL, NULL},
    {"unknown watch key", "watch:\n  interval: 5\n" SRC, ":2:3: watch.interval: unknown key",
     NULL, NULL},
    {"unknown source key", SRC "    formt: asterisk\n", ":4:5: sources[0].formt: unknown key",
     NULL, NULL},
    {"unknown source key, second source", SRC "  - name: b\n    path: /b\n    pth: /c\n",
     ":6:5: sources[1].pth: unknown key", NULL, NULL},
    {"unknown per-source watch key", SRC "    watch:\n      backnd: poll\n",
     ":5:7: sources[0].watch.backnd: unknown key", NULL, NULL},
    {"duplicate top-level key", "jobs: 1\n" SRC "jobs: 2\n",
     ":5:1: jobs: duplicate key (first at line 1)", NULL, NULL},
    {"duplicate source key", SRC "    name: other\n",
     ":4:5: sources[0].name: duplicate key (first at line 2)", NULL, NULL},
    {"duplicate watch key", "watch:\n  settle_ms: 1\n  settle_ms: 2\n" SRC,
     ":3:3: watch.settle_ms: duplicate key", NULL, NULL},

    /* database */
    {"database not a mapping", "database: x\n" SRC, ":1:11: database: expected a mapping, got 'x'",
     NULL, NULL},
    {"dsn a list", "database:\n  dsn: [a]\n" SRC,
     ":2:8: database.dsn: expected a string, got a list", NULL, NULL},
    {"schema a mapping", "database:\n  schema: {a: 1}\n" SRC,
     ":2:11: database.schema: expected a string, got a mapping", NULL, NULL},
    {"schema empty", "database:\n  schema: ''\n" SRC, ":2:11: database.schema: must not be empty",
     NULL, NULL},
    {"partition unknown", "database:\n  partition: year\n" SRC,
     ":2:14: database.partition: unknown value 'year' (one of: none, month)", NULL, NULL},
    {"retention past a century", "database:\n  retention_months: 1201\n" SRC,
     ":2:21: database.retention_months: must be between 0 and 1200, got 1201", NULL, NULL},
    {"retention negative", "database:\n  retention_months: -1\n" SRC,
     ":2:21: database.retention_months: must be between 0 and 1200, got -1", NULL, NULL},

    /* jobs */
    {"jobs not a number", "jobs: abc\n" SRC, ":1:7: jobs: expected an integer, got 'abc'", NULL,
     NULL},
    {"jobs a float", "jobs: 1.5\n" SRC, ":1:7: jobs: expected an integer, got '1.5'", NULL, NULL},
    {"jobs hex", "jobs: 0x10\n" SRC, "jobs: expected an integer, got '0x10'", NULL, NULL},
    {"jobs a list", "jobs: [1]\n" SRC, ":1:7: jobs: expected an integer, got a list", NULL, NULL},
    {"jobs zero", "jobs: 0\n" SRC, ":1:7: jobs: must be between 1 and 1024, got 0", NULL, NULL},
    {"jobs too many", "jobs: 1025\n" SRC, "jobs: must be between 1 and 1024, got 1025", NULL, NULL},
    {"jobs overflows", "jobs: 99999999999999999999\n" SRC, "jobs: must be between 1 and 1024",
     NULL, NULL},

    /* watch */
    {"watch a list", "watch: [poll]\n" SRC, ":1:8: watch: expected a mapping, got a list", NULL,
     NULL},
    {"backend unknown", "watch:\n  backend: fanotify\n" SRC,
     ":2:12: watch.backend: unknown value 'fanotify' (one of: inotify, poll)", NULL, NULL},
    {"backend a list", "watch:\n  backend: [poll]\n" SRC,
     ":2:12: watch.backend: expected a name, got a list", NULL, NULL},
    {"poll_interval_ms a word", "watch:\n  poll_interval_ms: fast\n" SRC,
     ":2:21: watch.poll_interval_ms: expected an integer, got 'fast'", NULL, NULL},
    {"poll_interval_ms zero", "watch:\n  poll_interval_ms: 0\n" SRC,
     ":2:21: watch.poll_interval_ms: must be between 1 and 3600000, got 0", NULL, NULL},
    {"settle_ms negative", "watch:\n  settle_ms: -1\n" SRC,
     ":2:14: watch.settle_ms: must be between 0 and 3600000, got -1", NULL, NULL},
    {"rescan_interval_s with a unit", "watch:\n  rescan_interval_s: 5m\n" SRC,
     ":2:22: watch.rescan_interval_s: expected an integer, got '5m'", NULL, NULL},
    {"rescan_interval_s zero", "watch:\n  rescan_interval_s: 0\n" SRC,
     "watch.rescan_interval_s: must be between 1 and 86400, got 0", NULL, NULL},

    /* sources */
    {"sources a scalar", "sources: pbx\n", ":1:10: sources: expected a list of sources, got 'pbx'",
     NULL, NULL},
    {"sources empty", "sources: []\n", ":1:10: sources: must list at least one source", NULL,
     NULL},
    {"sources a mapping", "sources:\n  name: pbx\n",
     ":2:3: sources: expected a list of sources, got a mapping", NULL, NULL},
    {"source a scalar", "sources:\n  - pbx\n", ":2:5: sources[0]: expected a mapping, got 'pbx'",
     NULL, NULL},
    {"source null", "sources:\n  -\n", "sources[0]: expected a mapping, got null", NULL, NULL},
    {"name missing", "sources:\n  - path: /x\n", ":2:5: sources[0].name: required", NULL, NULL},
    {"name null", "sources:\n  - name:\n    path: /x\n", "sources[0].name: required", NULL, NULL},
    {"name empty", "sources:\n  - name: ''\n    path: /x\n",
     ":2:11: sources[0].name: must not be empty", NULL, NULL},
    {"name a list", "sources:\n  - name: [a]\n    path: /x\n",
     ":2:11: sources[0].name: expected a string, got a list", NULL, NULL},
    {"names duplicate", SRC "  - name: pbx\n    path: /other\n",
     ":4:11: sources[1].name: duplicate source name 'pbx' (also sources[0])", NULL, NULL},
    {"path missing", "sources:\n  - name: a\n", ":2:5: sources[0].path: required", NULL, NULL},
    {"path a mapping", "sources:\n  - name: a\n    path: {x: 1}\n",
     ":3:11: sources[0].path: expected a string, got a mapping", NULL, NULL},
    {"path empty", "sources:\n  - name: a\n    path: ''\n",
     ":3:11: sources[0].path: must not be empty", NULL, NULL},
    {"pattern a mapping", SRC "    pattern: {a: b}\n",
     ":4:14: sources[0].pattern: expected a file-name pattern or a list of them, got a mapping",
     NULL, NULL},
    {"pattern an empty list", SRC "    pattern: []\n",
     ":4:14: sources[0].pattern: must list at least one pattern", NULL, NULL},
    {"pattern list with a list", SRC "    pattern: ['*.csv', [x]]\n",
     ":4:24: sources[0].pattern[1]: expected a file-name pattern, got a list", NULL, NULL},
    {"pattern with a slash", SRC "    pattern: in/*.csv\n",
     ":4:14: sources[0].pattern: 'in/*.csv': a file-name pattern cannot contain '/'", NULL, NULL},
    {"pattern empty", SRC "    pattern: ''\n", ":4:14: sources[0].pattern: must not be empty",
     NULL, NULL},
    {"pattern list with an empty one", SRC "    pattern: ['*.csv', '']\n",
     "sources[0].pattern[1]: must not be empty", NULL, NULL},
    {"members with a slash", SRC "    members: ['*.csv', 'pbx/*.csv']\n",
     ":4:24: sources[0].members[1]: 'pbx/*.csv': a member-name pattern cannot contain '/'",
     NULL, NULL},
    {"members an empty list", SRC "    members: []\n",
     ":4:14: sources[0].members: must list at least one pattern", NULL, NULL},
    {"members a mapping", SRC "    members: {a: b}\n",
     ":4:14: sources[0].members: expected a member-name pattern or a list of them, got a mapping",
     NULL, NULL},
    {"max_member_bytes below a MiB", SRC "    max_member_bytes: 1000\n",
     ":4:23: sources[0].max_member_bytes: must be between 1048576 and 1125899906842624, got 1000",
     NULL, NULL},
    {"recursive not a boolean", SRC "    recursive: maybe\n",
     ":4:16: sources[0].recursive: expected a boolean (true or false), got 'maybe'", NULL, NULL},
    {"recursive a number", SRC "    recursive: 1\n",
     "sources[0].recursive: expected a boolean (true or false), got '1'", NULL, NULL},
    {"format unknown", SRC "    format: foo\n", ":4:13: sources[0].format: unknown format 'foo'",
     NULL, NULL},
    {"format a list", SRC "    format: [custom]\n",
     ":4:13: sources[0].format: expected a name, got a list", NULL, NULL},
    {"columns without format custom", SRC "    columns: [call_id]\n",
     ":4:5: sources[0].columns: only allowed with format custom (format is kx-hts)", NULL, NULL},
    {"columns with format asterisk", SRC "    columns: [call_id]\n    format: asterisk\n",
     ":4:5: sources[0].columns: only allowed with format custom (format is asterisk)", NULL,
     NULL},
    {"format custom without columns", CUSTOM,
     ":4:13: sources[0].columns: required with format custom", NULL, NULL},
    {"format custom, columns null", CUSTOM "    columns:\n",
     ":4:13: sources[0].columns: required with format custom", NULL, NULL},
    {"columns a scalar", CUSTOM "    columns: call_id\n",
     ":5:14: sources[0].columns: expected a list of column names, got 'call_id'", NULL, NULL},
    {"columns empty", CUSTOM "    columns: []\n",
     ":5:14: sources[0].columns: must list at least one column", NULL, NULL},
    {"column unknown", CUSTOM "    columns: [call_id, bogus]\n",
     ":5:24: sources[0].columns[1]: unknown column 'bogus'", NULL, NULL},
    {"column a mapping", CUSTOM "    columns:\n      - {a: b}\n",
     ":6:9: sources[0].columns[0]: expected a column name, got a mapping", NULL, NULL},
    {"column twice", CUSTOM "    columns: [call_id, call_id]\n",
     ":5:24: sources[0].columns[1]: 'call_id' is already columns[0]", NULL, NULL},
    {"extra column twice", CUSTOM "    columns: [extra.trunk, '-', extra.trunk]\n",
     "sources[0].columns[2]: 'extra.trunk' is already columns[0]", NULL, NULL},
    {"custom columns without call_time", CUSTOM "    columns: [call_id, caller_phone]\n",
     ":5:14: sources[0].columns: needs a call_time column", NULL, NULL},
    {"header without format custom", SRC "    header: true\n",
     ":4:5: sources[0].header: only allowed with format custom", NULL, NULL},
    {"extra without a name", CUSTOM "    columns: [extra.]\n",
     ":5:15: sources[0].columns[0]: 'extra.' needs a key name after the dot", NULL, NULL},
    {"header not a boolean", SRC "    header: 3\n",
     ":4:13: sources[0].header: expected a boolean (true or false), got '3'", NULL, NULL},
    {"timezone unknown", SRC "    timezone: Mars/Olympus_Mons\n",
     ":4:15: sources[0].timezone: unknown time zone 'Mars/Olympus_Mons'", NULL, NULL},
    {"timezone a folder", SRC "    timezone: Europe\n",
     ":4:15: sources[0].timezone: unknown time zone 'Europe'", NULL, NULL},
    {"timezone climbing out", SRC "    timezone: ../../../etc/passwd\n",
     ":4:15: sources[0].timezone: invalid time zone name '../../../etc/passwd'", NULL, NULL},
    {"timezone absolute", SRC "    timezone: /usr/share/zoneinfo/UTC\n",
     "sources[0].timezone: invalid time zone name", NULL, NULL},
    {"timezone empty", SRC "    timezone: ''\n", "sources[0].timezone: invalid time zone name ''",
     NULL, NULL},
    {"timezone a list", SRC "    timezone: [UTC]\n",
     ":4:15: sources[0].timezone: expected a time zone name, got a list", NULL, NULL},
    {"encoding a list", SRC "    encoding: [utf-8]\n",
     ":4:15: sources[0].encoding: expected a string, got a list", NULL, NULL},
    {"encoding empty", SRC "    encoding: ''\n", ":4:15: sources[0].encoding: must not be empty",
     NULL, NULL},
    {"on_success unknown", SRC "    on_success: archive\n",
     ":4:17: sources[0].on_success: unknown value 'archive' (one of: move, delete, keep)", NULL,
     NULL},
    {"processed_dir a list", SRC "    processed_dir: []\n",
     ":4:20: sources[0].processed_dir: expected a string, got a list", NULL, NULL},
    {"processed_dir empty", SRC "    processed_dir: ''\n",
     ":4:20: sources[0].processed_dir: must not be empty", NULL, NULL},
    {"failed_dir a mapping", SRC "    failed_dir: {}\n",
     ":4:17: sources[0].failed_dir: expected a string, got a mapping", NULL, NULL},
    {"processed_dir inside a recursive path", SRC "    processed_dir: /var/spool/cdr/in/done\n",
     ":4:20: sources[0].processed_dir: /var/spool/cdr/in/done is inside path /var/spool/cdr/in",
     NULL, NULL},
    {"failed_dir is the path", SRC "    recursive: no\n    failed_dir: /var/spool/cdr/in/\n",
     ":5:17: sources[0].failed_dir: /var/spool/cdr/in is the same as path", NULL, NULL},
    {"max_reject_ratio above 1", SRC "    max_reject_ratio: 1.5\n",
     ":4:23: sources[0].max_reject_ratio: must be between 0 and 1, got 1.5", NULL, NULL},
    {"max_reject_ratio negative", SRC "    max_reject_ratio: -0.1\n",
     "sources[0].max_reject_ratio: must be between 0 and 1, got -0.1", NULL, NULL},
    {"max_reject_ratio a word", SRC "    max_reject_ratio: half\n",
     ":4:23: sources[0].max_reject_ratio: expected a number, got 'half'", NULL, NULL},
    {"max_reject_ratio nan", SRC "    max_reject_ratio: .nan\n",
     "sources[0].max_reject_ratio: expected a number, got '.nan'", NULL, NULL},
    {"max_reject_ratio hex", SRC "    max_reject_ratio: 0x1p-1\n",
     "sources[0].max_reject_ratio: expected a number, got '0x1p-1'", NULL, NULL},
    {"max_reject_ratio a percentage", SRC "    max_reject_ratio: 10%\n",
     "sources[0].max_reject_ratio: expected a number, got '10%'", NULL, NULL},
    {"max_line_bytes with a unit", SRC "    max_line_bytes: 64KiB\n",
     ":4:21: sources[0].max_line_bytes: expected an integer, got '64KiB'", NULL, NULL},
    {"max_line_bytes a float", SRC "    max_line_bytes: 65536.0\n",
     "sources[0].max_line_bytes: expected an integer, got '65536.0'", NULL, NULL},
    {"max_line_bytes too small", SRC "    max_line_bytes: 1023\n",
     "sources[0].max_line_bytes: must be between 1024 and 67108864, got 1023", NULL, NULL},
    {"max_line_bytes too large", SRC "    max_line_bytes: 67108865\n",
     "sources[0].max_line_bytes: must be between 1024 and 67108864, got 67108865", NULL, NULL},
    {"source watch a scalar", SRC "    watch: inotify\n",
     ":4:12: sources[0].watch: expected a mapping, got 'inotify'", NULL, NULL},
    {"source watch value", SRC "    watch:\n      settle_ms: soon\n",
     ":5:18: sources[0].watch.settle_ms: expected an integer, got 'soon'", NULL, NULL},
    {"source watch backend", SRC "    watch: {backend: fam}\n",
     "sources[0].watch.backend: unknown value 'fam'", NULL, NULL},
};

#define NCASES (sizeof cases / sizeof *cases)

static void run_case(void **state)
{
    const struct config_case *c = *state;
    char *saved_tz = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;
    char *path = write_yaml(c->yaml);
    char err[CDR_ERRLEN] = "untouched";

    if (c->tz)
        setenv("TZ", c->tz, 1);
    struct cdr_config *cfg = config_load(path, err, sizeof err);
    if (c->tz) {
        if (saved_tz)
            setenv("TZ", saved_tz, 1);
        else
            unsetenv("TZ");
    }
    if (c->err) {
        if (cfg || !strstr(err, c->err))
            fail_msg("case '%s': want error containing \"%s\", got %s \"%s\"", c->name, c->err,
                     cfg ? "a config and" : "", err);
        /* Messages name the file as the caller did. */
        assert_true(strncmp(err, path, strlen(path)) == 0);
    } else {
        if (!cfg)
            fail_msg("case '%s': want a config, got \"%s\"", c->name, err);
        assert_string_equal(cfg->file, path);
        if (c->check)
            c->check(cfg);
    }
    config_free(cfg);
    unlink(path);
    free(path);
    free(saved_tz);
}

/* ---- tests outside the table ---------------------------------------------- */

static void test_missing_file(void **state)
{
    (void)state;
    char err[CDR_ERRLEN];
    char *path = tmp_path("etc/nonexistent.yaml");
    char *want = xasprintf("cannot read %s: No such file or directory", path);
    assert_null(config_load(path, err, sizeof err));
    assert_string_equal(err, want);
    free(want);
    free(path);

    path = tmp_path("etc");
    want = xasprintf("cannot read %s: Is a directory", path);
    assert_null(config_load(path, err, sizeof err));
    assert_string_equal(err, want);
    free(want);
    free(path);
}

static void test_relative_config_path(void **state)
{
    (void)state;
    char err[CDR_ERRLEN];
    char *cwd = getcwd(NULL, 0);
    char *abs = write_yaml(SRC "    processed_dir: ../done\n");
    const char *rel = abs + strlen(tmpdir) + 1; /* "etc/importer.XXXXXX" */

    assert_int_equal(chdir(tmpdir), 0);
    struct cdr_config *cfg = config_load(rel, err, sizeof err);
    assert_int_equal(chdir(cwd), 0);
    if (!cfg)
        fail_msg("%s", err);
    char *etc = tmp_path("etc");
    char *done = tmp_path("done");
    assert_string_equal(cfg->file, abs);
    assert_string_equal(cfg->base_dir, etc);
    assert_string_equal(cfg->sources[0].processed_dir, done);
    config_free(cfg);

    /* Messages name the file as given, relative here. */
    char *bad = write_yaml("jbos: 1\n");
    assert_int_equal(chdir(tmpdir), 0);
    assert_null(config_load(bad + strlen(tmpdir) + 1, err, sizeof err));
    assert_int_equal(chdir(cwd), 0);
    char *want = xasprintf("%s:1:1: jbos: unknown key", bad + strlen(tmpdir) + 1);
    assert_string_equal(err, want);

    unlink(abs);
    unlink(bad);
    free(want);
    free(bad);
    free(etc);
    free(done);
    free(abs);
    free(cwd);
}

static void test_small_or_no_error_buffer(void **state)
{
    (void)state;
    char *path = write_yaml("jobs: abc\n" SRC);
    char err[8];
    memset(err, 'x', sizeof err);
    assert_null(config_load(path, err, sizeof err));
    assert_int_equal(err[sizeof err - 1], '\0');
    assert_null(config_load(path, NULL, 0));
    unlink(path);
    free(path);
}

/* --jobs and the `jobs` key: one bound (CDR_MAX_JOBS), one message. Each
 * text goes through config_parse_jobs and, as "jobs: TEXT", through
 * config_load, whose error must end in the very same message. */
static const struct {
    const char *text;
    unsigned want; /* 0: refused with err */
    const char *err;
} jobs_cases[] = {
    {"1", 1, NULL},
    {"+7", 7, NULL},
    {"1024", CDR_MAX_JOBS, NULL},
    {"0", 0, "must be between 1 and 1024, got 0"},
    {"-3", 0, "must be between 1 and 1024, got -3"},
    {"1025", 0, "must be between 1 and 1024, got 1025"},
    {"99999999999999999999", 0, "must be between 1 and 1024, got 99999999999999999999"},
    {"abc", 0, "expected an integer, got 'abc'"},
    {"4x", 0, "expected an integer, got '4x'"},
    {"", 0, "expected an integer, got ''"},
};

static void test_jobs_bound(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof jobs_cases / sizeof *jobs_cases; i++) {
        const char *text = jobs_cases[i].text, *want_err = jobs_cases[i].err;
        char err[CDR_ERRLEN] = "";
        unsigned got = 0;
        bool ok = config_parse_jobs(text, &got, err, sizeof err);
        if (ok != !want_err || (ok && got != jobs_cases[i].want) ||
            (!ok && strcmp(err, want_err) != 0))
            fail_msg("--jobs '%s': got %s %u \"%s\"", text, ok ? "ok" : "refused", got, err);

        char *yaml = xasprintf("jobs: '%s'\n" SRC, text);
        char *path = write_yaml(yaml);
        struct cdr_config *cfg = config_load(path, err, sizeof err);
        if (want_err) {
            char *tail = xasprintf(":1:7: jobs: %s", want_err);
            size_t n = strlen(err), k = strlen(tail);
            if (cfg || n < k || strcmp(err + n - k, tail) != 0)
                fail_msg("jobs: '%s': want an error ending \"%s\", got \"%s\"", text, tail,
                         cfg ? "a config" : err);
            free(tail);
        } else {
            if (!cfg)
                fail_msg("jobs: '%s': %s", text, err);
            assert_int_equal(cfg->jobs, jobs_cases[i].want);
        }
        config_free(cfg);
        unlink(path);
        free(path);
        free(yaml);
    }
}

static void test_fixture_example(void **state)
{
    (void)state;
    const char *dir = getenv("CDR_FIXTURES");
    char *path = xasprintf("%s/config/importer.yaml", dir && *dir ? dir : "fixtures");
    char err[CDR_ERRLEN];
    struct cdr_config *cfg = config_load(path, err, sizeof err);
    if (!cfg)
        fail_msg("%s", err);

    char *spool_in = xasprintf("%s/spool/hq/incoming", cfg->base_dir);
    char *spool_done = xasprintf("%s/spool/hq/done", cfg->base_dir);
    char *fixtures = xstrndup(cfg->base_dir, (size_t)(strrchr(cfg->base_dir, '/') - cfg->base_dir));
    char *lab = xasprintf("%s/lab/cdr", fixtures);
    char *lab_done = xasprintf("%s/lab/processed", fixtures);

    assert_string_equal(cfg->dsn, "host=localhost dbname=cdr user=cdrimport");
    assert_string_equal(cfg->schema, "telephony");
    assert_int_equal(cfg->jobs, 4);
    assert_watch(&cfg->watch, CDR_WATCH_INOTIFY, 2000, 1500, 600);
    assert_int_equal(cfg->nsources, 3);

    const struct cdr_source *hq = config_find_source(cfg, "hq-kxhts");
    assert_non_null(hq);
    assert_string_equal(hq->path, spool_in);
    assert_false(hq->recursive);
    assert_int_equal(hq->format, CDR_FMT_KXHTS);
    assert_string_equal(hq->timezone, "Europe/Berlin");
    assert_string_equal(hq->encoding, "windows-1252");
    assert_string_equal(hq->processed_dir, spool_done);
    assert_string_equal(hq->failed_dir, "/var/lib/cdrimport/failed/hq");
    assert_true(hq->max_reject_ratio == 0.1);
    assert_int_equal(hq->max_line_bytes, 131072);
    assert_false(hq->has_watch);

    const struct cdr_source *ast = config_find_source(cfg, "branch-asterisk");
    assert_non_null(ast);
    assert_int_equal(ast->npatterns, 2);
    assert_string_equal(ast->patterns[1], "Master-*.csv");
    assert_int_equal(ast->format, CDR_FMT_ASTERISK);
    assert_int_equal(ast->on_success, CDR_ON_SUCCESS_KEEP);
    assert_string_equal(ast->processed_dir, "/var/log/asterisk/processed");
    assert_true(ast->has_watch);
    assert_watch(&ast->watch, CDR_WATCH_POLL, 5000, 1500, 600);

    const struct cdr_source *custom = config_find_source(cfg, "lab-custom");
    assert_non_null(custom);
    assert_string_equal(custom->path, lab);
    assert_string_equal(custom->processed_dir, lab_done);
    assert_int_equal(custom->format, CDR_FMT_CUSTOM);
    assert_true(custom->header);
    assert_int_equal(custom->ncolumns, 7);
    assert_int_equal(custom->columns[2].kind, CDR_COL_SKIP);
    assert_int_equal(custom->columns[5].field, CDR_F_CALL_DURATION);
    assert_string_equal(custom->columns[6].extra_name, "trunk");
    assert_int_equal(custom->on_success, CDR_ON_SUCCESS_DELETE);

    config_free(cfg);
    free(lab_done);
    free(lab);
    free(fixtures);
    free(spool_done);
    free(spool_in);
    free(path);
}

static void test_locate(void **state)
{
    (void)state;
    char *saved = getenv("CDRIMPORT_CONFIG") ? xstrdup(getenv("CDRIMPORT_CONFIG")) : NULL;
    unsetenv("CDRIMPORT_CONFIG");
    assert_string_equal(config_locate(NULL), "importer.yaml");
    setenv("CDRIMPORT_CONFIG", "", 1);
    assert_string_equal(config_locate(NULL), "importer.yaml");
    setenv("CDRIMPORT_CONFIG", "/etc/cdrimport.yaml", 1);
    assert_string_equal(config_locate(NULL), "/etc/cdrimport.yaml");
    assert_string_equal(config_locate("mine.yaml"), "mine.yaml");
    if (saved)
        setenv("CDRIMPORT_CONFIG", saved, 1);
    else
        unsetenv("CDRIMPORT_CONFIG");
    free(saved);
}

static void test_host_timezone(void **state)
{
    (void)state;
    static const struct {
        const char *tz;   /* NULL: unset */
        const char *want; /* NULL: the same as with TZ unset */
    } tzs[] = {
        {"Europe/Berlin", "Europe/Berlin"},
        {":Europe/Berlin", "Europe/Berlin"},
        {"/usr/share/zoneinfo/America/New_York", "America/New_York"},
        {":/usr/share/zoneinfo/Asia/Tokyo", "Asia/Tokyo"},
        {"UTC", "UTC"},
        {"", NULL},
        {"Nowhere/Land", NULL},
        {"CET-1CEST", NULL},
        {"../../../../etc/passwd", NULL},
        {"/etc/passwd", NULL},
        {"Europe", NULL},
    };
    char *saved = getenv("TZ") ? xstrdup(getenv("TZ")) : NULL;

    unsetenv("TZ");
    char *host = config_host_timezone();
    assert_non_null(host);
    assert_true(host[0] != '\0');
    for (size_t i = 0; i < sizeof tzs / sizeof *tzs; i++) {
        setenv("TZ", tzs[i].tz, 1);
        char *got = config_host_timezone();
        const char *want = tzs[i].want ? tzs[i].want : host;
        if (strcmp(got, want))
            fail_msg("TZ='%s': want '%s', got '%s'", tzs[i].tz, want, got);
        free(got);
    }
    if (saved)
        setenv("TZ", saved, 1);
    else
        unsetenv("TZ");
    free(saved);
    free(host);
}

static void test_free_null(void **state)
{
    (void)state;
    config_free(NULL);
}

/* ---- fixture and main ------------------------------------------------------ */

static int make_tmpdir(void **state)
{
    (void)state;
    if (!mkdtemp(tmpdir))
        return -1;
    char *etc = tmp_path("etc");
    int rc = mkdir(etc, 0700);
    free(etc);
    return rc;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char *etc = tmp_path("etc");
    int rc = rmdir(etc) | rmdir(tmpdir);
    free(etc);
    return rc;
}

static const struct CMUnitTest fixed_tests[] = {
    cmocka_unit_test(test_missing_file),
    cmocka_unit_test(test_relative_config_path),
    cmocka_unit_test(test_small_or_no_error_buffer),
    cmocka_unit_test(test_jobs_bound),
    cmocka_unit_test(test_fixture_example),
    cmocka_unit_test(test_locate),
    cmocka_unit_test(test_host_timezone),
    cmocka_unit_test(test_free_null),
};

#define NFIXED (sizeof fixed_tests / sizeof *fixed_tests)

int main(void)
{
    static struct CMUnitTest tests[NCASES + NFIXED];

    for (size_t i = 0; i < NCASES; i++)
        tests[i] = (struct CMUnitTest){.name = cases[i].name, .test_func = run_case,
                                       .initial_state = (void *)&cases[i]};
    for (size_t i = 0; i < NFIXED; i++)
        tests[NCASES + i] = fixed_tests[i];
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
