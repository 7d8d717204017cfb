"""Database faults (issue 13), each against the real PostgreSQL of the
e2e cluster: the database turned read-only (default_transaction_read_only,
as after a failover to a replica), max_connections exhausted, a backend
killed mid-COPY (pg_terminate_backend) or while a file's transaction
opens (its first rows parsed meanwhile), statement_timeout hit while
another session holds a lock on the ledger, the lock simply held a while,
and the server's disk full (the tables in a tablespace on a small tmpfs).
Each time the file stays where it is, the run says what happened (and
exits non-zero), and once the fault is gone the next run stores every row
exactly once and moves the file.
"""
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import psycopg2
import pytest

from conftest import BIN, connect, rows, run_cli, write_config
from fault_helpers import drop, files_under, ids, kx_file, stored
from watch_helpers import Daemon, wait_until


def counts(db):
    return rows(db, "SELECT count(*), count(DISTINCT call_id) FROM cdr")[0]


def first_file(workdir, config, db):
    """One file imported first: the tables exist, as in a running site."""
    drop(workdir / "inbox" / "first.csv", kx_file(range(1, 4)))
    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert stored(db) == ids(range(1, 4))


def site_with_file(workdir, dsn, db, calls):
    """A running site (first_file) and a new Master.csv of the given calls:
    (config, its bytes, its path)."""
    config = write_config(workdir, dsn)
    first_file(workdir, config, db)
    data = kx_file(calls)
    return config, data, drop(workdir / "inbox" / "Master.csv", data)


def lock_waiters(db):
    """The pids of the importer's backends waiting for a lock."""
    return [pid for (pid,) in rows(db, "SELECT DISTINCT a.pid FROM pg_locks l JOIN pg_stat_activity a"
                                      " USING (pid) WHERE NOT l.granted"
                                      " AND a.application_name = 'cdrimport'")]


def assert_left_in_place(workdir, path, data, r, db, before):
    """The run failed and said so (an ERROR line: about the file, or about
    the database before any file was looked at); the file is untouched."""
    assert r.returncode != 0, r.stderr
    assert " ERROR " in r.stderr, r.stderr
    assert path.read_bytes() == data, "the file was moved or changed"
    assert files_under(workdir / "failed") == [], "the file was set aside as failed"
    assert stored(db) == before


def assert_recovered(workdir, config, path, db, want):
    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert not path.exists()
    assert stored(db) == want
    c = counts(db)
    assert c[0] == c[1] == len(want)


# 10 rows: the file's opening round trip is read at its end; 400: as its
# first batch goes (load.c begin_read). Either way the refusal comes then.
@pytest.mark.parametrize("n", [10, 400])
def test_database_turned_read_only(workdir, dsn, db, n):
    config, data, path = site_with_file(workdir, dsn, db, range(10, 10 + n))
    name = db.info.dbname
    with db.cursor() as cur:
        cur.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    try:
        r = run_cli("scan", config=config)
        assert "read-only" in r.stderr, r.stderr
        assert_left_in_place(workdir, path, data, r, db, ids(range(1, 4)))
    finally:
        with db.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
    assert_recovered(workdir, config, path, db, ids([*range(1, 4), *range(10, 10 + n)]))


def test_watch_waits_out_a_read_only_database(workdir, dsn, db):
    """The daemon keeps the file while the database is read-only and
    imports it once writes are allowed again (a failover completed)."""
    config = write_config(workdir, dsn, top_level={"watch": {"settle_ms": 100}})
    first_file(workdir, config, db)
    name = db.info.dbname
    with db.cursor() as cur:
        cur.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
    d = Daemon(config, workdir / "watch.log").start()
    try:
        try:
            d.wait_ready()
            path = drop(workdir / "inbox" / "Master.csv", kx_file(range(10, 20)))
            d.wait_log(r" ERROR .*read-only", timeout=15)
            assert path.exists() and files_under(workdir / "failed") == []
        finally:
            with db.cursor() as cur:
                cur.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
        wait_until(lambda: not path.exists(), 30, "the file imported after the reset")
        assert stored(db) == ids([*range(1, 4), *range(10, 20)])
        assert files_under(workdir / "failed") == []
    finally:
        d.close()


