"""End-to-end tests of `cdrimport import` and the other one-shot commands:
the real Asterisk fixtures (counts of distinct rows computed here with
Python's csv module, every field compared with the documented column
mapping), exactly-once dedup (re-import, other quoting, overlapping
downloads, legs sharing a call ID, --force, --dry-run), values stored byte
for byte, check/status/config errors/exit statuses, and the schema.

Profile-specific behaviour (KX-HTS layout, custom column lists, time zones)
is in test_profiles.py; bad input, scan/move and outages are elsewhere.
"""
import codecs
import csv
import hashlib
import io
import re
import shutil
import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg2
import psycopg2.errors
import psycopg2.extensions
import psycopg2.extras
import pytest

from conftest import FIXTURES, SHARED, make_dsn, rows, run_cli, write_config

REAL = SHARED / "fixtures" / "real"
BUGA = REAL / "BugaDM__TelephonySwitching__var_log_asterisk_cdr-csv_Master.csv"
SIMU = REAL / "simularent__asterisk-for-speech-to-text__var_log_asterisk_cdr-csv_Master.csv"
KARTHIK = REAL / "karthik0112__synk_bug__log_asterisk_cdr-csv_Master.csv"
TEJ = REAL / "tejdeepsingh__hackathon2025__asterisk_cdr-csv_Master.csv"
MINEEV = REAL / "mineevburyat__dj-asterisk-cdr__Master.csv"
KELY = REAL / "KelySaina__cdr__Master.csv"
IMPORT_FIX = FIXTURES / "import"

# The documented column orders (master-csv-format.md section 2 and the
# issue's mapping), written out independently of the C tables.
AST_BASE = ["account_code", "caller_phone", "dialed_phone", "flag2", "extra.clid",
            "src_channel", "dst_channel", "feature", "flag3", "call_time", "answer_time",
            "end_time", "total_duration_s", "call_duration_s", "call_type", "extra.amaflags"]
AST18 = AST_BASE + ["call_id", "extra.userfield"]
AST21 = AST18 + ["extra.peeraccount", "extra.linkedid", "extra.sequence"]
AST_CUSTOM19 = ["extra.clid", "caller_phone", "dialed_phone", "flag2", "src_channel",
                "dst_channel", "feature", "flag3", "call_time", "answer_time", "end_time",
                "total_duration_s", "call_duration_s", "call_type", "extra.amaflags",
                "account_code", "call_id", "extra.userfield", "extra.sequence"]

TIME_COLS = {"call_time", "answer_time", "end_time"}
INT_COLS = {"total_duration_s", "call_duration_s"}
UTC = timezone.utc

# The documented encoding policy: every invalid byte becomes one U+FFFD.
codecs.register_error("cdr_per_byte", lambda e: ("\ufffd", e.start + 1))


# ---- helpers ----------------------------------------------------------------

def read_records(path, header=False):
    """(line_no, fields) for every CSV record of path, parsed with Python's
    csv module; text decoded as UTF-8 with one U+FFFD per invalid byte."""
    text = Path(path).read_bytes().decode("utf-8", "cdr_per_byte")
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text, newline=""))
    out = []
    start = 1
    for rec in reader:
        out.append((start, rec))
        start = reader.line_num + 1
    return out[1:] if header else out


def first_occurrences(records):
    """Records whose full content was not seen on an earlier line."""
    seen, out = set(), []
    for line_no, rec in records:
        key = tuple(rec)
        if key not in seen:
            seen.add(key)
            out.append((line_no, rec))
    return out


def parse_time(text, tz=UTC):
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=tz)
        except ValueError:
            pass
    raise AssertionError(f"test cannot parse time {text!r}")


def cdr_rows(db, where="TRUE", *params):
    with db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute(f"SELECT * FROM cdr WHERE {where} ORDER BY file_id, line_no",
                    params if params else None)
        return cur.fetchall()


def ledger(db):
    with db.cursor(cursor_factory=psycopg2.extras.RealDictCursor) as cur:
        cur.execute("SELECT * FROM cdr_file ORDER BY id")
        return cur.fetchall()


def count(db, table="cdr"):
    return rows(db, f"SELECT count(*) FROM {table}")[0][0]


