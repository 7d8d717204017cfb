"""Inputs that can be read only once (an archive member, an HTTP body),
end to end through file_import_input (driver tests/e2e/stream_import.c):
the checksum is learnt while the rows stream through the parser, the ledger
gets it at the commit, and an input whose checksum turns out to be known is
rolled back and recorded as a duplicate. Plain files and streamed inputs
recognise each other's checksums."""
import hashlib
import os
import subprocess

import pytest

from conftest import REPO_ROOT, rows, run_cli, write_config
from test_scan import ids, kx_file, stored_ids

DRIVER = os.environ.get("STREAM_IMPORT_BIN",
                        str(REPO_ROOT / "build" / "tests" / "stream_import"))


def stream(config, *paths):
    if not os.access(DRIVER, os.X_OK):
        pytest.fail(f"test driver not found: {DRIVER} (run `make e2e`)")
    r = subprocess.run([DRIVER, config, *map(str, paths)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout.splitlines()


def ledger(db):
    return rows(db, "SELECT status, sha256, size_bytes, rows_inserted FROM cdr_file ORDER BY id")


def test_streamed_input_learns_its_checksum(workdir, dsn, db):
    data = kx_file(range(1, 301))  # more than one read of the driver's 4 KiB
    sha = hashlib.sha256(data).hexdigest()
    f = workdir / "inbox" / "Master.csv"
    f.write_bytes(data)
    config = write_config(workdir, dsn)

    assert stream(config, f) == [f"imported new=300 duplicate=0 rejected=0 sha256={sha}"]
    assert stored_ids(db) == ids(range(1, 301))
    assert ledger(db) == [("imported", sha, len(data), 300)]


def test_known_checksum_rolls_the_stream_back(workdir, dsn, db):
    """The same bytes streamed again: no row is written (the transaction
    is rolled back), the ledger says duplicate. Then a plain import of the
    same bytes under another name is a duplicate too, and the other way
    round: a streamed copy of a plainly imported file."""
    first = kx_file(range(1, 51))
    sha = hashlib.sha256(first).hexdigest()
    a = workdir / "inbox" / "a.csv"
    a.write_bytes(first)
    config = write_config(workdir, dsn)
    assert stream(config, a)[0].startswith("imported new=50 ")

    assert stream(config, a) == [f"duplicate new=0 duplicate=0 rejected=0 sha256={sha}"]
    assert ledger(db) == [("imported", sha, len(first), 50), ("duplicate", sha, len(first), 0)]
    assert rows(db, "SELECT count(*) FROM cdr")[0][0] == 50

    b = workdir / "b.csv"
    b.write_bytes(first)
    r = run_cli("import", b, config=config)
    assert r.returncode == 0, r.stderr
    assert "duplicate" in r.stderr, r.stderr

    second = kx_file(range(40, 81))  # rows 40-50 are stored already
    c = workdir / "c.csv"
    c.write_bytes(second)
    r = run_cli("import", c, config=config)
    assert r.returncode == 0, r.stderr
    sha2 = hashlib.sha256(second).hexdigest()
    assert stream(config, c) == [f"duplicate new=0 duplicate=0 rejected=0 sha256={sha2}"]
    assert stored_ids(db) == ids(range(1, 81))
    assert [s for (s, *_rest) in ledger(db)] == \
        ["imported", "duplicate", "duplicate", "imported", "duplicate"]


def test_streamed_rows_dedup_as_always(workdir, dsn, db):
    """A streamed input whose checksum is new but whose rows are partly
    stored: the new rows only."""
    config = write_config(workdir, dsn)
    a = workdir / "a.csv"
    a.write_bytes(kx_file(range(1, 21)))
    b = workdir / "b.csv"
    b.write_bytes(kx_file(range(11, 31)))
    out = stream(config, a, b)
    assert out[0].startswith("imported new=20 duplicate=0 ")
    assert out[1].startswith("imported new=10 duplicate=10 ")
    assert stored_ids(db) == ids(range(1, 31))


def test_known_checksum_of_a_large_stream(workdir, dsn, db):
    """Several batches (16 384 rows each): when the parse pass ends, the
    loader thread may still be sending the last full batch over the
    connection; the checksum question waits for it (it once shared the
    connection with it and hung). Streamed again, the same bytes roll back
    as a duplicate; the rows are there once."""
    data = kx_file(range(1, 40_001))
    sha = hashlib.sha256(data).hexdigest()
    f = workdir / "big.csv"
    f.write_bytes(data)
    config = write_config(workdir, dsn)

    assert stream(config, f) == [f"imported new=40000 duplicate=0 rejected=0 sha256={sha}"]
    assert stream(config, f) == [f"duplicate new=0 duplicate=0 rejected=0 sha256={sha}"]
    assert rows(db, "SELECT count(*), count(DISTINCT call_id) FROM cdr") == [(40000, 40000)]
    assert ledger(db) == [("imported", sha, len(data), 40000), ("duplicate", sha, len(data), 0)]
