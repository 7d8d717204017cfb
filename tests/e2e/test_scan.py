"""`scan`, end to end: what happens to files after their import (move under
a unique name, delete, keep), which files are found (subfolders, patterns,
processed_dir/failed_dir inside the inbox, symbolic links), and two
overlapping scans on one inbox (every row exactly once, every file moved).
"""
import re
import subprocess
from pathlib import Path

from conftest import BIN, FIXTURES, rows, run_cli, write_config
from fault_helpers import fault_env, read_log


def kx_line(i):
    """A valid KX-HTS record (bytes, no newline) with call ID '<epoch>.<i>'."""
    m = i % 60
    fields = ["", f"{200 + i % 100}", f"03{i:08d}", f"SIP/{200 + i % 100}-{i:08x}",
              f"SIP/carrier1_x-{i:08x}", "", "", "", f"2023-01-05 10:{m:02d}:00",
              f"2023-01-05 10:{m:02d}:05", f"2023-01-05 10:{m:02d}:59", "59", "54", "ANSWERED",
              f"{1672912800 + i}.{i}"]
    return ",".join(f'"{f}"' for f in fields).encode()


def kx_file(ids):
    return b"".join(kx_line(i) + b"\n" for i in ids)


def call_id(i):
    return f"{1672912800 + i}.{i}"


def stored_ids(db):
    return sorted(c for (c,) in rows(db, "SELECT call_id FROM cdr"))


def ids(range_):
    return sorted(call_id(i) for i in range_)


def files_under(folder):
    return sorted(p for p in Path(folder).rglob("*") if not p.is_dir())


def contents(folder):
    return sorted(p.read_bytes() for p in files_under(folder))


def statuses(db):
    return [s for (s,) in rows(db, "SELECT status FROM cdr_file ORDER BY id")]


