/*
 * keydoc.h - importer.yaml(5)'s list of keys, generated from the same key
 * tables the loader reads (keytab.h, config.c's config_table), so that the
 * manual and the loader never disagree: names, nesting, types, bounds,
 * enum values and plain defaults come from the rows; only the words come
 * from a text file (man/importer.yaml.keys), one entry per key path:
 *
 *     == sources[].format
 *     default: auto        (optional: overrides the row's default text)
 *     type: ...            (optional: overrides the row's type text)
 *     Words in scdoc markup, any number of lines.
 *
 * keydoc_check says which keys have no words (a key just added to a table)
 * and which words have no key (one renamed or removed); a unit test and
 * the man page build both run it. Used by tools/keydoc.c at build time.
 */
#ifndef CDR_KEYDOC_H
#define CDR_KEYDOC_H

#include "keytab.h"

#include <stdio.h>

/* One key of the tables, as the walk meets it: depth first, table order. */
struct keydoc_key {
    char path[KEYTAB_PATH_MAX];  /* "sources[].fetch.url" */
    const struct keytab_key *row;
    const char *same_as;         /* a table already documented under this path */
};

/* Every key under top, in order; *n set. The caller frees the array. */
struct keydoc_key *keydoc_walk(const struct keytab_table *top, size_t *n);

/* What the rows say: "integer, 1 to 1024", "one of: move, delete, keep";
 * the default as text, or false when only the words can say (a computed
 * default, a custom row without a plain one). */
void keydoc_type(const struct keytab_key *k, char *out, size_t len);
bool keydoc_default(const struct keytab_key *k, char *out, size_t len);

/* The words, parsed from the text of man/importer.yaml.keys. */
struct keydoc_words;
struct keydoc_words *keydoc_words_parse(const char *text, size_t len);
void keydoc_words_free(struct keydoc_words *w);

/* Each problem as one line into out (may be NULL); returns their count. */
size_t keydoc_check(const struct keytab_table *top, const struct keydoc_words *w, FILE *out);

/* The scdoc text of the key list (a "## " section per mapping, an
 * indented entry per key). */
void keydoc_scdoc(const struct keytab_table *top, const struct keydoc_words *w, FILE *out);

#endif
