"""Helpers for test_watch.py: the `cdrimport watch` daemon as a subprocess,
KX-HTS test data, deadline-based waiting and database checks that survive a
restart of the server.

* Daemon: starts `cdrimport -c CONFIG watch` with stderr to a log file and
  NOTIFY_SOCKET pointing at a socket of ours, so that wait_ready() waits for
  the daemon's own READY=1 (sent once every folder is watched and scanned)
  instead of sleeping. close() kills it if it is still running.
* "Nothing happened" is never concluded from a sleep: a slow machine would
  make such a check pass without the daemon having looked. Started with
  DEBUG (args=DEBUG), the daemon logs what it decides: 'new candidate P',
  'ignored P: ...' (inotify, once P is complete), 'scanned DIR: N
  candidates', 'importing P', 'database still unreachable'. wait_ignored()
  and wait_scans() wait for those.
* kx_text(start, count): rows [start, start+count) of bench/gen_kxhts.py's
  deterministic stream (all distinct rows); identities(text) gives the set
  of (call_id, dst_channel) that identifies each of them in table cdr.
* Db: queries through a connection that is reopened after a server restart.
"""
import csv
import importlib.util
import io
import os
import re
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import psycopg2
import psycopg2.errors

from conftest import BIN, REPO_ROOT, connect

_spec = importlib.util.spec_from_file_location("gen_kxhts", REPO_ROOT / "bench" / "gen_kxhts.py")
gen_kxhts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_kxhts)

SEED = 7
# Global options that make the daemon log its DEBUG lines.
DEBUG = ("-v", "-v")


# ---- data --------------------------------------------------------------------

def kx_text(start, count, seed=SEED):
    """Rows [start, start+count) of the generator's stream, as one string."""
    return "".join("".join(lines) for lines in gen_kxhts.rows_in(seed, start, count, "forward"))


def identities(text):
    """{(call_id, dst_channel)} of KX-HTS text: one per row, as stored in cdr."""
    return {(rec[14], rec[4]) for rec in csv.reader(io.StringIO(text)) if rec}


def write_file(path, text):
    """Write text to path in one go (open, write, close)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


class Dataset:
    """Hands out consecutive, non-overlapping slices of the stream and
    remembers which rows a test expects in the table."""

    def __init__(self, start=0):
        self.next = start
        self.expected = set()

    def text(self, count, expect=True):
        t = kx_text(self.next, count)
        self.next += count
        if expect:
            self.expected |= identities(t)
        return t


# ---- waiting -----------------------------------------------------------------

def wait_until(pred, timeout, what, interval=0.05):
    """Call pred() until it returns something truthy (returned) or timeout
    seconds pass (AssertionError naming what)."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


# ---- the daemon --------------------------------------------------------------

