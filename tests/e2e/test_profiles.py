"""End-to-end tests of the column layouts: the KX-HTS default profile
(fixtures/import/kxhts_basic.csv against its hand-written .expected.json),
the Asterisk layouts told apart by column count, asterisk-custom, format
custom with a `columns:` list (the Grandstream export with a header row,
the two FreeSWITCH files, one of them NUL-damaged), text encodings, and the
time zone rule for the repeated and the skipped hour.
"""
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from conftest import FIXTURES, rows, run_cli, write_config
from test_import import (AST_BASE, REAL, cdr_rows, check_rows, count, first_occurrences,
                         import_, ledger, read_records, warnings_in)

UTC = timezone.utc
IMPORT_FIX = FIXTURES / "import"
GRANDSTREAM = REAL / "Davronkhuja__call24-get-recordings__data_Master.csv"
FS_DAMAGED = REAL / "hoathanhdat2009__freeSWITCH-Ekiga__usr_local_freeswitch_log_cdr-csv_Master.csv"
FS_SHEET = REAL / "Kxingyunliushui__freeswitch_tools__Master.csv"

# FreeSWITCH mod_cdr_csv's default template: caller_id_name, caller_id_number,
# destination_number, context, start, answer, end, duration, billsec,
# hangup_cause, uuid, bleg_uuid, accountcode, read_codec, write_codec.
FS_COLS = ["extra.caller_id_name", "caller_phone", "dialed_phone", "flag2", "call_time",
           "answer_time", "end_time", "total_duration_s", "call_duration_s", "call_type",
           "call_id", "extra.bleg_uuid", "account_code", "extra.read_codec",
           "extra.write_codec"]

# The Grandstream UCM header, column by column.
GS_COLS = ["account_code", "caller_phone", "dialed_phone", "flag2", "extra.clid",
           "src_channel", "dst_channel", "feature", "flag3", "call_time", "answer_time",
           "end_time", "total_duration_s", "call_duration_s", "call_type", "extra.amaflags",
           "call_id", "extra.userfield", "extra.dst_extension", "extra.caller_name",
           "extra.answered_by", "extra.session", "-", "extra.action_type",
           "extra.src_trunk", "extra.dst_trunk"]

KX_ORDER = ["account_code", "caller_phone", "dialed_phone", "src_channel", "dst_channel",
            "feature", "flag2", "flag3", "call_time", "answer_time", "end_time",
            "total_duration_s", "call_duration_s", "call_type", "call_id"]


def kx_line(call_id, start, answer="", end="", total="10", talk="5", status="ANSWERED",
            caller="201", callee="202", flag3=""):
    f = ["", caller, callee, "DAHDI/9-1", "DAHDI/1-1", "", "", flag3, start, answer,
         end or start, total, talk, status, call_id]
    return ",".join(f'"{v}"' if i % 2 else v for i, v in enumerate(f))


# ---- KX-HTS ------------------------------------------------------------------

def test_kxhts_fixture_every_field(workdir, dsn, db):
    src = IMPORT_FIX / "kxhts_basic.csv"
    raw = src.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # BOM and CRLF
    assert b",," in raw and b',"",' in raw and b"NO ANSWERED" in raw
    expected = json.loads((IMPORT_FIX / "kxhts_basic.expected.json").read_text())["rows"]
    r = import_(workdir, dsn, src)  # the default, format auto, finds kx-hts
    assert r.returncode == 0, r.stderr
    assert warnings_in(r.stderr) == [], r.stderr
    got = {row["line_no"]: row for row in cdr_rows(db)}
    assert sorted(got) == [e["line_no"] for e in expected]
    for exp in expected:
        row = got[exp["line_no"]]
        for col, want in exp.items():
            where = f"line {exp['line_no']} {col}"
            if col in ("call_time", "answer_time", "end_time"):
                want = datetime.fromisoformat(want) if want else None
                assert row[col] == want, where
            elif isinstance(want, str) and want == "":
                assert row[col] in ("", None), where
            else:
                assert row[col] == want, where
        assert row["call_duration"] == timedelta(seconds=exp["call_duration_s"])
        assert row["source"] == "office"
    (entry,) = ledger(db)
    assert (entry["status"], entry["rows_read"], entry["rows_inserted"],
            entry["rows_rejected"], entry["rows_repaired"]) == ("imported", 7, 7, 0, 0)
    # The two legs of call 1714986900.1 are both there.
    assert rows(db, "SELECT count(*) FROM cdr WHERE call_id = '1714986900.1'")[0][0] == 2


