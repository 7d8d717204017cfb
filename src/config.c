/*
 * config.c - importer.yaml into struct cdr_config: cdrimport's own keys.
 * Each mapping level (top, database, watch, sources[] item) is one static
 * table of rows for the key-table engine (keytab.c), which reads the YAML
 * and applies types, defaults and the generic errors; the rows here say
 * what the keys are, and the custom rows and checks add what is particular
 * to cdrimport (patterns, columns, time zones, folders that must not be
 * scanned). No logging: a failure is one message in the caller's buffer.
 * The only I/O: reading the file, and looking up time zones (config_zone.c:
 * zoneinfo files, /etc/timezone, the /etc/localtime link).
 */
#include "config.h"
#include "config_fetch.h"
#include "keytab.h"
#include "trunks.h"
#include "plat.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


/* Enum fields are written through an int pointer by the generic KEYTAB_ENUM. */
_Static_assert(sizeof(enum cdr_format) == sizeof(int), "enum cdr_format is not int-sized");
_Static_assert(sizeof(enum cdr_on_success) == sizeof(int), "enum cdr_on_success is not int-sized");
_Static_assert(sizeof(enum cdr_watch_backend) == sizeof(int), "enum cdr_watch_backend is not int-sized");

/* What the custom rows need besides the object they fill (keytab's user). */
struct loader {
    struct cdr_config *cfg;  /* being built */
    char *host_tz;           /* the default zone, computed on first use */
    char *host_tz_foreign;   /* or the host's non-IANA name for it (Windows) */
};

static struct loader *loader_of(struct keytab *kt)
{
    return kt->user;
}

/* ---- paths and zones ----------------------------------------------------- */

/* The folder of a normalised absolute path ("/" for "/" and "/x"). */
static char *path_parent(const char *abs)
{
    const char *slash = strrchr(abs, '/');
    return slash == abs ? xstrdup("/") : xstrndup(abs, (size_t)(slash - abs));
}

/* Whether normalised absolute path p is dir or below it. */
static bool path_within(const char *p, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1) /* "/" */
        return true;
    return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* ---- watch and database -------------------------------------------------- */

static const char *const backend_names[] = {
    [CDR_WATCH_INOTIFY] = "inotify", [CDR_WATCH_POLL] = "poll", NULL};

#define WATCH_FIELD(f) offsetof(struct cdr_watch_config, f)

/* Bounds keep the values clear of overflow where the watcher scales them;
 * the rescan cannot be switched off: it is the backstop for lost events. */
static const struct keytab_key watch_keys[] = {
    {.name = "backend", .type = KEYTAB_ENUM, .offset = WATCH_FIELD(backend),
     .names = backend_names, .def_int = CDR_WATCH_INOTIFY},
    {.name = "poll_interval_ms", .type = KEYTAB_UINT, .offset = WATCH_FIELD(poll_interval_ms),
     .def_int = 2000, .min = 1, .max = 3600000},
    {.name = "settle_ms", .type = KEYTAB_UINT, .offset = WATCH_FIELD(settle_ms),
     .def_int = 1000, .min = 0, .max = 3600000},
    {.name = "rescan_interval_s", .type = KEYTAB_UINT, .offset = WATCH_FIELD(rescan_interval_s),
     .def_int = 300, .min = 1, .max = 86400},
};

static const struct keytab_table watch_table = KEYTAB_TABLE(watch_keys, NULL);

#define CONFIG_FIELD(f) offsetof(struct cdr_config, f)

static const char *const partition_names[] = {
    [CDR_PARTITION_NONE] = "none", [CDR_PARTITION_MONTH] = "month", NULL};

/* dsn NULL: libpq reads the PG* environment. retention_months 0 keeps
 * every row; 1200 (a century) bounds the date arithmetic. */
static const struct keytab_key database_keys[] = {
    {.name = "dsn", .type = KEYTAB_STRING, .offset = CONFIG_FIELD(dsn)},
    {.name = "schema", .type = KEYTAB_STRING, .offset = CONFIG_FIELD(schema),
     .flags = KEYTAB_NONEMPTY, .def_str = "public"},
    {.name = "partition", .type = KEYTAB_ENUM, .offset = CONFIG_FIELD(partition),
     .names = partition_names, .def_int = CDR_PARTITION_NONE},
    {.name = "retention_months", .type = KEYTAB_UINT, .offset = CONFIG_FIELD(retention_months),
     .def_int = 0, .min = 0, .max = 1200},
};