def check_rows(db, records, columns, file_id=None):
    """Every record (line_no, fields) is stored on its line with each value
    where `columns` (cdr column, extra.NAME or -) says. Empty text may be
    stored as '' or NULL; an empty time or number is NULL."""
    got = {}
    for r in cdr_rows(db):
        if file_id is None or r["file_id"] == file_id:
            got[r["line_no"]] = r
    for line_no, rec in records:
        assert line_no in got, f"line {line_no} not stored: {rec}"
        row = got[line_no]
        assert len(rec) == len(columns), (line_no, rec)
        extra = row["extra"] or {}
        for name, value in zip(columns, rec):
            where = f"line {line_no} column {name}"
            if name == "-":
                continue
            if name.startswith("extra."):
                assert extra.get(name[6:], "") == value, where
            elif name in TIME_COLS:
                assert row[name] == (parse_time(value) if value else None), where
            elif name in INT_COLS:
                assert row[name] == (int(value) if value else None), where
            else:
                assert (row[name] or "") == value, where


def import_(workdir, dsn, *paths, args=(), **source):
    """Import paths; a file of the shared folder is imported from a copy in
    workdir: `make check` runs the plain and the sanitized suite at once,
    and two imports of one file at once lock each other out (the second is
    skipped, exit 0, nothing stored)."""
    config = write_config(workdir, dsn, **source)
    local = []
    for p in paths:
        p = Path(p)
        if p.is_file() and SHARED in p.parents:
            copy = Path(workdir) / "shared-copies" / p.name
            copy.parent.mkdir(exist_ok=True)
            if not copy.exists():
                shutil.copyfile(p, copy)
            p = copy
        local.append(p)
    return run_cli("import", *args, *local, config=config)