def test_kxhts_quoted_and_bare_give_the_same_row(workdir, dsn, db):
    quoted = '"","201","202","DAHDI/9-1","DAHDI/1-1","","","","2024-06-01 10:00:00","",' \
             '"2024-06-01 10:00:09","9","0","NO ANSWERED","1717236000.1"'
    bare = ',201,202,DAHDI/9-1,DAHDI/1-1,,,,2024-06-01 10:00:00,,2024-06-01 10:00:09,9,0,' \
           'NO ANSWERED,1717236000.1'
    a = workdir / "a.csv"
    b = workdir / "b.csv"
    a.write_text(quoted + "\n")
    b.write_bytes(b"\xef\xbb\xbf" + bare.encode() + b"\r\n")
    assert import_(workdir, dsn, a).returncode == 0
    r = import_(workdir, dsn, b)
    assert r.returncode == 0, r.stderr
    assert count(db) == 1
    assert ledger(db)[1]["rows_duplicate"] == 1
    (row,) = cdr_rows(db)
    assert row["answer_time"] is None and row["call_duration_s"] == 0
    assert row["call_duration"] == timedelta(0)


def test_kxhts_last_line_without_newline(workdir, dsn, db):
    f = workdir / "nonl.csv"
    f.write_text(kx_line("1.1", "2024-06-01 10:00:00") + "\r\n" +
                 kx_line("1.2", "2024-06-01 11:00:00"))
    r = import_(workdir, dsn, f)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT line_no, call_id FROM cdr ORDER BY 1") == [(1, "1.1"), (2, "1.2")]


@pytest.mark.parametrize("encoding,text", [("cp1251", "Иванов Пётр"), ("latin1", "Müller, José"),
                                           ("utf-8", "Иванов ✓")])
def test_kxhts_encoding(workdir, dsn, db, encoding, text):
    f = workdir / "enc.csv"
    f.write_bytes((kx_line("9.1", "2024-06-01 10:00:00", flag3=text) + "\n").encode(encoding))
    r = import_(workdir, dsn, f, encoding=encoding)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT flag3 FROM cdr") == [(text,)]
    assert ledger(db)[0]["rows_repaired"] == 0


def test_kxhts_invalid_utf8_one_replacement_per_byte(workdir, dsn, db):
    f = workdir / "bad_utf8.csv"
    line = kx_line("9.2", "2024-06-01 10:00:00", flag3="A\xa5B\xff\xfeC").encode("latin1")
    f.write_bytes(line + b"\n" + kx_line("9.3", "2024-06-01 11:00:00").encode() + b"\n")
    r = import_(workdir, dsn, f)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT flag3 FROM cdr WHERE call_id = '9.2'") == \
        [("A\ufffdB\ufffd\ufffdC",)]
    (entry,) = ledger(db)
    assert (entry["rows_inserted"], entry["rows_repaired"], entry["rows_rejected"]) == (2, 1, 0)


# ---- time zones --------------------------------------------------------------

