"""End-to-end tests of call accounting: the views cdr_call, cdr_daily and
cdr_hourly and `cdrimport report`, on generated calls with known answers
(report_data.py): legs of one call ID, a ring group answered on one leg,
one answered on none, a blind transfer, busy, failed, internal calls, a
call after local midnight that is the day before in UTC, two calls on the
day the clocks go back, and two sources in different zones. Every --by in
every format is held to the known answers and to each other.
"""
import csv
import io
import json
from collections import defaultdict
from datetime import date

import pytest

from conftest import rows, run_cli
import report_data
from report_data import CALLS

BYS = ["day", "week", "month", "hour", "extension", "destination", "trunk", "outcome"]
COUNTS = ["calls", "incoming", "outgoing", "internal", "answered", "missed", "busy", "failed"]


@pytest.fixture
def loaded(workdir, dsn, db):
    config = report_data.setup(workdir, dsn)
    for name in ("office", "branch"):
        r = run_cli("import", "--source", name, str(workdir / name), config=config)
        assert r.returncode == 0, r.stderr
    return config


def hms(s):
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"


def expected(by, source=None, first="2026-10-01", last="2026-11-30"):
    """The report's rows from the known answers: key -> counts, talk, ring."""
    starts = report_data.local_starts()
    out = defaultdict(lambda: dict.fromkeys(COUNTS + ["talk_s", "ring_sum"], 0))
    for key, c in CALLS.items():
        if source and key[0] != source:
            continue
        start = starts[key]
        if not first <= start[:10] <= last:
            continue
        d = date.fromisoformat(start[:10])
        k = {"day": start[:10], "month": start[:7], "hour": start[11:13] + ":00",
             "week": f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}",
             "extension": c["extension"], "destination": c["destination"],
             "trunk": c["trunk"] or "", "outcome": c["outcome"]}[by]
        e = out[k]
        e["calls"] += 1
        e[c["direction"]] += 1
        e[c["outcome"]] += 1
        e["talk_s"] += c["talk_s"]
        if c["outcome"] == "answered":
            e["ring_sum"] += c["ring_s"]
    return dict(out)


def avg_ring(e):
    # PostgreSQL's round(): halves away from zero
    return int(e["ring_sum"] / e["answered"] + 0.5) if e["answered"] else None


def test_cdr_call_has_the_known_answers(loaded, db):
    got = rows(db, "SELECT source, call_id, start_local::date::text, direction, outcome,"
                   " extension, destination, trunk, ring_s, talk_s, legs FROM cdr_call")
    assert len(got) == len(CALLS)
    for source, call_id, day, *rest in got:
        want = CALLS[(source, call_id)]
        assert dict(day=day, direction=rest[0], outcome=rest[1], extension=rest[2],
                    destination=rest[3], trunk=rest[4], ring_s=rest[5], talk_s=rest[6],
                    legs=rest[7]) == want, (source, call_id)
    # 17 rows, 13 calls; the ring group answered on one leg is not missed
    assert rows(db, "SELECT count(*) FROM cdr")[0][0] == 17
    assert rows(db, "SELECT outcome FROM cdr_call WHERE call_id = '1000.2'") == [("answered",)]


def test_daily_and_hourly_count_local_days(loaded, db):
    daily = {(str(d), s, e): (calls, i, o, n, a, m, b, f, talk)
             for d, s, e, calls, i, o, n, a, m, b, f, talk, _ in
             rows(db, "SELECT * FROM cdr_daily")}
    # 00:30 CEST and 23:30 CET on 2026-10-25 are 22:30 UTC on the 24th and
    # the 25th: both the 25th on the PBX's clock
    assert daily[("2026-10-25", "office", "203")] == (2, 0, 0, 2, 2, 0, 0, 0, 180)
    # 00:30 on the 4th in Berlin (23:30 UTC on the 3rd)
    assert daily[("2026-11-04", "office", "203")] == (1, 1, 0, 0, 0, 1, 0, 0, 0)
    # 23:30 on the 2nd in New York (04:30 UTC on the 3rd)
    assert daily[("2026-11-02", "branch", "100")] == (2, 1, 1, 0, 1, 1, 0, 0, 120)
    assert daily[("2026-11-02", "office", "201")] == (3, 2, 1, 0, 2, 1, 0, 0, 900)
    assert sum(v[0] for v in daily.values()) == len(CALLS)
    hourly = rows(db, "SELECT hour::text, calls, missed FROM cdr_hourly"
                      " WHERE source = 'office' AND extension = '203' ORDER BY 1")
    assert hourly == [("2026-10-25 00:00:00", 1, 0), ("2026-10-25 23:00:00", 1, 0),
                      ("2026-11-04 00:00:00", 1, 1)]
    assert rows(db, "SELECT avg_ring_s FROM cdr_daily WHERE day = '2026-11-02'"
                    " AND source = 'office' AND extension = '201'")[0][0] == 7.5


