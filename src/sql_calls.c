/*
 * sql_calls.c - the SQL text of call accounting (names in sql.h): the
 * migrations that make cdr_source, cdr_calls and the views (9) and the
 * stored calls (10), and the statements of trunks.c and report.c. Kept
 * apart from sql.c only for length; like it, nothing here runs anything.
 */
#include "sql.h"

/* Migrations 9 and 10 are longer than the 4095 bytes ISO C promises a
 * string can be; GCC and Clang, the compilers cdrimport is built with,
 * take it, and one string keeps a migration one self-contained step. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"

/*
 * Call accounting (migration 9): the table cdr_source, the function
 * cdr_calls and the views cdr_call, cdr_daily, cdr_hourly.
 *
 * cdr_source holds what the views need from importer.yaml: each source's
 * zone (its days are local days) and which channels are trunks (a call's
 * direction). cdrimport upserts it at every connect (trunks.c).
 *
 * cdr_calls(t0, t1) folds the legs of each call (rows of one source sharing
 * a call ID: parallel dial, ring groups, transfers; a row without a call ID
 * is a call of its own) into one row, for the calls that start in [t0, t1).
 * The rows are read from a day before t0 to a day after t1, through the
 * key's leading call_time, so a month's report reads a month of rows (and
 * only that month's partitions) instead of grouping the whole table; a leg
 * more than a day away from its call's start is not seen. A LANGUAGE sql
 * function of one SELECT is inlined by the planner: t0 and t1 become plan
 * constants, and a source filter is pushed under the grouping.
 *
 * "The first leg's caller" and the like: one sort of the legs by call and
 * start (the window w) numbers them, and plain aggregates pick the row
 * numbered 1. Ordered aggregates (array_agg(... ORDER BY ...)) said the
 * same but sorted every call's legs apart, which made them the slowest
 * part of a month's report. The trunk globs' regular expression is the
 * costliest per-row work left: it runs once per leg on the destination
 * channel, and once per call on the first leg's source channel (an
 * aggregate's FILTER is checked before its argument is computed). An
 * outgoing call's trunk is the least of the trunk channels it used.
 *
 * A leg counts as answered when its status is ANSWERED, or when it has no
 * status but an answer time; BUSY is busy; FAILED and CONGESTION failed;
 * anything else (NO ANSWER, NO ANSWERED, CANCEL, ...) rang unanswered.
 * A call is answered when any leg was, else missed when any leg rang
 * unanswered, else busy when any leg was busy, else failed. The direction:
 * incoming when the first leg came in on a trunk, else outgoing when any
 * leg went out on one, else internal; NULL while the source has no trunks
 * configured (an Asterisk source without `trunks:`).
 */
