"""Bad input, end to end: issue 2's "Bad input: a clear error, and nothing
lost", one test (or parameter) per bullet, against the real binary, a real
PostgreSQL and real folders.

Hand-made KX-HTS files (15 columns, the default profile) are in
fixtures/bad/ (see its README.md); big and binary inputs are generated here,
once per module, by streaming into a temp folder.
"""
import csv
import hashlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from conftest import (BIN, FIXTURES, connect, pg_start, pg_stop, rows, run_cli, wait_for_copy,
                      write_config)

BAD = FIXTURES / "bad"
MB = 1024 * 1024


# ---- helpers ------------------------------------------------------------------

def kx_line(i, *, caller=None):
    """A valid KX-HTS record (bytes, no newline) with call ID '<epoch>.<i>'."""
    m = i % 60
    fields = ["", caller or f"{200 + i % 100}", f"03{i:08d}", f"SIP/{200 + i % 100}-{i:08x}",
              f"SIP/carrier1_x-{i:08x}", "", "", "", f"2023-01-05 10:{m:02d}:00",
              f"2023-01-05 10:{m:02d}:05", f"2023-01-05 10:{m:02d}:59", "59", "54", "ANSWERED",
              f"{1672912800 + i}.{i}"]
    return ",".join(f'"{f}"' for f in fields).encode()


def physical_lines(data):
    """Lines of data as a reader sees them: no terminator (LF or CRLF)."""
    out = data.split(b"\n")
    if out and out[-1] == b"":
        out.pop()
    return [ln[:-1] if ln.endswith(b"\r") else ln for ln in out]


def call_id_of(line):
    return next(csv.reader([line.decode("utf-8")]))[14]


def ledger(db, path=None):
    """cdr_file rows (as dicts), oldest first; only those for path if given."""
    cols = ("id", "path", "sha256", "status", "error", "rows_read", "rows_inserted",
            "rows_duplicate", "rows_rejected", "rows_repaired")
    sql = f"SELECT {', '.join(cols)} FROM cdr_file"
    got = rows(db, sql + " WHERE path = %s ORDER BY id", str(path)) if path else \
        rows(db, sql + " ORDER BY id")
    return [dict(zip(cols, r)) for r in got]


def rejects(db):
    return [(n, bytes(raw), reason) for n, raw, reason in
            rows(db, "SELECT line_no, raw_line, reason FROM cdr_reject ORDER BY line_no")]


def stored(db):
    """(line_no, call_id) of every stored row."""
    return rows(db, "SELECT line_no, call_id FROM cdr ORDER BY line_no")


def cdr_count(db):
    return rows(db, "SELECT count(*) FROM cdr")[0][0]


def warnings_in(stderr):
    return [ln for ln in stderr.splitlines() if re.search(r"warn|error", ln, re.I)]


def names_line(stderr, path, line_no, problem):
    """Whether one stderr line names path:line_no and matches problem."""
    tag = f"{path}:{line_no}"
    return any(tag in ln and re.search(problem, ln, re.I) for ln in stderr.splitlines())


def files_under(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() or p.is_fifo())


def not_crashed(r):
    # a negative status is a signal (SIGSEGV, SIGABRT from a sanitizer...)
    assert r.returncode >= 0, f"killed by signal {-r.returncode}\n{r.stderr}"


# ---- one bad line among good ones ----------------------------------------------

# file, the bad physical lines, what the message must say about each
ONE_BAD = [
    ("wrong_columns.csv", {3: r"15\b.*\b14|14\b.*\b15"}),
    ("impossible_date.csv", {3: r"2023-02-30"}),
    ("bad_duration.csv", {3: r"6O"}),
    ("truncated_in_quote.csv", {5: r"quote|truncat"}),
    ("truncated_fields.csv", {5: r"15\b.*\b11|11\b.*\b15|truncat"}),
    ("unterminated_quote.csv", {3: r"quote"}),
    ("stray_quote.csv", {3: r"quot"}),
    ("nul_bytes.csv", {3: r"NUL", 5: r"NUL"}),
    # two records joined by a lone CR are one physical line, not two rows
    ("bare_cr.csv", {3: r"quot|carriage|\\r|\bCR\b|field"}),
]


