"""Dedup on the shapes that are not one PBX's file in time order: a file
made of blocks that cover the same time range (several downloads or PBXs
concatenated), rows in random order, and a second source over a time range
the first already fills. Each batch's probe then meets a call_time range
fuller than the batch, and must switch from fetching the range's keys to
the exact lookup of the batch's own (call_time, row_key) pairs (load.c):
rows are stored exactly once either way. Sizes are chosen so that both
probes run (a batch is up to 16384 rows; the range probe takes at most two keys
per row)."""
import hashlib
import random
import re
import subprocess
import time

from datetime import datetime, timedelta

from conftest import BIN, IMPORT_LOCK, hold_rows_uncommitted, rows, run_cli, write_config
from watch_helpers import gen_kxhts, wait_until

BLOCK = 20_000


def block(seed, count=BLOCK):
    """count rows over the same time range for every seed (rows differ)."""
    return "".join("".join(lines) for lines in gen_kxhts.rows_in(seed, 0, count, "forward"))


def counts(db, source=None):
    where = "WHERE source = %s" if source else ""
    args = (source,) if source else ()
    return rows(db, f"SELECT count(*), count(DISTINCT row_key) FROM cdr {where}", *args)[0]


def imported(r):
    assert r.returncode == 0, r.stderr
    return r.stderr


def test_blocks_over_one_time_range_exactly_once(workdir, dsn, db):
    """Four blocks of 20k rows over the same range in one file: the later
    blocks' batches find 40-60k stored rows in their range. Then the same
    file again (--force re-reads it): nothing new, nothing doubled."""
    f = workdir / "blocks.csv"
    f.write_text("".join(block(s) for s in (11, 12, 13, 14)))
    config = write_config(workdir, dsn)
    log = imported(run_cli("import", f, config=config))
    assert "new=80000 duplicate=0" in log, log
    assert counts(db) == (80_000, 80_000)

    log = imported(run_cli("import", "--force", f, config=config))
    assert "new=0 duplicate=80000" in log, log
    assert counts(db) == (80_000, 80_000)


def test_random_order_and_partial_overlap_exactly_once(workdir, dsn, db):
    """Rows of three blocks shuffled; then a file holding one of those blocks
    and a new one, also shuffled: only the new block is added."""
    config = write_config(workdir, dsn)
    lines = [ln for s in (21, 22, 23) for ln in block(s).splitlines(keepends=True)]
    random.Random(5).shuffle(lines)
    f = workdir / "shuffled.csv"
    f.write_text("".join(lines))
    assert "new=60000 duplicate=0" in imported(run_cli("import", f, config=config))

    again = block(22).splitlines(keepends=True) + block(24).splitlines(keepends=True)
    random.Random(6).shuffle(again)
    g = workdir / "again.csv"
    g.write_text("".join(again))
    log = imported(run_cli("import", g, config=config))
    assert "new=20000 duplicate=20000" in log, log
    assert counts(db) == (80_000, 80_000)


def test_second_source_over_a_filled_range(workdir, dsn, db):
    """Source b imports over hours that source a already fills with 60k
    rows: b's rows are all new (its rows differ from a's by source), and a
    re-read of b's file adds nothing."""
    config = two_sources(workdir, dsn)
    a = workdir / "a.csv"
    a.write_text("".join(block(s) for s in (31, 32, 33)))
    b = workdir / "b.csv"
    b.write_text(block(34))
    assert "new=60000" in imported(run_cli("import", "--source", "office", a, config=config))
    assert "new=20000 duplicate=0" in \
        imported(run_cli("import", "--source", "branch", b, config=config))
    log = imported(run_cli("import", "--source", "branch", "--force", b, config=config))
    assert "new=0 duplicate=20000" in log, log
    assert counts(db, "office") == (60_000, 60_000)
    assert counts(db, "branch") == (20_000, 20_000)


def test_rows_repeated_across_a_files_batches(workdir, dsn, db):
    """A file's batches are 32, 64, 128... rows (lines 1-32, 33-96, 97-224,
    225-480, 481-992, 993-2016). A batch that reaches back only into the
    batch before it is checked against that batch's keys in the client and
    joins the COPY in flight; one that reaches further back asks the
    server. Lines repeated both ways are stored once: line 200 again as
    line 300 (batch 4, into batch 3), line 700 again as line 1500 (batch 6,
    into batch 5), and line 10 again as line 400 (batch 4, past batch 3:
    the server's)."""
    lines = block(61, 2000).splitlines(keepends=True)
    for src, at in ((200, 300), (700, 1500), (10, 400)):
        lines.insert(at - 1, lines[src - 1])
    f = workdir / "repeats.csv"
    f.write_text("".join(lines))
    config = write_config(workdir, dsn)
    log = imported(run_cli("import", f, config=config))
    assert "new=2000 duplicate=3" in log, log
    # Found by the checks, not by the primary key (which would make the
    # file be read again).
    assert "reading it again" not in log, log
    assert counts(db) == (2000, 2000)
    log = imported(run_cli("import", "--force", f, config=config))
    assert "new=0 duplicate=2003" in log, log
    assert counts(db) == (2000, 2000)


