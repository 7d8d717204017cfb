#!/usr/bin/env bash
# pg.sh - a project-owned PostgreSQL cluster, separate from Debian's "main".
#
#   scripts/pg.sh start  DIR [PORT]   initdb if needed, start, create db `cdr`
#   scripts/pg.sh stop   DIR          fast shutdown (no-op when not running)
#   scripts/pg.sh status DIR          exit 0 running, 3 not running, 4 no cluster
#   scripts/pg.sh env    DIR [PORT]   print export PGHOST/PGPORT/PGUSER/PGDATABASE
#
# Layout: DIR/data (cluster), DIR/run (unix socket), DIR/log/postgresql.log.
# Unix socket only (listen_addresses=''), trust auth, superuser `cdr`.
# CDR_PG_LISTEN=127.0.0.1 also listens on TCP there (the Windows build under
# Wine has no unix sockets; initdb's trust lines cover 127.0.0.1).
# PostgreSQL refuses to run as root, so as root the server tools run as the
# `postgres` user (runuser) and DIR is chowned to it; a DIR whose folder
# that user cannot reach becomes a link to /var/lib/cdrimport/pg-HASH
# (relocate_if_unreachable). Default PORT 54329; a
# running cluster keeps the port it was started with.
# CDR_PG_FAST=1 at first start: fsync=off etc. (throwaway test clusters only).
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }
usage() { echo "usage: $0 {start|stop|status|env} DIR [PORT]" >&2; exit 2; }

(($# >= 2)) || usage
cmd=$1
dir_arg=$2
port_arg=${3:-}
[[ -z $port_arg || $port_arg =~ ^[0-9]+$ ]] || die "bad port '$port_arg'"
[[ $dir_arg != *"'"* && $dir_arg != *,* ]] || die "DIR must not contain ' or ,"

# The newest installed server.
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -n $BIN && -x $BIN/pg_ctl ]] ||
    die "no PostgreSQL server in /usr/lib/postgresql/*/bin: run scripts/deps.sh"

