/*
 * config.c - importer.yaml into struct cdr_config, read with libyaml's
 * document API so that every node keeps its line:column for messages.
 * Each mapping level (top, database, watch, sources[] item) is one static
 * table of keys: loading, defaults and validation all read the same rows,
 * as PgBouncer's config does. No logging: a failure is one message in the
 * caller's buffer. The only I/O: reading the file, and looking up time
 * zones (stat of zoneinfo files, /etc/timezone, the /etc/localtime link).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#define ZONEINFO_DIR "/usr/share/zoneinfo/"
/* A config file is a few kilobytes; the cap stops `-c /dev/zero`. */
#define CONFIG_MAX_BYTES (1024u * 1024u)
/* Key paths in messages ("sources[3].watch.settle_ms"); longer ones are cut. */
#define KEYPATH_MAX 256
/* Scalars quoted in messages are cut to this many bytes. */
#define QUOTE_MAX 64

/* Enum fields are written through an int pointer by the generic KT_ENUM. */
_Static_assert(sizeof(enum cdr_format) == sizeof(int), "enum cdr_format is not int-sized");
_Static_assert(sizeof(enum cdr_on_success) == sizeof(int), "enum cdr_on_success is not int-sized");
_Static_assert(sizeof(enum cdr_watch_backend) == sizeof(int), "enum cdr_watch_backend is not int-sized");

struct loader {
    const char *file;        /* as the caller named it: prefix of messages */
    char *err;
    size_t errlen;
    struct cdr_config *cfg;  /* being built */
    yaml_document_t *doc;
    char *host_tz;           /* the default zone, computed on first use */
};

/* ---- the key tables' vocabulary ----------------------------------------- */

enum key_type {
    KT_STRING, /* char *: any scalar */
    KT_PATH,   /* char *: a string resolved against base_dir, normalised */
    KT_UINT,   /* unsigned: a decimal integer within [min, max] */
    KT_SIZE,   /* size_t: likewise */
    KT_BOOL,   /* bool: true/false, yes/no, on/off in any case */
    KT_DOUBLE, /* double: a decimal number within [dmin, dmax] */
    KT_ENUM,   /* an int-sized enum: the index in names[], or lookup() */
    KT_MAP,    /* a nested mapping: table sub, fields relative to obj + offset */
    KT_CUSTOM  /* set() parses; dflt() fills the default */
};

#define KEY_REQUIRED 0x1u /* absent or null is an error */
#define KEY_NONEMPTY 0x2u /* KT_STRING/KT_PATH: "" is an error */

struct key;
struct table;
typedef bool key_setter(struct loader *ld, const struct key *k, void *obj,
                        yaml_node_t *node, const char *path);
typedef void key_defaulter(struct loader *ld, const struct key *k, void *obj);
typedef bool table_check(struct loader *ld, void *obj, yaml_node_t *map, const char *path);

struct key {
    const char *name;
    enum key_type type;
    size_t offset;              /* of the field in the level's struct */
    unsigned flags;
    /* The default when the key is absent or null, in the field's type. */
    const char *def_str;        /* KT_STRING, KT_PATH; dflt()'s argument */
    long long def_int;          /* KT_UINT, KT_SIZE, KT_BOOL, KT_ENUM */
    double def_num;             /* KT_DOUBLE */
    key_defaulter *dflt;        /* a computed default instead (any type) */
    long long min, max;         /* KT_UINT, KT_SIZE */
    double dmin, dmax;          /* KT_DOUBLE */
    const char *const *names;   /* KT_ENUM: NULL-terminated, value = index */
    int (*lookup)(const char *name); /* KT_ENUM without names: -1 unknown */
    const struct table *sub;    /* KT_MAP */
    key_setter *set;            /* KT_CUSTOM */
};

struct table {
    const struct key *keys;
    size_t nkeys;
    table_check *check;         /* rules across keys, after all are set */
};

/* ---- messages ------------------------------------------------------------ */

static void set_err(struct loader *ld, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct loader *ld, const char *fmt, ...)
{
    if (!ld->err || !ld->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err, ld->errlen, fmt, ap);
    va_end(ap);
}

/* "file:line:col: path: message"; without a node "file: path: message".
 * Always returns false so that callers can `return fail(...)`. */