def test_max_connections_exhausted(workdir, dsn, db):
    config, data, path = site_with_file(workdir, dsn, db, range(10, 20))
    hogs = []
    try:
        for _ in range(1000):  # every slot, the superusers' reserved ones too
            try:
                hogs.append(connect())
            except psycopg2.OperationalError as e:
                assert "too many" in str(e) or "reserved" in str(e), e
                break
        r = run_cli("scan", config=config)
        assert r.returncode == 3, r.stderr
        assert_left_in_place(workdir, path, data, r, db, ids(range(1, 4)))
    finally:
        for c in hogs:
            c.close()
    assert_recovered(workdir, config, path, db, ids([*range(1, 4), *range(10, 20)]))


def test_backend_killed_mid_copy(workdir, dsn, db):
    """pg_terminate_backend on the importer's backend while it copies rows:
    exit 3, the file stays, nothing of it is stored; then once."""
    config, data, path = site_with_file(workdir, dsn, db, range(10, 200010))
    killed = []

    def killer():
        admin = connect(db.info.dbname)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not killed:
                got = rows(admin, "SELECT pg_terminate_backend(p.pid) FROM pg_stat_progress_copy p"
                           " JOIN pg_stat_activity a USING (pid)"
                           " WHERE a.application_name = 'cdrimport'"
                           " AND a.datname = current_database() AND p.tuples_processed > 0")
                killed.extend(k for (k,) in got if k)
                time.sleep(0.01)
        finally:
            admin.close()

    t = threading.Thread(target=killer)
    t.start()
    r = run_cli("scan", config=config, timeout=120)
    t.join()
    if not killed:
        pytest.skip("the import was over before its backend could be killed")
    assert r.returncode == 3, r.stderr
    assert_left_in_place(workdir, path, data, r, db, ids(range(1, 4)))
    assert_recovered(workdir, config, path, db, ids([*range(1, 4), *range(10, 200010)]))


def hold_ledger_lock(dbname, mode="ACCESS EXCLUSIVE"):
    """Another session holding a lock on the ledger (cdr_file)."""
    holder = connect(dbname)
    holder.autocommit = False
    with holder.cursor() as cur:
        cur.execute(f"LOCK TABLE cdr_file IN {mode} MODE")
    return holder


def test_statement_timeout_while_ledger_is_locked(workdir, dsn, db):
    config, data, path = site_with_file(workdir, dsn, db, range(10, 20))
    name = db.info.dbname
    with db.cursor() as cur:
        cur.execute(f'ALTER DATABASE "{name}" SET statement_timeout = 500')
    holder = hold_ledger_lock(name)
    try:
        r = run_cli("scan", config=config)
        assert "statement timeout" in r.stderr, r.stderr
    finally:
        holder.rollback()
        holder.close()
        with db.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" RESET statement_timeout')
    assert_left_in_place(workdir, path, data, r, db, ids(range(1, 4)))
    assert_recovered(workdir, config, path, db, ids([*range(1, 4), *range(10, 20)]))