static const struct keytab_table database_table = KEYTAB_TABLE(database_keys, NULL);

/* ---- sources[] items ----------------------------------------------------- */

/* A glob or a list of them into *out (count in *n): file names in the inbox
 * (pattern) or in an archive (members), so never with a '/'. */
static bool set_globs(struct keytab *kt, yaml_node_t *n, const char *path, const char *what,
                      char ***out, size_t *nout)
{
    char expected[96], one[64];
    snprintf(expected, sizeof expected, "a %s pattern or a list of them", what);
    snprintf(one, sizeof one, "a %s pattern", what);
    yaml_node_item_t *items = NULL;
    size_t count = 1;

    if (n->type == YAML_SEQUENCE_NODE) {
        if (!keytab_list(kt, n, path, expected, "pattern", &items, &count))
            return false;
    } else if (n->type != YAML_SCALAR_NODE) {
        return keytab_wrong_type(kt, n, path, expected);
    }
    *out = xcalloc(count, sizeof **out);
    *nout = count;
    for (size_t i = 0; i < count; i++) {
        char ipath[KEYTAB_PATH_MAX];
        yaml_node_t *item = n;
        if (items) {
            item = keytab_node(kt, items[i]);
            keytab_path_index(ipath, path, i);
        } else {
            snprintf(ipath, sizeof ipath, "%s", path); /* already cut to fit */
        }
        const char *s = keytab_scalar(kt, item, ipath, one);
        if (!s)
            return false;
        if (!*s)
            return keytab_fail(kt, item, ipath, "must not be empty");
        if (strchr(s, '/'))
            return keytab_fail(kt, item, ipath, "'%.*s': a %s pattern cannot contain '/'",
                               KEYTAB_QUOTE_MAX, s, what);
        (*out)[i] = xstrdup(s);
    }
    return true;
}

/* pattern (inbox file names) and members (CDR files inside an archive). */
static bool set_glob_key(struct keytab *kt, const struct keytab_key *k, void *obj,
                         yaml_node_t *n, const char *path)
{
    struct cdr_source *src = obj;
    if (!strcmp(k->name, "members"))
        return set_globs(kt, n, path, "member-name", &src->members, &src->nmembers);
    return set_globs(kt, n, path, "file-name", &src->patterns, &src->npatterns);
}

/* What a PBX download can be: the CSV itself, or packed (input_archive.h). */
static const char *const default_patterns[] = {"*.csv", "*.zip", "*.tar", "*.tgz",
                                               "*.tar.gz", "*.tar.bz2", "*.tar.xz", "*.gz"};
static const char *const default_members[] = {"*.csv"};

static void dflt_glob_key(struct keytab *kt, const struct keytab_key *k, void *obj)
{
    (void)kt;
    struct cdr_source *src = obj;
    bool members = !strcmp(k->name, "members");
    const char *const *list = members ? default_members : default_patterns;
    size_t n = members ? 1 : sizeof default_patterns / sizeof *default_patterns;
    char **out = xcalloc(n, sizeof *out);
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(list[i]);
    *(members ? &src->members : &src->patterns) = out;
    *(members ? &src->nmembers : &src->npatterns) = n;
}