# Absolute DIR (it may not exist yet for env/status).
abs_dir() {
    local d=$1
    [[ $d == /* ]] || d=$PWD/$d
    if [[ -d $d ]]; then (cd "$d" && pwd -P); else echo "$d"; fi
}
DIR=$(abs_dir "$dir_arg")
DATA=$DIR/data
RUN=$DIR/run
LOG=$DIR/log/postgresql.log

# Run a server tool as the cluster owner: `postgres` when we are root.
as_owner() {
    if ((EUID == 0)); then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

running() { [[ -f $DATA/PG_VERSION ]] && as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

# Port: the running server's (postmaster.pid line 4), else the argument,
# else the one last started with, else 54329.
current_port() {
    local p=""
    if running && [[ -r $DATA/postmaster.pid ]]; then
        p=$(sed -n 4p "$DATA/postmaster.pid" 2>/dev/null || true)
    fi
    [[ -n $p ]] || p=$port_arg
    [[ -n $p || ! -r $DIR/port ]] || p=$(cat "$DIR/port")
    echo "${p:-54329}"
}

# As root: the postgres user must reach DIR through every parent.
check_traversable() {
    ((EUID == 0)) || return 0
    runuser -u postgres -- test -x "$DIR" -a -w "$DIR" 2>/dev/null && return 0
    local p="" part
    IFS=/ read -ra parts <<<"${DIR#/}"
    for part in "${parts[@]}"; do
        p=$p/$part
        runuser -u postgres -- test -x "$p" 2>/dev/null ||
            die "user postgres cannot traverse '$p' (mode $(stat -c %A "$p")), so it cannot use $DIR; chmod o+x '$p' or choose a DIR elsewhere (e.g. under /tmp)"
    done
    die "user postgres cannot write $DIR"
}

# As root, when the postgres user cannot reach DIR's folder (a clone under
# /root, mode 700): the cluster lives in /var/lib/cdrimport instead, one
# folder per DIR, and DIR becomes a symlink to it, so that DIR/run still
# names the socket for root. Empty folders an earlier refused start left in
# DIR are replaced; anything else in it stops the start, as before.
relocate_if_unreachable() {
    ((EUID == 0)) && [[ ! -L $DIR ]] || return 0
    local parent
    parent=$(dirname "$DIR")
    [[ -d $parent ]] || return 0
    runuser -u postgres -- test -x "$parent" 2>/dev/null && return 0
    [[ ! -e $DIR ]] || rmdir "$DIR/run" "$DIR/log" "$DIR" 2>/dev/null || [[ ! -e $DIR ]] ||
        return 0 # check_traversable says why
    local home
    home=/var/lib/cdrimport/pg-$(printf '%s' "$DIR" | sha256sum | cut -c1-16)
    mkdir -p "$home"
    ln -s "$home" "$DIR"
    echo "pg.sh: user postgres cannot reach $parent: the cluster is in $home ($DIR links to it)" >&2
    DIR=$(abs_dir "$DIR")
    DATA=$DIR/data
    RUN=$DIR/run
    LOG=$DIR/log/postgresql.log
}

do_start() {
    local port
    if ((EUID == 0)); then
        id postgres >/dev/null 2>&1 || die "no 'postgres' user: run scripts/deps.sh"
    fi
    relocate_if_unreachable
    port=$(current_port)
    # Unix socket paths are limited to 107 bytes.
    local sock=$RUN/.s.PGSQL.$port
    ((${#sock} < 108)) || die "socket path too long (${#sock} > 107): $sock; use a shorter DIR"
    mkdir -p "$DIR" "$RUN" "$DIR/log"
    DIR=$(abs_dir "$DIR")
    if ((EUID == 0)); then
        chown postgres:postgres "$DIR" "$RUN" "$DIR/log"
        [[ ! -e $LOG ]] || chown postgres:postgres "$LOG"
        if [[ -d $DATA && $(stat -c %U "$DATA") != postgres ]]; then
            chown -R postgres:postgres "$DATA"
        fi
        check_traversable
    fi
    chmod 755 "$RUN"

    if [[ ! -f $DATA/PG_VERSION ]]; then
        [[ ! -e $DATA ]] || [[ -z $(ls -A "$DATA") ]] ||
            die "$DATA exists but is not a cluster; remove it"
        echo "pg.sh: initdb $DATA" >&2
        as_owner "$BIN/initdb" -D "$DATA" -U cdr -A trust -E UTF8 --no-locale \
            --no-instructions >"$DIR/log/initdb.log" 2>&1 ||
            { cat "$DIR/log/initdb.log" >&2; die "initdb failed"; }
        {
            echo "# cdrimport (scripts/pg.sh)"
            echo "listen_addresses = ''"
            echo "timezone = 'UTC'"
            echo "log_timezone = 'UTC'"
            if [[ ${CDR_PG_FAST:-} == 1 ]]; then
                echo "fsync = off"
                echo "synchronous_commit = off"
                echo "full_page_writes = off"
            fi
        } | as_owner tee -a "$DATA/postgresql.conf" >/dev/null
    fi

    if running; then
        echo "pg.sh: already running ($DIR, port $(current_port))" >&2
        port=$(current_port)
    else
        echo "$port" | as_owner tee "$DIR/port" >/dev/null
        # -o goes through /bin/sh: RUN is single-quoted (no ' allowed in DIR).
        if ! as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 -s \
            -o "-p $port -k '$RUN' -c listen_addresses='${CDR_PG_LISTEN:-}'" start; then
            tail -n 30 "$LOG" >&2 || true
            die "server did not start (log: $LOG)"
        fi
        echo "pg.sh: started $DIR on port $port" >&2
    fi

    local have
    have=$("$BIN/psql" -X -q -h "$RUN" -p "$port" -U cdr -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'cdr'")
    [[ $have == 1 ]] || "$BIN/createdb" -h "$RUN" -p "$port" -U cdr cdr
}

do_stop() {
    if running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 60 -s stop
        echo "pg.sh: stopped $DIR" >&2
    else
        echo "pg.sh: not running ($DIR)" >&2
    fi
}

do_status() {
    if [[ ! -f $DATA/PG_VERSION ]]; then
        echo "no cluster in $DIR"
        return 4
    fi
    if running; then
        echo "running: $DIR (socket $RUN, port $(current_port))"
    else
        echo "not running: $DIR"
        return 3
    fi
}

do_env() {
    printf 'export PGHOST=%q\n' "$RUN"
    printf 'export PGPORT=%q\n' "$(current_port)"
    printf 'export PGUSER=cdr\n'
    printf 'export PGDATABASE=cdr\n'
}

case $cmd in
    start) do_start ;;
    stop) do_stop ;;
    status) do_status ;;
    env) do_env ;;
    *) usage ;;
esac
