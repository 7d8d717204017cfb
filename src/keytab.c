/*
 * keytab.c - the key-table engine behind config.c: a YAML file read with
 * libyaml's document API (so every node keeps its line:column for
 * messages), then walked level by level against static tables of rows.
 * Generic: the types, their parsing and defaults, unknown and duplicate
 * keys. What the keys mean, and rules across them, stay with the caller.
 * No logging: a failure is one message in the caller's buffer.
 */
#include "keytab.h"
#include "plat.h"

#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- messages ------------------------------------------------------------ */

static void set_err(struct keytab *kt, const char *fmt, ...) CDR_PRINTF(2, 3);
static void set_err(struct keytab *kt, const char *fmt, ...)
{
    if (!kt->err || !kt->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(kt->err, kt->errlen, fmt, ap);
    va_end(ap);
}

bool keytab_fail(struct keytab *kt, const yaml_node_t *node, const char *path,
                 const char *fmt, ...)
{
    char msg[CDR_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *sep = *path ? ": " : "";
    if (node)
        set_err(kt, "%s:%zu:%zu: %s%s%s", kt->file, node->start_mark.line + 1,
                node->start_mark.column + 1, path, sep, msg);
    else
        set_err(kt, "%s: %s%s%s", kt->file, path, sep, msg);
    return false;
}

bool keytab_is_null(const yaml_node_t *n)
{
    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    const char *s = (const char *)n->data.scalar.value;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
           !strcmp(s, "NULL");
}

bool keytab_wrong_type(struct keytab *kt, const yaml_node_t *n, const char *path,
                       const char *expected)
{
    if (n->type == YAML_MAPPING_NODE)
        return keytab_fail(kt, n, path, "expected %s, got a mapping", expected);
    if (n->type == YAML_SEQUENCE_NODE)
        return keytab_fail(kt, n, path, "expected %s, got a list", expected);
    if (keytab_is_null(n))
        return keytab_fail(kt, n, path, "expected %s, got null", expected);
    return keytab_fail(kt, n, path, "expected %s, got '%.*s'", expected, KEYTAB_QUOTE_MAX,
                       (const char *)n->data.scalar.value);
}

const char *keytab_scalar(struct keytab *kt, const yaml_node_t *n, const char *path,
                          const char *expected)
{
    if (n->type != YAML_SCALAR_NODE) {
        keytab_wrong_type(kt, n, path, expected);
        return NULL;
    }
    const char *s = (const char *)n->data.scalar.value;
    if (strlen(s) != n->data.scalar.length) {
        keytab_fail(kt, n, path, "contains a NUL character");
        return NULL;
    }
    return s;
}

/* A path that does not fit ends in "...": it only goes into messages. */
static void path_cut(char out[KEYTAB_PATH_MAX], int written)
{
    if (written >= KEYTAB_PATH_MAX)
        memcpy(out + KEYTAB_PATH_MAX - 4, "...", 4);
}

void keytab_path_key(char out[KEYTAB_PATH_MAX], const char *path, const char *name)
{
    path_cut(out, snprintf(out, KEYTAB_PATH_MAX, "%s%s%s", path, *path ? "." : "", name));
}

void keytab_path_index(char out[KEYTAB_PATH_MAX], const char *path, size_t i)
{
    path_cut(out, snprintf(out, KEYTAB_PATH_MAX, "%s[%zu]", path, i));
}

bool keytab_list(struct keytab *kt, const yaml_node_t *node, const char *path,
                 const char *expected, const char *one, yaml_node_item_t **items,
                 size_t *count)
{
    if (node->type != YAML_SEQUENCE_NODE)
        return keytab_wrong_type(kt, node, path, expected);
    *items = node->data.sequence.items.start;
    *count = (size_t)(node->data.sequence.items.top - *items);
    if (*count == 0)
        return keytab_fail(kt, node, path, "must list at least one %s", one);
    return true;
}

/* Lexical, not realpath(3): the folder may not exist yet when the file is
 * read. */
char *keytab_path_resolve(const char *base, const char *p)
{
    /* No "//" from the join: on Windows that starts a share's name. */
    char *joined = plat_path_join(base, p);
    plat_path_normalize(joined);
    char *out = xmalloc(strlen(joined) + 2);
    /* The root stays as it is ("/", or "C:/" on Windows), without its last
     * '/', which each component brings; ".." never climbs above it. */
    size_t root = plat_path_root(joined);
    size_t top = root ? root - 1 : 0, n = top;
    memcpy(out, joined, top);
    char *save = NULL;
    for (char *c = strtok_r(joined + top, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
        if (!strcmp(c, "."))
            continue;
        if (!strcmp(c, "..")) {
            while (n > top && out[n - 1] != '/')
                n--;
            if (n > top)
                n--;
            continue;
        }
        size_t len = strlen(c);
        out[n++] = '/';
        memcpy(out + n, c, len);
        n += len;
    }
    if (n == top)
        out[n++] = '/';
    out[n] = '\0';
    free(joined);
    return out;
}

/* ---- walking the document ------------------------------------------------ */

yaml_node_t *keytab_node(struct keytab *kt, int index)
{
    return yaml_document_get_node(kt->doc, index);
}

yaml_node_pair_t *keytab_find(struct keytab *kt, yaml_node_t *map, const char *name)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = keytab_node(kt, p->key);
        if (key->type == YAML_SCALAR_NODE && !strcmp((const char *)key->data.scalar.value, name))
            return p;
    }
    return NULL;
}

static const struct keytab_key *table_find(const struct keytab_table *t, const char *name)
{
    for (size_t i = 0; i < t->nkeys; i++)
        if (!strcmp(t->keys[i].name, name))
            return &t->keys[i];
    return NULL;
}

/* Every key of map is in the table, and none is given twice. */
static bool check_keys(struct keytab *kt, const struct keytab_table *t, yaml_node_t *map,
                       const char *path)
{
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
        yaml_node_t *key = keytab_node(kt, p->key);
        const char *name = keytab_scalar(kt, key, path, "a key name");
        if (!name)
            return false;
        char kpath[KEYTAB_PATH_MAX];
        keytab_path_key(kpath, path, name);
        if (!table_find(t, name))
            return keytab_fail(kt, key, kpath, "unknown key");
        yaml_node_pair_t *first = keytab_find(kt, map, name);
        if (first != p)
            return keytab_fail(kt, key, kpath, "duplicate key (first at line %zu)",
                               keytab_node(kt, first->key)->start_mark.line + 1);
    }
    return true;
}