/* One `columns:` entry: a cdr column, "extra.NAME", or "-"/""/null to skip. */
static bool set_column(struct keytab *kt, struct cdr_source *src, size_t i, yaml_node_t *n,
                       const char *path)
{
    struct cdr_colspec *col = &src->columns[i];

    if (keytab_is_null(n)) {
        col->kind = CDR_COL_SKIP;
        return true;
    }
    const char *s = keytab_scalar(kt, n, path, "a column name");
    if (!s)
        return false;
    if (!*s || !strcmp(s, "-")) {
        col->kind = CDR_COL_SKIP;
        return true;
    }
    if (!strncmp(s, "extra.", 6)) {
        const char *name = s + 6;
        if (!*name)
            return keytab_fail(kt, n, path, "'extra.' needs a key name after the dot");
        for (size_t j = 0; j < i; j++)
            if (src->columns[j].kind == CDR_COL_EXTRA && !strcmp(src->columns[j].extra_name, name))
                return keytab_fail(kt, n, path, "'%.*s' is already columns[%zu]",
                                   KEYTAB_QUOTE_MAX, s, j);
        col->kind = CDR_COL_EXTRA;
        col->extra_name = xstrdup(name);
        return true;
    }
    int f = profile_field_by_name(s);
    if (f < 0 || f >= CDR_F_COUNT)
        return keytab_fail(kt, n, path, "unknown column '%.*s' (a cdr column, extra.NAME or -)",
                    KEYTAB_QUOTE_MAX, s);
    for (size_t j = 0; j < i; j++)
        if (src->columns[j].kind == CDR_COL_FIELD && src->columns[j].field == (enum cdr_field)f)
            return keytab_fail(kt, n, path, "'%.*s' is already columns[%zu]",
                               KEYTAB_QUOTE_MAX, s, j);
    col->kind = CDR_COL_FIELD;
    col->field = (enum cdr_field)f;
    return true;
}

static bool set_columns(struct keytab *kt, const struct keytab_key *k, void *obj,
                        yaml_node_t *n, const char *path)
{
    (void)k;
    struct cdr_source *src = obj;

    yaml_node_item_t *items;
    size_t count;
    if (!keytab_list(kt, n, path, "a list of column names", "column", &items, &count))
        return false;
    src->columns = xcalloc(count, sizeof *src->columns);
    src->ncolumns = count;
    for (size_t i = 0; i < count; i++) {
        char ipath[KEYTAB_PATH_MAX];
        keytab_path_index(ipath, path, i);
        if (!set_column(kt, src, i, keytab_node(kt, items[i]), ipath))
            return false;
    }
    return true;
}

static bool set_timezone(struct keytab *kt, const struct keytab_key *k, void *obj,
                         yaml_node_t *n, const char *path)
{
    (void)k;
    struct cdr_source *src = obj;
    const char *s = keytab_scalar(kt, n, path, "a time zone name");
    if (!s)
        return false;
    if (!config_zone_name_ok(s))
        return keytab_fail(kt, n, path, "invalid time zone name '%.*s'", KEYTAB_QUOTE_MAX, s);
    if (!config_zone_exists(s))
        return keytab_fail(kt, n, path,
                           "unknown time zone '%.*s' (no file " CONFIG_ZONEINFO_DIR "%.*s)",
                           KEYTAB_QUOTE_MAX, s, KEYTAB_QUOTE_MAX, s);
    src->timezone = xstrdup(s);
    return true;
}

/* The host's zone is not validated: without tzdata installed it still names
 * the zone for the database, which has its own. */
static void dflt_timezone(struct keytab *kt, const struct keytab_key *k, void *obj)
{
    (void)k;
    struct cdr_source *src = obj;
    struct loader *ld = loader_of(kt);
    if (!ld->host_tz && !ld->host_tz_foreign) {
        ld->host_tz = config_host_timezone();
        if (!ld->host_tz)
            ld->host_tz_foreign = plat_host_zone_name();
    }
    /* With a foreign name, check_source refuses the source. */
    src->timezone = xstrdup(ld->host_tz ? ld->host_tz : "UTC");
}

/* processed_dir and failed_dir: <parent of path>/<def_str>. The path row
 * comes first in the table and is required, so it is set by now. */
static void dflt_sibling_dir(struct keytab *kt, const struct keytab_key *k, void *obj)
{
    (void)kt;
    struct cdr_source *src = obj;
    char *parent = path_parent(src->path);
    *(char **)((char *)obj + k->offset) = keytab_path_resolve(parent, k->def_str);
    free(parent);
}

/* The effective watch settings: the top level's, overridden key by key. The
 * top-level watch row precedes sources, so it is filled by now. */
static bool set_source_watch(struct keytab *kt, const struct keytab_key *k, void *obj,
                             yaml_node_t *n, const char *path)
{
    (void)k;
    struct cdr_source *src = obj;
    src->watch = loader_of(kt)->cfg->watch;
    src->has_watch = true;
    return keytab_load_mapping(kt, &watch_table, &src->watch, n, path, false);
}

static void dflt_source_watch(struct keytab *kt, const struct keytab_key *k, void *obj)
{
    (void)k;
    struct cdr_source *src = obj;
    src->watch = loader_of(kt)->cfg->watch;
}