# The backend killed after the file's opening round trip was sent and
# before its answer was read (load.c begin_read): the lock on the ledger
# holds the answer back while the file is parsed. 10 rows: the answer is
# read at the file's end; 20000: when its first batch, grown to its limit
# (BATCH_ROWS) while waiting, is handed over.
@pytest.mark.parametrize("n", [10, 20000])
def test_backend_killed_while_the_file_opens(workdir, dsn, db, n):
    config, data, path = site_with_file(workdir, dsn, db, range(10, 10 + n))
    # SHARE: the ledger row's INSERT waits, the start-up's reads do not.
    holder = hold_ledger_lock(db.info.dbname, "SHARE")
    try:
        proc = subprocess.Popen([BIN, "-c", config, "scan"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        (pid,) = wait_until(lambda: lock_waiters(db), 15, "the importer waiting for the lock")
        assert rows(db, f"SELECT pg_terminate_backend({pid})") == [(True,)]
    finally:
        holder.rollback()
        holder.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "terminat" in err or "closed the connection" in err, err
    assert_left_in_place(workdir, path, data, SimpleNamespace(returncode=proc.returncode,
                                                              stderr=err), db, ids(range(1, 4)))
    assert rows(db, "SELECT count(*) FROM cdr_file WHERE path LIKE '%Master.csv'") == [(0,)]
    assert_recovered(workdir, config, path, db, ids([*range(1, 4), *range(10, 10 + n)]))


def test_lock_on_ledger_is_waited_for(workdir, dsn, db):
    """No timeout: the import waits for the lock, then stores every row
    once and moves the file."""
    config, _, path = site_with_file(workdir, dsn, db, range(10, 20))
    holder = hold_ledger_lock(db.info.dbname)
    try:
        proc = subprocess.Popen([BIN, "-c", config, "scan"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        wait_until(lambda: lock_waiters(db), 15, "the importer waiting for the lock")
        assert proc.poll() is None and path.exists()
    finally:
        holder.rollback()
        holder.close()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not path.exists()
    assert stored(db) == ids([*range(1, 4), *range(10, 20)])


@pytest.fixture
def small_tablespace(db):
    """A tablespace on a 2 MB tmpfs owned by the server's user (mounted on
    a fresh folder in /tmp, which that user can reach), made the test
    database's default before its tables exist. Yields the mount point;
    the tables are dropped, then the tablespace, then the mount."""
    mnt = Path(tempfile.mkdtemp(prefix="cdr-pgsmall-", dir="/tmp"))
    opts = "size=2m,mode=0700"
    if subprocess.run(["id", "-u", "postgres"], capture_output=True).returncode == 0:
        uid = subprocess.run(["id", "-u", "postgres"], capture_output=True, text=True).stdout
        gid = subprocess.run(["id", "-g", "postgres"], capture_output=True, text=True).stdout
        opts += f",uid={uid.strip()},gid={gid.strip()}"
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        mnt.rmdir()
        pytest.skip(f"cannot mount a tmpfs (root only): {r.stderr.strip()}")
    ts = "ts_" + db.info.dbname
    try:
        with db.cursor() as cur:
            cur.execute(f"CREATE TABLESPACE {ts} LOCATION '{mnt}'")
            cur.execute(f'ALTER DATABASE "{db.info.dbname}" SET default_tablespace = {ts}')
        yield mnt
    finally:
        try:
            with db.cursor() as cur:
                cur.execute("DROP SCHEMA public CASCADE")
            admin = connect(db.info.dbname)
            with admin.cursor() as cur:
                cur.execute(f"DROP TABLESPACE IF EXISTS {ts}")
            admin.close()
        finally:
            subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)
            try:
                mnt.rmdir()
            except OSError:
                pass


def test_server_disk_full(workdir, dsn, db, small_tablespace):
    """The tables live on a 2 MB file system: a 30 000-row file does not
    fit. The import rolls back, the file stays and the log says the disk
    is full; with room again (the tmpfs grown), every row once."""
    config = write_config(workdir, dsn)
    first_file(workdir, config, db)
    assert rows(db, "SELECT t.spcname FROM pg_class c JOIN pg_tablespace t"
                    " ON t.oid = c.reltablespace WHERE c.relname IN ('cdr', 'cdr_row')"), \
        "the call records' table is not on the tmpfs"
    data = kx_file(range(10, 30010))
    path = drop(workdir / "inbox" / "Master.csv", data)

    r = run_cli("scan", config=config, timeout=120)

    assert "No space left on device" in r.stderr or "could not extend" in r.stderr, r.stderr
    assert_left_in_place(workdir, path, data, r, db, ids(range(1, 4)))
    subprocess.run(["mount", "-o", "remount,size=64m", str(small_tablespace)], check=True,
                   timeout=30)
    assert_recovered(workdir, config, path, db, ids([*range(1, 4), *range(10, 30010)]))
