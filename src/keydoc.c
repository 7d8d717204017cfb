/*
 * keydoc.c - importer.yaml(5)'s key list from the loader's own key tables
 * (see keydoc.h). Everything a row can say is taken from the row; the
 * words file adds the meaning, and overrides the type or default text only
 * where the row cannot say (custom rows, computed defaults). A table met a
 * second time (a source's watch: overriding the top-level watch keys) is
 * not listed again but referred to.
 */
#include "keydoc.h"

#include <stdlib.h>
#include <string.h>

/* ---- the walk ------------------------------------------------------------ */

struct walk {
    struct keydoc_key *keys;
    size_t n, cap;
    /* tables seen, with the path they were first listed under */
    const struct keytab_table *seen[32];
    char seen_path[32][KEYTAB_PATH_MAX];
    size_t nseen;
};

static const char *seen_at(const struct walk *w, const struct keytab_table *t)
{
    for (size_t i = 0; i < w->nseen; i++)
        if (w->seen[i] == t)
            return w->seen_path[i];
    return NULL;
}

static void walk_table(struct walk *w, const struct keytab_table *t, const char *prefix)
{
    for (size_t i = 0; i < t->nkeys; i++) {
        const struct keytab_key *k = &t->keys[i];
        if (w->n == w->cap)
            w->keys = xrealloc(w->keys, (w->cap = w->cap ? 2 * w->cap : 64) * sizeof *w->keys);
        struct keydoc_key *e = &w->keys[w->n++];
        memset(e, 0, sizeof *e);
        keytab_path_key(e->path, prefix, k->name);
        e->row = k;
        if (!k->sub)
            continue;
        e->same_as = seen_at(w, k->sub);
        if (e->same_as)
            continue;
        char sub[KEYTAB_PATH_MAX + 2];
        snprintf(sub, sizeof sub, "%s%s", e->path, (k->flags & KEYTAB_LIST) ? "[]" : "");
        if (w->nseen < sizeof w->seen / sizeof *w->seen) {
            w->seen[w->nseen] = k->sub;
            snprintf(w->seen_path[w->nseen++], KEYTAB_PATH_MAX, "%.*s", KEYTAB_PATH_MAX - 1,
                     sub);
        }
        /* e may move as the array grows: nothing of it is used below. */
        walk_table(w, k->sub, sub);
    }
}

struct keydoc_key *keydoc_walk(const struct keytab_table *top, size_t *n)
{
    struct walk w = {0};
    walk_table(&w, top, "");
    *n = w.n;
    return w.keys;
}

/* ---- what a row says ------------------------------------------------------ */

static void enum_names(const struct keytab_key *k, char *out, size_t len)
{
    size_t used = (size_t)snprintf(out, len, "one of:");
    for (int i = 0; k->names[i] && used < len; i++)
        used += (size_t)snprintf(out + used, len - used, "%s %s", i ? "," : "", k->names[i]);
}

void keydoc_type(const struct keytab_key *k, char *out, size_t len)
{
    switch (k->type) {
    case KEYTAB_STRING: snprintf(out, len, "string"); return;
    case KEYTAB_PATH: snprintf(out, len, "path (relative: to the file's folder)"); return;
    case KEYTAB_UINT:
    case KEYTAB_SIZE:
        snprintf(out, len, "integer, %lld to %lld", k->min, k->max);
        return;
    case KEYTAB_BOOL: snprintf(out, len, "boolean"); return;
    case KEYTAB_DOUBLE: snprintf(out, len, "number, %g to %g", k->dmin, k->dmax); return;
    case KEYTAB_ENUM:
        if (k->names)
            enum_names(k, out, len);
        else
            snprintf(out, len, "name");
        return;
    case KEYTAB_MAP: snprintf(out, len, "mapping"); return;
    case KEYTAB_CUSTOM:
        snprintf(out, len, "%s", !k->sub ? "" : (k->flags & KEYTAB_LIST) ? "list of mappings"
                                                                         : "mapping");
        return;
    }
    snprintf(out, len, "?");
}

