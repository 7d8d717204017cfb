"""Builds the committed seed corpora of the fuzz targets (tests/fuzz/corpus/
<target>/) from the project's fixtures and the shared ones (SHARED/fixtures:
real/ and csv-spectrum/), plus a few hand-made inputs for what no fixture
has (a custom layout with a header, archives, HTTP responses). Seeds are
kept small: a fixture is cut to its first lines. Run it again after a
fixture changes; the fuzzers only ever add inputs to build-fuzz/.
Usage: python3 tests/fuzz/make_corpus.py [SHARED]   (from the repository)
"""
import bz2
import gzip
import io
import lzma
import os
import sys
import tarfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(ROOT), "shared")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")
MAX_SEED = 2048

# fuzz_csv's first byte (see fuzz_csv.c)
KXHTS, ASTERISK, ASTCUSTOM, CUSTOM = 0, 1, 2, 3
SMALL_LINES, LATIN1, CP1251, SJIS, CUT = 4, 8, 16, 24, 32


def cut(data, limit=MAX_SEED):
    """The first lines of data, at most limit bytes (one line at least)."""
    if len(data) <= limit:
        return data
    end = data.rfind(b"\n", 0, limit)
    return data[: end + 1] if end > 0 else data[:limit]


def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(*parts):
    with open(os.path.join(*parts), "rb") as f:
        return f.read()


# A custom layout with a header (pipeline.c's: call_time, caller, dialed,
# extra note, skipped, total, talk, answer, call id, extra).
CUSTOM_FILE = (
    b"start,from,to,note,skip,total,talk,answer,id,odd\r\n"
    b'2024-05-06 09:15:00,201,0123456789,"a ""quoted"" note",x,157,150,2024-05-06 09:15:07,1.1,\r\n'
    b"2024/5/6 9:16,202,*98,,,0,0,,,\xc3\xa9\r\n"
    b'"2024-05-06T10:00:00","203","0301234567","multi\nline",,30,0,,1.3,"\\N"\r\n'
)


def csv_corpus():
    imp = os.path.join(ROOT, "fixtures", "import")
    put("csv", "kxhts_basic", bytes([KXHTS, 0]) + cut(read(imp, "kxhts_basic.csv")))
    put("csv", "asterisk16", bytes([ASTERISK, 1]) + cut(read(imp, "asterisk16.csv")))
    bad = os.path.join(ROOT, "fixtures", "bad")
    for name in sorted(os.listdir(bad)):
        if not name.endswith(".csv"):
            continue
        ctl = KXHTS | (LATIN1 if name == "latin1.csv" else 0)
        if name.startswith("truncated"):
            ctl |= CUT
        put("csv", "bad_" + name[:-4], bytes([ctl, len(name)]) + cut(read(bad, name)))
    real = os.path.join(SHARED, "fixtures", "real")
    for name in sorted(os.listdir(real)):
        if not name.endswith(".csv"):
            continue
        ctl = ASTERISK
        if name.startswith("KelySaina"):
            ctl = ASTCUSTOM
        elif name.startswith(("Davronkhuja", "hoathanhdat", "Kxingyun")):
            ctl = CUSTOM | (CP1251 if name.startswith("Davronkhuja") else 0)
        put("csv", "real_" + name.split("__")[0], bytes([ctl, 7]) + cut(read(real, name)))
    spectrum = os.path.join(SHARED, "fixtures", "csv-spectrum", "csvs")
    for name in sorted(os.listdir(spectrum)):
        put("csv", "spectrum_" + name[:-4], bytes([CUSTOM, 3]) + read(spectrum, name))
    put("csv", "custom_header", bytes([CUSTOM, 9]) + CUSTOM_FILE)
    put("csv", "custom_small_lines", bytes([CUSTOM | SMALL_LINES, 5]) + CUSTOM_FILE)
    put("csv", "custom_sjis", bytes([CUSTOM | SJIS, 2]) + CUSTOM_FILE.replace(b"note", b"\x83\x65\x83\x58\x83\x67"))


def config_corpus():
    put("config", "fixture_importer", read(ROOT, "fixtures", "config", "importer.yaml"))
    put("config", "example_importer", read(ROOT, "importer.yaml"))
    put("config", "custom_columns", b"""\
database:
  dsn: "host=/tmp dbname=cdr"
  schema: cdr
jobs: 2
watch: {backend: poll, poll_interval_ms: 500, settle_ms: 100, rescan_interval_s: 60}
sources:
  - name: grandstream
    path: ./inbox
    format: custom
    header: yes
    columns: [call_time, caller_phone, dialed_phone, {extra: note}, "-", total_duration_s]
    encoding: CP1251
    timezone: Europe/Berlin
    patterns: ["*.CSV", "Master*"]
    members: ["*.csv"]
    on_success: delete
    max_reject_ratio: 0.25
    max_line_bytes: 1024
    max_member_bytes: 1048576
""")
    put("config", "fetch", b"""\
sources:
  - name: pbx
    path: /var/spool/cdr/pbx
    format: asterisk
    fetch:
      url: "https://admin:secret@pbx.example:8443/cdr/Master.csv?x=1"
      auth: digest
      interval_s: 15
      timeout_s: 30
      connect_timeout_s: 5
      ca_file: /etc/ssl/pbx.pem
      pinned_public_key: "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
      max_response_bytes: 1048576
      min_free_bytes: 0
  - name: other
    path: other
    recursive: false
    watch: {backend: inotify}
""")
    put("config", "anchors", b"""\
defaults: &d {format: kx-hts, timezone: UTC, on_success: keep}
sources:
  - <<: *d
    name: "a\\tb"
    path: 'x/../y'
  - {name: b, path: /z, format: asterisk-custom, processed_dir: done, failed_dir: /f}
""")