def dead_dsn():
    """A dsn for a port where nothing listens (same host as the tests)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    kw = psycopg2.extensions.parse_dsn(make_dsn("cdr"))
    kw.update(port=str(port), connect_timeout="5")
    return psycopg2.extensions.make_dsn(**kw)


def warnings_in(stderr):
    return [l for l in stderr.splitlines() if re.search(r"\b(WARN|ERROR)\b", l)]


# ---- the real Asterisk files ------------------------------------------------

REAL_CASES = [
    pytest.param(BUGA, "asterisk", AST18, id="BugaDM"),
    pytest.param(SIMU, "asterisk", AST18, id="simularent"),
    pytest.param(KARTHIK, "asterisk", AST18, id="karthik"),
    pytest.param(TEJ, "asterisk", AST18, id="tejdeepsingh"),
    pytest.param(MINEEV, "asterisk", AST21, id="mineevburyat"),
    pytest.param(KELY, "asterisk-custom", AST_CUSTOM19, id="KelySaina"),
]


@pytest.mark.parametrize("path,fmt,columns", REAL_CASES)
def test_real_file_distinct_rows_and_every_field(workdir, dsn, db, path, fmt, columns):
    records = read_records(path)
    distinct = first_occurrences(records)
    r = import_(workdir, dsn, path, format=fmt)
    assert r.returncode == 0, r.stderr
    assert not [l for l in r.stderr.splitlines() if "rejected:" in l], r.stderr
    assert count(db) == len(distinct)
    (entry,) = ledger(db)
    assert entry["status"] == "imported"
    assert entry["rows_read"] == len(records)
    assert entry["rows_inserted"] == len(distinct)
    assert entry["rows_duplicate"] == len(records) - len(distinct)
    assert entry["rows_rejected"] == 0
    assert entry["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert entry["size_bytes"] == path.stat().st_size
    check_rows(db, distinct, columns)
    assert {r["source"] for r in cdr_rows(db)} == {"office"}
    assert path.exists(), "import must leave the file where it is"


@pytest.mark.parametrize("path,fmt,columns", REAL_CASES)
def test_real_file_imported_twice_adds_nothing(workdir, dsn, db, path, fmt, columns):
    r1 = import_(workdir, dsn, path, format=fmt)
    assert r1.returncode == 0, r1.stderr
    before = rows(db, "SELECT row_key, line_no FROM cdr ORDER BY row_key")
    r2 = import_(workdir, dsn, path, format=fmt)
    assert r2.returncode == 0, r2.stderr
    assert rows(db, "SELECT row_key, line_no FROM cdr ORDER BY row_key") == before
    first, second = ledger(db)
    assert first["status"] == "imported"
    assert second["status"] == "duplicate"
    assert second["sha256"] == first["sha256"]
    assert second["rows_inserted"] == 0


def test_buga_clid_with_quotes_and_lastdata_with_commas(workdir, dsn, db):
    r = import_(workdir, dsn, BUGA, format="asterisk")
    assert r.returncode == 0, r.stderr
    first = cdr_rows(db, "line_no = 1")[0]
    assert first["extra"]["clid"] == '"NOMBREUSUARIO" <100>'
    assert first["call_id"] == "1427211880.0"
    assert first["call_time"] == datetime(2015, 3, 24, 15, 44, 40, tzinfo=UTC)
    assert first["total_duration_s"] == 3 and first["call_duration_s"] == 3
    assert first["call_duration"] == timedelta(seconds=3)
    assert first["call_type"] == "ANSWERED"
    # Every lastdata of the file that holds a comma or a quote, verbatim.
    tricky = [(n, rec[8]) for n, rec in read_records(BUGA) if "," in rec[8] or '"' in rec[8]]
    assert tricky, "fixture should hold lastdata with commas"
    stored = {r["line_no"]: r["flag3"] for r in cdr_rows(db)}
    for line_no, lastdata in tricky:
        assert stored[line_no] == lastdata
    # Unanswered calls: the bare empty field `,,` is NULL.
    raw = BUGA.read_bytes().split(b"\n")
    bare_empty = [n for n, rec in read_records(BUGA) if rec[10] == ""]
    assert bare_empty
    for n in bare_empty:
        assert b'",,"' in raw[n - 1]
        assert cdr_rows(db, "line_no = %s", n)[0]["answer_time"] is None


def test_karthik_bare_empty_answer_is_null_and_legs_kept(workdir, dsn, db):
    r = import_(workdir, dsn, KARTHIK, format="asterisk")
    assert r.returncode == 0, r.stderr
    records = read_records(KARTHIK)
    unanswered = [n for n, rec in records if rec[10] == ""]
    assert unanswered
    nulls = rows(db, "SELECT line_no FROM cdr WHERE answer_time IS NULL ORDER BY 1")
    assert [n for (n,) in nulls] == unanswered
    # Line 2 is `..."SIP/1002,,trIb(func-apply-sipheaders^s^1)",...`
    row = cdr_rows(db, "line_no = 2")[0]
    assert row["flag3"] == "SIP/1002,,trIb(func-apply-sipheaders^s^1)"
    assert row["answer_time"] == datetime(2022, 6, 17, 4, 15, 8, tzinfo=UTC)
    # Repeated uniqueid: every leg kept, as many as the file has per ID.
    per_id = {}
    for _, rec in first_occurrences(records):
        per_id[rec[16]] = per_id.get(rec[16], 0) + 1
    stored = dict(rows(db, "SELECT call_id, count(*) FROM cdr GROUP BY call_id"))
    assert stored == per_id
    assert max(stored.values()) > 1


def test_kelysaina_quoted_empty_answer_is_null(workdir, dsn, db):
    r = import_(workdir, dsn, KELY, format="asterisk-custom")
    assert r.returncode == 0, r.stderr
    row = cdr_rows(db, "line_no = 2")[0]
    assert row["answer_time"] is None  # `""` in the file
    assert row["call_type"] == "NO ANSWER"
    assert row["call_id"] == "1690325531.5"
    assert row["total_duration_s"] == 30 and row["call_duration_s"] == 0
    assert row["extra"]["clid"] == '"" <client2>'
    assert row["extra"]["sequence"] == "4"
    empty = [n for n, rec in read_records(KELY) if rec[9] == ""]
    nulls = [n for (n,) in rows(db, "SELECT line_no FROM cdr WHERE answer_time IS NULL ORDER BY 1")]
    assert nulls == empty


def test_mineevburyat_invalid_utf8_repaired(workdir, dsn, db):
    raw_lines = MINEEV.read_bytes().split(b"\n")
    bad = []
    for i, line in enumerate(raw_lines, 1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(i)
    assert bad, "fixture should hold invalid UTF-8"
    r = import_(workdir, dsn, MINEEV, format="asterisk")
    assert r.returncode == 0, r.stderr
    (entry,) = ledger(db)
    assert entry["rows_repaired"] == len(bad) > 0
    assert entry["rows_rejected"] == 0
    for n in bad:
        row = cdr_rows(db, "line_no = %s", n)[0]
        text = " ".join(str(v) for v in row.values() if v is not None)
        assert "\ufffd" in text, (n, row)
    assert rows(db, "SELECT count(*) FROM cdr WHERE extra::text LIKE %s OR caller_phone LIKE %s",
                "%\ufffd%", "%\ufffd%")[0][0] >= len(bad)
    # newcdrcolumns: linkedid and the bare sequence land in extra.
    first = cdr_rows(db, "line_no = 1")[0]
    assert first["extra"]["linkedid"] == "1706368044.0"
    assert first["extra"]["sequence"] == "0"


# ---- dedup -------------------------------------------------------------------

def test_same_records_requoted_with_crlf_are_duplicates(workdir, dsn, db):
    records = read_records(BUGA)
    other = workdir / "requoted.csv"
    with open(other, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        for _, rec in reversed(records):
            w.writerow(rec)
    assert other.read_bytes() != BUGA.read_bytes()
    r1 = import_(workdir, dsn, BUGA, format="asterisk")
    assert r1.returncode == 0, r1.stderr
    r2 = import_(workdir, dsn, other, format="asterisk")
    assert r2.returncode == 0, r2.stderr
    assert count(db) == len(records)
    first, second = ledger(db)
    assert second["status"] == "imported"
    assert second["rows_inserted"] == 0
    assert second["rows_duplicate"] == len(records)
    assert rows(db, "SELECT count(DISTINCT file_id) FROM cdr")[0][0] == 1


def test_overlapping_later_download_adds_only_new_rows(workdir, dsn, db):
    lines = KARTHIK.read_bytes().splitlines(keepends=True)
    a = workdir / "a" / "Master.csv"
    b = workdir / "b" / "Master.csv"
    a.parent.mkdir()
    b.parent.mkdir()
    a.write_bytes(b"".join(lines[:400]))
    b.write_bytes(b"".join(lines[200:]))
    in_a = {tuple(rec) for _, rec in read_records(a)}
    in_b = first_occurrences(read_records(b))
    new = [rec for _, rec in in_b if tuple(rec) not in in_a]
    assert new and len(new) < len(in_b)
    assert import_(workdir, dsn, a, format="asterisk").returncode == 0
    after_a = count(db)
    assert after_a == len(in_a)
    r = import_(workdir, dsn, b, format="asterisk")
    assert r.returncode == 0, r.stderr
    assert count(db) == after_a + len(new)
    entry = ledger(db)[1]
    assert entry["rows_inserted"] == len(new)
    assert entry["rows_duplicate"] == len(in_b) - len(new)
    # The new rows are the ones stored from file B.
    from_b = rows(db, "SELECT count(*) FROM cdr WHERE file_id = %s", entry["id"])[0][0]
    assert from_b == len(new)


def test_legs_sharing_a_call_id_are_both_kept(workdir, dsn, db):
    base = ['""', '"100"', '"200"', '"from-internal"', '"""A"" <100>"', '"SIP/100-01"',
            '"SIP/200-02"', '"Dial"', '"SIP/200,,t"', '"2024-01-01 10:00:00"',
            '"2024-01-01 10:00:05"', '"2024-01-01 10:01:00"', "60", "55", '"ANSWERED"',
            '"DOCUMENTATION"', '"1704103200.7"', '""']
    leg2 = list(base)
    leg2[2], leg2[6] = '"300"', '"SIP/300-03"'  # parallel dial: another party
    leg3 = list(base)
    leg3[14] = '"NO ANSWER"'                     # differs in one field only
    f = workdir / "legs.csv"
    f.write_text("\n".join(",".join(x) for x in (base, leg2, leg3, base)) + "\n")
    r = import_(workdir, dsn, f, format="asterisk")
    assert r.returncode == 0, r.stderr
    got = rows(db, "SELECT line_no, dialed_phone, call_type FROM cdr WHERE call_id = %s"
                   " ORDER BY line_no", "1704103200.7")
    assert got == [(1, "200", "ANSWERED"), (2, "300", "ANSWERED"), (3, "200", "NO ANSWER")]
    (entry,) = ledger(db)
    assert entry["rows_inserted"] == 3 and entry["rows_duplicate"] == 1


