/*
 * trunks.h - which channels of a source are trunks (the `trunks:` key of
 * a source), and publishing each source's zone and trunks to the table
 * cdr_source, where the call accounting views (cdr_call, cdr_daily,
 * cdr_hourly) read them. A call's direction comes from its channels: in
 * on a trunk is incoming, out on one is outgoing, the rest is internal.
 */
#ifndef CDR_TRUNKS_H
#define CDR_TRUNKS_H

#include "config.h"
#include "db.h"
#include "keytab.h"

/* The sources[] row's setter and default (the default depends on the
 * source's format, so the row comes after `format`): asterisk and
 * asterisk-custom have none; every other format gets the KX-HTS manual's
 * trunk ports and SIP carriers. */
bool trunks_set(struct keytab *kt, const struct keytab_key *k, void *obj, yaml_node_t *n,
                const char *path);
void trunks_default(struct keytab *kt, const struct keytab_key *k, void *obj);
void trunks_free(struct cdr_source *src);

/* The kx-hts default, for messages and tests. */
extern const char *const TRUNKS_KXHTS_DEFAULT[];
extern const size_t TRUNKS_KXHTS_NDEFAULT;

/*
 * Whether glob is one trunks accepts: not empty, no control character, and
 * every '[' closed. Pure.
 */
bool trunks_glob_ok(const char *glob);
/*
 * The globs as one anchored regular expression of PostgreSQL's flavour
 * ("^(?:DAHDI/[1-8]-.*|SIP/carrier.*)$"), matching what fnmatch(3) without
 * flags matches: '*' any run, '?' one character, '[...]' and '[!...]' a
 * set; every other character stands for itself. NULL when n is 0. Pure;
 * the caller frees.
 */
char *trunks_regex(char *const *globs, size_t n);
/* Whether channel matches one of the source's trunk globs (fnmatch). */
bool trunks_match(const struct cdr_source *src, const char *channel);

/* Upsert every source's zone and trunks into cdr_source (after the
 * schema is migrated). Never logs; err says why. */
enum load_status trunks_publish(struct db *db, const struct cdr_config *cfg, char *err,
                                size_t errlen);

#endif