CSV = (b'"","201","0123456789","DAHDI/9-1","DAHDI/1-1","","a","b","2024-05-06 09:15:00",'
       b'"2024-05-06 09:15:07","2024-05-06 09:17:37","157","150","ANSWERED","1714986900.1"\r\n')


def zipped(members, method=zipfile.ZIP_DEFLATED):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", method) as z:
        for name, data in members:
            z.writestr(name, data)
    return b.getvalue()


def tarred(members, mode="w"):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode=mode) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        d = tarfile.TarInfo("dir")
        d.type = tarfile.DIRTYPE
        t.addfile(d)
    return b.getvalue()


def archive_corpus():
    # fuzz_archive's first byte: the profile (bits 0-1), rewind each member
    # halfway (bit 2).
    two = [("Master.csv", CSV * 2), ("sub/Master2.csv", CSV + b'"","1",')]
    put("archive", "zip_deflate", b"\x00" + zipped(two))
    put("archive", "zip_stored", b"\x04" + zipped(two, zipfile.ZIP_STORED))
    put("archive", "zip_nested", b"\x00" + zipped([("inner.zip", zipped(two))]))
    put("archive", "zip_empty", b"\x00" + zipped([]))
    put("archive", "tar", b"\x00" + tarred(two))
    put("archive", "tar_gz", b"\x04" + tarred(two, "w:gz"))
    put("archive", "tar_bz2", b"\x00" + tarred(two, "w:bz2"))
    put("archive", "tar_xz", b"\x00" + tarred(two, "w:xz"))
    put("archive", "csv_gz", b"\x04" + gzip.compress(CSV * 3, mtime=0))
    put("archive", "csv_bz2", b"\x00" + bz2.compress(CSV * 3))
    put("archive", "csv_xz", b"\x00" + lzma.compress(CSV * 3))
    put("archive", "gz_cut", b"\x00" + gzip.compress(CSV * 40, mtime=0)[:200])
    put("archive", "gz_bomb", b"\x00" + gzip.compress(b"\0" * (2 << 20), mtime=0))


def http(status, headers, body=b""):
    head = b"HTTP/1.1 " + status + b"\r\n" + b"".join(h + b"\r\n" for h in headers)
    return head + b"\r\n" + body


def http_corpus():
    # fuzz_http's first byte: max_response_bytes small (bit 0), auth basic
    # (bit 1) or digest (bit 2) instead of any; the rest is the response.
    body = CSV * 2
    n = str(len(body)).encode()
    put("http", "ok", b"\x00" + http(b"200 OK", [b"Content-Length: " + n], body))
    put("http", "ok_close", b"\x00" + http(b"200 OK", [b"Connection: close"], body))
    put("http", "too_big", b"\x01" + http(b"200 OK", [b"Content-Length: " + n], body))
    put("http", "chunked", b"\x00" + http(b"200 OK", [b"Transfer-Encoding: chunked"],
                                          b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"))
    put("http", "empty", b"\x00" + http(b"204 No Content", []))
    put("http", "redirect_same", b"\x00" + http(b"302 Found", [b"Location: /Master.csv?again=1",
                                                            b"Content-Length: 0"]))
    put("http", "redirect_other", b"\x00" + http(b"301 Moved", [b"Location: http://elsewhere.example/",
                                                             b"Content-Length: 0"]))
    put("http", "basic_challenge", b"\x02" + http(b"401 Unauthorized",
                                                  [b'WWW-Authenticate: Basic realm="pbx"',
                                                   b"Content-Length: 6"], b"denied"))
    put("http", "digest_challenge", b"\x04" + http(
        b"401 Unauthorized",
        [b'WWW-Authenticate: Digest realm="pbx", nonce="abc", qop="auth", algorithm=MD5',
         b"Content-Length: 0"]))
    put("http", "server_error", b"\x00" + http(b"503 Busy", [b"Content-Length: 4"], b"busy"))
    put("http", "cut", b"\x00" + http(b"200 OK", [b"Content-Length: 999"], body))
    put("http", "http10", b"\x00HTTP/1.0 200 OK\r\n\r\n" + body)


csv_corpus()
config_corpus()
archive_corpus()
http_corpus()