#define SQL_CALL_ACCOUNTING \
    "CREATE TABLE IF NOT EXISTS @.cdr_source (" \
    " source text PRIMARY KEY," \
    " timezone text NOT NULL," \
    " trunks text[] NOT NULL DEFAULT '{}'," \
    " trunk_regex text," \
    " updated_at timestamptz NOT NULL DEFAULT now());" \
    "COMMENT ON TABLE @.cdr_source IS 'per source, from importer.yaml (written by cdrimport at" \
    " connect): its time zone and its trunk channels';" \
    "COMMENT ON COLUMN @.cdr_source.timezone IS 'IANA zone of the PBX clock: the views'' days" \
    " and hours are local to it';" \
    "COMMENT ON COLUMN @.cdr_source.trunks IS 'globs over channel names (trunks:) that are" \
    " trunks; empty: none configured';" \
    "COMMENT ON COLUMN @.cdr_source.trunk_regex IS 'the trunks globs as one anchored regular" \
    " expression; NULL: none configured, so directions are unknown';" \
    "CREATE OR REPLACE FUNCTION @.cdr_calls(t0 timestamptz, t1 timestamptz)" \
    " RETURNS TABLE (source text, call_id text, start_time timestamptz," \
    "  answer_time timestamptz, end_time timestamptz, start_local timestamp, timezone text," \
    "  ring_s integer, talk_s integer, legs integer, caller text, destination text," \
    "  extension text, trunk text, direction text, outcome text)" \
    " LANGUAGE sql STABLE AS $f$" \
    " SELECT g.source, g.call_id, g.start_time, g.answer_time, g.end_time," \
    "  g.start_time AT TIME ZONE g.timezone, g.timezone," \
    "  greatest(0, round(extract(epoch FROM coalesce(g.answer_time, g.end_time)" \
    "   - g.start_time)))::integer," \
    "  g.talk_s, g.legs, g.caller, g.destination," \
    "  CASE WHEN g.direction = 'incoming' THEN coalesce(g.answered_by, g.destination)" \
    "   ELSE g.caller END," \
    "  regexp_replace(CASE g.direction WHEN 'incoming' THEN g.first_src" \
    "   WHEN 'outgoing' THEN g.out_channel END, '-[^-/]*$', '')," \
    "  g.direction," \
    "  CASE WHEN g.n_answered > 0 THEN 'answered' WHEN g.n_missed > 0 THEN 'missed'" \
    "   WHEN g.n_busy > 0 THEN 'busy' ELSE 'failed' END" \
    " FROM (SELECT l.source, l.call_id, min(l.timezone) AS timezone," \
    "   min(l.call_time) AS start_time," \
    "   min(l.answer_time) FILTER (WHERE l.kind = 'answered') AS answer_time," \
    "   max(coalesce(l.end_time, l.call_time + make_interval(secs => coalesce(l.total_duration_s," \
    "    0)))) AS end_time," \
    "   coalesce(sum(l.call_duration_s) FILTER (WHERE l.kind = 'answered'), 0)::integer" \
    "    AS talk_s," \
    "   count(*)::integer AS legs," \
    "   count(*) FILTER (WHERE l.kind = 'answered') AS n_answered," \
    "   count(*) FILTER (WHERE l.kind = 'missed') AS n_missed," \
    "   count(*) FILTER (WHERE l.kind = 'busy') AS n_busy," \
    "   min(l.caller_phone) FILTER (WHERE l.n = 1) AS caller," \
    "   min(l.dialed_phone) FILTER (WHERE l.n = 1) AS destination," \
    "   min(l.dialed_phone) FILTER (WHERE l.kind = 'answered' AND l.n_answered = 1)" \
    "    AS answered_by," \
    "   min(l.src_channel) FILTER (WHERE l.n = 1) AS first_src," \
    "   min(l.dst_channel) FILTER (WHERE l.dst_channel ~ l.trunk_regex) AS out_channel," \
    "   CASE WHEN min(l.trunk_regex) IS NULL THEN NULL" \
    "    WHEN bool_or(l.src_channel ~ l.trunk_regex) FILTER (WHERE l.n = 1) THEN 'incoming'" \
    "    WHEN bool_or(l.dst_channel ~ l.trunk_regex) THEN 'outgoing' ELSE 'internal' END" \
    "    AS direction" \
    "  FROM (SELECT k.*, row_number() OVER w AS n," \
    "    count(*) FILTER (WHERE k.kind = 'answered') OVER w AS n_answered" \
    "   FROM (SELECT c.source, coalesce(c.call_id, c.row_key::text) AS call_id, c.call_time," \
    "     c.answer_time, c.end_time, c.total_duration_s, c.call_duration_s, c.caller_phone," \
    "     c.dialed_phone, c.src_channel, c.dst_channel, c.file_id, c.line_no," \
    "     coalesce(s.timezone, 'UTC') AS timezone, s.trunk_regex," \
    "     CASE upper(btrim(coalesce(c.call_type, '')))" \
    "      WHEN 'ANSWERED' THEN 'answered' WHEN 'BUSY' THEN 'busy'" \
    "      WHEN 'FAILED' THEN 'failed' WHEN 'CONGESTION' THEN 'failed'" \
    "      WHEN '' THEN CASE WHEN c.answer_time IS NOT NULL THEN 'answered' ELSE 'missed' END" \
    "      ELSE 'missed' END AS kind" \
    "    FROM @.cdr c LEFT JOIN @.cdr_source s ON s.source = c.source" \
    "    WHERE c.call_time >= t0 - interval '1 day' AND c.call_time < t1 + interval '1 day') k" \
    "   WINDOW w AS (PARTITION BY k.source, k.call_id ORDER BY k.call_time, k.file_id, k.line_no" \
    "    ROWS UNBOUNDED PRECEDING)) l" \
    "  GROUP BY l.source, l.call_id) g" \
    " WHERE g.start_time >= t0 AND g.start_time < t1 $f$;" \
    "COMMENT ON FUNCTION @.cdr_calls(timestamptz, timestamptz) IS 'the calls (as the view" \
    " cdr_call) that start in [t0, t1), reading only the rows near that period';" \
    "CREATE OR REPLACE VIEW @.cdr_call AS SELECT * FROM @.cdr_calls('-infinity', 'infinity');" \
    "COMMENT ON VIEW @.cdr_call IS 'one row per call: the CDR rows (legs) of a source that" \
    " share a call ID, grouped';" \
    "COMMENT ON COLUMN @.cdr_call.source IS 'the source (PBX) of the call';" \
    "COMMENT ON COLUMN @.cdr_call.call_id IS 'the legs'' call ID (the row''s key when the row" \
    " has none)';" \
    "COMMENT ON COLUMN @.cdr_call.start_time IS 'the first leg''s start';" \
    "COMMENT ON COLUMN @.cdr_call.answer_time IS 'the first answer of an answered leg; NULL:" \
    " not answered';" \
    "COMMENT ON COLUMN @.cdr_call.end_time IS 'the last leg''s end (start plus total duration" \
    " where a row has no end)';" \
    "COMMENT ON COLUMN @.cdr_call.start_local IS 'start_time on the source''s clock (its" \
    " timezone)';" \
    "COMMENT ON COLUMN @.cdr_call.timezone IS 'the source''s zone (cdr_source; UTC when" \
    " unknown)';" \
    "COMMENT ON COLUMN @.cdr_call.ring_s IS 'seconds from start to answer; not answered: to" \
    " the end';" \
    "COMMENT ON COLUMN @.cdr_call.talk_s IS 'talking seconds of the answered legs, added" \
    " (a transfer''s legs follow each other)';" \
    "COMMENT ON COLUMN @.cdr_call.legs IS 'how many CDR rows the call has';" \
    "COMMENT ON COLUMN @.cdr_call.caller IS 'the first leg''s caller (extension, or caller ID" \
    " of an incoming call)';" \
    "COMMENT ON COLUMN @.cdr_call.destination IS 'the number the first leg dialled';" \
    "COMMENT ON COLUMN @.cdr_call.extension IS 'the local party: incoming, the number of the" \
    " leg that answered (else destination); otherwise the caller';" \
    "COMMENT ON COLUMN @.cdr_call.trunk IS 'the trunk channel without its per-call suffix" \
    " (DAHDI/3, SIP/carrier1): incoming, the first leg''s source; outgoing, the least trunk" \
    " channel a leg went to; NULL for internal calls';" \
    "COMMENT ON COLUMN @.cdr_call.direction IS 'incoming, outgoing or internal (by the" \
    " source''s trunks); NULL: the source has no trunks configured';" \
    "COMMENT ON COLUMN @.cdr_call.outcome IS 'answered (any leg), missed (none answered, one" \
    " rang), busy, failed';" \
    SQL_CALL_TOTALS("cdr_daily", "(c.start_local)::date", "day") \
    "COMMENT ON VIEW @.cdr_daily IS 'calls per local day, source and extension';" \
    "COMMENT ON COLUMN @.cdr_daily.day IS 'the day on the source''s clock';" \
    SQL_CALL_TOTALS_COMMENTS("cdr_daily") \
    SQL_CALL_TOTALS("cdr_hourly", "date_trunc('hour', c.start_local)", "hour") \
    "COMMENT ON VIEW @.cdr_hourly IS 'calls per local hour, source and extension';" \
    "COMMENT ON COLUMN @.cdr_hourly.hour IS 'the hour''s start on the source''s clock';" \
    SQL_CALL_TOTALS_COMMENTS("cdr_hourly")

