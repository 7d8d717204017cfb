"""End-to-end tests of a newcomer's first minutes: `cdrimport init` in an
empty folder (a commented importer.yaml that loads, ./inbox, the host's
zone, a dsn from the PG* environment), then the first Asterisk file dropped
into the inbox imports with `format: auto`; `--version` names the
libraries; the bash completion offers commands, options and the source
names of the configuration in use.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO_ROOT, rows, run_cli
from test_import import BUGA

COMPLETION = REPO_ROOT / "completion" / "cdrimport"
BASH_COMPLETION = Path("/usr/share/bash-completion/bash_completion")


def pg_env(db):
    """The PG* variables that point at the test's database."""
    env = {"PGDATABASE": db.info.dbname, "PGUSER": os.environ.get("PGUSER")}
    for var in ("PGHOST", "PGPORT"):
        env[var] = os.environ.get(var)
    return env


def test_init_then_first_asterisk_file(tmp_path, db):
    env = pg_env(db)
    r = run_cli("init", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    cfg = tmp_path / "importer.yaml"
    text = cfg.read_text()
    assert "format: auto" in text and "path: ./inbox" in text
    assert f"dbname={db.info.dbname}" in text
    assert (tmp_path / "inbox").is_dir()
    assert "wrote " in r.stdout and "next: cdrimport check" in r.stdout
    # the file checks out against the test's database, with no PG* set now
    bare = {k: None for k in ("PGDATABASE", "PGUSER")}
    r = run_cli("check", cwd=tmp_path, env=bare)
    assert r.returncode == 0, r.stderr
    assert "source pbx: " + str(tmp_path / "inbox") + " (auto," in r.stdout
    # the newcomer's first file: Asterisk, into the default inbox
    shutil.copy(BUGA, tmp_path / "inbox" / "Master.csv")
    r = run_cli("scan", cwd=tmp_path, env=bare)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT format, status FROM cdr_file") == [("asterisk", "imported")]
    assert list((tmp_path / "processed").iterdir())


def test_init_refuses_to_replace_unless_forced(tmp_path):
    cfg = tmp_path / "importer.yaml"
    cfg.write_text("# mine\n")
    r = run_cli("init", cwd=tmp_path)
    assert r.returncode == 2
    assert "exists: not replaced" in r.stderr and "--force" in r.stderr
    assert cfg.read_text() == "# mine\n"
    r = run_cli("init", "--force", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "format: auto" in cfg.read_text()


def test_init_without_pg_env_leaves_dsn_out(tmp_path):
    env = {v: None for v in ("PGHOST", "PGPORT", "PGDATABASE", "PGUSER")}
    r = run_cli("init", cwd=tmp_path, env={**env, "TZ": "Europe/Berlin"})
    assert r.returncode == 0, r.stderr
    text = (tmp_path / "importer.yaml").read_text()
    assert "\n  dsn:" not in text and "# dsn:" in text
    assert "timezone: 'Europe/Berlin'" in text


def test_init_writes_where_c_says(tmp_path):
    target = tmp_path / "etc" / "cdr.yaml"
    target.parent.mkdir()
    r = run_cli("init", config=target, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert target.exists() and (tmp_path / "etc" / "inbox").is_dir()
    assert f"next: cdrimport -c {target} check" in r.stdout


def test_init_takes_no_arguments_and_no_other_options(tmp_path):
    assert run_cli("init", "x", cwd=tmp_path).returncode == 2
    r = run_cli("init", "--dry-run", cwd=tmp_path)
    assert r.returncode == 2 and "--dry-run goes with import" in r.stderr


def test_version_names_the_libraries(tmp_path):
    r = run_cli("--version", cwd=tmp_path)
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"cdrimport \d+\.\d+\.\d+", lines[0])
    assert re.fullmatch(r"libpq \d+\.\d+(\.\d+)?", lines[1])
    assert re.fullmatch(r"libcsv \d+\.\d+\.\d+ \(headers; loaded: /\S*libcsv\.so[.\d]*\)",
                        lines[2]), lines[2]
    assert re.fullmatch(r"libyaml \d+\.\d+\.\d+", lines[3])
    assert re.fullmatch(r"libcurl \d+\.\d+\.\d+ \(.+\)", lines[4])
    assert re.fullmatch(r"libarchive \d+\.\d+\.\d+", lines[5])
    assert len(lines) == 6


def complete(words, cwd, env=None):
    """What the completion offers for the words typed (the last one being
    completed), run in a bash with bash-completion loaded."""
    if not BASH_COMPLETION.exists():
        pytest.skip("bash-completion is not installed (scripts/deps.sh installs it)")
    script = (f"source {BASH_COMPLETION}; source {COMPLETION}; "
              f"COMP_WORDS=({' '.join(repr(w) for w in words)}); "
              f"COMP_CWORD={len(words) - 1}; COMP_LINE={' '.join(words)!r}; "
              f"COMP_POINT=${{#COMP_LINE}}; _cdrimport; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=cwd,
                       env={**os.environ, **(env or {})}, timeout=30)
    assert r.returncode == 0, r.stderr
    return sorted(x for x in r.stdout.splitlines() if x)


def test_bash_completion(tmp_path):
    (tmp_path / "other.yaml").write_text(
        "sources:\n  - name: office   # the main PBX\n    path: ./a\n"
        "  - path: ./b\n    name: 'branch'\n    fetch:\n      username: INSTALLER\n")
    (tmp_path / "importer.yaml").write_text("sources:\n  - name: here\n    path: ./x\n")
    assert complete(["cdrimport", "i"], tmp_path) == ["import", "init", "init-db"]
    assert complete(["cdrimport", "--v"], tmp_path) == ["--verbose", "--version"]
    assert complete(["cdrimport", "import", "--"], tmp_path) == \
        ["--dry-run", "--force", "--help", "--jobs", "--source"]
    assert complete(["cdrimport", "init", ""], tmp_path) == ["--force", "--help"]
    assert complete(["cdrimport", "import", "--source", ""], tmp_path) == ["here"]
    assert complete(["cdrimport", "-c", "other.yaml", "fetch", "--source", ""], tmp_path) == \
        ["branch", "office"]
    assert complete(["cdrimport", "import", "--source", ""], tmp_path,
                    {"CDRIMPORT_CONFIG": str(tmp_path / "other.yaml")}) == ["branch", "office"]


@pytest.mark.skipif(os.geteuid() != 0, reason="root only: the postgres user runs the cluster")
def test_pg_sh_in_a_folder_postgres_cannot_reach(tmp_path):
    """As root in a clone the postgres user cannot reach (under /root, mode
    700), `scripts/pg.sh start .pg` (what scripts/run does) keeps the
    cluster in /var/lib/cdrimport and makes .pg a link to it: .pg/run is
    still the socket, and the empty folders an earlier refused start left
    in .pg are replaced."""
    import psycopg2

    home = tmp_path / "root"
    home.mkdir(mode=0o700)
    home.chmod(0o700)
    repo = home / "clone"
    (repo / ".pg" / "run").mkdir(parents=True)
    (repo / ".pg" / "log").mkdir()
    pg_sh = ["bash", str(REPO_ROOT / "scripts" / "pg.sh")]
    port = "54398"
    target = None
    try:
        r = subprocess.run(pg_sh + ["start", ".pg", port], cwd=repo, capture_output=True,
                           text=True, timeout=180)
        assert r.returncode == 0, r.stderr
        assert "cannot reach" in r.stderr, r.stderr
        assert (repo / ".pg").is_symlink()
        target = os.readlink(repo / ".pg")
        assert target.startswith("/var/lib/cdrimport/pg-"), target
        conn = psycopg2.connect(host=str(repo / ".pg" / "run"), port=port, user="cdr",
                                dbname="cdr")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT current_setting('data_directory')")
                assert cur.fetchone()[0] == target + "/data"
        finally:
            conn.close()
    finally:
        subprocess.run(pg_sh + ["stop", ".pg"], cwd=repo, capture_output=True, timeout=120)
        if target:
            shutil.rmtree(target, ignore_errors=True)