@pytest.mark.parametrize("name,bad", ONE_BAD, ids=[n for n, _ in ONE_BAD])
def test_bad_line_rejected_rest_stored(workdir, dsn, db, name, bad):
    src = BAD / name
    data = src.read_bytes()
    lines = physical_lines(data)
    path = workdir / "inbox" / name
    shutil.copyfile(src, path)
    config = write_config(workdir, dsn)

    r = run_cli("import", path, config=config)

    not_crashed(r)
    assert r.returncode == 1, r.stderr
    # that line (and only it) in cdr_reject, verbatim, 1-based physical line
    got = rejects(db)
    assert [(n, raw) for n, raw, _ in got] == [(n, lines[n - 1]) for n in sorted(bad)], got
    # every other row stored, with its own line number
    want = [(n, call_id_of(lines[n - 1])) for n in range(1, len(lines) + 1) if n not in bad]
    assert stored(db) == want
    (led,) = ledger(db)
    assert led["status"] == "imported"
    assert (led["rows_inserted"], led["rows_rejected"]) == (len(want), len(bad))
    assert led["sha256"] == hashlib.sha256(data).hexdigest()
    # the message names the file, the line and what is wrong
    for n, problem in bad.items():
        assert names_line(r.stderr, path, n, problem), r.stderr
    # import leaves the file where it is
    assert path.read_bytes() == data


def test_reject_reason_is_stored(workdir, dsn, db):
    config = write_config(workdir, dsn)
    r = run_cli("import", BAD / "impossible_date.csv", config=config)
    assert r.returncode == 1, r.stderr
    ((n, _, reason),) = rejects(db)
    assert n == 3 and "2023-02-30" in reason


# ---- files that fail as a whole ------------------------------------------------

def test_no_valid_record_fails(workdir, dsn, db):
    src = BAD / "no_valid_record.csv"
    lines = physical_lines(src.read_bytes())
    config = write_config(workdir, dsn)

    r = run_cli("import", src, config=config)

    not_crashed(r)
    assert r.returncode == 1, r.stderr
    (led,) = ledger(db)
    assert led["status"] == "failed"
    assert re.search(r"no valid record", led["error"] or "", re.I), led
    assert cdr_count(db) == 0
    assert [(n, raw) for n, raw, _ in rejects(db)] == list(enumerate(lines, 1))
    assert any(str(src) in ln and re.search(r"no valid record", ln, re.I)
               for ln in r.stderr.splitlines()), r.stderr


def test_reject_ratio_is_per_source(workdir, dsn, db):
    """3 of 10 lines bad: failed above a ratio of 0.2, imported at the default."""
    src = BAD / "reject_ratio.csv"
    lines = physical_lines(src.read_bytes())
    strict = write_config(workdir, dsn, max_reject_ratio=0.2)

    r = run_cli("import", src, config=strict)

    assert r.returncode == 1, r.stderr
    (led,) = ledger(db)
    assert led["status"] == "failed", led
    assert "max_reject_ratio" in (led["error"] or ""), led
    assert cdr_count(db) == 0
    assert [n for n, _, _ in rejects(db)] == [2, 5, 9]
    assert any(str(src) in ln and "max_reject_ratio" in ln for ln in r.stderr.splitlines()), \
        r.stderr

    # The same file under the default ratio (0.5): a failed file is not
    # "known", so it is read again, and its 7 good rows go in.
    default = write_config(workdir, dsn)
    r = run_cli("import", src, config=default)
    assert r.returncode == 1, r.stderr
    assert [led["status"] for led in ledger(db)] == ["failed", "imported"]
    good = [n for n in range(1, 11) if n not in (2, 5, 9)]
    assert stored(db) == [(n, call_id_of(lines[n - 1])) for n in good]


