"""Fault paths no other test reaches (issue 13), each forced with the
LD_PRELOAD shim (tests/fault/faultinject.c) on a real run: an input that
cannot be read this time (EIO, EACCES) stays where it is and is read again;
the cross-filesystem move (EXDEV) and a disk that fills during it (ENOSPC
on write, EIO on fsync); the inotify watch limit (ENOSPC from
inotify_add_watch) and a lost event queue (IN_Q_OVERFLOW).
"""
import os
import re
import subprocess
import time

import pytest

from conftest import rows, run_cli, write_config
from fault_helpers import (drop, fault_env, files_under, ids, injected, kx_file, read_log,
                           stored)
from watch_helpers import Daemon, wait_until

# ---- an input that cannot be read this time ------------------------------------

# The file's reads: 1 its first bytes (a packed download?), 2 the checksum
# pass, 4 the parse pass.
@pytest.mark.parametrize("call,n,err", [("read", 2, "EIO"), ("read", 4, "EIO"),
                                        ("open", 1, "EIO"), ("open", 1, "EACCES")])
@pytest.mark.parametrize("on_success", ["move", "delete"])
def test_unreadable_this_time_stays_and_is_read_again(call, n, err, on_success, workdir, dsn,
                                                      db):
    """A read error or a refused open says nothing about the file's data:
    it is reported, stays in the inbox (not failed/, not deleted), nothing
    of it is stored, and the next scan imports it."""
    data = kx_file(range(1, 6))
    path = drop(workdir / "inbox" / "Master.csv", data)
    config = write_config(workdir, dsn, on_success=on_success)
    log = workdir / "faults.log"

    r = run_cli("scan", config=config,
                env=fault_env(workdir / "inbox", log, n=n, calls=[call], errnos={call: err}))

    assert injected(log), "the fault was not reached"
    assert r.returncode == 1, r.stderr
    assert re.search(r" ERROR .*Master\.csv", r.stderr), r.stderr
    assert path.read_bytes() == data
    assert files_under(workdir / "failed") == []
    assert stored(db) == []

    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert stored(db) == ids(range(1, 6))
    assert not path.exists()


def test_read_error_on_first_bytes_of_a_zip(workdir, dsn, db):
    """The first bytes say whether a download is packed: a read error there
    must not make a zip look like CSV (it would fail and go to failed/).
    It stays in the inbox, and the next scan imports its member."""
    import zipfile
    path = workdir / "inbox" / "Master.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("Master.csv", kx_file(range(1, 6)))
    data = path.read_bytes()
    config = write_config(workdir, dsn, on_success="move")
    log = workdir / "faults.log"

    r = run_cli("scan", config=config,
                env=fault_env(workdir / "inbox", log, n=1, calls=["read"], errnos={"read": "EIO"}))

    assert injected(log)
    assert r.returncode == 1, r.stderr
    assert re.search(r" ERROR .*Master\.zip", r.stderr), r.stderr
    assert path.read_bytes() == data
    assert files_under(workdir / "failed") == []

    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert stored(db) == ids(range(1, 6))


# ---- the cross-filesystem move ------------------------------------------------------

def test_cross_filesystem_move_copies(workdir, dsn, db):
    """rename() says EXDEV (processed_dir on another file system): the file
    is copied, synced and the original removed; same bytes, rows once."""
    data = kx_file(range(1, 6))
    path = drop(workdir / "inbox" / "Master.csv", data)
    config = write_config(workdir, dsn, on_success="move")
    log = workdir / "faults.log"

    r = run_cli("scan", config=config,
                env=fault_env(workdir / "processed", log, n=1, count=0, calls=["rename"],
                              errnos={"rename": "EXDEV"}))

    assert r.returncode == 0, r.stderr
    assert injected(log)
    assert not path.exists()
    (moved,) = files_under(workdir / "processed")
    assert moved.read_bytes() == data
    assert stored(db) == ids(range(1, 6))


@pytest.mark.parametrize("call,err", [("write", "ENOSPC"), ("fsync", "EIO"), ("open", "ENOSPC")])
def test_disk_full_during_cross_filesystem_move(call, err, workdir, dsn, db):
    """processed_dir on another file system that is full: the copy fails,
    no partial copy is left, the original stays in the inbox (its rows are
    committed), the failure is reported; once there is room the next scan
    moves it without importing anything twice."""
    data = kx_file(range(1, 6))
    path = drop(workdir / "inbox" / "Master.csv", data)
    config = write_config(workdir, dsn, on_success="move")
    log = workdir / "faults.log"
    env = fault_env(workdir / "processed", log, n=1, count=0, calls=["rename", call],
                    errnos={"rename": "EXDEV", call: err})

    r = run_cli("scan", config=config, env=env)

    assert any(c[1] == call for c in injected(log)), injected(log)
    assert r.returncode != 0 or " ERROR " in r.stderr, r.stderr
    assert re.search(r" ERROR .*Master", r.stderr), r.stderr
    assert path.read_bytes() == data
    assert files_under(workdir / "processed") == []
    assert stored(db) == ids(range(1, 6))

    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert not path.exists()
    assert [p.read_bytes() for p in files_under(workdir / "processed")] == [data]
    assert rows(db, "SELECT count(*), count(DISTINCT call_id) FROM cdr") == [(5, 5)]