/* cdr_daily and cdr_hourly: the same counts over a different period. */
#define SQL_CALL_TOTALS(view, period, name) \
    "CREATE OR REPLACE VIEW @." view " AS SELECT " period " AS " name ", c.source," \
    " c.extension, count(*) AS calls," \
    " count(*) FILTER (WHERE c.direction = 'incoming') AS calls_in," \
    " count(*) FILTER (WHERE c.direction = 'outgoing') AS calls_out," \
    " count(*) FILTER (WHERE c.direction = 'internal') AS calls_internal," \
    " count(*) FILTER (WHERE c.outcome = 'answered') AS answered," \
    " count(*) FILTER (WHERE c.outcome = 'missed') AS missed," \
    " count(*) FILTER (WHERE c.outcome = 'busy') AS busy," \
    " count(*) FILTER (WHERE c.outcome = 'failed') AS failed," \
    " sum(c.talk_s) AS talk_s," \
    " round(avg(c.ring_s) FILTER (WHERE c.outcome = 'answered'), 1) AS avg_ring_s" \
    " FROM @.cdr_call c GROUP BY 1, 2, 3;"
#define SQL_CALL_TOTALS_COMMENTS(view) \
    "COMMENT ON COLUMN @." view ".source IS 'the source (PBX)';" \
    "COMMENT ON COLUMN @." view ".extension IS 'cdr_call.extension: the local party';" \
    "COMMENT ON COLUMN @." view ".calls IS 'calls (not CDR rows)';" \
    "COMMENT ON COLUMN @." view ".calls_in IS 'incoming calls';" \
    "COMMENT ON COLUMN @." view ".calls_out IS 'outgoing calls';" \
    "COMMENT ON COLUMN @." view ".calls_internal IS 'internal calls';" \
    "COMMENT ON COLUMN @." view ".answered IS 'calls answered on any leg';" \
    "COMMENT ON COLUMN @." view ".missed IS 'calls that rang and were answered on no leg';" \
    "COMMENT ON COLUMN @." view ".busy IS 'calls that found only busy';" \
    "COMMENT ON COLUMN @." view ".failed IS 'calls that failed';" \
    "COMMENT ON COLUMN @." view ".talk_s IS 'talking seconds';" \
    "COMMENT ON COLUMN @." view ".avg_ring_s IS 'mean seconds to answer, answered calls';"


