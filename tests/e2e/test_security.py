"""End-to-end security checks: a password in the dsn never reaches the
output, whatever goes wrong with the connection; a schema name from the
config is quoted as an identifier, never pasted into SQL."""
import os
import re
import signal
import subprocess
import time

from conftest import BIN, rows, run_cli, write_config

SECRET = "s3cr3t-Pw0rd"
ROW = ('"","201","0312345678","SIP/201-00000001","DAHDI/1-1","","","",'
       '"2024-05-01 10:00:00","2024-05-01 10:00:05","2024-05-01 10:01:00",60,55,'
       '"ANSWERED","1714557600.1"\n')


def test_password_never_in_output(workdir):
    dead = [f"host=127.0.0.1 port=1 dbname=cdr user=cdr password={SECRET} connect_timeout=2",
            f"postgresql://cdr:{SECRET}@127.0.0.1:1/cdr?connect_timeout=2",
            f"postgresql://cdr:{SECRET}@127.0.0.1:1/cdr?bogus_option=1",
            f"host=127.0.0.1 port=1 password={SECRET} nonsense"]
    (workdir / "inbox" / "a.csv").write_text(ROW)
    for dsn in dead:
        config = write_config(workdir, dsn)
        for args in (("check",), ("init-db",), ("scan",), ("status",),
                     ("import", str(workdir / "inbox" / "a.csv"))):
            r = run_cli(*args, config=config, timeout=30)
            assert r.returncode in (2, 3), (dsn, args, r.stderr)
            assert SECRET not in r.stdout + r.stderr, (dsn, args, r.stderr)
        # The daemon logs the outage: without the password either.
        log = workdir / "watch.log"
        with open(log, "wb") as out:
            p = subprocess.Popen([BIN, "-c", config, "watch"], stdout=out, stderr=out)
            time.sleep(2.5)
            p.send_signal(signal.SIGTERM)
            assert p.wait(timeout=10) == 0
        text = log.read_text(errors="replace")
        assert "database unreachable" in text or "database.dsn" in text, text
        assert SECRET not in text, text


def test_schema_name_is_quoted(workdir, dsn, db):
    schema = 'cdr"; DROP TABLE x; --'
    config = write_config(workdir, dsn, top_level={"database": {"dsn": dsn, "schema": schema}})
    r = run_cli("init-db", config=config)
    assert r.returncode == 0, r.stderr
    f = workdir / "inbox" / "a.csv"
    f.write_text(ROW)
    r = run_cli("import", str(f), config=config)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT count(*) FROM information_schema.tables WHERE table_schema = %s"
                    " AND table_name IN ('cdr', 'cdr_file', 'cdr_reject')", schema)[0][0] == 3
    assert rows(db, 'SELECT caller_phone, call_id FROM "cdr""; DROP TABLE x; --".cdr') == \
        [("201", "1714557600.1")]


LOG_LINE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ cdrimport\[\d+\] (ERROR|WARN|INFO|DEBUG) ")


def test_hostile_file_names_stay_one_log_line(workdir, dsn, db):
    """A file name holding a newline and a fake log prefix cannot forge a log
    line, and raw ESC/BEL bytes in a name reach neither stderr nor the
    .error note: every outside string is escaped, one event is one line."""
    inbox = workdir / "inbox"
    forged = "Master\n2026-11-26T06:41:30Z cdrimport[1] INFO imported forged.csv"
    (inbox / forged).write_text(ROW)
    loud = "bell\x07\x1b[31mred.csv"
    (inbox / loud).write_text("not,a,cdr\n" * 3)
    config = write_config(workdir, dsn)

    r = subprocess.run([BIN, "-c", config, "-v", "scan"], capture_output=True, timeout=60)

    assert r.returncode == 1, r.stderr  # the second file failed
    assert rows(db, "SELECT call_id FROM cdr") == [("1714557600.1",)]
    err = r.stderr
    assert b"\x07" not in err and b"\x1b" not in err, err
    for line in err.splitlines():
        assert LOG_LINE.match(line), line
        assert not line.startswith(b"2026-11-26T06:41:30Z cdrimport[1]"), line
    assert b"Master\\n2026-11-26T06:41:30Z cdrimport[1] INFO imported forged.csv" in err, err
    assert b"bell\\x07\\x1b[31mred.csv" in err, err
    notes = list((workdir / "failed").glob("*.error"))
    assert len(notes) == 1, notes
    note = notes[0].read_bytes()
    assert b"\x07" not in note and b"\x1b" not in note, note
    assert b"file: " in note and b"bell\\x07\\x1b[31mred" in note, note
    assert len([ln for ln in note.splitlines() if ln.startswith(b"file: ")]) == 1, note
