"""End-to-end tests of wall time -> instant conversion. cdrimport sends rows
to PostgreSQL in binary COPY, so it converts the PBX's wall-clock times
itself, with offsets it asks the server for (src/zone.c). These tests hold
it to the server's own reading of the same text, second by second around
every clock change of zones with odd rules, in files large enough to span
many batches; and they check call_duration, which the client now derives,
and the migration of a version-1 schema (a generated call_duration).
"""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from conftest import SCHEMA_VERSION, rows
from test_import import import_, ledger
from test_profiles import kx_line

UTC = timezone.utc

# Zones whose rules stress the conversion: ordinary DST on both sides of UTC,
# a 30-minute DST shift, changes at midnight, a skipped calendar day, offset
# changes that are not DST (Moscow 2011/2014), suspended DST (Casablanca),
# a half-hour zone without DST, and UTC itself.
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Sao_Paulo",
         "Pacific/Apia", "Europe/Moscow", "Africa/Casablanca", "Asia/Kolkata", "UTC"]


def transitions(zone, first=1971, last=2036):
    """Instants (UTC) where the zone's UTC offset changes, found by scanning
    hours and bisecting to the second."""
    tz = ZoneInfo(zone)
    t = datetime(first, 1, 1, tzinfo=UTC)
    end = datetime(last, 1, 1, tzinfo=UTC)
    step = timedelta(hours=6)
    out = []
    prev = t.astimezone(tz).utcoffset()
    while t < end:
        nxt = t + step
        off = nxt.astimezone(tz).utcoffset()
        if off != prev:
            lo, hi = t, nxt
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == prev:
                    lo = mid
                else:
                    hi = mid
            out.append((hi, prev, off))
            prev = off
        t = nxt
    return out


def local_times_around_changes(zone):
    """Wall times (naive) at and around each clock change: the edges of the
    skipped or repeated interval to the second, and a grid over +-3 hours."""
    seen = set()
    for instant, before, after in transitions(zone):
        wall = (instant + before).replace(tzinfo=None)  # the wall clock just before
        edges = [timedelta(0), after - before]
        for base in edges:
            for d in (-1, 0, 1):
                seen.add(wall + base + timedelta(seconds=d))
        for k in range(-12, 13):
            seen.add(wall + timedelta(minutes=15 * k, seconds=7 * k))
    return sorted(seen)


def write_rows(path, times):
    """One KX-HTS row per wall time; the wall time also goes into caller_phone
    so the test can ask the server how it reads that text."""
    with open(path, "w") as f:
        for i, t in enumerate(times):
            s = t.strftime("%Y-%m-%d %H:%M:%S")
            f.write(kx_line(f"{i}.0", s, answer=s, end=s, caller=s) + "\n")


def mismatches(db, zone):
    """Rows whose stored instants differ from the server's own reading of the
    wall time text in that zone."""
    return rows(db, """
        SELECT caller_phone, call_time, caller_phone::timestamp AT TIME ZONE %s
        FROM cdr
        WHERE call_time IS DISTINCT FROM caller_phone::timestamp AT TIME ZONE %s
           OR answer_time IS DISTINCT FROM call_time
           OR end_time IS DISTINCT FROM call_time
        ORDER BY 1 LIMIT 5""", zone, zone)


@pytest.mark.parametrize("zone", ZONES)
def test_every_clock_change_matches_the_server(workdir, dsn, db, zone):
    times = local_times_around_changes(zone)
    if zone in ("UTC", "Asia/Kolkata"):
        assert not times  # no changes since 1971: test a plain grid instead
        times = [datetime(2000, 1, 1) + timedelta(hours=7 * k, seconds=k) for k in range(3000)]
    f = workdir / "zone.csv"
    write_rows(f, times)
    r = import_(workdir, dsn, f, timezone=zone)
    assert r.returncode == 0, r.stderr
    (entry,) = ledger(db)
    assert entry["rows_inserted"] == len(times)
    assert mismatches(db, zone) == []


def test_many_batches_in_time_order_and_backwards(workdir, dsn, db):
    """40k rows every 17 minutes over 1.3 years: several batches, the offset
    cache carried from batch to batch, and the same rows once more in reverse
    order (every batch then meets hours the cache has not seen)."""
    zone = "Europe/Berlin"
    start = datetime(2023, 1, 1)
    times = [start + timedelta(minutes=17 * k, seconds=k % 60) for k in range(40000)]
    f = workdir / "forward.csv"
    write_rows(f, times)
    r = import_(workdir, dsn, f, timezone=zone)
    assert r.returncode == 0, r.stderr
    assert mismatches(db, zone) == []
    assert rows(db, "SELECT count(*) FROM cdr") == [(40000,)]
    # The same wall times backwards, as another PBX in another zone.
    g = workdir / "backward.csv"
    write_rows(g, list(reversed(times)))
    r = import_(workdir, dsn, g, timezone="America/New_York", name="ny")
    assert r.returncode == 0, r.stderr
    got = rows(db, """SELECT count(*) FROM cdr WHERE source = 'ny' AND call_time
                      IS DISTINCT FROM caller_phone::timestamp AT TIME ZONE 'America/New_York'""")
    assert got == [(0,)]
    assert rows(db, "SELECT count(*) FROM cdr WHERE source = 'ny'") == [(40000,)]