/* ---- scalars by type ----------------------------------------------------- */

bool keytab_parse_int(const char *s, long long min, long long max, long long *out,
                      char *msg, size_t msglen)
{
    const char *d = s + (*s == '-' || *s == '+');
    if (!*d || strspn(d, "0123456789") != strlen(d)) {
        snprintf(msg, msglen, "expected an integer, got '%.*s'", KEYTAB_QUOTE_MAX, s);
        return false;
    }
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || v < min || v > max) {
        snprintf(msg, msglen, "must be between %lld and %lld, got %.*s", min, max,
                 KEYTAB_QUOTE_MAX, s);
        return false;
    }
    *out = v;
    return true;
}

static bool parse_integer(struct keytab *kt, const struct keytab_key *k, const yaml_node_t *n,
                          const char *path, long long *out)
{
    const char *s = keytab_scalar(kt, n, path, "an integer");
    if (!s)
        return false;
    char msg[CDR_ERRLEN];
    if (!keytab_parse_int(s, k->min, k->max, out, msg, sizeof msg))
        return keytab_fail(kt, n, path, "%s", msg);
    return true;
}

static bool parse_bool(struct keytab *kt, const yaml_node_t *n, const char *path, bool *out)
{
    const char *s = keytab_scalar(kt, n, path, "a boolean (true or false)");
    if (!s)
        return false;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "yes") || !strcasecmp(s, "on"))
        *out = true;
    else if (!strcasecmp(s, "false") || !strcasecmp(s, "no") || !strcasecmp(s, "off"))
        *out = false;
    else
        return keytab_wrong_type(kt, n, path, "a boolean (true or false)");
    return true;
}

/* Decimal notation only ("0.25", "1", "5e-1"), read in the C locale whatever
 * LC_NUMERIC the program runs with; no hex, inf or nan. */
static bool parse_double(struct keytab *kt, const struct keytab_key *k, const yaml_node_t *n,
                         const char *path, double *out)
{
    const char *s = keytab_scalar(kt, n, path, "a number");
    if (!s)
        return false;
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return keytab_wrong_type(kt, n, path, "a number");
    char *end;
    double v = plat_strtod_c(s, &end);
    if (end == s || *end)
        return keytab_wrong_type(kt, n, path, "a number");
    if (!(v >= k->dmin && v <= k->dmax))
        return keytab_fail(kt, n, path, "must be between %g and %g, got %.*s", k->dmin,
                           k->dmax, KEYTAB_QUOTE_MAX, s);
    *out = v;
    return true;
}