@pytest.mark.parametrize("name,why,extra", [
    ("no_valid_record.csv", r"no valid record", {}),
    ("reject_ratio.csv", r"max_reject_ratio", {"max_reject_ratio": 0.2}),
])
def test_scan_moves_failed_file_with_error_note(workdir, dsn, db, name, why, extra):
    data = (BAD / name).read_bytes()
    (workdir / "inbox" / "Master.csv").write_bytes(data)
    config = write_config(workdir, dsn, **extra)

    r = run_cli("scan", config=config)

    not_crashed(r)
    assert r.returncode == 1, r.stderr
    assert files_under(workdir / "inbox") == []
    assert files_under(workdir / "processed") == []
    moved = [p for p in files_under(workdir / "failed") if not p.name.endswith(".error")]
    assert len(moved) == 1, files_under(workdir / "failed")
    assert moved[0].read_bytes() == data
    note = moved[0].with_name(moved[0].name + ".error")
    assert note.is_file(), files_under(workdir / "failed")
    assert re.search(why, note.read_text(), re.I), note.read_text()
    (led,) = ledger(db)
    assert led["status"] == "failed"
    assert cdr_count(db) == 0
    assert len(rejects(db)) == led["rows_rejected"] > 0


# ---- input that must be read without complaint ---------------------------------

def test_bom_crlf_quoting_variants(workdir, dsn, db):
    config = write_config(workdir, dsn)
    r = run_cli("import", BAD / "bom_crlf.csv", config=config)

    assert r.returncode == 0, r.stderr
    assert warnings_in(r.stderr) == []
    got = rows(db, "SELECT line_no, account_code, call_id, to_char(call_time, 'HH24:MI:SS'),"
                   " to_char(answer_time, 'HH24:MI:SS'), total_duration_s, call_duration_s,"
                   " call_duration, call_type, feature FROM cdr ORDER BY line_no")
    got = [tuple(str(v) if k == 7 else v for k, v in enumerate(row)) for row in got]
    # The BOM is not part of the first field, CR not part of the last.
    assert got[0][1] == "A1"
    assert got[0][1:8] == ("A1", "1672912860.1", "10:01:00", "10:01:05", 60, 55, "0:00:55")
    # ,, and "" both mean: never answered; 30 and "30" are both numbers
    assert got[1][2:7] == ("1672912920.2", "10:02:00", None, 30, 0)
    assert got[2][2:7] == ("1672912980.3", "10:03:00", None, 10, 0)
    # minimal quoting
    assert got[3][2:7] == ("1672913040.4", "10:04:00", "10:04:02", 62, 60)
    assert got[3][9] == "Voicemail"
    assert [g[0] for g in got] == [1, 2, 3, 4]
    assert [g[8] for g in got][0] == "ANSWERED"
    (led,) = ledger(db)
    assert (led["status"], led["rows_rejected"], led["rows_repaired"]) == ("imported", 0, 0)
    assert rejects(db) == []


def test_special_values_stored_byte_for_byte(workdir, dsn, db):
    """Backslashes, \\., \\N, tabs, doubled quotes, SQL, a newline inside
    quotes: each value stored exactly as the file has it."""
    config = write_config(workdir, dsn)
    r = run_cli("import", BAD / "special_values.csv", config=config)

    assert r.returncode == 0, r.stderr
    assert warnings_in(r.stderr) == []
    got = rows(db, "SELECT line_no, call_id, account_code, caller_phone, dialed_phone,"
                   " src_channel, dst_channel, feature, flag2, flag3 FROM cdr ORDER BY line_no")
    assert got[0] == (1, "1672912801.1", "\\N", "\\.", "a\\b\\", "tab\there", 'say "hi"',
                      "\\N", "'); DROP TABLE cdr; --", "100%_\\x41")
    # a quoted newline: the record starts on line 2, the next one on line 4
    assert got[1][:2] == (2, "1672912802.2")
    assert got[1][8:] == ("first line\nsecond line", "$1 $$ $q$")
    assert got[2][:2] == (4, "1672912803.3")
    assert got[2][7:] == ("MeetMe", ",", "\\\\.")


