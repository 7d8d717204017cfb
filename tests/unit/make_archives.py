"""Builds the archives that tests/unit/test_input_archive.c reads, into the
folder given as the first argument, with index.json describing what each
holds: per entry its name (bytes as hex: names may be any bytes), what a
reader must see (flags, the expected bytes in a file beside it, a cut, a
limit), and how the archive ends. Made with Python's zipfile, tarfile,
gzip, bz2, lzma and `zip -e` (an encrypted member), as a PBX download or a
hostile one would be.
Usage: /usr/bin/python3 make_archives.py DIR
"""
import bz2
import gzip
import io
import json
import lzma
import os
import struct
import subprocess
import sys
import tarfile
import zipfile
import zlib

OUT = sys.argv[1]
INDEX = []


def text(n, tag):
    """n lines of CSV-like text, distinct per tag."""
    return b"".join(b'"%s",%d,"2023-01-05 10:00:%02d"\r\n' % (tag.encode(), i, i % 60)
                    for i in range(n))


def noise(n, seed):
    """n bytes that do not compress (a linear congruential stream)."""
    out = bytearray()
    x = seed
    while len(out) < n:
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        out += struct.pack("<Q", x)
    return bytes(out[:n])


def path(name):
    return os.path.join(OUT, name)


def entry(archive, i, name, content=None, **flags):
    """An index entry; content (bytes) is written beside the archive."""
    e = {"name": name.hex() if isinstance(name, bytes) else name.encode().hex(),
         "regular": True, "single": False, "encrypted": False, "packed": False,
         "cut": False, "limit": None, "content": None}
    e.update(flags)
    if content is not None:
        e["content"] = f"{archive}.{i}"
        with open(path(e["content"]), "wb") as f:
            f.write(content)
    return e


def add(archive, entries, end="ok", max_bytes=4 << 30):
    INDEX.append({"file": archive, "entries": entries, "end": end, "max": max_bytes})


A = text(50, "a")            # small
B = text(20000, "b")         # about 640 KB: spans many reads and blocks
C = text(300, "c")


def zip_of(name, members, compression=zipfile.ZIP_DEFLATED):
    with zipfile.ZipFile(path(name), "w", compression) as z:
        for n, data in members:
            z.writestr(n, data)


# ---- what downloads look like ----------------------------------------------------------

zip_of("deflated.zip", [("Master.csv", A), ("docs/readme.txt", C), ("sub/Master2.csv", B)])
add("deflated.zip", [entry("deflated.zip", 0, "Master.csv", A),
                     entry("deflated.zip", 1, "docs/readme.txt", C),
                     entry("deflated.zip", 2, "sub/Master2.csv", B)])

zip_of("stored.zip", [("Master.csv", A), ("Master2.csv", B)], zipfile.ZIP_STORED)
add("stored.zip", [entry("stored.zip", 0, "Master.csv", A),
                   entry("stored.zip", 1, "Master2.csv", B)])

# Written to a pipe-like stream: sizes come after the data (data descriptors).
class Unseekable(io.RawIOBase):
    def __init__(self, f):
        self.f = f

    def writable(self):
        return True

    def write(self, b):
        return self.f.write(b)


with open(path("streamed.zip"), "wb") as raw:
    with zipfile.ZipFile(Unseekable(raw), "w", zipfile.ZIP_DEFLATED) as z:
        for n, data in [("Master.csv", A), ("Master2.csv", B)]:
            with z.open(n, "w") as w:
                w.write(data)
add("streamed.zip", [entry("streamed.zip", 0, "Master.csv", A),
                     entry("streamed.zip", 1, "Master2.csv", B)])


def tar_bytes(members, fmt=tarfile.PAX_FORMAT, dirs=()):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, encoding="utf-8",
                      errors="surrogateescape") as t:
        for d in dirs:
            info = tarfile.TarInfo(d)
            info.type = tarfile.DIRTYPE
            t.addfile(info)
        for n, data in members:
            info = tarfile.TarInfo(n)
            info.size = len(data)
            info.mtime = 1700000000
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


TAR = tar_bytes([("pbx/Master.csv", A), ("pbx/Master2.csv", B)], dirs=["pbx"])
TAR_ENTRIES = lambda f: [entry(f, 0, "pbx/", regular=False),  # noqa: E731
                         entry(f, 1, "pbx/Master.csv", A),
                         entry(f, 2, "pbx/Master2.csv", B)]
for name, pack in [("t.tar", lambda b: b), ("t.tar.gz", gzip.compress),
                   ("t.tgz", gzip.compress), ("t.tar.bz2", bz2.compress),
                   ("t.tar.xz", lzma.compress)]:
    with open(path(name), "wb") as f:
        f.write(pack(TAR))
    add(name, TAR_ENTRIES(name))

with open(path("Master.csv.gz"), "wb") as f:
    f.write(gzip.compress(B))
add("Master.csv.gz", [entry("Master.csv.gz", 0, "Master.csv", B, single=True)])
with open(path("calls.bz2"), "wb") as f:
    f.write(bz2.compress(A))
add("calls.bz2", [entry("calls.bz2", 0, "calls", A, single=True)])

zip_of("empty.zip", [])
add("empty.zip", [])
with open(path("empty.tar.gz"), "wb") as f:
    f.write(gzip.compress(tar_bytes([])))
add("empty.tar.gz", [])
with open(path("empty.csv.gz"), "wb") as f:
    f.write(gzip.compress(b""))
add("empty.csv.gz", [])