def drop(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# ---- on_success -------------------------------------------------------------------

def test_move_under_unique_name(workdir, dsn, db):
    data = kx_file(range(1, 11))
    drop(workdir / "inbox" / "Master.csv", data)
    config = write_config(workdir, dsn, on_success="move")

    r = run_cli("scan", config=config)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids(range(1, 11))
    assert files_under(workdir / "inbox") == []
    (moved,) = files_under(workdir / "processed")
    assert moved.read_bytes() == data
    assert moved.name != "Master.csv"
    assert moved.name.startswith("Master") and moved.name.endswith(".csv"), moved.name
    assert files_under(workdir / "failed") == []
    assert statuses(db) == ["imported"]


def test_moves_are_synced_together(workdir, dsn, db):
    """The folder the files were moved into is synced (fsync) once, after
    the run's last move, not after each one (on ext4 a folder's sync
    commits the journal: a third of a small file's import). The calls are
    counted by the fault shim, which injects nothing here."""
    for k in range(5):
        drop(workdir / "inbox" / f"part{k}.csv", kx_file(range(10 * k, 10 * k + 10)))
    config = write_config(workdir, dsn, on_success="move")
    log = workdir / "calls.log"
    r = run_cli("scan", config=config, env=fault_env(workdir, log))
    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids(range(50))
    processed = workdir / "processed"
    assert len(files_under(processed)) == 5
    calls = read_log(log)
    inbox = str(workdir / "inbox")
    moves = [n for n, kind, path, _ in calls if kind == "rename" and path.startswith(inbox)]
    syncs = [n for n, kind, path, _ in calls if kind == "fsync" and path == str(processed)]
    assert len(moves) == 5, calls
    assert len(syncs) == 1 and syncs[0] > max(moves), calls


def test_same_name_in_two_subfolders_both_kept(workdir, dsn, db):
    a = kx_file(range(1, 6))
    b = kx_file(range(4, 10))  # overlaps a: rows 4 and 5
    drop(workdir / "inbox" / "pbx1" / "Master.csv", a)
    drop(workdir / "inbox" / "pbx2" / "Master.csv", b)
    config = write_config(workdir, dsn)

    r = run_cli("scan", config=config)

    assert r.returncode == 0, r.stderr
    assert files_under(workdir / "inbox") == []
    assert contents(workdir / "processed") == sorted([a, b])
    assert stored_ids(db) == ids(range(1, 10))


def test_successive_drops_are_all_kept(workdir, dsn, db):
    """Every download is called Master.csv: three drops, one of them an exact
    repeat of the first, all end up in processed_dir, none overwritten."""
    first = kx_file(range(1, 11))
    second = kx_file(range(6, 16))  # the next download repeats rows 6..10
    config = write_config(workdir, dsn)
    inbox = workdir / "inbox"

    for data in (first, second, first):
        drop(inbox / "Master.csv", data)
        r = run_cli("scan", config=config)
        assert r.returncode == 0, r.stderr
        assert files_under(inbox) == []

    assert contents(workdir / "processed") == sorted([first, second, first])
    assert len({p.name for p in files_under(workdir / "processed")}) == 3
    assert statuses(db) == ["imported", "imported", "duplicate"]
    assert rows(db, "SELECT count(*), count(DISTINCT call_id) FROM cdr") == [(15, 15)]
    assert stored_ids(db) == ids(range(1, 16))


def test_delete(workdir, dsn, db):
    path = drop(workdir / "inbox" / "Master.csv", kx_file(range(1, 6)))
    config = write_config(workdir, dsn, on_success="delete")

    r = run_cli("scan", config=config)

    assert r.returncode == 0, r.stderr
    assert not path.exists()
    assert files_under(workdir / "processed") == [] and files_under(workdir / "failed") == []
    assert stored_ids(db) == ids(range(1, 6))


def test_delete_never_deletes_a_failed_file(workdir, dsn, db):
    data = (FIXTURES / "bad" / "no_valid_record.csv").read_bytes()
    path = drop(workdir / "inbox" / "Master.csv", data)
    config = write_config(workdir, dsn, on_success="delete")

    r = run_cli("scan", config=config)

    assert r.returncode == 1, r.stderr
    assert not path.exists()
    kept = [p for p in files_under(workdir / "failed") if not p.name.endswith(".error")]
    assert [p.read_bytes() for p in kept] == [data]


def test_keep(workdir, dsn, db):
    data = kx_file(range(1, 6))
    path = drop(workdir / "inbox" / "Master.csv", data)
    config = write_config(workdir, dsn, on_success="keep")

    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert path.read_bytes() == data
    assert files_under(workdir / "processed") == []
    assert stored_ids(db) == ids(range(1, 6))

    # the kept file is seen again by the next scan: a duplicate, nothing added
    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert path.read_bytes() == data
    assert statuses(db) == ["imported", "duplicate"]
    assert rows(db, "SELECT count(*) FROM cdr") == [(5,)]


# ---- which files are found -----------------------------------------------------------

def test_subfolders_are_scanned(workdir, dsn, db):
    inbox = workdir / "inbox"
    drop(inbox / "top.csv", kx_file([1]))
    drop(inbox / "2023" / "01" / "Master.csv", kx_file([2]))
    drop(inbox / "2023" / "02" / "deeper" / "Master.csv", kx_file([3]))
    config = write_config(workdir, dsn, recursive=True)

    r = run_cli("scan", config=config)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids([1, 2, 3])
    assert files_under(inbox) == []
    assert len(files_under(workdir / "processed")) == 3


def test_not_recursive_leaves_subfolders_alone(workdir, dsn, db):
    inbox = workdir / "inbox"
    drop(inbox / "top.csv", kx_file([1]))
    sub = drop(inbox / "2023" / "Master.csv", kx_file([2]))
    config = write_config(workdir, dsn, recursive=False)

    r = run_cli("scan", config=config)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids([1])
    assert sub.is_file()
    assert files_under(inbox) == [sub]


def test_pattern_is_case_insensitive_and_other_names_stay(workdir, dsn, db):
    inbox = workdir / "inbox"
    drop(inbox / "MASTER.CSV", kx_file([1]))
    notes = drop(inbox / "notes.txt", kx_file([2]))
    partial = drop(inbox / "Master.csv.part", kx_file([3]))  # a download in progress
    config = write_config(workdir, dsn)

    r = run_cli("scan", config=config)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids([1])
    assert files_under(inbox) == sorted([notes, partial])


def test_processed_and_failed_inside_inbox_are_not_rescanned(workdir, dsn, db):
    """Top-level scan (recursive: false) with both folders inside the inbox:
    the second scan finds nothing to do."""
    inbox = workdir / "inbox"
    config = write_config(workdir, dsn, recursive=False,
                          processed_dir=str(inbox / "processed"),
                          failed_dir=str(inbox / "failed"))
    drop(inbox / "Master.csv", kx_file(range(1, 6)))
    drop(inbox / "bad.csv", (FIXTURES / "bad" / "no_valid_record.csv").read_bytes())

    r = run_cli("scan", config=config)
    assert r.returncode == 1, r.stderr
    after_first = files_under(inbox)
    assert len([p for p in after_first if p.parent == inbox / "processed"]) == 1
    assert len([p for p in after_first if p.parent == inbox / "failed"]) == 2  # file + .error
    assert len(after_first) == 3
    ledger_first = rows(db, "SELECT id, status FROM cdr_file ORDER BY id")

    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert files_under(inbox) == after_first
    assert rows(db, "SELECT id, status FROM cdr_file ORDER BY id") == ledger_first
    assert stored_ids(db) == ids(range(1, 6))


def test_processed_dir_inside_recursive_inbox_is_refused(workdir, dsn, db):
    """With recursive: true a folder inside the inbox would be scanned again:
    the config is refused (exit 2, naming the key), nothing is touched."""
    inbox = workdir / "inbox"
    data = kx_file(range(1, 6))
    path = drop(inbox / "Master.csv", data)
    for key in ("processed_dir", "failed_dir"):
        config = write_config(workdir, dsn, recursive=True, **{key: str(inbox / "done")})

        r = run_cli("scan", config=config)

        assert r.returncode == 2, r.stderr
        assert re.search(rf"importer\.yaml:\d+:\d+: sources\[0\]\.{key}", r.stderr), r.stderr
        assert path.read_bytes() == data
        assert files_under(inbox) == [path]


def test_symlink_out_of_the_tree_is_not_followed(workdir, dsn, db):
    outside = workdir / "outside"
    secret = drop(outside / "secret.csv", kx_file([90, 91]))
    drop(outside / "sub" / "Master.csv", kx_file([92]))
    inbox = workdir / "inbox"
    (inbox / "link.csv").symlink_to(secret)
    (inbox / "linkdir").symlink_to(outside / "sub", target_is_directory=True)
    (inbox / "up.csv").symlink_to("../outside/secret.csv")
    drop(inbox / "good.csv", kx_file([1]))
    config = write_config(workdir, dsn, recursive=True)

    r = run_cli("scan", config=config)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids([1])
    # what the links point to is untouched
    assert secret.read_bytes() == kx_file([90, 91])
    assert (outside / "sub" / "Master.csv").read_bytes() == kx_file([92])
    assert sorted(p.name for p in outside.rglob("*")) == ["Master.csv", "secret.csv", "sub"]
    assert any("link.csv" in ln and re.search(r"link|not followed", ln, re.I)
               for ln in r.stderr.splitlines()), r.stderr
    # nothing outside the tree was moved into processed
    assert contents(workdir / "processed") == [kx_file([1])]


# ---- overlapping scans -----------------------------------------------------------------

def test_two_overlapping_scans(workdir, dsn, db):
    """Two `scan`s started together on 20 files whose rows overlap (file k
    holds rows 50k..50k+99, half of them also in file k+1)."""
    inbox = workdir / "inbox"
    nfiles = 20
    datas = []
    for k in range(nfiles):
        data = kx_file(range(50 * k, 50 * k + 100))
        datas.append(data)
        drop(inbox / f"d{k % 4}" / f"Master{k:02d}.csv", data)
    config = write_config(workdir, dsn)
    assert run_cli("init-db", config=config).returncode == 0

    procs = [subprocess.Popen([BIN, "-c", config, "scan"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = []
    for p in procs:
        try:
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        results.append((p.returncode, err))

    for rc, err in results:
        assert rc == 0, err
        assert not [ln for ln in err.splitlines() if re.search(r"\bERROR\b", ln)], err
    total = 50 * (nfiles - 1) + 100
    assert rows(db, "SELECT count(*), count(DISTINCT call_id) FROM cdr") == [(total, total)]
    assert stored_ids(db) == ids(range(total))
    assert files_under(inbox) == []
    assert contents(workdir / "processed") == sorted(datas)
    assert files_under(workdir / "failed") == []
    # each file imported exactly once, by one of the two
    assert rows(db, "SELECT count(*), count(DISTINCT sha256) FROM cdr_file"
                    " WHERE status = 'imported'") == [(nfiles, nfiles)]
    assert rows(db, "SELECT sum(rows_inserted) FROM cdr_file") == [(total,)]
