/*
 * sql.c - the text of every SQL statement (names and templates: sql.h).
 * Nothing here runs anything; db.c, schema.c, ledger.c and load.c do.
 */
#include "sql.h"

const char SQL_BEGIN[] = "BEGIN";
const char SQL_COMMIT[] = "COMMIT";
const char SQL_ROLLBACK[] = "ROLLBACK";
/* A batch sent without its lookup (load_batch.c's copy_guarded). */
const char SQL_SAVEPOINT[] = "SAVEPOINT cdr_batch";
const char SQL_RELEASE_SAVEPOINT[] = "RELEASE SAVEPOINT cdr_batch";
const char SQL_ROLLBACK_SAVEPOINT[] = "ROLLBACK TO SAVEPOINT cdr_batch";
/* Times in a file are wall-clock times of the PBX: the server reads them in
 * the source's zone (is_local: this transaction only). */
const char SQL_SET_TIMEZONE[] = "SELECT set_config('TimeZone', $1, true)";
/* Sent once by every connection (db.c): the backend mallocs and frees 2 MiB,
 * and glibc, seeing a large mmap'ed block freed, raises its heap trim
 * threshold to twice that (mallopt(3), M_MMAP_THRESHOLD). A backend on glibc
 * otherwise gives its heap back at the end of every binary COPY (the
 * multi-insert buffer's slots) and faults it in again for the next one:
 * strace of a backend loading one binary COPY per 1000-row file showed
 * about 50 brk calls a file. 1000 such files by psql: 6.8 s before, 4.5 s
 * after; cdrimport over them, five rounds each way: 7.0-8.7 s (median 8.7)
 * before, 6.1-7.6 s (median 6.8) after; with every batch probed (a source
 * whose last_call was past the files' rows), 9.3-10.3 s and 7.5-8.8 s. A
 * 1M-row file, a few COPYs, did not change. Text COPY does not churn the
 * heap this way.
 * 2 MiB, not the 8 MiB it was: the block is faulted in as it is written,
 * which cost 110-150 ms a connection on a VM whose page faults are slow
 * (20 ms now), and 2 MiB keeps the heap as well: brk calls counted over
 * every process (perf stat) for 1000 files of 1000 rows, 112 against 121
 * (70,559 with no such query); a 1M-row file 134 against 125, partitioned
 * 135 against 142. The inner repeat makes it 2048 copies of 1 KiB rather
 * than 2M of one byte, and octet_length does not count characters. */
const char SQL_SERVER_HEAP[] = "SELECT octet_length(repeat(repeat('x', 1024), 2048))";
/* A file's transaction takes its source's import lock ($1: the source),
 * held until it ends, and never waits for it: a first attempt takes it
 * shared, so that importers of one source run side by side (and, if a
 * retry holds it, goes on without); a retry after a conflict asks for it
 * exclusive until it gets it (load.c), so that it starts once the
 * source's imports under way have ended, meets their rows committed and
 * checks every row against them. Retried at once, two importers whose
 * files overlap out of time order could deadlock each other again on every
 * try. Nobody queues on the lock: a queued exclusive request would hold
 * up every new import of the source behind a long one. (Two keys: a space
 * apart from the one-key locks below.) */
const char SQL_IMPORT_LOCK_SHARED[] =
    "SELECT pg_try_advisory_xact_lock_shared(hashtext('cdrimport import'), hashtext($1))";
const char SQL_IMPORT_LOCK[] =
    "SELECT pg_try_advisory_xact_lock(hashtext('cdrimport import'), hashtext($1))";

/* ---- schema --------------------------------------------------------------- */

/* "@.x" is the template's only way to say "the schema"; schema.c cuts the
 * ".x" off after substitution. */
