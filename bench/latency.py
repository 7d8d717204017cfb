#!/usr/bin/python3
"""bench/latency.py - how long after a file lands in the inbox are its rows
committed? (issue 3's closing note: p50 and p95 over at least 50 files of
1000 rows, settle_ms 0, for both watch backends.)

    /usr/bin/python3 bench/latency.py [--files N] [--cases inotify,poll200,...]
                                      [--cdrimport PATH] [--keep]

Starts its own throwaway PostgreSQL (scripts/pg.sh in a temp dir, a free
port, default server settings: fsync on), then for each case a fresh
database and `cdrimport watch` (settle_ms 0) on a fresh inbox. For each
file: generate 1000 KX-HTS rows (bench/gen_kxhts.py, distinct rows per
file) in a staging folder on the same file system, wait a random time (so
that the poll backend's phase is sampled evenly), then either rename it
into the inbox (mode "rename": IN_MOVED_TO) or write it there directly
(mode "write": create, write, close: IN_CLOSE_WRITE), and take the time
right after the rename or close. A tight loop (every 5 ms) then asks
cdr_file for the file's row, which is only visible once its transaction
has committed. The latency is the difference. The daemon's own "N ms"
per file (read, parse, load, commit) is shown next to it.

Cases: inotify (rename), inotify-write (write and close), poll200 (poll,
poll_interval_ms 200) and poll2000 (the default poll_interval_ms). Prints a
table; everything is deleted at the end (--keep keeps the temp dir).
"""
import argparse
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg2

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import gen_kxhts  # noqa: E402

