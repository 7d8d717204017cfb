"""TLS from cdrimport.exe to PostgreSQL under Wine: libpq built with
OpenSSL 3.0 (tools/windows/build-deps.sh) against the test server switched
to ssl=on with a self-signed certificate. sslmode=require imports;
verify-full with the certificate as sslrootcert (a Windows path) imports,
and refuses a certificate it was not given; with the server's TLS off,
sslmode=require fails as a database outage (exit 3) with the file left.

Run by `make windows-e2e` (CDRIMPORT_EXE set) against the cluster run.sh
starts (PGDATA_DIR); skipped otherwise.
"""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import EXE, FIXTURES, connect, rows, run_cli, write_config
from fetch_helpers import make_certificate

pytestmark = [
    pytest.mark.skipif(not EXE, reason="CDRIMPORT_EXE unset (make windows-e2e)"),
    pytest.mark.skipif(not os.environ.get("PGDATA_DIR"),
                       reason="needs the cluster run.sh starts (PGDATA_DIR)"),
]

KXHTS = FIXTURES / "import" / "kxhts_basic.csv"


def set_ssl(on, cert=None, key=None):
    data = Path(os.environ["PGDATA_DIR"]) / "data"
    admin = connect()
    try:
        with admin.cursor() as cur:
            if on:
                for src, name in ((cert, "cdr-test.crt"), (key, "cdr-test.key")):
                    shutil.copy(src, data / name)
                    os.chmod(data / name, 0o600)
                    shutil.chown(data / name, "postgres", "postgres")
                cur.execute("ALTER SYSTEM SET ssl_cert_file = 'cdr-test.crt'")
                cur.execute("ALTER SYSTEM SET ssl_key_file = 'cdr-test.key'")
                cur.execute("ALTER SYSTEM SET ssl = on")
            else:
                for k in ("ssl", "ssl_cert_file", "ssl_key_file"):
                    cur.execute(f"ALTER SYSTEM RESET {k}")
            cur.execute("SELECT pg_reload_conf()")
    finally:
        admin.close()
    # The reload is asynchronous: wait until a new session sees it.
    for _ in range(100):
        c = connect()
        try:
            if rows(c, "SHOW ssl")[0][0] == ("on" if on else "off"):
                return
        finally:
            c.close()
        subprocess.run(["sleep", "0.1"])
    pytest.fail("the server did not take the ssl setting")


@pytest.fixture
def tls_server(tmp_path):
    (tmp_path / "certs").mkdir()
    cert, key, _ = make_certificate(tmp_path / "certs", cn="127.0.0.1")
    set_ssl(True, cert, key)
    try:
        yield cert
    finally:
        set_ssl(False)


def ledger(db):
    return rows(db, "SELECT status, rows_inserted FROM cdr_file ORDER BY id")


def test_sslmode_require_imports(db, dsn, workdir, tls_server):
    shutil.copy(KXHTS, workdir / "inbox" / "Master.csv")
    cfg = write_config(workdir, dsn + " sslmode=require")
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    assert ledger(db) == [("imported", 7)]
    assert not (workdir / "inbox" / "Master.csv").exists()


def test_verify_full_with_the_servers_certificate(db, dsn, workdir, tls_server, tmp_path):
    # sslrootcert with a drive (Wine's Z: is /) and '/': in a dsn, libpq
    # reads '\' inside quotes as an escape.
    root = "Z:" + tls_server
    cfg = write_config(workdir, dsn + f" sslmode=verify-full sslrootcert='{root}'")
    r = run_cli("import", KXHTS, config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    assert ledger(db) == [("imported", 7)]

    # Another certificate as the root: the server is refused, nothing stored.
    (tmp_path / "other").mkdir()
    other, _, _ = make_certificate(tmp_path / "other", cn="127.0.0.1")
    shutil.copy(KXHTS, workdir / "inbox" / "Master.csv")
    cfg = write_config(workdir, dsn + f" sslmode=verify-full sslrootcert='Z:{other}'")
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 3, r.stderr
    assert "certificate verify failed" in r.stderr, r.stderr
    assert (workdir / "inbox" / "Master.csv").exists()
    assert ledger(db) == [("imported", 7)]


def test_sslmode_require_without_tls_on_the_server(db, dsn, workdir):
    shutil.copy(KXHTS, workdir / "inbox" / "Master.csv")
    cfg = write_config(workdir, dsn + " sslmode=require")
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 3, r.stderr
    assert "does not support SSL" in r.stderr, r.stderr
    assert (workdir / "inbox" / "Master.csv").exists()