const char SQL_CREATE_SCHEMA[] = "CREATE SCHEMA IF NOT EXISTS @.x";
/* Concurrent importers starting at once: one migrates, the rest wait. */
const char SQL_SCHEMA_LOCK[] = "SELECT pg_advisory_xact_lock(hashtext('cdrimport schema'))";
const char SQL_SCHEMA_TABLE[] =
    "CREATE TABLE IF NOT EXISTS @.cdr_schema ("
    " version integer PRIMARY KEY,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
const char SQL_SCHEMA_VERSION[] = "SELECT coalesce(max(version), 0) FROM @.cdr_schema";
const char SQL_SCHEMA_APPLIED[] = "INSERT INTO @.cdr_schema (version) VALUES ($1)";

/* The view of the rows with the columns of the first schema, in its order
 * (migration 6). CREATE OR REPLACE: a conversion that moves the rows to a
 * new table (partition.c) points the view at it, keeping views that DBAs
 * built on cdr. */
#define SQL_VIEW_CDR \
    "CREATE OR REPLACE VIEW @.cdr AS SELECT source, call_id, caller_phone, dialed_phone," \
    " flag2, flag3, call_time, answer_time, end_time, total_duration_s, call_duration_s," \
    " make_interval(secs => call_duration_s) AS call_duration, call_type, account_code," \
    " src_channel, dst_channel, feature, extra, file_id, line_no, row_key FROM @.cdr_row;" \
    "COMMENT ON VIEW @.cdr IS 'the call records, one row per CDR line (table cdr_row)';" \
    "COMMENT ON COLUMN @.cdr.call_duration IS 'call_duration_s as an interval';"

/* Each migration runs once, in order, inside one transaction with its
 * version row. Never edit a shipped migration: add the next one. */