static bool fail(struct loader *ld, const yaml_node_t *node, const char *path,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static bool fail(struct loader *ld, const yaml_node_t *node, const char *path,
                 const char *fmt, ...)
{
    char msg[CDR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *sep = *path ? ": " : "";
    if (node)
        set_err(ld, "%s:%zu:%zu: %s%s%s", ld->file, node->start_mark.line + 1,
                node->start_mark.column + 1, path, sep, msg);
    else
        set_err(ld, "%s: %s%s%s", ld->file, path, sep, msg);
    return false;
}

static bool is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

static bool wrong_type(struct loader *ld, const yaml_node_t *n, const char *path,
                       const char *expected)
{
    if (n->type == YAML_MAPPING_NODE)
        return fail(ld, n, path, "expected %s, got a mapping", expected);
    if (n->type == YAML_SEQUENCE_NODE)
        return fail(ld, n, path, "expected %s, got a list", expected);
    if (is_null(n))
        return fail(ld, n, path, "expected %s, got null", expected);
    return fail(ld, n, path, "expected %s, got '%.*s'", expected, QUOTE_MAX,
                (const char *)n->data.scalar.value);
}

/* The text of a scalar node, or NULL after reporting another kind of node. */
static const char *scalar_text(struct loader *ld, const yaml_node_t *n, const char *path,
                               const char *expected)
{
    if (n->type != YAML_SCALAR_NODE) {
        wrong_type(ld, n, path, expected);
        return NULL;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) {
        fail(ld, n, path, "contains a NUL character");
        return NULL;
    }
    return s;
}

/* A path that does not fit ends in "...": it only goes into messages. */
static void path_cut(char out[KEYPATH_MAX], int written)
{
    if (written >= KEYPATH_MAX)
        memcpy(out + KEYPATH_MAX - 4, "...", 4);
}

static void path_key(char out[KEYPATH_MAX], const char *path, const char *name)
{
    path_cut(out, snprintf(out, KEYPATH_MAX, "%s%s%s", path, *path ? "." : "", name));
}

static void path_index(char out[KEYPATH_MAX], const char *path, size_t i)
{
    path_cut(out, snprintf(out, KEYPATH_MAX, "%s[%zu]", path, i));
}

/* ---- paths and zones ----------------------------------------------------- */

/*
 * p resolved against the absolute folder base (p wins when absolute), then
 * normalised lexically: no ".", "..", repeated or trailing slashes. Lexical,
 * not realpath(3): the folder may not exist yet when the config is read.
 */
static char *path_resolve(const char *base, const char *p)
{
    char *joined = p[0] == '/' ? xstrdup(p) : xasprintf("%s/%s", base, p);
    char *out = xmalloc(strlen(joined) + 2);
    size_t n = 0;
    char *save = NULL;
    for (char *c = strtok_r(joined, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            while (n > 0 && out[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
            continue;
        }
        size_t len = strlen(c);
        out[n++] = '/';
        memcpy(out + n, c, len);
        n += len;
    }
    if (n == 0)
        out[n++] = '/';
    out[n] = '\0';
    free(joined);
    return out;
}

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

/* An IANA zone name: letters, digits, '/', '_', '-', '+'. '.' is not among
 * them, so no ".." component can climb out of the zoneinfo folder. */
static bool zone_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255 || name[0] == '/')
        return false;
    for (const char *c = name; *c; c++) {
        bool alnum = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                     (*c >= '0' && *c <= '9');
        if (!alnum && !strchr("/_-+", *c))
            return false;
    }
    return true;
}

static bool zone_exists(const char *name)
{
    if (!zone_name_ok(name))
        return false;
    char file[sizeof ZONEINFO_DIR + 256];
    snprintf(file, sizeof file, "%s%s", ZONEINFO_DIR, name);
    struct stat st;
    return stat(file, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- generic key handling ------------------------------------------------ */

static bool load_mapping(struct loader *ld, const struct table *t, void *obj,
                         yaml_node_t *map, const char *path, bool defaults);

static yaml_node_t *node_at(struct loader *ld, int index)
{
    return yaml_document_get_node(ld->doc, index);
}

/* The pair of map whose key is name, or NULL. */
static yaml_node_pair_t *map_find(struct loader *ld, yaml_node_t *map, const char *name)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = node_at(ld, p->key);
        if (key->type == YAML_SCALAR_NODE && !strcmp((const char *)key->data.scalar.value, name))
            return p;
    }
    return NULL;
}

static const struct key *table_find(const struct table *t, const char *name)
{
    for (size_t i = 0; i < t->nkeys; i++)
        if (!strcmp(t->keys[i].name, name))
            return &t->keys[i];
    return NULL;
}

/* Every key of map is in the table, and none is given twice. */
static bool check_keys(struct loader *ld, const struct table *t, yaml_node_t *map,
                       const char *path)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = node_at(ld, p->key);
        const char *name = scalar_text(ld, key, path, "a key name");
        if (!name)
            return false;
        char kpath[KEYPATH_MAX];
        path_key(kpath, path, name);
        if (!table_find(t, name))
            return fail(ld, key, kpath, "unknown key");
        yaml_node_pair_t *first = map_find(ld, map, name);
        if (first != p)
            return fail(ld, key, kpath, "duplicate key (first at line %zu)",
                        node_at(ld, first->key)->start_mark.line + 1);
    }
    return true;
}

