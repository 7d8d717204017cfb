"""End-to-end test helpers: the real cdrimport binary against a real
PostgreSQL (started by tests/e2e/run.sh, reached through PG* variables).

Fixtures: db (a fresh database per test, autocommit psycopg2 connection),
dsn (libpq keyword string for it), workdir (tmp_path with inbox/, processed/,
failed/). Helpers, importable with `from conftest import ...`: write_config,
run_cli, rows, connect, pg_stop, pg_start, and the paths BIN, REPO_ROOT,
SHARED (shared/, real fixtures in SHARED/fixtures/real), FIXTURES.
"""
import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

# The schema version a fresh database reaches: the number of migrations in
# src/sql.c.
SCHEMA_VERSION = 11

REPO_ROOT = Path(__file__).resolve().parents[2]
# `make e2e` sets SHARED (scripts/shared-dir); ../shared otherwise.
SHARED = Path(os.environ.get("SHARED") or REPO_ROOT.parent / "shared")
FIXTURES = REPO_ROOT / "fixtures"
BIN = os.environ.get("CDRIMPORT_BIN", str(REPO_ROOT / "build" / "cdrimport"))
# The Windows build under Wine (`make windows-e2e`): CDRIMPORT_EXE names
# cdrimport.exe, which run_cli starts with $WINE. Wine has no unix sockets
# for it: the dsn fixture then points at the server's TCP port on
# 127.0.0.1 (scripts/pg.sh listens there with CDR_PG_LISTEN).
EXE = os.environ.get("CDRIMPORT_EXE")
WINE = os.environ.get("WINE", "/usr/lib/wine/wine64")

_pg_stopped = False


def make_dsn(dbname):
    """libpq keyword string for dbname on the test server (PG* variables)."""
    kw = {"dbname": dbname}
    for var, key in (("PGHOST", "host"), ("PGPORT", "port"), ("PGUSER", "user")):
        if os.environ.get(var):
            kw[key] = os.environ[var]
    return psycopg2.extensions.make_dsn(**kw)


def connect(dbname="postgres"):
    """A new autocommit connection to dbname on the test server."""
    conn = psycopg2.connect(make_dsn(dbname))
    conn.autocommit = True
    return conn


# The import lock of source "office", write_config's (sql.c SQL_IMPORT_LOCK):
# every first attempt holds it shared; a retry waits until it can take it
# alone.
IMPORT_LOCK = "hashtext('cdrimport import'), hashtext('office')"


def hold_rows_uncommitted(db, dsn):
    """Move every stored row into a transaction of its own, left open, and
    return its connection: a file holding those rows now meets them as
    another importer's, uncommitted (its COPY waits; the commit then makes
    the key refuse them)."""
    cur = db.cursor()
    cur.execute("CREATE TABLE saved AS SELECT * FROM cdr_row")
    cur.execute("DELETE FROM cdr_row")
    other = psycopg2.connect(dsn)
    other.cursor().execute("INSERT INTO cdr_row SELECT * FROM saved")
    return other


def rows(db, sql, *params):
    """Run sql (with %s params) on connection db; return fetchall()."""
    with db.cursor() as cur:
        cur.execute(sql, params if params else None)
        return cur.fetchall()


def wait_for_copy(dbname, proc, timeout=60):
    """Wait until the importer (process proc, still running) has a
    transaction sending rows: a COPY into cdr, seen in pg_stat_activity."""
    admin = connect()
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert proc.poll() is None, "the import ended before it could be interrupted"
            got = rows(admin, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
                              " AND application_name = 'cdrimport' AND xact_start IS NOT NULL"
                              " AND query ILIKE %s", dbname, "%COPY%cdr%")
            if got[0][0]:
                return
            time.sleep(0.02)
        pytest.fail("the importer never started its COPY")
    finally:
        admin.close()