/* Migration 8 is longer than the 4095 bytes ISO C promises a string can
 * be; GCC and Clang, the compilers cdrimport is built with, take it, and
 * one string keeps the migration one self-contained step. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
const char *const SQL_MIGRATIONS[] = {
    /* 1: the ledger, the calls and the rejects */
    "CREATE TABLE @.cdr_file ("
    "  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    "  source text NOT NULL,"
    "  path text NOT NULL,"
    "  sha256 text NOT NULL,"
    "  size_bytes bigint NOT NULL,"
    "  rows_read bigint NOT NULL DEFAULT 0,"
    "  rows_inserted bigint NOT NULL DEFAULT 0,"
    "  rows_duplicate bigint NOT NULL DEFAULT 0,"
    "  rows_rejected bigint NOT NULL DEFAULT 0,"
    "  rows_repaired bigint NOT NULL DEFAULT 0,"
    "  status text NOT NULL CHECK (status IN ('imported', 'duplicate', 'failed')),"
    "  error text,"
    "  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
    "  finished_at timestamptz);"
    "CREATE INDEX cdr_file_checksum ON @.cdr_file (source, sha256) WHERE status = 'imported';"
    /* No foreign key from cdr to cdr_file: a per-row trigger would cost bulk
     * loads dearly, and rows only ever come with their ledger row. */
    "CREATE TABLE @.cdr ("
    "  source text NOT NULL,"
    "  call_id text,"
    "  caller_phone text,"
    "  dialed_phone text,"
    "  flag2 text,"
    "  flag3 text,"
    "  call_time timestamptz NOT NULL,"
    "  answer_time timestamptz,"
    "  end_time timestamptz,"
    "  total_duration_s integer,"
    "  call_duration_s integer,"
    "  call_duration interval GENERATED ALWAYS AS (make_interval(secs => call_duration_s)) STORED,"
    "  call_type text,"
    "  account_code text,"
    "  src_channel text,"
    "  dst_channel text,"
    "  feature text,"
    "  extra jsonb,"
    "  file_id bigint NOT NULL,"
    "  line_no bigint NOT NULL,"
    "  row_key uuid NOT NULL,"
    /* row_key hashes source, call ID and content, so this key means one row
     * per (source, call ID, content). call_time leads because files come
     * roughly in time order: inserts append to the index instead of
     * scattering over it (random uuid keys made COPY twice as slow), and
     * the dedup probe is one range scan per batch. */
    "  CONSTRAINT cdr_pkey PRIMARY KEY (call_time, row_key));"
    "COMMENT ON COLUMN @.cdr.row_key IS "
    "  'SHA-256 (first 128 bits) of source, call_id and the parsed values';"
    "CREATE TABLE @.cdr_reject ("
    "  file_id bigint NOT NULL REFERENCES @.cdr_file (id) ON DELETE CASCADE,"
    "  line_no bigint NOT NULL,"
    "  raw_line bytea NOT NULL,"
    "  reason text NOT NULL);"
    "CREATE INDEX cdr_reject_file ON @.cdr_reject (file_id, line_no);",
    /* 2: cdrimport fills call_duration itself (binary COPY): the server's
     * per-row expression cost 6% of a bulk load. Catalog-only change. */
    "ALTER TABLE @.cdr ALTER COLUMN call_duration DROP EXPRESSION;"
    "COMMENT ON COLUMN @.cdr.call_duration IS "
    "  'call_duration_s as an interval (make_interval(secs => call_duration_s))';",
    /* 3: file names are bytes, a text column is UTF-8: a name written by an
     * old Windows tool on an SMB share made the ledger insert fail. path
     * now holds the name made valid text (cdr_escape), and path_raw the
     * bytes when that changed them. Only then: path_raw IS NULL says path
     * is the name itself, so nothing is ambiguous (an escaped name can look
     * like a real one with a backslash in it), and the common ledger row
     * carries no second copy. Catalog-only change (a NULL default);
     * IF NOT EXISTS keeps it idempotent, as a migration should be. */
    "ALTER TABLE @.cdr_file ADD COLUMN IF NOT EXISTS path_raw bytea;"
    "COMMENT ON COLUMN @.cdr_file.path IS "
    "  'the file name as text: invalid UTF-8 and control characters escaped (\\xNN, \\n)';"
    "COMMENT ON COLUMN @.cdr_file.path_raw IS "
    "  'the file name byte for byte where path escapes it; NULL: path is the name';",
    /* 4: the fetch sources (PBXs polled over HTTP): one row per source with
     * its last poll and totals, for `status`. The rows a source brought are
     * its spooled files' ledger rows (path under spool), not a copy. */
    "CREATE TABLE IF NOT EXISTS @.cdr_fetch ("
    "  source text PRIMARY KEY,"
    "  url text NOT NULL,"
    "  spool text NOT NULL,"
    "  polled_at timestamptz NOT NULL,"
    "  outcome text NOT NULL,"
    "  http_status integer,"
    "  bytes bigint NOT NULL DEFAULT 0,"
    "  last_file text,"
    "  polls bigint NOT NULL DEFAULT 0,"
    "  bytes_total bigint NOT NULL DEFAULT 0);"
    "COMMENT ON TABLE @.cdr_fetch IS "
    "  'per fetch source: the last poll (url with the password masked) and totals';",
    /* 5: packed downloads. A file inside an archive is a ledger row of its
     * own: path stays the archive's, member is the file's path inside it
     * (as text, escaped as path is; member_raw its bytes where escaping
     * changed them, as path_raw). NULL for a plain file and for the
     * archive's own row. Catalog-only change. */
    "ALTER TABLE @.cdr_file ADD COLUMN IF NOT EXISTS member text;"
    "ALTER TABLE @.cdr_file ADD COLUMN IF NOT EXISTS member_raw bytea;"
    "COMMENT ON COLUMN @.cdr_file.member IS "
    "  'a file inside the archive path: its path in the archive (escaped as path is);"
    " NULL: path is the file read, or the archive itself';"
    "COMMENT ON COLUMN @.cdr_file.member_raw IS "
    "  'the member name byte for byte where member escapes it';",
    /* 6: a slimmer row (207 B a row on disk, now 178 B). The rows move to
     * cdr_row: the fixed-width columns first, widest first, so no byte
     * goes to alignment padding; file_id and line_no as integer (the
     * ledger's ids stop at 2^31 - 1, and a line past that is refused);
     * no stored call_duration (16 B that call_duration_s determines). The
     * view cdr keeps every column a DBA queries, in the old order, with
     * call_duration computed; a simple view, so DELETE through it works.
     * Every row and its key is kept; the primary key is built once after
     * the copy, faster than row by row (1M rows: 5.4 s). source stays text: a smallint
     * and a lookup table would save 3 B a row (measured: 178 -> 175 B)
     * for a join in every query. */
    /* Only where the rows are still in the table cdr: a migration must be
     * safe to run again (a test drops version rows to replay them). */
    "DO $m6$ BEGIN IF to_regclass($n$@.cdr_row$n$) IS NULL THEN "
    "  CREATE TABLE @.cdr_row ("
    "    call_time timestamptz NOT NULL,"
    "    answer_time timestamptz,"
    "    end_time timestamptz,"
    "    row_key uuid NOT NULL,"
    "    file_id integer NOT NULL,"
    "    line_no integer NOT NULL,"
    "    total_duration_s integer,"
    "    call_duration_s integer,"
    "    source text NOT NULL,"
    "    call_id text,"
    "    caller_phone text,"
    "    dialed_phone text,"
    "    flag2 text,"
    "    flag3 text,"
    "    call_type text,"
    "    account_code text,"
    "    src_channel text,"
    "    dst_channel text,"
    "    feature text,"
    "    extra jsonb);"
    "  INSERT INTO @.cdr_row SELECT call_time, answer_time, end_time, row_key, file_id, line_no,"
    "    total_duration_s, call_duration_s, source, call_id, caller_phone, dialed_phone, flag2,"
    "    flag3, call_type, account_code, src_channel, dst_channel, feature, extra FROM @.cdr;"
    "  DROP TABLE @.cdr;"
    /* The key: see migration 1 (call_time leads: appends, one range per batch). */
    "  ALTER TABLE @.cdr_row ADD CONSTRAINT cdr_row_pkey PRIMARY KEY (call_time, row_key);"
    "  COMMENT ON COLUMN @.cdr_row.row_key IS "
    "    'SHA-256 (first 128 bits) of source, call_id and the parsed values';"
    "  COMMENT ON TABLE @.cdr_row IS 'the call records; query them through the view cdr';"
    " END IF; END $m6$;"
    SQL_VIEW_CDR
    "ALTER TABLE @.cdr_file ALTER COLUMN id SET MAXVALUE 2147483647;",
    /* 7: monthly partitions (database.partition: month, partition.c). The
     * partitions of the given months that are missing, each one a table
     * cdr_row_YYYYmMM of UTC month [start, next start) made LIKE the parent
     * and ATTACHed: that takes SHARE UPDATE EXCLUSIVE on the parent, so
     * importers' COPYs and queries go on, and two importers that need the
     * same month take turns (the second finds it made). CREATE TABLE ...
     * PARTITION OF would take ACCESS EXCLUSIVE and stop them all until
     * the file commits. Names and bounds reach the DDL through format()'s
     * %I and %L; the schema is an argument, never text in a literal. */
    "CREATE OR REPLACE FUNCTION @.cdr_partition_add(nsp text, parent text, months timestamptz[])"
    " RETURNS integer LANGUAGE plpgsql AS $f$"
    " DECLARE m timestamp; part text; made integer := 0;"
    " BEGIN"
    "  EXECUTE format('LOCK TABLE %I.%I IN SHARE UPDATE EXCLUSIVE MODE', nsp, parent);"
    "  FOREACH m IN ARRAY ARRAY(SELECT DISTINCT date_trunc('month', x AT TIME ZONE 'UTC')"
    "                           FROM unnest(months) x) LOOP"
    "   part := 'cdr_row_' || to_char(m, 'YYYY\"m\"MM');"
    "   IF to_regclass(format('%I.%I', nsp, part)) IS NULL THEN"
    "    EXECUTE format('CREATE TABLE %I.%I (LIKE %I.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',"
    "                   nsp, part, nsp, parent);"
    "    EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',"
    "                   nsp, parent, nsp, part, m AT TIME ZONE 'UTC',"
    "                   (m + interval '1 month') AT TIME ZONE 'UTC');"
    "    made := made + 1;"
    "   END IF;"
    "  END LOOP;"
    "  RETURN made;"
    " END $f$;",
    /* 8: the profile a file was read with (`format: auto` chooses one per
     * file, detect.c). NULL for a file that was not parsed (a duplicate,
     * an archive's own row) and for rows older than this column.
     * Catalog-only change. */
    "ALTER TABLE @.cdr_file ADD COLUMN IF NOT EXISTS format text;"
    "COMMENT ON COLUMN @.cdr_file.format IS "
    "  'the profile the file was read with: kx-hts, asterisk, asterisk-custom or custom';",
    /* 9: call accounting (issue 12). Written over the view cdr, never over
     * cdr_row, so that a partition conversion (which replaces cdr_row and
     * re-points cdr) leaves it standing; every statement is CREATE ... IF
     * NOT EXISTS or OR REPLACE, so replaying it changes nothing. */
    SQL_MIGRATION_CALLS,
    /* 10: the stored calls (sql_calls.c). */
    SQL_MIGRATION_CALL_STORE,
    /* 11: the latest call each source stored (issue 11). A file's probe
     * asks only about rows up to the latest call stored (SQL_STORED_MAX);
     * read over the whole table, that was another PBX's latest call, so a
     * second PBX importing hours a first one fills probed every batch (1M
     * rows: 62 probes returning 16k keys each) for rows that could not be
     * there. Each file's commit now raises its source's mark (SQL_FILE_FINISH).
     * NULL: not known (a source new to cdr_source whose files the ledger
     * has, SQL_SOURCE_UPSERT): the whole table's latest call is used, as
     * before, and the next commit sets the mark to no less than that.
     * Only a hint: a row it misses is still refused by the primary key,
     * and the file retried with a full probe. The one scan of the rows
     * fills it for the sources already stored (10M rows: a few seconds);
     * '-infinity' is a source with no rows. */
    "ALTER TABLE @.cdr_source ADD COLUMN IF NOT EXISTS last_call timestamptz;"
    "UPDATE @.cdr_source s SET last_call = coalesce(m.t, '-infinity')"
    " FROM @.cdr_source s2 LEFT JOIN (SELECT source, max(call_time) AS t FROM @.cdr_row"
    "  GROUP BY source) m ON m.source = s2.source"
    " WHERE s.source = s2.source AND s.last_call IS NULL;"
    "COMMENT ON COLUMN @.cdr_source.last_call IS 'the latest call_time of the source''s rows"
    " (raised by each file''s commit; -infinity: none; NULL: not known): where its next"
    " file''s duplicate check may stop';"
    /* A large file no imported file of its source matches in size cannot
     * be a known one: it skips the checksum pass (SQL_FILE_SIZE_KNOWN). */
    "CREATE INDEX IF NOT EXISTS cdr_file_size ON @.cdr_file (source, size_bytes)"
    " WHERE status = 'imported';",
};
#pragma GCC diagnostic pop

