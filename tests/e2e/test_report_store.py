"""The stored calls (cdr_call_store, schema version 10), which `report`
reads instead of grouping the rows again. Whatever happened since the last
report (a late file adding a leg to a stored call, a source's trunks
changed in importer.yaml, prune), the store must say exactly what cdr_call
(the rows grouped live) says, and a report that cannot refresh it reads the
rows instead of printing stale numbers.
"""
import json

from conftest import rows, run_cli
import report_data
from report_data import kx
from test_report import loaded  # noqa: F401  (the fixture)

COLS = ("source, call_id, start_time, answer_time, end_time, start_local, timezone, ring_s,"
        " talk_s, legs, caller, destination, extension, trunk, direction, outcome")


def differences(db):
    """Rows only in the store, and rows only in cdr_call."""
    only_store = rows(db, f"SELECT {COLS} FROM cdr_call_store"
                          f" EXCEPT ALL SELECT {COLS} FROM cdr_call")
    only_live = rows(db, f"SELECT {COLS} FROM cdr_call"
                         f" EXCEPT ALL SELECT {COLS} FROM cdr_call_store")
    return only_store, only_live


def pending(db):
    return rows(db, "SELECT count(*) FROM cdr_file WHERE calls_pending")[0][0]


def report(config, *args):
    r = run_cli("report", "--from", "2026-10", "--to", "2026-11", "--format", "json", *args,
                config=config)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), r.stderr


def test_the_first_report_stores_the_calls(loaded, db):  # noqa: F811
    # each import recorded its rows' time range and is pending
    assert pending(db) == 2
    assert rows(db, "SELECT count(*) FROM cdr_file WHERE first_call IS NULL"
                    " AND rows_inserted > 0") == [(0,)]
    assert rows(db, "SELECT count(*) FROM cdr_call_store") == [(0,)]
    doc, _ = report(loaded)
    assert doc["totals"]["calls"] == 13 and doc["totals"]["missed"] == 3
    assert pending(db) == 0
    assert rows(db, "SELECT count(*) FROM cdr_call_store") == [(13,)]
    assert differences(db) == ([], [])
    # nothing new: the next refresh writes nothing
    assert rows(db, "SELECT cdr_calls_refresh()") == [(0,)]


def test_a_late_leg_changes_a_stored_call(loaded, workdir, db):  # noqa: F811
    report(loaded)
    # A later download holds a third leg of ring group 1000.3, which nobody
    # had answered: 204 picks up. The call is answered now, not missed, and
    # one new call comes with the file.
    late = workdir / "late"
    late.mkdir()
    (late / "Master.csv").write_text("\n".join([
        kx("", "0308888888", "204", "SIP/carrier1_abc-00000005", "SIP/204-00000099",
           "2026-11-02 11:00:00", "2026-11-02 11:00:12", "2026-11-02 11:03:12", 192, 180,
           "ANSWERED", "1000.3"),
        kx("", "0306666666", "201", "DAHDI/5-1", "SIP/201-0000009a", "2026-11-20 15:00:00",
           "", "2026-11-20 15:00:20", 20, 0, "NO ANSWERED", "1000.99"),
    ]) + "\n")
    r = run_cli("import", "--source", "office", str(late), config=loaded)
    assert r.returncode == 0, r.stderr
    assert pending(db) == 1
    doc, _ = report(loaded)
    assert doc["totals"]["calls"] == 14
    assert doc["totals"]["missed"] == 3  # 1000.3 answered, 1000.99 missed
    assert doc["totals"]["answered"] == 9
    assert rows(db, "SELECT outcome, legs, talk_s FROM cdr_call_store"
                    " WHERE call_id = '1000.3'") == [("answered", 3, 180)]
    assert differences(db) == ([], [])


def test_changed_trunks_recompute_the_source(loaded, workdir, db):  # noqa: F811
    doc, _ = report(loaded, "--source", "branch")
    assert doc["totals"]["incoming"] == 1 and doc["totals"]["outgoing"] == 1
    # No channel of branch's is a trunk any more: both calls are internal.
    # The report's own connect records the new trunks; that marks the
    # source's files, and the same report recomputes its calls.
    cfg = workdir / "importer.yaml"
    cfg.write_text(cfg.read_text().replace('trunks: ["SIP/trunk-*"]', 'trunks: ["IAX2/*"]'))
    doc, _ = report(loaded, "--source", "branch")
    assert (doc["totals"]["incoming"], doc["totals"]["outgoing"],
            doc["totals"]["internal"]) == (0, 0, 2)
    assert pending(db) == 0
    assert differences(db) == ([], [])
    # office's calls were left as they were
    assert report(loaded, "--source", "office")[0]["totals"]["calls"] == 11