static bool parse_integer(struct loader *ld, const struct key *k, const yaml_node_t *n,
                          const char *path, long long *out)
{
    const char *s = scalar_text(ld, n, path, "an integer");
    if (!s)
        return false;
    const char *d = s + (*s == '-' || *s == '+');
    if (!*d || strspn(d, "0123456789") != strlen(d))
        return wrong_type(ld, n, path, "an integer");
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < k->min || v > k->max)
        return fail(ld, n, path, "must be between %lld and %lld, got %.*s", k->min, k->max,
                    QUOTE_MAX, s);
    *out = v;
    return true;
}

static bool parse_bool(struct loader *ld, const yaml_node_t *n, const char *path, bool *out)
{
    const char *s = scalar_text(ld, n, path, "a boolean (true or false)");
    if (!s)
        return false;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
        *out = true;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
        *out = false;
    else
        return wrong_type(ld, n, path, "a boolean (true or false)");
    return true;
}

/* Decimal notation only ("0.25", "1", "5e-1"), read in the C locale whatever
 * LC_NUMERIC the program runs with; no hex, inf or nan. */
static bool parse_double(struct loader *ld, const struct key *k, const yaml_node_t *n,
                         const char *path, double *out)
{
    const char *s = scalar_text(ld, n, path, "a number");
    if (!s)
        return false;
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return wrong_type(ld, n, path, "a number");
    locale_t c = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c == (locale_t)0)
        return fail(ld, n, path, "cannot create the C locale: %s", strerror(errno));
    char *end;
    double v = strtod_l(s, &end, c);
    freelocale(c);
    if (end == s || *end)
        return wrong_type(ld, n, path, "a number");
    if (!(v >= k->dmin && v <= k->dmax))
        return fail(ld, n, path, "must be between %g and %g, got %.*s", k->dmin, k->dmax,
                    QUOTE_MAX, s);
    *out = v;
    return true;
}

static bool parse_enum(struct loader *ld, const struct key *k, const yaml_node_t *n,
                       const char *path, int *out)
{
    const char *s = scalar_text(ld, n, path, "a name");
    if (!s)
        return false;
    if (k->lookup) {
        int v = k->lookup(s);
        if (v < 0)
            return fail(ld, n, path, "unknown %s '%.*s'", k->name, QUOTE_MAX, s);
        *out = v;
        return true;
    }
    char choices[256] = "";
    for (int i = 0; k->names[i]; i++) {
        if (!strcmp(k->names[i], s)) {
            *out = i;
            return true;
        }
        size_t used = strlen(choices);
        snprintf(choices + used, sizeof choices - used, "%s%s", i ? ", " : "", k->names[i]);
    }
    return fail(ld, n, path, "unknown value '%.*s' (one of: %s)", QUOTE_MAX, s, choices);
}

static bool set_value(struct loader *ld, const struct key *k, void *obj, yaml_node_t *n,
                      const char *path)
{
    void *field = (char *)obj + k->offset;
    long long i;

    switch (k->type) {
    case KT_STRING:
    case KT_PATH: {
        const char *s = scalar_text(ld, n, path, "a string");
        if (!s)
            return false;
        if ((k->flags & KEY_NONEMPTY) && !*s)
            return fail(ld, n, path, "must not be empty");
        char **str = field;
        free(*str);
        *str = k->type == KT_PATH ? path_resolve(ld->cfg->base_dir, s) : xstrdup(s);
        return true;
    }
    case KT_UINT:
        if (!parse_integer(ld, k, n, path, &i))
            return false;
        *(unsigned *)field = (unsigned)i;
        return true;
    case KT_SIZE:
        if (!parse_integer(ld, k, n, path, &i))
            return false;
        *(size_t *)field = (size_t)i;
        return true;
    case KT_BOOL:
        return parse_bool(ld, n, path, field);
    case KT_DOUBLE:
        return parse_double(ld, k, n, path, field);
    case KT_ENUM:
        return parse_enum(ld, k, n, path, field);
    case KT_MAP:
        return load_mapping(ld, k->sub, field, n, path, true);
    case KT_CUSTOM:
        return k->set(ld, k, obj, n, path);
    }
    return fail(ld, n, path, "internal error: key type %d", (int)k->type);
}

