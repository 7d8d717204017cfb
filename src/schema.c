/*
 * schema.c - applies the migrations of sql.c in order, each once, each in
 * the transaction that records its version; describes the result. A
 * database newer than this binary is refused rather than written to.
 */
#include "schema.h"
#include "partition.h"
#include "sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum load_status schema_migrate(struct db *db, enum cdr_partition partition, bool move_rows,
                                char *err, size_t errlen)
{
    enum load_status st;
    PGresult *res = NULL;
    char *create_schema = db_sql(db, SQL_CREATE_SCHEMA);
    /* "CREATE SCHEMA IF NOT EXISTS "s".x" -> drop the ".x" we used as marker */
    create_schema[strlen(create_schema) - 2] = '\0';

    if ((st = db_cmd(db, err, errlen, SQL_BEGIN, 0, NULL)) != LOAD_OK)
        goto out;
    if ((st = db_exec(db, NULL, PGRES_TUPLES_OK, err, errlen, SQL_SCHEMA_LOCK, 0, NULL)) !=
        LOAD_OK)
        goto rollback;
    if ((st = db_cmd(db, err, errlen, create_schema, 0, NULL)) != LOAD_OK)
        goto rollback;
    if ((st = db_cmds(db, err, errlen, SQL_SCHEMA_TABLE, 0, NULL)) != LOAD_OK)
        goto rollback;
    if ((st = db_query(db, &res, err, errlen, SQL_SCHEMA_VERSION, 0, NULL)) != LOAD_OK)
        goto rollback;
    int have = atoi(PQgetvalue(res, 0, 0));
    PQclear(res);
    res = NULL;
    if (have > SQL_NMIGRATIONS) {
        cdr_seterr(err, errlen, "database schema version %d is newer than this cdrimport (%d)",
                  have, SQL_NMIGRATIONS);
        st = LOAD_ERROR;
        goto rollback;
    }
    for (int v = have + 1; v <= SQL_NMIGRATIONS; v++) {
        char ver[16];
        snprintf(ver, sizeof ver, "%d", v);
        const char *params[1] = {ver};
        /* Multi-statement text goes through the simple protocol. */
        char *sql = db_sql(db, SQL_MIGRATIONS[v - 1]);
        PGresult *r = PQexec(db_conn(db), sql);
        free(sql);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            st = db_classify(db, r);
            cdr_seterr(err, errlen, "schema migration %d: %s", v, PQerrorMessage(db_conn(db)));
            PQclear(r);
            goto rollback;
        }
        PQclear(r);
        if ((st = db_cmds(db, err, errlen, SQL_SCHEMA_APPLIED, 1, params)) != LOAD_OK)
            goto rollback;
    }
    st = db_cmd(db, err, errlen, SQL_COMMIT, 0, NULL);
    if (st == LOAD_OK)
        st = partition_setup(db, partition, move_rows, err, errlen);
    goto out;
rollback:
    db_rollback(db);
out:
    free(create_schema);
    return st;
}

void schema_describe(struct db *db, char *out, size_t outlen)
{
    int v = PQserverVersion(db_conn(db));
    char err[CDR_ERRLEN];
    PGresult *res = NULL;
    int schema = 0;
    if (db_query(db, &res, err, sizeof err, SQL_SCHEMA_VERSION, 0, NULL) == LOAD_OK) {
        schema = atoi(PQgetvalue(res, 0, 0));
        PQclear(res);
    }
    snprintf(out, outlen, "PostgreSQL %d.%d, database %s, schema %s version %d", v / 10000,
             v % 10000, PQdb(db_conn(db)), db_schema(db), schema);
}
