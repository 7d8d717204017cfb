#!/usr/bin/python3
"""bench/fetch_figures.py - the figures of issue 9's closing note (fetch
sources: a PBX in External Application mode polled over HTTP):

1. Over POLLS polls (default 200) at interval_s 1 with records arriving at
   the fake PBX continuously (RATE a second), `cdrimport watch` stores
   exactly the records served: served = rows stored, 0 lost, 0 doubled.
   Latency from a record being served (the fake PBX's clock when it sent
   the response) to the commit of its file (cdr_file.finished_at, the
   server's clock_timestamp() at the end of the file's transaction; same
   host, same clock): p50 and p95.
2. Peak RSS of `cdrimport fetch` importing one 200 MB response (the
   process's maximum resident set, getrusage of the child), beside a plain
   `cdrimport import` of the same bytes as the importer's usual bound.

    /usr/bin/python3 bench/fetch_figures.py [--polls 200] [--rate 20] [--mb 200]
                                             [--cdrimport build/cdrimport]

Starts its own throwaway PostgreSQL (scripts/pg.sh, as bench/latency.py
does) and a fake KX-HTS (tests/fakepbx.py) on 127.0.0.1; everything is
deleted at the end (--keep keeps the temp dir).
"""
import argparse
import csv
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests"))
from latency import Cluster, log, percentile, start_watch, stop_watch  # noqa: E402
from fakepbx import FakePBX  # noqa: E402


def identity(line):
    rec = next(csv.reader(io.StringIO(line)))
    return rec[14], rec[4]


def config_text(dsn, base, url, extra=""):
    return (f"database:\n  dsn: \"{dsn}\"\n"
            "sources:\n"
            "  - name: office\n"
            f"    path: {base}/spool\n"
            f"    processed_dir: {base}/processed\n"
            f"    failed_dir: {base}/failed\n"
            "    timezone: UTC\n"
            "    fetch:\n"
            f"      url: \"{url}\"\n"
            "      username: INSTALLER\n"
            f"      password_file: {base}/password\n"
            "      interval_s: 1\n"
            "      min_free_bytes: 0\n" + extra)


def polls_figure(cluster, base, binary, polls, rate):
    conn = cluster.connect("postgres")
    conn.cursor().execute("CREATE DATABASE fetch_polls")
    conn.close()
    work = base / "polls"
    (work / "spool").mkdir(parents=True)
    (work / "password").write_text("1234\n")
    (work / "password").chmod(0o600)
    pbx = FakePBX(auth="digest").start()
    cfg = work / "importer.yaml"
    cfg.write_text(config_text(cluster.dsn("fetch_polls"), work, pbx.url))
    proc = start_watch(binary, cfg, work / "watch.log")
    try:
        pbx.generate(rate, max_seconds=polls * 3)
        deadline = time.monotonic() + polls * 3
        while pbx.requests < polls and time.monotonic() < deadline:
            time.sleep(0.2)
        pbx.stop_generating()
        # One more poll takes what arrived last; then the spool empties.
        target = pbx.requests + 2
        while pbx.requests < target and time.monotonic() < deadline + 30:
            time.sleep(0.1)
        db = cluster.connect("fetch_polls")
        cur = db.cursor()
        served = pbx.served_lines()
        for _ in range(300):
            cur.execute("SELECT count(*) FROM cdr")
            if cur.fetchone()[0] >= len(served) and \
                    not any(p.name.startswith("Master.") for p in (work / "spool").iterdir()):
                break
            time.sleep(0.1)
        n_requests = pbx.requests
    finally:
        stop_watch(proc)
        pbx.stop()
    cur.execute("SELECT c.call_id, coalesce(c.dst_channel, ''),"
                " extract(epoch FROM f.finished_at) FROM cdr c JOIN cdr_file f ON f.id = c.file_id")
    stored = cur.fetchall()
    committed = {}
    for call_id, dst, at in stored:
        committed.setdefault((call_id, dst), []).append(float(at))
    served_ids = [identity(line) for line in served]
    lost = sum(1 for i in served_ids if i not in committed)
    doubled = sum(len(v) - 1 for v in committed.values())
    extra = len(set(committed) - set(served_ids))
    lat = [committed[identity(line)][0] - t for line, t in pbx.served if identity(line) in committed]
    cur.execute("SELECT count(*), coalesce(sum(rows_rejected), 0) FROM cdr_file")
    files, rejected = cur.fetchone()
    db.close()
    return {"requests": n_requests, "served": len(served), "stored": len(stored),
            "lost": lost, "doubled": doubled, "not_served": extra, "files": files,
            "rejected": rejected,
            "p50_ms": percentile(lat, 50) * 1000 if len(lat) > 1 else float("nan"),
            "p95_ms": percentile(lat, 95) * 1000 if len(lat) > 1 else float("nan"),
            "max_ms": max(lat) * 1000 if lat else float("nan")}


