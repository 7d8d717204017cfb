"""End-to-end tests of the Windows build (cdrimport.exe under Wine) against
the native test PostgreSQL over 127.0.0.1: import (its rows compared with
what the Linux binary stores from the same file), scan with move, file and
row dedup, damaged input, names in other scripts, the database down and
back, paths over MAX_PATH, `watch` with the poll backend (stopped by
Ctrl-C) and with ReadDirectoryChangesW (copied in, renamed in, a new nested
folder, a file held open by its writer while it pauses), and the service
(install, start and stop with Wine's sc.exe, uninstall).

Wine ends a prefix's services when its last ordinary program exits: the
service test keeps a cmd.exe open meanwhile.

Run by `make windows-e2e` (CDRIMPORT_EXE set); skipped otherwise. What Wine
cannot show (the service control manager, network shares) is not here.
"""
import gzip
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import pytest

from conftest import (BIN, EXE, FIXTURES, SHARED, WINE, connect, make_dsn, pg_start, pg_stop,
                      rows, run_cli, write_config)

pytestmark = pytest.mark.skipif(not EXE, reason="CDRIMPORT_EXE unset (make windows-e2e)")

REAL = SHARED / "fixtures" / "real"
BUGA = REAL / "BugaDM__TelephonySwitching__var_log_asterisk_cdr-csv_Master.csv"
KXHTS = FIXTURES / "import" / "kxhts_basic.csv"
# Every column of the view but the ones that name the file row.
COLS = ("source, call_id, caller_phone, dialed_phone, flag2, flag3, call_time, answer_time, "
        "end_time, total_duration_s, call_duration_s, call_type, account_code, src_channel, "
        "dst_channel, feature, extra, line_no, row_key")


def cdr_rows(db):
    return rows(db, f"SELECT {COLS} FROM cdr ORDER BY line_no, row_key")


def linux_import(tmp_path, src, **source):
    """The rows the Linux binary stores from src, in a database of its own
    (source: keys of the source in its importer.yaml)."""
    name = "t_" + uuid.uuid4().hex[:16]
    admin = connect()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    try:
        work = tmp_path / "linux"
        (work / "inbox").mkdir(parents=True)
        cfg = write_config(work, make_dsn(name), **source)
        subprocess.run([BIN, "-c", cfg, "import", str(src)], check=True, capture_output=True,
                       timeout=120)
        conn = connect(name)
        try:
            return cdr_rows(conn)
        finally:
            conn.close()
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def ledger(db):
    return rows(db, "SELECT status, rows_inserted, rows_duplicate, rows_rejected "
                    "FROM cdr_file ORDER BY id")