static bool check_source(struct keytab *kt, void *obj, yaml_node_t *map, const char *path)
{
    struct cdr_source *src = obj;
    char kpath[KEYTAB_PATH_MAX];
    const char *foreign = loader_of(kt)->host_tz_foreign;
    if (foreign && !keytab_find(kt, map, "timezone")) {
        /* A silent UTC would shift every call by the zone's offset. */
        keytab_path_key(kpath, path, "timezone");
        return keytab_fail(kt, map, kpath,
                           "required on Windows: this host's zone (\"%.*s\") has no IANA name "
                           "here; set the PBX clock's zone, e.g. timezone: Europe/Berlin "
                           "(or TZ=Europe/Berlin)", KEYTAB_QUOTE_MAX, foreign);
    }
    yaml_node_pair_t *fmt = keytab_find(kt, map, "format");
    yaml_node_pair_t *cols = keytab_find(kt, map, "columns");

    keytab_path_key(kpath, path, "columns");
    if (src->format == CDR_FMT_CUSTOM && !src->columns)
        return keytab_fail(kt, fmt ? keytab_node(kt, fmt->value) : map, kpath,
                    "required with format custom");
    if (src->format != CDR_FMT_CUSTOM && src->columns)
        return keytab_fail(kt, cols ? keytab_node(kt, cols->key) : map, kpath,
                    "only allowed with format custom (format is %s)",
                    profile_format_name(src->format));

    if (src->format == CDR_FMT_CUSTOM) {
        bool has_time = false;
        for (size_t i = 0; i < src->ncolumns; i++)
            has_time |= src->columns[i].kind == CDR_COL_FIELD &&
                        src->columns[i].field == CDR_F_CALL_TIME;
        if (!has_time)
            return keytab_fail(kt, cols ? keytab_node(kt, cols->value) : map, kpath,
                        "needs a call_time column (every call needs its start time)");
    }
    yaml_node_pair_t *hdr = keytab_find(kt, map, "header");
    if (src->header && src->format != CDR_FMT_CUSTOM) {
        /* A header on a headerless format would silently drop a call. */
        keytab_path_key(kpath, path, "header");
        return keytab_fail(kt, hdr ? keytab_node(kt, hdr->key) : map, kpath,
                    "only allowed with format custom (format is %s)",
                    profile_format_name(src->format));
    }

    /* A file moved into a folder that is scanned would come back. */
    const char *dirs[] = {src->processed_dir, src->failed_dir};
    const char *names[] = {"processed_dir", "failed_dir"};
    for (size_t i = 0; i < 2; i++) {
        bool inside = src->recursive ? path_within(dirs[i], src->path)
                                     : !strcmp(dirs[i], src->path);
        if (inside) {
            yaml_node_pair_t *p = keytab_find(kt, map, names[i]);
            keytab_path_key(kpath, path, names[i]);
            return keytab_fail(kt, p ? keytab_node(kt, p->value) : map, kpath,
                        "%s is %s path %s, which is scanned", dirs[i],
                        strcmp(dirs[i], src->path) ? "inside" : "the same as", src->path);
        }
    }
    return true;
}

static const char *const on_success_names[] = {
    [CDR_ON_SUCCESS_MOVE] = "move", [CDR_ON_SUCCESS_DELETE] = "delete",
    [CDR_ON_SUCCESS_KEEP] = "keep", NULL};

#define SOURCE_FIELD(f) offsetof(struct cdr_source, f)

