"""End-to-end: fetch sources (a PBX in External Application mode, polled
over HTTP(S)) against the fake KX-HTS of tests/fakepbx.py on 127.0.0.1:
polls with Basic and Digest auth, HTTPS with ca_file / pinned_public_key /
neither, each kind of HTTP answer, redirects, `fetch` one-shot exit codes,
`check` (connects, never clears the PBX) and `status`. Every test checks the
rows in cdr (each served record exactly once) and where the spooled
responses ended. Faults (cuts, hangs, full disks, outages, kill -9) are in
test_fetch_faults.py; secrets in test_fetch_security.py."""
import signal
from pathlib import Path

import pytest

from conftest import BIN, rows, run_cli  # noqa: F401
from fetch_helpers import (PASSWORD, USER, expected, failed_of, fetch_source, make_certificate,
                           make_pbx, pbx, processed_of, spool_of, visible,  # noqa: F401
                           write_sources)
from watch_helpers import DEBUG, Daemon, Db, wait_until


def one_source(workdir, dsn, pbx_, **fetch):
    src = fetch_source(workdir, "office", pbx_.url, **fetch)
    return src, write_sources(workdir, dsn, [src])


@pytest.mark.parametrize("server_auth,auth", [("basic", "any"), ("digest", "any"),
                                               ("basic", "basic"), ("digest", "digest")])
def test_watch_polls_and_imports_each_record_once(workdir, dsn, db, server_auth, auth):
    pbx_ = make_pbx(auth=server_auth)
    d = None
    try:
        src, config = one_source(workdir, dsn, pbx_, auth=auth)
        first = pbx_.add(20)
        d = Daemon(config, workdir / "watch.log", args=DEBUG).start().wait_ready()
        q = Db(db.info.dbname)
        q.wait_rows(20, daemons=[d])
        second = pbx_.add(15)
        q.wait_rows(35, daemons=[d])
        wait_until(lambda: not visible(spool_of(src)), 10, "the spool to empty")
        rc, took = d.stop()
        assert rc == 0 and took < 5, d.log()
        q.assert_exactly_once(expected(first + second))
        assert sorted(pbx_.served_lines()) == sorted(first + second)
        done = visible(processed_of(src))
        assert done and all(n.startswith("Master.") and n.endswith(".csv") for n in done)
        assert not visible(spool_of(src)) and not list(spool_of(src).glob(".*.part"))
        assert not d.log_lines(r" (ERROR|WARN) "), d.log()
    finally:
        if d:
            d.close()
        pbx_.stop()


@pytest.mark.parametrize("trust", ["ca_file", "pinned_public_key", "nothing"])
def test_https(workdir, dsn, db, trust):
    cert, key, pin = make_certificate(workdir)
    pbx_ = make_pbx(certfile=cert, keyfile=key)
    try:
        extra = {"ca_file": cert} if trust == "ca_file" else \
            {"pinned_public_key": pin} if trust == "pinned_public_key" else {}
        src, config = one_source(workdir, dsn, pbx_, **extra)
        lines = pbx_.add(12)
        r = run_cli("fetch", config=config)
        if trust == "nothing":
            # The self-signed certificate is refused before anything is sent.
            assert r.returncode == 1, r.stderr
            assert "unreachable" in r.stderr and "certificate" in r.stderr, r.stderr
            assert pbx_.requests == 0 and len(pbx_.pending) == 12
            assert rows(db, "SELECT count(*) FROM cdr") == [(0,)]
            assert not visible(spool_of(src))
        else:
            assert r.returncode == 0, r.stderr
            Db(db.info.dbname).assert_exactly_once(expected(lines))
            assert not visible(spool_of(src)) and len(visible(processed_of(src))) == 1
    finally:
        pbx_.stop()