def parse_csv(text):
    rd = list(csv.reader(io.StringIO(text)))
    return rd[0], {r[0]: r[1:] for r in rd[1:]}


@pytest.mark.parametrize("by", BYS)
def test_every_by_in_every_format_agrees(loaded, by):
    args = ["report", "--from", "2026-10", "--to", "2026-11", "--by", by]
    want = expected(by)
    r = run_cli(*args, "--format", "csv", config=loaded)
    assert r.returncode == 0, r.stderr
    header, got = parse_csv(r.stdout)
    assert header == [by] + COUNTS + ["talk", "avg_ring"]
    assert set(got) == set(want)
    for k, e in want.items():
        ring = avg_ring(e)
        assert got[k] == [str(e[c]) for c in COUNTS] + [
            hms(e["talk_s"]), hms(ring) if ring is not None else ""], k

    r = run_cli(*args, "--format", "json", config=loaded)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["by"] == by and doc["from"] == "2026-10-01" and doc["to"] == "2026-11-30"
    assert {row["key"]: [row[c] for c in COUNTS] + [row["talk_s"]] for row in doc["rows"]} == \
        {k: [e[c] for c in COUNTS] + [e["talk_s"]] for k, e in want.items()}
    tot = doc["totals"]
    assert tot["calls"] == len(CALLS) and tot["missed"] == 3 and tot["answered"] == 8
    assert tot["talk_s"] == sum(c["talk_s"] for c in CALLS.values())

    r = run_cli(*args, "--format", "table", config=loaded)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    head = lines[2].split()
    assert head[:2] == [by, "calls"]
    body = {ln.split()[0] if not ln.startswith(" ") else "": ln.split() for ln in lines[3:]
            if ln and not ln.startswith("-")}
    total = body.pop("total")
    assert total[1:10] == [str(tot[c]) for c in COUNTS] + [tot["talk"]]
    # a key may be empty (an internal call has no trunk): the row is there
    assert len(body) == len(want)
    # columns are aligned: every line as long as the header's
    widths = {len(ln) for ln in lines[2:] if ln}
    assert len(widths) == 1, lines


def test_source_filter_and_totals_match_sql(loaded, db):
    r = run_cli("report", "--source", "branch", "--from", "2026-11-01", "--to", "2026-11-30",
                "--format", "json", config=loaded)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["source"] == "branch"
    assert [(x["key"], x["calls"], x["missed"]) for x in doc["rows"]] == [("2026-11-02", 2, 1)]
    direct = rows(db, "SELECT count(DISTINCT call_id) FROM cdr WHERE source = 'branch'")[0][0]
    assert doc["totals"]["calls"] == direct == 2


def test_one_day_at_the_zone_edge(loaded):
    # Only the 4th, on Berlin's clock: the call at 00:30 (23:30 UTC on the 3rd)
    r = run_cli("report", "--source", "office", "--from", "2026-11-04", "--to", "2026-11-04",
                "--format", "csv", config=loaded)
    assert r.returncode == 0, r.stderr
    assert parse_csv(r.stdout)[1] == {"2026-11-04": ["1", "1", "0", "0", "0", "1", "0", "0",
                                                     "0:00:00", ""]}


def test_empty_period_is_an_empty_report(loaded):
    base = ["report", "--from", "2025-01-01", "--to", "2025-01-31"]
    r = run_cli(*base, "--format", "csv", config=loaded)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["day,calls,incoming,outgoing,internal,answered,missed,"
                                     "busy,failed,talk,avg_ring"]
    r = run_cli(*base, "--format", "json", config=loaded)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["rows"] == [] and doc["totals"]["calls"] == 0
    assert doc["totals"]["avg_ring"] is None
    r = run_cli(*base, "--format", "table", config=loaded)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].split()[:2] == ["total", "0"]


