#!/bin/bash
# bench/smallfiles.sh - case 8 of bench/run.sh alone (issue 11, "small files"):
# FILES files of 1000 rows imported with --jobs 1 and --jobs 2, each against
# one psql session running one \copy per file, in the same round. Prints the
# ratio of every round (\copy seconds / cdrimport seconds, >1: faster) and the
# range, since a 2-core machine shared with others is noisy: compare ratios
# of one round, not seconds across rounds.
#
#   bench/smallfiles.sh                       # build/cdrimport, 1000 files, 5 rounds
#   FILES=300 RUNS=3 bench/smallfiles.sh
#   bench/smallfiles.sh OLD_BINARY NEW_BINARY # several binaries, interleaved per round
#   TRACE=1 bench/smallfiles.sh [BINARY...]   # also: round trips and syscalls per file
#
# Environment: FILES (1000), RUNS (5), JOBS ("1 2"), BENCH_DATA (a folder
# kept between runs for the generated files), BENCH_DIR (/tmp), KEEP=1.
# The server is a throwaway one as in run.sh: default settings, fsync on.
set -uo pipefail
export LC_ALL=C LANG=C
unset PGHOST PGPORT PGDATABASE PGUSER PGSERVICE PGPASSWORD
export PGOPTIONS='-c client_min_messages=warning'

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
FILES=${FILES:-1000}
RUNS=${RUNS:-5}
JOBS=${JOBS:-1 2}
TRACE=${TRACE:-0}
KEEP=${KEEP:-0}
BINS=("$@")
[ ${#BINS[@]} -gt 0 ] || BINS=("$ROOT/build/cdrimport")

log() { printf '[%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b-a}'; }

PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
mkdir -p "${BENCH_DIR:-/tmp}"
W=$(mktemp -d "${BENCH_DIR:-/tmp}/cdrsmall.XXXXXX") || die "mktemp failed"
chmod 755 "$W"
mkdir -p "$W/run" "$W/log" "$W/bin"
IS_ROOT=0; [ "$(id -u)" = 0 ] && IS_ROOT=1
as_pg() { if [ $IS_ROOT = 1 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
PG_STARTED=0
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ "$PG_STARTED" = 1 ] && as_pg "$PGBIN/pg_ctl" -D "$W/pg" -m fast -w stop >/dev/null 2>&1
    if [ "$KEEP" = 1 ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A copy of each binary: a rebuild during the bench must not change it.
for k in "${!BINS[@]}"; do
    cp "${BINS[k]}" "$W/bin/cdrimport$k" || die "no binary ${BINS[k]}"
done

D=${BENCH_DATA:-$W/data}/s1-jobs-${FILES}x1000
if [ ! -d "$D" ]; then
    log "generating $FILES files of 1000 rows in $D"
    mkdir -p "$(dirname "$D")"
    /usr/bin/python3 "$HERE/gen_kxhts.py" --seed 1 --start 0 --count $((FILES * 1000)) \
        --split "$FILES" -o "$D.tmp" && mv "$D.tmp" "$D" || die "generation failed"
fi
mapfile -t JF < <(ls -d "$D"/*.csv)
cat "${JF[@]}" >/dev/null

if [ $IS_ROOT = 1 ]; then chown postgres: "$W/run"; mkdir -p "$W/pg" && chown postgres: "$W/pg"; fi
PORT=$((20000 + RANDOM % 30000))
as_pg "$PGBIN/initdb" -D "$W/pg" -U postgres --auth=trust -E UTF8 --locale=C --no-instructions \
    >"$W/log/initdb.log" 2>&1 || die "initdb failed"
printf "listen_addresses = ''\nunix_socket_directories = '%s'\nport = %s\n" "$W/run" "$PORT" \
    >>"$W/pg/postgresql.conf"
as_pg "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/pg/server.log" -w start >/dev/null || die "no server"
PG_STARTED=1
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$W/run" -p "$PORT")
adm() { "${PSQL[@]}" -U postgres -d postgres "$@"; }
val() { local db=$1; shift; "${PSQL[@]}" -U cdr -d "$db" -At -c "$*"; }
adm -c "CREATE ROLE cdr LOGIN CREATEDB" -c "CREATE DATABASE copyb OWNER cdr" \
    -c "CREATE DATABASE tpl_empty OWNER cdr" >/dev/null || die "setup failed"
INBOX=$W/spool/inbox
cfg() {
    cat >"$W/importer.yaml" <<EOF
database:
  dsn: "host=$W/run port=$PORT dbname=$1 user=cdr"
sources:
  - name: bench
    path: $INBOX
    format: kx-hts
    timezone: UTC
EOF
}
cfg tpl_empty
"$W/bin/cdrimport0" -c "$W/importer.yaml" init-db >"$W/log/init-db.log" 2>&1 || die "init-db failed"
clone() {
    adm -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
        -c "CREATE DATABASE $1 TEMPLATE tpl_empty OWNER cdr STRATEGY = FILE_COPY" >/dev/null
}
for f in "${JF[@]}"; do printf "\\\\copy cdr_copy FROM '%s' WITH (FORMAT csv)\n" "$f"; done >"$W/copy.sql"

copy_run() {
    "${PSQL[@]}" -U cdr -d copyb -f "$HERE/schema_copy.sql" >/dev/null || die "schema_copy.sql failed"
    adm -c CHECKPOINT >/dev/null
    local t0=$EPOCHREALTIME
    "${PSQL[@]}" -U cdr -d copyb -f "$W/copy.sql" >/dev/null || die "\\copy failed"
    since "$t0"
}
# cdr_run K JOBS [WRAPPER...]: binary K, a fresh database and inbox; prints seconds.
cdr_run() {
    local k=$1 j=$2; shift 2
    clone w8; cfg w8
    rm -rf "$W/spool"; mkdir -p "$INBOX"
    ln "${JF[@]}" "$INBOX/"
    adm -c CHECKPOINT >/dev/null
    local t0=$EPOCHREALTIME
    "$@" "$W/bin/cdrimport$k" -c "$W/importer.yaml" import --source bench --jobs "$j" "$INBOX"/*.csv \
        >"$W/log/c$k-$j.out" 2>"$W/log/c$k-$j.err"
    local rc=$? t; t=$(since "$t0")
    local got; got=$(val w8 "SELECT count(*) FROM cdr")
    [ "$rc" = 0 ] && [ "$got" = $((FILES * 1000)) ] ||
        log "WARNING: binary $k --jobs $j: exit $rc, $got rows (want $((FILES * 1000)))"
    echo "$t"
}

log "$FILES files, $RUNS rounds, binaries: ${BINS[*]}"
declare -A R=()
for ((r = 1; r <= RUNS; r++)); do
    tc=$(copy_run)
    [ -n "$tc" ] || die "\\copy failed"   # die in $(...) leaves only the subshell
    line="round $r: \\copy $tc s"
    for k in "${!BINS[@]}"; do
        for j in $JOBS; do
            t=$(cdr_run "$k" "$j")
            [ -n "$t" ] || die "binary $k --jobs $j: no time"
            q=$(awk -v a="$tc" -v b="$t" 'BEGIN {printf "%.2f", a / b}')
            R[$k,$j]="${R[$k,$j]:-} $q"
            line+="; bin$k j$j $t s ${q}x"
        done
    done
    log "$line"
done
echo
printf '%-6s %-5s %-8s %-8s %-8s %s\n' binary jobs min median max "ratios vs \\copy (per round)"
for k in "${!BINS[@]}"; do
    for j in $JOBS; do
        read -ra a <<<"${R[$k,$j]}"
        s=$(printf '%s\n' "${a[@]}" | sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%s %.2f %s", v[1], m, v[NR]}')
        read -r mn md mx <<<"$s"
        printf '%-6s %-5s %-8s %-8s %-8s %s\n' "$k" "$j" "$mn" "$md" "$mx" "${a[*]}"
    done
done
for k in "${!BINS[@]}"; do echo "binary $k: ${BINS[k]}"; done

# Round trips per file: the replies the client waited for (a recvfrom that
# returns data after at least one send; the EAGAIN reads libpq makes while
# it sends COPY data without blocking are counted apart), with strace over
# one --jobs 1 import, and the system calls per file that cost a file.
if [ "$TRACE" = 1 ]; then
    echo
    for k in "${!BINS[@]}"; do
        cdr_run "$k" 1 strace -f -o "$W/log/trace$k" -e trace=sendto,recvfrom,poll,fsync,fdatasync,renameat2,flock,clone,clone3,mmap,munmap,madvise,brk >/dev/null
        awk -v files="$FILES" -v k="$k" '
            / sendto\(/ && !/EAGAIN/ { sent = 1; n["sendto"]++ }
            / recvfrom\(/ && !/EAGAIN/ { n["recvfrom"]++; if (sent) rt++; sent = 0 }
            / recvfrom\(/ && /EAGAIN/ { n["recvfrom EAGAIN"]++ }
            / (fsync|fdatasync|renameat2|flock|clone|clone3|mmap|munmap|madvise|brk)\(/ {
                split($2, a, "("); n[a[1]]++ }
            END {
                printf "binary %d: %.2f round trips per file\n  per file:", k, rt / files
                for (s in n) printf " %s %.2f", s, n[s] / files
                printf "\n"
            }' "$W/log/trace$k"
    done
fi