# The 0-based line indexes at which a file's batches after the first
# begin: 32 rows, then twice as many each (load.c).
BATCH_STARTS = {32 * (2 ** n - 1) for n in range(1, 10)}


def hourly(lines, first):
    """lines moved in time: line k starts k hours after first (durations
    kept), but the first line of each batch after the first 90 minutes
    earlier: rows are written as calls end, so a batch's first rows reach
    back into the batch before."""
    stamp = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    out, starts = [], []
    for k, line in enumerate(lines):
        times = stamp.findall(line)
        start = first + timedelta(hours=k, minutes=-90 if k in BATCH_STARTS else 0)
        shift = start - datetime.fromisoformat(times[0])
        line = stamp.sub(lambda m: str(datetime.fromisoformat(m.group(0)) + shift), line)
        out.append(line)
        starts.append(str(start))
    return out, starts


def scans(db):
    """Scans of cdr_row, by its primary key and whole (the probes; a COPY's
    key checks are not scans), once the importer's backend has gone and
    reported them."""
    deadline = time.monotonic() + 30
    while rows(db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                   " AND pid <> pg_backend_pid() AND backend_type = 'client backend'")[0][0]:
        assert time.monotonic() < deadline, "the importer's session did not end"
        time.sleep(0.05)
    rows(db, "SELECT pg_stat_clear_snapshot()")
    return rows(db, "SELECT coalesce(idx_scan, 0), seq_scan FROM pg_stat_user_tables"
                    " WHERE relname = 'cdr_row'")[0]


def test_new_hours_asked_without_a_probe(workdir, dsn, db):
    """3000 calls an hour apart (four months in Australia/Lord_Howe, whose
    clock goes half an hour forward on 6 October: that hour holds two
    offsets and is asked about second by second, a second round) into an
    empty table, and line 32 again as line 33, the first of the second
    batch. Every batch meets hours the zone cache
    has not seen, and asking the server about them ends the COPY in flight;
    the batch is still checked in the client, as one whose hours were known:
    the repeat is found there, and cdr_row is not probed at all. Each call
    at the instant PostgreSQL gives its wall time, each once."""
    lines, starts = hourly(block(71, 3000).splitlines(keepends=True),
                           datetime(2024, 8, 20, 0, 17, 5))
    lines.insert(32, lines[31])
    f = workdir / "hourly.csv"
    f.write_text("".join(lines))
    config = write_config(workdir, dsn, timezone="Australia/Lord_Howe")
    imported(run_cli("init-db", config=config))
    before = scans(db)
    log = imported(run_cli("import", f, config=config))
    assert "new=3000 duplicate=1" in log, log
    assert "reading it again" not in log, log
    # Not one scan of the key; one whole scan is the import's start asking
    # whether cdr_row holds a row (a probe run as a whole scan would add
    # one for each of the batches after the first).
    idx, seq = scans(db)
    assert idx == before[0] and seq <= before[1] + 1, (before, idx, seq)
    line_nos = list(range(1, 33)) + list(range(34, 3002))
    wrong = rows(db, "SELECT count(*), count(*) FILTER (WHERE r.call_time <>"
                     " e.local AT TIME ZONE 'Australia/Lord_Howe') FROM cdr_row r"
                     " JOIN unnest(%s::int[], %s::timestamp[]) AS e(line_no, local) USING (line_no)",
                 line_nos, starts)[0]
    assert wrong == (3000, 0)
    # a call in the skipped half hour is among them
    assert "2024-10-06 02:17:05" in starts


# ---- the latest call of each source (schema 11) ------------------------------

def marks(db):
    return dict(rows(db, "SELECT source, last_call FROM cdr_source ORDER BY 1"))


def latest(db, source):
    return rows(db, "SELECT max(call_time) FROM cdr WHERE source = %s", source)[0][0]


def import_block(workdir, config, seed, name):
    """Import block(seed) as workdir/name, which must succeed."""
    f = workdir / name
    f.write_text(block(seed))
    return imported(run_cli("import", f, config=config))