/* Migration 9, as SQL_MIGRATIONS[8]. */
const char SQL_MIGRATION_CALLS[] = SQL_CALL_ACCOUNTING;

/*
 * The stored calls (migration 10). Grouping a year of legs into calls
 * takes the server minutes; a report reads cdr_call_store instead, which
 * holds what cdr_calls returns and is brought up to date first.
 *
 * What is out of date is said by the ledger, not by scanning the rows:
 * a file's transaction records the first and last call_time of its rows
 * (first_call, last_call) and sets calls_pending when it added any. The
 * legs of a call lie within a day of its start (cdr_calls' window), so a
 * file's rows change only the calls that start from a day before its
 * first row to a day after its last (a new earliest leg moves a call's
 * start back). cdr_calls_refresh() merges
 * those ranges per source, recomputes their calls, and clears exactly the
 * files it read (their ids are taken first: a file committed meanwhile
 * stays pending for the next refresh). One refresh at a time (an advisory
 * lock); importers never wait for it. Rows older than this migration have
 * no first_call: their source is recomputed whole, once.
 *
 * A changed zone or trunk list changes every stored call of the source:
 * a trigger on cdr_source marks its files pending. A refresh after rows
 * were deleted by hand: cdr_calls_refresh(true) recomputes everything.
 */
