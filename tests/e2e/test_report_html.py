"""End-to-end test of `cdrimport report --format html` in a real headless
Chromium (Debian's chromium, scripts/deps.sh): the page renders to a
screenshot, logs nothing to the console, asks for nothing outside the
file, and its charts show what the database holds. Every bar and cell of
the SVG charts carries its numbers in data-* attributes and a <title>; the
DOM Chromium dumps after rendering is read back and compared with direct
SQL over cdr_call.
"""
import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser

import pytest

from conftest import rows, run_cli
import report_data


def chromium():
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe:
        pytest.fail("chromium is not installed: run scripts/deps.sh")
    return exe


def run_chromium(tmp_path, url, *args):
    """Chromium headless on url; returns (stdout, console lines). Its
    console goes to stderr with --enable-logging=stderr; root needs
    --no-sandbox. A profile of its own: tests may run side by side."""
    profile = tmp_path / "chromium-profile"
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
           "--enable-logging=stderr", "--v=0", *args, url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                       env={**os.environ, "HOME": str(tmp_path)})
    console = [ln for ln in r.stderr.splitlines() if ":CONSOLE" in ln]
    return r, console


class Charts(HTMLParser):
    """The elements with data-* attributes, by what they are."""
    def __init__(self):
        super().__init__()
        self.days, self.hours, self.tops, self.stats = {}, {}, {}, {}
        self.missed_rows = None
        self.svg = None
        self.refs = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if k in a:
                self.refs.append(a[k])
        if tag == "svg" and "id" in a:
            self.svg = a["id"]
        if "data-day" in a:
            self.days[a["data-day"]] = (int(a["data-calls"]), int(a["data-answered"]))
        if "data-dow" in a:
            self.hours[(int(a["data-dow"]), int(a["data-hour"]))] = int(a["data-calls"])
        if a.get("class") == "top":
            self.tops.setdefault(self.svg, {})[a["data-key"]] = int(a["data-calls"])
        if "data-stat" in a:
            self.stats[a["data-stat"]] = a
        if a.get("id") == "missed":
            self.missed_rows = int(a["data-rows"])


def test_console_errors_are_seen(tmp_path):
    """The check below would see an error: a page that logs one."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><title>x</title><script>console.error('boom')</script>")
    _, console = run_chromium(tmp_path, page.as_uri(), "--dump-dom")
    assert any("boom" in ln for ln in console)


def test_html_report_in_chromium(workdir, dsn, db, tmp_path):
    config = report_data.setup(workdir, dsn)
    for name in ("office", "branch"):
        r = run_cli("import", "--source", name, str(workdir / name), config=config)
        assert r.returncode == 0, r.stderr
    out = workdir / "report.html"
    r = run_cli("report", "--from", "2026-10", "--to", "2026-11", "-o", str(out), config=config)
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    assert "<script" not in text and "http://" not in text and "https://" not in text

    shot = tmp_path / "report.png"
    r, console = run_chromium(tmp_path, out.as_uri(), f"--screenshot={shot}",
                              "--window-size=1100,1500")
    assert r.returncode == 0, r.stderr
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1100, 1500)
    assert len(png) > 20000  # a page with charts, not a blank one
    assert console == [], console

    r, console = run_chromium(tmp_path, out.as_uri(), "--dump-dom")
    assert r.returncode == 0, r.stderr
    assert console == [], console
    p = Charts()
    p.feed(r.stdout)
    assert p.refs == []  # nothing fetched from anywhere

    # Calls per day: a bar for each of the 61 days; the database's counts
    days = dict(((d, (c, a)) for d, c, a in rows(
        db, "SELECT start_local::date::text, count(*), count(*) FILTER"
            " (WHERE outcome = 'answered') FROM cdr_call GROUP BY 1")))
    assert len(p.days) == 61
    assert {d: v for d, v in p.days.items() if v != (0, 0)} == days
    # Hour of the week
    hours = {(dow, h): n for dow, h, n in rows(
        db, "SELECT extract(isodow FROM start_local)::int, extract(hour FROM start_local)::int,"
            " count(*) FROM cdr_call GROUP BY 1, 2")}
    assert len(p.hours) == 7 * 24
    assert {k: v for k, v in p.hours.items() if v} == hours
    # Top extensions and destinations
    for svg, col in (("top-extensions", "extension"), ("top-destinations", "destination")):
        want = dict(rows(db, f"SELECT coalesce({col}, ''), count(*) FROM cdr_call GROUP BY 1"
                             " ORDER BY 2 DESC, 1 LIMIT 10"))
        assert p.tops[svg] == want
    # Summary and missed calls
    total, missed = rows(db, "SELECT count(*), count(*) FILTER (WHERE outcome = 'missed')"
                             " FROM cdr_call")[0]
    assert p.stats["calls"] and f"<b>{total}</b>" in text
    assert p.missed_rows == missed == 3
    talk, ring = rows(db, "SELECT sum(talk_s), round(avg(ring_s) FILTER"
                          " (WHERE outcome = 'answered')) FROM cdr_call")[0]
    assert int(p.stats["talk"]["data-seconds"]) == talk
    assert int(p.stats["avg_ring"]["data-seconds"]) == ring


def test_empty_html_report(workdir, dsn, db, tmp_path):
    config = report_data.setup(workdir, dsn)
    out = workdir / "empty.html"
    r = run_cli("report", "--from", "2025-02", "--to", "2025-02", "--format", "html", "-o",
                str(out), config=config)
    assert r.returncode == 0, r.stderr
    r, console = run_chromium(tmp_path, out.as_uri(), "--dump-dom")
    assert console == []
    p = Charts()
    p.feed(r.stdout)
    assert len(p.days) == 28 and set(p.days.values()) == {(0, 0)}
    assert p.missed_rows == 0
    assert "data-seconds" not in p.stats["avg_ring"]
    assert p.stats["calls"] and "<b>0</b>" in out.read_text()