def child_rss_kib(cmd):
    """Run cmd; return (exit status, its own peak RSS in KiB: wait4's rusage
    of that one child, not of every child so far)."""
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    p.stderr.close()
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        log(err.decode(errors="replace")[-2000:])
    return rc, ru.ru_maxrss


def rss_figure(cluster, base, binary, mb):
    conn = cluster.connect("postgres")
    conn.cursor().execute("CREATE DATABASE fetch_rss")
    conn.cursor().execute("CREATE DATABASE import_rss")
    conn.close()
    work = base / "rss"
    (work / "spool").mkdir(parents=True)
    (work / "password").write_text("1234\n")
    (work / "password").chmod(0o600)
    big = work / "big.csv"
    rows = int(mb * 1e6 / 164)
    subprocess.run([sys.executable, str(HERE / "gen_kxhts.py"), "--seed", "5", "--start", "0",
                    "--count", str(rows), "-o", str(big)], check=True)
    size = big.stat().st_size
    # The usual bound first: a plain import of the same bytes.
    other = work / "import.yaml"
    other.write_text(f"database:\n  dsn: \"{cluster.dsn('import_rss')}\"\n"
                     f"sources:\n  - name: office\n    path: {work}/unused\n"
                     "    timezone: UTC\n")
    rc_imp, rss_imp = child_rss_kib([binary, "-c", str(other), "import", str(big)])
    pbx = FakePBX(auth="basic").start()
    try:
        pbx.body_file = str(big)
        cfg = work / "importer.yaml"
        cfg.write_text(config_text(cluster.dsn("fetch_rss"), work, pbx.url,
                                   "      max_response_bytes: 1073741824\n"
                                   "      timeout_s: 3600\n"))
        rc_fetch, rss_fetch = child_rss_kib([binary, "-c", str(cfg), "fetch"])
    finally:
        pbx.stop()
    db = cluster.connect("fetch_rss")
    cur = db.cursor()
    cur.execute("SELECT count(*) FROM cdr")
    stored = cur.fetchone()[0]
    db.close()
    return {"bytes": size, "rows": rows, "stored": stored, "fetch_rc": rc_fetch,
            "fetch_rss_mib": rss_fetch / 1024, "import_rc": rc_imp,
            "import_rss_mib": rss_imp / 1024}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--polls", type=int, default=200)
    ap.add_argument("--rate", type=float, default=20.0, help="records a second at the PBX")
    ap.add_argument("--mb", type=float, default=200.0, help="size of the big response")
    ap.add_argument("--cdrimport", default=str(ROOT / "build" / "cdrimport"))
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--skip-polls", action="store_true")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    random.seed(1)
    base = Path(tempfile.mkdtemp(prefix="cdrimport-fetch-bench."))
    base.chmod(0o755)
    cluster = Cluster(base)
    try:
        cluster.start()
        p = None if args.skip_polls else \
            polls_figure(cluster, base, args.cdrimport, args.polls, args.rate)
        if p:
            print(f"polls: {p['requests']} requests at interval_s 1, {args.rate:g} records/s: "
                  f"served {p['served']}, stored {p['stored']}, lost {p['lost']}, "
                  f"doubled {p['doubled']}, stored but never served {p['not_served']}; "
                  f"{p['files']} files, {p['rejected']} rejected lines")
            print(f"latency served -> committed: p50 {p['p50_ms']:.0f} ms, "
                  f"p95 {p['p95_ms']:.0f} ms, max {p['max_ms']:.0f} ms")
        if not args.skip_rss:
            r = rss_figure(cluster, base, args.cdrimport, args.mb)
            print(f"big response: {r['bytes'] / 1e6:.0f} MB, {r['rows']} rows, stored "
                  f"{r['stored']} (fetch exit {r['fetch_rc']}); peak RSS: fetch "
                  f"{r['fetch_rss_mib']:.1f} MiB, plain import of the same file "
                  f"{r['import_rss_mib']:.1f} MiB (exit {r['import_rc']})")
    finally:
        cluster.stop()
        if args.keep:
            log(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