# ---- inotify ------------------------------------------------------------------------

@pytest.fixture
def daemons(workdir):
    started = []

    def start(config, env, ready=True):
        d = Daemon(config, workdir / f"watch{len(started)}.log", args=("-v", "-v"), env=env)
        started.append(d)
        d.start()
        if ready:
            d.wait_ready()
        return d

    yield start
    for d in started:
        d.close()


def watch_config(workdir, dsn):
    # The periodic backstop rescan far away: it must not be what finds files.
    return write_config(workdir, dsn, recursive=True,
                        top_level={"watch": {"backend": "inotify", "settle_ms": 100,
                                             "rescan_interval_s": 3600}})


def test_inotify_watch_limit_names_sysctl_and_polls_folder(workdir, dsn, db, daemons):
    """inotify_add_watch fails with ENOSPC for a subfolder (the per-user
    watch limit): the log names fs.inotify.max_user_watches, and a file
    written into that folder later is still imported (the folder is polled)."""
    sub = workdir / "inbox" / "pbx2"
    sub.mkdir()
    log = workdir / "faults.log"
    env = fault_env(sub, log, n=1, count=0, calls=["inotify_add_watch"],
                    errnos={"inotify_add_watch": "ENOSPC"})
    d = daemons(watch_config(workdir, dsn), env)

    assert injected(log)
    d.wait_log(r"ERROR .*pbx2.*fs\.inotify\.max_user_watches")
    staging = workdir / "staging"
    staging.mkdir()
    drop(staging / "Master.csv", kx_file(range(1, 6)))
    os.rename(staging / "Master.csv", sub / "Master.csv")

    wait_until(lambda: stored(db) == ids(range(1, 6)), 15, "the file in the unwatched folder")
    wait_until(lambda: not (sub / "Master.csv").exists(), 5, "the file moved")


def test_inotify_overflow_rescans_everything(workdir, dsn, db, daemons):
    """The kernel's queue overflows: the events are gone and one
    IN_Q_OVERFLOW comes instead (the shim replaces the first read that
    has events). The rescan that follows finds the file whose event was
    lost."""
    log = workdir / "faults.log"
    env = fault_env(workdir / "nothing-here", log, FAULT_OVERFLOW=1)
    d = daemons(watch_config(workdir, dsn), env)

    staging = workdir / "staging"
    staging.mkdir()
    drop(staging / "Master.csv", kx_file(range(1, 6)))
    os.rename(staging / "Master.csv", workdir / "inbox" / "Master.csv")

    d.wait_log(r"WARN inotify queue overflowed; rescanning")
    assert "OVERFLOW" in log.read_text()
    wait_until(lambda: stored(db) == ids(range(1, 6)), 15, "the file whose event was lost")
    wait_until(lambda: not (workdir / "inbox" / "Master.csv").exists(), 5, "the file moved")


def test_watch_syncs_moves_once_nothing_is_ready(workdir, dsn, db, daemons):
    """The daemon syncs (fsync) the folder it moved files into once nothing
    more is ready, not after each move, and not only at its exit (the calls
    counted by the shim, which injects nothing here). Ten files dropped at
    once are ready within a few milliseconds: one pass over them, or two
    if the first began before the last was ready; a sync after each pass,
    and one on the way through a pass that takes over a second (a slow,
    sanitized build)."""
    log = workdir / "calls.log"
    d = daemons(watch_config(workdir, dsn), fault_env(workdir, log))
    staging = workdir / "staging"
    staging.mkdir()
    for k in range(10):
        drop(staging / f"part{k}.csv", kx_file(range(10 * k, 10 * k + 10)))
    for k in range(10):
        os.rename(staging / f"part{k}.csv", workdir / "inbox" / f"part{k}.csv")
    processed = workdir / "processed"
    wait_until(lambda: len(files_under(processed)) == 10, 15, "the ten files moved")
    inbox = str(workdir / "inbox")

    def synced_after_last_move():
        calls = read_log(log)
        moves = [n for n, kind, path, _ in calls if kind == "rename" and path.startswith(inbox)]
        syncs = [n for n, kind, path, _ in calls if kind == "fsync" and path == str(processed)]
        return len(moves) == 10 and syncs and syncs[-1] > max(moves)

    wait_until(synced_after_last_move, 5, "the processed folder synced after the last move")
    assert d.alive()
    syncs = [c for c in read_log(log) if c[1] == "fsync" and c[2] == str(processed)]
    assert len(syncs) <= 4, syncs
    assert stored(db) == ids(range(100))