def test_http_answers_one_by_one(workdir, dsn, db, pbx):
    """200 with a body, 200 empty, 204, 401, 404, 500, an HTML page: each
    with `fetch`, its exit status, message and what it left."""
    src, config = one_source(workdir, dsn, pbx)
    q = Db(db.info.dbname)
    lines = pbx.add(5)

    r = run_cli("fetch", config=config)
    assert r.returncode == 0, r.stderr
    assert "fetched" in r.stderr
    q.assert_exactly_once(expected(lines))
    assert len(visible(processed_of(src))) == 1

    r = run_cli(*DEBUG, "fetch", config=config)       # 200, nothing new
    assert r.returncode == 0, r.stderr
    assert "nothing new" in r.stderr and "fetched" not in r.stderr

    more = pbx.add(3)
    pbx.fault("204")
    r = run_cli(*DEBUG, "fetch", config=config)
    assert r.returncode == 0 and "HTTP 204, nothing new" in r.stderr, r.stderr

    for fault, words in (("401", "refused the login"), ("404", "no CDR at this URL"),
                         ("500", "HTTP 500")):
        pbx.fault(fault)
        r = run_cli("fetch", config=config)
        assert r.returncode == 1, (fault, r.stderr)
        assert words in r.stderr, (fault, r.stderr)
        if fault == "401":
            assert "check username and password" in r.stderr
        assert len(pbx.pending) == 3  # the PBX kept its records
    assert not visible(spool_of(src))

    pbx.fault("html")
    r = run_cli("fetch", config=config)
    assert r.returncode == 1, r.stderr
    failed = visible(failed_of(src))
    assert len(failed) == 1, failed
    note = (failed_of(src) / (failed[0] + ".error")).read_text()
    assert note.strip(), note
    assert "KX-HTS Web Maintenance Console" in (failed_of(src) / failed[0]).read_text()

    r = run_cli("fetch", config=config)
    assert r.returncode == 0, r.stderr
    assert len(pbx.pending) == 0
    got = q.identities()
    assert len(got) == len(set(got)) == 8 and set(got) == expected(lines + more)
    assert not visible(spool_of(src))


def test_wrong_password_error_once_then_fixed_by_reload(workdir, dsn, db, pbx):
    src, config = one_source(workdir, dsn, pbx, password="wrong")
    lines = pbx.add(4)
    d = Daemon(config, workdir / "watch.log").start().wait_ready()
    try:
        wait_until(lambda: pbx.refused >= 6, 30, "several refused polls")
        assert len(d.log_lines(r"ERROR .*refused the login")) == 1, d.log()
        assert len(pbx.pending) == 4
        pw = Path(src["fetch"]["password_file"])
        pw.write_text(PASSWORD + "\n")
        d.send(signal.SIGHUP)
        Db(db.info.dbname).wait_rows(4, daemons=[d])
        d.wait_log(r"INFO source office: the PBX at .* answers again")
        assert d.stop()[0] == 0
        Db(db.info.dbname).assert_exactly_once(expected(lines))
    finally:
        d.close()


def test_redirects_same_host_only(workdir, dsn, db, pbx):
    src, config = one_source(workdir, dsn, pbx)
    lines = pbx.add(6)
    pbx.fault("redirect")
    r = run_cli("fetch", config=config)
    assert r.returncode == 0, r.stderr
    Db(db.info.dbname).assert_exactly_once(expected(lines))

    more = pbx.add(2)
    pbx.fault("redirect_other")
    r = run_cli("fetch", config=config)
    assert r.returncode == 1 and "another host" in r.stderr, r.stderr
    assert len(pbx.pending) == 2 and more


def test_more_than_three_redirects_are_not_followed(workdir, dsn, db, pbx):
    """Three redirects on the same host are followed; a fourth is not, and the
    PBX keeps its records for the next poll."""
    src, config = one_source(workdir, dsn, pbx)
    lines = pbx.add(3)
    pbx.fault("redirect", "redirect", "redirect")
    r = run_cli("fetch", config=config)
    assert r.returncode == 0, r.stderr
    Db(db.info.dbname).assert_exactly_once(expected(lines))

    more = pbx.add(2)
    pbx.fault("redirect", "redirect", "redirect", "redirect")
    r = run_cli("fetch", config=config)
    assert r.returncode == 1 and "more than 3 redirects" in r.stderr, r.stderr
    assert len(pbx.pending) == 2 and more
    assert rows(db, "SELECT count(*) FROM cdr")[0][0] == 3


