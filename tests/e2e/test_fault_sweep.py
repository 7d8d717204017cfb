"""The fault sweep (issue 13): `import`, `scan` (on_success move and
delete) and `watch` run under tests/fault/faultinject.c, once to count the
calls they make on their own files (open, read, write, fsync, rename, link,
unlink, mkdir, inotify_add_watch, statvfs under the run's folder), then
once per call N with the Nth call failing (ENOSPC, EIO, EACCES or EXDEV,
turn by turn, see fault_helpers.ERRNOS). After each faulty run:

* no input file left the inbox (moved or deleted) unless its rows were
  committed, and nothing but whole copies of inputs is in processed/;
* the failure was reported (exit status, an ERROR/WARN log line or a
  .error file) -- unless the run came out exactly as a clean one (EXDEV
  from rename is answered by a copy, which is no failure);
* a clean run afterwards leaves every row stored exactly once, and every
  file where a clean run puts it.

Each run has its own folder (FAULT_DIR) and its own database schema, so
the runs share one database. The summary line per command (runs, faults
injected) is printed at the end of each test.

FAULT_SWEEP_ALL_ERRNOS=1 makes each call fail once with every errno of
its kind instead of one in turn (about 2.5 times the runs; not in CI).
"""
import os
import shutil
import time
from pathlib import Path

import psycopg2
import psycopg2.errors
import pytest

from conftest import rows, run_cli, write_config
from fetch_helpers import pbx  # noqa: F401,F811  (the fixture)
from fault_helpers import fault_env, injected, read_log
from watch_helpers import Daemon

# Files of the sweep: two inputs, one in a subfolder (moves then make a
# folder in processed/), ten distinct rows.
INPUTS = {"a.csv": range(1, 6), "pbx2/b.csv": range(6, 11)}


def kx_line(i):
    m = i % 60
    fields = ["", f"{200 + i}", f"03{i:08d}", f"SIP/{200 + i}-{i:08x}",
              f"SIP/carrier1_x-{i:08x}", "", "", "", f"2023-01-05 10:{m:02d}:00",
              f"2023-01-05 10:{m:02d}:05", f"2023-01-05 10:{m:02d}:59", "59", "54", "ANSWERED",
              f"{1672912800 + i}.{i}"]
    return ",".join(f'"{f}"' for f in fields).encode() + b"\n"


def data_of(name):
    return b"".join(kx_line(i) for i in INPUTS[name])


def ids_of(name):
    return {f"{1672912800 + i}.{i}" for i in INPUTS[name]}


ALL_IDS = set().union(*(ids_of(n) for n in INPUTS))


def files_under(folder):
    folder = Path(folder)
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".error"))


def error_notes(folder):
    return sorted(p for p in Path(folder).rglob("*.error") if p.is_file())


class Run:
    """One run's folder (inbox/, processed/, failed/, config) and schema."""

    def __init__(self, base, dsn, label, on_success, watch=None):
        self.dir = Path(base) / label
        self.schema = "s_" + label.replace("-", "_")
        for sub in ("inbox", "processed", "failed"):
            (self.dir / sub).mkdir(parents=True)
        for name in INPUTS:
            path = self.dir / "inbox" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data_of(name))
        top = {"database": {"dsn": dsn, "schema": self.schema}}
        if watch:
            top["watch"] = watch
        self.config = write_config(self.dir, dsn, top_level=top, on_success=on_success,
                                   recursive=True)
        self.log = Path(base) / f"{label}.faults"
        self.on_success = on_success

    def stored(self, db):
        """call_id of every row in the run's cdr (one entry per row)."""
        try:
            return [c for (c,) in rows(db, f'SELECT call_id FROM "{self.schema}".cdr')]
        except psycopg2.errors.UndefinedTable:
            return []

    def inbox_names(self):
        inbox = self.dir / "inbox"
        return {str(p.relative_to(inbox)) for p in files_under(inbox)}


def check_after_fault(run, db, r):
    """The invariants right after a faulty run; returns whether the run
    came out as a clean one would."""
    stored = set(run.stored(db))
    left = run.inbox_names()
    inputs = {data_of(n) for n in INPUTS}
    for name in INPUTS:
        if name not in left:
            missing = ids_of(name) - stored
            assert not missing, f"{name} left the inbox but {len(missing)} of its rows are not stored"
    for folder in ("processed", "failed"):
        for p in files_under(run.dir / folder):
            assert p.read_bytes() in inputs, f"{p} is not a whole copy of an input"
    moved = [p.read_bytes() for p in files_under(run.dir / "processed")]
    assert len(moved) == len(set(moved)), "an input is in processed/ twice"
    clean = (r.returncode == 0 and stored == ALL_IDS and
             (left == set(INPUTS) if run.on_success in (None, "keep") else not left) and
             (run.on_success != "move" or len(moved) == len(INPUTS)))
    return clean


