#!/usr/bin/python3
"""gen_kxhts.py - synthetic Panasonic KX-HTS Master.csv files for the benchmark.

Row i of a seed is always the same bytes, whichever file it lands in, so the
benchmark can cut overlapping files out of one endless, deterministic stream:

    gen_kxhts.py --seed 1 --start 0 --count 1000000 -o base.csv
    gen_kxhts.py --seed 1 --start 0 --count 1000000 --order reverse-blocks -o redownload.csv
    gen_kxhts.py --seed 1 --start 500000 --count 1000000 -o half_new.csv
    gen_kxhts.py --seed 1 --start 0 --count 1000000 --split 1000 -o dir/   (1000 files)
    gen_kxhts.py --seed 1 --start 0 --count 1000000 --order blocks10 -o blocks.csv
    gen_kxhts.py --seed 1 --start 0 --count 1000000 --order shuffle -o random.csv

The last two hold the same rows as base.csv in the orders that are not one PBX's
file: ten blocks that each cover the whole time range (row i in block i % 10, as
ten downloads or PBXs over the same weeks concatenated), and a random order
(seeded). They are made in memory (about 200 bytes a row).

Layout (docs/master-csv-format.md section 1): 15 columns, no header, LF line
ends; text fields double-quoted as Asterisk writes them, durations bare, an
unanswered call's Answer Time a bare empty field. About 3% of rows are a
second leg of the previous call (parallel dial): same Unique ID, start time
and source channel, another destination channel. The columns
(uniqueid, start_time, src_channel, dst_channel) are unique over the stream.

The stream is cut into blocks of BLOCK rows, each drawn from its own
random.Random(seed, block), so any range is generated without the rows before it.
Standard library only; about 0.5M rows/s on one core.
"""
import argparse
import os
import random
import sys

BLOCK = 1024
EPOCH0 = 1700000000          # 2023-11-14 22:13:20 UTC
STEP = 3                     # mean seconds between calls: 1M rows ~ 35 days

STATUSES = (["ANSWERED"] * 70 + ["NO ANSWERED"] * 18 + ["BUSY"] * 8 + ["FAILED"] * 4)
FEATURES = ([""] * 95 + ["Voicemail"] * 3 + ["Paging"] + ["MeetMe"])
ACCOUNTS = ([""] * 90 + ["1001", "1002", "2040", "7777", "SALES", "SUPPORT",
                         "9000", "31", "4711", "ACCT-12"])
OPT1 = ["", "", "", "0", "1", "2", "ext", "trunk"]
OPT2 = ["", "", "", "", "0", "1", "transfer", "park"]


def _days_from_civil(days):
    """Gregorian y-m-d of a day number since 1970-01-01 (H. Hinnant's algorithm)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return y + (m <= 2), m, d


_DATE_CACHE = {}


def ts(epoch):
    """'YYYY-MM-DD HH:MM:SS' in UTC, without datetime's per-call cost."""
    day, sec = divmod(epoch, 86400)
    d = _DATE_CACHE.get(day)
    if d is None:
        d = "%04d-%02d-%02d" % _days_from_civil(day)
        _DATE_CACHE[day] = d
    h, rem = divmod(sec, 3600)
    m, s = divmod(rem, 60)
    return "%s %02d:%02d:%02d" % (d, h, m, s)


def channel(rng, i, kind):
    """A channel name of the manual's forms; SIP names carry a per-row suffix."""
    if kind < 40:
        return "SIP/%d-%08x" % (200 + rng.randrange(64), i & 0xFFFFFFFF)
    if kind < 60:
        return "DAHDI/%d-1" % rng.randrange(9, 33)          # extension port
    if kind < 85:
        return "DAHDI/%d-1" % rng.randrange(1, 9)           # analogue trunk port
    return "SIP/carrier%d_%d-%08x" % (1 + (kind & 1), rng.randrange(1, 5), i & 0xFFFFFFFF)


# --channels match: channels agree with the numbers (call accounting's
# directions; bench/report.sh). Off by default: the rows of a seed must not
# change under the benchmark's other cases.
MATCH_CHANNELS = False


def number(rng, ext):
    if ext:
        return str(101 + rng.randrange(32))
    if rng.random() < 0.5:
        return "0%d" % rng.randrange(100000000, 999999999)
    return "+81%d" % rng.randrange(300000000, 999999999)