def test_fetch_exit_codes(workdir, dsn, db, pbx):
    src, config = one_source(workdir, dsn, pbx)
    folder = {"name": "folder", "path": str(workdir / "inbox"), "timezone": "UTC",
              "processed_dir": str(workdir / "processed"), "failed_dir": str(workdir / "failed")}
    config = write_sources(workdir, dsn, [src, folder])
    assert run_cli("fetch", "--source", "nosuch", config=config).returncode == 2
    r = run_cli("fetch", "--source", "folder", config=config)
    assert r.returncode == 2 and "no fetch: block" in r.stderr, r.stderr
    assert run_cli("fetch", "--dry-run", config=config).returncode == 2

    # The database is unreachable: polled and spooled all the same, exit 3.
    lines = pbx.add(7)
    down = dict(src)
    bad = write_sources(workdir, "host=127.0.0.1 port=1 dbname=x connect_timeout=2", [down],
                        name="down.yaml")
    r = run_cli("fetch", config=bad)
    assert r.returncode == 3, r.stderr
    assert len(visible(spool_of(src))) == 1 and not pbx.pending

    # Back: the leftover and a new response are both imported.
    more = pbx.add(3)
    r = run_cli("fetch", "--source", "office", config=config)
    assert r.returncode == 0, r.stderr
    Db(db.info.dbname).assert_exactly_once(expected(lines + more))
    assert not visible(spool_of(src)) and len(visible(processed_of(src))) == 2

    # A PBX that is not there: exit 1, nothing spooled.
    pbx.stop()
    r = run_cli("fetch", config=config)
    assert r.returncode == 1 and "unreachable" in r.stderr, r.stderr
    assert not visible(spool_of(src))


def test_check_connects_without_clearing(workdir, dsn, db):
    cert, key, pin = make_certificate(workdir)
    pbx_ = make_pbx(certfile=cert, keyfile=key)
    try:
        src, config = one_source(workdir, dsn, pbx_, pinned_public_key=pin)
        pbx_.add(5)
        r = run_cli("check", config=config)
        assert r.returncode == 0, r.stderr
        assert "fetch office: https://INSTALLER:***@127.0.0.1" in r.stdout, r.stdout
        assert "TLS key matches pinned_public_key (no request sent)" in r.stdout, r.stdout
        assert pbx_.requests == 0 and pbx_.refused == 0 and len(pbx_.pending) == 5
        pbx_.stop()
        r = run_cli("check", config=config)
        assert r.returncode == 1 and "cannot connect" in r.stdout, r.stdout
    finally:
        pbx_.stop()


def test_status_shows_each_fetch_source(workdir, dsn, db, pbx):
    src, config = one_source(workdir, dsn, pbx)
    pbx.add(9)
    assert run_cli("fetch", config=config).returncode == 0
    pbx.fault("500")
    assert run_cli("fetch", config=config).returncode == 1
    r = run_cli("status", config=config)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "fetch sources" in out and "office: http://INSTALLER:***@127.0.0.1" in out, out
    assert "HTTP 500" in out and "2 polls" in out and "9 rows" in out, out
    assert rows(db, "SELECT polls, http_status FROM cdr_fetch") == [(2, 500)]


def test_config_errors_name_the_key(workdir, dsn):
    src = fetch_source(workdir, "office", "ftp://pbx.example/cdr")
    r = run_cli("check", config=write_sources(workdir, dsn, [src]))
    assert r.returncode == 2 and "fetch.url" in r.stderr and "http" in r.stderr, r.stderr
    src = fetch_source(workdir, "office", "http://pbx.example/cdr", auth="ntlm-only")
    r = run_cli("check", config=write_sources(workdir, dsn, [src]))
    assert r.returncode == 2 and "fetch.auth" in r.stderr, r.stderr
    src = fetch_source(workdir, "office", "http://pbx.example/cdr", source={"pattern": "*.txt"})
    r = run_cli("check", config=write_sources(workdir, dsn, [src]))
    assert r.returncode == 2 and "pattern" in r.stderr, r.stderr
