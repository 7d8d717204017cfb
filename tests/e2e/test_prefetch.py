"""The next file of a run is claimed, and checksummed if small, on a helper
thread while the current one is imported (prefetch.c). These tests hold the
current file's import (its COPY waits on another transaction's uncommitted
rows: hold_rows_uncommitted) and act on the next file meanwhile. What is
stored always matches the checksum its ledger row names; a run that stops
leaves the next file where it was, unimported; the same path given twice
is a duplicate, not "busy"."""
import os
import signal
import subprocess
import time

from conftest import BIN, hold_rows_uncommitted, rows, run_cli, wait_for_copy, write_config
from watch_helpers import identities, kx_text


def stored(db):
    return set(rows(db, "SELECT call_id, dst_channel FROM cdr"))


def ledger(db):
    return rows(db, "SELECT path, status, rows_inserted FROM cdr_file ORDER BY id")


def held_import(workdir, dsn, db, *args):
    """Store 200 rows, then move them into another transaction left open;
    write inbox/first.csv holding them and 10 more, and inbox/next.csv (50
    other rows, newer: a run takes files oldest first); run cdrimport with
    args. Its COPY of first.csv waits until the holding connection
    (returned) ends."""
    config = write_config(workdir, dsn)
    base = workdir / "base.csv"
    base.write_text(kx_text(0, 200))
    r = run_cli("import", base, config=config)
    assert r.returncode == 0, r.stderr
    hold = hold_rows_uncommitted(db, dsn)
    first = workdir / "inbox" / "first.csv"
    first.parent.mkdir(exist_ok=True)
    first.write_text(kx_text(0, 210))
    nxt = workdir / "inbox" / "next.csv"
    nxt.write_text(kx_text(1000, 50))
    os.utime(first, (time.time() - 60, time.time() - 60))
    proc = subprocess.Popen([BIN, "-c", config, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    wait_for_copy(db.get_dsn_parameters()["dbname"], proc)
    time.sleep(0.3)  # the helper has long claimed and hashed the next file
    return config, first, nxt, proc, hold


def test_next_file_changed_after_its_early_checksum_is_not_imported_half(workdir, dsn, db):
    """The next file grows while the current one imports: its early
    checksum no longer matches what its parse pass reads, so it is skipped
    with nothing stored, and the next run stores all of it."""
    inbox = workdir / "inbox"
    config, first, nxt, proc, hold = held_import(workdir, dsn, db, "import",
                                                 inbox / "first.csv", inbox / "next.csv")
    with nxt.open("a") as f:
        f.write(kx_text(1050, 5))
    hold.rollback()
    hold.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "skipped %s: changed while being read" % nxt in err, err
    assert stored(db) == identities(first.read_text())
    assert [s for _, s, _ in ledger(db)] == ["imported", "imported"]  # base, first

    r = run_cli("import", nxt, config=config)
    assert r.returncode == 0, r.stderr
    assert "new=55 " in r.stderr, r.stderr
    assert stored(db) == identities(first.read_text()) | identities(nxt.read_text())


def test_stopped_run_leaves_the_next_file_unimported_in_place(workdir, dsn, db):
    """SIGTERM while the current file imports: the next file, claimed
    ahead, is neither imported nor moved, and the next scan stores every
    row once and moves both files."""
    config, first, nxt, proc, hold = held_import(workdir, dsn, db, "scan", "--jobs", "1")
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    hold.rollback()
    hold.close()
    _, err = proc.communicate(timeout=60)
    assert nxt.exists(), err
    assert "next.csv" not in " ".join(n for n, _, _ in ledger(db)), err
    assert not stored(db) & identities(nxt.read_text())

    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert not nxt.exists() and not first.exists(), r.stderr
    moved = list((workdir / "processed").rglob("next*.csv"))
    assert len(moved) == 1, moved
    assert stored(db) == identities(kx_text(0, 210)) | identities(moved[0].read_text())
    assert rows(db, "SELECT count(*) = count(DISTINCT row_key) FROM cdr") == [(True,)]


def test_same_path_twice_is_imported_then_a_duplicate(workdir, dsn, db):
    config = write_config(workdir, dsn)
    f = workdir / "twice.csv"
    f.write_text(kx_text(0, 30))
    r = run_cli("import", f, f, config=config)
    assert r.returncode == 0, r.stderr
    assert "0 skipped" in r.stderr and "skipped /" not in r.stderr, r.stderr
    assert [s for _, s, _ in ledger(db)] == ["imported", "duplicate"]
    assert stored(db) == identities(f.read_text())
