#!/usr/bin/python3
"""fakepbx.py - a fake Panasonic KX-HTS in External Application mode, for
tests and for trying cdrimport's fetch sources without a PBX.

It behaves as the mode does: call records (15-column Master.csv lines from
bench/gen_kxhts.py's deterministic stream, all distinct) accumulate, and each
successful request serves them and clears them. Basic or Digest auth (or
none), HTTP or HTTPS (a certificate file made with `openssl req`), and fault
modes for the next request(s): slow body, body cut mid-record, 500, 401,
404, 204, an HTML login page, a hang until the client's timeout, a body
held half-sent until released, redirects.

Standard library only (http.server, ssl, threading); Debian's /usr/bin/python3.

As a program (see README, "Trying it without a PBX"):

    /usr/bin/python3 tests/fakepbx.py --port 8080 --rate 2
    /usr/bin/python3 tests/fakepbx.py --port 8443 --tls --auth digest

In tests: pbx = FakePBX(auth="digest").start(); pbx.add(10); pbx.url ...
pbx.stop(). Every wait in here is bounded, so nothing outlives its test.
"""
import argparse
import base64
import collections
import hashlib
import http.server
import importlib.util
import os
import secrets
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

_GEN = Path(__file__).resolve().parents[1] / "bench" / "gen_kxhts.py"
_spec = importlib.util.spec_from_file_location("gen_kxhts", _GEN)
gen_kxhts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen_kxhts)

REALM = "KX-HTS"
HTML_PAGE = (b"<!DOCTYPE html><html><head><title>KX-HTS Web Maintenance Console</title>"
             b"</head><body><form>Login: <input name=user></form></body></html>\n")
FAULTS = ("slow", "cut", "500", "401", "404", "204", "html", "hang", "hold",
          "redirect", "redirect_other", "close")


def records(seed, start, count):
    """Rows [start, start+count) of the generator's stream, one line each."""
    out = []
    for lines in gen_kxhts.rows_in(seed, start, count, "forward"):
        out.extend(lines)
    return out


def make_certificate(folder, cn="127.0.0.1"):
    """A self-signed certificate and key for cn (an IP address or a name) in
    folder: (certfile, keyfile, pin) where pin is curl's sha256//... of
    its public key. Needs Debian's openssl."""
    folder = Path(folder)
    cert, key = folder / "pbx-cert.pem", folder / "pbx-key.pem"
    san = f"IP:{cn}" if cn.replace(".", "").isdigit() or ":" in cn else f"DNS:{cn}"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={cn}", "-addext", f"subjectAltName={san}",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout"],
                         check=True, capture_output=True, timeout=60).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub,
                         check=True, capture_output=True, timeout=60).stdout
    pin = "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()
    return str(cert), str(key), pin