def test_berlin_normal_times_are_the_right_instants(workdir, dsn, db):
    berlin = ZoneInfo("Europe/Berlin")
    times = ["2024-01-15 12:00:00", "2024-07-01 12:00:00", "2024-12-31 23:59:59",
             "2024-03-31 01:59:59", "2024-03-31 03:00:00", "2024-10-27 03:00:00"]
    f = workdir / "berlin.csv"
    f.write_text("".join(kx_line(f"1.{i}", t) + "\n" for i, t in enumerate(times)))
    r = import_(workdir, dsn, f, timezone="Europe/Berlin")
    assert r.returncode == 0, r.stderr
    got = dict(rows(db, "SELECT call_id, call_time FROM cdr"))
    for i, t in enumerate(times):
        want = datetime.strptime(t, "%Y-%m-%d %H:%M:%S").replace(tzinfo=berlin)
        assert got[f"1.{i}"] == want, t
    assert got["1.0"] == datetime(2024, 1, 15, 11, 0, tzinfo=UTC)
    assert got["1.1"] == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("zone,local,utc", [
    # Clocks go back: 02:30 happens twice; read as standard time (CET, the later).
    ("Europe/Berlin", "2024-10-27 02:30:00", datetime(2024, 10, 27, 1, 30, tzinfo=UTC)),
    # Clocks go forward: 02:30 never happens; read with the offset before the
    # change (CET), i.e. 03:30 CEST.
    ("Europe/Berlin", "2024-03-31 02:30:00", datetime(2024, 3, 31, 1, 30, tzinfo=UTC)),
    ("America/New_York", "2024-11-03 01:30:00", datetime(2024, 11, 3, 6, 30, tzinfo=UTC)),
    ("America/New_York", "2024-03-10 02:30:00", datetime(2024, 3, 10, 7, 30, tzinfo=UTC)),
])
def test_dst_repeated_and_skipped_hour(workdir, dsn, db, zone, local, utc):
    f = workdir / "dst.csv"
    f.write_text(kx_line("5.1", local, answer=local, end=local, total="0", talk="0") + "\n")
    r = import_(workdir, dsn, f, timezone=zone)
    assert r.returncode == 0, r.stderr
    (row,) = cdr_rows(db)
    assert row["call_time"] == utc
    assert row["answer_time"] == utc
    assert row["end_time"] == utc


def test_same_file_in_two_zones_differs_by_the_offset(workdir, dsn, db):
    f = workdir / "tz.csv"
    f.write_text(kx_line("6.1", "2024-07-01 12:00:00") + "\n")
    assert import_(workdir, dsn, f, timezone="Asia/Tokyo").returncode == 0
    assert import_(workdir, dsn, f, timezone="UTC", name="other").returncode == 0
    got = dict(rows(db, "SELECT source, call_time FROM cdr"))
    assert got["office"] == datetime(2024, 7, 1, 3, 0, tzinfo=UTC)
    assert got["other"] == datetime(2024, 7, 1, 12, 0, tzinfo=UTC)


# ---- Asterisk layouts ----------------------------------------------------------

def _ast(extra_cols, start="2024-02-02 10:00:00"):
    base = ['""', '"100"', '"200"', '"ctx"', '"""N"" <100>"', '"SIP/100-1"', '""',
            '"Hangup"', '""', f'"{start}"', f'"{start}"', f'"{start}"', "4", "4",
            '"ANSWERED"', '"DOCUMENTATION"']
    return ",".join(base + extra_cols)


def test_asterisk_17_columns_uniqueid_or_userfield(workdir, dsn, db):
    f = workdir / "ast17.csv"
    f.write_text("\n".join([
        _ast(['"1706868000.5"']),
        _ast(['"pbx1-1706868000.6"'], "2024-02-02 10:00:01"),
        _ast(['"VIP customer"'], "2024-02-02 10:00:02"),
    ]) + "\n")
    r = import_(workdir, dsn, f, format="asterisk")
    assert r.returncode == 0, r.stderr
    got = rows(db, "SELECT line_no, call_id, extra->>'userfield' FROM cdr ORDER BY 1")
    assert got == [(1, "1706868000.5", None), (2, "pbx1-1706868000.6", None),
                   (3, None, "VIP customer")]


def test_asterisk_19_to_21_columns(workdir, dsn, db):
    f = workdir / "ast1921.csv"
    f.write_text("\n".join([
        _ast(['""', '"1706868000.1"', "7"]),                            # 19
        _ast(['"1706868001.2"', '""', '"1706868001.2"', "8"], "2024-02-02 10:00:01"),  # 20
        _ast(['"1706868002.3"', '"note"', '""', '"1706868002.3"', "9"],
             "2024-02-02 10:00:02"),                                    # 21
    ]) + "\n")
    r = import_(workdir, dsn, f, format="asterisk")
    assert r.returncode == 0, r.stderr
    got = rows(db, "SELECT line_no, call_id, extra->>'userfield', extra->>'linkedid',"
                   " extra->>'sequence', caller_phone, flag2 FROM cdr ORDER BY 1")
    assert got == [
        (1, None, None, "1706868000.1", "7", "100", "ctx"),
        (2, "1706868001.2", None, "1706868001.2", "8", "100", "ctx"),
        (3, "1706868002.3", "note", "1706868002.3", "9", "100", "ctx"),
    ]