ROWS = 1000
WARMUP = 2
CASES = {
    # name: (backend, poll_interval_ms, mode)
    "inotify": ("inotify", None, "rename"),
    "inotify-write": ("inotify", None, "write"),
    "poll200": ("poll", 200, "rename"),
    "poll2000": ("poll", 2000, "rename"),
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- the server ----------------------------------------------------------------

def port_free(p):
    if os.path.exists(f"/tmp/.s.PGSQL.{p}") or os.path.exists(f"/var/run/postgresql/.s.PGSQL.{p}"):
        return False
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


class Cluster:
    def __init__(self, base):
        self.dir = base / "pg"
        self.script = ROOT / "scripts" / "pg.sh"
        self.port = next((p for p in random.sample(range(55000, 55900), 60) if port_free(p)), None)
        if self.port is None:
            raise SystemExit("latency.py: no free port in 55000-55899")
        self.started = False

    def start(self):
        subprocess.run(["bash", str(self.script), "start", str(self.dir), str(self.port)],
                       check=True, stdout=subprocess.DEVNULL)
        self.started = True

    def stop(self):
        if self.started:
            subprocess.run(["bash", str(self.script), "stop", str(self.dir)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.started = False

    def connect(self, dbname):
        conn = psycopg2.connect(host=str(self.dir / "run"), port=self.port, user="cdr",
                                dbname=dbname)
        conn.autocommit = True
        return conn

    def dsn(self, dbname):
        return f"host={self.dir / 'run'} port={self.port} user=cdr dbname={dbname}"


# ---- one case ------------------------------------------------------------------

def start_watch(binary, config, log_path):
    name = f"cdrimport-latency-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    env = dict(os.environ, NOTIFY_SOCKET="@" + name)
    logf = open(log_path, "ab")
    proc = subprocess.Popen([binary, "-c", str(config), "watch"], stdin=subprocess.DEVNULL,
                            stdout=logf, stderr=logf, env=env)
    logf.close()
    deadline = time.monotonic() + 30
    try:
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"latency.py: watch did not start; see {log_path}:\n"
                                 + Path(log_path).read_text(errors="replace"))
            sock.settimeout(0.2)
            try:
                if "READY=1" in sock.recv(4096).decode(errors="replace").split("\n"):
                    return proc
            except socket.timeout:
                pass
    finally:
        sock.close()


def stop_watch(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def percentile(values, p):
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def run_case(cluster, base, binary, name, nfiles, rng):
    backend, poll_ms, mode = CASES[name]
    dbname = "lat_" + name.replace("-", "_")
    admin = cluster.connect("postgres")
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{dbname}"')
        cur.execute(f'CREATE DATABASE "{dbname}"')
    admin.close()

    work = base / name
    for sub in ("inbox", "processed", "failed", "staging"):
        (work / sub).mkdir(parents=True)
    watch = {"backend": backend, "settle_ms": 0}
    if poll_ms:
        watch["poll_interval_ms"] = poll_ms
    config = work / "importer.yaml"
    config.write_text(
        f'database:\n  dsn: "{cluster.dsn(dbname)}"\n'
        "watch: {" + ", ".join(f"{k}: {v}" for k, v in watch.items()) + "}\n"
        "sources:\n"
        f'  - name: office\n    path: "{work / "inbox"}"\n'
        f'    processed_dir: "{work / "processed"}"\n    failed_dir: "{work / "failed"}"\n'
        "    timezone: UTC\n")

    total = nfiles + WARMUP
    texts = []
    for k in range(total):
        texts.append("".join("".join(lines) for lines in
                             gen_kxhts.rows_in(11, k * ROWS, ROWS, "forward")))
    if mode == "rename":
        for k, text in enumerate(texts):
            (work / "staging" / f"lat-{k:04d}.csv").write_text(text)

    log_path = work / "watch.log"
    proc = start_watch(binary, config, log_path)
    conn = cluster.connect(dbname)
    cur = conn.cursor()
    gap = (poll_ms or 30) / 1000.0
    lat = []
    try:
        for k in range(total):
            fname = f"lat-{k:04d}.csv"
            dest = work / "inbox" / fname
            time.sleep(rng.uniform(0.0, gap))
            if mode == "rename":
                os.rename(work / "staging" / fname, dest)
            else:
                with open(dest, "w") as f:
                    f.write(texts[k])
            t0 = time.monotonic()
            deadline = t0 + 60
            while True:
                cur.execute("SELECT 1 FROM cdr_file WHERE path = %s AND status = 'imported'",
                            (str(dest),))
                if cur.fetchone():
                    t1 = time.monotonic()
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"latency.py: {fname} not committed within 60 s; "
                                     f"see {log_path}")
                time.sleep(0.005)
            if k >= WARMUP:
                lat.append((t1 - t0) * 1000.0)
            if k % 10 == 9:
                log(f"  {name}: {k + 1}/{total} files")
        cur.execute("SELECT count(*) FROM cdr")
        rows = cur.fetchone()[0]
        if rows != total * ROWS:
            raise SystemExit(f"latency.py: {name}: {rows} rows in cdr, expected {total * ROWS}")
    finally:
        conn.close()
        stop_watch(proc)

    own = [float(m) for m in re.findall(r" imported \S+ .* (\d+) ms -> ",
                                        log_path.read_text(errors="replace"))][WARMUP:]
    return {
        "case": name, "backend": backend, "poll": str(poll_ms) if poll_ms else "-",
        "mode": mode, "n": len(lat),
        "p50": percentile(lat, 50), "p95": percentile(lat, 95),
        "min": min(lat), "max": max(lat),
        "own": statistics.median(own) if own else float("nan"),
    }


# ---- main ------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=52, help="files measured per case (>= 50)")
    ap.add_argument("--cases", default=",".join(CASES),
                    help="comma-separated, of: " + ", ".join(CASES))
    ap.add_argument("--cdrimport", default=str(ROOT / "build" / "cdrimport"))
    ap.add_argument("--seed", type=int, default=1, help="seed of the random gaps")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    a = ap.parse_args()
    cases = [c for c in a.cases.split(",") if c]
    for c in cases:
        if c not in CASES:
            ap.error(f"unknown case {c!r}")
    if a.files < 2:
        ap.error("--files must be >= 2")
    if not os.access(a.cdrimport, os.X_OK):
        raise SystemExit(f"latency.py: no binary {a.cdrimport} (run make)")

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    base = Path(tempfile.mkdtemp(prefix="cdrimport-latency.", dir="/tmp"))
    os.chmod(base, 0o755)
    cluster = Cluster(base)
    rng = random.Random(a.seed)
    results = []
    try:
        log(f"latency.py: PostgreSQL in {cluster.dir} (port {cluster.port})")
        cluster.start()
        conn = cluster.connect("postgres")
        with conn.cursor() as cur:
            cur.execute("SHOW server_version")
            version = cur.fetchone()[0]
            cur.execute("SHOW fsync")
            fsync = cur.fetchone()[0]
        conn.close()
        for name in cases:
            log(f"latency.py: case {name}")
            results.append(run_case(cluster, base, a.cdrimport, name, a.files, rng))
    finally:
        cluster.stop()
        if a.keep:
            log(f"latency.py: kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)

    print(f"file closed/renamed in the inbox -> its rows committed; {ROWS}-row KX-HTS files, "
          f"settle_ms 0, PostgreSQL {version} (fsync {fsync}), {a.files} files per case "
          f"after {WARMUP} warm-up; latency in ms")
    head = ("case", "backend", "poll_ms", "drop", "files", "p50", "p95", "min", "max",
            "import p50")
    print("%-14s %-8s %7s %-7s %5s %8s %8s %8s %8s %10s" % head)
    for r in results:
        print("%-14s %-8s %7s %-7s %5d %8.0f %8.0f %8.0f %8.0f %10.0f" % (
            r["case"], r["backend"], r["poll"], r["mode"], r["n"], r["p50"], r["p95"],
            r["min"], r["max"], r["own"]))
    print("import p50: the daemon's own time per file (read, parse, load, commit), from its log")
    return 0


if __name__ == "__main__":
    sys.exit(main())
