/*
 * keytab.h - a YAML settings file read through declarative key tables, as
 * PgBouncer reads its config: each mapping level is one table of rows
 * (name, type, field offset, default, bounds), and loading, defaults and
 * the errors (unknown or duplicate key, wrong type, out of range) all come
 * from those rows. Every error names the file, line:column and key path.
 * Knows nothing of cdrimport's keys: config.c holds those tables.
 * Pure apart from reading the file; never logs.
 */
#ifndef CDR_KEYTAB_H
#define CDR_KEYTAB_H

#include "cdrimport.h"

#include <yaml.h>

/* A settings file is a few kilobytes; the cap stops `-c /dev/zero`. */
#define KEYTAB_MAX_BYTES (1024u * 1024u)
/* Key paths in messages ("sources[3].watch.settle_ms"); longer ones are cut. */
#define KEYTAB_PATH_MAX 256
/* Scalars quoted in messages are cut to this many bytes. */
#define KEYTAB_QUOTE_MAX 64

enum keytab_type {
    KEYTAB_STRING, /* char *: any scalar */
    KEYTAB_PATH,   /* char *: a string resolved against base_dir, normalised */
    KEYTAB_UINT,   /* unsigned: a decimal integer within [min, max] */
    KEYTAB_SIZE,   /* size_t: likewise */
    KEYTAB_BOOL,   /* bool: true/false, yes/no, on/off in any case */
    KEYTAB_DOUBLE, /* double: a decimal number within [dmin, dmax] */
    KEYTAB_ENUM,   /* an int-sized enum: the index in names[], or lookup() */
    KEYTAB_MAP,    /* a nested mapping: table sub, fields relative to obj + offset */
    KEYTAB_CUSTOM  /* set() parses; dflt() fills the default */
};

#define KEYTAB_REQUIRED 0x1u /* absent or null is an error */
#define KEYTAB_NONEMPTY 0x2u /* KEYTAB_STRING/KEYTAB_PATH: "" is an error */
#define KEYTAB_LIST 0x4u     /* documentation (keydoc.h): a CUSTOM row holding a
                              * list of sub's mappings, not one */

/*
 * One load in progress. The caller fills file (the prefix of messages),
 * err/errlen (may be NULL/0), base_dir (absolute; for KEYTAB_PATH) and user
 * (its own state, for its custom rows); doc is set while the tables run.
 */
struct keytab {
    const char *file;
    char *err;
    size_t errlen;
    const char *base_dir;
    void *user;
    yaml_document_t *doc;
};

struct keytab_key;
struct keytab_table;
/* Parse node into obj (the level's struct); false after keytab_fail(). */
typedef bool keytab_setter(struct keytab *kt, const struct keytab_key *k, void *obj,
                           yaml_node_t *node, const char *path);
typedef void keytab_defaulter(struct keytab *kt, const struct keytab_key *k, void *obj);
/* Rules across the keys of one level, run after all of them are set. map
 * is NULL when the whole level was absent. */
typedef bool keytab_check(struct keytab *kt, void *obj, yaml_node_t *map, const char *path);

struct keytab_key {
    const char *name;
    enum keytab_type type;
    size_t offset;              /* of the field in the level's struct */
    unsigned flags;
    /* The default when the key is absent or null, in the field's type. */
    const char *def_str;        /* STRING, PATH; dflt()'s argument */
    long long def_int;          /* UINT, SIZE, BOOL, ENUM */
    double def_num;             /* DOUBLE */
    keytab_defaulter *dflt;     /* a computed default instead (any type) */
    long long min, max;         /* UINT, SIZE */
    double dmin, dmax;          /* DOUBLE */
    const char *const *names;   /* ENUM: NULL-terminated, value = index */
    int (*lookup)(const char *name); /* ENUM: -1 unknown; when set it parses,
                                      * and names (if any) only documents */
    /* MAP; also CUSTOM rows that hold a mapping (or, with KEYTAB_LIST, a
     * list of them) read by this table: the engine ignores it there, the
     * documentation (keydoc.h) walks it. */
    const struct keytab_table *sub;
    keytab_setter *set;         /* CUSTOM */
};

struct keytab_table {
    const struct keytab_key *keys;
    size_t nkeys;
    keytab_check *check;        /* may be NULL */
};

/* A table of the rows of a static array. */
#define KEYTAB_TABLE(rows, check) {(rows), sizeof(rows) / sizeof *(rows), (check)}

/* The whole file (at most KEYTAB_MAX_BYTES) into a fresh buffer, or NULL
 * with "cannot read FILE: why" in err. */
char *keytab_read_file(const char *path, size_t *len, char *err, size_t errlen);

/*
 * Parse text as one YAML document whose top level is a mapping (or empty)
 * and fill obj by table top, with defaults for absent keys. False with one
 * message in kt->err ("importer.yaml:7:5: sources[0].format: unknown ...").
 */
bool keytab_load(struct keytab *kt, const char *text, size_t len,
                 const struct keytab_table *top, void *obj);

/*
 * Fill obj from map by table t, for custom rows that hold mappings (list
 * items, overrides). map NULL (or null) means every key is absent. Rows are
 * applied in table order, so a row may rely on the rows above it. With
 * defaults false, absent keys leave obj as it is (an override on top).
 */
bool keytab_load_mapping(struct keytab *kt, const struct keytab_table *t, void *obj,
                         yaml_node_t *map, const char *path, bool defaults);

/* ---- for custom rows and checks ------------------------------------------ */

/* "file:line:col: path: message" (without a node "file: path: message").
 * Always false, so that callers can `return keytab_fail(...)`. */
bool keytab_fail(struct keytab *kt, const yaml_node_t *node, const char *path,
                 const char *fmt, ...) CDR_PRINTF(4, 5);
/* "expected <expected>, got 'x'" (or a mapping, a list, null). False. */
bool keytab_wrong_type(struct keytab *kt, const yaml_node_t *node, const char *path,
                       const char *expected);
/* The text of a scalar node, or NULL after reporting another kind of node
 * (or a NUL inside). */
const char *keytab_scalar(struct keytab *kt, const yaml_node_t *node, const char *path,
                          const char *expected);
/* The items of a non-empty list node: false after reporting another kind
 * of node (expected) or an empty list ("must list at least one <one>"). */
bool keytab_list(struct keytab *kt, const yaml_node_t *node, const char *path,
                 const char *expected, const char *one, yaml_node_item_t **items,
                 size_t *count);
/* A plain empty, ~ or null scalar. */
bool keytab_is_null(const yaml_node_t *node);
yaml_node_t *keytab_node(struct keytab *kt, int index);
/* The pair of map whose key is name, or NULL. */
yaml_node_pair_t *keytab_find(struct keytab *kt, yaml_node_t *map, const char *name);

/* "path.name" and "path[i]" for messages. */
void keytab_path_key(char out[KEYTAB_PATH_MAX], const char *path, const char *name);
void keytab_path_index(char out[KEYTAB_PATH_MAX], const char *path, size_t i);

/* p resolved against the absolute folder base (p wins when absolute) and
 * normalised lexically: no ".", "..", repeated or trailing slashes. */
char *keytab_path_resolve(const char *base, const char *p);

/*
 * A decimal integer within [min, max], as KEYTAB_UINT and KEYTAB_SIZE read
 * it; exported so that a command-line option with the same bounds gives the
 * same message. False with "expected an integer, got 'x'" or "must be
 * between MIN and MAX, got x" in msg.
 */
bool keytab_parse_int(const char *s, long long min, long long max, long long *out,
                      char *msg, size_t msglen);

#endif