def check_clean_rerun(run, db, r):
    assert r.returncode == 0, r.stderr
    got = run.stored(db)
    assert len(got) == len(set(got)), "a row is stored twice"
    assert set(got) == ALL_IDS, f"{len(ALL_IDS - set(got))} rows missing after the clean re-run"
    if run.on_success in ("move", "delete"):
        assert run.inbox_names() == set(), "a file is still in the inbox after a clean re-run"
    else:
        assert run.inbox_names() == set(INPUTS)
    if run.on_success == "move":
        moved = sorted(p.read_bytes() for p in files_under(run.dir / "processed"))
        assert moved == sorted(data_of(n) for n in INPUTS)
    assert files_under(run.dir / "failed") == []


def reported(run, r):
    return (r.returncode != 0 or " ERROR " in r.stderr or " WARN " in r.stderr or
            bool(error_notes(run.dir)))


def one_shot(args):
    """A one-shot command (import/scan): (Nth fault) -> CompletedProcess."""
    def go(run, env):
        extra = [str(run.dir / "inbox")] if args == ("import",) else []
        return run_cli(*args, *extra, config=run.config, env=env)
    return go


COMMANDS = {
    "import": (("import",), None),
    "scan-move": (("scan",), "move"),
    "scan-delete": (("scan",), "delete"),
}


def sweep(tmp_path, dsn, db, capsys, label, on_success, faulty, clean, watch=None, count=1):
    counting = Run(tmp_path, dsn, f"{label}-count", on_success, watch)
    r = faulty(counting, fault_env(counting.dir, counting.log))
    calls = read_log(counting.log)
    assert calls, f"the shim saw no call of {label}: {r.stderr}"
    assert check_after_fault(counting, db, r), r.stderr
    kinds = sorted({c[1] for c in calls})
    runs = faults = recovered = 0
    problems, silent = [], []
    turns = range(3) if os.environ.get("FAULT_SWEEP_ALL_ERRNOS") == "1" else (None,)
    for n, turn in [(n, t) for n in range(1, len(calls) + 1) for t in turns]:
        run = Run(tmp_path, dsn, f"{label}-{n}-{turn or 0}", on_success, watch)
        r = faulty(run, fault_env(run.dir, run.log, n=n, count=count, turn=turn))
        runs += 1
        hits = injected(run.log)
        what = f"{label}, call {n} ({hits[0][1]} {hits[0][2]} -> {hits[0][3]})" if hits \
            else f"{label}, call {n} (not reached)"
        try:
            came_out_clean = check_after_fault(run, db, r)
            if hits:
                faults += 1
                if came_out_clean:
                    recovered += 1
                if not reported(run, r):
                    # Only a rename that says EXDEV needs no word: the
                    # copy that answers it is no failure.
                    assert came_out_clean and (hits[0][1], hits[0][3]) == ("rename", "EXDEV"), \
                        "the failure was not reported"
                    silent.append(f"{hits[0][1]}->{hits[0][3]}")
            check_clean_rerun(run, db, clean(run))
        except AssertionError as e:
            problems.append(f"{what}: {e}\n---- stderr of the faulty run:\n{r.stderr}")
            continue
        shutil.rmtree(run.dir)
    with capsys.disabled():
        print(f"\nfault sweep {label}: {len(calls)} calls ({', '.join(kinds)}), {runs} runs, "
              f"{faults} faults injected; {recovered} runs came out as a clean run would, "
              f"{len(silent)} of them without a word ({', '.join(silent) or 'none'})")
    assert not problems, f"{len(problems)} of {runs} runs broke an invariant:\n" + \
        "\n".join(problems)


@pytest.mark.parametrize("label", list(COMMANDS))
def test_sweep_one_shot(label, tmp_path, dsn, db, capsys):
    args, on_success = COMMANDS[label]
    go = one_shot(args)
    sweep(tmp_path, dsn, db, capsys, label, on_success, go, lambda run: go(run, None))


def test_sweep_scan_move_disk_stays_broken(tmp_path, dsn, db, capsys):
    """scan with on_success: move where every call from the Nth on fails
    (FAULT_COUNT=0: a disk that stays full or broken), so the error paths
    themselves meet errors."""
    go = one_shot(("scan",))
    sweep(tmp_path, dsn, db, capsys, "scan-move-stuck", "move", go, lambda run: go(run, None),
          count=0)


# ---- watch ---------------------------------------------------------------------------

WATCH = {"backend": "inotify", "settle_ms": 0, "poll_interval_ms": 200,
         "rescan_interval_s": 3600}


