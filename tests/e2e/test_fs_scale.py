"""The file system at scale (issue 13): 100 000 files in one inbox. What a
user waits for and pays: `scan`'s walk of them, and `watch`'s start-up
(every file watched and looked at, READY=1) and its memory with all of
them pending. The figures are printed; the bounds are generous (a loaded
2-core CI machine) and only catch a blow-up.

The database is kept out of it so that the figures are the walk's and the
pending table's, not 100 000 imports': scan runs with a pattern that
matches none of the names, watch with a database that does not answer.
"""
import os
import time

import pytest

from conftest import run_cli, write_config
from watch_helpers import Daemon

N_FILES = 100_000


@pytest.fixture(scope="module")
def big_inbox(tmp_path_factory):
    inbox = tmp_path_factory.mktemp("many") / "inbox"
    inbox.mkdir()
    row = b'"","201","0312345678","SIP/201-1","SIP/c-1","","","","2023-01-05 10:00:00",' \
          b'"2023-01-05 10:00:05","2023-01-05 10:00:59","59","54","ANSWERED","1672912800.1"\n'
    fd = os.open(inbox, os.O_RDONLY)
    try:
        for i in range(N_FILES):
            f = os.open(f"Master.{i:06d}.csv", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
            os.write(f, row)
            os.close(f)
    finally:
        os.close(fd)
    return inbox


def vm(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return 0


def test_scan_walks_a_hundred_thousand_names(big_inbox, tmp_path, dsn, db, capsys):
    config = write_config(tmp_path, dsn, path=str(big_inbox), pattern="*.nomatch",
                          processed_dir=str(tmp_path / "processed"),
                          failed_dir=str(tmp_path / "failed"))
    t0 = time.monotonic()
    r = run_cli("-v", "-v", "scan", config=config, timeout=300)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr[-2000:]
    assert len(os.listdir(big_inbox)) == N_FILES
    with capsys.disabled():
        print(f"\nscan of {N_FILES} names in one folder (none a candidate): {took:.2f} s")
    assert took < 60


def test_watch_starts_with_a_hundred_thousand_files(big_inbox, tmp_path, capsys):
    # a socket folder with no server: the daemon waits for the database
    dsn = f"host={tmp_path} port=1 dbname=nothing connect_timeout=1"
    config = write_config(tmp_path, dsn, path=str(big_inbox), on_success="keep",
                          processed_dir=str(tmp_path / "processed"),
                          failed_dir=str(tmp_path / "failed"),
                          top_level={"watch": {"settle_ms": 1000}})
    d = Daemon(config, tmp_path / "watch.log", args=("-v", "-v"))
    t0 = time.monotonic()
    d.start()
    try:
        d.wait_ready(timeout=120)
        took = time.monotonic() - t0
        d.wait_log(rf"scanned {big_inbox}: {N_FILES} candidates", timeout=30)
        rss, hwm = vm(d.pid, "VmRSS"), vm(d.pid, "VmHWM")
        assert len(os.listdir(big_inbox)) == N_FILES
    finally:
        d.close()
    with capsys.disabled():
        print(f"\nwatch start-up with {N_FILES} files pending: READY after {took:.2f} s, "
              f"RSS {rss / 1024:.1f} MB (peak {hwm / 1024:.1f} MB)")
    # a few seconds of walking and lstat; a table looked up line by line
    # made it a minute (quadratic in the number of files)
    assert took < 30
    assert hwm < 512 * 1024