static bool parse_enum(struct keytab *kt, const struct keytab_key *k, const yaml_node_t *n,
                       const char *path, int *out)
{
    const char *s = keytab_scalar(kt, n, path, "a name");
    if (!s)
        return false;
    if (k->lookup) {
        int v = k->lookup(s);
        if (v < 0)
            return keytab_fail(kt, n, path, "unknown %s '%.*s'", k->name, KEYTAB_QUOTE_MAX, s);
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
    return keytab_fail(kt, n, path, "unknown value '%.*s' (one of: %s)", KEYTAB_QUOTE_MAX, s,
                       choices);
}

/* ---- rows ---------------------------------------------------------------- */

static bool set_value(struct keytab *kt, const struct keytab_key *k, void *obj, yaml_node_t *n,
                      const char *path)
{
    void *field = (char *)obj + k->offset;
    long long i;

    switch (k->type) {
    case KEYTAB_STRING:
    case KEYTAB_PATH: {
        const char *s = keytab_scalar(kt, n, path, "a string");
        if (!s)
            return false;
        if ((k->flags & KEYTAB_NONEMPTY) && !*s)
            return keytab_fail(kt, n, path, "must not be empty");
        char **str = field;
        free(*str);
        *str = k->type == KEYTAB_PATH ? keytab_path_resolve(kt->base_dir, s) : xstrdup(s);
        return true;
    }
    case KEYTAB_UINT:
        if (!parse_integer(kt, k, n, path, &i))
            return false;
        *(unsigned *)field = (unsigned)i;
        return true;
    case KEYTAB_SIZE:
        if (!parse_integer(kt, k, n, path, &i))
            return false;
        *(size_t *)field = (size_t)i;
        return true;
    case KEYTAB_BOOL:
        return parse_bool(kt, n, path, field);
    case KEYTAB_DOUBLE:
        return parse_double(kt, k, n, path, field);
    case KEYTAB_ENUM:
        return parse_enum(kt, k, n, path, field);
    case KEYTAB_MAP:
        return keytab_load_mapping(kt, k->sub, field, n, path, true);
    case KEYTAB_CUSTOM:
        return k->set(kt, k, obj, n, path);
    }
    return keytab_fail(kt, n, path, "internal error: key type %d", (int)k->type);
}

static bool set_default(struct keytab *kt, const struct keytab_key *k, void *obj,
                        const char *path)
{
    void *field = (char *)obj + k->offset;

    if (k->dflt) {
        k->dflt(kt, k, obj);
        return true;
    }
    switch (k->type) {
    case KEYTAB_STRING:
        *(char **)field = k->def_str ? xstrdup(k->def_str) : NULL;
        break;
    case KEYTAB_PATH:
        *(char **)field = k->def_str ? keytab_path_resolve(kt->base_dir, k->def_str) : NULL;
        break;
    case KEYTAB_UINT:
        *(unsigned *)field = (unsigned)k->def_int;
        break;
    case KEYTAB_SIZE:
        *(size_t *)field = (size_t)k->def_int;
        break;
    case KEYTAB_BOOL:
        *(bool *)field = k->def_int != 0;
        break;
    case KEYTAB_DOUBLE:
        *(double *)field = k->def_num;
        break;
    case KEYTAB_ENUM:
        *(int *)field = (int)k->def_int;
        break;
    case KEYTAB_MAP:
        return keytab_load_mapping(kt, k->sub, field, NULL, path, true);
    case KEYTAB_CUSTOM:
        break;
    }
    return true;
}

bool keytab_load_mapping(struct keytab *kt, const struct keytab_table *t, void *obj,
                         yaml_node_t *map, const char *path, bool defaults)
{
    if (map && keytab_is_null(map))
        map = NULL;
    if (map && map->type != YAML_MAPPING_NODE)
        return keytab_wrong_type(kt, map, path, "a mapping");
    if (map && !check_keys(kt, t, map, path))
        return false;

    for (size_t i = 0; i < t->nkeys; i++) {
        const struct keytab_key *k = &t->keys[i];
        char kpath[KEYTAB_PATH_MAX];
        keytab_path_key(kpath, path, k->name);
        yaml_node_pair_t *pair = map ? keytab_find(kt, map, k->name) : NULL;
        yaml_node_t *val = pair ? keytab_node(kt, pair->value) : NULL;
        if (!val || keytab_is_null(val)) {
            if (k->flags & KEYTAB_REQUIRED)
                return keytab_fail(kt, val ? val : map, kpath, "required");
            if (defaults && !set_default(kt, k, obj, kpath))
                return false;
            continue;
        }
        if (!set_value(kt, k, obj, val, kpath))
            return false;
    }
    return !t->check || t->check(kt, obj, map, path);
}

/* ---- the file and the document ------------------------------------------- */

char *keytab_read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    struct keytab kt = {.err = err, .errlen = errlen};
    FILE *f = plat_fopen(path, "rb");
    if (!f) {
        set_err(&kt, "cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        set_err(&kt, "cannot read %s: %s", path, strerror(EISDIR));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
        if (n > KEYTAB_MAX_BYTES)
            break;
        if (n == cap) {
            cap *= 2;
            buf = xrealloc(buf, cap);
        }
    }
    bool bad = ferror(f);
    int saved = errno;
    fclose(f);
    if (bad || n > KEYTAB_MAX_BYTES) {
        if (bad)
            set_err(&kt, "cannot read %s: %s", path, strerror(saved));
        else
            set_err(&kt, "cannot read %s: larger than %u bytes", path, KEYTAB_MAX_BYTES);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static void syntax_error(struct keytab *kt, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "cannot parse";
    switch (p->error) {
    case YAML_MEMORY_ERROR:
        set_err(kt, "%s: out of memory while parsing", kt->file);
        break;
    case YAML_READER_ERROR:
        if (p->problem_value != -1)
            set_err(kt, "%s: %s: #%X at byte %zu", kt->file, problem,
                    (unsigned)p->problem_value, p->problem_offset);
        else
            set_err(kt, "%s: %s at byte %zu", kt->file, problem, p->problem_offset);
        break;
    case YAML_SCANNER_ERROR:
    case YAML_PARSER_ERROR:
    case YAML_COMPOSER_ERROR:
        if (p->context)
            set_err(kt, "%s:%zu:%zu: %s (%s at %zu:%zu)", kt->file, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, problem, p->context,
                    p->context_mark.line + 1, p->context_mark.column + 1);
        else
            set_err(kt, "%s:%zu:%zu: %s", kt->file, p->problem_mark.line + 1,
                    p->problem_mark.column + 1, problem);
        break;
    default:
        set_err(kt, "%s: %s", kt->file, problem);
        break;
    }
}

/* yaml_parser_load reads one document; a second one would be ignored
 * silently, so it is an error (and is parsed, to report its syntax). */
static bool check_single_document(struct keytab *kt, yaml_parser_t *parser)
{
    yaml_document_t next;
    if (!yaml_parser_load(parser, &next)) {
        syntax_error(kt, parser);
        return false;
    }
    yaml_node_t *root = yaml_document_get_root_node(&next);
    bool ok = true;
    if (root) {
        set_err(kt, "%s:%zu:%zu: only one YAML document is allowed", kt->file,
                next.start_mark.line + 1, next.start_mark.column + 1);
        ok = false;
    }
    yaml_document_delete(&next);
    return ok;
}

bool keytab_load(struct keytab *kt, const char *text, size_t len,
                 const struct keytab_table *top, void *obj)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    bool have_doc = false, ok = false;
    yaml_node_t *root;

    if (!yaml_parser_initialize(&parser)) {
        set_err(kt, "%s: out of memory", kt->file);
        return false;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(kt, &parser);
        goto out;
    }
    have_doc = true;
    kt->doc = &doc;
    if (!check_single_document(kt, &parser))
        goto out;
    /* An empty document is a mapping with every key absent. */
    root = yaml_document_get_root_node(&doc);
    if (root && !keytab_is_null(root) && root->type != YAML_MAPPING_NODE) {
        keytab_wrong_type(kt, root, "", "a mapping of settings at the top level");
        goto out;
    }
    ok = keytab_load_mapping(kt, top, obj, root, "", true);

out:
    if (have_doc)
        yaml_document_delete(&doc);
    kt->doc = NULL;
    yaml_parser_delete(&parser);
    return ok;
}