const int SQL_NMIGRATIONS = (int)(sizeof SQL_MIGRATIONS / sizeof SQL_MIGRATIONS[0]);

/* ---- the cdr_file ledger and the rejects ------------------------------- */

/* Whether an imported file of source $1 has $2 bytes (file.c: a large
 * file that none has needs no checksum pass). */
const char SQL_FILE_SIZE_KNOWN[] =
    "SELECT 1 FROM @.cdr_file WHERE source = $1 AND size_bytes = $2::int8"
    " AND status = 'imported' LIMIT 1";
const char SQL_FILE_KNOWN[] =
    "SELECT 1 FROM @.cdr_file WHERE source = $1 AND sha256 = $2 AND status = 'imported'"
    " LIMIT 1";
/* A file that adds no rows, recorded in one statement. */
const char SQL_FILE_RECORD[] =
    "INSERT INTO @.cdr_file (source, path, path_raw, member, member_raw, sha256, size_bytes,"
    " status, error, finished_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, clock_timestamp())";
/* A file's ledger row, first thing in its transaction: its id tags the rows.
 * No row (no id) when the checksum is already imported for the source,
 * unless $9 (--force): the known-checksum question rides along instead of
 * costing a round trip of its own. */
const char SQL_FILE_BEGIN[] =
    "INSERT INTO @.cdr_file (source, path, path_raw, member, member_raw, sha256, size_bytes,"
    " status, format) SELECT $1::text, $2::text, $3::bytea, $4::text, $5::bytea, $6::text,"
    " $7::int8, 'imported', $8::text WHERE $9::bool OR NOT EXISTS (SELECT 1 FROM @.cdr_file"
    " WHERE source = $1::text AND sha256 = $6::text AND status = 'imported') RETURNING id";