# ---- the file system under the importer --------------------------------------------

def sha256_of(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


def ledger(db):
    return rows(db, "SELECT status, sha256 FROM cdr_file ORDER BY id")


# The reads of a plain file under scan: 1-2 its first bytes (a packed
# download?), then the checksum and parse passes.
READS = range(1, 6)


@pytest.mark.parametrize("n", READS)
def test_file_truncated_while_read(n, workdir, dsn, db):
    """The file is cut to its first three lines just before its nth read:
    what is stored is one version of it, whole (never some rows of one and
    a checksum of the other), once; after the next scan the ledger names
    the content whose rows are stored."""
    data = kx_file(range(1, 6))
    short = kx_file(range(1, 4))
    drop(workdir / "inbox" / "Master.csv", data)
    config = write_config(workdir, dsn, on_success="move")
    log = workdir / "faults.log"

    r = run_cli("scan", config=config,
                env=fault_env(workdir / "inbox", log, calls=["read"], FAULT_ACTION="truncate",
                              FAULT_ACTION_N=n, FAULT_ACTION_SIZE=len(short)))
    assert "ACTED" in log.read_text()
    assert r.returncode in (0, 1), r.stderr
    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr

    got = stored(db)
    assert got in (ids(range(1, 4)), ids(range(1, 6))), got
    version = short if got == ids(range(1, 4)) else data
    assert [s for (st, s) in ledger(db) if st == "imported"] == [sha256_of(version)]
    assert files_under(workdir / "inbox") == []


@pytest.mark.parametrize("n", READS)
def test_file_replaced_while_read(n, workdir, dsn, db):
    """A new download is renamed over the file just before its nth read:
    the old content is what is read; the new file at that name must not
    be moved away (or deleted) unread. After the next scan both are stored,
    once each, and both are in processed/."""
    old = kx_file(range(1, 6))
    new = kx_file(range(10, 16))
    path = drop(workdir / "inbox" / "Master.csv", old)
    replacement = drop(workdir / "staging" / "Master.csv", new)
    config = write_config(workdir, dsn, on_success="move")
    log = workdir / "faults.log"

    r = run_cli("scan", config=config,
                env=fault_env(workdir / "inbox", log, calls=["read"], FAULT_ACTION="replace",
                              FAULT_ACTION_N=n, FAULT_ACTION_FROM=replacement))
    assert "ACTED" in log.read_text()
    assert r.returncode in (0, 1), r.stderr
    if not path.exists():
        # whatever left the inbox must have had its rows committed
        assert set(ids(range(10, 16))) <= set(stored(db)), \
            "the new file was moved away unread: " + r.stderr
    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr

    assert stored(db) == sorted(ids(range(1, 6)) + ids(range(10, 16)))
    # the old file went when the new one was renamed over it
    assert [p.read_bytes() for p in files_under(workdir / "processed")] == [new]


@pytest.mark.parametrize("on_success", ["move", "delete"])
def test_file_replaced_between_read_and_move(on_success, workdir, dsn, db):
    """The same, the new file arriving after the commit, just before the
    move or the delete touches the name."""
    old = kx_file(range(1, 6))
    new = kx_file(range(10, 16))
    path = drop(workdir / "inbox" / "Master.csv", old)
    replacement = drop(workdir / "staging" / "Master.csv", new)
    config = write_config(workdir, dsn, on_success=on_success)
    log = workdir / "faults.log"
    env = fault_env(workdir / "inbox", log, calls=["rename", "unlink"], FAULT_ACTION="replace",
                    FAULT_ACTION_N=1, FAULT_ACTION_FROM=replacement)

    r = run_cli("scan", config=config, env=env)
    assert "ACTED" in log.read_text()
    if not path.exists():
        assert set(ids(range(10, 16))) <= set(stored(db)), \
            f"the new file was {on_success}d unread: " + r.stderr
    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert stored(db) == sorted(ids(range(1, 6)) + ids(range(10, 16)))


def test_killed_between_the_rename_and_the_unlink_of_a_delete(workdir, dsn, db):
    """A delete renames the file to a hidden name, then unlinks it. The
    importer is killed (SIGKILL) at that unlink: the committed file is left
    under the hidden name, which no scan takes. A scan in the next seconds
    leaves it (a delete may be in flight there, from another host); one 5 s
    after the name was made names it back, finds it already imported and
    deletes it: its rows stay stored once, and nothing is left in the
    inbox, hidden or not."""
    data = kx_file(range(1, 6))
    drop(workdir / "inbox" / "Master.csv", data)
    config = write_config(workdir, dsn, on_success="delete")
    env = fault_env(workdir / "inbox", workdir / "faults.log", calls=["unlink"],
                    FAULT_ACTION="kill", FAULT_ACTION_N=1)

    r = run_cli("scan", config=config, env=env)
    assert r.returncode == -9, (r.returncode, r.stderr)
    left = [p.name for p in (workdir / "inbox").iterdir()]
    m = len(left) == 1 and re.fullmatch(r"\.Master\.csv\.cdrimport-delete-\d+-(\d+)", left[0])
    assert m, left
    assert stored(db) == ids(range(1, 6))

    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert "named back" not in r.stderr, r.stderr
    assert [p.name for p in (workdir / "inbox").iterdir()] == left

    time.sleep(max(0.0, int(m.group(1)) + 5.2 - time.time()))
    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert "stopped while deleting" in r.stderr and "named back" in r.stderr, r.stderr
    assert stored(db) == ids(range(1, 6))
    assert [st for (st, s) in ledger(db)] == ["imported", "duplicate"]
    assert list((workdir / "inbox").iterdir()) == []


def test_leftover_of_a_killed_delete_holding_a_new_file(workdir, dsn, db):
    """A new download renamed over the file just before the delete's rename
    is what the rename hides; had the importer been killed before it looked,
    that new file would sit under the hidden name. A dry run leaves it; the
    next scan names it back and imports it. A hidden name whose process
    still runs (here, this test's own) is left alone for 15 minutes: that
    importer may still be deleting it. Past that, it is named back whatever
    its pid (reused, or another host's)."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    now = int(time.time())
    inbox = workdir / "inbox"
    drop(inbox / f".Master.csv.cdrimport-delete-{gone.pid}-{now - 60}", kx_file(range(10, 16)))
    live = drop(inbox / f".Other.csv.cdrimport-delete-{os.getpid()}-{now - 60}",
                kx_file(range(20, 23)))
    drop(inbox / f".Old.csv.cdrimport-delete-{os.getpid()}-{now - 16 * 60}",
         kx_file(range(30, 32)))
    hidden = sorted(p.name for p in inbox.iterdir())
    config = write_config(workdir, dsn, on_success="delete")

    r = run_cli("import", "--dry-run", str(inbox), config=config)
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in inbox.iterdir()) == hidden

    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert stored(db) == sorted(ids(range(10, 16)) + ids(range(30, 32)))
    assert [st for (st, s) in ledger(db)] == ["imported", "imported"]
    assert [p.name for p in inbox.iterdir()] == [live.name]


def test_symlink_loops(workdir, dsn, db):
    """A folder link back to the inbox and two file links naming each
    other: the scan ends, imports the real file once, and says one line
    per looping name at most."""
    inbox = workdir / "inbox"
    drop(inbox / "sub" / "Master.csv", kx_file(range(1, 6)))
    (inbox / "sub" / "again").symlink_to(inbox, target_is_directory=True)
    (inbox / "x.csv").symlink_to(inbox / "y.csv")
    (inbox / "y.csv").symlink_to(inbox / "x.csv")
    config = write_config(workdir, dsn, recursive=True)

    r = run_cli("scan", config=config, timeout=60)

    assert r.returncode in (0, 1), r.stderr
    assert stored(db) == ids(range(1, 6))
    for name in ("x.csv", "y.csv"):
        assert len([ln for ln in r.stderr.splitlines() if name in ln]) <= 1, r.stderr
    assert (inbox / "x.csv").is_symlink() and (inbox / "y.csv").is_symlink()


def test_ten_thousand_nested_folders(workdir, dsn, db, daemons):
    """10 000 folders one inside the other (deeper than PATH_MAX allows to
    name): scan and watch neither crash nor hang, and import the file near
    the top."""
    inbox = workdir / "inbox"
    drop(inbox / "a" / "Master.csv", kx_file(range(1, 6)))
    fd = os.open(inbox, os.O_RDONLY)
    try:
        for _ in range(10_000):
            os.mkdir("d", dir_fd=fd)
            nxt = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = nxt
        with open(os.open("deep.csv", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "wb") as f:
            f.write(kx_file(range(50, 52)))
    finally:
        os.close(fd)
    try:
        config = write_config(workdir, dsn, recursive=True, on_success="keep",
                              top_level={"watch": {"settle_ms": 100}})
        r = run_cli("scan", config=config, timeout=120)
        assert r.returncode in (0, 1), r.stderr
        assert set(ids(range(1, 6))) <= set(stored(db))
        assert len(r.stderr.splitlines()) < 50, r.stderr[:2000]

        d = daemons(config, {})  # READY=1: it has watched and scanned it all
        assert d.alive()
    finally:
        subprocess.run(["rm", "-rf", str(inbox / "d")], timeout=120)