def test_asterisk_16_columns_mapping(workdir, dsn, db):
    f = IMPORT_FIX / "asterisk16.csv"
    r = import_(workdir, dsn, f, format="asterisk")
    assert r.returncode == 0, r.stderr
    check_rows(db, read_records(f), AST_BASE)
    row = cdr_rows(db, "line_no = 2")[0]
    assert row["extra"]["clid"] == '"Bob" <101>'
    assert row["flag3"] == "SIP/700,30,tT"
    assert row["answer_time"] is None


def test_asterisk_custom_18_columns(workdir, dsn, db):
    f = workdir / "custom18.csv"
    f.write_text('"""Al"" <1>","1","2","ctx","SIP/1-1","SIP/2-2","Dial","SIP/2,20",'
                 '"2024-02-02 10:00:00","","2024-02-02 10:00:20","20","0","NO ANSWER",'
                 '"DOCUMENTATION","acct","1706868000.1","uf"\n')
    r = import_(workdir, dsn, f, format="asterisk-custom")
    assert r.returncode == 0, r.stderr
    (row,) = cdr_rows(db)
    assert (row["caller_phone"], row["dialed_phone"], row["flag2"], row["src_channel"],
            row["dst_channel"], row["feature"], row["flag3"]) == \
        ("1", "2", "ctx", "SIP/1-1", "SIP/2-2", "Dial", "SIP/2,20")
    assert (row["account_code"], row["call_id"], row["call_type"]) == \
        ("acct", "1706868000.1", "NO ANSWER")
    assert row["answer_time"] is None and row["total_duration_s"] == 20
    assert row["extra"]["clid"] == '"Al" <1>' and row["extra"]["userfield"] == "uf"


# ---- format custom: the neighbours ---------------------------------------------

def test_grandstream_with_header(workdir, dsn, db):
    records = read_records(GRANDSTREAM, header=True)
    assert records[0][0] == 2  # the first call is on line 2
    distinct = first_occurrences(records)
    r = import_(workdir, dsn, GRANDSTREAM, format="custom", columns=GS_COLS, header=True)
    assert r.returncode == 0, r.stderr
    assert count(db) == len(distinct)
    (entry,) = ledger(db)
    assert (entry["rows_rejected"], entry["rows_inserted"]) == (0, len(distinct))
    check_rows(db, distinct, GS_COLS)
    # Non-ASCII text, the repeated Unique ID, and no header row stored.
    assert rows(db, "SELECT count(*) FROM cdr WHERE extra->>'caller_name' LIKE '%%’%%'")[0][0] > 0
    assert rows(db, "SELECT max(n) FROM (SELECT count(*) n FROM cdr GROUP BY call_id) x")[0][0] > 1
    assert rows(db, "SELECT count(*) FROM cdr WHERE caller_phone = 'Caller Number'")[0][0] == 0
    r = import_(workdir, dsn, GRANDSTREAM, format="custom", columns=GS_COLS, header=True)
    assert r.returncode == 0, r.stderr
    assert count(db) == len(distinct)
    assert ledger(db)[1]["status"] == "duplicate"


def test_custom_header_false_rejects_the_header_line(workdir, dsn, db):
    head = GRANDSTREAM.read_bytes().split(b"\r\n")[:6]
    f = workdir / "gs_small.csv"
    f.write_bytes(b"\r\n".join(head) + b"\r\n")
    r = import_(workdir, dsn, f, format="custom", columns=GS_COLS, header=False)
    assert r.returncode == 1, r.stderr
    assert rows(db, "SELECT line_no FROM cdr_reject") == [(1,)]
    assert count(db) == 5
    r = import_(workdir, dsn, f, format="custom", columns=GS_COLS, header=True, name="hdr")
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT count(*) FROM cdr WHERE source = 'hdr'")[0][0] == 5