static bool set_default(struct loader *ld, const struct key *k, void *obj, const char *path)
{
    void *field = (char *)obj + k->offset;

    if (k->dflt) {
        k->dflt(ld, k, obj);
        return true;
    }
    switch (k->type) {
    case KT_STRING:
        *(char **)field = k->def_str ? xstrdup(k->def_str) : NULL;
        break;
    case KT_PATH:
        *(char **)field = k->def_str ? path_resolve(ld->cfg->base_dir, k->def_str) : NULL;
        break;
    case KT_UINT:
        *(unsigned *)field = (unsigned)k->def_int;
        break;
    case KT_SIZE:
        *(size_t *)field = (size_t)k->def_int;
        break;
    case KT_BOOL:
        *(bool *)field = k->def_int != 0;
        break;
    case KT_DOUBLE:
        *(double *)field = k->def_num;
        break;
    case KT_ENUM:
        *(int *)field = (int)k->def_int;
        break;
    case KT_MAP:
        return load_mapping(ld, k->sub, field, NULL, path, true);
    case KT_CUSTOM:
        break;
    }
    return true;
}

/*
 * Fill obj from map by table t. map NULL (or null) means every key is
 * absent. Keys are applied in table order, not document order, so a row may
 * rely on the rows above it (a default derived from another key). With
 * defaults false, absent keys leave obj as it is (an override on top).
 */
static bool load_mapping(struct loader *ld, const struct table *t, void *obj,
                         yaml_node_t *map, const char *path, bool defaults)
{
    if (map && is_null(map))
        map = NULL;
    if (map && map->type != YAML_MAPPING_NODE)
        return wrong_type(ld, map, path, "a mapping");
    if (map && !check_keys(ld, t, map, path))
        return false;

    for (size_t i = 0; i < t->nkeys; i++) {
        const struct key *k = &t->keys[i];
        char kpath[KEYPATH_MAX];
        path_key(kpath, path, k->name);
        yaml_node_pair_t *pair = map ? map_find(ld, map, k->name) : NULL;
        yaml_node_t *val = pair ? node_at(ld, pair->value) : NULL;
        if (!val || is_null(val)) {
            if (k->flags & KEY_REQUIRED)
                return fail(ld, val ? val : map, kpath, "required");
            if (defaults && !set_default(ld, k, obj, kpath))
                return false;
            continue;
        }
        if (!set_value(ld, k, obj, val, kpath))
            return false;
    }
    return !t->check || t->check(ld, obj, map, path);
}

/* ---- watch and database -------------------------------------------------- */

static const char *const backend_names[] = {
    [CDR_WATCH_INOTIFY] = "inotify", [CDR_WATCH_POLL] = "poll", NULL};

#define WATCH_FIELD(f) offsetof(struct cdr_watch_config, f)

/* Bounds keep the values clear of overflow where the watcher scales them;
 * the rescan cannot be switched off: it is the backstop for lost events. */
static const struct key watch_keys[] = {
    {.name = "backend", .type = KT_ENUM, .offset = WATCH_FIELD(backend),
     .names = backend_names, .def_int = CDR_WATCH_INOTIFY},
    {.name = "poll_interval_ms", .type = KT_UINT, .offset = WATCH_FIELD(poll_interval_ms),
     .def_int = 2000, .min = 1, .max = 3600000},
    {.name = "settle_ms", .type = KT_UINT, .offset = WATCH_FIELD(settle_ms),
     .def_int = 1000, .min = 0, .max = 3600000},
    {.name = "rescan_interval_s", .type = KT_UINT, .offset = WATCH_FIELD(rescan_interval_s),
     .def_int = 300, .min = 1, .max = 86400},
};

static const struct table watch_table = {watch_keys, sizeof watch_keys / sizeof *watch_keys, NULL};

#define CONFIG_FIELD(f) offsetof(struct cdr_config, f)

/* dsn NULL: libpq reads the PG* environment. */
static const struct key database_keys[] = {
    {.name = "dsn", .type = KT_STRING, .offset = CONFIG_FIELD(dsn)},
    {.name = "schema", .type = KT_STRING, .offset = CONFIG_FIELD(schema),
     .flags = KEY_NONEMPTY, .def_str = "public"},
};

static const struct table database_table = {database_keys,
                                            sizeof database_keys / sizeof *database_keys, NULL};

/* ---- sources[] items ----------------------------------------------------- */

