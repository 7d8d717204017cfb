"""Smoke tests: the CLI answers --version and --help, rejects an unknown
command with exit status 2, and init-db creates the schema."""
import re

from conftest import REPO_ROOT, rows, run_cli, write_config


def header_version():
    text = (REPO_ROOT / "include" / "cdrimport.h").read_text()
    return re.search(r'#define\s+CDRIMPORT_VERSION\s+"([^"]+)"', text).group(1)


def test_version():
    r = run_cli("--version")
    assert r.returncode == 0, r.stderr
    assert header_version() in r.stdout


def test_help():
    r = run_cli("--help")
    assert r.returncode == 0, r.stderr
    assert "init-db" in r.stdout + r.stderr


def test_unknown_command_is_usage_error(workdir, dsn):
    config = write_config(workdir, dsn)
    r = run_cli("frobnicate", config=config)
    assert r.returncode == 2, (r.stdout, r.stderr)


def test_init_db_creates_tables(workdir, dsn, db):
    config = write_config(workdir, dsn)
    r = run_cli("init-db", config=config)
    assert r.returncode == 0, (r.stdout, r.stderr)
    found = rows(db, "SELECT table_name FROM information_schema.tables"
                     " WHERE table_schema = 'public' ORDER BY 1")
    names = {name for (name,) in found}
    assert {"cdr", "cdr_file", "cdr_reject"} <= names