@pytest.mark.parametrize("args, names", [
    (["--source", "nowhere"], "--source: no source named 'nowhere'"),
    (["--from", "2026-02-30"], "--from: not a date"),
    (["--to", "last week"], "--to: not a date"),
    (["--by", "year"], "--by: unknown value 'year'"),
    (["--format", "pdf"], "--format: unknown value 'pdf'"),
    (["--from", "2026-11-02", "--to", "2026-11-01"], "--from 2026-11-02 is after --to"),
])
def test_usage_errors_name_the_argument(loaded, args, names):
    r = run_cli("report", *args, config=loaded)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert names in r.stderr
    assert r.stdout == ""


def test_output_file_and_csv_into_a_pipe(loaded, workdir):
    out = workdir / "r.json"
    r = run_cli("report", "--from", "2026-11", "--to", "2026-11", "-o", str(out), config=loaded)
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    assert json.loads(out.read_text())["totals"]["calls"] == 11
    assert not (workdir / "r.json.tmp").exists()
    # no --format, stdout a pipe: CSV
    r = run_cli("report", "--from", "2026-11", "--to", "2026-11", config=loaded)
    assert r.stdout.startswith("day,calls,")


def test_asterisk_without_trunks(workdir, dsn, db):
    config = report_data.setup(workdir, dsn, branch_trunks=None)
    r = run_cli("check", config=config)
    assert "source branch" in r.stdout
    assert "trunks: none configured" in r.stdout
    assert "trunks (the kx-hts default): DAHDI/[1-8]-*, SIP/carrier*" in r.stdout
    r = run_cli("import", "--source", "branch", str(workdir / "branch"), config=config)
    assert r.returncode == 0, r.stderr
    # direction unknown, outcome still known
    assert sorted(rows(db, "SELECT direction, outcome FROM cdr_call")) == \
        [(None, "answered"), (None, "missed")]
    assert rows(db, "SELECT trunks, trunk_regex FROM cdr_source WHERE source = 'branch'") == \
        [([], None)]


def test_views_survive_the_partition_conversion(loaded, workdir, db):
    text = (workdir / "importer.yaml").read_text()
    text = text.replace("database:\n", "database:\n  partition: month\n")
    (workdir / "importer.yaml").write_text(text)
    r = run_cli("init-db", config=loaded)
    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT relkind FROM pg_class WHERE relname = 'cdr_row'") == [("p",)]
    assert rows(db, "SELECT count(*), count(*) FILTER (WHERE outcome = 'missed')"
                    " FROM cdr_call") == [(13, 3)]
    assert rows(db, "SELECT sum(calls) FROM cdr_daily")[0][0] == 13


def test_grafana_dashboard_queries_run_on_the_views(loaded, db):
    """grafana/cdrimport-dashboard.json: every panel's SQL, with Grafana's
    macros filled in as Grafana would, runs and reads only the views."""
    import re
    from conftest import REPO_ROOT
    dash = json.loads((REPO_ROOT / "grafana" / "cdrimport-dashboard.json").read_text())
    sqls = [t["rawSql"] for p in dash["panels"] for t in p["targets"]]
    sqls.append(dash["templating"]["list"][0]["query"])
    assert len(sqls) >= 8
    for sql in sqls:
        tables = set(re.findall(r"\bFROM\s+(\w+)", sql))
        assert tables <= {"cdr_daily", "cdr_hourly", "cdr_call"}, sql
        sql = re.sub(r"\$__timeFilter\((\w+)\)",
                     r"\1 BETWEEN '2026-10-01T00:00:00Z' AND '2026-12-01T00:00:00Z'", sql)
        sql = sql.replace("${source:sqlstring}", "'office','branch'")
        assert "$" not in sql, sql
        got = rows(db, sql)
        assert got, sql
    total = rows(db, "SELECT sum(calls), sum(missed) FROM cdr_daily")
    assert total == [(13, 3)]