bool keydoc_default(const struct keytab_key *k, char *out, size_t len)
{
    if (k->flags & KEYTAB_REQUIRED) {
        snprintf(out, len, "none: required");
        return true;
    }
    if (k->dflt)
        return false;
    switch (k->type) {
    case KEYTAB_STRING:
    case KEYTAB_PATH:
        if (k->def_str)
            snprintf(out, len, "%s", k->def_str);
        else
            snprintf(out, len, "none");
        return true;
    case KEYTAB_UINT:
    case KEYTAB_SIZE: snprintf(out, len, "%lld", k->def_int); return true;
    case KEYTAB_BOOL: snprintf(out, len, "%s", k->def_int ? "true" : "false"); return true;
    case KEYTAB_DOUBLE: snprintf(out, len, "%g", k->def_num); return true;
    case KEYTAB_ENUM:
        if (!k->names)
            return false;
        snprintf(out, len, "%s", k->names[k->def_int]);
        return true;
    case KEYTAB_MAP: snprintf(out, len, "each key's own"); return true;
    case KEYTAB_CUSTOM: return false;
    }
    return false;
}

/* ---- the words ------------------------------------------------------------ */

struct word {
    char *path, *type, *dflt, *text;
    bool used;
};

struct keydoc_words {
    struct word *w;
    size_t n;
};

static char *dup_line(const char *s, const char *end)
{
    while (s < end && (*s == ' ' || *s == '\t'))
        s++;
    while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
        end--;
    return xstrndup(s, (size_t)(end - s));
}

struct keydoc_words *keydoc_words_parse(const char *text, size_t len)
{
    struct keydoc_words *ws = xcalloc(1, sizeof *ws);
    size_t cap = 0;
    struct word *cur = NULL;
    const char *end = text + len;
    for (const char *l = text; l < end;) {
        const char *nl = memchr(l, '\n', (size_t)(end - l));
        const char *le = nl ? nl : end;
        if (le - l >= 3 && !strncmp(l, "== ", 3)) {
            if (ws->n == cap)
                ws->w = xrealloc(ws->w, (cap = cap ? 2 * cap : 64) * sizeof *ws->w);
            cur = &ws->w[ws->n++];
            memset(cur, 0, sizeof *cur);
            cur->path = dup_line(l + 3, le);
            cur->text = xstrdup("");
        } else if (cur && !*cur->text && le - l >= 6 && !strncmp(l, "type: ", 6)) {
            cur->type = dup_line(l + 6, le);
        } else if (cur && !*cur->text && le - l >= 9 && !strncmp(l, "default: ", 9)) {
            cur->dflt = dup_line(l + 9, le);
        } else if (cur && l[0] != '#') {
            /* '#' lines are comments of the words file. */
            char *t = xasprintf("%s%.*s\n", cur->text, (int)(le - l), l);
            free(cur->text);
            cur->text = t;
        }
        l = nl ? nl + 1 : end;
    }
    /* Trailing blank lines of each entry are the file's layout. */
    for (size_t i = 0; i < ws->n; i++) {
        char *t = ws->w[i].text;
        size_t k = strlen(t);
        while (k > 0 && (t[k - 1] == '\n' || t[k - 1] == ' '))
            t[--k] = '\0';
    }
    return ws;
}

void keydoc_words_free(struct keydoc_words *ws)
{
    if (!ws)
        return;
    for (size_t i = 0; i < ws->n; i++) {
        free(ws->w[i].path);
        free(ws->w[i].type);
        free(ws->w[i].dflt);
        free(ws->w[i].text);
    }
    free(ws->w);
    free(ws);
}

static struct word *find_word(const struct keydoc_words *ws, const char *path)
{
    for (size_t i = 0; i < ws->n; i++)
        if (!strcmp(ws->w[i].path, path))
            return &ws->w[i];
    return NULL;
}