class FakePBX:
    """One fake PBX on 127.0.0.1 (port 0: any free port)."""

    def __init__(self, *, port=0, user="INSTALLER", password="1234", auth="basic",
                 path="/cdr", certfile=None, keyfile=None, seed=11, start=0,
                 slow_delay=0.05, hang_s=5.0, hold_s=20.0, host="127.0.0.1"):
        self.user, self.password, self.auth, self.path = user, password, auth, path
        self.certfile, self.keyfile = certfile, keyfile
        self.seed, self.next_row = seed, start
        self.slow_delay, self.hang_s, self.hold_s = slow_delay, hang_s, hold_s
        self.host, self.port = host, port
        self.lock = threading.Lock()
        self.pending = []            # records waiting to be served
        self.faults = collections.deque()   # one per request, then normal
        self.mode = None             # a fault for every request until changed
        self.served = []             # (record line, time.time()) of each served record
        self.body_file = None        # a file served (streamed) by the next normal request
        self.cut_records = []        # records whose bytes were cut
        self.lost = []               # records cleared but never sent (after a cut)
        self.requests = 0            # requests to path with valid credentials
        self.refused = 0             # requests answered 401 for lack of credentials
        self.bytes_sent = 0
        self.held = threading.Event()      # hold: set when the body is half-sent
        self.release = threading.Event()   # hold: set to finish (or close)
        self._nonces = set()
        self._server = None
        self._thread = None
        self._gen_stop = threading.Event()
        self._gen_thread = None

    # ---- records -------------------------------------------------------

    def add(self, count):
        """Record count new calls; returns their lines."""
        with self.lock:
            lines = records(self.seed, self.next_row, count)
            self.next_row += count
            self.pending.extend(lines)
        return lines

    def generate(self, per_second, max_seconds=600):
        """Add records continuously (in a thread) until stop_generating() or
        max_seconds."""
        def run():
            t0 = time.monotonic()
            step = 1.0 / per_second
            while not self._gen_stop.is_set() and time.monotonic() - t0 < max_seconds:
                self.add(1)
                self._gen_stop.wait(step)
        self._gen_stop.clear()
        self._gen_thread = threading.Thread(target=run, daemon=True)
        self._gen_thread.start()

    def stop_generating(self):
        self._gen_stop.set()
        if self._gen_thread:
            self._gen_thread.join(timeout=10)

    def fault(self, *names):
        """The next requests (one each) get these faults."""
        for n in names:
            assert n in FAULTS, n
        with self.lock:
            self.faults.extend(names)

    def served_lines(self):
        with self.lock:
            return [line for line, _ in self.served]

    # ---- server --------------------------------------------------------

    @property
    def scheme(self):
        return "https" if self.certfile else "http"

    @property
    def url(self):
        return f"{self.scheme}://{self.host}:{self.port}{self.path}"

    def url_with(self, user, password):
        return f"{self.scheme}://{user}:{password}@{self.host}:{self.port}{self.path}"

    def start(self):
        pbx = self

        class Handler(_Handler):
            server_pbx = pbx

        self._server = http.server.ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        if self.certfile:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.certfile, self.keyfile)
            # The handshake in the handler's thread: a client that never
            # completes one must not block the accepting loop.
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self.stop_generating()
        self.release.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=10)
            self._server = None

    # ---- auth ----------------------------------------------------------

    def challenge(self):
        if self.auth == "digest":
            nonce = secrets.token_hex(16)
            with self.lock:
                self._nonces.add(nonce)
            return f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", algorithm=MD5'
        return f'Basic realm="{REALM}"'

    def authorized(self, header, method, uri):
        if self.auth == "none":
            return True
        if not header:
            return False
        scheme, _, rest = header.partition(" ")
        if self.auth == "basic" and scheme.lower() == "basic":
            try:
                user, _, pw = base64.b64decode(rest.strip()).decode().partition(":")
            except ValueError:
                return False
            return user == self.user and pw == self.password
        if self.auth == "digest" and scheme.lower() == "digest":
            p = _digest_params(rest)
            if p.get("nonce") not in self._nonces or p.get("username") != self.user:
                return False
            md5 = lambda s: hashlib.md5(s.encode()).hexdigest()  # noqa: E731
            ha1 = md5(f"{self.user}:{REALM}:{self.password}")
            ha2 = md5(f"{method}:{p.get('uri', uri)}")
            if p.get("qop") == "auth":
                want = md5(f"{ha1}:{p['nonce']}:{p.get('nc')}:{p.get('cnonce')}:auth:{ha2}")
            else:
                want = md5(f"{ha1}:{p['nonce']}:{ha2}")
            return secrets.compare_digest(want, p.get("response", ""))
        return False


def _digest_params(text):
    out, i, n = {}, 0, len(text)
    while i < n:
        while i < n and text[i] in " ,":
            i += 1
        eq = text.find("=", i)
        if eq < 0:
            break
        key = text[i:eq].strip().lower()
        i = eq + 1
        if i < n and text[i] == '"':
            end = text.find('"', i + 1)
            end = n if end < 0 else end
            out[key] = text[i + 1:end]
            i = end + 1
        else:
            end = text.find(",", i)
            end = n if end < 0 else end
            out[key] = text[i:end].strip()
            i = end
    return out


