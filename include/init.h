/*
 * init.h - `cdrimport init`: a commented importer.yaml for the current
 * folder, written without asking anything (a source on ./inbox, the host's
 * time zone, a dsn from the PG* environment when it is set).
 */
#ifndef CDR_INIT_H
#define CDR_INIT_H

#include "cdrimport.h"

/*
 * The text of the file: dsn NULL leaves database.dsn out (libpq then reads
 * the PG* environment at every run), timezone is an IANA name. The caller
 * frees.
 */
char *init_text(const char *dsn, const char *timezone);

/* A libpq keyword string from PGHOST, PGPORT, PGDATABASE and PGUSER (never
 * a password), or NULL when none is set. The caller frees. */
char *init_dsn_from_env(void);

/* Write path (refusing to replace a file unless force), create ./inbox
 * beside it, and check that the result loads. Returns an exit status
 * (cdrimport.h); logs what went wrong. */
int init_run(const char *path, bool force);

#endif