def test_same_row_twice_in_one_file_stored_once(workdir, dsn, db):
    line = ('"","201","202","DAHDI/9-1","DAHDI/10-1","","","","2024-02-02 08:00:00",'
            '"2024-02-02 08:00:02","2024-02-02 08:00:12","12","10","ANSWERED","1706860800.1"')
    same_bare = ',201,202,DAHDI/9-1,DAHDI/10-1,,,,2024-02-02 08:00:00,2024-02-02 08:00:02,' \
                '2024-02-02 08:00:12,12,10,ANSWERED,1706860800.1'
    other = line.replace('"12","10"', '"13","11"')
    f = workdir / "twice.csv"
    f.write_text("\n".join([line, other, same_bare, line]) + "\n")
    r = import_(workdir, dsn, f)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT line_no, call_duration_s FROM cdr ORDER BY line_no") == \
        [(1, 10), (2, 11)]
    (entry,) = ledger(db)
    assert (entry["rows_read"], entry["rows_inserted"], entry["rows_duplicate"]) == (4, 2, 2)


def test_asterisk_16_columns_dedups_by_content(workdir, dsn, db):
    f = IMPORT_FIX / "asterisk16.csv"
    records = read_records(f)
    assert {len(rec) for _, rec in records} == {16}
    r = import_(workdir, dsn, f, format="asterisk")
    assert r.returncode == 0, r.stderr
    assert count(db) == len(records)
    assert rows(db, "SELECT count(*) FROM cdr WHERE call_id IS NOT NULL")[0][0] == 0
    check_rows(db, records, AST_BASE)
    r = import_(workdir, dsn, f, format="asterisk", args=["--force"])
    assert r.returncode == 0, r.stderr
    assert count(db) == len(records)
    second = ledger(db)[1]
    assert second["status"] == "imported"
    assert (second["rows_inserted"], second["rows_duplicate"]) == (0, len(records))
    # Same rows, other quoting, in another file: still nothing new.
    other = workdir / "other16.csv"
    with open(other, "w", newline="") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\r\n").writerows(
            rec for _, rec in records)
    r = import_(workdir, dsn, other, format="asterisk")
    assert r.returncode == 0, r.stderr
    assert count(db) == len(records)
    assert ledger(db)[2]["rows_duplicate"] == len(records)