def test_invalid_utf8_repaired(workdir, dsn, db):
    config = write_config(workdir, dsn)
    r = run_cli("import", BAD / "invalid_utf8.csv", config=config)

    assert r.returncode == 0, r.stderr
    got = rows(db, "SELECT line_no, caller_phone, src_channel FROM cdr ORDER BY line_no")
    assert got == [
        (1, "Tan\ufffdka", "SIP/201-00000001"),
        (2, "\ufffd202", "SIP/\ufffd202-00000002"),
        (3, "M\u00fcller", "SIP/203-00000003"),
    ]
    (led,) = ledger(db)
    assert (led["status"], led["rows_rejected"], led["rows_repaired"]) == ("imported", 0, 2)


def test_latin1_source(workdir, dsn, db):
    config = write_config(workdir, dsn, encoding="latin1")
    r = run_cli("import", BAD / "latin1.csv", config=config)

    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT caller_phone FROM cdr ORDER BY line_no") == [("Ren\u00e9",), ("202",)]
    (led,) = ledger(db)
    assert (led["rows_repaired"], led["rows_rejected"]) == (0, 0)


def test_empty_file_is_zero_rows(workdir, dsn, db):
    path = workdir / "inbox" / "Master.csv"
    shutil.copyfile(BAD / "empty.csv", path)
    config = write_config(workdir, dsn)

    r = run_cli("scan", config=config)

    assert r.returncode == 0, r.stderr
    assert warnings_in(r.stderr) == []
    (led,) = ledger(db)
    assert (led["status"], led["rows_read"], led["rows_inserted"]) == ("imported", 0, 0)
    assert cdr_count(db) == 0
    assert not path.exists()
    assert [p.stat().st_size for p in files_under(workdir / "processed")] == [0]


# ---- things that are not CSV files at all ---------------------------------------

def test_garbage_directory_fifo_do_not_stop_the_run(workdir, dsn, db):
    inbox = workdir / "inbox"
    first = inbox / "a_first.csv"
    first.write_bytes(b"\n".join(kx_line(i) for i in range(1, 4)) + b"\n")
    garbage = inbox / "x.csv"
    garbage.write_bytes(random.Random(20240229).randbytes(256 * 1024))
    folder = inbox / "d.csv"
    folder.mkdir()
    (folder / "inner.csv").write_bytes(kx_line(99) + b"\n")  # not read: recursive is off
    fifo = inbox / "f.csv"
    os.mkfifo(fifo)
    last = inbox / "z_last.csv"
    last.write_bytes(b"\n".join(kx_line(i) for i in range(4, 7)) + b"\n")
    # oldest first: a good file, then the bad ones, then another good file
    t = time.time() - 100
    for k, p in enumerate([first, garbage, folder, last]):
        os.utime(p, (t + 10 * k, t + 10 * k))
    config = write_config(workdir, dsn, recursive=False)

    r = run_cli("scan", config=config, timeout=60)  # a FIFO must not block the run

    not_crashed(r)
    assert r.returncode == 1, r.stderr
    # both good files imported and moved
    assert sorted(c for (c,) in rows(db, "SELECT call_id FROM cdr")) == \
        sorted(f"{1672912800 + i}.{i}" for i in range(1, 7))
    assert not first.exists() and not last.exists()
    assert len(files_under(workdir / "processed")) == 2
    # the garbage: failed, moved aside with a reason
    assert not garbage.exists()
    failed = [p for p in files_under(workdir / "failed") if p.name.startswith("x.")]
    assert any(p.name.endswith(".error") for p in failed), failed
    assert [led["status"] for led in ledger(db) if led["path"].endswith("/x.csv")] == ["failed"]
    # each one named in a clear message
    lines = r.stderr.splitlines()
    assert any("x.csv" in ln and re.search(r"no valid record|reject", ln, re.I) for ln in lines), \
        r.stderr
    assert any("f.csv" in ln and re.search(r"fifo|not a regular file", ln, re.I)
               for ln in lines), r.stderr
    assert any("d.csv" in ln and re.search(r"director|folder|not a (regular )?file", ln, re.I)
               for ln in lines), r.stderr
    # the folder is left alone, and its content not imported
    assert (folder / "inner.csv").is_file()
    assert rows(db, "SELECT count(*) FROM cdr WHERE call_id = %s",
                f"{1672912800 + 99}.99") == [(0,)]