def test_freeswitch_nul_damaged_lines_rejected_rest_kept(workdir, dsn, db):
    data = FS_DAMAGED.read_bytes()
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    damaged = [i for i, l in enumerate(lines, 1) if b"\0" in l]
    assert damaged == [137, 183, 192]
    records = [(n, rec) for n, rec in read_records(FS_DAMAGED) if n not in damaged]
    distinct = first_occurrences(records)
    r = import_(workdir, dsn, FS_DAMAGED, format="custom", columns=FS_COLS)
    assert r.returncode == 1, r.stderr
    for n in damaged:
        # the file is imported from a copy in workdir (see test_import.import_)
        assert f"/{FS_DAMAGED.name}:{n}" in r.stderr
    rejects = rows(db, "SELECT line_no, raw_line, reason FROM cdr_reject ORDER BY 1")
    assert [n for n, _, _ in rejects] == damaged
    for n, raw, reason in rejects:
        assert bytes(raw) == lines[n - 1], n
        assert "NUL" in reason
    assert count(db) == len(distinct) == len(lines) - 3
    check_rows(db, distinct, FS_COLS)
    (entry,) = ledger(db)
    assert (entry["status"], entry["rows_rejected"], entry["rows_inserted"]) == \
        ("imported", 3, len(distinct))
    # Re-import of the same file: a duplicate, nothing added, exit 0.
    r = import_(workdir, dsn, FS_DAMAGED, format="custom", columns=FS_COLS)
    assert r.returncode == 0, r.stderr
    assert count(db) == len(distinct)
    assert ledger(db)[1]["status"] == "duplicate"


def test_freeswitch_spreadsheet_dates_and_exact_duplicates(workdir, dsn, db):
    records = read_records(FS_SHEET)
    distinct = first_occurrences(records)
    assert len(distinct) < len(records)  # the fixture repeats a row
    r = import_(workdir, dsn, FS_SHEET, format="custom", columns=FS_COLS)
    assert r.returncode == 0, r.stderr
    assert count(db) == len(distinct)
    check_rows(db, distinct, FS_COLS)
    (entry,) = ledger(db)
    assert entry["rows_duplicate"] == len(records) - len(distinct)
    row = cdr_rows(db, "line_no = 1")[0]
    assert row["call_time"] == datetime(2020, 2, 10, 22, 41, tzinfo=UTC)
    assert row["call_id"] == "d80e22e0-4c15-11ea-97a0-9dd79410affb"
    # Same uuid, different hangup cause: both legs kept.
    legs = rows(db, "SELECT call_type FROM cdr WHERE call_id ="
                    " '7adced1a-4c7c-11ea-b08c-2bfc2a06d67d' ORDER BY line_no")
    assert legs == [("NORMAL_CLEARING",), ("USER_BUSY",)]


def test_custom_skip_and_extra_columns(workdir, dsn, db):
    f = workdir / "mini.csv"
    f.write_text("x,42,2024-02-02 10:00:00,ANSWERED,abc-1,ignored,7\n")
    cols = ["extra.kind", "caller_phone", "call_time", "call_type", "call_id", "-",
            "call_duration_s"]
    r = import_(workdir, dsn, f, format="custom", columns=cols)
    assert r.returncode == 0, r.stderr
    (row,) = cdr_rows(db)
    assert row["extra"] == {"kind": "x"}
    assert (row["caller_phone"], row["call_type"], row["call_id"], row["call_duration_s"]) == \
        ("42", "ANSWERED", "abc-1", 7)
    assert row["call_duration"] == timedelta(seconds=7)
    assert "ignored" not in json.dumps(row["extra"]) and row["dialed_phone"] in (None, "")


def test_custom_without_columns_is_config_error(workdir, dsn):
    config = write_config(workdir, dsn, format="custom")
    r = run_cli("check", config=config)
    assert r.returncode == 2
    assert "columns" in r.stderr


def test_columns_with_other_format_is_config_error(workdir, dsn):
    config = write_config(workdir, dsn, format="asterisk", columns=["call_id"])
    r = run_cli("check", config=config)
    assert r.returncode == 2
    assert "columns" in r.stderr


def test_custom_unknown_column_name_is_config_error(workdir, dsn):
    config = write_config(workdir, dsn, format="custom", columns=["call_id", "colour"])
    r = run_cli("check", config=config)
    assert r.returncode == 2
    assert "colour" in r.stderr