size_t keydoc_check(const struct keytab_table *top, const struct keydoc_words *ws, FILE *out)
{
    size_t n, problems = 0;
    struct keydoc_key *keys = keydoc_walk(top, &n);
    for (size_t i = 0; i < ws->n; i++)
        ws->w[i].used = false;
    for (size_t i = 0; i < n; i++) {
        struct word *w = find_word(ws, keys[i].path);
        char buf[256];
        const char *why = NULL;
        if (!w || !*w->text)
            why = "has no description";
        else if (!w->type && (keydoc_type(keys[i].row, buf, sizeof buf), !*buf))
            why = "is a custom row: its words need a `type:` line";
        else if (!w->dflt && !keydoc_default(keys[i].row, buf, sizeof buf))
            why = "has a default its row cannot say: its words need a `default:` line";
        if (w)
            w->used = true;
        if (why) {
            problems++;
            if (out)
                fprintf(out, "importer.yaml key %s %s (man/importer.yaml.keys)\n", keys[i].path,
                        why);
        }
    }
    for (size_t i = 0; i < ws->n; i++) {
        if (ws->w[i].used)
            continue;
        problems++;
        if (out)
            fprintf(out, "man/importer.yaml.keys describes %s, which no key table has\n",
                    ws->w[i].path);
    }
    free(keys);
    return problems;
}

/* ---- scdoc ----------------------------------------------------------------- */

/* The words, each line indented one level (a tab) under the key. */
static void indented(FILE *out, const char *text)
{
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t k = nl ? (size_t)(nl - l) : strlen(l);
        if (k)
            fprintf(out, "\t%.*s\n", (int)k, l);
        else
            fputc('\n', out);
        l += k + (nl != NULL);
    }
}

/* scdoc reads '*' and a word-initial '_' as markup. */
static void plain(FILE *out, const char *s)
{
    for (const char *c = s; *c; c++) {
        if (*c == '*' || (*c == '_' && (c == s || c[-1] == ' ')))
            fputc('\\', out);
        fputc(*c, out);
    }
}

/* The mapping a key is in: its path up to the last '.' ("" at the top). */
static size_t parent_len(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? (size_t)(dot - path) : 0;
}

static void entry(FILE *out, const struct keydoc_key *key, const struct keydoc_words *ws)
{
    const struct keytab_key *k = key->row;
    struct word *w = find_word(ws, key->path);
    char type[256], dflt[256];
    keydoc_type(k, type, sizeof type);
    bool has_default = keydoc_default(k, dflt, sizeof dflt);
    fprintf(out, "*%s*\n\tType: ", key->path);
    plain(out, w && w->type ? w->type : type);
    fputs(". Default: ", out);
    plain(out, w && w->dflt ? w->dflt : has_default ? dflt : "see below");
    fputs(".\n", out);
    if (key->same_as)
        fprintf(out, "\tIts keys are those of *%s*.\n", key->same_as);
    if (w && *w->text) {
        fputc('\n', out);
        indented(out, w->text);
    }
    fputc('\n', out);
}

/* One "## " section per mapping, in the order the walk first meets each,
 * its keys in table order. */
void keydoc_scdoc(const struct keytab_table *top, const struct keydoc_words *ws, FILE *out)
{
    size_t n;
    struct keydoc_key *keys = keydoc_walk(top, &n);
    bool *done = xcalloc(n ? n : 1, sizeof *done);
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        size_t plen = parent_len(keys[i].path);
        if (plen)
            fprintf(out, "## %.*s\n\n", (int)plen, keys[i].path);
        else
            fprintf(out, "## The top level\n\n");
        for (size_t j = i; j < n; j++) {
            if (done[j] || parent_len(keys[j].path) != plen ||
                strncmp(keys[j].path, keys[i].path, plen))
                continue;
            done[j] = true;
            entry(out, &keys[j], ws);
        }
    }
    free(done);
    free(keys);
}