/* A call_time as sent (microseconds since 2000, UTC) in parameter P. */
#define SQL_SENT_TIME(p) "(timestamptz '2000-01-01 00:00:00+00' + " p "::int8 * interval '1 microsecond')"
/* $11, $12: the rows' first and last call_time as sent, NULL when the file
 * added no rows: the stored calls to redo (sql_calls.c), and the source's
 * latest call (migration 11; a mark not known becomes the whole table's
 * latest call if that is later: no less than the source's). */
const char SQL_FILE_FINISH[] =
    "WITH s AS (UPDATE @.cdr_source SET last_call = greatest(coalesce(last_call,"
    "   (SELECT max(call_time) FROM @.cdr_row)), " SQL_SENT_TIME("$12") ")"
    "  WHERE source = (SELECT source FROM @.cdr_file WHERE id = $1)"
    "  AND (last_call IS NULL OR last_call < " SQL_SENT_TIME("$12") "))"
    " UPDATE @.cdr_file SET rows_read = $2, rows_inserted = $3, rows_duplicate = $4,"
    " rows_rejected = $5, rows_repaired = $6, status = $7, error = $8,"
    " sha256 = $9, size_bytes = $10, finished_at = clock_timestamp(),"
    " first_call = " SQL_SENT_TIME("$11") ", last_call = " SQL_SENT_TIME("$12") ","
    " calls_pending = $3::int8 > 0 WHERE id = $1";