const char SQL_MIGRATION_CALL_STORE[] =
    "ALTER TABLE @.cdr_file ADD COLUMN IF NOT EXISTS first_call timestamptz,"
    " ADD COLUMN IF NOT EXISTS last_call timestamptz,"
    " ADD COLUMN IF NOT EXISTS calls_pending boolean NOT NULL DEFAULT false;"
    "COMMENT ON COLUMN @.cdr_file.first_call IS 'the earliest call_time of the file''s rows';"
    "COMMENT ON COLUMN @.cdr_file.last_call IS 'the latest call_time of the file''s rows';"
    "COMMENT ON COLUMN @.cdr_file.calls_pending IS 'its rows are not yet in cdr_call_store"
    " (cdr_calls_refresh)';"
    "UPDATE @.cdr_file SET calls_pending = true WHERE rows_inserted > 0 AND NOT calls_pending;"
    "CREATE INDEX IF NOT EXISTS cdr_file_calls_pending ON @.cdr_file (id) WHERE calls_pending;"
    "CREATE TABLE IF NOT EXISTS @.cdr_call_store ("
    " start_time timestamptz NOT NULL, answer_time timestamptz, end_time timestamptz,"
    " start_local timestamp NOT NULL, ring_s integer, talk_s integer, legs integer,"
    " source text NOT NULL, call_id text NOT NULL, timezone text NOT NULL, caller text,"
    " destination text, extension text, trunk text, direction text, outcome text);"
    "CREATE INDEX IF NOT EXISTS cdr_call_store_start ON @.cdr_call_store (start_time);"
    "COMMENT ON TABLE @.cdr_call_store IS 'cdr_call kept as a table for reports: brought up"
    " to date by cdr_calls_refresh() (cdrimport report calls it); its columns are cdr_call''s';"
    "CREATE OR REPLACE FUNCTION @.cdr_calls_refresh(full_rebuild boolean DEFAULT false)"
    " RETURNS bigint LANGUAGE plpgsql SET work_mem = '128MB' SET jit = off AS $f$"
    " DECLARE ids bigint[]; r record; n bigint := 0; k bigint;"
    " BEGIN"
    "  PERFORM pg_advisory_xact_lock(hashtext('cdrimport calls'));"
    "  IF full_rebuild THEN"
    "   DELETE FROM @.cdr_call_store;"
    "   UPDATE @.cdr_file SET calls_pending = true, first_call = NULL, last_call = NULL"
    "    WHERE rows_inserted > 0;"
    "  END IF;"
    "  SELECT array_agg(id) INTO ids FROM @.cdr_file WHERE calls_pending;"
    "  IF ids IS NULL THEN RETURN 0; END IF;"
    "  FOR r IN"
    "   WITH f AS (SELECT source, coalesce(first_call - interval '1 day', '-infinity') AS lo,"
    "     coalesce(last_call + interval '1 day 1 second', 'infinity') AS hi"
    "    FROM @.cdr_file WHERE id = ANY (ids)),"
    "   g AS (SELECT *, CASE WHEN lo <= max(hi) OVER (PARTITION BY source ORDER BY lo, hi"
    "     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS brk FROM f),"
    "   i AS (SELECT *, sum(brk) OVER (PARTITION BY source ORDER BY lo, hi ROWS UNBOUNDED"
    "     PRECEDING) AS island FROM g)"
    "   SELECT source, min(lo) AS lo, max(hi) AS hi FROM i GROUP BY source, island"
    "  LOOP"
    "   DELETE FROM @.cdr_call_store s WHERE s.source = r.source"
    "    AND s.start_time >= r.lo AND s.start_time < r.hi;"
    "   INSERT INTO @.cdr_call_store (start_time, answer_time, end_time, start_local, ring_s,"
    "     talk_s, legs, source, call_id, timezone, caller, destination, extension, trunk,"
    "     direction, outcome)"
    "    SELECT c.start_time, c.answer_time, c.end_time, c.start_local, c.ring_s, c.talk_s,"
    "     c.legs, c.source, c.call_id, c.timezone, c.caller, c.destination, c.extension,"
    "     c.trunk, c.direction, c.outcome FROM @.cdr_calls(r.lo, r.hi) c"
    "    WHERE c.source = r.source;"
    "   GET DIAGNOSTICS k = ROW_COUNT;"
    "   n := n + k;"
    "  END LOOP;"
    "  UPDATE @.cdr_file SET calls_pending = false WHERE id = ANY (ids);"
    "  RETURN n;"
    " END $f$;"
    "COMMENT ON FUNCTION @.cdr_calls_refresh(boolean) IS 'brings cdr_call_store up to date"
    " with the files imported since the last refresh (true: recomputes every call); returns"
    " the calls written';"
    "CREATE OR REPLACE FUNCTION @.cdr_source_changed() RETURNS trigger LANGUAGE plpgsql AS $f$"
    " BEGIN"
    "  UPDATE @.cdr_file SET calls_pending = true, first_call = NULL, last_call = NULL"
    "   WHERE source = NEW.source AND rows_inserted > 0;"
    "  RETURN NULL;"
    " END $f$;"
    "DROP TRIGGER IF EXISTS cdr_source_changed ON @.cdr_source;"
    "CREATE TRIGGER cdr_source_changed AFTER INSERT OR UPDATE OF timezone, trunk_regex"
    " ON @.cdr_source FOR EACH ROW EXECUTE FUNCTION @.cdr_source_changed();";

