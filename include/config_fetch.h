/*
 * config_fetch.h - the `fetch:` block of a source in importer.yaml (a PBX
 * polled over HTTP(S), see fetch.h), as one more key table for keytab.c.
 * Kept beside config.c, which has one row that calls it, so that the keys
 * of the HTTP mode read as one unit.
 */
#ifndef CDR_CONFIG_FETCH_H
#define CDR_CONFIG_FETCH_H

#include "config.h"
#include "keytab.h"

/* The sources[] row's setter: fills src->fetch (obj is the source) and
 * makes the source's watch backend CDR_WATCH_FETCH. */
bool config_fetch_set(struct keytab *kt, const struct keytab_key *k, void *obj, yaml_node_t *n,
                      const char *path);
/* The block's keys (what the row's setter reads; keydoc.h documents it). */
extern const struct keytab_table config_fetch_table;
/* Accepts NULL and half-built blocks. */
void config_fetch_free(struct cdr_fetch *f);

/* What a spooled response is called (spool.c makes the names): the
 * source's patterns must match it, or watch and scan would not see it. */
#define CONFIG_FETCH_SAMPLE_NAME "Master.20261126T064130Z.1.csv"

#endif