const char SQL_FILE_STATUS[] =
    "SELECT id, source, status, rows_read, rows_inserted, rows_duplicate, rows_rejected,"
    " rows_repaired, left(sha256, 12),"
    " to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"'),"
    " path || coalesce(':' || member, ''), coalesce(error, '')"
    " FROM @.cdr_file ORDER BY id DESC LIMIT $1::int";
const char SQL_COPY_REJECTS[] =
    "COPY @.cdr_reject (file_id, line_no, raw_line, reason) FROM STDIN";

/* ---- the fetch sources (fetch_status.c) ---------------------------------- */

/* One poll, or several added up while the database was away: the latest
 * one's details, the counts added. A NULL last_file keeps the one before. */
const char SQL_FETCH_RECORD[] =
    "INSERT INTO @.cdr_fetch AS f (source, url, spool, polled_at, outcome, http_status, bytes,"
    " last_file, polls, bytes_total)"
    " VALUES ($1, $2, $3, to_timestamp($4::float8), $5, $6::int, $7::int8, $8, $9::int8,"
    " $10::int8)"
    " ON CONFLICT (source) DO UPDATE SET url = EXCLUDED.url, spool = EXCLUDED.spool,"
    " polled_at = EXCLUDED.polled_at, outcome = EXCLUDED.outcome,"
    " http_status = EXCLUDED.http_status, bytes = EXCLUDED.bytes,"
    " last_file = coalesce(EXCLUDED.last_file, f.last_file),"
    " polls = f.polls + EXCLUDED.polls, bytes_total = f.bytes_total + EXCLUDED.bytes_total";