static bool set_patterns(struct loader *ld, const struct key *k, void *obj, yaml_node_t *n,
                         const char *path)
{
    (void)k;
    struct cdr_source *src = obj;
    const char *expected = "a file-name pattern or a list of them";
    yaml_node_item_t *items = NULL;
    size_t count = 1;

    if (n->type == YAML_SEQUENCE_NODE) {
        items = n->data.sequence.items.start;
        count = (size_t)(n->data.sequence.items.top - items);
        if (count == 0)
            return fail(ld, n, path, "must list at least one pattern");
    } else if (n->type != YAML_SCALAR_NODE) {
        return wrong_type(ld, n, path, expected);
    }
    src->patterns = xcalloc(count, sizeof *src->patterns);
    src->npatterns = count;
    for (size_t i = 0; i < count; i++) {
        char ipath[KEYPATH_MAX];
        yaml_node_t *item = n;
        if (items) {
            item = node_at(ld, items[i]);
            path_index(ipath, path, i);
        } else {
            path_cut(ipath, snprintf(ipath, sizeof ipath, "%s", path));
        }
        const char *s = scalar_text(ld, item, ipath, "a file-name pattern");
        if (!s)
            return false;
        if (!*s)
            return fail(ld, item, ipath, "must not be empty");
        if (strchr(s, '/'))
            return fail(ld, item, ipath, "'%.*s': a file-name pattern cannot contain '/'",
                        QUOTE_MAX, s);
        src->patterns[i] = xstrdup(s);
    }
    return true;
}

static void dflt_patterns(struct loader *ld, const struct key *k, void *obj)
{
    (void)ld;
    struct cdr_source *src = obj;
    src->patterns = xcalloc(1, sizeof *src->patterns);
    src->patterns[0] = xstrdup(k->def_str);
    src->npatterns = 1;
}

/* One `columns:` entry: a cdr column, "extra.NAME", or "-"/""/null to skip. */
static bool set_column(struct loader *ld, struct cdr_source *src, size_t i, yaml_node_t *n,
                       const char *path)
{
    struct cdr_colspec *col = &src->columns[i];

    if (is_null(n)) {
        col->kind = CDR_COL_SKIP;
        return true;
    }
    const char *s = scalar_text(ld, n, path, "a column name");
    if (!s)
        return false;
    if (!*s || !strcmp(s, "-")) {
        col->kind = CDR_COL_SKIP;
        return true;
    }
    if (!strncmp(s, "extra.", 6)) {
        const char *name = s + 6;
        if (!*name)
            return fail(ld, n, path, "'extra.' needs a key name after the dot");
        for (size_t j = 0; j < i; j++)
            if (src->columns[j].kind == CDR_COL_EXTRA && !strcmp(src->columns[j].extra_name, name))
                return fail(ld, n, path, "'%.*s' is already columns[%zu]", QUOTE_MAX, s, j);
        col->kind = CDR_COL_EXTRA;
        col->extra_name = xstrdup(name);
        return true;
    }
    int f = profile_field_by_name(s);
    if (f < 0 || f >= CDR_F_COUNT)
        return fail(ld, n, path, "unknown column '%.*s' (a cdr column, extra.NAME or -)",
                    QUOTE_MAX, s);
    for (size_t j = 0; j < i; j++)
        if (src->columns[j].kind == CDR_COL_FIELD && src->columns[j].field == (enum cdr_field)f)
            return fail(ld, n, path, "'%.*s' is already columns[%zu]", QUOTE_MAX, s, j);
    col->kind = CDR_COL_FIELD;
    col->field = (enum cdr_field)f;
    return true;
}

static bool set_columns(struct loader *ld, const struct key *k, void *obj, yaml_node_t *n,
                        const char *path)
{
    (void)k;
    struct cdr_source *src = obj;

    if (n->type != YAML_SEQUENCE_NODE)
        return wrong_type(ld, n, path, "a list of column names");
    yaml_node_item_t *items = n->data.sequence.items.start;
    size_t count = (size_t)(n->data.sequence.items.top - items);
    if (count == 0)
        return fail(ld, n, path, "must list at least one column");
    src->columns = xcalloc(count, sizeof *src->columns);
    src->ncolumns = count;
    for (size_t i = 0; i < count; i++) {
        char ipath[KEYPATH_MAX];
        path_index(ipath, path, i);
        if (!set_column(ld, src, i, node_at(ld, items[i]), ipath))
            return false;
    }
    return true;
}

static bool set_timezone(struct loader *ld, const struct key *k, void *obj, yaml_node_t *n,
                         const char *path)
{
    (void)k;
    struct cdr_source *src = obj;
    const char *s = scalar_text(ld, n, path, "a time zone name");
    if (!s)
        return false;
    if (!zone_name_ok(s))
        return fail(ld, n, path, "invalid time zone name '%.*s'", QUOTE_MAX, s);
    if (!zone_exists(s))
        return fail(ld, n, path, "unknown time zone '%.*s' (no file " ZONEINFO_DIR "%.*s)",
                    QUOTE_MAX, s, QUOTE_MAX, s);
    src->timezone = xstrdup(s);
    return true;
}

/* The host's zone is not validated: without tzdata installed it still names
 * the zone for the database, which has its own. */