static const struct keytab_key source_keys[] = {
    {.name = "name", .type = KEYTAB_STRING, .offset = SOURCE_FIELD(name),
     .flags = KEYTAB_REQUIRED | KEYTAB_NONEMPTY},
    {.name = "path", .type = KEYTAB_PATH, .offset = SOURCE_FIELD(path),
     .flags = KEYTAB_REQUIRED | KEYTAB_NONEMPTY},
    {.name = "pattern", .type = KEYTAB_CUSTOM, .set = set_glob_key, .dflt = dflt_glob_key},
    {.name = "members", .type = KEYTAB_CUSTOM, .set = set_glob_key, .dflt = dflt_glob_key},
    {.name = "recursive", .type = KEYTAB_BOOL, .offset = SOURCE_FIELD(recursive), .def_int = true},
    {.name = "format", .type = KEYTAB_ENUM, .offset = SOURCE_FIELD(format),
     .lookup = profile_format_by_name, .names = profile_format_names, .def_int = CDR_FMT_AUTO},
    {.name = "columns", .type = KEYTAB_CUSTOM, .set = set_columns},
    {.name = "header", .type = KEYTAB_BOOL, .offset = SOURCE_FIELD(header), .def_int = false},
    {.name = "timezone", .type = KEYTAB_CUSTOM, .set = set_timezone, .dflt = dflt_timezone},
    /* After format: the default depends on it. */
    {.name = "trunks", .type = KEYTAB_CUSTOM, .set = trunks_set, .dflt = trunks_default},
    {.name = "encoding", .type = KEYTAB_STRING, .offset = SOURCE_FIELD(encoding),
     .flags = KEYTAB_NONEMPTY, .def_str = "utf-8"},
    {.name = "on_success", .type = KEYTAB_ENUM, .offset = SOURCE_FIELD(on_success),
     .names = on_success_names, .def_int = CDR_ON_SUCCESS_MOVE},
    {.name = "processed_dir", .type = KEYTAB_PATH, .offset = SOURCE_FIELD(processed_dir),
     .flags = KEYTAB_NONEMPTY, .dflt = dflt_sibling_dir, .def_str = "processed"},
    {.name = "failed_dir", .type = KEYTAB_PATH, .offset = SOURCE_FIELD(failed_dir),
     .flags = KEYTAB_NONEMPTY, .dflt = dflt_sibling_dir, .def_str = "failed"},
    {.name = "max_reject_ratio", .type = KEYTAB_DOUBLE, .offset = SOURCE_FIELD(max_reject_ratio),
     .def_num = CDR_DEFAULT_MAX_REJECT_RATIO, .dmin = 0.0, .dmax = 1.0},
    {.name = "max_line_bytes", .type = KEYTAB_SIZE, .offset = SOURCE_FIELD(max_line_bytes),
     .def_int = CDR_DEFAULT_MAX_LINE_BYTES, .min = 1024, .max = 64LL * 1024 * 1024},
    {.name = "max_member_bytes", .type = KEYTAB_SIZE, .offset = SOURCE_FIELD(max_member_bytes),
     .def_int = CDR_DEFAULT_MAX_MEMBER_BYTES, .min = 1024 * 1024, .max = 1LL << 50},
    {.name = "watch", .type = KEYTAB_CUSTOM, .set = set_source_watch, .dflt = dflt_source_watch,
     .sub = &watch_table},
    /* Last: it overrides the watch settings (config_fetch.c). */
    {.name = "fetch", .type = KEYTAB_CUSTOM, .set = config_fetch_set, .sub = &config_fetch_table},
};

static const struct keytab_table source_table = KEYTAB_TABLE(source_keys, check_source);

/* ---- top level ----------------------------------------------------------- */

static bool set_sources(struct keytab *kt, const struct keytab_key *k, void *obj,
                        yaml_node_t *n, const char *path)
{
    (void)k;
    struct cdr_config *cfg = obj;

    yaml_node_item_t *items;
    size_t count;
    if (!keytab_list(kt, n, path, "a list of sources", "source", &items, &count))
        return false;
    /* Zeroed items, counted now: config_free handles the half-built ones. */
    cfg->sources = xcalloc(count, sizeof *cfg->sources);
    cfg->nsources = count;
    for (size_t i = 0; i < count; i++) {
        char ipath[KEYTAB_PATH_MAX];
        yaml_node_t *item = keytab_node(kt, items[i]);
        keytab_path_index(ipath, path, i);
        if (item->type != YAML_MAPPING_NODE)
            return keytab_wrong_type(kt, item, ipath, "a mapping");
        if (!keytab_load_mapping(kt, &source_table, &cfg->sources[i], item, ipath, true))
            return false;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->sources[j].name, cfg->sources[i].name))
                continue;
            char npath[KEYTAB_PATH_MAX];
            keytab_path_key(npath, ipath, "name");
            return keytab_fail(kt, keytab_node(kt, keytab_find(kt, item, "name")->value), npath,
                        "duplicate source name '%.*s' (also sources[%zu])", KEYTAB_QUOTE_MAX,
                        cfg->sources[i].name, j);
        }
    }
    return true;
}