const char SQL_FETCH_STATUS[] =
    "SELECT f.source,"
    " to_char(f.polled_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS\"Z\"'),"
    " f.outcome, f.bytes, f.polls, f.bytes_total,"
    " (SELECT coalesce(sum(l.rows_inserted), 0) FROM @.cdr_file l"
    "   WHERE l.source = f.source AND l.status = 'imported'"
    "   AND starts_with(l.path, f.spool || '/Master.')),"
    " coalesce((SELECT l.status || ', ' || l.rows_inserted || ' new rows' FROM @.cdr_file l"
    "   WHERE l.source = f.source AND l.path = f.last_file ORDER BY l.id DESC LIMIT 1),"
    "   'not imported yet'),"
    " coalesce(f.last_file, ''), f.url"
    " FROM @.cdr_fetch f ORDER BY f.source";

/* ---- the rows ------------------------------------------------------------ */

/* Every key stored in a batch's call_time range, widened by $3 each side. */
const char SQL_PROBE_KEYS[] =
    "SELECT row_key FROM @.cdr_row WHERE call_time BETWEEN $1::timestamptz - $3::interval"
    " AND $2::timestamptz + $3::interval LIMIT $4::int8";
/* Which of these (call_time, row_key) pairs are stored: one primary-key
 * descent each ($1 timestamptz[], $2 uuid[], binary). */
const char SQL_PROBE_PAIRS[] =
    "SELECT u.k FROM unnest($1::timestamptz[], $2::uuid[]) AS u(t, k)"
    " WHERE EXISTS (SELECT 1 FROM @.cdr_row c WHERE c.call_time = u.t AND c.row_key = u.k)";
/* The latest call_time source $1 stored (microseconds since 1970, NULL:
 * none), read as a file's transaction begins: a batch wholly after it and
 * after the file's own earlier batches needs no probe (load.c). The
 * source's mark (migration 11), or where that is not known the whole
 * table's latest call: one descent of the primary key. */
const char SQL_STORED_MAX[] =
    "SELECT CASE WHEN isfinite(t) THEN (extract(epoch FROM t) * 1000000)::int8 END"
    " FROM (SELECT coalesce((SELECT last_call FROM @.cdr_source WHERE source = $1),"
    "  (SELECT max(call_time) FROM @.cdr_row)) AS t) m";
/* Wall times to instants in this transaction's TimeZone, in question order. */
const char SQL_ZONE_INSTANTS[] =
    "SELECT extract(epoch FROM x::timestamptz)::int8"
    " FROM unnest($1::timestamp[]) WITH ORDINALITY AS u(x, n) ORDER BY n";
/* Column order is the binary tuple's order (load_row). */
const char SQL_COPY_ROWS[] =
    "COPY @.cdr_row (call_time, answer_time, end_time, row_key, file_id, line_no,"
    " total_duration_s, call_duration_s, source, call_id,"
    " caller_phone, dialed_phone, flag2, flag3, call_type, account_code,"
    " src_channel, dst_channel, feature, extra) FROM STDIN (FORMAT binary)";

/* ---- monthly partitions (partition.c) ------------------------------------ */

/* Whether cdr_row is partitioned, and whether it holds a row ($1: the
 * schema's name). */
const char SQL_PARTITION_KIND[] =
    "SELECT c.relkind = 'p', EXISTS (SELECT 1 FROM @.cdr_row)"
    " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE n.nspname = $1 AND c.relname = 'cdr_row'";
