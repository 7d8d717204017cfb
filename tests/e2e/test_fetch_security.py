"""End-to-end: the PBX password of a fetch source never appears in any
output the tests can read (stderr and stdout of every command, the watch
daemon's log, `.error` notes, `status`, the database's tables, the
daemon's /proc command line and environment), whether it comes from the
url's userinfo or from password_file; a password_file that others can read
gets a warning; insecure_tls is warned about at every start."""
import os
from pathlib import Path

from conftest import rows, run_cli
from fetch_helpers import PASSWORD, USER, fetch_source, make_pbx, write_sources
from watch_helpers import DEBUG, Daemon, Db, wait_until


def everything_readable(workdir, skip):
    """The bytes of every file under workdir but the ones in skip."""
    out = []
    for p in Path(workdir).rglob("*"):
        if p.is_file() and p not in skip:
            out.append((p, p.read_bytes()))
    return out


def test_password_never_shown(workdir, dsn, db):
    pbx = make_pbx()
    try:
        secret = PASSWORD.encode()
        # 1: the password in the url; a refused login, an HTML page, a good poll.
        url = pbx.url_with(USER, PASSWORD)
        a = fetch_source(workdir, "office", url, password=None)
        wrong = make_pbx(password="something-else")
        b = fetch_source(workdir, "branch", wrong.url_with(USER, PASSWORD), password=None)
        dead = fetch_source(workdir, "dead", f"http://{USER}:{PASSWORD}@127.0.0.1:1/cdr",
                            password=None)
        config = write_sources(workdir, dsn, [a, b, dead])
        outputs = []
        pbx.add(3)
        pbx.fault("html")
        for args in (("check",), (*DEBUG, "fetch"), ("fetch",), ("status",)):
            r = run_cli(*args, config=config)
            outputs += [r.stdout.encode(), r.stderr.encode()]
        assert b"***@127.0.0.1" in b"".join(outputs)

        # 2: the password in a password_file others can read: a warning.
        c = fetch_source(workdir, "third", pbx.url)
        os.chmod(c["fetch"]["password_file"], 0o644)
        config2 = write_sources(workdir, dsn, [c], name="second.yaml")
        pbx.add(2)
        d = Daemon(config2, workdir / "watch.log", args=DEBUG).start().wait_ready()
        try:
            q = Db(db.info.dbname)
            q.wait_rows(5, daemons=[d])  # 3 from the fetch runs, 2 from this daemon
            wait_until(lambda: q.one("SELECT count(*) FROM cdr_fetch") == 4, 10,
                       "the daemon's poll in cdr_fetch")
            proc = Path(f"/proc/{d.pid}")
            outputs += [(proc / "cmdline").read_bytes(), (proc / "environ").read_bytes()]
            d.wait_log(r"WARN source third: password_file .* can be read by group or others")
        finally:
            d.stop()
            d.close()
        wrong.stop()

        skip = {workdir / "office" / "password", workdir / "third" / "password",
                Path(config), Path(config2)}
        files = everything_readable(workdir, skip)
        assert any(p.name.endswith(".error") for p, _ in files)
        for p, data in files:
            assert secret not in data, p
        for out in outputs:
            assert secret not in out, out
        for table, cols in (("cdr_fetch", "url || outcome || coalesce(last_file, '')"),
                            ("cdr_file", "path || coalesce(error, '')"),
                            ("cdr_reject", "reason")):
            for (text,) in rows(db, f"SELECT {cols} FROM {table}"):
                assert PASSWORD not in text, (table, text)
        assert rows(db, "SELECT count(*) FROM cdr_fetch") == [(4,)]
    finally:
        pbx.stop()


def test_insecure_tls_warned_at_every_start(workdir, dsn, db):
    src = fetch_source(workdir, "office", "https://127.0.0.1:1/cdr", insecure_tls=True,
                       connect_timeout_s=1)
    config = write_sources(workdir, dsn, [src])
    for _ in range(2):
        d = Daemon(config, workdir / "watch.log").start().wait_ready()
        try:
            wait_until(lambda: d.log_lines(r"ERROR source office: .*unreachable"), 15,
                       "the unreachable PBX reported")
        finally:
            assert d.stop()[0] == 0
            d.close()
    text = (workdir / "watch.log").read_text()
    assert text.count("insecure_tls is on") == 2, text