static void dflt_timezone(struct loader *ld, const struct key *k, void *obj)
{
    (void)k;
    struct cdr_source *src = obj;
    if (!ld->host_tz)
        ld->host_tz = config_host_timezone();
    src->timezone = xstrdup(ld->host_tz);
}

/* processed_dir and failed_dir: <parent of path>/<def_str>. The path row
 * comes first in the table and is required, so it is set by now. */
static void dflt_sibling_dir(struct loader *ld, const struct key *k, void *obj)
{
    (void)ld;
    struct cdr_source *src = obj;
    char *parent = path_parent(src->path);
    *(char **)((char *)obj + k->offset) = path_resolve(parent, k->def_str);
    free(parent);
}

/* The effective watch settings: the top level's, overridden key by key. The
 * top-level watch row precedes sources, so it is filled by now. */
static bool set_source_watch(struct loader *ld, const struct key *k, void *obj,
                             yaml_node_t *n, const char *path)
{
    (void)k;
    struct cdr_source *src = obj;
    src->watch = ld->cfg->watch;
    src->has_watch = true;
    return load_mapping(ld, &watch_table, &src->watch, n, path, false);
}

static void dflt_source_watch(struct loader *ld, const struct key *k, void *obj)
{
    (void)k;
    struct cdr_source *src = obj;
    src->watch = ld->cfg->watch;
}

