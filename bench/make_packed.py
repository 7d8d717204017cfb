"""Packed copies of a Master.csv for bench/archive.sh (Python standard
library only): Master.zip (deflate, zipfile's default level), Master.tar.gz
(tarfile), and bomb.zip, one member expanding to 10 GiB of zeros (about
10 MB: one deflate block repeated) whose headers do not declare its size,
as a streaming zipper writes and a hostile one would.
Usage: /usr/bin/python3 bench/make_packed.py DIR   (DIR/Master.csv must exist)
"""
import os
import struct
import sys
import tarfile
import zipfile
import zlib

d = sys.argv[1]
src = os.path.join(d, "Master.csv")
with zipfile.ZipFile(os.path.join(d, "Master.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    z.write(src, "Master.csv")
with tarfile.open(os.path.join(d, "Master.tar.gz"), "w:gz") as t:
    t.add(src, "Master.csv")

total, chunk = 10 << 30, 64 << 20
c = zlib.compressobj(9, zlib.DEFLATED, -15)
first = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
block = c.compress(bytes(chunk)) + c.flush(zlib.Z_FULL_FLUSH)
data = first + block * (total // chunk - 1) + c.flush()
name = b"Master.csv"
local = struct.pack("<IHHHHHIIIHH", 0x04034B50, 45, 8, 8, 0, 0, 0, 0, 0, len(name), 0) + name
descriptor = struct.pack("<IIQQ", 0x08074B50, 0, len(data), total)
extra = struct.pack("<HHQQ", 1, 16, total, len(data))
central = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 8, 8, 0, 0, 0, 0xFFFFFFFF,
                      0xFFFFFFFF, len(name), len(extra), 0, 0, 0, 0, 0) + name + extra
end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(central),
                  len(local) + len(data) + len(descriptor), 0)
with open(os.path.join(d, "bomb.zip"), "wb") as f:
    f.write(local + data + descriptor + central + end)
