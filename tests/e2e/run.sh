#!/usr/bin/env bash
# run.sh - end-to-end tests (`make e2e`): pytest over tests/e2e against the
# binary in $CDRIMPORT_BIN. Unless PGHOST is already set, a throwaway
# PostgreSQL cluster is made in a temp dir on a free port (scripts/pg.sh) and
# stopped and removed on exit. Extra arguments go to pytest (e.g. -k NAME).
# pytest's "no tests collected" (exit 5) counts as a failure.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
export CDRIMPORT_BIN=${CDRIMPORT_BIN:-$root/build/cdrimport}
export CDR_PG_SCRIPT=$root/scripts/pg.sh
export PYTHONDONTWRITEBYTECODE=1

port_free() {
    local p=$1
    [[ ! -e /tmp/.s.PGSQL.$p && ! -e /var/run/postgresql/.s.PGSQL.$p ]] || return 1
    /usr/bin/python3 - "$p" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

pgdir=""
# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$?
    if [[ -n $pgdir ]]; then
        bash "$CDR_PG_SCRIPT" stop "$pgdir" >/dev/null 2>&1 ||
            echo "run.sh: could not stop the test cluster in $pgdir" >&2
        rm -rf "$pgdir"
    fi
    exit "$rc"
}

if [[ -z ${PGHOST:-} ]]; then
    pgdir=$(mktemp -d /tmp/cdrimport-e2e.XXXXXX)
    chmod 755 "$pgdir"
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    port=""
    for _ in $(seq 50); do
        p=$((54400 + RANDOM % 500))
        if port_free "$p"; then port=$p; break; fi
    done
    [[ -n $port ]] || { echo "run.sh: no free port in 54400-54899" >&2; exit 1; }
    CDR_PG_FAST=1 bash "$CDR_PG_SCRIPT" start "$pgdir" "$port"
    eval "$(bash "$CDR_PG_SCRIPT" env "$pgdir" "$port")"
    export PGDATA_DIR=$pgdir
fi

cd "$root"
rc=0
/usr/bin/python3 -m pytest -q -p no:cacheprovider tests/e2e "$@" || rc=$?
if ((rc == 5)); then
    echo "run.sh: pytest collected no tests: failing" >&2
    rc=1
fi
exit "$rc"