#pragma GCC diagnostic pop

/* ---- call accounting's statements (trunks.c, report.c, prune.c) --------- */

/* A source's zone and trunks from importer.yaml ($3: the globs, one a
 * line; $4: them as one regular expression, NULL for none). Written only
 * when something changed, so that a connect costs no row version (and the
 * trigger above recomputes its stored calls only then). */
const char SQL_SOURCE_UPSERT[] =
    "INSERT INTO @.cdr_source AS s (source, timezone, trunks, trunk_regex, last_call)"
    " VALUES ($1, $2, CASE WHEN $3::text = '' THEN '{}'::text[]"
    "  ELSE string_to_array($3::text, chr(10)) END, $4,"
    /* A new source: no rows ('-infinity') unless the ledger says it
     * imported some (removed from importer.yaml once, now back): not known. */
    "  CASE WHEN EXISTS (SELECT 1 FROM @.cdr_file WHERE source = $1 AND status = 'imported'"
    "   AND rows_inserted > 0) THEN NULL ELSE '-infinity'::timestamptz END)"
    " ON CONFLICT (source) DO UPDATE SET timezone = EXCLUDED.timezone,"
    " trunks = EXCLUDED.trunks, trunk_regex = EXCLUDED.trunk_regex, updated_at = now()"
    " WHERE (s.timezone, s.trunks, s.trunk_regex) IS DISTINCT FROM"
    " (EXCLUDED.timezone, EXCLUDED.trunks, EXCLUDED.trunk_regex)";

/* The report's session: without JIT compilation, which cost more than it
 * saved for these one-off queries; work_mem for the live path (below),
 * whose sort of a month's legs would otherwise spill to temporary files. */
const char SQL_REPORT_SESSION[] =
    "SELECT set_config('work_mem', '128MB', false), set_config('jit', 'off', false)";
/* Bring the stored calls up to date: the calls written. */
const char SQL_CALLS_REFRESH[] = "SELECT @.cdr_calls_refresh(false)";
/* Files whose calls are not stored yet (a report that could not refresh,
 * on a replica or without the right to write, reads the rows instead). */
const char SQL_CALLS_PENDING[] = "SELECT count(*) FROM @.cdr_file WHERE calls_pending";
/* Retention: the stored calls before the cutoff, a bounded batch a time. */
const char SQL_PRUNE_CALLS[] = SQL_DELETE_BEFORE("cdr_call_store", "start_time");

/* The calls of a report: $1 source (NULL: all), $2 and $3 the first and
 * last local day. From the store, or from the rows (cdr_calls, which reads
 * the rows of [$2 - 1 day, $3 + 2 days)). Either way start_time is held to
 * that range in the session's zone, which is wide enough for any source's
 * zone (offsets stay within 14 hours) and lets the store's index find a
 * month; the local day then decides. */
#define REPORT_STORE "@.cdr_call_store"
#define REPORT_LIVE "@.cdr_calls($2::date - 1, $3::date + 2)"
#define SQL_REPORT_CALLS(from) \
    "SELECT * FROM " from " c" \
    " WHERE ($1::text IS NULL OR source = $1::text)" \
    " AND start_time >= $2::date - 1 AND start_time < $3::date + 2" \
    " AND start_local >= $2::date AND start_local < $3::date + 1"

/* One row per key of $4 (the --by), then the totals row (ROLLUP's, also
 * there when the period has no call): key, calls, incoming, outgoing,
 * internal, answered, missed, busy, failed, talk seconds, mean seconds to
 * answer (-1: nothing was answered), whether the row is the totals.
 * Periods sort in time order, the rest by calls, most first. $5: at most
 * that many rows (the HTML page's top lists), NULL: all.
 *
 * The calls are counted per key first (a hash table over the period's
 * calls, in parallel workers where the server has them), then ROLLUP adds
 * up those few rows; a period's key is the truncated time, made text only
 * per key. Grouping all calls by their formatted text under ROLLUP sorted
 * every call of a year: twice the time. */
