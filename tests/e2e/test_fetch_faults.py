"""End-to-end: what a fetch source does when things go wrong, against the
fake KX-HTS (tests/fakepbx.py): a body cut mid-record, a PBX that hangs
past timeout_s, a spool folder that is full (a small tmpfs) or read-only,
the database stopped while polling, kill -9 in the middle of a download,
SIGTERM between polls, and one hung PBX beside a working one and a folder
source. Each test checks that every record the PBX handed over is in cdr
exactly once (or, where bytes were cut, in cdr_reject verbatim) and where
the spooled files ended."""
import subprocess
import time

import pytest

from conftest import pg_start, pg_stop, rows, run_cli
from fakepbx import records
from fetch_helpers import (expected, fetch_source, hidden_parts, make_pbx, pbx,  # noqa: F401
                           processed_of, spool_of, visible, write_sources)
from watch_helpers import DEBUG, Daemon, Db, wait_until, write_file


def one_source(workdir, dsn, pbx_, source=None, **fetch):
    src = fetch_source(workdir, "office", pbx_.url, source=source, **fetch)
    return src, write_sources(workdir, dsn, [src])


def test_body_cut_mid_record(workdir, dsn, db, pbx):
    src, config = one_source(workdir, dsn, pbx)
    lines = pbx.add(10)
    pbx.fault("cut")
    r = run_cli("fetch", config=config)
    assert r.returncode == 1, r.stderr  # a rejected line
    assert "WARN" in r.stderr and "broke off after" in r.stderr, r.stderr
    assert "bytes" in r.stderr
    got = Db(db.info.dbname).identities()
    assert len(got) == len(set(got)) and set(got) == expected(lines[:5])
    part = lines[5].encode()[:len(lines[5]) // 2]
    assert [bytes(x) for (x,) in rows(db, "SELECT raw_line FROM cdr_reject")] == [part]
    assert pbx.lost == lines[6:]  # what the PBX cleared but never sent
    assert not visible(spool_of(src)) and len(visible(processed_of(src))) == 1


def test_hang_past_timeout(workdir, dsn, db):
    pbx_ = make_pbx(hang_s=3)
    d = None
    try:
        src, config = one_source(workdir, dsn, pbx_, timeout_s=1)
        pbx_.mode = "hang"
        lines = pbx_.add(5)
        d = Daemon(config, workdir / "watch.log", args=DEBUG).start().wait_ready()
        wait_until(lambda: pbx_.requests >= 3, 30, "three hung requests")
        assert len(d.log_lines(r"ERROR source office: .*no answer")) == 1, d.log()
        assert len(pbx_.pending) == 5
        pbx_.mode = None
        q = Db(db.info.dbname)
        q.wait_rows(5, daemons=[d])
        d.wait_log(r"INFO source office: the PBX at .* answers again")
        assert d.stop()[0] == 0
        q.assert_exactly_once(expected(lines))
        assert not visible(spool_of(src))
    finally:
        if d:
            d.close()
        pbx_.stop()


@pytest.fixture
def tmpfs(workdir):
    mnt = workdir / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs (root only): {r.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def remount(mnt, opts):
    subprocess.run(["mount", "-o", f"remount,{opts}", str(mnt)], check=True, timeout=30)


def small_source(workdir, dsn, pbx_, mnt, **fetch):
    (mnt / "spool").mkdir()
    where = {"path": str(mnt / "spool"), "processed_dir": str(mnt / "processed"),
             "failed_dir": str(mnt / "failed")}
    return one_source(workdir, dsn, pbx_, source=where, **fetch)


@pytest.mark.parametrize("problem", ["full", "read-only"])
def test_no_room_no_request(workdir, dsn, db, pbx, tmpfs, problem):
    src, config = small_source(workdir, dsn, pbx, tmpfs, min_free_bytes=1024 * 1024)
    if problem == "read-only":
        src["fetch"]["min_free_bytes"] = 0
        config = write_sources(workdir, dsn, [src])
        remount(tmpfs, "ro")
    lines = pbx.add(6)
    d = Daemon(config, workdir / "watch.log", args=DEBUG).start().wait_ready()
    try:
        why = "min_free_bytes" if problem == "full" else "[Rr]ead-only"
        d.wait_log(r"ERROR source office: not polling .*" + why)
        d.wait_log(r"DEBUG source office: .*skipped: .* \(still\)", count=3, timeout=15)
        assert len(d.log_lines(r"ERROR source office: not polling")) == 1, d.log()
        assert pbx.requests == 0 and pbx.refused == 0 and len(pbx.pending) == 6
        remount(tmpfs, "size=16m" if problem == "full" else "rw")
        q = Db(db.info.dbname)
        q.wait_rows(6, daemons=[d])
        d.wait_log(r"INFO source office: the spool folder has room again")
        wait_until(lambda: not visible(spool_of(src)), 10, "the spool to empty")
        assert d.stop()[0] == 0
        q.assert_exactly_once(expected(lines))
    finally:
        d.close()


def test_spool_write_error_keeps_what_was_written(workdir, dsn, db, pbx, tmpfs):
    """ENOSPC in the middle of a response: the bytes written are kept and
    imported, the log says what was lost."""
    src, config = small_source(workdir, dsn, pbx, tmpfs)
    pbx.add(4000)  # about 700 kB, the tmpfs holds 256 kB
    r = run_cli("fetch", config=config)
    assert r.returncode == 1, r.stderr
    assert "No space left on device" in r.stderr and "are lost" in r.stderr, r.stderr
    done = visible(processed_of(src))
    assert len(done) == 1 and not visible(spool_of(src)), (done, r.stderr)
    kept = (processed_of(src) / done[0]).read_bytes()
    assert len(kept) > 100000
    whole = kept[:kept.rfind(b"\n") + 1].decode()
    got = Db(db.info.dbname).identities()
    assert len(got) == len(set(got)) and set(got) == expected([whole])
    tail = kept[kept.rfind(b"\n") + 1:]
    if tail:
        assert [bytes(x) for (x,) in rows(db, "SELECT raw_line FROM cdr_reject")] == [tail]


def test_database_down_while_polling(workdir, dsn, db, pbx):
    src, config = one_source(workdir, dsn, pbx)
    d = Daemon(config, workdir / "watch.log").start().wait_ready()
    try:
        q = Db(db.info.dbname)
        a = pbx.add(5)
        q.wait_rows(5, daemons=[d])
        pg_stop()
        b = pbx.add(6)
        wait_until(lambda: not pbx.pending and len(visible(spool_of(src))) >= 1, 20,
                   "a response spooled while the database is down")
        c = pbx.add(4)
        wait_until(lambda: not pbx.pending and len(visible(spool_of(src))) >= 2, 20,
                   "a second response spooled")
        pg_start()
        q.wait_rows(15, timeout=90, daemons=[d])
        wait_until(lambda: not visible(spool_of(src)), 20, "the spool to empty")
        assert d.stop()[0] == 0
        q.assert_exactly_once(expected(a + b + c))
        assert d.log_lines(r"ERROR database unreachable") and d.log_lines(r"database is back")
    finally:
        d.close()


def test_kill9_mid_download_then_restart(workdir, dsn, db):
    pbx_ = make_pbx(hold_s=30)
    d = d2 = None
    try:
        src, config = one_source(workdir, dsn, pbx_, timeout_s=60)
        spool = spool_of(src)
        q = Db(db.info.dbname)
        first = pbx_.add(10)
        d = Daemon(config, workdir / "watch1.log").start().wait_ready()
        q.wait_rows(10, daemons=[d])
        second = pbx_.add(300)
        pbx_.fault("hold")
        wait_until(pbx_.held.is_set, 15, "the PBX to have sent half the body")
        wait_until(lambda: any(p.stat().st_size > 0 for p in hidden_parts(spool)), 15,
                   "bytes in the spool's temporary file")
        time.sleep(0.3)  # let the rest of the half arrive
        d.kill9()
        parts = hidden_parts(spool)
        assert len(parts) == 1, parts
        data = parts[0].read_bytes()
        assert data and not visible(spool)
        pbx_.release.set()
        third = pbx_.add(5)

        d2 = Daemon(config, workdir / "watch2.log").start().wait_ready()
        d2.wait_log(r"WARN source office: kept .*interrupted")
        n = data.count(b"\n")
        q.wait_rows(10 + n + 5, daemons=[d2])
        wait_until(lambda: not visible(spool) and not hidden_parts(spool), 20,
                   "the spool to empty")
        assert d2.stop()[0] == 0
        got = q.identities()
        assert len(got) == len(set(got)), "a row is in cdr twice"
        assert set(got) == expected(first + second[:n] + third)
        tail = data[data.rfind(b"\n") + 1:]
        rejects = [bytes(x) for (x,) in rows(db, "SELECT raw_line FROM cdr_reject")]
        assert rejects == ([tail] if tail else [])
    finally:
        for x in (d, d2):
            if x:
                x.close()
        pbx_.stop()


def test_sigterm_between_polls(workdir, dsn, db, pbx):
    src, config = one_source(workdir, dsn, pbx, interval_s=2)
    lines = pbx.add(8)
    d = Daemon(config, workdir / "watch.log").start().wait_ready()
    try:
        q = Db(db.info.dbname)
        q.wait_rows(8, daemons=[d])
        wait_until(lambda: not visible(spool_of(src)), 10, "the spool to empty")
        rc, took = d.stop()
        assert rc == 0 and took < 5, d.log()
        assert d.log_lines(r"INFO stopping: ")
        q.assert_exactly_once(expected(lines))
        assert not hidden_parts(spool_of(src)) and len(visible(processed_of(src))) >= 1
    finally:
        d.close()


def test_hung_pbx_delays_nothing_else(workdir, dsn, db):
    hung = make_pbx(hang_s=8, start=50000)
    good = make_pbx(start=0)
    d = None
    try:
        hung.mode = "hang"
        hung.add(3)
        a = fetch_source(workdir, "hung", hung.url, timeout_s=6)
        b = fetch_source(workdir, "good", good.url)
        inbox = workdir / "inbox"
        c = {"name": "folder", "path": str(inbox), "timezone": "UTC",
             "processed_dir": str(workdir / "processed"), "failed_dir": str(workdir / "failed"),
             "watch": {"settle_ms": 0}}
        config = write_sources(workdir, dsn, [a, b, c])
        d = Daemon(config, workdir / "watch.log").start().wait_ready()
        wait_until(lambda: hung.requests >= 1, 10, "the hung PBX's first request")
        t0 = time.monotonic()
        q = Db(db.info.dbname)
        g1 = good.add(5)
        q.wait_rows(5, timeout=5, daemons=[d])
        dropped = records(11, 200000, 4)
        write_file(inbox / "Master.csv", "".join(dropped))
        g2 = good.add(5)
        q.wait_rows(14, timeout=5, daemons=[d])
        assert time.monotonic() - t0 < 6, "waited for the hung PBX"
        assert hung.requests == 1  # never a second request while one is in flight
        d.wait_log(r"ERROR source hung: .*no answer", timeout=15)
        assert d.stop()[0] == 0
        q.assert_exactly_once(expected(g1 + g2 + dropped))
        assert len(hung.pending) == 3
    finally:
        if d:
            d.close()
        hung.stop()
        good.stop()


def test_response_over_max_response_bytes(workdir, dsn, db, pbx):
    """A response larger than max_response_bytes: its first bytes are kept
    and imported, the log says the rest is lost."""
    src, config = one_source(workdir, dsn, pbx, max_response_bytes=4096)
    lines = pbx.add(100)
    r = run_cli("fetch", config=config)
    assert r.returncode == 1, r.stderr
    assert "larger than max_response_bytes (4096)" in r.stderr and "the rest is lost" in r.stderr
    done = visible(processed_of(src))
    assert len(done) == 1, done
    kept = (processed_of(src) / done[0]).read_bytes()
    assert kept == "".join(lines).encode()[:4096]
    whole = kept[:kept.rfind(b"\n") + 1].decode()
    got = Db(db.info.dbname).identities()
    assert len(got) == len(set(got)) and set(got) == expected([whole])