def test_garbage_each_line_rejected_once(workdir, dsn, db):
    """Random bytes: every non-blank physical line is one row of cdr_reject,
    verbatim; none twice, none lost, nothing stored."""
    data = random.Random(20240229).randbytes(256 * 1024)
    path = workdir / "inbox" / "x.csv"
    path.write_bytes(data)
    config = write_config(workdir, dsn)

    r = run_cli("import", path, config=config, timeout=60)

    not_crashed(r)
    assert r.returncode == 1, r.stderr[-2000:]
    lines = physical_lines(data)
    want = [(n, ln) for n, ln in enumerate(lines, 1) if ln.strip(b"\r")]
    got = [(n, raw) for n, raw, _ in rejects(db)]
    assert len(got) == len(set(n for n, _ in got)), "a line rejected more than once"
    assert got == want
    (led,) = ledger(db)
    assert (led["status"], led["rows_rejected"]) == ("failed", len(want))
    assert cdr_count(db) == 0


def test_import_fifo_path_does_not_hang(workdir, dsn, db):
    fifo = workdir / "inbox" / "f.csv"
    os.mkfifo(fifo)
    good = workdir / "inbox" / "good.csv"
    good.write_bytes(kx_line(1) + b"\n")
    config = write_config(workdir, dsn)

    r = run_cli("import", fifo, good, config=config, timeout=30)

    not_crashed(r)
    assert r.returncode == 1, r.stderr
    assert any("f.csv" in ln and re.search(r"fifo|not a regular file", ln, re.I)
               for ln in r.stderr.splitlines()), r.stderr
    assert stored(db) == [(1, "1672912801.1")]