def block_rows(seed, b):
    """The BLOCK rows of block b, as text lines ending in LF."""
    rng = random.Random(seed * 1000003 + b)
    rnd = rng.random
    rr = rng.randrange
    out = []
    prev = None
    i0 = b * BLOCK
    for j in range(BLOCK):
        i = i0 + j
        if prev is not None and rnd() < 0.03:
            # Another leg of the previous call: same uniqueid, start and
            # source; a different destination (always a fresh SIP suffix).
            acct, caller, callee, src, _dst, uid, start = prev
            dst = "SIP/%d-%08x" % (200 + rr(64), i & 0xFFFFFFFF)
            feature = ""
        else:
            start = EPOCH0 + i * STEP + rr(STEP) - rr(60)
            uid = "%d.%d" % (start, i)
            inbound = rnd() < 0.45
            caller = number(rng, not inbound)
            callee_ext = inbound or rnd() < 0.3
            callee = number(rng, callee_ext)
            src = channel(rng, i, rr(100))
            dst = channel(rng, i + 0x40000000, rr(100)) if rnd() < 0.9 else ""
            if MATCH_CHANNELS:
                # in on a trunk, out on one, or extension to extension
                src = channel(rng, i, 60 + rr(40) if inbound else rr(40))
                if dst:
                    dst = channel(rng, i + 0x40000000, rr(40) if callee_ext else 60 + rr(40))
            acct = ACCOUNTS[rr(100)]
            feature = FEATURES[rr(100)]
        status = STATUSES[rr(100)]
        ring = rr(31)
        if status == "ANSWERED":
            talk = int(rng.expovariate(1 / 120.0))
            if talk > 7200:
                talk = 7200
            answer = '"' + ts(start + ring) + '"'
        else:
            talk = 0
            answer = ""
            if status == "FAILED":
                ring = rr(3)
        total = ring + talk
        out.append('"%s","%s","%s","%s","%s","%s","%s","%s","%s",%s,"%s",%d,%d,"%s","%s"\n' % (
            acct, caller, callee, src, dst, feature, OPT1[rr(8)], OPT2[rr(8)],
            ts(start), answer, ts(start + total), total, talk, status, uid))
        prev = (acct, caller, callee, src, dst, uid, start)
    return out


def rows_in(seed, start, count, order):
    """Yield (block's lines) lists covering rows [start, start+count)."""
    end = start + count
    blocks = list(range(start // BLOCK, (end + BLOCK - 1) // BLOCK))
    if order == "reverse-blocks":
        blocks.reverse()
    for b in blocks:
        lines = block_rows(seed, b)
        lo = max(start - b * BLOCK, 0)
        hi = min(end - b * BLOCK, BLOCK)
        yield lines[lo:hi]


def reordered(seed, start, count, order):
    """The rows of [start, start+count) in one of the in-memory orders."""
    lines = [ln for chunk in rows_in(seed, start, count, "forward") for ln in chunk]
    if order == "blocks10":
        lines = [ln for k in range(10) for ln in lines[k::10]]
    else:
        random.Random(seed * 7919 + 17).shuffle(lines)
    yield lines


def write(path, chunks, crlf):
    with open(path, "w", encoding="utf-8", newline="\n", buffering=1 << 20) as f:
        for lines in chunks:
            text = "".join(lines)
            if crlf:
                text = text.replace("\n", "\r\n")
            f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SEED", "1")))
    ap.add_argument("--start", type=int, default=0, help="first row index")
    ap.add_argument("--count", type=int, default=int(os.environ.get("ROWS", "1000000")))
    ap.add_argument("--order", choices=["forward", "reverse-blocks", "blocks10", "shuffle"],
                    default="forward",
                    help="reverse-blocks: same rows, blocks of %d in reverse order; blocks10: "
                    "ten blocks each over the whole time range; shuffle: random order" % BLOCK)
    ap.add_argument("--crlf", action="store_true", help="CRLF line ends")
    ap.add_argument("--channels", choices=["any", "match"], default="any",
                    help="match: an incoming call comes in on a trunk, an outgoing one leaves "
                    "on a trunk, an internal one uses extension channels (other rows than "
                    "'any')")
    ap.add_argument("--split", type=int, default=0,
                    help="write N files of count/N rows into the folder -o names")
    ap.add_argument("-o", "--output", required=True)
    a = ap.parse_args()
    global MATCH_CHANNELS
    MATCH_CHANNELS = a.channels == "match"
    if a.count < 0 or a.start < 0:
        ap.error("--start and --count must be >= 0")
    if a.split and a.order in ("blocks10", "shuffle"):
        ap.error("--order %s makes one file" % a.order)
    if a.split:
        os.makedirs(a.output, exist_ok=True)
        per, extra = divmod(a.count, a.split)
        pos = a.start
        width = len(str(a.split))
        for k in range(a.split):
            n = per + (k < extra)
            write(os.path.join(a.output, "Master-%0*d.csv" % (width, k)),
                  rows_in(a.seed, pos, n, a.order), a.crlf)
            pos += n
    else:
        tmp = a.output + ".tmp"
        if a.order in ("blocks10", "shuffle"):
            chunks = reordered(a.seed, a.start, a.count, a.order)
        else:
            chunks = rows_in(a.seed, a.start, a.count, a.order)
        write(tmp, chunks, a.crlf)
        os.replace(tmp, a.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
