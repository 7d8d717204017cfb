"""The connection, end to end: a dsn with more options than a fixed-size
array once held still connects where its last option says (db.c,
db_params_build)."""
import psycopg2.extensions

from conftest import rows, run_cli, write_config


def kx_line(i):
    """A valid KX-HTS record (bytes, no newline) with call ID '<epoch>.<i>'."""
    fields = ["", f"{200 + i}", f"03{i:08d}", f"SIP/{200 + i}-{i:08x}",
              f"SIP/carrier1_x-{i:08x}", "", "", "", f"2023-01-05 10:{i:02d}:00",
              f"2023-01-05 10:{i:02d}:05", f"2023-01-05 10:{i:02d}:59", "59", "54", "ANSWERED",
              f"{1672912800 + i}.{i}"]
    return ",".join(f'"{f}"' for f in fields).encode()


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
    (workdir / "inbox" / "Master.csv").write_bytes(kx_line(1) + b"\n" + kx_line(2) + b"\n")
    config = write_config(workdir, " ".join(opts))

    r = run_cli("scan", config=config)

    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT call_id FROM cdr ORDER BY 1") == [("1672912801.1",),
                                                              ("1672912802.2",)]
