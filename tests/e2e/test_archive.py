"""Packed downloads (issue 10), end to end: zip, tar and compressed tars and
a gzipped Master.csv dropped into the inbox as they come, against a real
PostgreSQL. Each test checks the rows in cdr (exactly once), the ledger
(one row per CDR member, path = the archive, member = the path inside it,
and the archive's own row), where the archive ended (processed/ or failed/
with its .error) and the exit status and messages. Archives are made with
Python's zipfile, tarfile and gzip, and `zip -P` for an encrypted member.
"""
import gzip
import io
import os
import re
import shutil
import struct
import subprocess
import tarfile
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO_ROOT, rows, run_cli, write_config
from test_scan import files_under, ids, kx_file, stored_ids
from watch_helpers import Daemon, wait_until

DRIVER = os.environ.get("STREAM_IMPORT_BIN",
                        str(REPO_ROOT / "build" / "tests" / "stream_import"))


def ledger(db):
    """(member, status, rows_inserted, rows_rejected) per ledger row, in order;
    member None is the archive's own row (or a plain file)."""
    return rows(db, "SELECT member, status, rows_inserted, rows_rejected FROM cdr_file"
                    " ORDER BY id")


def make_zip(path, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members:
            z.writestr(name, data)
    return path


def tar_bytes(members, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape") as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_tar(path, members, mode=""):
    """mode: "", "gz", "bz2" or "xz"."""
    with tarfile.open(path, f"w:{mode}" if mode else "w", format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))
    return path


def scan(config, *extra):
    return run_cli(*extra, "scan", config=config)


def processed(workdir):
    return files_under(workdir / "processed")


def failed(workdir):
    return files_under(workdir / "failed")


def note_of(workdir):
    (note,) = [p for p in failed(workdir) if p.name.endswith(".error")]
    return note.read_text()


# ---- formats -----------------------------------------------------------------------

FORMATS = ["zip-deflated", "zip-stored", "tar", "tgz", "tar.gz", "tar.bz2", "tar.xz"]


@pytest.mark.parametrize("kind", FORMATS)
def test_every_format_is_streamed_in(kind, workdir, dsn, db):
    """Two CDR members (overlapping rows) and a readme: the calls of both
    once, a ledger row per member and one for the archive, the archive moved
    to processed/ under a unique name that keeps its extension, nothing
    unpacked anywhere."""
    inbox = workdir / "inbox"
    members = [("Master.csv", kx_file(range(1, 101))),
               ("pbx2/Master.csv", kx_file(range(90, 151))), ("readme.txt", b"not calls\n")]
    ext = {"zip-deflated": "zip", "zip-stored": "zip"}.get(kind, kind)
    path = inbox / f"Download.{ext}"
    if kind.startswith("zip"):
        make_zip(path, members,
                 zipfile.ZIP_STORED if kind == "zip-stored" else zipfile.ZIP_DEFLATED)
    else:
        make_tar(path, members, {"tar": "", "tgz": "gz"}.get(kind, kind.split(".")[-1]))
    config = write_config(workdir, dsn)

    r = scan(config, "-v", "-v")

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids(range(1, 151))
    assert rows(db, "SELECT count(*) FROM cdr")[0][0] == 150
    assert ledger(db) == [("Master.csv", "imported", 100, 0),
                          ("pbx2/Master.csv", "imported", 50, 0),
                          (None, "imported", 0, 0)]
    assert {p for (p,) in rows(db, "SELECT DISTINCT path FROM cdr_file")} == {str(path)}
    (moved,) = processed(workdir)
    assert moved.name.startswith("Download.") and moved.name.endswith("." + ext), moved.name
    assert moved.read_bytes() != b"" and files_under(inbox) == [] and failed(workdir) == []
    assert not any(p.name.endswith(".csv") for p in workdir.rglob("*"))  # nothing unpacked
    assert f"imported {path}:Master.csv sha256=" in r.stderr
    assert f"imported {path}:pbx2/Master.csv sha256=" in r.stderr
    assert re.search(rf"imported {re.escape(str(path))} \(2 CDR members\) sha256=", r.stderr)
    assert re.search(r"DEBUG skipped .*readme\.txt: not a CDR file", r.stderr), r.stderr


def test_gzipped_master_csv(workdir, dsn, db):
    path = workdir / "inbox" / "Master.csv.gz"
    path.write_bytes(gzip.compress(kx_file(range(1, 41))))
    config = write_config(workdir, dsn)

    r = scan(config)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids(range(1, 41))
    assert ledger(db) == [("Master.csv", "imported", 40, 0), (None, "imported", 0, 0)]
    (moved,) = processed(workdir)
    assert moved.name.startswith("Master.") and moved.name.endswith(".csv.gz"), moved.name


def test_recognised_by_content_not_name(workdir, dsn, db):
    """A zip called Master.csv is read as a zip; `import` takes any name."""
    config = write_config(workdir, dsn)
    odd = make_zip(workdir / "Master.csv", [("Master.csv", kx_file(range(1, 11)))])
    other = workdir / "download.bin"
    other.write_bytes(gzip.compress(tar_bytes([("x/Master.csv", kx_file(range(11, 21)))])))

    r = run_cli("import", odd, other, config=config)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids(range(1, 21))
    assert [m for (m, *_rest) in ledger(db)] == ["Master.csv", None, "x/Master.csv", None]


# ---- exactly once ------------------------------------------------------------------

def test_known_archive_is_a_duplicate_and_known_member_too(workdir, dsn, db):
    """The same archive again: a duplicate without being expanded (one
    ledger row, no member rows). The same Master.csv inside another zip, or
    already imported unpacked: a duplicate member."""
    config = write_config(workdir, dsn, on_success="keep")
    a = kx_file(range(1, 51))
    plain = workdir / "Master-plain.csv"
    plain.write_bytes(a)
    assert run_cli("import", plain, config=config).returncode == 0
    z1 = make_zip(workdir / "inbox" / "one.zip", [("Master.csv", a),
                                                   ("Master2.csv", kx_file(range(51, 61)))])

    r = scan(config)
    assert r.returncode == 0, r.stderr
    assert ledger(db) == [(None, "imported", 50, 0), ("Master.csv", "duplicate", 0, 0),
                          ("Master2.csv", "imported", 10, 0), (None, "imported", 0, 0)]

    r = scan(config)  # on_success keep: the same archive again
    assert r.returncode == 0, r.stderr
    assert ledger(db)[4:] == [(None, "duplicate", 0, 0)]
    assert f"duplicate {z1} sha256=" in r.stderr
    assert not re.search(r"one\.zip:", r.stderr), r.stderr  # not expanded

    z2 = make_zip(workdir / "two.zip", [("copy/Master.csv", a)], zipfile.ZIP_STORED)
    r = run_cli("import", z2, config=config)
    assert r.returncode == 0, r.stderr
    assert ledger(db)[5:] == [("copy/Master.csv", "duplicate", 0, 0), (None, "imported", 0, 0)]
    assert stored_ids(db) == ids(range(1, 61))
    assert rows(db, "SELECT count(*) FROM cdr")[0][0] == 60


def test_failed_member_sends_archive_to_failed_and_retry_imports_nothing_twice(
        workdir, dsn, db):
    inbox = workdir / "inbox"
    bad = (FIXTURES / "bad" / "no_valid_record.csv").read_bytes()
    make_zip(inbox / "Master.zip", [("Master.csv", kx_file(range(1, 21))), ("bad.csv", bad)])
    config = write_config(workdir, dsn)

    r = scan(config)

    assert r.returncode == 1
    assert stored_ids(db) == ids(range(1, 21))
    assert ledger(db) == [("Master.csv", "imported", 20, 0), ("bad.csv", "failed", 0, 3),
                          (None, "failed", 0, 0)]
    assert rows(db, "SELECT count(*) FROM cdr_reject")[0][0] == 3
    assert re.search(r"Master\.zip:bad\.csv:1: rejected: ", r.stderr), r.stderr
    assert processed(workdir) == [] and files_under(inbox) == []
    (archive,) = [p for p in failed(workdir) if not p.name.endswith(".error")]
    note = note_of(workdir)
    assert "1 of 2 CDR members failed" in note
    assert re.search(r"^member bad\.csv: no valid record \(3 lines rejected\)$", note, re.M), note
    assert "Master.csv:" not in note.split("reason:")[1].split("\n", 1)[1]

    # Retried as it is: the committed member is not imported again.
    shutil.move(archive, inbox / "Master.zip")
    r = scan(config)
    assert r.returncode == 1
    assert ledger(db)[3:] == [("Master.csv", "duplicate", 0, 0), ("bad.csv", "failed", 0, 3),
                              (None, "failed", 0, 0)]
    assert rows(db, "SELECT count(*) FROM cdr")[0][0] == 20


# ---- damage and hostility ----------------------------------------------------------

def test_truncated_zip_keeps_members_and_complete_lines(workdir, dsn, db):
    """Stored members: the first whole, the second cut in the middle of a
    line. Every complete line of it is stored, the cut one rejected; the
    archive goes to failed/ with libarchive's reason."""
    a, b = kx_file(range(1, 51)), kx_file(range(51, 2001))
    whole = make_zip(workdir / "whole.zip", [("Master.csv", a), ("Master2.csv", b)],
                     zipfile.ZIP_STORED).read_bytes()
    start = whole.index(b)  # stored: the member's bytes are in the file as they are
    cut = start + len(b) // 2
    if b[cut - start - 1:cut - start] == b"\n":
        cut += 7  # inside a line, not at its end
    complete = b[:cut - start].count(b"\n")
    (workdir / "inbox" / "Master.zip").write_bytes(whole[:cut])
    config = write_config(workdir, dsn)

    r = scan(config)

    assert r.returncode == 1
    assert stored_ids(db) == ids(range(1, 51 + complete))
    assert ledger(db) == [("Master.csv", "imported", 50, 0),
                          ("Master2.csv", "imported", complete, 1), (None, "failed", 0, 0)]
    ((line, raw, reason),) = rows(db, "SELECT line_no, raw_line, reason FROM cdr_reject")
    assert line == complete + 1
    assert bytes(raw) == b[cut - start - len(bytes(raw)):cut - start]
    assert "cut short" in reason and "runcat" in reason, reason
    assert rows(db, "SELECT error FROM cdr_file WHERE member = 'Master2.csv'")[0][0].startswith(
        "cut short by damage to the archive: ")
    assert "runcat" in note_of(workdir)  # libarchive: "Truncated ZIP file data"
    assert processed(workdir) == []


def test_truncated_tar_gz(workdir, dsn, db):
    a, b = kx_file(range(1, 31)), kx_file(range(31, 5001))
    whole = gzip.compress(tar_bytes([("Master.csv", a), ("Master2.csv", b)]))
    (workdir / "inbox" / "cdr.tar.gz").write_bytes(whole[:len(whole) * 2 // 3])
    config = write_config(workdir, dsn)

    r = scan(config)

    assert r.returncode == 1
    got = stored_ids(db)
    assert set(ids(range(1, 31))) <= set(got)
    second = sorted(set(got) - set(ids(range(1, 31))))
    n = len(second)
    assert 0 < n < 4970 and second == ids(range(31, 31 + n))  # a prefix of the member
    (mrow, arow) = ledger(db)[1:]
    assert mrow[:2] == ("Master2.csv", "imported") and mrow[3] <= 1
    assert arow == (None, "failed", 0, 0)
    assert re.search(r"runcat|damaged|unexpected end", note_of(workdir), re.I)


def test_corrupt_zip_member(workdir, dsn, db):
    whole = bytearray(make_zip(workdir / "w.zip", [("Master.csv", kx_file(range(1, 31))),
                                                   ("Master2.csv", kx_file(range(31, 3001)))])
                      .read_bytes())
    at = whole.index(b"Master2.csv") + 400
    for k in range(at, at + 50):
        whole[k] ^= 0x5A
    (workdir / "inbox" / "Master.zip").write_bytes(whole)
    config = write_config(workdir, dsn)

    r = scan(config)

    assert r.returncode == 1
    assert set(ids(range(1, 31))) <= set(stored_ids(db))
    assert ledger(db)[0] == ("Master.csv", "imported", 30, 0)
    assert ledger(db)[-1] == (None, "failed", 0, 0)
    assert "damaged archive" in note_of(workdir)
    assert len([p for p in failed(workdir) if p.name.endswith(".zip")]) == 1


def test_encrypted_member(workdir, dsn, db):
    stage = workdir / "stage"
    stage.mkdir()
    (stage / "Secret.csv").write_bytes(kx_file(range(1, 11)))
    (stage / "Open.csv").write_bytes(kx_file(range(11, 21)))
    zip_path = workdir / "inbox" / "Master.zip"
    subprocess.run(["zip", "-q", "-P", "secret", zip_path, "Secret.csv"], cwd=stage, check=True)
    subprocess.run(["zip", "-q", zip_path, "Open.csv"], cwd=stage, check=True)
    config = write_config(workdir, dsn)

    r = scan(config)

    assert r.returncode == 1
    assert stored_ids(db) == ids(range(11, 21))
    assert ledger(db) == [("Secret.csv", "failed", 0, 0), ("Open.csv", "imported", 10, 0),
                          (None, "failed", 0, 0)]
    assert rows(db, "SELECT error FROM cdr_file WHERE member = 'Secret.csv'") == \
        [("encrypted: not supported",)]
    assert "member Secret.csv: encrypted: not supported" in note_of(workdir)
    assert "Master.zip:Secret.csv: encrypted: not supported" in r.stderr


def zip_bomb(path, member, total, declare, chunk=64 << 20):
    """A zip whose one deflated member expands to total zero bytes (about
    1030:1), written by hand from one repeated deflate block. declare: its
    size is in the header (zip64); else the header says "sizes after the
    data" (flag 3), as a streaming zipper writes, and a liar would."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    data = first + block * (total // chunk - 1) + c.flush()
    nm = member.encode()
    extra = struct.pack("<HHQQ", 1, 16, total, len(data)) if declare else b""
    flags, size = (0, 0xFFFFFFFF) if declare else (8, 0)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, flags, 8, 0, 0, 0, size, size,
                        len(nm), len(extra)) + nm + extra
    descriptor = b"" if declare else struct.pack("<IIQQ", 0x08074B50, 0, len(data), total)
    cextra = struct.pack("<HHQQ", 1, 16, total, len(data))
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, flags, 8, 0, 0, 0,
                          0xFFFFFFFF, 0xFFFFFFFF, len(nm), len(cextra), 0, 0, 0, 0, 0) + nm + cextra
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(data) + len(descriptor), 0)
    Path(path).write_bytes(local + data + descriptor + central + end)


def test_decompression_bomb_is_stopped(workdir, dsn, db):
    """Members expanding to 10 GB (about 10 MB of zip each): one that says
    so is not read (past max_member_bytes, 4 GiB by default); one that does
    not say is stopped by the ratio rule while it is read. Both in well
    under 5 s, nothing stored, the archives in failed/."""
    zip_bomb(workdir / "inbox" / "said.zip", "Master.csv", 10 << 30, declare=True)
    zip_bomb(workdir / "inbox" / "unsaid.zip", "Master.csv", 10 << 30, declare=False)
    config = write_config(workdir, dsn)

    t0 = time.monotonic()
    r = scan(config)
    took = time.monotonic() - t0

    assert r.returncode == 1
    assert took < 5, took
    assert rows(db, "SELECT count(*) FROM cdr")[0][0] == 0
    errors = dict(rows(db, "SELECT path, error FROM cdr_file WHERE member = 'Master.csv'"))
    assert set(rows(db, "SELECT status FROM cdr_file")) == {("failed",)}
    said = errors[str(workdir / "inbox" / "said.zip")]
    unsaid = errors[str(workdir / "inbox" / "unsaid.zip")]
    assert said == "declares 10737418240 bytes, more than max_member_bytes (4294967296): not read"
    assert unsaid.startswith("expands more than 1000:1 (") and unsaid.endswith(
        "a decompression bomb? stopped"), unsaid
    assert "unsaid.zip:Master.csv: expands more than 1000:1" in r.stderr
    assert len([p for p in failed(workdir) if p.name.endswith(".zip")]) == 2


def test_member_larger_than_max_member_bytes(workdir, dsn, db):
    """max_member_bytes: a tar member that declares more is not read; a
    gzipped file that expands past it is stopped while it is read."""
    big = kx_file(range(1, 20001))  # about 3 MB
    make_tar(workdir / "inbox" / "big.tar", [("Master.csv", big),
                                             ("small.csv", kx_file(range(30001, 30011)))])
    (workdir / "inbox" / "big.csv.gz").write_bytes(gzip.compress(big))
    config = write_config(workdir, dsn, max_member_bytes=1 << 20)

    r = scan(config)

    assert r.returncode == 1
    assert stored_ids(db) == ids(range(30001, 30011))
    errors = dict(rows(db, "SELECT path || ':' || member, error FROM cdr_file"
                           " WHERE member IS NOT NULL AND status = 'failed'"))
    tar_err = errors[f"{workdir}/inbox/big.tar:Master.csv"]
    gz_err = errors[f"{workdir}/inbox/big.csv.gz:big.csv"]
    assert re.match(r"declares \d+ bytes, more than max_member_bytes \(1048576\)", tar_err)
    assert gz_err.startswith("expands past max_member_bytes (1048576 bytes)"), gz_err
    assert len([p for p in failed(workdir) if not p.name.endswith(".error")]) == 2


def test_archive_inside_an_archive_is_not_opened(workdir, dsn, db):
    inner = make_zip(workdir / "inner.zip", [("Master.csv", kx_file(range(100, 110)))])
    make_zip(workdir / "inbox" / "Master.zip",
             [("inner.zip", inner.read_bytes()), ("hidden.csv", gzip.compress(b"x")),
              ("Master.csv", kx_file(range(1, 6)))])
    config = write_config(workdir, dsn)

    r = scan(config)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids(range(1, 6))
    assert re.search(r"INFO skipped \S*Master\.zip:inner\.zip: an archive inside an archive"
                     r" is not opened", r.stderr), r.stderr
    assert re.search(r"INFO skipped \S*Master\.zip:hidden\.csv: an archive inside an archive",
                     r.stderr), r.stderr
    assert ledger(db) == [("Master.csv", "imported", 5, 0), (None, "imported", 0, 0)]
    assert len(processed(workdir)) == 1


def test_hostile_member_names(workdir, dsn, db):
    """Climbing, absolute, control bytes, invalid UTF-8: never extracted, so
    nothing appears outside (or inside) the work folder; the calls are
    stored; names are escaped in the log and the ledger, and kept byte for
    byte in member_raw."""
    names = [b"../../evil/Master.csv", b"/etc/cron.d/Master.csv",
             b"bell\x07\x1b[2J\nFAKE Master.csv", b"bad\xff\xfe.csv"]
    members = [(n.decode("utf-8", "surrogateescape"), kx_file(range(10 * i + 1, 10 * i + 11)))
               for i, n in enumerate(names)]
    (workdir / "inbox" / "names.tar").write_bytes(tar_bytes(members, tarfile.GNU_FORMAT))
    before = sorted(os.listdir(workdir.parent))
    config = write_config(workdir, dsn)

    r = subprocess.run([os.environ.get("CDRIMPORT_BIN", str(REPO_ROOT / "build" / "cdrimport")),
                        "-c", config, "scan"], capture_output=True, timeout=60)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids(range(1, 41))
    assert sorted(os.listdir(workdir.parent)) == before
    assert not (workdir / "evil").exists() and not Path("/etc/cron.d/Master.csv").exists()
    err = r.stderr
    assert b"\x1b" not in err and b"\x07" not in err and b"\xff" not in err
    assert b"names.tar:bell\\x07\\x1b[2J\\nFAKE Master.csv" in err, err
    got = rows(db, "SELECT member, member_raw FROM cdr_file WHERE member IS NOT NULL ORDER BY id")
    assert [m for m, _ in got] == ["../../evil/Master.csv", "/etc/cron.d/Master.csv",
                                   "bell\\x07\\x1b[2J\\nFAKE Master.csv", "bad\\xff\\xfe.csv"]
    assert [bytes(raw) if raw is not None else None for _, raw in got] == \
        [None, None, names[2], names[3]]


@pytest.mark.parametrize("kind", ["empty zip", "empty tar.gz", "no CDR member"])
def test_empty_archive_is_zero_rows(kind, workdir, dsn, db):
    inbox = workdir / "inbox"
    if kind == "empty zip":
        make_zip(inbox / "Master.zip", [])
    elif kind == "empty tar.gz":
        make_tar(inbox / "Master.tar.gz", [], "gz")
    else:
        make_zip(inbox / "Master.zip", [("readme.txt", b"hello\n"), ("logo.png", b"\x89PNG")])
    config = write_config(workdir, dsn)

    r = scan(config)

    assert r.returncode == 0, r.stderr
    assert rows(db, "SELECT count(*) FROM cdr")[0][0] == 0
    assert ledger(db) == [(None, "imported", 0, 0)]
    assert len(processed(workdir)) == 1 and failed(workdir) == []
    assert "(0 CDR members)" in r.stderr


def test_windows_zip_with_backslashes(workdir, dsn, db):
    path = workdir / "inbox" / "Master.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("CDR\\2026\\Master.csv", (2026, 1, 5, 10, 0, 0))
        info.create_system = 0  # MS-DOS
        z.writestr(info, kx_file(range(1, 8)).replace(b"\n", b"\r\n"))
    config = write_config(workdir, dsn)

    r = scan(config)

    assert r.returncode == 0, r.stderr
    assert stored_ids(db) == ids(range(1, 8))
    ((member,),) = rows(db, "SELECT member FROM cdr_file WHERE member IS NOT NULL")
    assert member.endswith("Master.csv") and member.startswith("CDR"), member


# ---- commands ----------------------------------------------------------------------

def test_dry_run_lists_cdr_members(workdir, dsn, db):
    z = make_zip(workdir / "Master.zip", [("Master.csv", kx_file(range(1, 13))),
                                          ("pbx2/Master.csv", kx_file(range(20, 27))),
                                          ("readme.txt", b"x")])
    config = write_config(workdir, dsn)

    r = run_cli("import", "--dry-run", z, config=config)

    assert r.returncode == 0, r.stderr
    assert re.search(rf"dry run: imported {re.escape(str(z))}:Master\.csv sha256=\w+ rows "
                     r"read=12 ", r.stderr), r.stderr
    assert re.search(rf"dry run: imported {re.escape(str(z))}:pbx2/Master\.csv sha256=\w+ rows "
                     r"read=7 ", r.stderr), r.stderr
    assert "readme" not in r.stderr
    assert rows(db, "SELECT count(*) FROM pg_tables WHERE tablename = 'cdr_file'")[0][0] == 0 or \
        rows(db, "SELECT count(*) FROM cdr_file")[0][0] == 0


def test_watch_imports_a_complete_archive(workdir, dsn, db):
    config = write_config(workdir, dsn, top_level={"watch": {"settle_ms": 200}})
    d = Daemon(config, workdir / "watch.log")
    d.start()
    try:
        d.wait_ready()
        staged = make_zip(workdir / "Master.zip", [("Master.csv", kx_file(range(1, 31)))])
        os.rename(staged, workdir / "inbox" / "Master.zip")
        wait_until(lambda: len(processed(workdir)) == 1, 15, "the archive to be processed")
        assert stored_ids(db) == ids(range(1, 31))
        assert ledger(db) == [("Master.csv", "imported", 30, 0), (None, "imported", 0, 0)]
        assert files_under(workdir / "inbox") == []
    finally:
        d.close()


def test_spooled_body_that_is_an_archive(workdir, dsn, db):
    """An input handed to file_import_input that can rewind (a spooled HTTP
    response) and holds an archive goes the same way as a dropped one."""
    body = workdir / "body"
    body.write_bytes(gzip.compress(tar_bytes([("Master.csv", kx_file(range(1, 9)))])))
    config = write_config(workdir, dsn)
    if not os.access(DRIVER, os.X_OK):
        pytest.fail(f"test driver not found: {DRIVER} (run `make e2e`)")

    r = subprocess.run([DRIVER, config, f"spooled:{body}"], capture_output=True, text=True,
                       timeout=60)

    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("imported new=8 "), r.stdout
    assert stored_ids(db) == ids(range(1, 9))
    assert ledger(db) == [("Master.csv", "imported", 8, 0), (None, "imported", 0, 0)]
