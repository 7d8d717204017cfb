#!/usr/bin/env bash
# deps.sh - install every Debian 12 package cdrimport needs to build, run and
# test. Checks with dpkg-query first: on a machine that has everything it does
# nothing (no apt-get update, no network). Uses sudo when not root.
#
# Note: installing `postgresql` creates Debian's default cluster "main" (port
# 5432) and may start it; we never use it and leave it alone. Our own clusters
# come from scripts/pg.sh, with their own port and socket dir.
set -euo pipefail

PACKAGES=(
    build-essential pkg-config                      # cc, make, pkg-config
    libcsv-dev libpq-dev libyaml-dev libssl-dev     # link-time libraries
    libsystemd-dev                                  # sd_notify for watch under systemd
    libcurl4-openssl-dev                            # fetch sources: HTTP(S) to the PBX
    libarchive-dev                                  # packed downloads: zip, tar, gzip, bzip2, xz
    libcmocka-dev libjansson-dev                    # unit tests
    clang libclang-rt-dev                           # fuzz targets: libFuzzer, ASan, UBSan (the
                                                    # runtimes are only recommended by clang)
    postgresql postgresql-client                    # server 15 + psql
    python3 python3-pytest python3-psycopg2         # end-to-end tests
    openssl                                         # e2e: the fake PBX's self-signed certificate
    zip                                             # tests: an encrypted member (zip -e)
    chromium                                        # e2e: the HTML report in a real browser
    procps util-linux coreutils                     # pgrep/ps, runuser, mktemp
    scdoc                                           # the manual pages (make man)
    debhelper dpkg-dev lintian                      # make deb; the package test
    man-db bash-completion systemd                  # package test: man, completion,
                                                    # systemd-analyze verify
)

missing=()
for p in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
    [[ $status == ii* ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

echo "deps.sh: installing: ${missing[*]}" >&2
SUDO=()
if ((EUID != 0)); then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps.sh: not root and no sudo: install these yourself: ${missing[*]}" >&2
        exit 1
    fi
    SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