def two_sources(workdir, dsn):
    config = write_config(workdir, dsn)
    cfg = (workdir / "importer.yaml").read_text()
    second = cfg.split("sources:\n", 1)[1].replace("name: \"office\"", "name: \"branch\"")
    (workdir / "importer.yaml").write_text(cfg + second)
    return config


def test_each_source_keeps_its_latest_call(workdir, dsn, db):
    """A file's commit raises its own source's mark and no other's: a
    second PBX over the same hours then asks nothing about the first's
    rows. A source with no rows has none (-infinity)."""
    config = two_sources(workdir, dsn)
    assert run_cli("init-db", config=config).returncode == 0
    a = workdir / "a.csv"
    a.write_text(block(51) + block(52))
    imported(run_cli("import", "--source", "office", a, config=config))
    assert marks(db)["office"] == latest(db, "office")
    assert rows(db, "SELECT last_call = '-infinity' FROM cdr_source WHERE source = 'branch'") \
        == [(True,)]
    b = workdir / "b.csv"
    b.write_text(block(53))
    assert "new=20000 duplicate=0" in imported(
        run_cli("import", "--source", "branch", b, config=config))
    m = marks(db)
    assert (m["office"], m["branch"]) == (latest(db, "office"), latest(db, "branch"))


def test_a_wrong_mark_is_only_a_hint(workdir, dsn, db):
    """A mark that says a source has no rows when it has (a DBA reset it,
    or restored rows by hand) makes the next file skip its probe: the
    primary key then refuses the stored rows and the file is retried with
    the full probe. Rows stay exactly once."""
    config = write_config(workdir, dsn)
    import_block(workdir, config, 61, "first.csv")
    with db.cursor() as cur:
        cur.execute("UPDATE cdr_source SET last_call = '-infinity'")
    again = workdir / "again.csv"
    again.write_text(block(61) + block(62))
    log = imported(run_cli("import", again, config=config))
    assert "new=20000 duplicate=20000" in log, log
    assert counts(db) == (40_000, 40_000)
    assert marks(db)["office"] == latest(db, "office")


def test_upgrade_fills_the_marks_from_the_rows(workdir, dsn, db):
    """Rows stored before schema 11: the migration reads each source's
    latest call from them, once."""
    config = write_config(workdir, dsn)
    import_block(workdir, config, 71, "f.csv")
    with db.cursor() as cur:
        cur.execute("DELETE FROM cdr_schema WHERE version >= 11")
        cur.execute("ALTER TABLE cdr_source DROP COLUMN last_call")
        cur.execute("DROP INDEX cdr_file_size")
    r = run_cli("init-db", config=config)
    assert r.returncode == 0, r.stderr
    assert marks(db)["office"] == latest(db, "office")


# ---- a large file is read once when no stored file has its size -------------