def test_force_rereads_known_file_and_rows_still_dedup(workdir, dsn, db):
    r = import_(workdir, dsn, TEJ, format="asterisk")
    assert r.returncode == 0, r.stderr
    n = count(db)
    r = import_(workdir, dsn, TEJ, format="asterisk", args=["--force"])
    assert r.returncode == 0, r.stderr
    assert count(db) == n
    first, second = ledger(db)
    assert second["status"] == "imported"  # read again, not skipped by checksum
    assert second["rows_read"] == len(read_records(TEJ))
    assert (second["rows_inserted"], second["rows_duplicate"]) == (0, n)


def test_same_file_in_two_sources_is_stored_for_each(workdir, dsn, db):
    assert import_(workdir, dsn, TEJ, format="asterisk").returncode == 0
    assert import_(workdir, dsn, TEJ, format="asterisk", name="branch").returncode == 0
    n = len(read_records(TEJ))
    assert dict(rows(db, "SELECT source, count(*) FROM cdr GROUP BY 1")) == \
        {"office": n, "branch": n}
    assert [e["status"] for e in ledger(db)] == ["imported", "imported"]


def test_dry_run_writes_nothing_and_reports(workdir, dsn, db):
    config = write_config(workdir, dsn, format="asterisk")
    assert run_cli("init-db", config=config).returncode == 0
    r = run_cli("import", "--dry-run", BUGA, config=config)
    assert r.returncode == 0, r.stderr
    assert count(db, "cdr") == 0
    assert count(db, "cdr_file") == 0
    assert count(db, "cdr_reject") == 0
    assert "dry run" in r.stderr.lower()
    assert str(BUGA) in r.stderr
    # The report must say what the file holds: 105 rows read (the per-file
    # line and summary only give new/duplicate, both 0 in a dry run).
    assert re.search(r"\b105\b", r.stderr), \
        "dry run does not report the rows it read:\n" + r.stderr
    # A real import afterwards still finds everything new.
    r = run_cli("import", BUGA, config=config)
    assert r.returncode == 0, r.stderr
    assert count(db) == 105


def test_dry_run_on_a_fresh_database_creates_nothing(workdir, dsn, db):
    config = write_config(workdir, dsn, format="asterisk")
    r = run_cli("import", "--dry-run", TEJ, config=config)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT count(*) FROM information_schema.tables"
                    " WHERE table_schema = 'public'")[0][0] == 0