@pytest.mark.parametrize("src", [BUGA, KXHTS], ids=["asterisk", "kx-hts"])
def test_import_stores_what_linux_stores(db, dsn, workdir, tmp_path, src):
    cfg = write_config(workdir, dsn)
    r = run_cli("import", src, config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    got = cdr_rows(db)
    assert got and got == linux_import(tmp_path, src)
    # The ledger names the file as Windows does (drive Z: is Wine's /).
    (path,) = rows(db, "SELECT path FROM cdr_file")[0]
    assert path.endswith(src.name) and path[1:3] == ":/"


def test_shift_jis_file_stores_what_linux_stores(db, dsn, workdir, tmp_path):
    # A Japanese site's export in Shift-JIS: names in kanji and half-width
    # kana, and one damaged character (a lead byte before a space), which
    # both systems replace by U+FFFD and count as repaired.
    lines = [
        '"","201","0312345678","DAHDI/9-1","DAHDI/1-1","","東京本社","営業部 ｱｲｳ",'
        '"2024-05-06 09:15:00","2024-05-06 09:15:07","2024-05-06 09:17:37","157","150",'
        '"ANSWERED","1714986900.1"',
        '"","202","0612345678","DAHDI/9-1","DAHDI/1-1","","大阪支店","経理",'
        '"2024-05-06 10:15:00","2024-05-06 10:15:07","2024-05-06 10:17:37","157","150",'
        '"ANSWERED","1714990500.2"',
    ]
    data = ("\r\n".join(lines) + "\r\n").encode("cp932")
    assert b"\\" not in data and b"~" not in data  # where Shift-JIS and CP932 differ
    data = data.replace("経理".encode("cp932"), b"\x8c\x6f\x81 ")
    src = tmp_path / "Master-sjis.csv"
    src.write_bytes(data)
    cfg = write_config(workdir, dsn, encoding="shift_jis")
    r = run_cli("import", src, config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    got = cdr_rows(db)
    assert got == linux_import(tmp_path, src, encoding="shift_jis")
    text = " ".join(str(v) for row in got for v in row)
    assert "東京本社" in text and "営業部 ｱｲｳ" in text and "大阪支店" in text, text
    assert "\ufffd" in text
    assert rows(db, "SELECT rows_inserted, rows_repaired FROM cdr_file") == [(2, 1)]


def test_a_source_without_timezone_is_refused_with_the_hosts_zone(db, dsn, workdir):
    # Windows names its zones its own way ("W. Europe Standard Time"): with
    # no timezone: and no TZ, the program does not guess UTC in silence.
    cfg = write_config(workdir, dsn, timezone=None)
    r = run_cli("check", config=cfg, env={"TZ": None})
    assert r.returncode == 2, r.stderr
    assert re.search(r"sources\[0\]\.timezone: required on Windows: this host's zone "
                     r'\(".+"\) has no IANA name here; set the PBX clock\'s zone', r.stderr), \
        r.stderr
    # TZ naming an IANA zone is taken, as on Linux.
    r = run_cli("check", config=cfg, env={"TZ": "Europe/Berlin"})
    assert r.returncode == 0, r.stderr


def test_check_status_and_version(db, dsn, workdir):
    cfg = write_config(workdir, dsn)
    r = run_cli("check", config=cfg)
    assert r.returncode == 0, r.stderr
    assert run_cli("init-db", config=cfg).returncode == 0
    r = run_cli("status", config=cfg)
    assert r.returncode == 0, r.stderr
    r = run_cli("--version")
    assert r.returncode == 0 and "libcsv" in r.stdout and "linked statically" in r.stdout


def test_scan_moves_then_dedups_the_same_file(db, dsn, workdir):
    cfg = write_config(workdir, dsn)
    shutil.copy(BUGA, workdir / "inbox" / "Master.csv")
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not (workdir / "inbox" / "Master.csv").exists()
    moved = list((workdir / "processed").iterdir())
    assert len(moved) == 1 and moved[0].name.startswith("Master.")
    n = rows(db, "SELECT count(*) FROM cdr")[0][0]
    assert n > 0

    shutil.copy(BUGA, workdir / "inbox" / "Master.csv")
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    assert [s for s, *_ in ledger(db)] == ["imported", "duplicate"]
    assert rows(db, "SELECT count(*) FROM cdr")[0][0] == n
    assert len(list((workdir / "processed").iterdir())) == 2


def test_overlapping_downloads_store_each_row_once(db, dsn, workdir):
    lines = BUGA.read_bytes().splitlines(keepends=True)
    half = len(lines) // 2
    (workdir / "inbox" / "a").mkdir()
    (workdir / "inbox" / "a" / "Master.csv").write_bytes(b"".join(lines[:half]))
    cfg = write_config(workdir, dsn)
    assert run_cli("scan", config=cfg, timeout=120).returncode == 0
    (workdir / "inbox" / "Master.csv").write_bytes(b"".join(lines))
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    (first, second) = ledger(db)
    assert second[2] >= 1  # the first half again: duplicate rows
    assert rows(db, "SELECT count(*) FROM cdr")[0][0] == first[1] + second[1]


def test_packed_downloads(db, dsn, workdir):
    inbox = workdir / "inbox"
    with zipfile.ZipFile(inbox / "download.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(KXHTS, "export/Master.csv")
    with tarfile.open(inbox / "download.tar.gz", "w:gz") as t:
        t.add(BUGA, "Master.csv")
    (inbox / "Master.csv.gz").write_bytes(gzip.compress(
        (FIXTURES / "import" / "asterisk16.csv").read_bytes()))
    cfg = write_config(workdir, dsn)
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    got = rows(db, "SELECT member, status FROM cdr_file WHERE member IS NOT NULL ORDER BY member")
    assert ("export/Master.csv", "imported") in got and ("Master.csv", "imported") in got, got
    assert sorted(p.name for p in inbox.iterdir()) == []


def test_damaged_file_fails_with_a_note(db, dsn, workdir):
    shutil.copy(FIXTURES / "bad" / "no_valid_record.csv", workdir / "inbox" / "Master.csv")
    cfg = write_config(workdir, dsn)
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 1
    failed = sorted(p.name for p in (workdir / "failed").iterdir())
    assert any(n.endswith(".error") for n in failed), failed
    assert ledger(db)[0][0] == "failed"
    assert rows(db, "SELECT count(*) FROM cdr_reject")[0][0] > 0


def test_names_in_other_scripts(db, dsn, workdir):
    sub = workdir / "inbox" / "Zentrale Müller" / "Журнал 東京"
    sub.mkdir(parents=True)
    shutil.copy(KXHTS, sub / "Master é.csv")
    cfg = write_config(workdir, dsn)
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    (path,) = rows(db, "SELECT path FROM cdr_file")[0]
    assert path.endswith("Zentrale Müller/Журнал 東京/Master é.csv"), path
    moved = list((workdir / "processed").rglob("Master é.*.csv"))
    assert len(moved) == 1 and "Журнал 東京" in str(moved[0])


def test_database_down_then_back(db, dsn, workdir):
    shutil.copy(KXHTS, workdir / "inbox" / "Master.csv")
    cfg = write_config(workdir, dsn)
    assert run_cli("init-db", config=cfg).returncode == 0
    pg_stop()
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 3, r.stderr
    assert (workdir / "inbox" / "Master.csv").exists()
    pg_start()
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    assert not (workdir / "inbox" / "Master.csv").exists()
    again = connect(db.info.dbname)  # the stop closed the fixture's connection
    try:
        assert ledger(again)[0][0] == "imported"
    finally:
        again.close()


def start_watch(cfg):
    env = dict(os.environ, WINEDEBUG="-all")
    return subprocess.Popen([WINE, EXE, "-c", cfg, "-v", "watch"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_watch(proc):
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def wait_gone(paths, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline and any(p.exists() for p in paths):
        time.sleep(0.3)
    return [p for p in paths if p.exists()]


def test_watch_polls_and_imports(db, dsn, workdir):
    cfg = write_config(workdir, dsn, top_level={
        "watch": {"backend": "poll", "poll_interval_ms": 200, "settle_ms": 300}})
    proc = start_watch(cfg)
    left = None
    try:
        time.sleep(3)
        shutil.copy(KXHTS, workdir / "inbox" / "Master.csv")
        left = wait_gone([workdir / "inbox" / "Master.csv"])
    finally:
        # Wine turns SIGINT into the console's Ctrl-C event.
        err = stop_watch(proc)
    assert left == [], err
    assert ledger(db)[0][0] == "imported"
    assert "INFO stopping: 1 files imported" in err, err
    assert proc.returncode == 0


def test_watch_read_directory_changes(db, dsn, workdir):
    # backend: inotify is Windows' ReadDirectoryChangesW there. A long
    # rescan interval: what is imported here came by notification.
    cfg = write_config(workdir, dsn, top_level={
        "watch": {"backend": "inotify", "poll_interval_ms": 200, "settle_ms": 500,
                  "rescan_interval_s": 3600}})
    writer = os.environ.get("SLOW_WRITER")
    inbox = workdir / "inbox"
    # There before the watch: found by its first scan.
    shutil.copy(FIXTURES / "import" / "asterisk16.csv", inbox / "before.csv")
    proc = start_watch(cfg)
    left = None
    try:
        time.sleep(3)
        shutil.copy(KXHTS, inbox / "copied.csv")
        shutil.copy(BUGA, workdir / "renamed.tmp")
        os.rename(workdir / "renamed.tmp", inbox / "renamed.csv")
        (inbox / "new" / "nested").mkdir(parents=True)
        shutil.copy(FIXTURES / "import" / "asterisk16.csv", inbox / "new" / "nested" / "n.csv")
        expect = [inbox / "before.csv", inbox / "copied.csv", inbox / "renamed.csv",
                  inbox / "new" / "nested" / "n.csv"]
        slow = None
        if writer:
            # Half the file, a pause far longer than settle_ms, the rest.
            slow = subprocess.Popen([WINE, writer, str(BUGA), str(inbox / "slow.csv"), "4000"],
                                    env=dict(os.environ, WINEDEBUG="-all"))
            expect.append(inbox / "slow.csv")
            time.sleep(1)
        left = wait_gone(expect, timeout=90)
        if slow:
            assert slow.wait(timeout=30) == 0
    finally:
        err = stop_watch(proc)
    assert left == [], err
    assert "ReadDirectoryChangesW backend" in err, err
    got = rows(db, "SELECT path, status, rows_read FROM cdr_file ORDER BY id")
    assert {s for _, s, _ in got} <= {"imported", "duplicate"}, got
    if writer:
        lines = len(BUGA.read_bytes().splitlines())
        slow_rows = [(s, n) for p, s, n in got if p.endswith("/slow.csv")]
        # Taken once, whole: never the half seen during the pause.
        assert slow_rows == [("duplicate", 0)] or (len(slow_rows) == 1 and
                                                   slow_rows[0][1] >= lines - 1), slow_rows


def test_path_longer_than_max_path(db, dsn, workdir):
    deep = workdir / "inbox" / "/".join(["d" * 60] * 5)
    deep.mkdir(parents=True)
    shutil.copy(KXHTS, deep / "Master.csv")
    assert len(str(deep / "Master.csv")) > 300
    cfg = write_config(workdir, dsn)
    r = run_cli("scan", config=cfg, timeout=120)
    assert r.returncode == 0, r.stderr
    assert ledger(db)[0][0] == "imported"
    assert len(list((workdir / "processed").rglob("Master.*.csv"))) == 1


def sc(*args):
    """Wine's own sc.exe, talking to Wine's service control manager. Its
    output goes through a file: the manager it may start inherits a pipe
    and would hold it open for as long as it runs."""
    with tempfile.TemporaryFile(mode="w+") as out:
        r = subprocess.run([WINE, "sc", *args], stdout=out, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=60,
                           env=dict(os.environ, WINEDEBUG="-all"))
        out.seek(0)
        return subprocess.CompletedProcess(r.args, r.returncode, out.read(), "")


@pytest.mark.parametrize("log_file,made", [(None, True), ("logs/service.log", True),
                                           ("logs/service.log", False)],
                         ids=["beside-config", "log_file", "log_file-folder-missing"])
def test_service_install_start_stop_uninstall(db, dsn, workdir, log_file, made):
    """The service logs beside its config, or to the file log_file names
    (relative to the config's folder); a log_file it cannot open (its
    folder not made) leaves the log beside the config, saying why."""
    top = {"watch": {"poll_interval_ms": 200, "settle_ms": 300}}
    if log_file:
        if made:
            (workdir / "logs").mkdir()
        top["log_file"] = log_file
    cfg = write_config(workdir, dsn, top_level=top)
    # A Wine process kept alive keeps wineserver and its service manager up
    # for the whole test. The manager starts with wineserver, after it: an
    # install in the first moment of a fresh prefix met "RPC server
    # unavailable" (Windows error 1722), which real Windows never shows.
    keeper = subprocess.Popen([WINE, "cmd"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=dict(os.environ, WINEDEBUG="-all"))
    deadline = time.time() + 30
    while time.time() < deadline and "1722" in sc("query", "cdrimport").stdout:
        time.sleep(0.5)
    r = run_cli("service", "install", config=cfg)
    try:
        assert r.returncode == 0, r.stderr
        assert "service cdrimport installed" in r.stdout
        assert (log_file or "cdrimport.log") in r.stdout, r.stdout
        log = workdir / (log_file if made and log_file else "cdrimport.log")
        # Wine's manager may have started it already (start: automatic),
        # and then sc start fails: what counts is that it runs.
        sc("start", "cdrimport")
        deadline = time.time() + 30
        while time.time() < deadline and "RUNNING" not in sc("query", "cdrimport").stdout:
            time.sleep(0.5)
        shutil.copy(KXHTS, workdir / "inbox" / "Master.csv")
        left = wait_gone([workdir / "inbox" / "Master.csv"], timeout=60)
        assert left == [], log.read_text() if log.exists() else "no log"
        r = sc("stop", "cdrimport")
        assert r.returncode == 0, r.stdout + r.stderr
        deadline = time.time() + 20
        while time.time() < deadline and "INFO stopping:" not in log.read_text():
            time.sleep(0.3)
        text = log.read_text()
        assert "started by the service control manager" in text, text
        assert "INFO stopping: 1 files imported" in text, text
        if log_file and not made:
            assert "log_file " in text and "logging to " in text, text
    finally:
        r = run_cli("service", "uninstall")
        keeper.stdin.close()
        keeper.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    assert ledger(db)[0][0] == "imported"

