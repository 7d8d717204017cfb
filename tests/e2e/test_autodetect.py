"""End-to-end tests of `format: auto` (detect.c), the default: a new user's
first Asterisk file imports without naming a format, each real file of
shared/fixtures/real is read with the profile it is in and the ledger
(cdr_file.format) says which; a choice that was not clear-cut (17 columns:
uniqueid or userfield; nothing fits) is logged with its reason; a file in
another format than the one configured fails with a hint naming the format
it looks like and the key to set (log line, .error note, cdr_file.error).
"""
import shutil
import zipfile

import pytest

from conftest import rows, run_cli, write_config
from test_import import BUGA, IMPORT_FIX, KARTHIK, KELY, MINEEV, count, import_, read_records

KX = IMPORT_FIX / "kxhts_basic.csv"
AST16 = IMPORT_FIX / "asterisk16.csv"


def formats(db):
    return rows(db, "SELECT format FROM cdr_file ORDER BY id")


@pytest.mark.parametrize("path, fmt", [
    pytest.param(BUGA, "asterisk", id="cdr_csv-18"),
    pytest.param(KARTHIK, "asterisk", id="cdr_csv-18-freepbx"),
    pytest.param(MINEEV, "asterisk", id="cdr_csv-21"),
    pytest.param(AST16, "asterisk", id="cdr_csv-16"),
    pytest.param(KELY, "asterisk-custom", id="cdr_custom-19"),
    pytest.param(KX, "kx-hts", id="kx-hts"),
])
def test_first_file_imports_without_a_format(workdir, dsn, db, path, fmt):
    """No format key at all: the default is auto."""
    r = import_(workdir, dsn, path, format=None)
    assert r.returncode == 0, r.stderr
    (read, new, dup, rejected), = rows(
        db, "SELECT rows_read, rows_inserted, rows_duplicate, rows_rejected FROM cdr_file")
    assert read == len(read_records(path)) and rejected == 0
    assert count(db) == new == read - dup
    assert formats(db) == [(fmt,)]


def test_auto_named_explicitly_and_per_file(workdir, dsn, db):
    """One source, files of three formats: each read with its own profile."""
    inbox = workdir / "inbox"
    for i, src in enumerate((KX, BUGA, KELY)):
        shutil.copy(src, inbox / f"{i}-Master.csv")
    config = write_config(workdir, dsn, format="auto")
    r = run_cli("scan", config=config)
    assert r.returncode == 0, r.stderr
    assert sorted(formats(db)) == [("asterisk",), ("asterisk-custom",), ("kx-hts",)]
    assert not list((workdir / "failed").iterdir())


def test_ambiguous_17_columns_logged_with_reason(workdir, dsn, db):
    """cdr_csv with loguniqueid only: 17 columns, the 17th a uniqueid."""
    f = workdir / "ast17.csv"
    f.write_text("".join(f'"","10{i}","700","phones","x","SIP/10{i}-0","","Dial","",'
                         f'"2015-03-24 15:4{i}:40",,"2015-03-24 15:4{i}:43",3,0,"NO ANSWER",'
                         f'"DOCUMENTATION","142721188{i}.{i}"\n' for i in range(3)))
    r = import_(workdir, dsn, f, format=None)
    assert r.returncode == 0, r.stderr
    assert "format auto: asterisk: 17 columns" in r.stderr
    assert "taken for the uniqueid" in r.stderr
    assert rows(db, "SELECT count(*) FROM cdr WHERE call_id LIKE '14272118%'") == [(3,)]


def test_nothing_fits_is_logged_and_read_as_kx_hts(workdir, dsn, db):
    f = workdir / "odd.csv"
    f.write_text("a,b,c\nd,e,f\n")
    r = import_(workdir, dsn, f, format=None)
    assert r.returncode == 1
    assert "format auto: kx-hts: none of the first 2 records fits a known layout" in r.stderr
    assert "expected 15 fields, got 3" in r.stderr
    assert formats(db) == [("kx-hts",)]


def test_fixed_format_other_file_fails_with_hint(workdir, dsn, db):
    """The historic welcome: format kx-hts, an Asterisk file dropped in."""
    shutil.copy(BUGA, workdir / "inbox" / "Master.csv")
    config = write_config(workdir, dsn, format="kx-hts")
    r = run_cli("scan", config=config)
    assert r.returncode == 1
    hint = ("it looks like an Asterisk cdr_csv file (18 columns), not kx-hts: "
            "set `format: asterisk` (or `format: auto`) for source 'office' in importer.yaml")
    assert hint in r.stderr
    assert "expected 15 fields, got 18" in r.stderr
    note = list((workdir / "failed").glob("*.error"))
    assert len(note) == 1 and hint in note[0].read_text()
    (status, error, fmt), = rows(db, "SELECT status, error, format FROM cdr_file")
    assert status == "failed" and hint in error and fmt == "kx-hts"
    assert count(db) == 0


def test_fixed_format_hint_for_cdr_custom(workdir, dsn, db):
    r = import_(workdir, dsn, KELY, format="asterisk")
    assert r.returncode == 1
    assert "looks like an Asterisk cdr_custom file (19 columns), not asterisk: set " \
           "`format: asterisk-custom`" in r.stderr


def test_fixed_format_right_file_no_hint(workdir, dsn, db):
    r = import_(workdir, dsn, BUGA, format="asterisk")
    assert r.returncode == 0, r.stderr
    assert "looks like" not in r.stderr
    assert formats(db) == [("asterisk",)]


def test_packed_members_detected_each(workdir, dsn, db):
    """A zip holding a cdr_csv and a cdr_custom file: each member its own."""
    z = workdir / "inbox" / "download.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(BUGA, "a/Master.csv")
        zf.write(KELY, "b/Master.csv")
    r = import_(workdir, dsn, z, format=None)
    assert r.returncode == 0, r.stderr
    got = rows(db, "SELECT member, format FROM cdr_file WHERE member IS NOT NULL ORDER BY 1")
    assert got == [("a/Master.csv", "asterisk"), ("b/Master.csv", "asterisk-custom")]
    # the archive's own row was not parsed: no format
    assert rows(db, "SELECT format FROM cdr_file WHERE member IS NULL") == [(None,)]


def test_duplicate_has_no_format(workdir, dsn, db):
    assert import_(workdir, dsn, AST16, format=None).returncode == 0
    assert import_(workdir, dsn, AST16, format=None).returncode == 0
    assert formats(db) == [("asterisk",), (None,)]