def test_dry_run_without_a_database_still_parses(workdir):
    config = write_config(workdir, dead_dsn(), format="asterisk")
    r = run_cli("import", "--dry-run", TEJ, config=config, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "dry run" in r.stderr.lower()


def test_dry_run_reports_rejects_with_exit_1(workdir, dsn, db):
    f = workdir / "bad.csv"
    good = TEJ.read_bytes().splitlines(keepends=True)[:5]
    f.write_bytes(b"".join(good) + b'"only","three","fields"\n')
    config = write_config(workdir, dsn, format="asterisk")
    assert run_cli("init-db", config=config).returncode == 0
    r = run_cli("import", "--dry-run", f, config=config)
    assert r.returncode == 1, r.stderr
    assert f"{f}:6" in r.stderr
    assert count(db, "cdr_file") == 0 and count(db, "cdr_reject") == 0


# ---- values stored byte for byte --------------------------------------------

NASTY = {
    "account_code": "\\.",
    "caller_phone": "C:\\dir\\new\\table",
    "dialed_phone": "a\tb\t\tc",
    "src_channel": 'say "hi", then ""bye""',
    "dst_channel": "\\N",
    "feature": "'); DROP TABLE cdr; --",
    "flag2": "\\x41\\u0000\\\\",
    "flag3": "Ünïcödé ✓ 日本 \U0001F4DE ; $$ E'\\n' %s %(x)s {}",
    "call_type": "NULL",
}


def test_nasty_values_stored_byte_for_byte(workdir, dsn, db):
    order = ["account_code", "caller_phone", "dialed_phone", "src_channel", "dst_channel",
             "feature", "flag2", "flag3"]
    rec = [NASTY[c] for c in order] + ["2024-04-04 04:04:04", "", "2024-04-04 04:05:04",
                                       "60", "0", NASTY["call_type"], "1712203444.9"]
    f = workdir / "nasty.csv"
    with open(f, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(rec)
    r = import_(workdir, dsn, f)
    assert r.returncode == 0, r.stderr
    (row,) = cdr_rows(db)
    for col, value in NASTY.items():
        assert row[col] == value, col
    assert row["answer_time"] is None
    assert rows(db, "SELECT to_regclass('cdr') IS NOT NULL")[0][0]


def test_nasty_values_in_extra_json(workdir, dsn, db):
    clid = '"Mc\\Name\t\\N" <\\.>'
    userfield = "{\"json\": [1,2]}\\u0041 '); DROP TABLE cdr_file; --"
    rec = ["", "100", "200", "ctx", clid, "SIP/1-1", "", "Dial", "x", "2024-04-04 04:04:04",
           "", "2024-04-04 04:05:04", "60", "0", "NO ANSWER", "DOCUMENTATION",
           "1712203444.10", userfield]
    f = workdir / "nasty_extra.csv"
    with open(f, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n").writerow(rec)
    r = import_(workdir, dsn, f, format="asterisk")
    assert r.returncode == 0, r.stderr
    got = rows(db, "SELECT extra->>'clid', extra->>'userfield', extra->>'amaflags' FROM cdr")
    assert got == [(clid, userfield, "DOCUMENTATION")]
    assert count(db, "cdr_file") == 1


def test_newlines_and_copy_end_marker_inside_a_quoted_field(workdir, dsn, db):
    value = "first\n\\.\nlast\r\nafter crlf"
    rec = ["", "201", "202", "DAHDI/9-1", "DAHDI/10-1", "", "", value,
           "2024-02-02 08:00:00", "", "2024-02-02 08:00:12", "12", "0", "BUSY", "1706860800.3"]
    tail = ["", "203", "204", "DAHDI/9-1", "DAHDI/10-1", "", "", "plain",
            "2024-02-02 09:00:00", "", "2024-02-02 09:00:12", "12", "0", "BUSY", "1706864400.4"]
    f = workdir / "multiline.csv"
    with open(f, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, quoting=csv.QUOTE_ALL, lineterminator="\n")
        w.writerow(rec)
        w.writerow(tail)
    r = import_(workdir, dsn, f)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT line_no, flag3 FROM cdr ORDER BY line_no") == \
        [(1, value), (5, "plain")]


# ---- commands ----------------------------------------------------------------

def test_check_ok(workdir, dsn):
    config = write_config(workdir, dsn)
    r = run_cli("check", config=config)
    assert r.returncode == 0, r.stderr
    assert "office" in r.stdout
    assert "OK" in r.stdout


def test_check_database_unreachable_exit_3(workdir):
    config = write_config(workdir, dead_dsn())
    r = run_cli("check", config=config, timeout=30)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "database" in r.stderr.lower() or "connect" in r.stderr.lower()


def test_import_database_unreachable_at_start_exit_3(workdir, dsn, db):
    good = write_config(workdir, dsn)
    assert run_cli("init-db", config=good).returncode == 0
    f = workdir / "inbox" / "Master.csv"
    f.write_bytes((IMPORT_FIX / "kxhts_basic.csv").read_bytes())
    config = write_config(workdir, dead_dsn())
    r = run_cli("import", f, config=config, timeout=30)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert count(db, "cdr_file") == 0 and count(db) == 0
    assert f.read_bytes() == (IMPORT_FIX / "kxhts_basic.csv").read_bytes()


def test_status_prints_the_ledger(workdir, dsn, db):
    config = write_config(workdir, dsn, format="asterisk")
    assert run_cli("import", TEJ, config=config).returncode == 0
    assert run_cli("import", TEJ, config=config).returncode == 0
    r = run_cli("status", config=config)
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if str(TEJ) in l]
    assert len(lines) == 2, r.stdout
    entries = ledger(db)
    assert "imported" in lines[0] and "duplicate" in lines[1]
    assert str(entries[0]["rows_inserted"]) in lines[0].split()
    assert entries[0]["sha256"][:12] in lines[0]


def test_status_on_empty_ledger(workdir, dsn):
    config = write_config(workdir, dsn)
    assert run_cli("init-db", config=config).returncode == 0
    r = run_cli("status", config=config)
    assert r.returncode == 0, r.stderr


def _key_position(config, key):
    for i, line in enumerate(Path(config).read_text().splitlines(), 1):
        col = line.find(key + ":")
        if col >= 0:
            return i, col + 1, col + len(key) + 3
    raise AssertionError(key)


@pytest.mark.parametrize("command", ["check", "import", "status", "init-db"])
def test_unknown_source_key_exit_2_with_position(workdir, dsn, command):
    config = write_config(workdir, dsn, colour="red")
    line, col, _ = _key_position(config, "colour")
    args = [command] + ([str(IMPORT_FIX / "kxhts_basic.csv")] if command == "import" else [])
    r = run_cli(*args, config=config)
    assert r.returncode == 2, (r.stdout, r.stderr)
    m = re.search(r"importer\.yaml:(\d+):(\d+):.*colour", r.stderr)
    assert m, r.stderr
    assert (int(m.group(1)), int(m.group(2))) == (line, col)


def test_unknown_top_level_key_exit_2(workdir, dsn):
    config = write_config(workdir, dsn, top_level={"databse": {"dsn": dsn}})
    line, col, _ = _key_position(config, "databse")
    r = run_cli("check", config=config)
    assert r.returncode == 2
    m = re.search(r"importer\.yaml:(\d+):(\d+):.*databse", r.stderr)
    assert m, r.stderr
    assert (int(m.group(1)), int(m.group(2))) == (line, col)


@pytest.mark.parametrize("key,value", [("recursive", "maybe"), ("max_line_bytes", "lots"),
                                        ("max_reject_ratio", [1, 2]), ("name", {"a": 1}),
                                        ("format", "excel")])
def test_wrong_type_exit_2_with_position(workdir, dsn, key, value):
    config = write_config(workdir, dsn, **{key: value})
    line, key_col, value_col = _key_position(config, key)
    r = run_cli("check", config=config)
    assert r.returncode == 2, (r.stdout, r.stderr)
    m = re.search(r"importer\.yaml:(\d+):(\d+):", r.stderr)
    assert m and key in r.stderr, r.stderr
    assert int(m.group(1)) == line
    assert int(m.group(2)) in (key_col, value_col)


def test_import_with_two_sources_needs_source(workdir, dsn, db):
    config = workdir / "importer.yaml"
    config.write_text(
        f'database:\n  dsn: "{dsn}"\n'
        "sources:\n"
        f'  - name: a\n    path: "{workdir}/inbox"\n    timezone: UTC\n'
        f'    processed_dir: "{workdir}/processed"\n    failed_dir: "{workdir}/failed"\n'
        f'  - name: b\n    path: "{workdir}/inbox2"\n    format: asterisk\n    timezone: UTC\n'
        f'    processed_dir: "{workdir}/processed2"\n    failed_dir: "{workdir}/failed2"\n')
    f = IMPORT_FIX / "asterisk16.csv"
    r = run_cli("import", f, config=config)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "--source" in r.stderr
    r = run_cli("import", "--source", "b", f, config=config)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT DISTINCT source FROM cdr") == [("b",)]
    r = run_cli("import", "--source", "nosuch", f, config=config)
    assert r.returncode == 2


def test_version_needs_no_config_or_database(tmp_path):
    r = run_cli("--version", cwd=tmp_path, env={"CDRIMPORT_CONFIG": str(tmp_path / "none.yaml")})
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert re.fullmatch(r"cdrimport \d+\.\d+\.\d+\S*", lines[0]), r.stdout
    # the libraries it runs with, one line each (test_package_cli.py has more)
    assert [ln.split()[0] for ln in lines[1:]] == \
        ["libpq", "libcsv", "libyaml", "libcurl", "libarchive"], r.stdout


def test_import_without_paths_is_usage_error(workdir, dsn):
    r = run_cli("import", config=write_config(workdir, dsn))
    assert r.returncode == 2


@pytest.mark.parametrize("value, message", [
    ("0", "cdrimport: --jobs: must be between 1 and 1024, got 0\n"),
    ("1025", "cdrimport: --jobs: must be between 1 and 1024, got 1025\n"),
    ("abc", "cdrimport: --jobs: expected an integer, got 'abc'\n"),
])
def test_jobs_outside_the_config_limit_is_usage_error(workdir, dsn, db, value, message):
    """--jobs has the bound and the wording of the config's `jobs` key."""
    config = write_config(workdir, dsn)
    r = run_cli("import", "--jobs", value, IMPORT_FIX / "kxhts_basic.csv", config=config)
    assert r.returncode == 2
    assert r.stderr == message
    assert rows(db, "SELECT to_regclass('cdr')") == [(None,)]  # not even connected


def test_jobs_at_the_limit_imports(workdir, dsn, db):
    config = write_config(workdir, dsn)
    r = run_cli("import", "--jobs", "1024", IMPORT_FIX / "kxhts_basic.csv", config=config)
    assert r.returncode == 0, r.stderr
    assert count(db) > 0


def test_missing_config_file_exit_2(tmp_path):
    r = run_cli("check", config=tmp_path / "nope.yaml")
    assert r.returncode == 2
    assert "nope.yaml" in r.stderr


# ---- schema ------------------------------------------------------------------

def test_init_db_twice_is_idempotent(workdir, dsn, db):
    config = write_config(workdir, dsn)
    r1 = run_cli("init-db", config=config)
    assert r1.returncode == 0, r1.stderr
    assert import_(workdir, dsn, IMPORT_FIX / "kxhts_basic.csv").returncode == 0
    n = count(db)
    versions = rows(db, "SELECT version FROM cdr_schema ORDER BY 1")
    r2 = run_cli("init-db", config=config)
    assert r2.returncode == 0, r2.stderr
    assert rows(db, "SELECT version FROM cdr_schema ORDER BY 1") == versions
    assert count(db) == n and n > 0


def test_schema_columns(workdir, dsn, db):
    assert run_cli("init-db", config=write_config(workdir, dsn)).returncode == 0
    cols = {}
    for table, column, dtype in rows(db, "SELECT table_name, column_name, data_type"
                                         " FROM information_schema.columns"
                                         " WHERE table_schema = 'public'"):
        cols.setdefault(table, {})[column] = dtype
    want_cdr = {
        "source": "text", "call_id": "text", "caller_phone": "text", "dialed_phone": "text",
        "flag2": "text", "flag3": "text", "call_time": "timestamp with time zone",
        "answer_time": "timestamp with time zone", "end_time": "timestamp with time zone",
        "total_duration_s": "integer", "call_duration_s": "integer",
        "call_duration": "interval", "call_type": "text", "account_code": "text",
        "src_channel": "text", "dst_channel": "text", "feature": "text", "extra": "jsonb",
        "file_id": "integer", "line_no": "integer", "row_key": "uuid"}
    for c, t in want_cdr.items():
        assert cols["cdr"].get(c) == t, c
    # cdr is the view; the rows are in cdr_row, with every column of the
    # view but the one it computes.
    assert set(cols["cdr_row"]) == set(want_cdr) - {"call_duration"}
    for c in ("id", "source", "path", "sha256", "size_bytes", "rows_read", "rows_inserted",
              "rows_duplicate", "rows_rejected", "rows_repaired", "status", "error",
              "started_at", "finished_at"):
        assert c in cols["cdr_file"], c
    assert cols["cdr_reject"]["raw_line"] == "bytea"
    for c in ("file_id", "line_no", "reason"):
        assert c in cols["cdr_reject"], c


def test_unique_constraint_refuses_a_duplicate_row(workdir, dsn, db):
    assert import_(workdir, dsn, IMPORT_FIX / "kxhts_basic.csv").returncode == 0
    cols = [c for (c,) in rows(db, "SELECT column_name FROM information_schema.columns"
                                   " WHERE table_name = 'cdr_row' AND is_generated = 'NEVER'")]
    collist = ", ".join(cols)
    with pytest.raises(psycopg2.errors.UniqueViolation):
        rows(db, f"INSERT INTO cdr_row ({collist}) SELECT {collist} FROM cdr_row LIMIT 1"
                 " RETURNING 1")
    # The constraint covers the key alone: other content, same key, refused.
    uniq = rows(db, "SELECT count(*) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
                    " WHERE t.relname = 'cdr_row' AND c.contype IN ('p', 'u')")[0][0]
    assert uniq >= 1
    with pytest.raises(psycopg2.errors.UniqueViolation):
        sel = collist.replace("caller_phone", "'someone else'")
        rows(db, f"INSERT INTO cdr_row ({collist}) SELECT {sel} FROM cdr_row LIMIT 1"
                 " RETURNING 1")
