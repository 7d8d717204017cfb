"""Helpers for the fetch tests (test_fetch*.py): a fake KX-HTS in External
Application mode (tests/fakepbx.py) on 127.0.0.1, importer.yaml files with
fetch sources, and checks of where the spooled responses ended.

* pbx fixture: a FakePBX with Basic auth (INSTALLER / PASSWORD), stopped
  after the test; make_pbx() for more or other ones.
* fetch_source(workdir, name, url, **fetch): one source dict; its spool is
  workdir/<name>/spool, processed and failed beside it. interval_s 1,
  timeout_s 5, connect_timeout_s 2 and min_free_bytes 0 unless given; the
  password goes to a password_file (mode 0600) unless password=None.
* write_sources(workdir, dsn, sources): importer.yaml; returns its path.
* visible(folder): the names of the files a person sees (no .name, no .error).
* expected(lines): the identities of KX-HTS lines, as Db.identities() has them.
"""
import csv
import io
import os
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, _yaml

sys.path.insert(0, str(REPO_ROOT / "tests"))
from fakepbx import FakePBX, make_certificate  # noqa: E402,F401

PASSWORD = "Pbx-Secret-7291"
USER = "INSTALLER"


def make_pbx(**kw):
    kw.setdefault("user", USER)
    kw.setdefault("password", PASSWORD)
    return FakePBX(**kw).start()


@pytest.fixture
def pbx():
    p = make_pbx()
    try:
        yield p
    finally:
        p.stop()


def fetch_source(workdir, name, url, *, password=PASSWORD, source=None, **fetch):
    base = Path(workdir) / name
    spool = base / "spool"
    spool.mkdir(parents=True, exist_ok=True)
    block = {"url": url, "interval_s": 1, "timeout_s": 5, "connect_timeout_s": 2,
             "min_free_bytes": 0}
    if password is not None:
        pw = base / "password"
        pw.write_text(password + "\n")
        os.chmod(pw, 0o600)
        block["username"] = USER
        block["password_file"] = str(pw)
    for key, value in fetch.items():
        if value is None:
            block.pop(key, None)
        else:
            block[key] = value
    src = {"name": name, "path": str(spool), "processed_dir": str(base / "processed"),
           "failed_dir": str(base / "failed"), "timezone": "UTC", "fetch": block}
    src.update(source or {})
    return src


def spool_of(src):
    return Path(src["path"])


def processed_of(src):
    return Path(src["processed_dir"])


def failed_of(src):
    return Path(src["failed_dir"])


def write_sources(workdir, dsn, sources, top_level=None, name="importer.yaml"):
    lines = [f"database:\n  dsn: {_yaml(dsn)}"]
    for key, value in (top_level or {}).items():
        lines.append(f"{key}: {_yaml(value)}")
    lines.append("sources:")
    for src in sources:
        first = True
        for key, value in src.items():
            lines.append(f"  {'- ' if first else '  '}{key}: {_yaml(value)}")
            first = False
    path = Path(workdir) / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def visible(folder):
    folder = Path(folder)
    if not folder.exists():
        return []
    return sorted(p.name for p in folder.iterdir()
                  if p.is_file() and not p.name.startswith(".") and not p.name.endswith(".error"))


def hidden_parts(folder):
    return sorted(p for p in Path(folder).iterdir() if p.name.endswith(".part"))


def expected(lines):
    return {(rec[14], rec[4]) for rec in csv.reader(io.StringIO("".join(lines))) if rec}