#define REPORT_SUMMARY(from) \
    "SELECT CASE $4::text WHEN 'day' THEN to_char(kt, 'YYYY-MM-DD')" \
    "  WHEN 'week' THEN to_char(kt, 'IYYY-\"W\"IW') WHEN 'month' THEN to_char(kt, 'YYYY-MM')" \
    "  WHEN 'hour' THEN to_char(kt, 'HH24') || ':00' ELSE kx END," \
    " sum(n), sum(n_in), sum(n_out), sum(n_int), sum(n_answered), sum(n_missed)," \
    " sum(n_busy), sum(n_failed), coalesce(sum(talk), 0)," \
    " coalesce(round(sum(ring) / nullif(sum(n_answered), 0)), -1), grouping(kt, kx)" \
    " FROM (SELECT CASE $4::text WHEN 'day' THEN date_trunc('day', start_local)" \
    "   WHEN 'week' THEN date_trunc('week', start_local)" \
    "   WHEN 'month' THEN date_trunc('month', start_local)" \
    "   WHEN 'hour' THEN timestamp '2000-01-01'" \
    "    + (date_trunc('hour', start_local) - date_trunc('day', start_local)) END AS kt," \
    "  CASE $4::text WHEN 'extension' THEN coalesce(extension, '')" \
    "   WHEN 'destination' THEN coalesce(destination, '')" \
    "   WHEN 'trunk' THEN coalesce(trunk, '') WHEN 'outcome' THEN outcome END AS kx," \
    "  count(*) AS n, count(*) FILTER (WHERE direction = 'incoming') AS n_in," \
    "  count(*) FILTER (WHERE direction = 'outgoing') AS n_out," \
    "  count(*) FILTER (WHERE direction = 'internal') AS n_int," \
    "  count(*) FILTER (WHERE outcome = 'answered') AS n_answered," \
    "  count(*) FILTER (WHERE outcome = 'missed') AS n_missed," \
    "  count(*) FILTER (WHERE outcome = 'busy') AS n_busy," \
    "  count(*) FILTER (WHERE outcome = 'failed') AS n_failed," \
    "  sum(talk_s) AS talk, sum(ring_s) FILTER (WHERE outcome = 'answered') AS ring" \
    "  FROM (" SQL_REPORT_CALLS(from) ") c GROUP BY 1, 2) g" \
    " GROUP BY ROLLUP ((kt, kx))" \
    " ORDER BY grouping(kt, kx), CASE WHEN $4::text IN ('extension', 'destination', 'trunk')" \
    "  THEN -sum(n) END, 1 LIMIT $5::int8"
/* Calls per local day of week (ISO: 1 Monday) and hour: the heat map. */
#define REPORT_HEATMAP(from) \
    "SELECT extract(isodow FROM start_local)::int, extract(hour FROM start_local)::int," \
    " count(*) FROM (" SQL_REPORT_CALLS(from) ") c GROUP BY 1, 2 ORDER BY 1, 2"
/* The missed calls, oldest first, at most $4. */
#define REPORT_MISSED(from) \
    "SELECT to_char(start_local, 'YYYY-MM-DD HH24:MI:SS'), source, coalesce(caller, '')," \
    " coalesce(destination, ''), coalesce(extension, ''), coalesce(trunk, ''), ring_s, legs" \
    " FROM (" SQL_REPORT_CALLS(from) ") c WHERE outcome = 'missed'" \
    " ORDER BY start_time, source, call_id LIMIT $4::int"

/* Each from the store ([SQL_FROM_STORE]) and from the rows ([SQL_FROM_ROWS]). */
const char *const SQL_REPORT_SUMMARY[2] = {REPORT_SUMMARY(REPORT_STORE),
                                           REPORT_SUMMARY(REPORT_LIVE)};
const char *const SQL_REPORT_HEATMAP[2] = {REPORT_HEATMAP(REPORT_STORE),
                                           REPORT_HEATMAP(REPORT_LIVE)};
const char *const SQL_REPORT_MISSED[2] = {REPORT_MISSED(REPORT_STORE),
                                          REPORT_MISSED(REPORT_LIVE)};
