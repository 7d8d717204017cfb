"""End-to-end tests of `cdrimport watch` (issue 3): the real binary as a
daemon, a real PostgreSQL, real folders and real signals. Each test checks
the rows in table cdr (every expected row exactly once, nothing rejected)
and where the files ended (processed/, failed/, or still in the inbox).

Most cases run with both backends (inotify, and poll with
poll_interval_ms 200). settle_ms is 200 except where settling is the point.
The daemon reports READY=1 over NOTIFY_SOCKET once it watches every folder,
so the tests wait for that rather than sleeping; they poll the database
with deadlines. A check that nothing happened first waits for the daemon to
say (a DEBUG line) that it has looked, see watch_helpers.py. Data: disjoint
slices of bench/gen_kxhts.py's stream.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import IMPORT_LOCK, hold_rows_uncommitted, pg_start, pg_stop, write_config
from watch_helpers import (DEBUG, Daemon, Dataset, Db, files_under, gen_kxhts, identities,
                           kx_text, wait_until, write_file)

BACKENDS = ["inotify", "poll"]
BIG_ROWS = 500_000


def watch_settings(backend, **over):
    w = {"backend": backend, "settle_ms": 200, "poll_interval_ms": 200}
    w.update(over)
    return w


def config_for(workdir, dsn, backend, **over):
    return write_config(workdir, dsn, top_level={"watch": watch_settings(backend, **over)})


@pytest.fixture
def q(db):
    h = Db(db.info.dbname)
    yield h
    h.close()


@pytest.fixture
def daemons(workdir):
    """start(config, name) -> a running, READY Daemon logging to
    workdir/name.log (with debug, its DEBUG lines too); every one is killed
    at teardown (and its log shown)."""
    started = []

    def start(config, name="watch", ready=True, args=(), debug=False):
        d = Daemon(config, workdir / f"{name}.log", args=(*DEBUG, *args) if debug else args)
        started.append(d)
        d.start()
        if ready:
            d.wait_ready()
        return d

    yield start
    for d in started:
        d.close()


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """A KX-HTS file of BIG_ROWS rows (about 80 MB), made once per module;
    tests copy it."""
    path = tmp_path_factory.mktemp("big") / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        for lines in gen_kxhts.rows_in(99, 0, BIG_ROWS, "forward"):
            f.write("".join(lines))
    return path


def drop_big(workdir, big_file, name="big.csv"):
    """Copy the big file next to the inbox, then rename it in (complete at once)."""
    staging = workdir / "staging"
    staging.mkdir(exist_ok=True)
    shutil.copyfile(big_file, staging / name)
    os.rename(staging / name, workdir / "inbox" / name)


def copying_rows(q):
    """Whether the daemon's file transaction is copying rows into cdr right
    now: a state only a file's import has. (Any open transaction would not
    do: the daemon's short ones come before the file's own, and a file's
    checksum pass holds none.)"""
    return (q.try_one("SELECT count(*) FROM pg_stat_progress_copy p"
                      " JOIN pg_stat_activity a USING (pid)"
                      " WHERE a.datname = current_database() AND a.application_name = 'cdrimport'"
                      " AND p.relid = 'cdr_row'::regclass AND p.tuples_processed > 0") or 0) > 0


def in_file_transaction(q):
    """Whether the daemon holds a transaction that has written (the file's
    ledger row and rows): it is between batches or copying, not done."""
    return (q.try_one("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                      " AND application_name = 'cdrimport' AND backend_xid IS NOT NULL") or 0) > 0


def big_counts(q):
    """(rows, distinct rows) in cdr: exactly once means both equal BIG_ROWS."""
    return tuple(q.all("SELECT count(*), count(DISTINCT (call_id, coalesce(dst_channel, '')))"
                       " FROM cdr")[0])


def no_errors(d):
    bad = d.log_lines(r" (ERROR|WARN) ")
    assert not bad, "\n".join(bad)


def outage_lines(d):
    """Log lines saying that the database went away (not the per-file line)."""
    return d.log_lines(r"database unreachable(?! while importing)")


# ---- backlog, cp, slow writer, temp names, subfolders, many files -------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_backlog_imported_oldest_first(backend, workdir, dsn, q, daemons):
    ds = Dataset()
    inbox = workdir / "inbox"
    # Written in this order; their mtimes say oldest first is `order`.
    written = ["c.csv", "a.csv", "sub/e.csv", "b.csv", "d.csv"]
    order = ["d.csv", "a.csv", "sub/e.csv", "c.csv", "b.csv"]
    base = time.time() - 3600
    for name in written:
        write_file(inbox / name, ds.text(200))
    for i, name in enumerate(order):
        os.utime(inbox / name, (base + 60 * i, base + 60 * i))

    d = daemons(config_for(workdir, dsn, backend))
    q.wait_rows(1000, daemons=[d])
    wait_until(lambda: not files_under(inbox), 10, "the inbox to be empty")

    assert [p[len(str(inbox)) + 1:] for p in q.imported_paths()] == order
    q.assert_exactly_once(ds.expected)
    done = files_under(workdir / "processed")
    assert len(done) == 5
    assert sum(p.startswith("sub/e.") for p in done) == 1
    assert files_under(workdir / "failed") == []
    no_errors(d)


@pytest.mark.parametrize("backend", BACKENDS)
def test_cp_into_inbox(backend, workdir, dsn, q, daemons):
    """`cp` of a download into the inbox; then a second download under the
    same name that repeats half of the first one's rows."""
    download = workdir / "download" / "Master.csv"
    first = kx_text(0, 600)
    write_file(download, first)
    d = daemons(config_for(workdir, dsn, backend))

    subprocess.run(["cp", str(download), str(workdir / "inbox")], check=True)
    q.wait_rows(600, daemons=[d])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")

    second = kx_text(300, 600)  # rows 300..899: 300 old, 300 new
    write_file(download, second)
    subprocess.run(["cp", str(download), str(workdir / "inbox")], check=True)
    q.wait_rows(900, daemons=[d])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")

    q.assert_exactly_once(identities(first) | identities(second))
    assert q.all("SELECT rows_inserted, rows_duplicate FROM cdr_file ORDER BY id") == \
        [(600, 0), (300, 300)]
    done = files_under(workdir / "processed")
    assert len(done) == 2 and all(p.startswith("Master.") for p in done)
    assert files_under(workdir / "failed") == []
    assert download.exists()
    no_errors(d)