def test_unreadable_file(workdir, dsn, db):
    """chmod 000 does not stop root, so the binary runs as `nobody`."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the binary as another user")
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    if not os.access(runuser, os.X_OK):
        pytest.skip("runuser not available")
    try:
        import pwd
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    # pytest's tmp_path is private to root: use a folder nobody can enter.
    base = Path(tempfile.mkdtemp(prefix="cdr-nobody-", dir="/tmp"))
    try:
        os.chmod(base, 0o755)
        for sub in ("inbox", "processed", "failed"):
            (base / sub).mkdir()
            os.chmod(base / sub, 0o777)
        config = write_config(base, dsn)
        os.chmod(config, 0o644)
        good = base / "inbox" / "good.csv"
        good.write_bytes(b"\n".join(kx_line(i) for i in range(1, 4)) + b"\n")
        secret = base / "inbox" / "secret.csv"
        secret_data = kx_line(50) + b"\n"
        secret.write_bytes(secret_data)
        os.chmod(secret, 0)
        os.utime(good, (time.time() + 5,) * 2)  # after the unreadable one
        probe = subprocess.run([runuser, "-u", "nobody", "--", "test", "-r", str(secret)])
        if probe.returncode == 0:
            pytest.skip("nobody can read a mode-000 file here")

        # The checkout may sit in a folder nobody cannot enter (mktemp -d
        # makes it 0700): run a copy of the binary from the open folder.
        binary = base / "cdrimport"
        shutil.copyfile(BIN, binary)
        os.chmod(binary, 0o755)
        r = subprocess.run([runuser, "-u", "nobody", "--", str(binary), "-c", config, "scan"],
                           capture_output=True, text=True, timeout=60)

        not_crashed(r)
        assert r.returncode == 1, r.stderr
        assert any("secret.csv" in ln and re.search(r"permission denied|unreadable|cannot",
                                                    ln, re.I)
                   for ln in r.stderr.splitlines()), r.stderr
        # the rest of the run went on
        assert sorted(c for (c,) in rows(db, "SELECT call_id FROM cdr")) == \
            [f"{1672912800 + i}.{i}" for i in range(1, 4)]
        assert not good.exists()
        assert len(files_under(base / "processed")) == 1
        # the unreadable file is not lost: still there, or set aside as failed
        left = [p for p in files_under(base) if p.name.startswith("secret")
                and not p.name.endswith(".error")]
        assert len(left) == 1, files_under(base)
        os.chmod(left[0], 0o600)
        assert left[0].read_bytes() == secret_data
    finally:
        shutil.rmtree(base, ignore_errors=True)


# ---- bounded memory -------------------------------------------------------------

def test_long_line_rejected_and_cut(workdir, dsn, db):
    limit = 1024
    lines = [kx_line(1), kx_line(2), kx_line(3, caller="9" * 5000), kx_line(4)]
    path = workdir / "inbox" / "long.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    config = write_config(workdir, dsn, max_line_bytes=limit)

    r = run_cli("import", path, config=config)

    assert r.returncode == 1, r.stderr
    assert [(n, raw) for n, raw, _ in rejects(db)] == [(3, lines[2][:limit])]
    assert stored(db) == [(1, "1672912801.1"), (2, "1672912802.2"), (4, "1672912804.4")]
    assert names_line(r.stderr, path, 3, r"long|max_line_bytes"), r.stderr


def test_long_line_default_limit(workdir, dsn, db):
    lines = [kx_line(1), kx_line(2, caller="7" * 200_000), kx_line(3)]
    path = workdir / "inbox" / "long.csv"
    path.write_bytes(b"\n".join(lines) + b"\n")
    config = write_config(workdir, dsn)

    r = run_cli("import", path, config=config)

    assert r.returncode == 1, r.stderr
    assert [(n, raw) for n, raw, _ in rejects(db)] == [(2, lines[1][:65536])]
    assert [n for n, _ in stored(db)] == [1, 3]


@pytest.fixture(scope="module")
def no_newline_file(tmp_path_factory):
    """~200 MB of CSV-looking bytes without a single newline, streamed."""
    path = tmp_path_factory.mktemp("huge") / "Master.csv"
    chunk = (b'"1672912800.1","ANSWERED","SIP/201-0000002a",' * 30000)[:MB]
    with open(path, "wb") as f:
        for _ in range(200):
            f.write(chunk)
    yield path
    path.unlink()


def max_rss_kb(cmd, timeout):
    """Run cmd; return (returncode, stderr, peak RSS of the child in KiB)."""
    if os.access("/usr/bin/time", os.X_OK):
        r = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True,
                           timeout=timeout)
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
        assert m, r.stderr
        return r.returncode, r.stderr, int(m.group(1))
    # A fresh Python as the parent, so RUSAGE_CHILDREN covers this child only.
    wrapper = ("import resource, subprocess, sys\n"
               "rc = subprocess.run(sys.argv[1:]).returncode\n"
               "print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,"
               " file=sys.stderr)\n"
               "sys.exit(rc)\n")
    r = subprocess.run([sys.executable, "-c", wrapper] + cmd, capture_output=True, text=True,
                       timeout=timeout)
    m = re.search(r"MAXRSS (\d+)", r.stderr)
    assert m, r.stderr
    return r.returncode, r.stderr, int(m.group(1))


def test_huge_file_without_newline_bounded_memory(workdir, dsn, db, no_newline_file):
    config = write_config(workdir, dsn)

    rc, err, rss_kb = max_rss_kb([BIN, "-c", config, "import", str(no_newline_file)],
                                 timeout=150)

    assert rc == 1, err
    assert rss_kb < 64 * 1024, f"peak RSS {rss_kb} KiB"
    (led,) = ledger(db)
    assert led["status"] == "failed"
    assert led["rows_rejected"] == 1
    assert cdr_count(db) == 0
    ((n, length),) = rows(db, "SELECT line_no, length(raw_line) FROM cdr_reject")
    assert (n, length) == (1, 65536)
    with open(no_newline_file, "rb") as f:
        head = f.read(65536)
    assert bytes(rows(db, "SELECT raw_line FROM cdr_reject")[0][0]) == head
    assert names_line(err, no_newline_file, 1, r"long|max_line_bytes"), err


# ---- the database goes away -------------------------------------------------------

BIG_ROWS = 300_000


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """BIG_ROWS distinct valid records (~55 MB), written in batches."""
    path = tmp_path_factory.mktemp("big") / "Master.csv"
    with open(path, "wb") as f:
        for start in range(0, BIG_ROWS, 10000):
            f.write(b"".join(kx_line(i) + b"\n" for i in range(start, start + 10000)))
    yield path
    path.unlink()


def test_database_unreachable_at_start(workdir, db):
    data = b"\n".join(kx_line(i) for i in range(1, 4)) + b"\n"
    path = workdir / "inbox" / "Master.csv"
    path.write_bytes(data)
    nosock = workdir / "nosock"
    nosock.mkdir()
    config = write_config(workdir, f"host={nosock} port=5 dbname=cdr connect_timeout=5")

    r = run_cli("scan", config=config)
    assert r.returncode == 3, r.stderr
    assert re.search(r"database|connect", r.stderr, re.I), r.stderr
    assert path.read_bytes() == data
    assert files_under(workdir / "processed") == [] and files_under(workdir / "failed") == []

    r = run_cli("import", path, config=config)
    assert r.returncode == 3, r.stderr
    assert path.read_bytes() == data


def start_cli(*args, config):
    return subprocess.Popen([BIN, "-c", str(config)] + [str(a) for a in args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_database_lost_mid_file(workdir, dsn, db, big_file):
    dbname = db.info.dbname
    path = workdir / "inbox" / "Master.csv"
    shutil.copyfile(big_file, path)
    size = path.stat().st_size
    config = write_config(workdir, dsn)
    assert run_cli("init-db", config=config).returncode == 0

    proc = start_cli("scan", config=config)
    try:
        wait_for_copy(dbname, proc)
        pg_stop()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    pg_start()

    assert proc.returncode == 3, err
    assert "Master.csv" in err and re.search(r"database", err, re.I), err
    assert path.is_file() and path.stat().st_size == size
    assert files_under(workdir / "processed") == [] and files_under(workdir / "failed") == []
    conn = connect(dbname)
    try:
        assert cdr_count(conn) == 0
        assert ledger(conn) == []

        # once the database is back, the file goes in whole
        r = run_cli("scan", config=config, timeout=120)
        assert r.returncode == 0, r.stderr
        assert rows(conn, "SELECT count(*), count(DISTINCT call_id) FROM cdr") == \
            [(BIG_ROWS, BIG_ROWS)]
        assert not path.exists()
        assert len(files_under(workdir / "processed")) == 1
    finally:
        conn.close()


def test_kill_9_mid_file_then_rerun_exactly_once(workdir, dsn, db, big_file):
    dbname = db.info.dbname
    config = write_config(workdir, dsn)
    # An earlier, overlapping download: the first third of the rows.
    third = workdir / "inbox" / "earlier.csv"
    with open(big_file, "rb") as f, open(third, "wb") as out:
        for _ in range(BIG_ROWS // 3):
            out.write(f.readline())
    r = run_cli("import", third, config=config, timeout=120)
    assert r.returncode == 0, r.stderr
    assert cdr_count(db) == BIG_ROWS // 3

    proc = start_cli("import", big_file, config=config)
    try:
        wait_for_copy(dbname, proc)
        time.sleep(0.3)
        assert proc.poll() is None, "the import ended before the kill"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert cdr_count(db) == BIG_ROWS // 3  # nothing of the killed file

    r = run_cli("import", big_file, config=config, timeout=120)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT count(*), count(DISTINCT call_id),"
                    " count(DISTINCT (call_id, call_time, caller_phone, dialed_phone)) FROM cdr") \
        == [(BIG_ROWS, BIG_ROWS, BIG_ROWS)]
    imported = [led for led in ledger(db) if led["status"] == "imported"]
    assert [(led["rows_inserted"], led["rows_duplicate"]) for led in imported] == \
        [(BIG_ROWS // 3, 0), (BIG_ROWS - BIG_ROWS // 3, BIG_ROWS // 3)]


def test_large_file_read_once_keeps_its_bad_lines(workdir, dsn, db):
    """A file past 4 MiB whose size is new is read once, hashed as it is
    parsed (file.c): a bad line in it is still rejected verbatim with the
    rest stored, and when too many lines are bad the file fails with its
    rejects kept, its rows not, and is read whole again later."""
    n_rows = 40_000
    good = [kx_line(i) for i in range(n_rows)]
    bad_at = {10_001, 30_001}                      # 1-based physical lines
    lines = [b"this,is,not,a,record" if k + 1 in bad_at else ln for k, ln in enumerate(good)]
    data = b"".join(ln + b"\n" for ln in lines)
    assert len(data) >= 4 << 20
    path = workdir / "inbox" / "Master.csv"
    path.write_bytes(data)

    strict = write_config(workdir, dsn, max_reject_ratio=0.00001)
    r = run_cli("import", path, config=strict, timeout=120)
    assert r.returncode == 1, r.stderr
    (led,) = ledger(db)
    assert led["status"] == "failed" and "max_reject_ratio" in (led["error"] or ""), led
    assert led["sha256"] == hashlib.sha256(data).hexdigest()
    assert cdr_count(db) == 0
    assert [(n, raw) for n, raw, _ in rejects(db)] == [(n, lines[n - 1]) for n in sorted(bad_at)]

    r = run_cli("import", path, config=write_config(workdir, dsn), timeout=120)
    assert r.returncode == 1, r.stderr
    assert [led["status"] for led in ledger(db)] == ["failed", "imported"]
    assert ledger(db)[1]["sha256"] == hashlib.sha256(data).hexdigest()
    assert cdr_count(db) == n_rows - len(bad_at)
    assert sorted(n for n, _, _ in rejects(db)) == sorted(list(bad_at) * 2)
    for n in bad_at:
        assert names_line(r.stderr, path, n, r"fields|columns|\b5\b"), r.stderr


@pytest.mark.parametrize("good", [3, 400])
def test_known_file_with_bad_lines_is_a_duplicate_and_says_nothing_of_them(workdir, dsn, db,
                                                                            good):
    """A file's transaction opens while its first rows are parsed, so a
    known checksum is learnt only then: the copy is still a duplicate, its
    bad lines are neither logged nor stored again, and no row is added.
    3 good rows end before the first batch goes; 400 go in several."""
    lines = [b'"broken","line"'] + [kx_line(i) for i in range(good)] + [b"also,bad"]
    data = b"\n".join(lines) + b"\n"
    first = workdir / "inbox" / "Master.csv"
    first.write_bytes(data)
    again = workdir / "copy.csv"
    again.write_bytes(data)
    cfg = write_config(workdir, dsn)

    r = run_cli("import", first, config=cfg)
    assert r.returncode == 1, r.stderr  # rejected lines
    assert names_line(r.stderr, first, 1, r"fields|columns")
    assert cdr_count(db) == good
    stored_rejects = rejects(db)
    assert [n for n, _, _ in stored_rejects] == [1, good + 2]

    r = run_cli("import", again, config=cfg)
    assert r.returncode == 0, r.stderr
    assert ": rejected:" not in r.stderr, r.stderr
    assert [led["status"] for led in ledger(db)] == ["imported", "duplicate"]
    assert ledger(db)[1]["rows_inserted"] == 0
    assert cdr_count(db) == good
    assert rejects(db) == stored_rejects
