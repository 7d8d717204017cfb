"""Helpers for the fault-injection tests (test_fault_sweep.py,
test_fault_paths.py): running cdrimport under tests/fault/faultinject.c
(LD_PRELOAD) and reading the shim's log.

The shim only counts calls that touch FAULT_DIR (paths below it,
descriptors opened on such paths), so libpq's sockets, the loader and
/etc are never hit; each run gets a folder of its own for FAULT_DIR.
FAULT_PRELOAD (set by the Makefile) is what goes into LD_PRELOAD: the
shim, after the sanitizer's runtime in a sanitized build.
"""
import os
from pathlib import Path

import pytest

from conftest import REPO_ROOT, rows

START = 1672912800


def kx_line(i):
    """A valid KX-HTS record (bytes, with its newline), call ID '<epoch>.<i>'."""
    m = i % 60
    fields = ["", f"{200 + i % 100}", f"03{i:08d}", f"SIP/{200 + i % 100}-{i:08x}",
              f"SIP/carrier1_x-{i:08x}", "", "", "", f"2023-01-05 10:{m:02d}:00",
              f"2023-01-05 10:{m:02d}:05", f"2023-01-05 10:{m:02d}:59", "59", "54", "ANSWERED",
              f"{START + i}.{i}"]
    return ",".join(f'"{f}"' for f in fields).encode() + b"\n"


def kx_file(ids_):
    return b"".join(kx_line(i) for i in ids_)


def ids(range_):
    return sorted(f"{START + i}.{i}" for i in range_)


def stored(db):
    """The call_id of every row in cdr, sorted (none before the tables exist)."""
    if not rows(db, "SELECT to_regclass('cdr') IS NOT NULL")[0][0]:
        return []
    return sorted(c for (c,) in rows(db, "SELECT call_id FROM cdr"))


def files_under(folder):
    return sorted(p for p in Path(folder).rglob("*") if p.is_file())


def drop(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path

KINDS = ("open", "read", "write", "fsync", "rename", "link", "unlink", "mkdir",
         "inotify_add_watch", "statvfs")

# The errno each kind of call fails with, turn by turn (run N takes entry
# N % len): ones a real disk, permission change or mount gives there.
ERRNOS = {
    "open": ("EACCES", "EIO", "ENOSPC"),
    "read": ("EIO",),
    "write": ("ENOSPC", "EIO"),
    "fsync": ("EIO", "ENOSPC"),
    "rename": ("EXDEV", "EACCES", "ENOSPC"),
    "link": ("EXDEV", "ENOSPC"),
    "unlink": ("EACCES", "EIO"),
    "mkdir": ("ENOSPC", "EACCES"),
    "inotify_add_watch": ("ENOSPC",),
    "statvfs": ("EIO",),
}


def preload():
    """The LD_PRELOAD value, or a skip when the shim was not built."""
    value = os.environ.get("FAULT_PRELOAD") or str(REPO_ROOT / "build" / "tests" / "faultinject.so")
    shim = value.split()[-1]
    if not Path(shim).is_file():
        pytest.skip(f"fault shim not built: {shim} (make build/tests/faultinject.so)")
    return value


def fault_env(folder, log, n=0, count=1, errnos=None, calls=None, turn=None, **extra):
    """Environment entries for run_cli/Daemon: count every call under
    folder into log; with n, fail the nth (count of them; 0: all from n),
    with the errno of ERRNOS at turn (default n) unless errnos names one."""
    env = {"LD_PRELOAD": preload(), "FAULT_DIR": str(folder), "FAULT_LOG": str(log),
           "FAULT_N": str(n), "FAULT_COUNT": str(count),
           # a sanitized binary with the shim preloaded after its runtime
           "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    if calls:
        env["FAULT_CALLS"] = ",".join(calls)
    for kind in KINDS:
        t = n if turn is None else turn
        choice = (errnos or {}).get(kind) or ERRNOS[kind][t % len(ERRNOS[kind])]
        env[f"FAULT_ERRNO_{kind}"] = choice
    env.update({k: str(v) for k, v in extra.items()})
    return env


def read_log(log):
    """[(n, kind, path, injected errno or None)] from the shim's log."""
    out = []
    path = Path(log)
    if not path.exists():
        return out
    for line in path.read_text(errors="replace").splitlines():
        parts = line.split(" ")
        if len(parts) < 4 or parts[2] not in KINDS:
            continue
        if parts[-1] == "ACTED":
            parts = parts[:-1]
        injected = None
        if len(parts) >= 6 and parts[-2] == "INJECTED":
            injected = parts[-1]
            parts = parts[:-2]
        out.append((int(parts[1]), parts[2], " ".join(parts[3:]), injected))
    return out


def injected(log):
    return [c for c in read_log(log) if c[3]]