class _Handler(http.server.BaseHTTPRequestHandler):
    server_pbx = None
    protocol_version = "HTTP/1.0"

    def log_message(self, fmt, *args):  # quiet: tests read the daemon's log
        pass

    def _send(self, status, body=b"", ctype="text/csv", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self):  # noqa: C901 - one branch per fault mode, on purpose
        pbx = self.server_pbx
        if self.path.split("?")[0] == "/elsewhere":
            # Target of "redirect": same host, another path; serves as usual.
            pass
        elif self.path.split("?")[0] != pbx.path:
            return self._send(404, b"not found\n", "text/plain")
        if not pbx.authorized(self.headers.get("Authorization"), self.command, self.path):
            with pbx.lock:
                pbx.refused += 1
            return self._send(401, b"login required\n", "text/plain",
                              [("WWW-Authenticate", pbx.challenge())])
        with pbx.lock:
            pbx.requests += 1
            fault = pbx.faults.popleft() if pbx.faults else pbx.mode
        if fault == "500":
            return self._send(500, b"internal error\n", "text/plain")
        if fault == "401":
            return self._send(401, b"refused\n", "text/plain",
                              [("WWW-Authenticate", pbx.challenge())])
        if fault == "404":
            return self._send(404, b"no such page\n", "text/plain")
        if fault == "204":
            self.send_response(204)
            self.end_headers()
            return None
        if fault == "html":
            return self._send(200, HTML_PAGE, "text/html")
        if fault == "redirect":
            return self._send(302, b"", "text/plain", [("Location", "/elsewhere")])
        if fault == "redirect_other":
            return self._send(302, b"", "text/plain",
                              [("Location", f"{pbx.scheme}://other.example:{pbx.port}/cdr")])
        if fault == "hang":
            # Answer nothing until the client gives up (bounded).
            time.sleep(pbx.hang_s)
            return None
        if fault == "close":
            self.close_connection = True
            return None
        # Serve and clear.
        with pbx.lock:
            lines, pbx.pending = pbx.pending, []
            big, pbx.body_file = pbx.body_file, None
        now = time.time()
        if big is not None and not fault:
            return self._stream_file(big, now)
        body = "".join(lines).encode()
        if fault == "cut" and lines:
            # Full length announced; the connection ends in the middle of
            # the middle record. Whole records sent count as served.
            k = len(lines) // 2
            head = "".join(lines[:k]).encode()
            part = lines[k].encode()[:max(1, len(lines[k]) // 2)]
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(head + part)
            self.wfile.flush()
            with pbx.lock:
                pbx.served += [(ln, now) for ln in lines[:k]]
                pbx.cut_records.append(lines[k])
                pbx.lost += lines[k + 1:]
                pbx.bytes_sent += len(head) + len(part)
            self.close_connection = True
            return None
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if fault == "slow":
            for i in range(0, len(body), 200):
                self.wfile.write(body[i:i + 200])
                self.wfile.flush()
                time.sleep(pbx.slow_delay)
        elif fault == "hold":
            half = len(body) // 2
            self.wfile.write(body[:half])
            self.wfile.flush()
            with pbx.lock:
                pbx.bytes_sent += half
            pbx.held.set()
            if not pbx.release.wait(pbx.hold_s):
                self.close_connection = True
                with pbx.lock:
                    pbx.served += [(ln, now) for ln in lines]  # cleared: gone from the PBX
                return None
            try:
                self.wfile.write(body[half:])
            except OSError:
                pass
        else:
            self.wfile.write(body)
        with pbx.lock:
            pbx.served += [(ln, now) for ln in lines]
            pbx.bytes_sent += len(body)
        return None

    def _stream_file(self, path, now):
        # A big response (the benchmark's 200 MB) without holding it.
        pbx = self.server_pbx
        size = os.path.getsize(path)
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        with open(path, "rb") as f:
            while True:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                self.wfile.write(chunk)
        with pbx.lock:
            pbx.bytes_sent += size
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--host", default="127.0.0.1", help="listen address (loopback only)")
    ap.add_argument("--user", default="INSTALLER")
    ap.add_argument("--password", default="1234")
    ap.add_argument("--auth", choices=("basic", "digest", "none"), default="basic")
    ap.add_argument("--path", default="/cdr")
    ap.add_argument("--tls", action="store_true", help="HTTPS with a new self-signed certificate")
    ap.add_argument("--rate", type=float, default=1.0, help="new calls per second")
    ap.add_argument("--fault", choices=FAULTS, help="every request gets this fault")
    args = ap.parse_args()
    if args.host not in ("127.0.0.1", "::1", "localhost"):
        ap.error("the fake PBX listens on the loopback address only")
    cert = key = None
    if args.tls:
        folder = Path(os.environ.get("TMPDIR", "/tmp")) / f"fakepbx-{os.getpid()}"
        folder.mkdir(exist_ok=True)
        cert, key, pin = make_certificate(folder, args.host)
        print(f"certificate: {cert}\npinned_public_key: \"{pin}\"")
    pbx = FakePBX(port=args.port, host=args.host, user=args.user, password=args.password,
                  auth=args.auth, path=args.path, certfile=cert, keyfile=key).start()
    pbx.mode = args.fault
    print(f"fake KX-HTS at {pbx.url} ({args.auth} auth, user {args.user}); "
          f"{args.rate} calls/s; Ctrl-C stops", flush=True)
    pbx.generate(args.rate, max_seconds=365 * 86400)
    try:
        last = 0
        while True:
            time.sleep(5)
            with pbx.lock:
                n, waiting = len(pbx.served), len(pbx.pending)
            if n != last:
                print(f"served {n} records so far, {waiting} waiting", flush=True)
                last = n
    except KeyboardInterrupt:
        pass
    finally:
        pbx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
