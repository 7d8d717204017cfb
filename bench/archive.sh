#!/usr/bin/env bash
# bench/archive.sh - the figures of packed downloads (issue 10). Not a test.
# One Master.csv of ROWS rows (bench/gen_kxhts.py, seed 1) imported plain, as
# a .zip (deflate) and as a .tar.gz, each RUNS times into a fresh database of
# a throwaway PostgreSQL (scripts/pg.sh): median wall time, throughput
# against the plain file, peak RSS (/usr/bin/time -v). Then a zip member that
# expands to 10 GiB without saying so (bench/make_packed.py): the time until
# it is stopped, and peak RSS.
#
#   bench/archive.sh [ROWS]        default 1000000; RUNS=3, CDRIMPORT=build/cdrimport
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${1:-${ROWS:-1000000}}
RUNS=${RUNS:-3}
BIN=${CDRIMPORT:-$ROOT/build/cdrimport}
PY=/usr/bin/python3
[[ -x $BIN ]] || { echo "archive.sh: no $BIN (run make)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "archive.sh: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

W=$(mktemp -d /tmp/cdrarchive.XXXXXX)
chmod 755 "$W"
PORT=${PORT:-$((55000 + RANDOM % 500))}
cleanup() {
    bash "$ROOT/scripts/pg.sh" stop "$W/pg" >/dev/null 2>&1 || true
    rm -rf "$W"
}
trap cleanup EXIT
bash "$ROOT/scripts/pg.sh" start "$W/pg" "$PORT" >/dev/null
eval "$(bash "$ROOT/scripts/pg.sh" env "$W/pg" "$PORT")"

mkdir -p "$W/inbox"
$PY "$ROOT/bench/gen_kxhts.py" --seed 1 --count "$ROWS" -o "$W/Master.csv"
$PY "$ROOT/bench/make_packed.py" "$W"
cat >"$W/importer.yaml" <<YAML
sources:
  - name: bench
    path: $W/inbox
    timezone: UTC
YAML

run=0
# one FILE: prints "seconds peak_rss_kib rows exit_status"
measure() {
    local file=$1 db
    run=$((run + 1))
    db=bench_$run
    createdb "$db"
    PGDATABASE=$db "$BIN" -q -c "$W/importer.yaml" init-db >/dev/null
    sync
    local t0=$EPOCHREALTIME rc=0
    PGDATABASE=$db /usr/bin/time -v -o "$W/time.txt" "$BIN" -q -c "$W/importer.yaml" import "$file" \
        2>"$W/err.txt" || rc=$?
    local t1=$EPOCHREALTIME
    local rss rows
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$W/time.txt")
    rows=$(psql -d "$db" -Atc "SELECT count(*) FROM cdr")
    dropdb "$db"
    awk -v a="$t0" -v b="$t1" -v r="$rss" -v n="$rows" -v c="$rc" 'BEGIN{printf "%.3f %d %d %d\n", b-a, r, n, c}'
}

median() { sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }

printf '%-14s %10s %8s %10s %12s %10s\n' case bytes seconds vs_plain peak_rss_MiB rows
plain=""
for f in Master.csv Master.zip Master.tar.gz; do
    : >"$W/runs.txt"
    for ((k = 1; k <= RUNS; k++)); do measure "$W/$f" >>"$W/runs.txt"; done
    t=$(awk '{print $1}' "$W/runs.txt" | median)
    rss=$(awk '{print $2}' "$W/runs.txt" | sort -n | tail -n 1)
    rows=$(awk '{print $3}' "$W/runs.txt" | sort -n | head -n 1)
    [[ -z $plain ]] && plain=$t
    printf '%-14s %10d %8.2f %9.2fx %12.1f %10d\n' "$f" "$(stat -c %s "$W/$f")" "$t" \
        "$(awk -v p="$plain" -v t="$t" 'BEGIN{print p/t}')" "$(awk -v r="$rss" 'BEGIN{print r/1024}')" "$rows"
done
read -r t rss rows rc < <(measure "$W/bomb.zip")
printf '%-14s %10d %8.2f %10s %12.1f %10d   exit %d: %s\n' bomb.zip "$(stat -c %s "$W/bomb.zip")" "$t" - \
    "$(awk -v r="$rss" 'BEGIN{print r/1024}')" "$rows" "$rc" "$(grep -o 'expands[^(]*' "$W/err.txt" | head -n 1)"