def test_large_file_read_once_and_still_a_duplicate(workdir, dsn, db):
    """Past 4 MiB a file whose size no imported file of its source has
    skips the checksum pass: it is hashed as it is parsed, and its ledger
    row holds that checksum. The same file again has a known size, so it
    is hashed first and found a duplicate without a parse; a file of the
    same size with one byte changed is hashed first too, and only its
    changed row is new."""
    config = write_config(workdir, dsn)
    content = block(81, 30_000)
    assert len(content.encode()) >= 4 << 20
    big = workdir / "big.csv"
    big.write_text(content)
    assert "new=30000 duplicate=0" in imported(run_cli("import", big, config=config))
    sha = hashlib.sha256(big.read_bytes()).hexdigest()
    assert rows(db, "SELECT status, sha256, size_bytes FROM cdr_file") == \
        [("imported", sha, len(content))]

    copy = workdir / "copy.csv"
    copy.write_text(content)
    imported(run_cli("import", copy, config=config))
    assert rows(db, "SELECT status, sha256, rows_read FROM cdr_file ORDER BY id")[1] == \
        ("duplicate", sha, 0)

    i = content.index("\n", len(content) // 2) + 1      # the first digit of a row's
    j = next(k for k in range(i, len(content)) if content[k].isdigit())
    changed = content[:j] + ("1" if content[j] != "1" else "2") + content[j + 1:]
    same_size = workdir / "same-size.csv"
    same_size.write_text(changed)
    log = imported(run_cli("import", same_size, config=config))
    assert "new=1 duplicate=29999" in log, log
    assert counts(db) == (30_001, 30_001)


def test_a_source_back_in_the_config_starts_not_known(workdir, dsn, db):
    """A source whose cdr_source row is gone (it left importer.yaml, a DBA
    cleaned up) but whose files the ledger has comes back with its mark not
    known (NULL), not 'no rows': its next file probes as before, and that
    file's commit sets the mark to no less than the whole table's latest
    call."""
    config = write_config(workdir, dsn)
    import_block(workdir, config, 91, "first.csv")
    with db.cursor() as cur:
        cur.execute("DELETE FROM cdr_source")
    assert run_cli("init-db", config=config).returncode == 0
    assert marks(db) == {"office": None}
    again = workdir / "again.csv"
    again.write_text(block(91) + block(92))
    log = imported(run_cli("import", again, config=config))
    assert "new=20000 duplicate=20000" in log, log
    assert marks(db)["office"] == latest(db, "office")


# ---- importers side by side ------------------------------------------------



def put(path, text):
    path.write_text(text)
    return path


def test_two_importers_of_shuffled_overlapping_downloads(workdir, dsn, db):
    """Two downloads of the same 100k rows in different random orders, the
    second with 1000 more, imported side by side (`scan --jobs 2`), twice:
    every batch of each covers the whole time range, so each transaction
    inserts keys the other holds uncommitted, and one of them
    meets a unique violation or a deadlock. That one waits for the other to
    commit (its retry takes the source's import lock exclusively), then
    checks every row: both files are imported, none is set aside as failed,
    and every row is stored once. (A retry that went again at once could
    deadlock again on every try, until the file was set aside: a6c1769's
    binary failed this in about one run of two.)"""
    config = write_config(workdir, dsn)
    for k in range(2):
        lines = block(31 + 2 * k, 100_000).splitlines(keepends=True)
        more = lines + block(32 + 2 * k, 1_000).splitlines(keepends=True)
        random.Random(k).shuffle(lines)
        random.Random(k + 100).shuffle(more)
        (workdir / "inbox" / "dl1.csv").write_text("".join(lines))
        (workdir / "inbox" / "dl2.csv").write_text("".join(more))
        r = run_cli("scan", "--jobs", "2", config=config, timeout=300)
        assert r.returncode == 0, r.stderr
        assert list((workdir / "failed").iterdir()) == [], r.stderr
        assert counts(db) == (101_000 * (k + 1), 101_000 * (k + 1)), r.stderr
    assert rows(db, "SELECT status, count(*) FROM cdr_file GROUP BY 1") == [("imported", 4)]


def test_a_retry_waits_for_the_imports_under_way_and_nobody_waits_for_it(workdir, dsn, db):
    """A file whose COPY meets a row another transaction holds uncommitted
    (here, this test's) waits for it, then is refused by the key once it
    commits. Its retry waits while an import of the source is under way
    (here, the test holding the source's import lock shared, as every
    first attempt does), says so, and once it ends reads the file again:
    the row that was the other's is a duplicate, the rest new. A first
    attempt never waits on the lock, even held exclusive, as a retry holds
    it: one long import must not hold up every other of its source."""
    config = write_config(workdir, dsn)
    one, rest = block(41, 1), block(42, 999)
    imported(run_cli("import", put(workdir / "one.csv", one), config=config))
    other = hold_rows_uncommitted(db, dsn)
    cur = db.cursor()
    cur.execute(f"SELECT pg_advisory_lock_shared({IMPORT_LOCK})")
    p = subprocess.Popen([BIN, "-c", str(config), "import",
                          str(put(workdir / "two.csv", one + rest))],
                         stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: rows(db, "SELECT count(*) FROM pg_stat_activity WHERE "
                                    "datname = current_database() AND wait_event_type = 'Lock'"
                                )[0][0] == 1, 30, "the COPY waiting on the row")
        other.commit()
        time.sleep(1.5)
        assert p.poll() is None, "the retry did not wait"
        assert rows(db, "SELECT count(*) FROM cdr_file WHERE path LIKE '%two.csv'") == [(0,)]
    finally:
        cur.execute(f"SELECT pg_advisory_unlock_shared({IMPORT_LOCK})")
        other.close()
        _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "waiting for the other imports of source office to end" in err, err
    assert "new=999 duplicate=1" in err, err
    assert counts(db) == (1000, 1000)

    cur.execute(f"SELECT pg_advisory_lock({IMPORT_LOCK})")
    log = imported(run_cli("import", put(workdir / "three.csv", block(43, 500)), config=config,
                           timeout=30))
    cur.execute(f"SELECT pg_advisory_unlock({IMPORT_LOCK})")
    assert "new=500" in log, log