def watch_done(run, db):
    return set(run.stored(db)) == ALL_IDS and not run.inbox_names()


def watch_faulty(db):
    """The daemon under the shim, the two files already in the inbox: run
    until it has imported and moved both, or has reported a problem and had
    time to retry (1 s), or 5 s pass; then SIGTERM. The result looks like
    a CompletedProcess (returncode, stderr: the daemon's log)."""
    def go(run, env):
        d = Daemon(run.config, run.dir.parent / f"{run.dir.name}.log", env=env).start()
        try:
            t0 = time.monotonic()
            complained = None
            while time.monotonic() - t0 < 5 and d.alive():
                if watch_done(run, db):
                    break
                if complained is None and d.log_lines(r" (ERROR|WARN) "):
                    complained = time.monotonic()
                if complained is not None and time.monotonic() - complained > 1.5:
                    break
                time.sleep(0.05)
            rc, _ = d.stop() if d.alive() else (d.proc.returncode, 0)
        finally:
            d.close()

        class Result:
            returncode = rc
            stderr = d.log()
        return Result
    return go


def test_sweep_watch(tmp_path, dsn, db, capsys):
    """watch with on_success: move; the clean run afterwards is a scan."""
    sweep(tmp_path, dsn, db, capsys, "watch", "move", watch_faulty(db),
          lambda run: run_cli("scan", config=run.config), watch=WATCH)


# ---- fetch: the spool ------------------------------------------------------------------

def test_sweep_fetch(tmp_path, dsn, db, capsys, pbx):  # noqa: F811
    """`fetch` from the fake PBX (which clears what it has sent) with the
    Nth call under the run's folder failing: the password file, the
    spool's temporary file (write, fsync, rename), the spool folder, then
    the import and move of the spooled file. After each faulty run and a
    clean `fetch`: every record the PBX handed over is stored exactly once,
    or the run said its bytes were lost; nothing is left in the spool."""
    from fetch_helpers import expected, fetch_source, hidden_parts, visible, write_sources

    def make_run(label):
        base = tmp_path / label
        base.mkdir()
        src = fetch_source(base, "office", pbx.url)
        config = write_sources(base, dsn, [src])
        schema = "s_" + label.replace("-", "_")
        text = Path(config).read_text().replace("database:\n", f"database:\n  schema: {schema}\n", 1)
        Path(config).write_text(text)
        return base, src, config, schema

    def identities(schema):
        try:
            return rows(db, f'SELECT call_id, coalesce(dst_channel, \'\') FROM "{schema}".cdr')
        except psycopg2.errors.UndefinedTable:
            return []

    def one(label, n):
        base, src, config, schema = make_run(label)
        lines = pbx.add(5)
        log = base / "faults.log"
        r = run_cli("fetch", config=config, env=fault_env(base, log, n=n))
        got = identities(schema)
        assert len(got) == len(set(got)), "a record is stored twice"
        assert set(got) <= expected(lines)
        hits = injected(log)
        lost = "lost" in r.stderr
        if hits and (hits[0][1], hits[0][3]) != ("rename", "EXDEV"):
            # As in the other sweeps, only a rename that says EXDEV needs
            # no word: the copy that answers it is no failure (the checks
            # below still hold the run to every record stored once).
            assert r.returncode != 0 or " ERROR " in r.stderr or " WARN " in r.stderr, \
                "the failure was not reported"
        clean = run_cli("fetch", config=config)
        assert clean.returncode == 0, clean.stderr
        got = identities(schema)
        assert len(got) == len(set(got)), "a record is stored twice after the clean run"
        if not lost:
            assert set(got) == expected(lines), \
                f"{len(expected(lines) - set(got))} records missing and no loss was reported"
        assert not visible(Path(src["path"])) and not hidden_parts(Path(src["path"]))
        return log, hits, lost, r

    log, _, _, _ = one("fetch-count", 0)
    calls = read_log(log)
    assert calls
    kinds = sorted({c[1] for c in calls})
    runs = faults = losses = 0
    problems = []
    for n in range(1, len(calls) + 1):
        runs += 1
        try:
            _, hits, lost, r = one(f"fetch-{n}", n)
        except AssertionError as e:
            problems.append(f"fetch, call {n} ({calls[n - 1][1]} {calls[n - 1][2]}): {e}")
            continue
        faults += bool(hits)
        losses += lost
    with capsys.disabled():
        print(f"\nfault sweep fetch: {len(calls)} calls ({', '.join(kinds)}), {runs} runs, "
              f"{faults} faults injected, {losses} of them losing bytes the PBX had cleared "
              f"(reported)")
    assert not problems, f"{len(problems)} of {runs} runs broke an invariant:\n" + \
        "\n".join(problems)
