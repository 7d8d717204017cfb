/*
 * config_fetch.c - the `fetch:` block of a source (config_fetch.h): one
 * key table, and the checks that need more than a row (the url's scheme,
 * the source's patterns matching the spool's file names). Pure like
 * config.c: no logging, no network; the password file is read when the
 * source is polled (fetch.c), so that a changed password needs a reload
 * at most, and the warning about its permissions is logged at each start.
 */
#include "config_fetch.h"
#include "plat.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const auth_names[] = {
    [CDR_FETCH_AUTH_ANY] = "any", [CDR_FETCH_AUTH_BASIC] = "basic",
    [CDR_FETCH_AUTH_DIGEST] = "digest", NULL};

_Static_assert(sizeof(enum cdr_fetch_auth) == sizeof(int), "enum cdr_fetch_auth is not int-sized");

#define FETCH_FIELD(f) offsetof(struct cdr_fetch, f)
#define MIB (1024LL * 1024)

/* interval_s 1 is allowed (tests); a day is the most that makes sense for
 * a PBX that keeps only its last few records. */
static const struct keytab_key fetch_keys[] = {
    {.name = "url", .type = KEYTAB_STRING, .offset = FETCH_FIELD(url),
     .flags = KEYTAB_REQUIRED | KEYTAB_NONEMPTY},
    {.name = "username", .type = KEYTAB_STRING, .offset = FETCH_FIELD(username),
     .flags = KEYTAB_NONEMPTY},
    {.name = "password_file", .type = KEYTAB_PATH, .offset = FETCH_FIELD(password_file),
     .flags = KEYTAB_NONEMPTY},
    {.name = "auth", .type = KEYTAB_ENUM, .offset = FETCH_FIELD(auth), .names = auth_names,
     .def_int = CDR_FETCH_AUTH_ANY},
    {.name = "interval_s", .type = KEYTAB_UINT, .offset = FETCH_FIELD(interval_s),
     .def_int = 30, .min = 1, .max = 86400},
    {.name = "timeout_s", .type = KEYTAB_UINT, .offset = FETCH_FIELD(timeout_s), .def_int = 60,
     .min = 1, .max = 86400},
    {.name = "connect_timeout_s", .type = KEYTAB_UINT, .offset = FETCH_FIELD(connect_timeout_s),
     .def_int = 10, .min = 1, .max = 3600},
    {.name = "ca_file", .type = KEYTAB_PATH, .offset = FETCH_FIELD(ca_file),
     .flags = KEYTAB_NONEMPTY},
    {.name = "pinned_public_key", .type = KEYTAB_STRING,
     .offset = FETCH_FIELD(pinned_public_key), .flags = KEYTAB_NONEMPTY},
    {.name = "insecure_tls", .type = KEYTAB_BOOL, .offset = FETCH_FIELD(insecure_tls),
     .def_int = false},
    {.name = "max_response_bytes", .type = KEYTAB_SIZE,
     .offset = FETCH_FIELD(max_response_bytes), .def_int = 64 * MIB, .min = 1024,
     .max = 1024LL * 1024 * MIB},
    {.name = "min_free_bytes", .type = KEYTAB_SIZE, .offset = FETCH_FIELD(min_free_bytes),
     .def_int = 64 * MIB, .min = 0, .max = 1024LL * 1024 * MIB},
};

static bool check_fetch(struct keytab *kt, void *obj, yaml_node_t *map, const char *path)
{
    struct cdr_fetch *f = obj;
    char kpath[KEYTAB_PATH_MAX];
    yaml_node_pair_t *p = map ? keytab_find(kt, map, "url") : NULL;
    yaml_node_t *at = p ? keytab_node(kt, p->value) : map;
    keytab_path_key(kpath, path, "url");
    const char *rest = NULL;
    if (!strncasecmp(f->url, "http://", 7))
        rest = f->url + 7;
    else if (!strncasecmp(f->url, "https://", 8))
        rest = f->url + 8;
    if (!rest)
        /* Not quoted: the url may carry a password. */
        return keytab_fail(kt, at, kpath, "expected an http:// or https:// url");
    if (!*rest || *rest == '/')
        return keytab_fail(kt, at, kpath, "the url names no host");
    if (strpbrk(f->url, " \t\r\n"))
        return keytab_fail(kt, at, kpath, "the url contains white space");
    bool tls = !strncasecmp(f->url, "https://", 8);
    if (!tls && (f->ca_file || f->pinned_public_key || f->insecure_tls)) {
        const char *key = f->ca_file ? "ca_file"
                          : f->pinned_public_key ? "pinned_public_key" : "insecure_tls";
        keytab_path_key(kpath, path, key);
        p = keytab_find(kt, map, key);
        return keytab_fail(kt, p ? keytab_node(kt, p->key) : map, kpath,
                           "only makes sense with an https:// url");
    }
    return true;
}

const struct keytab_table config_fetch_table = KEYTAB_TABLE(fetch_keys, check_fetch);

bool config_fetch_set(struct keytab *kt, const struct keytab_key *k, void *obj, yaml_node_t *n,
                      const char *path)
{
    (void)k;
    struct cdr_source *src = obj;
    if (n->type != YAML_MAPPING_NODE)
        return keytab_wrong_type(kt, n, path, "a mapping (url, username, ...)");
    src->fetch = xcalloc(1, sizeof *src->fetch);
    if (!keytab_load_mapping(kt, &config_fetch_table, src->fetch, n, path, true))
        return false;
    /* The pattern row comes before this one: the spool's names must be
     * candidates, or a spooled response would wait there for ever. */
    bool seen = false;
    for (size_t i = 0; i < src->npatterns && !seen; i++)
        seen = plat_fnmatch(src->patterns[i], CONFIG_FETCH_SAMPLE_NAME, true);
    if (!seen)
        return keytab_fail(kt, n, path,
                           "the source's pattern does not match the spooled responses' names "
                           "(such as %s)", CONFIG_FETCH_SAMPLE_NAME);
    /* Only cdrimport writes the spool, and a file appears there complete
     * (renamed after fsync): no settle time, and the fetch backend. */
    src->watch.backend = CDR_WATCH_FETCH;
    src->watch.settle_ms = 0;
    return true;
}

void config_fetch_free(struct cdr_fetch *f)
{
    if (!f)
        return;
    free(f->url);
    free(f->username);
    free(f->password_file);
    free(f->ca_file);
    free(f->pinned_public_key);
    free(f);
}