class Daemon:
    """One `cdrimport watch` process."""

    def __init__(self, config, log_path, args=(), env=None):
        self.config = str(config)
        self.log_path = Path(log_path)
        self.args = [str(a) for a in args]
        self.env = env or {}
        self.proc = None
        self.sock = None

    def start(self):
        name = f"cdrimport-test-{uuid.uuid4().hex}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + name)
        env = os.environ.copy()
        env.update({k: str(v) for k, v in self.env.items()})
        env["NOTIFY_SOCKET"] = "@" + name
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([BIN, "-c", self.config, *self.args, "watch"],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, env=env)
        return self

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=15):
        """Wait for READY=1 on the notify socket, then stop listening (the
        daemon's later STATUS messages then simply fail to send)."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0 or not self.alive():
                    raise AssertionError(
                        f"watch did not report READY=1 within {timeout} s "
                        f"(exit status {self.proc.poll()}):\n{self.log()}")
                self.sock.settimeout(min(left, 0.2))
                try:
                    msg = self.sock.recv(4096).decode(errors="replace")
                except socket.timeout:
                    continue
                if "READY=1" in msg.split("\n"):
                    return self
        finally:
            self.sock.close()
            self.sock = None

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_lines(self, pattern):
        """Log lines matching the regular expression pattern."""
        rx = re.compile(pattern)
        return [line for line in self.log().splitlines() if rx.search(line)]

    def wait_log(self, pattern, timeout=10, count=1):
        return wait_until(lambda: len(self.log_lines(pattern)) >= count, timeout,
                          f"{count} log line(s) matching {pattern!r} in {self.log_path}")

    def wait_more_log(self, pattern, since, more=1, timeout=10):
        """Wait for `more` lines matching pattern beyond the `since` there
        were (take since = len(d.log_lines(pattern)) before acting)."""
        return self.wait_log(pattern, timeout=timeout, count=since + more)

    def wait_scans(self, folder, timeout=10):
        """Wait until a scan of folder that started after this call has
        ended (DEBUG): the scan logged next may have been under way already,
        the one after it was not."""
        pattern = rf"DEBUG scanned {re.escape(str(folder))}: "
        self.wait_more_log(pattern, len(self.log_lines(pattern)), more=2, timeout=timeout)

    def wait_ignored(self, backend, path, timeout=10):
        """Wait until the daemon (DEBUG) has looked at the complete file
        path and left it alone: inotify says so when the file is closed or
        moved in; poll scans the folder twice more. Then check that path
        never was a candidate."""
        path = Path(path)
        if backend == "inotify":
            self.wait_log(rf"DEBUG ignored {re.escape(str(path))}: ", timeout=timeout)
        else:
            self.wait_scans(path.parent, timeout=timeout)
        assert not self.log_lines(rf"new candidate {re.escape(str(path))}$"), self.log()

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=5.0):
        """Send sig and wait up to timeout s; return (exit status, seconds).
        The exit status is None if it was still running (it is then killed)."""
        t0 = time.monotonic()
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = None
            self.proc.kill()
            self.proc.wait()
        return rc, time.monotonic() - t0

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.proc is not None:
            self._log.close()
            print(f"---- {self.log_path} (exit status {self.proc.returncode})")
            print(self.log())


# ---- the database ------------------------------------------------------------

class Db:
    """Queries on one database; reconnects after a server restart. A table
    that does not exist yet (the daemon creates the schema when it first
    connects) reads as None."""

    def __init__(self, dbname):
        self.dbname = dbname
        self.conn = None

    def _conn(self):
        if self.conn is None or self.conn.closed:
            self.conn = connect(self.dbname)
        return self.conn

    def all(self, sql, *params):
        for attempt in (0, 1):
            try:
                with self._conn().cursor() as cur:
                    cur.execute(sql, params or None)
                    return cur.fetchall()
            except psycopg2.errors.UndefinedTable:
                return None
            except (psycopg2.OperationalError, psycopg2.InterfaceError):
                self.close()
                if attempt:
                    raise
        return None

    def one(self, sql, *params):
        r = self.all(sql, *params)
        return None if r is None else r[0][0]

    def try_one(self, sql, *params):
        """one(), but None while the server is unreachable."""
        try:
            return self.one(sql, *params)
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            return None

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
            self.conn = None

    # -- shorthands for the tests --

    def cdr_count(self):
        return self.try_one("SELECT count(*) FROM cdr") or 0

    def wait_rows(self, n, timeout=30, daemons=()):
        """Wait until cdr holds at least n rows (and show the logs if not)."""
        try:
            return wait_until(lambda: self.cdr_count() >= n, timeout, f"{n} rows in cdr")
        except AssertionError as e:
            logs = "\n".join(f"---- {d.log_path}\n{d.log()}" for d in daemons)
            raise AssertionError(f"{e}; have {self.cdr_count()}\n{logs}") from None

    def identities(self):
        return self.all("SELECT call_id, coalesce(dst_channel, '') FROM cdr") or []

    def assert_exactly_once(self, expected):
        """cdr holds exactly the expected rows, each once, and nothing was
        rejected anywhere."""
        got = self.identities()
        assert len(got) == len(set(got)), "a row is in cdr twice"
        missing = expected - set(got)
        extra = set(got) - expected
        assert not missing and not extra, \
            f"{len(missing)} rows missing, {len(extra)} unexpected (of {len(expected)})"
        assert self.one("SELECT count(*) FROM cdr_reject") == 0
        assert self.one("SELECT coalesce(sum(rows_rejected), 0) FROM cdr_file") == 0
        assert self.one("SELECT count(*) FROM cdr_file WHERE status = 'failed'") == 0
        again = self.all("SELECT sha256 FROM cdr_file WHERE status = 'imported'"
                         " GROUP BY sha256 HAVING count(*) > 1")
        assert not again, f"files imported twice: {again}"

    def imported_paths(self):
        """Paths of the imported files, in the order they were committed."""
        return [p for (p,) in self.all(
            "SELECT path FROM cdr_file WHERE status = 'imported' ORDER BY id") or []]


# ---- folders -----------------------------------------------------------------

def files_under(folder, pattern="*"):
    """Regular files and FIFOs below folder (recursive), as sorted relative
    paths (str), ignoring the .error notes next to failed files."""
    folder = Path(folder)
    if not folder.exists():
        return []
    return sorted(str(p.relative_to(folder)) for p in folder.rglob(pattern)
                  if not p.is_dir() and not p.name.endswith(".error"))


def processed_name_of(name):
    """The stem a processed file keeps: 'Master.csv' -> 'Master'."""
    return name.rsplit(".", 1)[0]