class WriterChecks:
    """still_waiting() is called while a writer is at work: the file must
    not be read yet. assert_meaningful() afterwards: the daemon had noted
    the file (its DEBUG line) by the last of those checks, so they tested
    something however slow the machine."""

    def __init__(self, d, q, path):
        self.d, self.q, self.path = d, q, path
        self.noted_at_last = False

    def still_waiting(self):
        noted = bool(self.d.log_lines(rf"new candidate {re.escape(str(self.path))}$"))
        assert self.q.cdr_count() == 0, "read before the writer was done"
        assert self.path.exists()
        self.noted_at_last = noted

    def assert_meaningful(self):
        assert self.noted_at_last, "the daemon had not noted the file while it was written"


def slow_write(path, text, pieces, pause, check=None):
    """Write text into path in `pieces` parts cut at odd byte offsets (mid
    line), flushing each and pausing between them; call check() after each
    piece while the file is still open."""
    data = text.encode()
    cuts = sorted({len(data) * k // pieces + 7 for k in range(1, pieces)})
    bounds = [0, *cuts, len(data)]
    with open(path, "wb") as f:
        for lo, hi in zip(bounds, bounds[1:]):
            f.write(data[lo:hi])
            f.flush()
            os.fsync(f.fileno())
            time.sleep(pause)
            if check:
                check()


@pytest.mark.parametrize("backend", BACKENDS)
def test_slow_writer_is_not_read_early(backend, workdir, dsn, q, daemons):
    """A writer keeps the file open for about 4 s, writing pieces that end
    mid-line. inotify: the file is open for writing, whatever settle_ms says.
    poll cannot see a writer, so there settle_ms is what protects it."""
    ds = Dataset()
    text = ds.text(1000)
    settle = 200 if backend == "inotify" else 1500
    d = daemons(config_for(workdir, dsn, backend, settle_ms=settle), debug=True)
    path = workdir / "inbox" / "Master.csv"
    checks = WriterChecks(d, q, path)

    slow_write(path, text, pieces=10, pause=0.4, check=checks.still_waiting)
    checks.assert_meaningful()
    q.wait_rows(1000, daemons=[d])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    assert q.one("SELECT count(*) FROM cdr_file") == 1
    assert len(files_under(workdir / "processed")) == 1
    assert files_under(workdir / "failed") == []
    no_errors(d)


def test_poll_wants_one_quiet_interval(workdir, dsn, q, daemons):
    """poll with settle_ms 0: a file that changes more often than the poll
    interval is not read until one whole interval has passed without a
    change (pending.h: where the backend cannot see writers, 'one more look
    found it unchanged'), not as soon as it is first seen."""
    ds = Dataset()
    text = ds.text(1000)
    d = daemons(config_for(workdir, dsn, "poll", settle_ms=0, poll_interval_ms=1000),
                debug=True)
    path = workdir / "inbox" / "Master.csv"
    checks = WriterChecks(d, q, path)

    slow_write(path, text, pieces=10, pause=0.3, check=checks.still_waiting)
    checks.assert_meaningful()
    q.wait_rows(1000, daemons=[d])
    q.assert_exactly_once(ds.expected)
    assert q.one("SELECT count(*) FROM cdr_file") == 1
    assert len(files_under(workdir / "processed")) == 1
    no_errors(d)


@pytest.mark.parametrize("backend", BACKENDS)
def test_temp_name_then_rename(backend, workdir, dsn, q, daemons):
    ds = Dataset()
    text = ds.text(500)
    d = daemons(config_for(workdir, dsn, backend), debug=True)
    part = workdir / "inbox" / "Master.csv.part"
    slow_write(part, text, pieces=3, pause=0.1)
    d.wait_ignored(backend, part)
    assert q.cdr_count() == 0
    assert files_under(workdir / "inbox") == ["Master.csv.part"]

    os.rename(part, workdir / "inbox" / "Master.csv")
    q.wait_rows(500, daemons=[d])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    done = files_under(workdir / "processed")
    assert len(done) == 1 and done[0].startswith("Master.")
    no_errors(d)


@pytest.mark.parametrize("backend", BACKENDS)
def test_new_nested_subfolder(backend, workdir, dsn, q, daemons):
    """An unpacked download: `mkdir -p x/a/b && cp ... x/a/b/Master.csv` at
    once, three times in a row; files made before the new folders were
    watched must not be missed."""
    ds = Dataset()
    downloads = []
    for k in range(3):
        src = workdir / "downloads" / f"{k}.csv"
        write_file(src, ds.text(300))
        downloads.append(src)
    d = daemons(config_for(workdir, dsn, backend))
    inbox = workdir / "inbox"
    script = " && ".join(f"mkdir -p {inbox}/dl{k}/a/b && cp {src} {inbox}/dl{k}/a/b/Master.csv"
                         for k, src in enumerate(downloads))
    subprocess.run(["sh", "-c", script], check=True)

    q.wait_rows(900, daemons=[d])
    wait_until(lambda: not files_under(inbox), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    done = files_under(workdir / "processed")
    assert len(done) == 3
    for k in range(3):
        assert sum(p.startswith(f"dl{k}/a/b/Master.") for p in done) == 1, done
    no_errors(d)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hundred_files_at_once(backend, workdir, dsn, q, daemons):
    ds = Dataset()
    staging = workdir / "staging"
    paths = []
    for k in range(100):
        paths.append(staging / f"Master-{k:03d}.csv")
        write_file(paths[-1], ds.text(30))
    d = daemons(config_for(workdir, dsn, backend))
    subprocess.run(["cp", *map(str, paths), str(workdir / "inbox")], check=True)

    q.wait_rows(3000, timeout=60, daemons=[d])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    assert q.one("SELECT count(*) FROM cdr_file WHERE status = 'imported'") == 100
    assert len(files_under(workdir / "processed")) == 100
    assert files_under(workdir / "failed") == []
    no_errors(d)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hard_link_into_inbox(backend, workdir, dsn, q, daemons):
    """`ln` into the inbox: inotify sees IN_CREATE and never a close; the
    file is complete all the same."""
    ds = Dataset()
    src = workdir / "downloads" / "Master.csv"
    write_file(src, ds.text(200))
    d = daemons(config_for(workdir, dsn, backend))
    os.link(src, workdir / "inbox" / "Master.csv")
    q.wait_rows(200, timeout=10, daemons=[d])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    assert len(files_under(workdir / "processed")) == 1
    assert src.exists()
    no_errors(d)


@pytest.mark.parametrize("backend", BACKENDS)
def test_hidden_and_temporary_names_ignored(backend, workdir, dsn, q, daemons):
    ds = Dataset()
    inbox = workdir / "inbox"
    ignored = [".hidden.csv", "a.csv.tmp", "b.csv.crdownload", "c.csv~", "d.csv.part"]
    ignored_text = {}
    for name in ignored:
        ignored_text[name] = ds.text(50, expect=False)
        write_file(inbox / name, ignored_text[name])
    d = daemons(config_for(workdir, dsn, backend), debug=True)
    # The scan before READY found them all and none was a candidate.
    assert d.log_lines(rf"DEBUG scanned {re.escape(str(inbox))}: 0 candidates"), d.log()
    write_file(inbox / "visible.csv", ds.text(100))
    q.wait_rows(100, daemons=[d])
    if backend == "poll":
        d.wait_scans(inbox)  # and polls went on finding them, still not candidates
    for name in ignored:
        assert not d.log_lines(rf"new candidate .*/{re.escape(name)}$"), d.log()
    q.assert_exactly_once(ds.expected)
    assert files_under(inbox) == sorted(ignored)

    # Renamed to a plain name, a hidden file is a candidate like any other.
    os.rename(inbox / ".hidden.csv", inbox / "hidden.csv")
    q.wait_rows(150, daemons=[d])
    wait_until(lambda: "hidden.csv" not in files_under(inbox), 10, "hidden.csv to be moved")
    q.assert_exactly_once(ds.expected | identities(ignored_text[".hidden.csv"]))
    assert files_under(inbox) == sorted(set(ignored) - {".hidden.csv"})
    no_errors(d)


# ---- the database going away ----------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_database_stopped_while_watching(backend, workdir, dsn, q, daemons):
    ds = Dataset()
    inbox = workdir / "inbox"
    d = daemons(config_for(workdir, dsn, backend), debug=True)
    write_file(inbox / "before.csv", ds.text(100))
    q.wait_rows(100, daemons=[d])

    pg_stop()
    for k in range(3):
        write_file(inbox / f"outage-{k}.csv", ds.text(100))
    # Noted, settled, tried, failed, retried.
    d.wait_log(r"new candidate .*/outage-\d\.csv$", count=3)
    wait_until(lambda: outage_lines(d), 10, "the daemon to report the outage")
    d.wait_log(r"DEBUG database still unreachable")
    assert d.alive()
    assert files_under(inbox) == [f"outage-{k}.csv" for k in range(3)]
    assert files_under(workdir / "failed") == []
    assert len(outage_lines(d)) == 1, d.log()

    pg_start()
    q.wait_rows(400, timeout=60, daemons=[d])
    wait_until(lambda: not files_under(inbox), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    assert len(files_under(workdir / "processed")) == 4
    assert files_under(workdir / "failed") == []
    assert len(outage_lines(d)) == 1, d.log()
    assert len(d.log_lines(r"database is back")) == 1, d.log()


@pytest.mark.parametrize("backend", BACKENDS)
def test_database_down_at_start(backend, workdir, dsn, q, daemons):
    ds = Dataset()
    inbox = workdir / "inbox"
    write_file(inbox / "backlog.csv", ds.text(100))
    config = config_for(workdir, dsn, backend)
    pg_stop()
    d = daemons(config, debug=True)
    write_file(inbox / "new.csv", ds.text(100))
    # Noted, then tried to connect again after it had settled.
    d.wait_log(r"new candidate .*/new\.csv$")
    d.wait_more_log(r"DEBUG database still unreachable",
                    len(d.log_lines(r"DEBUG database still unreachable")))
    assert d.alive()
    assert files_under(inbox) == ["backlog.csv", "new.csv"]
    assert files_under(workdir / "failed") == []

    pg_start()
    q.wait_rows(200, timeout=60, daemons=[d])
    wait_until(lambda: not files_under(inbox), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    assert len(files_under(workdir / "processed")) == 2
    assert files_under(workdir / "failed") == []
    assert len(outage_lines(d)) == 1, d.log()
    assert len(d.log_lines(r"database is back")) == 1, d.log()


# ---- signals -------------------------------------------------------------------

@pytest.mark.parametrize("backend,sig", [("inotify", signal.SIGTERM), ("poll", signal.SIGTERM),
                                         ("inotify", signal.SIGINT)])
def test_stop_signal_exits_zero(backend, sig, workdir, dsn, q, daemons):
    ds = Dataset()
    d = daemons(config_for(workdir, dsn, backend))
    write_file(workdir / "inbox" / "one.csv", ds.text(100))
    q.wait_rows(100, daemons=[d])
    rc, took = d.stop(sig)
    assert rc == 0, d.log()
    assert took < 5
    assert d.log_lines(r"INFO stopping")
    no_errors(d)


def test_sigterm_while_database_does_not_answer(workdir, daemons):
    """The server accepts connections but never answers (hung, or packets
    dropped): connecting blocks for connect_timeout (10 s); SIGTERM must
    still end the daemon within 5 s, with exit status 0."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted = []

    def accept():
        try:
            while True:
                accepted.append(listener.accept()[0])
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    try:
        dsn = f"host=127.0.0.1 port={listener.getsockname()[1]} dbname=cdr user=cdr"
        d = daemons(config_for(workdir, dsn, "inotify"), ready=False)
        wait_until(lambda: accepted, 10, "the daemon to connect")
        time.sleep(0.3)
        rc, took = d.stop(signal.SIGTERM, timeout=15)
        assert rc == 0, d.log()
        assert took < 5, f"took {took:.1f} s to stop"
    finally:
        listener.close()
        for c in accepted:
            c.close()


def test_sigterm_while_server_hangs_mid_import(workdir, dsn, q, daemons):
    """The daemon's server process stops answering (SIGSTOP) while a file is
    being imported: SIGTERM still ends the daemon within 5 s, exit 0; the
    file stays in the inbox and is imported once after a restart."""
    ds = Dataset()
    config = config_for(workdir, dsn, "inotify")
    d = daemons(config, debug=True)
    # Connected and done with the schema: idle until a file comes.
    d.wait_log(r"DEBUG connected to the database")
    backend_pid = q.one("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND application_name = 'cdrimport'")
    assert backend_pid
    os.kill(backend_pid, signal.SIGSTOP)
    try:
        write_file(workdir / "inbox" / "Master.csv", ds.text(300))
        d.wait_log(r"DEBUG importing .*/Master\.csv$")
        time.sleep(0.3)  # the import's first statement waits on the stopped server
        rc, took = d.stop(signal.SIGTERM, timeout=15)
        assert rc == 0, d.log()
        assert took < 5, f"took {took:.1f} s to stop"
    finally:
        os.kill(backend_pid, signal.SIGCONT)
    assert files_under(workdir / "inbox") == ["Master.csv"]
    assert q.cdr_count() == 0

    d2 = daemons(config, name="watch2")
    q.wait_rows(300, daemons=[d2])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    assert len(files_under(workdir / "processed")) == 1
    no_errors(d2)


def test_sigterm_during_large_file(workdir, dsn, q, daemons, big_file):
    """SIGTERM while a 500k-row file is being imported: exit 0 within 5 s, the
    file's rows all there or none; after a restart all exactly once."""
    d = daemons(config_for(workdir, dsn, "inotify"))
    drop_big(workdir, big_file)
    wait_until(lambda: copying_rows(q), 20, "rows of the file to be copied", interval=0.01)
    time.sleep(0.3)
    assert in_file_transaction(q), "the import ended before SIGTERM; make the file bigger"
    rc, took = d.stop(signal.SIGTERM)
    assert rc == 0, d.log()
    assert took < 5, f"took {took:.1f} s to stop"
    n, distinct = big_counts(q)
    assert n in (0, BIG_ROWS) and distinct == n
    if n == 0:
        assert files_under(workdir / "inbox") == ["big.csv"]
        assert q.one("SELECT count(*) FROM cdr_file") == 0

    d2 = daemons(config_for(workdir, dsn, "inotify"), name="watch2")
    q.wait_rows(BIG_ROWS, timeout=60, daemons=[d2])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    assert big_counts(q) == (BIG_ROWS, BIG_ROWS)
    assert q.one("SELECT count(*) FROM cdr_file WHERE status = 'imported'") == 1
    assert len(files_under(workdir / "processed")) == 1
    assert files_under(workdir / "failed") == []


@pytest.mark.parametrize("end", ["sigterm", "kill9", "connection_lost"])
def test_a_retry_waiting_for_the_import_lock(end, workdir, dsn, db, q, daemons):
    """A file's COPY meets a row another transaction holds uncommitted; once
    that commits, the key refuses the row and the retry waits for the
    source's import under way (the test holding the import lock shared).
    Told to stop then, the daemon stops at once, cleanly, not at the end of
    the 30 s wait nor by the grace timer; killed, it leaves nothing; its
    connection cut, it reconnects and imports the file as a first attempt
    (which never waits). Every way, the file ends imported exactly once."""
    ds = Dataset()
    one, rest = ds.text(1), ds.text(999)
    config = config_for(workdir, dsn, "inotify")
    d = daemons(config)
    write_file(workdir / "inbox" / "one.csv", one)
    q.wait_rows(1, daemons=[d])
    other = hold_rows_uncommitted(db, dsn)
    cur = db.cursor()
    cur.execute(f"SELECT pg_advisory_lock_shared({IMPORT_LOCK})")
    try:
        write_file(workdir / "inbox" / "two.csv", one + rest)
        wait_until(lambda: q.one("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                 "current_database() AND wait_event_type = 'Lock'") == 1,
                   30, "the COPY waiting on the row")
        other.commit()
        d.wait_log(r"two\.csv: waiting for the other imports of source office to end")
        time.sleep(0.5)
        assert d.alive(), d.log()
        if end == "sigterm":
            rc, took = d.stop(signal.SIGTERM)
            assert rc == 0, d.log()
            assert took < 2, f"took {took:.1f} s to stop"
            assert not d.log_lines(r"still busy"), d.log()
            # skipped, not an outage: no false ERROR, and import/scan would not exit 'db down'
            assert d.log_lines(r"INFO skipped .*two\.csv: told to stop while waiting for the "
                               r"other imports of source office; rolled back, will be read "
                               r"again"), d.log()
            assert not d.log_lines(r"unreachable"), d.log()
        elif end == "kill9":
            d.kill9()
        else:
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                        "datname = current_database() AND application_name = 'cdrimport'")
            q.wait_rows(1000, daemons=[d])
            assert d.log_lines(r"database unreachable"), d.log()
        if end != "connection_lost":
            assert files_under(workdir / "inbox") == ["two.csv"]
            assert q.cdr_count() == 1
            assert q.one("SELECT count(*) FROM cdr_file WHERE path LIKE '%two.csv'") == 0
    finally:
        cur.execute(f"SELECT pg_advisory_unlock_shared({IMPORT_LOCK})")
        other.close()
    if end != "connection_lost":
        d = daemons(config, name="watch2")
        q.wait_rows(1000, daemons=[d])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    assert q.all("SELECT rows_inserted, rows_duplicate FROM cdr_file "
                 "WHERE path LIKE '%two.csv'") == [(999, 1)]
    assert files_under(workdir / "failed") == []


def test_kill9_mid_large_file_then_restart(workdir, dsn, q, daemons, big_file):
    d = daemons(config_for(workdir, dsn, "inotify"))
    drop_big(workdir, big_file)
    wait_until(lambda: copying_rows(q), 20, "rows of the file to be copied", interval=0.01)
    time.sleep(0.3)
    assert in_file_transaction(q), "the import ended before the kill; make the file bigger"
    d.kill9()
    assert big_counts(q) == (0, 0)
    assert files_under(workdir / "inbox") == ["big.csv"]

    d2 = daemons(config_for(workdir, dsn, "inotify"), name="watch2")
    q.wait_rows(BIG_ROWS, timeout=60, daemons=[d2])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    assert big_counts(q) == (BIG_ROWS, BIG_ROWS)
    assert q.one("SELECT count(*) FROM cdr_file WHERE status = 'imported'") == 1
    assert len(files_under(workdir / "processed")) == 1
    assert files_under(workdir / "failed") == []
    no_errors(d2)


def test_kill9_at_random_moments(workdir, dsn, q, daemons):
    """kill -9 again and again at random moments while a backlog of files is
    imported (inside a transaction, between commit and move, ...); the last
    restart finishes the job: every row exactly once, every file processed."""
    ds = Dataset()
    for k in range(24):
        write_file(workdir / "inbox" / f"Master-{k:02d}.csv", ds.text(2000))
    config = config_for(workdir, dsn, "inotify")
    rng = random.Random(3)
    for run in range(6):
        d = daemons(config, name=f"run{run}")
        time.sleep(rng.uniform(0.15, 0.8))
        d.kill9()
    last = daemons(config, name="last")
    q.wait_rows(len(ds.expected), timeout=60, daemons=[last])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    assert len(files_under(workdir / "processed")) == 24
    assert files_under(workdir / "failed") == []
    no_errors(last)


# ---- two watchers, FIFOs, reload --------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_two_watchers_one_inbox(backend, workdir, dsn, q, daemons):
    ds = Dataset()
    staging = workdir / "staging"
    paths = []
    for k in range(40):
        paths.append(staging / f"Master-{k:02d}.csv")
        write_file(paths[-1], ds.text(200))
    config = config_for(workdir, dsn, backend)
    w1 = daemons(config, name="w1")
    w2 = daemons(config, name="w2")
    subprocess.run(["cp", *map(str, paths), str(workdir / "inbox")], check=True)

    q.wait_rows(8000, timeout=60, daemons=[w1, w2])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    q.assert_exactly_once(ds.expected)
    assert q.one("SELECT count(*) FROM cdr_file WHERE status = 'imported'") == 40
    assert len(files_under(workdir / "processed")) == 40
    assert files_under(workdir / "failed") == []
    imported = w1.log_lines(r"INFO imported ") + w2.log_lines(r"INFO imported ")
    assert len(imported) == 40
    no_errors(w1)
    no_errors(w2)


def test_two_watchers_settle_zero_no_busy_retry(workdir, dsn, q, daemons, big_file):
    """settle_ms 0 and a large file: the watcher that finds it locked by the
    other one retries now and then, not in a tight loop (which logged a
    'skipped ... being imported by another process' line per attempt), and
    says so once: its retries, one a second for as long as the other one
    imports, are debug lines."""
    config = config_for(workdir, dsn, "inotify", settle_ms=0)
    w1 = daemons(config, name="w1")
    w2 = daemons(config, name="w2")
    drop_big(workdir, big_file)
    q.wait_rows(BIG_ROWS, timeout=60, daemons=[w1, w2])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")
    assert big_counts(q) == (BIG_ROWS, BIG_ROWS)
    assert len(files_under(workdir / "processed")) == 1
    skipped = w1.log_lines(r"INFO skipped ") + w2.log_lines(r"INFO skipped ")
    assert len(skipped) <= 2, skipped
    no_errors(w1)
    no_errors(w2)


def test_file_held_by_another_importer_is_said_skipped_once(workdir, dsn, q, daemons):
    """Another importer holds a file (its flock) for 3.5 s: the watcher
    tries it again every second, says 'skipped' once (the retries are debug
    lines), and stores it once the lock goes."""
    import fcntl
    ds = Dataset()
    d = daemons(config_for(workdir, dsn, "inotify", settle_ms=0))
    ready = workdir / "held.csv"
    write_file(ready, ds.text(50))
    with open(ready) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        os.rename(ready, workdir / "inbox" / "held.csv")  # complete, and held
        time.sleep(3.5)
    q.wait_rows(50, daemons=[d])
    q.assert_exactly_once(ds.expected)
    assert len(d.log_lines(r"INFO skipped .*held\.csv: being imported by another process")) == 1, \
        d.log()
    no_errors(d)


@pytest.mark.parametrize("backend", BACKENDS)
def test_fifo_in_inbox(backend, workdir, dsn, q, daemons):
    """A FIFO named like a CSV file (one there at start, one made later)
    neither blocks the daemon nor stops the other files."""
    ds = Dataset()
    inbox = workdir / "inbox"
    os.mkfifo(inbox / "before.csv")
    write_file(inbox / "backlog.csv", ds.text(100))
    d = daemons(config_for(workdir, dsn, backend))
    os.mkfifo(inbox / "after.csv")
    write_file(inbox / "one.csv", ds.text(100))
    q.wait_rows(200, daemons=[d])
    time.sleep(0.5)
    write_file(inbox / "two.csv", ds.text(100))
    q.wait_rows(300, daemons=[d])
    wait_until(lambda: not set(files_under(inbox)) & {"backlog.csv", "one.csv", "two.csv"}, 10,
               "the regular files to leave the inbox")
    q.assert_exactly_once(ds.expected)
    done = files_under(workdir / "processed")
    assert len(done) == 3 and not any(p.startswith(("before.", "after.")) for p in done)
    # Each FIFO stays in the inbox or is moved to failed/, nowhere else.
    rest = files_under(inbox) + files_under(workdir / "failed")
    for name in ("before", "after"):
        assert sum(Path(p).name.startswith(name + ".") for p in rest) == 1, rest
    rc, took = d.stop()
    assert rc == 0 and took < 5, d.log()


def two_source_config(workdir, dsn, text_watch):
    """importer.yaml with source office (inbox/) and source branch (inbox2/,
    per-source watch override: poll every 200 ms)."""
    def src(name, inbox, processed, failed, extra=""):
        return (f"  - name: {name}\n    path: {json.dumps(str(workdir / inbox))}\n"
                f"    processed_dir: {json.dumps(str(workdir / processed))}\n"
                f"    failed_dir: {json.dumps(str(workdir / failed))}\n"
                f"    timezone: UTC\n{extra}")
    return (f"database:\n  dsn: {json.dumps(dsn)}\nwatch: {json.dumps(text_watch)}\n"
            "sources:\n" + src("office", "inbox", "processed", "failed") +
            src("branch", "inbox2", "processed2", "failed2",
                '    watch: {"backend": "poll", "poll_interval_ms": 200}\n'))


def test_sighup_reload(workdir, dsn, q, daemons):
    """SIGHUP with a broken importer.yaml: reported, the old configuration
    kept. SIGHUP with a good one that adds a source: applied."""
    ds = Dataset()
    config = config_for(workdir, dsn, "inotify")
    good = Path(config).read_text()
    d = daemons(config)

    Path(config).write_text(good.replace("sources:", "sources: [\n  oops"))
    d.send(signal.SIGHUP)
    d.wait_log(r"ERROR reload failed")
    assert d.alive()
    write_file(workdir / "inbox" / "after-bad-reload.csv", ds.text(100))
    q.wait_rows(100, daemons=[d])

    (workdir / "inbox2").mkdir()
    Path(config).write_text(two_source_config(workdir, dsn, watch_settings("inotify")))
    d.send(signal.SIGHUP)
    d.wait_log(r"configuration reloaded")
    d.wait_log(r"watching .*/inbox2 for source branch \(poll backend")
    branch = ds.text(150)
    write_file(workdir / "inbox2" / "Master.csv", branch)
    write_file(workdir / "inbox" / "office.csv", ds.text(100))
    q.wait_rows(350, daemons=[d])
    wait_until(lambda: not files_under(workdir / "inbox") and not files_under(workdir / "inbox2"),
               10, "both inboxes to be empty")
    q.assert_exactly_once(ds.expected)
    assert q.one("SELECT count(*) FROM cdr WHERE source = 'branch'") == 150
    assert q.one("SELECT count(*) FROM cdr WHERE source = 'office'") == 200
    assert len(files_under(workdir / "processed2")) == 1
    assert len(files_under(workdir / "processed")) == 2
    assert len(d.log_lines(r" ERROR ")) == 1
    rc, took = d.stop()
    assert rc == 0 and took < 5
    # The totals span both reloads: rows read before a reload are not lost.
    assert d.log_lines(r"INFO stopping: 3 files imported, 0 duplicate, 0 failed; "
                       r"rows: 350 read, 350 new, 0 duplicate, 0 rejected; "), d.log()


# ---- the source folder goes away and comes back --------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
def test_source_folder_disappears_and_returns(backend, workdir, dsn, q, daemons):
    """The inbox is removed while watching (an unmounted share, a careless
    rm -r): the daemon says so once, keeps running, and when the folder is
    back it watches it again and imports what is dropped there."""
    d = daemons(config_for(workdir, dsn, backend))
    first = kx_text(0, 50)
    write_file(workdir / "inbox" / "a.csv", first)
    q.wait_rows(50, daemons=[d])
    wait_until(lambda: not files_under(workdir / "inbox"), 10, "the inbox to be empty")

    shutil.rmtree(workdir / "inbox")
    wait_until(lambda: d.log_lines(r"WARN .*inbox (disappeared|is missing)"), 10,
               "the daemon to report the missing folder")
    assert d.proc.poll() is None, "the daemon must keep running"

    (workdir / "inbox").mkdir()
    wait_until(lambda: d.log_lines(r"inbox is back"), 15, "the daemon to see the folder again")
    second = kx_text(50, 70)
    write_file(workdir / "inbox" / "b.csv", second)
    q.wait_rows(120, daemons=[d])
    q.assert_exactly_once(identities(first) | identities(second))
    assert len(d.log_lines(r"WARN .*inbox (disappeared|is missing)")) == 1
    assert sorted(p.split(".")[0] for p in files_under(workdir / "processed")) == ["a", "b"]