static bool check_source(struct loader *ld, void *obj, yaml_node_t *map, const char *path)
{
    struct cdr_source *src = obj;
    char kpath[KEYPATH_MAX];
    yaml_node_pair_t *fmt = map_find(ld, map, "format");
    yaml_node_pair_t *cols = map_find(ld, map, "columns");

    path_key(kpath, path, "columns");
    if (src->format == CDR_FMT_CUSTOM && !src->columns)
        return fail(ld, fmt ? node_at(ld, fmt->value) : map, kpath,
                    "required with format custom");
    if (src->format != CDR_FMT_CUSTOM && src->columns)
        return fail(ld, cols ? node_at(ld, cols->key) : map, kpath,
                    "only allowed with format custom (format is %s)",
                    profile_format_name(src->format));

    if (src->format == CDR_FMT_CUSTOM) {
        bool has_time = false;
        for (size_t i = 0; i < src->ncolumns; i++)
            has_time |= src->columns[i].kind == CDR_COL_FIELD &&
                        src->columns[i].field == CDR_F_CALL_TIME;
        if (!has_time)
            return fail(ld, cols ? node_at(ld, cols->value) : map, kpath,
                        "needs a call_time column (every call needs its start time)");
    }
    yaml_node_pair_t *hdr = map_find(ld, map, "header");
    if (src->header && src->format != CDR_FMT_CUSTOM) {
        /* A header on a headerless format would silently drop a call. */
        path_key(kpath, path, "header");
        return fail(ld, hdr ? node_at(ld, hdr->key) : map, kpath,
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
            yaml_node_pair_t *p = map_find(ld, map, names[i]);
            path_key(kpath, path, names[i]);
            return fail(ld, p ? node_at(ld, p->value) : map, kpath,
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

static const struct key source_keys[] = {
    {.name = "name", .type = KT_STRING, .offset = SOURCE_FIELD(name),
     .flags = KEY_REQUIRED | KEY_NONEMPTY},
    {.name = "path", .type = KT_PATH, .offset = SOURCE_FIELD(path),
     .flags = KEY_REQUIRED | KEY_NONEMPTY},
    {.name = "pattern", .type = KT_CUSTOM, .set = set_patterns, .dflt = dflt_patterns,
     .def_str = "*.csv"},
    {.name = "recursive", .type = KT_BOOL, .offset = SOURCE_FIELD(recursive), .def_int = true},
    {.name = "format", .type = KT_ENUM, .offset = SOURCE_FIELD(format),
     .lookup = profile_format_by_name, .def_int = CDR_FMT_KXHTS},
    {.name = "columns", .type = KT_CUSTOM, .set = set_columns},
    {.name = "header", .type = KT_BOOL, .offset = SOURCE_FIELD(header), .def_int = false},
    {.name = "timezone", .type = KT_CUSTOM, .set = set_timezone, .dflt = dflt_timezone},
    {.name = "encoding", .type = KT_STRING, .offset = SOURCE_FIELD(encoding),
     .flags = KEY_NONEMPTY, .def_str = "utf-8"},
    {.name = "on_success", .type = KT_ENUM, .offset = SOURCE_FIELD(on_success),
     .names = on_success_names, .def_int = CDR_ON_SUCCESS_MOVE},
    {.name = "processed_dir", .type = KT_PATH, .offset = SOURCE_FIELD(processed_dir),
     .flags = KEY_NONEMPTY, .dflt = dflt_sibling_dir, .def_str = "processed"},
    {.name = "failed_dir", .type = KT_PATH, .offset = SOURCE_FIELD(failed_dir),
     .flags = KEY_NONEMPTY, .dflt = dflt_sibling_dir, .def_str = "failed"},
    {.name = "max_reject_ratio", .type = KT_DOUBLE, .offset = SOURCE_FIELD(max_reject_ratio),
     .def_num = CDR_DEFAULT_MAX_REJECT_RATIO, .dmin = 0.0, .dmax = 1.0},
    {.name = "max_line_bytes", .type = KT_SIZE, .offset = SOURCE_FIELD(max_line_bytes),
     .def_int = CDR_DEFAULT_MAX_LINE_BYTES, .min = 1024, .max = 64LL * 1024 * 1024},
    {.name = "watch", .type = KT_CUSTOM, .set = set_source_watch, .dflt = dflt_source_watch},
};

static const struct table source_table = {source_keys, sizeof source_keys / sizeof *source_keys,
                                          check_source};

/* ---- top level ----------------------------------------------------------- */

static bool set_sources(struct loader *ld, const struct key *k, void *obj, yaml_node_t *n,
                        const char *path)
{
    (void)k;
    struct cdr_config *cfg = obj;

    if (n->type != YAML_SEQUENCE_NODE)
        return wrong_type(ld, n, path, "a list of sources");
    yaml_node_item_t *items = n->data.sequence.items.start;
    size_t count = (size_t)(n->data.sequence.items.top - items);
    if (count == 0)
        return fail(ld, n, path, "must list at least one source");
    /* Zeroed items, counted now: config_free handles the half-built ones. */
    cfg->sources = xcalloc(count, sizeof *cfg->sources);
    cfg->nsources = count;
    for (size_t i = 0; i < count; i++) {
        char ipath[KEYPATH_MAX];
        yaml_node_t *item = node_at(ld, items[i]);
        path_index(ipath, path, i);
        if (item->type != YAML_MAPPING_NODE)
            return wrong_type(ld, item, ipath, "a mapping");
        if (!load_mapping(ld, &source_table, &cfg->sources[i], item, ipath, true))
            return false;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(cfg->sources[j].name, cfg->sources[i].name))
                continue;
            char npath[KEYPATH_MAX];
            path_key(npath, ipath, "name");
            return fail(ld, node_at(ld, map_find(ld, item, "name")->value), npath,
                        "duplicate source name '%.*s' (also sources[%zu])", QUOTE_MAX,
                        cfg->sources[i].name, j);
        }
    }
    return true;
}

/* Row order matters: watch before sources, which inherit it. The database
 * row's fields live in struct cdr_config itself, hence offset 0. */
static const struct key top_keys[] = {
    {.name = "database", .type = KT_MAP, .offset = 0, .sub = &database_table},
    {.name = "jobs", .type = KT_UINT, .offset = CONFIG_FIELD(jobs), .def_int = 1, .min = 1,
     .max = 1024},
    {.name = "watch", .type = KT_MAP, .offset = CONFIG_FIELD(watch), .sub = &watch_table},
    {.name = "sources", .type = KT_CUSTOM, .flags = KEY_REQUIRED, .set = set_sources},
};

static const struct table top_table = {top_keys, sizeof top_keys / sizeof *top_keys, NULL};

/* ---- loading ------------------------------------------------------------- */

static bool read_config_file(struct loader *ld, const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        set_err(ld, "cannot read %s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        set_err(ld, "cannot read %s: %s", path, strerror(EISDIR));
        return false;
    }
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n > CONFIG_MAX_BYTES)
            break;
        if (n == cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    bool bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad || n > CONFIG_MAX_BYTES) {
        if (bad)
            set_err(ld, "cannot read %s: %s", path, strerror(saved));
        else
            set_err(ld, "cannot read %s: larger than %u bytes", path, CONFIG_MAX_BYTES);
        free(buf);
        return false;
    }
    *text = buf;
    *len = n;
    return true;
}

/* cfg->file and cfg->base_dir, absolute, for resolving relative paths. */
static bool set_file_paths(struct loader *ld, const char *path)
{
    if (path[0] == '/') {
        ld->cfg->file = path_resolve("/", path);
    } else {
        char *cwd = getcwd(NULL, 0);
        if (!cwd) {
            set_err(ld, "%s: cannot determine the current folder: %s", path, strerror(errno));
            return false;
        }
        ld->cfg->file = path_resolve(cwd, path);
        free(cwd);
    }
    ld->cfg->base_dir = path_parent(ld->cfg->file);
    return true;
}

static void syntax_error(struct loader *ld, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "cannot parse";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        set_err(ld, "%s: out of memory while parsing", ld->file);
        break;
    case YAML_READER_ERROR:
        if (p->problem_value != -1)
            set_err(ld, "%s: %s: #%X at byte %zu", ld->file, problem,
                    (unsigned)p->problem_value, p->problem_offset);
        else
            set_err(ld, "%s: %s at byte %zu", ld->file, problem, p->problem_offset);
        break;
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
    case YAML_COMPOSER_ERROR:
        if (p->context)
            set_err(ld, "%s:%zu:%zu: %s (%s at %zu:%zu)", ld->file, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, problem, p->context,
                    p->context_mark.line + 1, p->context_mark.column + 1);
        else
            set_err(ld, "%s:%zu:%zu: %s", ld->file, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, problem);
        break;
    default:
        set_err(ld, "%s: %s", ld->file, problem);
        break;
    }
}