# A Windows zip: backslashes in names, made on MS-DOS.
with zipfile.ZipFile(path("windows.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    info = zipfile.ZipInfo("CDR\\Master.csv", (2023, 1, 5, 10, 0, 0))
    info.create_system = 0
    z.writestr(info, A)
# libarchive reads a DOS-made zip's backslashes as the separators they are.
add("windows.zip", [entry("windows.zip", 0, "CDR/Master.csv", A)])

# Names that must never be paths: climbing, absolute, control bytes, not UTF-8.
HOSTILE = [b"../../etc/Master.csv", b"/abs/Master.csv", b"bell\x07\x1b[2J\nMaster.csv",
           b"latin\xe9\xff.csv", "M\u00e4rz.csv".encode()]
members = [(n.decode("utf-8", "surrogateescape"), C) for n in HOSTILE]
with open(path("names.tar"), "wb") as f:
    f.write(tar_bytes(members, fmt=tarfile.GNU_FORMAT))
add("names.tar", [entry("names.tar", i, n, C) for i, n in enumerate(HOSTILE)])
# zip: a UTF-8 name (flag 11) and raw bytes (no flag) read back as stored.
with zipfile.ZipFile(path("names.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("M\u00e4rz.csv", A)
    z.writestr("../x/Master.csv", C)
add("names.zip", [entry("names.zip", 0, "M\u00e4rz.csv", A),
                  entry("names.zip", 1, "../x/Master.csv", C)])

# ---- archives inside archives, encryption ------------------------------------------------

with open(path("deflated.zip"), "rb") as f:
    inner = f.read()
zip_of("nested.zip", [("inner.zip", inner), ("disguised.csv", gzip.compress(A)),
                      ("Master.csv", C)])
add("nested.zip", [entry("nested.zip", 0, "inner.zip", inner, packed=True),
                   entry("nested.zip", 1, "disguised.csv", gzip.compress(A), packed=True),
                   entry("nested.zip", 2, "Master.csv", C)])

work = path("enc")
os.mkdir(work)
for n, data in [("Master.csv", A), ("Open.csv", C)]:
    with open(os.path.join(work, n), "wb") as f:
        f.write(data)
# -P is -e with the password given (no prompt): the same traditional encryption.
subprocess.run(["zip", "-q", "-P", "secret", "../enc.zip", "Master.csv"], cwd=work,
               check=True)
subprocess.run(["zip", "-q", "../enc.zip", "Open.csv"], cwd=work, check=True)
add("enc.zip", [entry("enc.zip", 0, "Master.csv", encrypted=True),
                entry("enc.zip", 1, "Open.csv", C)])

# ---- damage ----------------------------------------------------------------------------

with open(path("stored.zip"), "rb") as f:
    whole = f.read()
with open(path("truncated.zip"), "wb") as f:
    f.write(whole[:len(whole) // 2])  # inside Master2.csv's bytes
add("truncated.zip", [entry("truncated.zip", 0, "Master.csv", A),
                      entry("truncated.zip", 1, "Master2.csv", B, cut=True)], end="broken")

with open(path("deflated.zip"), "rb") as f:
    whole = bytearray(f.read())
at = whole.find(b"sub/Master2.csv") + 200  # well inside its deflate stream
for k in range(at, at + 64):
    whole[k] ^= 0x5A
with open(path("corrupt.zip"), "wb") as f:
    f.write(whole)
add("corrupt.zip", [entry("corrupt.zip", 0, "Master.csv", A),
                    entry("corrupt.zip", 1, "docs/readme.txt", C),
                    entry("corrupt.zip", 2, "sub/Master2.csv", B, cut=True)], end="any")

with open(path("t.tar.gz"), "rb") as f:
    whole = f.read()
with open(path("truncated.tar.gz"), "wb") as f:
    f.write(whole[:len(whole) * 2 // 3])
add("truncated.tar.gz", TAR_ENTRIES("truncated.tar.gz")[:2] +
    [entry("truncated.tar.gz", 2, "pbx/Master2.csv", B, cut=True)], end="broken")

# ---- expansion limits ------------------------------------------------------------------

def deflate_bomb(total, chunk=64 << 20):
    """Raw deflate data for total zero bytes, built from one repeated block
    (after a full flush the compressor starts afresh: blocks repeat)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
    n = total // chunk
    return first + block * (n - 1) + c.flush()


def zip_bomb(name, member, total):
    """A zip of one deflated member of total zeros, written by hand (the
    sizes in the headers; the CRC is not checked: it is never reached)."""
    data = deflate_bomb(total)
    nm = member.encode()
    zip64 = total >= 0xFFFFFFFF
    extra = struct.pack("<HHQQ", 1, 16, total, len(data)) if zip64 else b""
    csize, usize = (0xFFFFFFFF, 0xFFFFFFFF) if zip64 else (len(data), total)
    local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 0, 8, 0, 0, 0, csize, usize,
                        len(nm), len(extra)) + nm + extra
    cextra = extra
    central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, 8, 0, 0, 0, csize,
                          usize, len(nm), len(cextra), 0, 0, 0, 0, 0) + nm + cextra
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                      len(local) + len(data), 0)
    with open(path(name), "wb") as f:
        f.write(local + data + central + end)


zip_bomb("bomb.zip", "Master.csv", 1 << 30)
add("bomb.zip", [entry("bomb.zip", 0, "Master.csv", limit="ratio")])

with open(path("big.csv.gz"), "wb") as f:
    f.write(gzip.compress(noise(3 << 20, 7)))
add("big.csv.gz", [entry("big.csv.gz", 0, "big.csv", single=True, limit="size")],
    end="broken", max_bytes=1 << 20)

with open(path("index.json"), "w") as f:
    json.dump(INDEX, f, indent=1)