def _pg_script(action):
    script = os.environ.get("CDR_PG_SCRIPT")
    data = os.environ.get("PGDATA_DIR")
    if not script or not data:
        pytest.skip("the test cluster is not ours (PGDATA_DIR/CDR_PG_SCRIPT unset)")
    args = ["bash", script, action, data]
    if action == "start" and os.environ.get("PGPORT"):
        args.append(os.environ["PGPORT"])
    subprocess.run(args, check=True, timeout=120)


def pg_stop():
    """Stop the test cluster (for 'database down' tests). Restarted after
    the test at the latest."""
    global _pg_stopped
    _pg_stopped = True
    _pg_script("stop")


def pg_start():
    """Start the test cluster again (same socket and port)."""
    global _pg_stopped
    _pg_script("start")
    _pg_stopped = False


@pytest.fixture(autouse=True)
def _restart_pg_after_test():
    yield
    if _pg_stopped:
        pg_start()


def _yaml(value):
    # JSON scalars and flow collections are valid YAML.
    return json.dumps(value, ensure_ascii=False)


def write_config(workdir, dsn, *, top_level=None, **source_overrides):
    """Write workdir/importer.yaml with one source "office" reading
    workdir/inbox (timezone UTC) and return its path as str. Keyword
    arguments override or add source keys (a value of None removes the key);
    top_level adds or overrides top-level keys (e.g. {"watch": {...}})."""
    workdir = Path(workdir)
    source = {
        "name": "office",
        "path": str(workdir / "inbox"),
        "processed_dir": str(workdir / "processed"),
        "failed_dir": str(workdir / "failed"),
        "timezone": "UTC",
    }
    for key, value in source_overrides.items():
        if value is None:
            source.pop(key, None)
        else:
            source[key] = value
    top = {"database": {"dsn": dsn}}
    top.update(top_level or {})
    lines = []
    for key, value in top.items():
        if isinstance(value, dict):
            lines.append(f"{key}:")
            lines += [f"  {k}: {_yaml(v)}" for k, v in value.items()]
        else:
            lines.append(f"{key}: {_yaml(value)}")
    lines.append("sources:")
    first = True
    for key, value in source.items():
        lines.append(f"  {'- ' if first else '  '}{key}: {_yaml(value)}")
        first = False
    path = workdir / "importer.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def run_cli(*args, config=None, timeout=60, env=None, cwd=None, input=None):
    """Run cdrimport [-c config] args...; return the CompletedProcess (text,
    stdout/stderr captured). env entries are added to the environment (a
    value of None removes the variable)."""
    if EXE:
        if not os.path.exists(EXE):
            pytest.fail(f"cdrimport.exe not found: {EXE} (run `make windows`)")
    elif not os.access(BIN, os.X_OK):
        pytest.fail(f"cdrimport binary not found: {BIN} (run `make`)")
    full_env = os.environ.copy()
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = str(value)
    cmd = [WINE, EXE] if EXE else [BIN]
    if config is not None:
        cmd += ["-c", str(config)]
    cmd += [str(a) for a in args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          env=full_env, cwd=cwd, input=input)


@pytest.fixture
def db():
    """A fresh database (from template0) per test; yields an autocommit
    connection to it and drops it WITH (FORCE) afterwards."""
    name = "t_" + uuid.uuid4().hex[:16]
    admin = connect()
    try:
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        admin.close()
    conn = connect(name)
    try:
        yield conn
    finally:
        try:
            conn.close()
        except psycopg2.Error:
            pass
        if _pg_stopped:
            pg_start()
        admin = connect()
        try:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.close()


@pytest.fixture
def dsn(db):
    """libpq keyword string for the test's database (over TCP on 127.0.0.1
    for the Windows build under Wine)."""
    if EXE:
        return psycopg2.extensions.make_dsn(
            host="127.0.0.1", port=os.environ.get("PGPORT", "5432"),
            user=os.environ.get("PGUSER", "cdr"), dbname=db.info.dbname)
    return make_dsn(db.info.dbname)


@pytest.fixture
def workdir(tmp_path):
    """tmp_path with inbox/, processed/ and failed/ folders."""
    for sub in ("inbox", "processed", "failed"):
        (tmp_path / sub).mkdir()
    return tmp_path
