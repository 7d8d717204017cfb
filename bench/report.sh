#!/bin/bash
# bench/report.sh - the figures of call accounting (issue 12): `cdrimport
# report` for one month and for the whole of a ROWS-row cdr (10M: about 350
# days of a busy PBX), by day and by extension, and the HTML page. Not part
# of `make bench`: the data and the first report alone take several minutes.
#
#   bench/report.sh                 # build/cdrimport, ROWS=10000000, RUNS=3
#   ROWS=1000000 bench/report.sh    # a quick look
#   bench/report.sh BINARY
#
# The rows are gen_kxhts.py's with --channels match (incoming calls on
# trunks, outgoing out on them), so that an extension is one of the 32 the
# generator dials and not a random outside number: the main benchmark's
# rows draw channels and numbers independently, which gives millions of
# "extensions". Environment: ROWS, RUNS, BENCH_DATA (a folder kept between
# runs for the generated files), PORT (55490). The server is a throwaway
# one (scripts/pg.sh: default settings, fsync on).
set -euo pipefail
export LC_ALL=C LANG=C
unset PGHOST PGPORT PGDATABASE PGUSER PGSERVICE PGPASSWORD

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
ROWS=${ROWS:-10000000}
RUNS=${RUNS:-3}
PORT=${PORT:-55490}
BIN=${1:-$ROOT/build/cdrimport}
[ -x "$BIN" ] || { echo "report.sh: no binary $BIN (make first)" >&2; exit 1; }

W=$(mktemp -d /tmp/cdrreport.XXXXXX)
chmod 755 "$W"
trap '"$ROOT/scripts/pg.sh" stop "$W/pg" >/dev/null 2>&1; rm -rf "$W"' EXIT
log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }

D=${BENCH_DATA:-$W/data}/s1-calls-$ROWS-by-$((ROWS / 10))
if [ ! -d "$D" ]; then
    log "generating $ROWS rows into $D"
    /usr/bin/python3 "$HERE/gen_kxhts.py" --count "$ROWS" --channels match --split 10 -o "$D"
fi
"$ROOT/scripts/pg.sh" start "$W/pg" "$PORT" >/dev/null
eval "$("$ROOT/scripts/pg.sh" env "$W/pg" "$PORT")"
cat > "$W/importer.yaml" <<EOF
database:
  dsn: "host=$W/pg/run port=$PORT dbname=cdr user=cdr"
sources:
  - name: pbx1
    path: $W/inbox
    timezone: Europe/Berlin
EOF
mkdir -p "$W/inbox"
cdr() { "$BIN" -q -c "$W/importer.yaml" "$@"; }
# seconds of the command (output to $W/out)
timed() {
    local t0=$EPOCHREALTIME
    "$@" > "$W/out"
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.2f", b - a}'
}
median() { tr ' ' '\n' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

cdr init-db >/dev/null
log "importing $ROWS rows"
t_import=$(timed cdr import --source pbx1 "$D"/*.csv)
psql -qc "VACUUM ANALYZE"
# the month: the data's second (its first is cut at the 14th)
month=$(psql -Atc "SELECT to_char(min(call_time) + interval '1 month', 'YYYY-MM') FROM cdr_row")
log "first report: builds the stored calls"
t_first=$(timed cdr report --from "$month" --to "$month" --format csv)
psql -qc "VACUUM ANALYZE cdr_call_store"
q() { psql -Atc "$1"; }
calls=$(q "SELECT count(*) FROM cdr_call_store")
exts=$(q "SELECT count(DISTINCT extension) FROM cdr_call_store")
size_rows=$(q "SELECT pg_size_pretty(pg_total_relation_size('cdr_row'))")
size_store=$(q "SELECT pg_size_pretty(pg_total_relation_size('cdr_call_store'))")
printf '\nreport over %s rows (%s calls, %s extensions), median of %s runs\n' \
    "$ROWS" "$calls" "$exts" "$RUNS"
printf '%-44s %8s s\n' "import" "$t_import" "first report (store built)" "$t_first"
printf '%-44s %8s\n' "cdr_row size" "$size_rows" "cdr_call_store size" "$size_store"
first=$(q "SELECT to_char(min(start_local), 'YYYY-MM') FROM cdr_call_store")
last=$(q "SELECT to_char(max(start_local), 'YYYY-MM') FROM cdr_call_store")
for c in "month day $month $month csv" "month extension $month $month csv" \
         "year day $first $last csv" "year extension $first $last csv" \
         "month html $month $month html" "year html $first $last html"; do
    set -- $c
    ts=""
    for _ in $(seq "$RUNS"); do
        ts="$ts $(timed cdr report --from "$3" --to "$4" --by "${2/html/day}" --format "$5")"
    done
    what="by $2"; [ "$2" = html ] && what="html page"
    printf '%-44s %8s s\n' "$1 ($3 to $4) $what" "$(echo $ts | median)"
done