def test_call_duration_is_the_interval_of_call_duration_s(workdir, dsn, db):
    talks = ["0", "1", "59", "3600", "86399", "86400", "100000", "2147483647", ""]
    f = workdir / "durations.csv"
    f.write_text("".join(kx_line(f"7.{i}", "2024-05-05 10:00:00", talk=t) + "\n"
                         for i, t in enumerate(talks)))
    r = import_(workdir, dsn, f)
    assert r.returncode == 0, r.stderr
    got = dict(rows(db, "SELECT call_id, call_duration FROM cdr"))
    for i, t in enumerate(talks):
        assert got[f"7.{i}"] == (timedelta(seconds=int(t)) if t else None), t
    assert rows(db, """SELECT count(*) FROM cdr WHERE call_duration
                       IS DISTINCT FROM make_interval(secs => call_duration_s)""") == [(0,)]


# The first release's table of rows, as migration 1 made it.
V1_CDR = """CREATE TABLE cdr (
  source text NOT NULL, call_id text, caller_phone text, dialed_phone text, flag2 text,
  flag3 text, call_time timestamptz NOT NULL, answer_time timestamptz, end_time timestamptz,
  total_duration_s integer, call_duration_s integer,
  call_duration interval GENERATED ALWAYS AS (make_interval(secs => call_duration_s)) STORED,
  call_type text, account_code text, src_channel text, dst_channel text, feature text,
  extra jsonb, file_id bigint NOT NULL, line_no bigint NOT NULL, row_key uuid NOT NULL,
  CONSTRAINT cdr_pkey PRIMARY KEY (call_time, row_key))"""


def test_version_1_schema_is_migrated(workdir, dsn, db):
    """A database made by the first release has call_duration as a generated
    column, which COPY cannot fill, and its rows in the wide table cdr: the
    next command migrates it through every version, keeping every row and
    its key, and imports."""
    f = workdir / "one.csv"
    f.write_text(kx_line("8.1", "2024-05-05 10:00:00", talk="42") + "\n")
    assert import_(workdir, dsn, f).returncode == 0
    before = rows(db, "SELECT call_id, call_time, row_key, file_id, line_no FROM cdr")
    with db.cursor() as cur:
        cur.execute("DROP VIEW cdr")
        cur.execute(V1_CDR)
        cur.execute("INSERT INTO cdr (source, call_id, caller_phone, dialed_phone, flag2, flag3,"
                    " call_time, answer_time, end_time, total_duration_s, call_duration_s,"
                    " call_type, account_code, src_channel, dst_channel, feature, extra, file_id,"
                    " line_no, row_key) SELECT source, call_id, caller_phone, dialed_phone,"
                    " flag2, flag3, call_time, answer_time, end_time, total_duration_s,"
                    " call_duration_s, call_type, account_code, src_channel, dst_channel,"
                    " feature, extra, file_id, line_no, row_key FROM cdr_row")
        cur.execute("DROP TABLE cdr_row")
        cur.execute("DELETE FROM cdr_schema WHERE version > 1")
    g = workdir / "two.csv"
    g.write_text(kx_line("8.2", "2024-05-05 11:00:00", talk="43") + "\n")
    r = import_(workdir, dsn, g)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT call_id, call_duration FROM cdr ORDER BY 1") == \
        [("8.1", timedelta(seconds=42)), ("8.2", timedelta(seconds=43))]
    assert rows(db, "SELECT max(version) FROM cdr_schema") == [(SCHEMA_VERSION,)]
    assert rows(db, "SELECT call_id, call_time, row_key, file_id, line_no FROM cdr"
                    " WHERE call_id = '8.1'") == before
    # The old row's key still matches: a file holding it again and a new
    # row adds only the new row.
    h = workdir / "three.csv"
    h.write_text(f.read_text() + kx_line("8.3", "2024-05-05 12:00:00", talk="44") + "\n")
    assert import_(workdir, dsn, h).returncode == 0
    assert rows(db, "SELECT call_id FROM cdr ORDER BY 1") == [("8.1",), ("8.2",), ("8.3",)]


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Los_Angeles"])
def test_first_and_last_representable_times(workdir, dsn, db, zone):
    """1970-01-01 00:00:00 east of UTC is an instant before 1970; the last
    second of year 9999 west of UTC is one in year 10000."""
    times = [datetime(1970, 1, 1), datetime(1970, 1, 1, 0, 0, 1), datetime(9999, 12, 31, 23, 0),
             datetime(9999, 12, 31, 23, 59, 59)]
    f = workdir / "edges.csv"
    write_rows(f, times)
    r = import_(workdir, dsn, f, timezone=zone)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT count(*) FROM cdr") == [(4,)]
    assert mismatches(db, zone) == []