/* Make the partitions of these months ($1 schema, $2 timestamptz[]). */
const char SQL_PARTITION_ADD[] = "SELECT @.cdr_partition_add($1, 'cdr_row', $2::timestamptz[])";
/* Converting a plain cdr_row, in one transaction: nothing else touches
 * the table meanwhile; a new partitioned table gets a partition for every
 * month the rows fall in, the rows, then its key (built once per
 * partition, faster than row by row); the view cdr moves to it, and the
 * old table goes. */
const char SQL_PARTITION_LOCK[] = "LOCK TABLE @.cdr_row IN ACCESS EXCLUSIVE MODE";
const char SQL_PARTITION_COUNT[] = "SELECT count(*) FROM @.cdr_row";
const char SQL_PARTITION_NEW[] =
    "CREATE TABLE @.cdr_row_new (LIKE @.cdr_row INCLUDING DEFAULTS INCLUDING CONSTRAINTS"
    " INCLUDING COMMENTS) PARTITION BY RANGE (call_time)";
const char SQL_PARTITION_NEW_MONTHS[] =
    "SELECT @.cdr_partition_add($1, 'cdr_row_new',"
    " ARRAY(SELECT DISTINCT date_trunc('month', call_time, 'UTC') FROM @.cdr_row))";
const char SQL_PARTITION_FILL[] = "INSERT INTO @.cdr_row_new SELECT * FROM @.cdr_row";
const char SQL_PARTITION_COUNT_NEW[] = "SELECT count(*) FROM @.cdr_row_new";
const char SQL_PARTITION_SWAP[] =
    "ALTER TABLE @.cdr_row_new ADD CONSTRAINT cdr_row_new_pkey PRIMARY KEY (call_time, row_key);"
    "ALTER TABLE @.cdr_row RENAME TO cdr_row_old;"
    "ALTER TABLE @.cdr_row_old RENAME CONSTRAINT cdr_row_pkey TO cdr_row_old_pkey;"
    "ALTER TABLE @.cdr_row_new RENAME TO cdr_row;"
    "ALTER TABLE @.cdr_row RENAME CONSTRAINT cdr_row_new_pkey TO cdr_row_pkey;"
    SQL_VIEW_CDR
    "DROP TABLE @.cdr_row_old;"
    "COMMENT ON TABLE @.cdr_row IS"
    " 'the call records, a partition a month (cdr_row_YYYYmMM); query them through the view cdr'";

/* ---- retention (prune.c) ------------------------------------------------- */

/* The first instant kept: the start of the UTC month $1 months before this
 * one (retention_months 1 keeps this month and the last). */
const char SQL_PRUNE_CUTOFF[] =
    "SELECT to_char(date_trunc('month', now() AT TIME ZONE 'UTC')"
    " - make_interval(months => $1::int), 'YYYY-MM-DD HH24:MI:SS\"+00\"')";
/* The partitions wholly before the cutoff ($1 schema, $2 cutoff), oldest
 * first: cdr_row_YYYYmMM holds that UTC month (cdr_partition_add). */
const char SQL_PRUNE_PARTITIONS[] =
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
    " JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace"
    " WHERE n.nspname = $1 AND p.relname = 'cdr_row' AND c.relname ~ '^cdr_row_[0-9]{4}m[0-9]{2}$'"
    " AND (to_date(substr(c.relname, 9, 4) || substr(c.relname, 14, 2), 'YYYYMM')"
    "      + interval '1 month') AT TIME ZONE 'UTC' <= $2::timestamptz"
    " ORDER BY c.relname";
/* One partition's rows, then the partition: each followed by the
 * partition's name as a quoted identifier. */
const char SQL_PRUNE_PARTITION_ROWS[] = "SELECT count(*) FROM @.";
const char SQL_PRUNE_PARTITION_DROP[] = "DROP TABLE @.";
/* Unpartitioned: the old rows go a bounded batch per transaction. */
const char SQL_PRUNE_DELETE[] = SQL_DELETE_BEFORE("cdr_row", "call_time");
