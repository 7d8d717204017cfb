"""Dedup on the shapes that are not one PBX's file in time order: a file
made of blocks that cover the same time range (several downloads or PBXs
concatenated), rows in random order, and a second source over a time range
the first already fills. Each batch's probe then meets a call_time range
fuller than the batch, and must switch from fetching the range's keys to
the exact lookup of the batch's own (call_time, row_key) pairs (load.c):
rows are stored exactly once either way. Sizes are chosen so that both
probes run (a batch is 16384 rows; the range probe takes at most two keys
per row)."""
import random

from conftest import rows, run_cli, write_config
from watch_helpers import gen_kxhts

BLOCK = 20_000


def block(seed, count=BLOCK):
    """count rows over the same time range for every seed (rows differ)."""
    return "".join("".join(lines) for lines in gen_kxhts.rows_in(seed, 0, count, "forward"))


def counts(db, source=None):
    where = "WHERE source = %s" if source else ""
    args = (source,) if source else ()
    return rows(db, f"SELECT count(*), count(DISTINCT row_key) FROM cdr {where}", *args)[0]


def imported(r):
    assert r.returncode == 0, r.stderr
    return r.stderr


def test_blocks_over_one_time_range_exactly_once(workdir, dsn, db):
    """Four blocks of 20k rows over the same range in one file: the later
    blocks' batches find 40-60k stored rows in their range. Then the same
    file again (--force re-reads it): nothing new, nothing doubled."""
    f = workdir / "blocks.csv"
    f.write_text("".join(block(s) for s in (11, 12, 13, 14)))
    config = write_config(workdir, dsn)
    log = imported(run_cli("import", f, config=config))
    assert "new=80000 duplicate=0" in log, log
    assert counts(db) == (80_000, 80_000)

    log = imported(run_cli("import", "--force", f, config=config))
    assert "new=0 duplicate=80000" in log, log
    assert counts(db) == (80_000, 80_000)


def test_random_order_and_partial_overlap_exactly_once(workdir, dsn, db):
    """Rows of three blocks shuffled; then a file holding one of those blocks
    and a new one, also shuffled: only the new block is added."""
    config = write_config(workdir, dsn)
    lines = [ln for s in (21, 22, 23) for ln in block(s).splitlines(keepends=True)]
    random.Random(5).shuffle(lines)
    f = workdir / "shuffled.csv"
    f.write_text("".join(lines))
    assert "new=60000 duplicate=0" in imported(run_cli("import", f, config=config))

    again = block(22).splitlines(keepends=True) + block(24).splitlines(keepends=True)
    random.Random(6).shuffle(again)
    g = workdir / "again.csv"
    g.write_text("".join(again))
    log = imported(run_cli("import", g, config=config))
    assert "new=20000 duplicate=20000" in log, log
    assert counts(db) == (80_000, 80_000)


def test_second_source_over_a_filled_range(workdir, dsn, db):
    """Source b imports over hours that source a already fills with 60k
    rows: b's rows are all new (its rows differ from a's by source), and a
    re-read of b's file adds nothing."""
    config = write_config(workdir, dsn)
    cfg = (workdir / "importer.yaml").read_text()
    second = cfg.split("sources:\n", 1)[1].replace("name: \"office\"", "name: \"branch\"")
    (workdir / "importer.yaml").write_text(cfg + second)
    a = workdir / "a.csv"
    a.write_text("".join(block(s) for s in (31, 32, 33)))
    b = workdir / "b.csv"
    b.write_text(block(34))
    assert "new=60000" in imported(run_cli("import", "--source", "office", a, config=config))
    assert "new=20000 duplicate=0" in \
        imported(run_cli("import", "--source", "branch", b, config=config))
    log = imported(run_cli("import", "--source", "branch", "--force", b, config=config))
    assert "new=0 duplicate=20000" in log, log
    assert counts(db, "office") == (60_000, 60_000)
    assert counts(db, "branch") == (20_000, 20_000)
