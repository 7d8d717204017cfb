"""Monthly partitions (database.partition: month) and retention
(database.retention_months, `cdrimport prune`), against a real server:
partitions made as files need them, two importers needing the same new
month at once, prune of partitions and of a plain table, the conversion of
a populated table by init-db, and the rows exactly once through all of it."""
import subprocess
from datetime import datetime, timezone

from conftest import BIN, rows, run_cli, write_config
from test_import import dead_dsn
from test_profiles import kx_line


def config(workdir, dsn, **database):
    return write_config(workdir, dsn, top_level={"database": {"dsn": dsn, **database}})


def kx_file(path, calls):
    """A KX-HTS file of (call_id, start) rows."""
    path.write_text("".join(kx_line(cid, start) + "\n" for cid, start in calls))
    return path


def partitions(db):
    """{partition name: rows} of cdr_row."""
    return dict(rows(db, "SELECT c.relname, (SELECT count(*) FROM cdr_row r"
                         "  WHERE r.tableoid = c.oid)"
                         " FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                         " WHERE i.inhparent = 'cdr_row'::regclass"))


def is_partitioned(db):
    return rows(db, "SELECT relkind FROM pg_class WHERE oid = 'cdr_row'::regclass") == [("p",)]


def ok(r):
    assert r.returncode == 0, r.stderr
    return r.stderr


def months_ago(n):
    """The first day of the UTC month n months before this one, as text."""
    now = datetime.now(timezone.utc)
    m = now.year * 12 + now.month - 1 - n
    return f"{m // 12:04d}-{m % 12 + 1:02d}-01"


def test_file_spanning_three_months_gets_three_partitions(workdir, dsn, db):
    cfg = config(workdir, dsn, partition="month")
    calls = [(f"1.{i}", f"2024-0{m}-{d:02d} 12:00:00") for i, (m, d) in
             enumerate((m, d) for m in (1, 2, 3) for d in (1, 15, 28))]
    # The last second of a month and the first of the next, in UTC.
    calls += [("2.1", "2024-01-31 23:59:59"), ("2.2", "2024-02-01 00:00:00")]
    ok(run_cli("import", kx_file(workdir / "q1.csv", calls), config=cfg))
    assert is_partitioned(db)
    assert partitions(db) == {"cdr_row_2024m01": 4, "cdr_row_2024m02": 4, "cdr_row_2024m03": 3}
    assert rows(db, "SELECT count(*), count(DISTINCT row_key) FROM cdr") == [(11, 11)]
    # The same rows in another file, and one of a fourth month.
    again = kx_file(workdir / "again.csv", calls + [("3.1", "2024-04-02 08:00:00")])
    assert "new=1 duplicate=11" in ok(run_cli("import", again, config=cfg))
    assert partitions(db)["cdr_row_2024m04"] == 1
    assert rows(db, "SELECT count(*) FROM cdr") == [(12,)]


def test_partition_months_are_utc_months_whatever_the_zone(workdir, dsn, db):
    """Wall time 2024-03-01 00:30 in Berlin is 2024-02-29 23:30 UTC: it
    belongs to February's partition."""
    cfg = write_config(workdir, dsn, timezone="Europe/Berlin",
                       top_level={"database": {"dsn": dsn, "partition": "month"}})
    ok(run_cli("import", kx_file(workdir / "b.csv", [("4.1", "2024-03-01 00:30:00")]),
               config=cfg))
    assert partitions(db) == {"cdr_row_2024m02": 1}


def test_two_importers_make_the_same_month_at_once(workdir, dsn, db):
    """Two processes start together, each with rows of the same new month
    (a third of them shared): both succeed, one partition, rows once."""
    cfg = config(workdir, dsn, partition="month")
    ok(run_cli("init-db", config=cfg))
    def day_rows(prefix, lo, hi):
        return [(f"{prefix}.{i}", f"2025-06-{1 + i % 28:02d} {i % 24:02d}:{i % 60:02d}:00")
                for i in range(lo, hi)]
    a = kx_file(workdir / "a.csv", day_rows("5", 0, 30000))
    b = kx_file(workdir / "b.csv", day_rows("5", 20000, 50000))
    procs = [subprocess.Popen([BIN, "-c", cfg, "import", str(f)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for f in (a, b)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    assert partitions(db) == {"cdr_row_2025m06": 50000}
    assert rows(db, "SELECT count(*), count(DISTINCT row_key) FROM cdr") == [(50000, 50000)]


def test_prune_drops_whole_partitions_past_retention(workdir, dsn, db):
    old, kept = months_ago(14), months_ago(1)
    cfg = config(workdir, dsn, partition="month", retention_months=12)
    ok(run_cli("import", kx_file(workdir / "p.csv", [("6.1", f"{old} 10:00:00"),
                                                       ("6.2", f"{old} 11:00:00"),
                                                       ("6.3", f"{kept} 10:00:00")]),
               config=cfg))
    assert len(partitions(db)) == 2
    log = ok(run_cli("prune", config=cfg))
    name = f"cdr_row_{old[:4]}m{old[5:7]}"
    assert f"dropped partition {name} (2 rows)" in log, log
    assert "2 rows, 1 partitions dropped" in log, log
    assert list(partitions(db).values()) == [1]
    assert rows(db, "SELECT call_id FROM cdr") == [("6.3",)]
    # Nothing left to prune: a second run removes nothing and says so.
    assert "0 rows, 0 partitions dropped" in ok(run_cli("prune", config=cfg))


def test_prune_deletes_in_batches_without_partitions(workdir, dsn, db):
    old, kept = months_ago(30), months_ago(0)
    calls = [(f"7.{i}", f"{old} {i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}")
             for i in range(25000)] + [("8.1", f"{kept} 00:00:01")]
    cfg = config(workdir, dsn, retention_months=24)
    ok(run_cli("import", kx_file(workdir / "old.csv", calls), config=cfg))
    assert not is_partitioned(db)
    log = ok(run_cli("prune", config=cfg))
    assert "25000 rows, 0 partitions dropped" in log, log
    assert rows(db, "SELECT call_id FROM cdr") == [("8.1",)]


def test_prune_without_retention_keeps_everything(workdir, dsn, db):
    cfg = config(workdir, dsn, partition="month")
    ok(run_cli("import", kx_file(workdir / "k.csv", [("9.1", "2001-01-01 00:00:00")]),
               config=cfg))
    assert "every call is kept" in ok(run_cli("prune", config=cfg))
    assert rows(db, "SELECT count(*) FROM cdr") == [(1,)]


def test_init_db_converts_a_populated_table(workdir, dsn, db):
    """Rows stored unpartitioned, a view a DBA built on cdr: with partition:
    month an import warns and goes on; init-db moves every row (counted
    before and after) and keeps the DBA's view; the rows' keys still match."""
    calls = [(f"10.{i}", f"2023-{1 + i % 12:02d}-{1 + i % 28:02d} 10:00:00")
             for i in range(3000)]
    plain = config(workdir, dsn)
    ok(run_cli("import", kx_file(workdir / "year.csv", calls), config=plain))
    with db.cursor() as cur:
        cur.execute("CREATE VIEW calls_per_source AS SELECT source, count(*) AS n FROM cdr"
                    " GROUP BY source")
    before = rows(db, "SELECT row_key, call_time, file_id, line_no FROM cdr ORDER BY 1")

    month = config(workdir, dsn, partition="month")
    extra = kx_file(workdir / "more.csv", [("11.1", "2024-01-05 10:00:00")])
    log = ok(run_cli("import", extra, config=month))
    assert "run cdrimport init-db" in log, log
    assert not is_partitioned(db)

    r = run_cli("init-db", config=month)
    assert r.returncode == 0, r.stderr
    assert "3001 rows kept (3001 before), 13 partitions" in r.stderr, r.stderr
    assert is_partitioned(db) and len(partitions(db)) == 13
    assert rows(db, "SELECT n FROM calls_per_source") == [(3001,)]
    after = rows(db, "SELECT row_key, call_time, file_id, line_no FROM cdr"
                     " WHERE call_id <> '11.1' ORDER BY 1")
    assert after == before
    # The old rows' keys are matched in their new partitions.
    again = kx_file(workdir / "again.csv", calls[:10] + [("12.1", "2023-06-06 06:00:00")])
    assert "new=1 duplicate=10" in ok(run_cli("import", again, config=month))
    # init-db again: nothing to convert, nothing changes.
    ok(run_cli("init-db", config=month))
    assert rows(db, "SELECT count(*) FROM cdr") == [(3002,)]


def test_watch_prunes_at_start(workdir, dsn, db):
    old = months_ago(20)
    cfg = config(workdir, dsn, partition="month", retention_months=6)
    ok(run_cli("import", kx_file(workdir / "w.csv", [("13.1", f"{old} 10:00:00")]),
               config=cfg))
    (workdir / "inbox").mkdir(exist_ok=True)
    p = subprocess.Popen([BIN, "-c", cfg, "watch"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        deadline = datetime.now().timestamp() + 30
        while rows(db, "SELECT count(*) FROM cdr") != [(0,)]:
            assert datetime.now().timestamp() < deadline, "watch did not prune"
            subprocess.run(["sleep", "0.2"])
    finally:
        p.terminate()
        _, err = p.communicate(timeout=30)
    assert p.returncode == 0, err
    assert "prune: dropped partition" in err, err


def test_prune_with_the_database_down_is_exit_3(workdir):
    r = run_cli("prune", config=config(workdir, dead_dsn(), retention_months=1))
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert "cannot connect" in r.stderr, r.stderr
