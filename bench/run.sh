#!/bin/bash
# bench/run.sh - the cdrimport benchmark (`make bench`). Not a test: it prints
# how cdrimport compares with `psql \copy` (and pgloader) on the same files.
#
# One run: generate deterministic KX-HTS Master.csv files (bench/gen_kxhts.py),
# start a throwaway PostgreSQL (initdb in a temp dir, unix socket only, default
# settings, fsync on), time every case RUNS times on a fresh database state,
# print medians as a table, stop the server and delete everything (trap).
# See bench/README.md for what each case means and how to read the table.
#
# Parameters (environment, or the flags in usage()):
#   ROWS      rows of the main file             (default 1000000)
#   SEED      generator seed                    (default 1)
#   RUNS      runs per figure, median printed   (default 3)
#   BIG_ROWS  rows already stored in case 7     (default 10 x ROWS)
#   RSS_ROWS  the large file of case 6          (default 4 x ROWS)
#   NEW_ROWS  new rows imported in case 7       (default ROWS / 10)
#   JOB_FILES files of JOB_FILE_ROWS rows, case 8 (default ROWS / 1000, 1000)
#   CDRIMPORT the binary                        (default build/cdrimport)
#   CASE_BUDGET  no further runs (rounds) of a case once it has taken this many s (240)
#   PREFILL_LIMIT  seconds allowed for the pre-fill of case 7 (900)
#   BENCH_DATA keep generated files in this folder and reuse them next time
#   BENCH_DIR  parent of the temporary folder   (default /tmp)
#   KEEP=1     keep the temporary folder (database, logs) at the end
set -uo pipefail
export LC_ALL=C LANG=C
unset PGHOST PGPORT PGDATABASE PGUSER PGSERVICE PGPASSWORD
export PGOPTIONS='-c client_min_messages=warning'

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PY=/usr/bin/python3
GEN="$HERE/gen_kxhts.py"

usage() {
    cat <<EOF
usage: bench/run.sh [--rows N] [--seed N] [--runs N] [--big-rows N] [--rss-rows N]
                    [--new-rows N] [--job-files N] [--cdrimport PATH] [--keep]
The same settings can be given as environment variables ROWS, SEED, RUNS,
BIG_ROWS, RSS_ROWS, NEW_ROWS, JOB_FILES, CDRIMPORT, KEEP=1; also CASE_BUDGET,
PREFILL_LIMIT (seconds) and BENCH_DATA (a folder where generated files are
kept and reused). Quick run: ROWS=100000.
EOF
}

while [ $# -gt 0 ]; do
    opt=$1 val=
    case $opt in
        --*=*) val=${opt#*=}; opt=${opt%%=*} ;;
        -h|--help) usage; exit 0 ;;
        --keep) KEEP=1; shift; continue ;;
        --*) [ $# -ge 2 ] || { usage >&2; exit 2; }; val=$2; shift ;;
        *) usage >&2; exit 2 ;;
    esac
    shift
    case $opt in
        --rows) ROWS=$val ;;
        --seed) SEED=$val ;;
        --runs) RUNS=$val ;;
        --big-rows) BIG_ROWS=$val ;;
        --rss-rows) RSS_ROWS=$val ;;
        --new-rows) NEW_ROWS=$val ;;
        --job-files) JOB_FILES=$val ;;
        --cdrimport) CDRIMPORT=$val ;;
        *) echo "run.sh: unknown option $opt" >&2; usage >&2; exit 2 ;;
    esac
done

ROWS=${ROWS:-1000000}
SEED=${SEED:-1}
RUNS=${RUNS:-3}
BIG_ROWS=${BIG_ROWS:-$((ROWS * 10))}
RSS_ROWS=${RSS_ROWS:-$((ROWS * 4))}
NEW_ROWS=${NEW_ROWS:-$((ROWS / 10))}
JOB_FILE_ROWS=${JOB_FILE_ROWS:-1000}
JOB_FILES=${JOB_FILES:-$((ROWS / JOB_FILE_ROWS))}
CDRIMPORT=${CDRIMPORT:-$ROOT/build/cdrimport}
KEEP=${KEEP:-0}
CASE_BUDGET=${CASE_BUDGET:-240}
PREFILL_LIMIT=${PREFILL_LIMIT:-900}
for v in ROWS SEED RUNS BIG_ROWS RSS_ROWS NEW_ROWS JOB_FILES JOB_FILE_ROWS CASE_BUDGET PREFILL_LIMIT; do
    case ${!v} in ''|*[!0-9]*) echo "run.sh: $v must be a number, not '${!v}'" >&2; exit 2 ;; esac
done
[ "$ROWS" -ge 2000 ] || { echo "run.sh: ROWS must be >= 2000" >&2; exit 2; }
[ "$RUNS" -ge 1 ] && [ "$NEW_ROWS" -ge 1 ] && [ "$JOB_FILES" -ge 1 ] || {
    echo "run.sh: RUNS, NEW_ROWS and JOB_FILES must be >= 1" >&2; exit 2; }