def test_prune_takes_the_stored_calls_too(loaded, workdir, db):  # noqa: F811
    report(loaded)
    assert rows(db, "SELECT count(*) FROM cdr_call_store") == [(13,)]
    cfg = workdir / "importer.yaml"
    cfg.write_text(cfg.read_text().replace("database:\n",
                                           "database:\n  retention_months: 1\n"))
    r = run_cli("prune", config=str(cfg))
    assert r.returncode == 0, r.stderr
    assert "stored calls" in r.stderr
    cutoff = rows(db, "SELECT date_trunc('month', now() AT TIME ZONE 'UTC')"
                      " - interval '1 month'")[0][0]
    assert rows(db, "SELECT count(*) FROM cdr_call_store WHERE start_time AT TIME ZONE 'UTC'"
                    " < %s", cutoff) == [(0,)]
    # what is left is what the rows say
    assert differences(db) == ([], [])


def test_a_report_that_cannot_refresh_reads_the_rows(loaded, workdir, dsn, db):  # noqa: F811
    """A role that may read but not write the store (as a reporting
    account might be): the report says why and counts from the rows."""
    dbname = db.info.dbname
    role = "reader_" + dbname  # roles are the cluster's: one per test database
    with db.cursor() as c:
        c.execute(f'CREATE ROLE "{role}" LOGIN')
        c.execute(f'GRANT CREATE ON DATABASE "{dbname}" TO "{role}"')
        c.execute(f'GRANT USAGE, CREATE ON SCHEMA public TO "{role}"')
        c.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        c.execute(f'GRANT INSERT, UPDATE ON cdr_source TO "{role}"')
    try:
        cfg = workdir / "reader.yaml"
        cfg.write_text((workdir / "importer.yaml").read_text().replace(
            f'dsn: "{dsn}"', f'dsn: "{dsn} user={role}"'))
        doc, err = report(str(cfg))
        assert "the stored calls could not be brought up to date" in err
        assert "permission denied" in err
        assert doc["totals"]["calls"] == 13 and doc["totals"]["missed"] == 3
        assert pending(db) == 2
        # once the store is current, it is read without writing anything
        report(loaded)
        doc, err = report(str(cfg))
        assert "could not be brought up to date" not in err
        assert doc["totals"]["calls"] == 13
    finally:
        with db.cursor() as c:
            c.execute(f'DROP OWNED BY "{role}"')
            c.execute(f'DROP ROLE "{role}"')


def test_importers_do_not_wait_for_a_refresh(loaded, workdir, db):  # noqa: F811
    """A refresh holds its turn (an advisory lock) for its transaction; an
    import meanwhile goes ahead, and the refresh that gets its turn after
    it stores its calls. Here the test's session holds that turn."""
    import subprocess
    import time
    from conftest import BIN
    with db.cursor() as c:
        c.execute("SELECT pg_advisory_lock(hashtext('cdrimport calls'))")
    proc = None
    try:
        proc = subprocess.Popen([BIN, "-c", loaded, "report", "--from", "2026-10", "--to",
                                 "2026-11", "--format", "json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while not rows(db, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                           " AND query LIKE '%cdr_calls_refresh%'"):
            assert time.monotonic() < deadline, "the report never waited for its turn"
            time.sleep(0.05)
        late = workdir / "late"
        late.mkdir()
        (late / "Master.csv").write_text(kx(
            "", "0306666666", "201", "DAHDI/5-1", "SIP/201-0000009a", "2026-11-20 15:00:00",
            "", "2026-11-20 15:00:20", 20, 0, "NO ANSWERED", "1000.99") + "\n")
        r = run_cli("import", "--source", "office", str(late), config=loaded, timeout=20)
        assert r.returncode == 0, r.stderr
        assert proc.poll() is None  # still waiting
    finally:
        with db.cursor() as c:
            c.execute("SELECT pg_advisory_unlock(hashtext('cdrimport calls'))")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert json.loads(out)["totals"]["calls"] == 14
    assert pending(db) == 0
    assert differences(db) == ([], [])


def test_database_down_and_a_killed_report(loaded, workdir, db):  # noqa: F811
    """The database down: exit 3, no report file. A report killed (-9)
    while its refresh waits: the next report is still right."""
    import signal
    import subprocess
    import time
    from conftest import BIN, pg_start, pg_stop
    out = workdir / "r.json"
    dbname = db.info.dbname
    db.close()
    pg_stop()
    r = run_cli("report", "--from", "2026-10", "--to", "2026-11", "-o", str(out), config=loaded)
    assert r.returncode == 3, r.stderr
    assert not out.exists() and not (workdir / "r.json.tmp").exists()
    pg_start()
    import psycopg2
    from conftest import make_dsn
    conn = psycopg2.connect(make_dsn(dbname))
    conn.autocommit = True
    try:
        with conn.cursor() as c:
            c.execute("SELECT pg_advisory_lock(hashtext('cdrimport calls'))")
        proc = subprocess.Popen([BIN, "-c", loaded, "report", "--format", "json", "--from",
                                 "2026-10", "--to", "2026-11"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not rows(conn, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                             " AND query LIKE '%cdr_calls_refresh%'"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        with conn.cursor() as c:
            c.execute("SELECT pg_advisory_unlock(hashtext('cdrimport calls'))")
        doc, _ = report(loaded)
        assert doc["totals"]["calls"] == 13 and doc["totals"]["missed"] == 3
        assert pending(conn) == 0
        assert differences(conn) == ([], [])
    finally:
        conn.close()