/* Row order matters: watch before sources, which inherit it. The database
 * row's fields live in struct cdr_config itself, hence offset 0. */
static const struct keytab_key top_keys[] = {
    {.name = "database", .type = KEYTAB_MAP, .offset = 0, .sub = &database_table},
    {.name = "jobs", .type = KEYTAB_UINT, .offset = CONFIG_FIELD(jobs), .def_int = 1, .min = 1,
     .max = CDR_MAX_JOBS},
    {.name = "watch", .type = KEYTAB_MAP, .offset = CONFIG_FIELD(watch), .sub = &watch_table},
    {.name = "log_file", .type = KEYTAB_PATH, .offset = CONFIG_FIELD(log_file)},
    {.name = "sources", .type = KEYTAB_CUSTOM, .flags = KEYTAB_REQUIRED | KEYTAB_LIST,
     .set = set_sources, .sub = &source_table},
};

const struct keytab_table config_table = KEYTAB_TABLE(top_keys, NULL);

/* ---- loading ------------------------------------------------------------- */

/* cfg->file and cfg->base_dir, absolute, for resolving relative paths. */
static bool set_file_paths(struct cdr_config *cfg, const char *path, char *err, size_t errlen)
{
    if (plat_path_is_absolute(path)) {
        cfg->file = keytab_path_resolve("/", path);
    } else {
        char *cwd = plat_getcwd();
        if (!cwd) {
            if (err && errlen)
                snprintf(err, errlen, "%s: cannot determine the current folder: %s", path,
                         strerror(errno));
            return false;
        }
        cfg->file = keytab_path_resolve(cwd, path);
        free(cwd);
    }
    cfg->base_dir = path_parent(cfg->file);
    return true;
}

struct cdr_config *config_load(const char *path, char *err, size_t errlen)
{
    struct cdr_config *cfg = xcalloc(1, sizeof *cfg);
    struct loader ld = {.cfg = cfg};
    struct keytab kt = {.file = path, .err = err, .errlen = errlen, .user = &ld};
    bool ok = false;
    size_t len = 0;

    if (err && errlen)
        err[0] = '\0';
    char *text = keytab_read_file(path, &len, err, errlen);
    if (text && set_file_paths(cfg, path, err, errlen)) {
        kt.base_dir = cfg->base_dir;
        ok = keytab_load(&kt, text, len, &config_table, cfg);
    }
    free(text);
    free(ld.host_tz);
    free(ld.host_tz_foreign);
    if (!ok) {
        config_free(cfg);
        return NULL;
    }
    return cfg;
}

static void source_free(struct cdr_source *src)
{
    free(src->name);
    free(src->path);
    for (size_t i = 0; i < src->npatterns; i++)
        free(src->patterns[i]);
    free(src->patterns);
    for (size_t i = 0; i < src->nmembers; i++)
        free(src->members[i]);
    free(src->members);
    for (size_t i = 0; i < src->ncolumns; i++)
        free(src->columns[i].extra_name);
    free(src->columns);
    free(src->timezone);
    trunks_free(src);
    free(src->encoding);
    free(src->processed_dir);
    free(src->failed_dir);
    config_fetch_free(src->fetch);
}

void config_free(struct cdr_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->nsources; i++)
        source_free(&cfg->sources[i]);
    free(cfg->sources);
    free(cfg->file);
    free(cfg->base_dir);
    free(cfg->dsn);
    free(cfg->schema);
    free(cfg->log_file);
    free(cfg);
}

const char *config_locate(const char *explicit_path)
{
    if (explicit_path)
        return explicit_path;
    const char *env = getenv("CDRIMPORT_CONFIG");
    if (env && *env)
        return env;
    return "importer.yaml";
}

bool config_parse_jobs(const char *text, unsigned *jobs, char *err, size_t errlen)
{
    long long v;
    if (!keytab_parse_int(text, 1, CDR_MAX_JOBS, &v, err, errlen))
        return false;
    *jobs = (unsigned)v;
    return true;
}

const struct cdr_source *config_find_source(const struct cdr_config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->nsources; i++)
        if (!strcmp(cfg->sources[i].name, name))
            return &cfg->sources[i];
    return NULL;
}