/* yaml_parser_load reads one document; a second one would be ignored
 * silently, so it is an error (and is parsed, to report its syntax). */
static bool check_single_document(struct loader *ld, yaml_parser_t *parser)
{
    yaml_document_t next;
    if (!yaml_parser_load(parser, &next)) {
        syntax_error(ld, parser);
        return false;
    }
    yaml_node_t *root = yaml_document_get_root_node(&next);
    bool ok = true;
    if (root) {
        set_err(ld, "%s:%zu:%zu: only one YAML document is allowed", ld->file,
                next.start_mark.line + 1, next.start_mark.column + 1);
        ok = false;
    }
    yaml_document_delete(&next);
    return ok;
}

struct cdr_config *config_load(const char *path, char *err, size_t errlen)
{
    struct cdr_config *cfg = xcalloc(1, sizeof *cfg);
    struct loader ld = {.file = path, .err = err, .errlen = errlen, .cfg = cfg};
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_parser = false, have_doc = false, ok = false;
    char *text = NULL;
    size_t len = 0;
    yaml_node_t *root;

    if (err && errlen)
        err[0] = '\0';
    if (!read_config_file(&ld, path, &text, &len) || !set_file_paths(&ld, path))
        goto out;
    if (!yaml_parser_initialize(&parser)) {
        set_err(&ld, "%s: out of memory", path);
        goto out;
    }
    have_parser = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(&ld, &parser);
        goto out;
    }
    have_doc = true;
    ld.doc = &doc;
    if (!check_single_document(&ld, &parser))
        goto out;
    /* An empty document is a mapping with every key absent. */
    root = yaml_document_get_root_node(&doc);
    if (root && !is_null(root) && root->type != YAML_MAPPING_NODE) {
        wrong_type(&ld, root, "", "a mapping of settings at the top level");
        goto out;
    }
    ok = load_mapping(&ld, &top_table, cfg, root, "", true);

out:
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    free(text);
    free(ld.host_tz);
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
    for (size_t i = 0; i < src->ncolumns; i++)
        free(src->columns[i].extra_name);
    free(src->columns);
    free(src->timezone);
    free(src->encoding);
    free(src->processed_dir);
    free(src->failed_dir);
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

const struct cdr_source *config_find_source(const struct cdr_config *cfg, const char *name)
{
    if (!cfg || !name)
        return NULL;
    for (size_t i = 0; i < cfg->nsources; i++)
        if (!strcmp(cfg->sources[i].name, name))
            return &cfg->sources[i];
    return NULL;
}

/*
 * $TZ only counts when it names an installed zone (it may be a POSIX rule
 * such as "CET-1CEST"). /etc/timezone and the /etc/localtime link are taken
 * by name alone: the database has its own copy of the zone data.
 */
char *config_host_timezone(void)
{
    const char *tz = getenv("TZ");
    if (tz && *tz) {
        if (*tz == ':')
            tz++;
        if (!strncmp(tz, ZONEINFO_DIR, strlen(ZONEINFO_DIR)))
            tz += strlen(ZONEINFO_DIR);
        if (zone_exists(tz))
            return xstrdup(tz);
    }

    FILE *f = fopen("/etc/timezone", "r");
    if (f) {
        char line[256];
        bool got = fgets(line, sizeof line, f) != NULL;
        fclose(f);
        if (got) {
            line[strcspn(line, " \t\r\n")] = '\0';
            if (zone_name_ok(line))
                return xstrdup(line);
        }
    }

    char link[PATH_MAX];
    ssize_t n = readlink("/etc/localtime", link, sizeof link - 1);
    if (n > 0) {
        link[n] = '\0';
        const char *z = strstr(link, "zoneinfo/");
        if (z) {
            z += strlen("zoneinfo/");
            if (!strncmp(z, "posix/", 6))
                z += 6;
            if (zone_name_ok(z))
                return xstrdup(z);
        }
    }
    return xstrdup("UTC");
}
