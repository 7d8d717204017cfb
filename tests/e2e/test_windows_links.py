"""Links in a source folder, seen by cdrimport.exe under Wine: the rule of
Linux (a link counts only if it resolves inside the tree, the scan opens
nothing through one, moves and deletes act on the link itself) holds on
Windows too.

What reaches the Windows API here: Wine 8 shows a Unix symbolic link to a
file as a plain file (no FILE_ATTRIBUTE_REPARSE_POINT, no tag) that
GetFinalPathNameByHandleW resolves to its target, and one to a folder as
a folder with the reparse attribute but tag 0. CreateSymbolicLinkW returns
TRUE there but makes nothing, and FSCTL_SET_REPARSE_POINT (a junction)
fails with ERROR_NOT_SUPPORTED: Windows' own links and junctions cannot be
made under Wine, so their tag test in plat_link_win.c is not run here;
the final-path test, which both kinds also fail, is.

Run by `make windows-e2e` (CDRIMPORT_EXE set); skipped otherwise.
"""
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import EXE, FIXTURES, WINE, rows, run_cli, write_config
from test_windows import stop_watch

pytestmark = pytest.mark.skipif(not EXE, reason="CDRIMPORT_EXE unset (make windows-e2e)")

KXHTS = FIXTURES / "import" / "kxhts_basic.csv"
AST = FIXTURES / "import" / "asterisk16.csv"


def tree(root):
    return sorted(str(p.relative_to(root)) + ("@" if p.is_symlink() else "")
                  for p in root.rglob("*"))


def links_scene(workdir):
    outside = workdir / "outside"
    (outside / "sub").mkdir(parents=True)
    secret = outside / "secret.csv"
    shutil.copy(AST, secret)
    shutil.copy(AST, outside / "sub" / "Master.csv")
    inbox = workdir / "inbox"
    shutil.copy(KXHTS, inbox / "good.csv")
    (inbox / "link.csv").symlink_to(secret)
    (inbox / "up.csv").symlink_to("../outside/secret.csv")
    (inbox / "linkdir").symlink_to(outside / "sub", target_is_directory=True)
    (inbox / "dirlink.csv").symlink_to(outside / "sub", target_is_directory=True)
    return outside, tree(outside)


def test_links_out_of_the_tree_are_not_followed(db, dsn, workdir):
    outside, before = links_scene(workdir)
    inbox = workdir / "inbox"
    cfg = write_config(workdir, dsn, recursive=True)
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    # Only good.csv was read: nothing outside is in the ledger.
    got = rows(db, "SELECT path, status FROM cdr_file")
    assert len(got) == 1 and got[0][0].endswith("/inbox/good.csv") and got[0][1] == "imported"
    for name in ("link.csv", "up.csv", "dirlink.csv"):
        assert any(name in ln and re.search(r"symbolic link .*not followed", ln)
                   for ln in r.stderr.splitlines()), r.stderr
    # What the links point to is untouched, the links stay where they are,
    # and nothing was moved through them.
    assert tree(outside) == before
    assert (outside / "secret.csv").read_bytes() == AST.read_bytes()
    assert tree(inbox) == ["dirlink.csv@", "link.csv@", "linkdir@", "up.csv@"]
    assert [p.name.split(".")[0] for p in (workdir / "processed").iterdir()] == ["good"]


def test_link_inside_the_tree_is_failed_as_on_linux(db, dsn, workdir):
    inbox = workdir / "inbox"
    (inbox / "sub").mkdir()
    shutil.copy(KXHTS, inbox / "sub" / "t.csv")
    (inbox / "in.csv").symlink_to(inbox / "sub" / "t.csv")
    cfg = write_config(workdir, dsn, recursive=True)
    r = run_cli("scan", config=cfg, timeout=120)
    # As on Linux: the scan opens no file through a link (the link fails),
    # and the target is imported by its own name.
    assert r.returncode == 1, r.stderr
    assert "in.csv: cannot open: it is a symbolic link" in r.stderr, r.stderr
    got = rows(db, "SELECT path, status FROM cdr_file")
    assert [(p.rsplit("/", 2)[-2:], s) for p, s in got] == [(["sub", "t.csv"], "imported")]
    assert len(list((workdir / "processed").rglob("t.*.csv"))) == 1
    # Linux moves the link itself to failed/, and so does Windows for its
    # own links (MoveFileExW moves a reparse point, not its target). Wine
    # would move the target: the move is refused and the link stays.
    assert re.search(r"cannot move \S*in\.csv to .*: it is a symbolic link; left where it is",
                     r.stderr), r.stderr
    assert tree(inbox) == ["in.csv@", "sub"]
    assert [p for p in (workdir / "failed").iterdir() if p.suffix == ".csv"] == []


def test_import_of_a_named_link_follows_it(db, dsn, workdir):
    # `import FILE` names its file: a link is followed, as on Linux.
    (workdir / "named.csv").symlink_to(KXHTS)
    cfg = write_config(workdir, dsn)
    r = run_cli("import", workdir / "named.csv", config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT status FROM cdr_file") == [("imported",)]


def test_watch_skips_a_link_out_of_the_tree(db, dsn, workdir):
    outside, before = links_scene(workdir)
    inbox = workdir / "inbox"
    cfg = write_config(workdir, dsn, recursive=True, top_level={
        "watch": {"backend": "inotify", "poll_interval_ms": 200, "settle_ms": 300}})
    proc = subprocess.Popen([WINE, EXE, "-c", cfg, "-v", "watch"],
                            env=dict(os.environ, WINEDEBUG="-all"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        (inbox / "late.csv").symlink_to(outside / "secret.csv")
        shutil.copy(AST, inbox / "after.csv")
        deadline = time.time() + 60
        while time.time() < deadline and ((inbox / "good.csv").exists()
                                          or (inbox / "after.csv").exists()):
            time.sleep(0.3)
        time.sleep(2)
    finally:
        err = stop_watch(proc)
    got = sorted(p.rsplit("/", 1)[-1] for (p,) in rows(db, "SELECT path FROM cdr_file"))
    assert got == ["after.csv", "good.csv"], err
    # The link made after the watch began was noted by ReadDirectoryChangesW
    # and taken as a file: it failed without being read, and its target is
    # where it was (Linux moves such a link to failed/; see above).
    assert tree(outside) == before
    assert (inbox / "late.csv").is_symlink() and (inbox / "link.csv").is_symlink()
    assert re.search(r"failed \S*late\.csv: cannot open: it is a symbolic link", err), err
    assert re.search(r"link\.csv: symbolic link to outside the source folder .*not followed",
                     err), err
