"""The connection, end to end: a dsn with more options than a fixed-size
array once held still connects where its last option says (db.c,
db_params_build)."""
import psycopg2.extensions

from conftest import run_cli, write_config
from test_scan import ids, kx_file, stored_ids


def quoted(value):
    """A libpq conninfo value, quoted."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def test_dsn_with_seventy_options(workdir, dsn, db):
    """A wrong database and port first, then filler options, then the test's
    own settings with its database last: only if every option reaches libpq
    does the import land here."""
    real = psycopg2.extensions.parse_dsn(dsn)
    head = ["dbname=no_such_database", "port=1"]
    tail = [f"{k}={quoted(v)}" for k, v in real.items() if k != "dbname"]
    tail.append(f"dbname={quoted(real['dbname'])}")
    filler = [f"application_name=filler{i}" for i in range(70 - len(head) - len(tail))]
    opts = head + filler + tail
    assert len(opts) == 70
    (workdir / "inbox" / "Master.csv").write_bytes(kx_file([1, 2]))
    config = write_config(workdir, " ".join(opts))

    r = run_cli("scan", config=config)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids([1, 2])
