/*
 * trunks.c - the `trunks:` key of a source and the table cdr_source.
 * The views decide a call's direction inside PostgreSQL, so the globs go
 * there as one regular expression (translated here, where it can be unit
 * tested against fnmatch) together with the source's zone; cdrimport
 * writes them at every connect, so the database follows importer.yaml.
 */
#include "trunks.h"
#include "sql.h"
#include "plat.h"

#include <stdlib.h>
#include <string.h>

/* The KX-HTS manual: DAHDI ports 1 to 8 are trunk ports (9-32 extensions,
 * 33-34 intercom), and SIP trunks are named carrier1_..., carrier2_... */
const char *const TRUNKS_KXHTS_DEFAULT[] = {"DAHDI/[1-8]-*", "SIP/carrier*"};
const size_t TRUNKS_KXHTS_NDEFAULT = sizeof TRUNKS_KXHTS_DEFAULT / sizeof *TRUNKS_KXHTS_DEFAULT;

bool trunks_glob_ok(const char *glob)
{
    if (!*glob)
        return false;
    for (const char *c = glob; *c; c++) {
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            return false;
        if (*c == '[') {
            /* fnmatch: a ']' right after '[' or '[!' is a member. */
            const char *e = c + 1;
            if (*e == '!')
                e++;
            if (*e == ']')
                e++;
            /* Classes ("[[:digit:]]") are not translated: refused. */
            while (*e && *e != ']' && !(e[0] == '[' && e[1] == ':'))
                e++;
            if (*e != ']')
                return false;
            c = e;
        }
    }
    return true;
}

/* Characters that mean something in an ARE outside brackets. */
static bool re_special(char c)
{
    return strchr(".^$*+?()[]{}|\\", c) != NULL;
}

/* stpcpy(3), which mingw's C library lacks. */
static char *put(char *o, const char *s)
{
    size_t n = strlen(s);
    memcpy(o, s, n + 1);
    return o + n;
}

char *trunks_regex(char *const *globs, size_t n)
{
    if (n == 0)
        return NULL;
    size_t cap = 16;
    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(globs[i]) + 4; /* each char at most doubled, '*' -> ".*" */
    char *re = xmalloc(cap), *o = re;
    o = put(o, "^(?:");
    for (size_t i = 0; i < n; i++) {
        if (i)
            *o++ = '|';
        for (const char *c = globs[i]; *c; c++) {
            if (*c == '*') {
                o = put(o, ".*");
            } else if (*c == '?') {
                *o++ = '.';
            } else if (*c == '[') {
                /* Copied as a bracket expression; '!' negates in a glob,
                 * '^' in a regex. A backslash is literal inside brackets in
                 * both. trunks_glob_ok saw it closed. */
                const char *e = c + 1;
                *o++ = '[';
                if (*e == '!') {
                    *o++ = '^';
                    e++;
                }
                if (*e == ']')
                    *o++ = *e++;
                for (; *e && *e != ']'; e++) {
                    if (*e == '\\') /* an escape inside brackets in an ARE */
                        *o++ = '\\';
                    *o++ = *e;
                }
                if (*e)
                    *o++ = *e;
                else
                    break;
                c = e;
            } else if (*c == '\\' && c[1]) {
                /* fnmatch: a backslash quotes the next character. */
                c++;
                if (re_special(*c))
                    *o++ = '\\';
                *o++ = *c;
            } else {
                if (re_special(*c))
                    *o++ = '\\';
                *o++ = *c;
            }
        }
    }
    o = put(o, ")$");
    return re;
}

bool trunks_match(const struct cdr_source *src, const char *channel)
{
    for (size_t i = 0; i < src->ntrunks; i++)
        if (plat_fnmatch(src->trunks[i], channel, false))
            return true;
    return false;
}

/* ---- the config key ------------------------------------------------------ */

void trunks_free(struct cdr_source *src)
{
    for (size_t i = 0; i < src->ntrunks; i++)
        free(src->trunks[i]);
    free(src->trunks);
    src->trunks = NULL;
    src->ntrunks = 0;
}

bool trunks_set(struct keytab *kt, const struct keytab_key *k, void *obj, yaml_node_t *n,
                const char *path)
{
    (void)k;
    struct cdr_source *src = obj;
    yaml_node_item_t *items;
    size_t count;
    if (!keytab_list(kt, n, path, "a list of channel globs", "glob", &items, &count))
        return false;
    trunks_free(src);
    src->trunks = xcalloc(count, sizeof *src->trunks);
    for (size_t i = 0; i < count; i++) {
        char ipath[KEYTAB_PATH_MAX];
        keytab_path_index(ipath, path, i);
        yaml_node_t *item = keytab_node(kt, items[i]);
        const char *g = keytab_scalar(kt, item, ipath, "a channel glob");
        if (!g)
            return false;
        if (!trunks_glob_ok(g))
            return keytab_fail(kt, item, ipath,
                               "not a channel glob (empty, a control character, a '[' "
                               "without ']' or a [:class:]): '%.*s'", KEYTAB_QUOTE_MAX, g);
        src->trunks[src->ntrunks++] = xstrdup(g);
    }
    src->trunks_configured = true;
    return true;
}

void trunks_default(struct keytab *kt, const struct keytab_key *k, void *obj)
{
    (void)kt;
    (void)k;
    struct cdr_source *src = obj;
    src->trunks_configured = false;
    /* The Asterisk formats name trunks as each dialplan likes: no guess.
     * Every other format gets the KX-HTS manual's names, which is what
     * the issue asks (and what a format chosen per file, when one exists,
     * should start from). */
    if (src->format == CDR_FMT_ASTERISK || src->format == CDR_FMT_ASTERISK_CUSTOM)
        return;
    src->trunks = xcalloc(TRUNKS_KXHTS_NDEFAULT, sizeof *src->trunks);
    for (size_t i = 0; i < TRUNKS_KXHTS_NDEFAULT; i++)
        src->trunks[src->ntrunks++] = xstrdup(TRUNKS_KXHTS_DEFAULT[i]);
}

/* ---- cdr_source ---------------------------------------------------------- */

enum load_status trunks_publish(struct db *db, const struct cdr_config *cfg, char *err,
                                size_t errlen)
{
    enum load_status st = LOAD_OK;
    for (size_t i = 0; i < cfg->nsources && st == LOAD_OK; i++) {
        const struct cdr_source *s = &cfg->sources[i];
        size_t len = 1;
        for (size_t j = 0; j < s->ntrunks; j++)
            len += strlen(s->trunks[j]) + 1;
        char *lines = xmalloc(len), *o = lines;
        *o = '\0';
        for (size_t j = 0; j < s->ntrunks; j++) {
            if (j)
                *o++ = '\n';
            o = put(o, s->trunks[j]);
        }
        char *re = trunks_regex(s->trunks, s->ntrunks);
        const char *params[4] = {s->name, s->timezone, lines, re};
        st = db_cmds(db, err, errlen, SQL_SOURCE_UPSERT, 4, params);
        free(re);
        free(lines);
    }
    return st;
}
