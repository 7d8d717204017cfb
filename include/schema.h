/*
 * schema.h - the versioned schema: create or migrate the tables (the
 * migrations themselves are in sql.c), and describe the server and the
 * schema version for `check`.
 */
#ifndef CDR_SCHEMA_H
#define CDR_SCHEMA_H

#include "db.h"

/* Create or migrate the schema (idempotent, under an advisory lock). */
/* Apply the missing migrations, then bring cdr_row to the partitioning
 * asked for (partition_setup: moving rows only if move_rows, init-db's). */
enum load_status schema_migrate(struct db *db, enum cdr_partition partition, bool move_rows,
                                char *err, size_t errlen);
/* The server's version string and the schema version, for `check`. */
void schema_describe(struct db *db, char *out, size_t outlen);

#endif
