"""cdrimport.exe killed mid-import under Wine (SIGKILL to the whole Wine
process group while its COPY runs: as sudden as a power cut or Task
Manager's End Task), then run again: every row stored exactly once, the
file left in the inbox by the kill and moved only by the run that finished,
the ledger with no trace of the killed run.

Run by `make windows-e2e` (CDRIMPORT_EXE set); skipped otherwise.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import EXE, REPO_ROOT, WINE, rows, run_cli, wait_for_copy, write_config

sys.path.insert(0, str(REPO_ROOT / "bench"))
import gen_kxhts  # noqa: E402

pytestmark = pytest.mark.skipif(not EXE, reason="CDRIMPORT_EXE unset (make windows-e2e)")

BIG_ROWS = 300_000


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        for lines in gen_kxhts.rows_in(7, 0, BIG_ROWS, "forward"):
            f.write("".join(lines))
    return path


def ledger(db):
    return rows(db, "SELECT path, status, rows_inserted, rows_duplicate FROM cdr_file ORDER BY id")


def test_kill_mid_copy_then_rerun_stores_each_row_once(db, dsn, workdir, big_file):
    inbox, processed = workdir / "inbox", workdir / "processed"
    cfg = write_config(workdir, dsn)
    # An earlier, overlapping download: the first third of the rows.
    third = BIG_ROWS // 3
    with open(big_file, "rb") as f, open(inbox / "earlier.csv", "wb") as out:
        for _ in range(third):
            out.write(f.readline())
    r = run_cli("scan", config=cfg, timeout=300)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT count(*) FROM cdr") == [(third,)]

    data = big_file.read_bytes()
    (inbox / "Master.csv").write_bytes(data)
    proc = subprocess.Popen([WINE, EXE, "-c", cfg, "scan"], start_new_session=True,
                            env=dict(os.environ, WINEDEBUG="-all"),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_copy(db.info.dbname, proc, timeout=120)
        time.sleep(0.2)
        assert proc.poll() is None, "the import ended before the kill"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # The server rolled the killed run back: nothing of it is stored, the
    # ledger does not name it, and the file is where it was, whole.
    deadline = time.time() + 30
    while time.time() < deadline and rows(
            db, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid()", db.info.dbname)[0][0]:
        time.sleep(0.2)
    assert rows(db, "SELECT count(*) FROM cdr") == [(third,)]
    assert [s for _, s, _, _ in ledger(db)] == ["imported"]
    assert (inbox / "Master.csv").read_bytes() == data
    assert [p.name.split(".")[0] for p in processed.iterdir()] == ["earlier"]

    r = run_cli("scan", config=cfg, timeout=300)
    assert r.returncode == 0, r.stderr
    # Each of the file's rows once (its rows are all different ones).
    assert rows(db, "SELECT count(*), count(DISTINCT row_key) FROM cdr") == [(BIG_ROWS, BIG_ROWS)]
    got = ledger(db)
    assert [(p.rsplit("/", 1)[-1], s, n, d) for p, s, n, d in got] == [
        ("earlier.csv", "imported", third, 0),
        ("Master.csv", "imported", BIG_ROWS - third, third)]
    assert sorted(p.name.split(".")[0] for p in processed.iterdir()) == ["Master", "earlier"]
    assert list(inbox.iterdir()) == []
