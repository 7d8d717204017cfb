"""The cdr_file ledger, end to end: a file name that is not valid UTF-8
(common on SMB shares written by old Windows tools) is imported like any
other; cdr_file.path holds it escaped as text and cdr_file.path_raw its
exact bytes (schema version 3), and a version-2 database is migrated.

The binary is run with bytes output here: until log lines escape file
names, its stderr may carry the name's raw bytes."""
import os
import subprocess

from conftest import BIN, SCHEMA_VERSION, rows, write_config
from test_scan import ids, kx_file, stored_ids

NAME = b"Master-\xff\xfe.csv"


def cli(config, *args):
    """cdrimport -c config args... with bytes arguments and output."""
    return subprocess.run([BIN, "-c", config, *args], capture_output=True, timeout=60)


def drop(workdir, name, numbers):
    """A file of valid records named name (bytes) in the inbox; its path as bytes."""
    path = os.fsencode(workdir / "inbox") + b"/" + name
    with open(path, "wb") as f:
        f.write(kx_file(numbers))
    return path


def escaped(raw):
    """cdr_escape of a name without control characters: bytes that are not
    UTF-8 become \\xNN."""
    return raw.decode("utf-8", "backslashreplace")


def ledger(db):
    return [(s, p, bytes(r) if r is not None else None)
            for s, p, r in rows(db, "SELECT status, path, path_raw FROM cdr_file ORDER BY id")]


def test_import_name_not_utf8(workdir, dsn, db):
    path = drop(workdir, NAME, range(1, 4))
    config = write_config(workdir, dsn)

    r = cli(config, "import", path)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids(range(1, 4))
    assert ledger(db) == [("imported", escaped(path), path)]
    assert escaped(path).endswith("/Master-\\xff\\xfe.csv")
    # The same content again is a duplicate, recorded under the same name.
    r = cli(config, "import", path)
    assert r.returncode == 0, r.stderr
    assert ledger(db)[1:] == [("duplicate", escaped(path), path)]
    status = cli(config, "status")
    assert status.returncode == 0, status.stderr
    assert b"/Master-\\xff\\xfe.csv" in status.stdout


def test_scan_moves_name_not_utf8(workdir, dsn, db):
    drop(workdir, NAME, range(1, 4))
    config = write_config(workdir, dsn, on_success="move")

    r = cli(config, "scan")

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids(range(1, 4))
    assert os.listdir(os.fsencode(workdir / "inbox")) == []
    assert os.listdir(os.fsencode(workdir / "failed")) == []
    (moved,) = os.listdir(os.fsencode(workdir / "processed"))
    assert moved.startswith(b"Master-\xff\xfe"), moved
    ((status, path, raw),) = ledger(db)
    assert status == "imported"
    assert raw.endswith(b"/" + NAME) and path == escaped(raw)


def test_utf8_name_has_no_raw_copy(workdir, dsn, db):
    """A name that is valid text is stored as it is; path_raw stays NULL."""
    path = drop(workdir, "Zürich-Master.csv".encode(), range(1, 3))
    config = write_config(workdir, dsn)

    r = cli(config, "import", path)

    assert r.returncode == 0, r.stderr
    assert ledger(db) == [("imported", path.decode(), None)]


def test_version_2_ledger_is_migrated(workdir, dsn, db):
    """A database made before path_raw existed gets it on the next command;
    its ledger rows stay, and the next file with a non-UTF-8 name imports."""
    config = write_config(workdir, dsn)
    first = drop(workdir, b"Master-1.csv", range(1, 3))
    assert cli(config, "import", first).returncode == 0
    with db.cursor() as cur:
        cur.execute("ALTER TABLE cdr_file DROP COLUMN path_raw")
        cur.execute("DELETE FROM cdr_schema WHERE version > 2")
    second = drop(workdir, NAME, range(3, 5))

    r = cli(config, "import", second)

    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT max(version) FROM cdr_schema") == [(SCHEMA_VERSION,)]
    assert ledger(db) == [("imported", first.decode(), None),
                          ("imported", escaped(second), second)]
    assert stored_ids(db) == ids(range(1, 5))