case $CDRIMPORT in /*) ;; *) CDRIMPORT=$PWD/$CDRIMPORT ;; esac
HALF=$((ROWS / 2))
NPROC=$(nproc)

T_START=$EPOCHREALTIME
log() { printf '[%s +%5.0fs] %s\n' "$(date +%T)" "$(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN{print b-a}')" "$*"; }
die() { log "FATAL: $*"; exit 1; }

# ---------------------------------------------------------------- packages --
need=()
[ -x /usr/bin/time ] || need+=(time)
[ -x $PY ] || need+=(python3)
command -v psql >/dev/null || need+=(postgresql-client)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v pgloader >/dev/null || need+=(pgloader)
command -v runuser >/dev/null || need+=(util-linux)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || die "missing packages: ${need[*]} (run as root, or install them)"
    log "installing ${need[*]} with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
        die "apt-get install ${need[*]} failed"
fi
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || die "no initdb under /usr/lib/postgresql"
HAVE_PGLOADER=1; command -v pgloader >/dev/null || HAVE_PGLOADER=0

# ---------------------------------------------------------------- folders --
mkdir -p "${BENCH_DIR:-/tmp}"
W=$(mktemp -d "${BENCH_DIR:-/tmp}/cdrbench.XXXXXX") || die "mktemp failed"
chmod 755 "$W"
D=${BENCH_DATA:-$W/data}
mkdir -p "$D" "$W/log" "$W/run" "$W/pgl" || die "cannot create folders under $W"
D=$(cd "$D" && pwd)
INBOX=$W/spool/inbox
CFG=$W/importer.yaml
PG_STARTED=0
IS_ROOT=0; [ "$(id -u)" = 0 ] && IS_ROOT=1

as_pg() { if [ $IS_ROOT = 1 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ "$PG_STARTED" = 1 ]; then
        as_pg "$PGBIN/pg_ctl" -D "$W/pg" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            as_pg "$PGBIN/pg_ctl" -D "$W/pg" -m immediate stop >/dev/null 2>&1
    fi
    if [ "$KEEP" = 1 ]; then
        echo "kept $W (remove it with: rm -rf $W)"
    else
        rm -rf "$W"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# ------------------------------------------------------------------ data --
# Every file is a slice of one deterministic row stream (row i is the same
# bytes in every file), generated NPROC slices at a time. BIG_ROWS, RSS_ROWS
# and ROWS files are prefixes of one stream file, cut with head.
STREAM=$BIG_ROWS
[ "$RSS_ROWS" -gt "$STREAM" ] && STREAM=$RSS_ROWS
[ "$ROWS" -gt "$STREAM" ] && STREAM=$ROWS
P=s$SEED
F_STREAM=$D/$P-stream-$STREAM.csv
F_BASE=$D/$P-base-$ROWS.csv
F_REDL=$D/$P-redownload-$ROWS.csv
F_HALF=$D/$P-halfnew-$ROWS.csv
F_RSS=$D/$P-rss-$RSS_ROWS.csv
D_BIG=$D/$P-big-$BIG_ROWS-by-$ROWS   # the pre-fill of case 7, as files of ROWS rows
F_NEW=()
for ((k = 1; k <= RUNS; k++)); do F_NEW+=("$D/$P-new$k-$BIG_ROWS+$NEW_ROWS.csv"); done
D_JOBS=$D/$P-jobs-${JOB_FILES}x$JOB_FILE_ROWS
F_B10=$D/$P-blocks10-$ROWS.csv      # case 9: the main file's rows as ten blocks over one range
F_RND=$D/$P-shuffle-$ROWS.csv       # case 11: the main file's rows in random order
F_SRC2=$D/s$((SEED + 1))-base-$ROWS.csv  # case 10: another PBX's rows over the same range
D_SRC10=$D/$P-src10x10b-$ROWS      # case 12: ten sources' rows, ten files each (ROWS in all)

gen_bg() {   # gen_bg OUTPUT generator-args...: in the background, at most NPROC at once
    local out=$1; shift
    [ -e "$out" ] && return 0
    while [ "$(jobs -rp | wc -l)" -ge "$NPROC" ]; do wait -n; done
    ( if [ "${1:-}" = --split ]; then
          $PY "$GEN" --seed "$SEED" "$@" -o "$out.tmp" && mv "$out.tmp" "$out"
      else
          $PY "$GEN" --seed "$SEED" "$@" -o "$out"
      fi || { echo "generator failed for $out" >&2; exit 1; } ) &
}
cut_head() {  # cut_head N SRC DST
    [ -e "$3" ] && return 0
    if [ "$1" = "$(wc -l <"$2")" ]; then ln "$2" "$3" 2>/dev/null || cp "$2" "$3"
    else head -n "$1" "$2" >"$3.tmp" && mv "$3.tmp" "$3"; fi
}

log "generating data in $D (seed $SEED): stream $STREAM rows, main file $ROWS rows"
parts=$((NPROC * 2))
if [ ! -e "$F_STREAM" ]; then
    per=$(((STREAM + parts - 1) / parts))
    for ((p = 0; p < parts; p++)); do
        s=$((p * per)); n=$per
        [ $((s + n)) -gt "$STREAM" ] && n=$((STREAM - s))
        [ "$n" -gt 0 ] || continue
        rm -f "$F_STREAM.part$p"
        gen_bg "$F_STREAM.part$p" --start "$s" --count "$n"
    done
fi
gen_bg "$F_REDL" --start 0 --count "$ROWS" --order reverse-blocks
gen_bg "$F_HALF" --start "$HALF" --count "$ROWS"
for ((k = 1; k <= RUNS; k++)); do
    gen_bg "${F_NEW[k-1]}" --start $((BIG_ROWS + (k - 1) * NEW_ROWS)) --count "$NEW_ROWS"
done
gen_bg "$D_JOBS" --split "$JOB_FILES" --start 0 --count $((JOB_FILES * JOB_FILE_ROWS))
gen_bg "$F_B10" --start 0 --count "$ROWS" --order blocks10
gen_bg "$F_RND" --start 0 --count "$ROWS" --order shuffle
gen_bg "$F_SRC2" --seed $((SEED + 1)) --start 0 --count "$ROWS"
mkdir -p "$D_SRC10"
for ((k = 1; k <= 10; k++)); do
    # Each source its own weeks: \copy's table has no source column, and
    # two seeds' rows at the same second can share its unique key.
    gen_bg "$D_SRC10/pbx$k" --split 10 --seed $((SEED + 10 + k)) --start $(((k - 1) * ROWS / 10)) --count $((ROWS / 10))
done
wait
if [ ! -e "$F_STREAM" ]; then
    part_files=()
    for ((p = 0; p < parts; p++)); do
        [ $((p * ((STREAM + parts - 1) / parts))) -lt "$STREAM" ] || continue
        [ -s "$F_STREAM.part$p" ] || die "data generation failed ($F_STREAM.part$p)"
        part_files+=("$F_STREAM.part$p")
    done
    cat "${part_files[@]}" >"$F_STREAM.tmp" && mv "$F_STREAM.tmp" "$F_STREAM" && rm -f "${part_files[@]}" ||
        die "cannot write $F_STREAM"
fi
cut_head "$ROWS" "$F_STREAM" "$F_BASE"
cut_head "$RSS_ROWS" "$F_STREAM" "$F_RSS"
if [ ! -d "$D_BIG" ]; then
    rm -rf "$D_BIG.tmp"; mkdir -p "$D_BIG.tmp"
    head -n "$BIG_ROWS" "$F_STREAM" | split -l "$ROWS" -d -a 4 --additional-suffix=.csv - "$D_BIG.tmp/Master-" &&
        mv "$D_BIG.tmp" "$D_BIG" || die "cannot write $D_BIG"
fi
for f in "$F_BASE" "$F_REDL" "$F_HALF" "$F_RSS" "${F_NEW[@]}"; do
    [ -s "$f" ] || die "generated file $f is missing"
done
[ "$(ls "$D_JOBS" | wc -l)" = "$JOB_FILES" ] || die "expected $JOB_FILES files in $D_JOBS"
size() { stat -c %s "$1"; }
dirsize() { du -sb --apparent-size "$1" | cut -f1; }
log "data ready: main $(($(size "$F_BASE") / 1048576)) MiB, big $(($(dirsize "$D_BIG") / 1048576)) MiB, rss $(($(size "$F_RSS") / 1048576)) MiB"
[ "$(sha256sum <"$F_BASE")" != "$(sha256sum <"$F_REDL")" ] || die "re-download file has the same checksum"

# -------------------------------------------------------------- postgres --
if [ $IS_ROOT = 1 ]; then
    id postgres >/dev/null 2>&1 || die "no user postgres (install postgresql)"
    chown postgres: "$W/run"
    mkdir -p "$W/pg" && chown postgres: "$W/pg"
fi
others=$(pgrep -x postgres | wc -l)
[ "$others" -gt 0 ] && log "WARNING: $others other postgres processes are running; they may disturb the figures"
PORT=${BENCH_PORT:-}
if [ -z "$PORT" ]; then   # unix socket only, in our own folder: any port number is free there
    PORT=$((20000 + RANDOM % 30000))
fi
log "initdb ($PGBIN) in $W/pg, socket $W/run port $PORT"
as_pg "$PGBIN/initdb" -D "$W/pg" -U postgres --auth=trust -E UTF8 --locale=C --no-instructions \
    >"$W/log/initdb.log" 2>&1 || { cat "$W/log/initdb.log"; die "initdb failed"; }
cat >>"$W/pg/postgresql.conf" <<EOF

# bench/run.sh: private instance, unix socket only; all else default (fsync on)
listen_addresses = ''
unix_socket_directories = '$W/run'
port = $PORT
EOF
as_pg "$PGBIN/pg_ctl" -D "$W/pg" -l "$W/pg/server.log" -w -t 120 start >/dev/null ||
    { tail -n 20 "$W/pg/server.log"; die "PostgreSQL did not start"; }
PG_STARTED=1

PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "$W/run" -p "$PORT")
adm() { "${PSQL[@]}" -U postgres -d postgres "$@"; }
val() { local db=$1; shift; "${PSQL[@]}" -U cdr -d "$db" -At -c "$*"; }
adm -c "CREATE ROLE cdr LOGIN CREATEDB" -c "CREATE DATABASE copyb OWNER cdr" >/dev/null || die "setup SQL failed"
clone() {   # clone NEW TEMPLATE: a fresh copy of a database state
    adm -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
        -c "CREATE DATABASE $1 TEMPLATE $2 OWNER cdr STRATEGY = FILE_COPY" >/dev/null ||
        die "cannot clone $2 into $1"
}
dropdb_() { adm -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; }
has_db() { [ "$(val postgres "SELECT 1 FROM pg_database WHERE datname = '$1'")" = 1 ]; }
settle() {  # VACUUM + ANALYZE + CHECKPOINT: a stored table as autovacuum would leave it
    "${PSQL[@]}" -U postgres -d "$1" -c "VACUUM (FREEZE, ANALYZE)" -c CHECKPOINT >/dev/null
}

# --------------------------------------------------------------- machine --
PGVER=$(val postgres "SHOW server_version")
setting() { val postgres "SHOW $1"; }
echo
echo "== machine"
echo "nproc:      $NPROC"
echo "cpu:        $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)"
echo "memory:     $(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "kernel:     $(uname -sr); net.core.wmem_max=$(cat /proc/sys/net/core/wmem_max 2>/dev/null || echo ?)" \
     "(caps the 1 MiB socket send buffer cdrimport asks for)"
echo "disk:       $(df -h --output=source,fstype,size "$W" | tail -n 1 | tr -s ' ')"
echo "postgresql: $PGVER; shared_buffers=$(setting shared_buffers) fsync=$(setting fsync)" \
     "synchronous_commit=$(setting synchronous_commit) wal_level=$(setting wal_level)" \
     "max_wal_size=$(setting max_wal_size) work_mem=$(setting work_mem) lc_collate=$(setting lc_collate)"
echo "pgloader:   $( [ $HAVE_PGLOADER = 1 ] && pgloader --version 2>/dev/null | sed -n 1p || echo none)"
echo "files:      main $ROWS rows ($(size "$F_BASE") bytes), big $BIG_ROWS, rss $RSS_ROWS," \
     "new $NEW_ROWS, jobs ${JOB_FILES}x$JOB_FILE_ROWS; seed $SEED; $RUNS runs per figure"
echo

# ---------------------------------------------------------------- timing --
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {if (NR == 0) exit; if (NR % 2) printf "%.3f\n", a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.3f", b-a}'; }
calc() { awk "BEGIN {printf \"%.${2:-2}f\", $1}"; }
declare -A T=() SZ=() NOTE=() RSS=()     # per case: median seconds, bytes, remarks, median peak RSS KiB

note() { NOTE[$1]="${NOTE[$1]:+${NOTE[$1]}; }$2"; }

# \copy baseline: FILES into a freshly created cdr_copy, one psql session.
COPY_T=
copy_run() {
    local f script=$W/copy.sql
    "${PSQL[@]}" -U cdr -d copyb -f "$HERE/schema_copy.sql" >/dev/null 2>"$W/log/schema.err" ||
        { cat "$W/log/schema.err"; die "schema_copy.sql failed"; }
    adm -c CHECKPOINT >/dev/null
    : >"$script"
    for f; do printf "\\\\copy cdr_copy FROM '%s' WITH (FORMAT csv)\n" "$f" >>"$script"; done
    local t0=$EPOCHREALTIME
    "${PSQL[@]}" -U cdr -d copyb -f "$script" >"$W/log/copy.out" 2>&1 || { cat "$W/log/copy.out"; die "\\copy failed"; }
    COPY_T=$(since "$t0")
}
# copy_one CASE FILES...: one \copy run, its time added to CASE's runs.
# copy_done CASE N_EXPECTED: the row count checked, the median into T[CASE].
declare -A TS=()
copy_one() {
    local c=$1; shift
    copy_run "$@"; TS[$c]="${TS[$c]:-} $COPY_T"
    log "  $c: \\copy run $(wc -w <<<"${TS[$c]}")/$RUNS: $COPY_T s"
}
copy_done() {
    local got; got=$(val copyb "SELECT count(*) FROM cdr_copy")
    [ "$got" = "$2" ] || note "$1" "cdr_copy holds $got rows, expected $2"
    # shellcheck disable=SC2086 # the runs' times, one word each
    T[$1]=$(median ${TS[$1]})
}
# copy_case CASE N_EXPECTED FILES...: RUNS \copy runs, median into T[CASE]
copy_case() {
    local c=$1 want=$2 r; shift 2
    for ((r = 1; r <= RUNS; r++)); do copy_one "$c" "$@"; done
    copy_done "$c" "$want"
}

# The server's side alone: rows as cdrimport stored them, dumped in binary
# COPY format and loaded by psql with no parsing, hashing or dedup, in one
# COPY. cdrimport cannot beat this on this table.
# ceiling_case CASE FROM_DB WHERE TEMPLATE EXPECTED: FROM_DB's rows that
# match WHERE, loaded RUNS times into a fresh clone of TEMPLATE, which must
# then hold EXPECTED rows. 0d: case 1's rows into an empty cdr. 10d: case
# 10's second source into case 1's cdr, the server's share of case 10.
CDR_COLS="call_time, answer_time, end_time, row_key, file_id, line_no, total_duration_s,
 call_duration_s, source, call_id, caller_phone, dialed_phone, flag2, flag3,
 call_type, account_code, src_channel, dst_channel, feature, extra"
CDR_COLS=${CDR_COLS//$'\n'/}
ceiling_case() {
    local c=$1 from=$2 where=$3 tpl=$4 want=$5 r ts=() bin=$W/rows.bin
    "${PSQL[@]}" -U cdr -d "$from" -c "\\copy (SELECT $CDR_COLS FROM cdr_row WHERE $where) TO '$bin' (FORMAT binary)" \
        >"$W/log/$c.out" 2>&1 || { note "$c" "dump failed: $(tail -n 1 "$W/log/$c.out")"; return; }
    for ((r = 1; r <= RUNS; r++)); do
        clone w0 "$tpl"
        adm -c CHECKPOINT >/dev/null
        local t0=$EPOCHREALTIME
        "${PSQL[@]}" -U cdr -d w0 -c "\\copy cdr_row ($CDR_COLS) FROM '$bin' (FORMAT binary)" \
            >>"$W/log/$c.out" 2>&1 || { note "$c" "load failed: $(tail -n 1 "$W/log/$c.out")"; return; }
        ts+=("$(since "$t0")")
        log "  $c: \\copy binary run $r/$RUNS: ${ts[-1]} s"
    done
    local got; got=$(val w0 "SELECT count(*) FROM cdr")
    [ "$got" = "$want" ] || note "$c" "cdr holds $got rows, expected $want"
    T[$c]=$(median "${ts[@]}"); TS[$c]=" ${ts[*]}"
    dropdb_ w0
    rm -f "$bin"
}

# The server's side alone for case 8: each file's rows as cdrimport stored
# them (w8, after case 8c), loaded as one binary \copy per file, each its
# own transaction, in one psql session as 8a's \copy are. What a file costs
# the server before any client work: case 8b cannot beat it.
ceiling_jobs_case() {
    local r ts=() id dir=$W/jobs-bin dump=$W/jobs-dump.sql script=$W/jobs-load.sql ids=()
    rm -rf "$dir"; mkdir -p "$dir"; : >"$dump"
    # What every cdrimport connection sends first (sql.c, SQL_SERVER_HEAP):
    # without it the backend trims its heap after each binary COPY, and
    # this ceiling would be one cdrimport does not have.
    echo "SELECT length(repeat('x', 8388608));" >"$script"
    mapfile -t ids < <(val w8 "SELECT id FROM cdr_file WHERE rows_inserted > 0 ORDER BY id")
    for id in "${ids[@]}"; do
        printf "\\copy (SELECT %s FROM cdr_row WHERE file_id = %s ORDER BY call_time) TO '%s/%s.bin' (FORMAT binary)\n" \
            "$CDR_COLS" "$id" "$dir" "$id" >>"$dump"
        printf "\\copy cdr_row (%s) FROM '%s/%s.bin' (FORMAT binary)\n" "$CDR_COLS" "$dir" "$id" >>"$script"
    done
    "${PSQL[@]}" -U cdr -d w8 -f "$dump" >"$W/log/ceiling8.out" 2>&1 ||
        { note c8d "dump failed: $(tail -n 1 "$W/log/ceiling8.out")"; return; }
    for ((r = 1; r <= RUNS; r++)); do
        clone w0 tpl_empty
        adm -c CHECKPOINT >/dev/null
        local t0=$EPOCHREALTIME
        "${PSQL[@]}" -U cdr -d w0 -f "$script" >>"$W/log/ceiling8.out" 2>&1 ||
            { note c8d "load failed: $(tail -n 1 "$W/log/ceiling8.out")"; return; }
        ts+=("$(since "$t0")")
        log "  c8d: \\copy binary per file, run $r/$RUNS: ${ts[-1]} s"
    done
    local got; got=$(val w0 "SELECT count(*) FROM cdr")
    [ "$got" = $((JOB_FILES * JOB_FILE_ROWS)) ] || note c8d "cdr holds $got rows, expected $((JOB_FILES * JOB_FILE_ROWS))"
    T[c8d]=$(median "${ts[@]}"); TS[c8d]=" ${ts[*]}"
    dropdb_ w0
    rm -rf "$dir"
}

# ------------------------------------------------------------- cdrimport --
CDR_OK=0 HAVE_JOBS=0
write_cfg() {   # write_cfg DB [SOURCES]: one source (SRC_NAME) on $INBOX, or N on $INBOX/pbxK
    cat >"$CFG" <<EOF
database:
  dsn: "host=$W/run port=$PORT dbname=$1 user=cdr"
  partition: ${PARTITION:-none}
  retention_months: ${RETENTION:-0}
sources:
EOF
    if [ -z "${2:-}" ]; then
        printf '  - name: %s\n    path: %s\n    format: kx-hts\n    timezone: UTC\n' \
            "${SRC_NAME:-bench}" "$INBOX" >>"$CFG"
    else
        for ((k = 1; k <= $2; k++)); do
            printf '  - name: pbx%d\n    path: %s/pbx%d\n    format: kx-hts\n    timezone: UTC\n    on_success: delete\n' \
                "$k" "$INBOX" "$k" >>"$CFG"
        done
    fi
}
# A copy of the binary: a rebuild during the bench must not mix two versions.
if [ -x "$CDRIMPORT" ] && cp "$CDRIMPORT" "$W/cdrimport"; then
    log "cdrimport: $CDRIMPORT ($("$W/cdrimport" --version 2>/dev/null | sed -n 1p), sha256 $(sha256sum <"$W/cdrimport" | cut -c1-12))"
    CDRIMPORT=$W/cdrimport
fi
if [ -x "$CDRIMPORT" ] && "$CDRIMPORT" --help >"$W/log/help.txt" 2>&1 && [ -s "$W/log/help.txt" ]; then
    CDR_OK=1
    grep -q -- '--jobs' "$W/log/help.txt" && HAVE_JOBS=1
    adm -c "CREATE DATABASE tpl_empty OWNER cdr" >/dev/null
    write_cfg tpl_empty
    if "$CDRIMPORT" -c "$CFG" init-db >"$W/log/init-db.log" 2>&1; then
        log "cdrimport init-db: ok ($(val tpl_empty "SELECT string_agg(relname, ', ' ORDER BY relname) FROM pg_class c JOIN pg_namespace n ON n.oid = relnamespace WHERE nspname = 'public' AND relkind IN ('r', 'p')"))"
    else
        log "cdrimport init-db FAILED (exit $?):"; sed 's/^/    /' "$W/log/init-db.log" | tail -n 20
        CDR_OK=0
    fi
else
    log "cdrimport not usable ($CDRIMPORT --help failed or missing): cdrimport cases are n/a"
    [ -s "$W/log/help.txt" ] && sed 's/^/    /' "$W/log/help.txt" | tail -n 5
fi

# Every cdrimport or pgloader run is killed after limit(rows) seconds: 40 times
# what \copy needs on a small machine (2.5 us/row) plus a minute (exit 124);
# the pre-fill of case 7 after PREFILL_LIMIT seconds.
limit() { echo "${LIMIT_OVERRIDE:-$((60 + $1 / 10000))}"; }

# cdr_run LABEL DB [--jobs N] FILES...: import FILES (linked into the source
# folder) into database DB; sets CDR_T (seconds), CDR_RSS (KiB), CDR_RC.
CDR_T= CDR_RSS= CDR_RC=
cdr_run() {
    local label=$1 db=$2 f extra=(); shift 2
    if [ "${1:-}" = --jobs ]; then extra=(--jobs "$2"); shift 2; fi
    rm -rf "$W/spool"; mkdir -p "$INBOX"
    local args=()
    if [ $# = 1 ]; then
        ln "$1" "$INBOX/Master.csv" 2>/dev/null || cp "$1" "$INBOX/Master.csv"
        args=("$INBOX/Master.csv")
    else
        for f; do ln "$f" "$INBOX/" 2>/dev/null || cp "$f" "$INBOX/"; args+=("$INBOX/${f##*/}"); done
    fi
    write_cfg "$db"
    local lim; lim=$(limit "$(cat "${args[@]}" | wc -l)")
    rm -f "$W/time.txt"
    adm -c CHECKPOINT >/dev/null
    local t0=$EPOCHREALTIME
    timeout -k 10 "$lim" \
        /usr/bin/time -v -o "$W/time.txt" "$CDRIMPORT" -c "$CFG" import --source "${SRC_NAME:-bench}" "${extra[@]}" "${args[@]}" \
        >"$W/log/$label.out" 2>"$W/log/$label.err"
    CDR_RC=$?
    CDR_T=$(since "$t0")
    [ "$CDR_RC" = 124 ] && log "    cdrimport timed out after $lim s"
    CDR_RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$W/time.txt")
    if [ "$CDR_RC" != 0 ]; then
        log "    cdrimport exit $CDR_RC$([ "$CDR_RC" = 1 ] && echo ' (rejected rows or a failed file)'); stderr tail:"
        tail -n 5 "$W/log/$label.err" | sed 's/^/      /'
    fi
}
# scan_run LABEL DB [FILES...]: with FILES, `scan --jobs 1` of them linked
# into an emptied $INBOX, one source moving each to processed_dir once
# stored, as a site's cron job does (case 8e); without, `scan --jobs 2` over
# the ten sources of case 12 (each file linked into $INBOX/pbxK; scan
# deletes it once stored). Sets CDR_*.
scan_run() {
    local label=$1 db=$2 k f jobs=2; shift 2
    rm -rf "$W/spool"
    if [ $# -gt 0 ]; then
        jobs=1
        rm -rf "$INBOX"; mkdir -p "$INBOX"
        for f; do ln "$f" "$INBOX/" 2>/dev/null || cp "$f" "$INBOX/"; done
        write_cfg "$db"
    else
        for ((k = 1; k <= 10; k++)); do
            mkdir -p "$INBOX/pbx$k"
            ln "$D_SRC10/pbx$k"/*.csv "$INBOX/pbx$k/" 2>/dev/null || cp "$D_SRC10/pbx$k"/*.csv "$INBOX/pbx$k/"
        done
        write_cfg "$db" 10
    fi
    rm -f "$W/time.txt"
    adm -c CHECKPOINT >/dev/null
    local t0=$EPOCHREALTIME
    timeout -k 10 "$(limit "$ROWS")" /usr/bin/time -v -o "$W/time.txt" "$CDRIMPORT" -c "$CFG" scan --jobs $jobs \
        >"$W/log/$label.out" 2>"$W/log/$label.err"
    CDR_RC=$?
    CDR_T=$(since "$t0")
    CDR_RSS=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$W/time.txt")
    [ "$CDR_RC" = 0 ] || { log "    cdrimport scan exit $CDR_RC; stderr tail:"; tail -n 5 "$W/log/$label.err" | sed 's/^/      /'; }
    # processed_dir's default: beside the source's folder
    local moved; moved=$(find "${INBOX%/*}/processed" -type f 2>/dev/null | wc -l)
    [ $# = 0 ] || [ "$moved" = $# ] || note "${label%-*}" "$moved of $# files in processed_dir"
}
# over_budget CASE T0 RUN LAST_SECONDS: true (and a note) when one more run of
# the case would end after CASE_BUDGET seconds from T0; the median is then of
# the runs made. Keeps the whole bench bounded if cdrimport is slow.
over_budget() {
    [ "$3" -gt 1 ] || return 1
    awk -v a="$2" -v b="$EPOCHREALTIME" -v l="$4" -v m="$CASE_BUDGET" 'BEGIN {exit !(b - a + l > m)}' || return 1
    note "$1" "median of $(($3 - 1)) run(s), not $RUNS: another run would pass CASE_BUDGET=$CASE_BUDGET s"
    log "  $1: skipping runs $3..$RUNS (CASE_BUDGET=$CASE_BUDGET s)"
    return 0
}
# round_over_budget T0 ROUND CASE...: over_budget for cases run in turn, a
# round being one run of each: true (and a note on each) when one more
# round, as long as the average so far, would end after CASE_BUDGET s.
round_over_budget() {
    local t0=$1 r=$2 c; shift 2
    [ "$r" -gt 1 ] || return 1
    awk -v a="$t0" -v b="$EPOCHREALTIME" -v n="$r" -v m="$CASE_BUDGET" \
        'BEGIN {exit !(b - a + (b - a) / (n - 1) > m)}' || return 1
    for c; do note "$c" "median of $((r - 1)) run(s), not $RUNS: another round would pass CASE_BUDGET=$CASE_BUDGET s"; done
    log "  $*: skipping rounds $r..$RUNS (CASE_BUDGET=$CASE_BUDGET s)"
    return 0
}
# cdr_one CASE FRESH_TEMPLATE|- DB FILES...: one run on a fresh clone of
# FRESH_TEMPLATE (or on DB as it is with '-'), its time and peak RSS added
# to CASE's runs; none once the case has failed (exit > 1: T[CASE]=FAIL).
# cdr_done CASE DB EXPECTED_ROWS: the row count checked, the medians kept.
declare -A RSSS=()
cdr_one() {
    local c=$1 tpl=$2 db=$3; shift 3
    [ "${T[$c]:-}" = FAIL ] && return 1
    [ "$tpl" != - ] && clone "$db" "$tpl"
    ${RUNNER:-cdr_run} "$c-$(($(wc -w <<<"${TS[$c]:-}") + 1))" "$db" "$@"
    TS[$c]="${TS[$c]:-} $CDR_T"; RSSS[$c]="${RSSS[$c]:-} $CDR_RSS"
    [ "$CDR_RC" = 0 ] || note "$c" "exit $CDR_RC"
    log "  $c: cdrimport run $(wc -w <<<"${TS[$c]}")/$RUNS: $CDR_T s, max RSS $((CDR_RSS / 1024)) MiB, exit $CDR_RC"
    if [ "$CDR_RC" -gt 1 ]; then T[$c]=FAIL; return 1; fi
}
cdr_done() {
    [ "${T[$1]:-}" = FAIL ] && return 1
    local got; got=$(val "$2" "SELECT count(*) FROM cdr" 2>/dev/null)
    [ "$got" = "$3" ] || note "$1" "cdr holds ${got:-?} rows, expected $3"
    # shellcheck disable=SC2086 # the runs' figures, one word each
    { T[$1]=$(median ${TS[$1]}); RSS[$1]=$(median ${RSSS[$1]}); }
}
# cdr_case CASE FRESH_TEMPLATE|- DB EXPECTED_ROWS FILES...: RUNS runs of cdr_one.
cdr_case() {
    local c=$1 tpl=$2 db=$3 want=$4 r t0=$EPOCHREALTIME last; shift 4
    for ((r = 1; r <= RUNS; r++)); do
        last=${TS[$c]:-}; last=${last##* }
        over_budget "$c" "$t0" "$r" "$last" && break
        cdr_one "$c" "$tpl" "$db" "$@" || return 1
    done
    cdr_done "$c" "$db" "$want"
}
# paired CASE COPY_CASE FRESH_TEMPLATE DB EXPECTED_ROWS FILE: RUNS rounds of
# one \copy run then one cdrimport run, so that a slower stretch of a shared
# host weighs on a case and on its baseline alike (a ratio's two medians
# measured minutes apart drifted by up to 30% on one VM).
paired() {
    local c=$1 cc=$2 tpl=$3 db=$4 want=$5 f=$6 r t0=$EPOCHREALTIME
    for ((r = 1; r <= RUNS; r++)); do
        round_over_budget "$t0" "$r" "$c" "$cc" && break
        copy_one "$cc" "$f"
        cdr_one "$c" "$tpl" "$db" "$f" ||
            { note "$cc" "median of $r run(s): $c failed"; break; }
    done
    copy_done "$cc" "$want"
    cdr_done "$c" "$db" "$want"
}

# prune_run CASE DB ARGS...: one timed cdrimport command (case 14); T, RSS.
prune_run() {
    local c=$1 db=$2; shift 2
    write_cfg "$db"
    adm -c CHECKPOINT >/dev/null
    local t0=$EPOCHREALTIME
    timeout -k 10 "$PREFILL_LIMIT" /usr/bin/time -v -o "$W/time.txt" "$CDRIMPORT" -c "$CFG" "$@" \
        >"$W/log/$c.out" 2>"$W/log/$c.err"
    local rc=$?
    T[$c]=$(since "$t0"); RSS[$c]=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$W/time.txt")
    [ $rc = 0 ] || { note "$c" "exit $rc"; T[$c]=FAIL; tail -n 5 "$W/log/$c.err" | sed 's/^/      /'; }
    log "  $c: $* ${T[$c]} s, exit $rc: $(grep -o 'prune: calls.*\|partitioned by month.*' "$W/log/$c.err" | tail -n 1)"
}

# ------------------------------------------------------------------ cases --
SZ[base]=$(size "$F_BASE"); SZ[redl]=$(size "$F_REDL"); SZ[half]=$(size "$F_HALF")
SZ[rss]=$(size "$F_RSS"); SZ[new]=$(size "${F_NEW[0]}"); SZ[jobs]=$(dirsize "$D_JOBS")
cat "$F_BASE" "$F_REDL" "$F_HALF" >/dev/null    # the page cache holds them for every contender

log "baseline: psql \\copy into cdr_copy (schema_copy.sql), $RUNS runs per file"
copy_case copy_redl "$ROWS" "$F_REDL"
copy_case copy_half "$ROWS" "$F_HALF"

# Case 1 and case 13 (case 1 with database.partition: month) run in turn
# with their \copy baseline, as the shapes below do: each is compared
# with the other.
if [ $CDR_OK = 1 ]; then
    log "case 1: fresh import of $ROWS rows into an empty schema; case 13: the same with partition: month; each run after one of \\copy"
    t0=$EPOCHREALTIME
    for ((r = 1; r <= RUNS; r++)); do
        round_over_budget "$t0" "$r" copy_base c1 c13 && break
        copy_one copy_base "$F_BASE"
        cdr_one c1 tpl_empty w1 "$F_BASE"
        PARTITION=month cdr_one c13 tpl_empty w13 "$F_BASE"
    done
    copy_done copy_base "$ROWS"
    cdr_done c1 w1 "$ROWS"
    cdr_done c13 w13 "$ROWS"
    P13=$(val w13 "SELECT count(*) FROM pg_inherits WHERE inhparent = 'cdr_row'::regclass")
    dropdb_ w13
    RSS[c6a]=${RSS[c1]:-}
    if [ "${T[c1]}" != FAIL ]; then
        adm -c "ALTER DATABASE w1 RENAME TO tpl_base" >/dev/null
        settle tpl_base
        log "ceiling: psql \\copy (FORMAT binary) of cdrimport's own rows into an empty cdr"
        ceiling_case c0d tpl_base true tpl_empty "$ROWS"
        log "case 2: the identical file again (checksum known)"
        clone w2 tpl_base
        cdr_case c2 - w2 "$ROWS" "$F_BASE"
        dropdb_ w2
        log "case 3: a re-download (other bytes) whose $ROWS rows are all stored"
        cdr_case c3 tpl_base w3 "$ROWS" "$F_REDL"
        dropdb_ w3
        log "case 4: a download with 50% new rows"
        cdr_case c4 tpl_base w4 $((HALF + ROWS)) "$F_HALF"
        dropdb_ w4
    fi
else
    copy_case copy_base "$ROWS" "$F_BASE"   # pgloader's case 5 is still compared with it
fi

# Shapes that are not one PBX's file in time order (issue 11): each against
# \copy of the same file, each on a fresh database but case 10's.
if [ $CDR_OK = 1 ]; then
    cat "$F_B10" "$F_RND" "$F_SRC2" >/dev/null
    SZ[b10]=$(size "$F_B10"); SZ[rnd]=$(size "$F_RND"); SZ[src2]=$(size "$F_SRC2")
    log "case 9: the main file's rows as ten blocks that each cover the whole time range"
    paired c9 copy_b10 tpl_empty w9 "$ROWS" "$F_B10"
    dropdb_ w9
    log "case 11: the main file's rows in random order"
    paired c11 copy_rnd tpl_empty w11 "$ROWS" "$F_RND"
    dropdb_ w11
    if has_db tpl_base; then
        log "case 10: a second source's $ROWS rows over the range the first source fills"
        t0=$EPOCHREALTIME
        for ((r = 1; r <= RUNS; r++)); do
            round_over_budget "$t0" "$r" copy_src2 c10 && break
            copy_one copy_src2 "$F_SRC2"
            SRC_NAME=branch cdr_one c10 tpl_base w10 "$F_SRC2" ||
                { note copy_src2 "median of $r run(s): c10 failed"; break; }
        done
        copy_done copy_src2 "$ROWS"
        cdr_done c10 w10 $((2 * ROWS))
        log "ceiling: psql \\copy (FORMAT binary) of case 10's rows into case 1's cdr"
        [ "${T[c10]:-}" != FAIL ] && ceiling_case c10d w10 "source = 'branch'" tpl_base $((2 * ROWS))
        dropdb_ w10
    fi
fi

# Case 12: many PBXs in one table, files from each, two workers.
if [ $CDR_OK = 1 ]; then
    mapfile -t SF < <(ls -d "$D_SRC10"/pbx*/*.csv)
    SZ[src10]=$(cat "${SF[@]}" | wc -c)
    log "case 12: scan --jobs 2 over ${#SF[@]} files from 10 sources ($ROWS rows)"
    copy_case copy_src10 "$ROWS" "${SF[@]}"
    RUNNER=scan_run cdr_case c12 tpl_empty w12 "$ROWS"
    dropdb_ w12
fi

if [ $HAVE_PGLOADER = 1 ]; then
    log "case 5: pgloader into cdr_copy, $RUNS runs"
    ts=() t5=$EPOCHREALTIME
    for ((r = 1; r <= RUNS; r++)); do
        over_budget c5 "$t5" "$r" "${ts[*]:+${ts[${#ts[@]}-1]}}" && break
        "${PSQL[@]}" -U cdr -d copyb -f "$HERE/schema_copy.sql" >/dev/null || die "schema_copy.sql failed"
        adm -c CHECKPOINT >/dev/null
        cat >"$W/pgl/load" <<EOF
LOAD CSV
     FROM '$F_BASE'
          ( account_code, caller, callee, src_channel, dst_channel, feature, opt1, opt2,
            start_time, answer_time [null if blanks], end_time, total_s, talk_s, status, uniqueid )
     INTO postgresql://cdr@unix:$W/run:$PORT/copyb
     TARGET TABLE public.cdr_copy
     WITH fields optionally enclosed by '"',
          fields escaped by double-quote,
          fields terminated by ','
;
EOF
        t0=$EPOCHREALTIME
        timeout -k 10 "$((4 * $(limit "$ROWS")))" pgloader --root-dir "$W/pgl/root" "$W/pgl/load" >"$W/log/pgloader.out" 2>&1
        prc=$?
        t=$(since "$t0"); ts+=("$t")
        log "  c5: pgloader run $r/$RUNS: $t s, exit $prc"
        if [ $prc != 0 ]; then note c5 "pgloader exit $prc"; tail -n 15 "$W/log/pgloader.out" | sed 's/^/      /'; break; fi
    done
    got=$(val copyb "SELECT count(*) FROM cdr_copy")
    [ "$got" = "$ROWS" ] || note c5 "cdr_copy holds $got rows, expected $ROWS"
    T[c5]=$(median "${ts[@]}")
fi

if [ $CDR_OK = 1 ]; then
    log "case 6: peak RSS, fresh import of $RSS_ROWS rows (the $ROWS-row figure is from case 1)"
    cat "$F_RSS" >/dev/null
    cdr_case c6b tpl_empty w6 "$RSS_ROWS" "$F_RSS"
    dropdb_ w6

    log "case 7: $NEW_ROWS new rows into a cdr table holding $BIG_ROWS rows, vs into an empty one"
    mapfile -t BF < <(ls -d "$D_BIG"/*.csv)
    log "  prefill: one cdrimport of $BIG_ROWS rows in ${#BF[@]} files ($(($(dirsize "$D_BIG") / 1048576)) MiB)" \
        "into database big, at most $PREFILL_LIMIT s"
    clone big tpl_empty
    LIMIT_OVERRIDE=$PREFILL_LIMIT cdr_run prefill big "${BF[@]}"
    T[prefill]=$CDR_T RSS[prefill]=$CDR_RSS
    BIG_HELD=$(val big "SELECT count(*) FROM cdr" 2>/dev/null)
    log "  prefill: $CDR_T s, exit $CDR_RC, max RSS $((CDR_RSS / 1024)) MiB, cdr holds ${BIG_HELD:-?} rows"
    [ "${BIG_HELD:-0}" = "$BIG_ROWS" ] || note c7big "pre-fill stopped at ${BIG_HELD:-?} of $BIG_ROWS rows (exit $CDR_RC after $CDR_T s; limit PREFILL_LIMIT=$PREFILL_LIMIT s): 7b is measured against the rows that are there"
    if [ "$CDR_RC" -le 1 ] || [ "${BIG_HELD:-0}" -gt 0 ]; then
        log "  VACUUM (FREEZE, ANALYZE) of big"
        settle big
        ts=()
        for ((r = 1; r <= RUNS; r++)); do
            cdr_run "c7big-$r" big "${F_NEW[r-1]}"
            ts+=("$CDR_T"); [ "$CDR_RC" = 0 ] || note c7big "exit $CDR_RC"
            log "  c7big: cdrimport run $r/$RUNS: $CDR_T s, exit $CDR_RC"
        done
        T[c7big]=$(median "${ts[@]}")
        got=$(val big "SELECT count(*) FROM cdr")
        [ "$got" = $((BIG_HELD + RUNS * NEW_ROWS)) ] || note c7big "cdr holds $got rows, expected $((BIG_HELD + RUNS * NEW_ROWS))"
        ts=()
        for ((r = 1; r <= RUNS; r++)); do
            clone w7 tpl_empty
            cdr_run "c7empty-$r" w7 "${F_NEW[r-1]}"
            ts+=("$CDR_T"); [ "$CDR_RC" = 0 ] || note c7empty "exit $CDR_RC"
            log "  c7empty: cdrimport run $r/$RUNS: $CDR_T s, exit $CDR_RC"
        done
        T[c7empty]=$(median "${ts[@]}")
        got=$(val w7 "SELECT count(*) FROM cdr")
        [ "$got" = "$NEW_ROWS" ] || note c7empty "cdr holds $got rows, expected $NEW_ROWS"
        dropdb_ w7
    else
        note c7big "pre-fill failed: exit $CDR_RC, cdr holds ${BIG_HELD:-?} rows"
    fi
    if [ "${BIG_HELD:-0}" -gt 0 ]; then
        # Case 14: retention over the big table: its rows span about a year,
        # all of it more than 12 months ago, so retention_months 12 removes
        # every row: as bounded deletes from the plain table (a copy), and
        # as dropped partitions after init-db has converted it.
        HELD=$(val big "SELECT count(*) FROM cdr")
        SPAN=$(val big "SELECT to_char(min(call_time), 'YYYY-MM') || ' to ' || to_char(max(call_time), 'YYYY-MM') FROM cdr")
        log "case 14: prune of 12 months ($SPAN) from $HELD rows"
        clone big14 big
        RETENTION=12 prune_run c14plain big14 prune
        got=$(val big14 "SELECT count(*) FROM cdr"); [ "$got" = 0 ] || note c14plain "$got rows left"
        dropdb_ big14
        PARTITION=month prune_run c14conv big init-db
        got=$(val big "SELECT count(*) FROM cdr"); [ "$got" = "$HELD" ] || note c14conv "$got rows after, $HELD before"
        PARTS14=$(val big "SELECT count(*) FROM pg_inherits WHERE inhparent = 'cdr_row'::regclass")
        PARTITION=month RETENTION=12 prune_run c14part big prune
        got=$(val big "SELECT count(*) FROM cdr"); [ "$got" = 0 ] || note c14part "$got rows left"
    fi
    dropdb_ big
fi

if [ $CDR_OK = 1 ] && [ $HAVE_JOBS = 1 ]; then
    log "case 8: import --jobs N, $JOB_FILES files of $JOB_FILE_ROWS rows"
    mapfile -t JF < <(ls -d "$D_JOBS"/*.csv)
    t0=$EPOCHREALTIME
    for ((r = 1; r <= RUNS; r++)); do   # in turn, as cases 1 and 9 to 11
        round_over_budget "$t0" "$r" copy_jobs c8j1 c8j2 c8e && break
        copy_one copy_jobs "${JF[@]}"
        cdr_one c8j1 tpl_empty w8a --jobs 1 "${JF[@]}"
        cdr_one c8j2 tpl_empty w8 --jobs 2 "${JF[@]}"
        RUNNER=scan_run cdr_one c8e tpl_empty w8e "${JF[@]}"
    done
    copy_done copy_jobs $((JOB_FILES * JOB_FILE_ROWS))
    cdr_done c8j1 w8a $((JOB_FILES * JOB_FILE_ROWS))
    cdr_done c8j2 w8 $((JOB_FILES * JOB_FILE_ROWS))
    cdr_done c8e w8e $((JOB_FILES * JOB_FILE_ROWS))
    rm -rf "$W/spool"
    dropdb_ w8a
    dropdb_ w8e
    ceiling_jobs_case
    dropdb_ w8
elif [ $CDR_OK = 1 ]; then
    log "case 8: cdrimport --help does not mention --jobs: n/a"
fi

# ------------------------------------------------------------------ table --
# ratio vs \copy = \copy seconds / case seconds on the same file (> 1: faster)
has() { [ -n "${T[$1]:-}" ] && [ "${T[$1]}" != FAIL ]; }
fmt_t() { if has "$1"; then printf '%.2f' "${T[$1]}"; else echo "${T[$1]:-n/a}"; fi; }
mbps() { has "$1" && calc "$2 / 1e6 / ${T[$1]}" 1 || echo -; }
ratio() { has "$1" && has "$2" && calc "${T[$2]} / ${T[$1]}" 2 || echo -; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN {exit !(a + 0 >= b + 0)}'; }
yes_no() { if [ "$1" = - ] || [ -z "$1" ]; then echo n/a; elif eval "$2"; then echo yes; else echo no; fi; }
row() { printf '%-44s %9s %8s %9s  %-24s %-22s %s\n' "$@"; }
x() { if [ "$1" = - ]; then echo -; else echo "${1}x $2"; fi; }
unit() { if [ "$1" = - ]; then echo -; else echo "$1 $2"; fi; }
mib() { [ -n "${1:-}" ] && calc "$1 / 1024" 1 || echo -; }

echo
echo "== results: median of $RUNS runs; 'vs \\copy' = \\copy time / this time on the same file (>1: faster than \\copy)"
row case "median s" "MB/s" "vs \\copy" measure goal met
row "--------------------------------------------" "--------" "-------" "--------" "------------------------" "----------------------" "---"
row "0a psql \\copy, $ROWS rows (main file)" "$(fmt_t copy_base)" "$(mbps copy_base "${SZ[base]}")" 1.00 - - -
row "0b psql \\copy, re-download file" "$(fmt_t copy_redl)" "$(mbps copy_redl "${SZ[redl]}")" 1.00 - - -
row "0c psql \\copy, 50%-new file" "$(fmt_t copy_half)" "$(mbps copy_half "${SZ[half]}")" 1.00 - - -
row "0d server ceiling: binary \\copy into cdr" "$(fmt_t c0d)" "$(mbps c0d "${SZ[base]}")" "$(ratio c0d copy_base)" - - -
r=$(ratio c1 copy_base)
row "1 fresh import, $ROWS rows" "$(fmt_t c1)" "$(mbps c1 "${SZ[base]}")" "$r" "$(x "$r" '\copy')" ">= 1.3x \\copy" "$(yes_no "$r" 'ge $r 1.3')"
g=-; has c2 && g=$(calc "${SZ[base]} / 1e9 / ${T[c2]}" 2)
row "2 identical file again (checksum known)" "$(fmt_t c2)" "$(mbps c2 "${SZ[base]}")" "$(ratio c2 copy_base)" "$( [ "$g" = - ] && echo - || echo "$g GB/s")" ">= 1 GB/s" "$(yes_no "$g" 'ge $g 1')"
r=$(ratio c3 copy_redl)
row "3 re-download, all rows stored" "$(fmt_t c3)" "$(mbps c3 "${SZ[redl]}")" "$r" "$(x "$r" '\copy')" ">= 2.5x \\copy" "$(yes_no "$r" 'ge $r 2.5')"
r=$(ratio c4 copy_half)
row "4 download with 50% new rows" "$(fmt_t c4)" "$(mbps c4 "${SZ[half]}")" "$r" "$(x "$r" '\copy')" "-" "-"
pr=-; has c5 && has c1 && pr=$(calc "${T[c5]} / ${T[c1]}" 1)
row "5 pgloader, main file" "$(fmt_t c5)" "$(mbps c5 "${SZ[base]}")" "$(ratio c5 copy_base)" "$( [ "$pr" = - ] && echo - || echo "cdrimport ${pr}x faster")" ">= 15x pgloader" "$(yes_no "$pr" 'ge $pr 15')"
a=$(mib "${RSS[c6a]:-}") b=$(mib "${RSS[c6b]:-}")
row "6a peak RSS, $ROWS rows (case 1 runs)" "$(fmt_t c1)" "$(mbps c1 "${SZ[base]}")" "-" "$(unit "$a" MiB)" "<= 32 MiB" "$(yes_no "$a" 'ge 32 $a')"
row "6b peak RSS, $RSS_ROWS rows" "$(fmt_t c6b)" "$(mbps c6b "${SZ[rss]}")" "-" "$(unit "$b" MiB)" "<= 32 MiB, flat" \
    "$(yes_no "$b" 'ge 32 $b && [ "$a" != - ] && ge $(calc "$a * 1.1 + 1" 1) $b')"
r=-; has c7big && has c7empty && r=$(calc "${T[c7big]} / ${T[c7empty]}" 2)
row "7a $NEW_ROWS new rows into an empty cdr" "$(fmt_t c7empty)" "$(mbps c7empty "${SZ[new]}")" "-" "-" "-" "-"
row "7b $NEW_ROWS new rows into ${BIG_HELD:-$BIG_ROWS} rows" "$(fmt_t c7big)" "$(mbps c7big "${SZ[new]}")" "-" "$(x "$r" 7a)" "<= 1.5x 7a" "$(yes_no "$r" 'ge 1.5 $r')"
shape() {  # shape CASE COPY_CASE SIZE_KEY LABEL
    local r; r=$(ratio "$1" "$2")
    local m=-; [ "$r" != - ] && m="${r}x \\copy, $(mib "${RSS[$1]:-}") MiB"
    local k=-; [ "$r" != - ] && [ "${R1:-}" != - ] && k=$(calc "$r / $R1" 2)
    row "$4" "$(fmt_t "$1")" "$(mbps "$1" "${SZ[$3]}")" "$r" "$m" ">= 1.0x, >= 0.85 of 1" \
        "$(yes_no "$k" 'ge $r 1.0 && ge $k 0.85')"
}
if [ $HAVE_JOBS = 1 ]; then
    row "8a psql \\copy, $JOB_FILES files, one session" "$(fmt_t copy_jobs)" "$(mbps copy_jobs "${SZ[jobs]}")" 1.00 - - -
    r=$(ratio c8j1 copy_jobs)
    row "8b import --jobs 1, $JOB_FILES files" "$(fmt_t c8j1)" "$(mbps c8j1 "${SZ[jobs]}")" "$r" "$(x "$r" '\copy')" ">= 0.8x \\copy" "$(yes_no "$r" 'ge $r 0.8')"
    s=-; has c8j1 && has c8j2 && s=$(calc "${T[c8j1]} / ${T[c8j2]}" 2)
    r=$(ratio c8j2 copy_jobs)
    row "8c import --jobs 2, $JOB_FILES files" "$(fmt_t c8j2)" "$(mbps c8j2 "${SZ[jobs]}")" "$r" "$(x "$s" '--jobs 1')" ">= 1.2x \\copy" "$(yes_no "$r" 'ge $r 1.2')"
    row "8d server ceiling: binary \\copy per file" "$(fmt_t c8d)" "$(mbps c8d "${SZ[jobs]}")" "$(ratio c8d copy_jobs)" - - -
    s=-; has c8j1 && has c8e && s=$(calc "${T[c8j1]} / ${T[c8e]}" 2)
    row "8e scan --jobs 1, $JOB_FILES files moved" "$(fmt_t c8e)" "$(mbps c8e "${SZ[jobs]}")" "$(ratio c8e copy_jobs)" "$(x "$s" 8b)" - -
else
    row "8 import --jobs N" n/a n/a n/a "$([ $CDR_OK = 1 ] && echo 'no --jobs in --help' || echo -)" - -
fi
R1=$(ratio c1 copy_base)
shape c9 copy_b10 b10 "9 ten blocks over one range, $ROWS rows"
shape c10 copy_src2 src2 "10 second source over a filled range"
# The server's own ceiling for case 10's rows over its ceiling for case 1's:
# the most case 10 can reach of case 1 on this key, whatever the client does.
r=$(ratio c10d copy_src2); k=-; [ "$r" != - ] && [ "$(ratio c0d copy_base)" != - ] && k=$(calc "$r / $(ratio c0d copy_base)" 2)
row "10d server ceiling: binary \\copy into case 1's" "$(fmt_t c10d)" "$(mbps c10d "${SZ[src2]:-0}")" "$r" "$( [ "$k" = - ] && echo - || echo "$k of 0d")" - -
shape c11 copy_rnd rnd "11 random row order, $ROWS rows"
r=$(ratio c12 copy_src10)
row "12 scan --jobs 2, 100 files of 10 sources" "$(fmt_t c12)" "$(mbps c12 "${SZ[src10]:-0}")" "$r" "$(x "$r" '\copy'), $(mib "${RSS[c12]:-}") MiB" "-" "-"
r=$(ratio c13 copy_base); k=-; [ "$r" != - ] && [ "$R1" != - ] && k=$(calc "$r / $R1" 2)
row "13 case 1 with partition: month (${P13:-?} parts)" "$(fmt_t c13)" "$(mbps c13 "${SZ[base]}")" "$r" "$(x "$k" 'case 1'), $(mib "${RSS[c13]:-}") MiB" ">= 0.9x case 1" "$(yes_no "$k" 'ge $k 0.9')"
row "14a prune 12 months, ${HELD:-?} rows, no partitions" "$(fmt_t c14plain)" - - "$(has c14plain && calc "${HELD:-0} / ${T[c14plain]} / 1e6" 2 || echo -) M rows/s" - -
row "14b init-db: ${HELD:-?} rows into ${PARTS14:-?} partitions" "$(fmt_t c14conv)" - - "$(has c14conv && calc "${HELD:-0} / ${T[c14conv]} / 1e6" 2 || echo -) M rows/s" - -
row "14c prune 12 months, partitioned" "$(fmt_t c14part)" - - "$(unit "$(mib "${RSS[c14part]:-}")" MiB)" - -
if has prefill; then
    if [ "${BIG_HELD:-}" = "$BIG_ROWS" ]; then
        echo "(pre-fill of case 7: one cdrimport of $BIG_ROWS rows in files of $ROWS rows took" \
             "$(printf '%.1f' "${T[prefill]}") s, $(mbps prefill "$(dirsize "$D_BIG")") MB/s, max RSS $(mib "${RSS[prefill]}") MiB)"
    else
        echo "(pre-fill of case 7: stopped after $(printf '%.1f' "${T[prefill]}") s with ${BIG_HELD:-?} of $BIG_ROWS rows stored)"
    fi
fi
# How far apart each figure's runs were: a ratio of two medians is only as
# sure as their runs agree, and a busy host (another VM, a checkpoint) shows
# here first.
echo
echo "== spread: each figure's runs, fastest and slowest (slowest / fastest above 1.25: the host was busy, its ratios less sure)"
for k in $(printf '%s\n' "${!TS[@]}" | sort); do
    # shellcheck disable=SC2086 # the runs' times, one word each
    printf '%s\n' ${TS[$k]} | sort -g | awk -v k="$k" '{a[NR] = $1}
        END {if (NR < 2 || a[1] <= 0) exit; s = a[NR] / a[1]
             printf "%-10s %d runs %8.2f .. %6.2f s  %5.2f%s\n", k, NR, a[1], a[NR], s, (s > 1.25 ? "  busy" : "")}'
done
if [ ${#NOTE[@]} -gt 0 ]; then
    echo
    echo "== notes: a wrong row count or a failed command makes a row invalid; fewer runs make it less sure"
    for k in $(printf '%s\n' "${!NOTE[@]}" | sort); do echo "$k: ${NOTE[$k]}"; done
fi
[ $CDR_OK = 1 ] || echo "cdrimport was not usable: its rows are n/a"
echo
log "done; logs in $W/log$([ "$KEEP" = 1 ] || echo ' (deleted; KEEP=1 keeps them)')"
