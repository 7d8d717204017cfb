#!/bin/sh
# Cross-builds the libraries cdrimport.exe links (libpq 15 with OpenSSL 3.0,
# libyaml, libcsv, libcurl with Schannel, libarchive with zlib, bzip2 and xz)
# plus cmocka and jansson for the
# Windows unit tests, for x86_64-w64-mingw32, from Debian's own source
# packages, into a prefix cached in the build folder:
#
#   tools/windows/build-deps.sh [PREFIX]      (default: build-win64/deps)
#
# Debian packages no mingw build of any of them; zlib is Debian's
# libz-mingw-w64-dev. Nothing of these sources enters the git tree: they are
# fetched with `apt-get source` into PREFIX/../deps-src and deleted after.
# The prefix is reused while PREFIX/.stamp matches this script's checksum
# (the versions and options live here), so CI pays the ~15 minutes once.
# All libraries are static: the exe then imports only system DLLs.
set -eu
# Run from `make windows`, the parent make's variables would reach the
# libraries' own makes: PostgreSQL's, seeing MAKELEVEL > 0, would then skip
# generating its headers.
unset MAKELEVEL MAKEFLAGS MFLAGS MAKEOVERRIDES

HOST=x86_64-w64-mingw32
here=$(cd "$(dirname "$0")" && pwd)
PREFIX=${1:-build-win64/deps}
mkdir -p "$PREFIX"
PREFIX=$(cd "$PREFIX" && pwd)
STAMP=$(sha256sum "$here/build-deps.sh" | cut -c1-16)
if [ "$(cat "$PREFIX/.stamp" 2>/dev/null)" = "$STAMP" ]; then
    echo "build-deps: $PREFIX is current ($STAMP)"
    exit 0
fi
# Beside the prefix and named after it: two prefixes in one folder (a cache
# and its successor) never share, or delete, each other's sources.
SRC=$PREFIX-src
LOGS=$PREFIX-logs
JOBS=${JOBS:-2}
MINGW=/usr/$HOST

step() { echo "build-deps: $(date -u +%H:%M:%S) $*"; }

# ---- the toolchain and sources ---------------------------------------------
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need_pkgs="gcc-mingw-w64-x86-64 libz-mingw-w64-dev wine64 cmake dpkg-dev make zip"
missing=
for p in $need_pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done
# deb-src: apt-get source needs it (Debian 12's deb822 file, or a classic list).
src_ok=$(apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null | grep -c '^Sources$' || true)
if [ "$src_ok" = 0 ]; then
    step "enabling deb-src"
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        as_root sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
    else
        grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' |
            as_root tee /etc/apt/sources.list.d/cdrimport-deb-src.list >/dev/null
    fi
fi
step "apt-get update"
as_root apt-get update -q >/dev/null
if [ -n "$missing" ]; then
    step "installing$missing"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing >/dev/null
fi

rm -rf "$SRC" "$LOGS"
mkdir -p "$SRC" "$LOGS"

# fetch NAME [VERSION...]: unpacks a source package into $SRC/NAME. Tries the
# versions given, then every version apt lists, newest first: not every
# mirror still carries the newest upload of a security update.
fetch() {
    name=$1; shift
    versions="$* $(apt-cache showsrc "$name" | sed -n 's/^Version: //p' | sort -r -V | tr '\n' ' ')"
    for v in $versions; do
        d="$SRC/dl-$name"
        rm -rf "$d"; mkdir -p "$d"
        if (cd "$d" && apt-get source -q "$name=$v" >"$LOGS/fetch-$name.log" 2>&1); then
            dir=$(find "$d" -mindepth 1 -maxdepth 1 -type d | head -n 1)
            mv "$dir" "$SRC/$name"
            rm -rf "$d"
            echo "$name $v" >> "$PREFIX/versions.txt"
            return 0
        fi
    done
    echo "build-deps: cannot fetch the source of $name (see $LOGS/fetch-$name.log)" >&2
    return 1
}

# The CMake side of the cross toolchain.
cat > "$SRC/toolchain.cmake" <<EOF
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_C_COMPILER $HOST-gcc)
set(CMAKE_RC_COMPILER $HOST-windres)
set(CMAKE_FIND_ROOT_PATH $MINGW $PREFIX)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
EOF
cmake_build() {   # cmake_build DIR TARGET OPTIONS...
    dir=$1 target=$2; shift 2
    cmake -S "$dir" -B "$dir/_build" -DCMAKE_TOOLCHAIN_FILE="$SRC/toolchain.cmake" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" "$@"
    cmake --build "$dir/_build" --target "$target" -j "$JOBS"
}

: > "$PREFIX/versions.txt"
mkdir -p "$PREFIX/include" "$PREFIX/lib"

# ---- OpenSSL (libpq's TLS) -----------------------------------------------------
# libpq speaks TLS only through OpenSSL (PostgreSQL 15 has no Schannel side),
# so sslmode=require needs it. Debian 12's own 3.0.x, static, libraries only:
# no apps, engines, loadable modules or the legacy provider. libcurl keeps
# Schannel (Windows' certificate store and updates); this OpenSSL serves
# libpq alone, which checks the server against the root.crt the dsn names.
build_openssl() {
    fetch openssl
    cd "$SRC/openssl"
    ./Configure mingw64 --cross-compile-prefix=$HOST- --prefix="$PREFIX" --libdir=lib \
        --openssldir=C:/cdrimport/ssl no-shared no-tests no-dso no-engine no-module \
        no-legacy no-comp
    make -j "$JOBS" build_libs
    make install_dev
    rm -rf "$PREFIX/lib/pkgconfig" "$PREFIX/lib/cmake"
}

# ---- libpq ------------------------------------------------------------------
# OpenSSL (above) for sslmode=require; everything else optional off. On mingw, libpq.a is the
# DLL's import library: the static archive is made from its objects plus
# pgcommon/pgport. libpq defines its own pthread_mutex_*, pthread_self and
# pthread_[gs]etspecific on Windows, with another ABI than winpthreads (which
# cdrimport's own threads use): they are renamed to pq_pthread_* in libpq's
# objects so that neither side silently binds to the other's.
build_libpq() {
    fetch postgresql-15 15.18-0+deb12u1
    cd "$SRC/postgresql-15"
    ./configure --host=$HOST --prefix="$PREFIX" --without-readline --without-icu \
        --without-zlib --with-ssl=openssl --without-ldap --without-gssapi --disable-nls \
        CPPFLAGS="-I$PREFIX/include" LDFLAGS="-L$PREFIX/lib" \
        LIBS="-lws2_32 -lcrypt32 -lbcrypt -luser32 -ladvapi32"
    make -C src/interfaces/libpq -j "$JOBS"
    # All of libpq's objects but its DLL's version resource.
    objs=$(ls src/interfaces/libpq/*.o | grep -v '/win32ver\.o$')
    mkdir -p _static && rm -f _static/*
    ${HOST}-nm --defined-only $objs 2>/dev/null | awk '$3 ~ /^pthread_/ {print $3" pq_"$3}' |
        sort -u > _static/pthread.syms
    for o in $objs; do
        ${HOST}-objcopy --redefine-syms=_static/pthread.syms "$o" "_static/$(basename "$o")"
    done
    rm -f "$PREFIX/lib/libpq.a"
    ${HOST}-ar rcs "$PREFIX/lib/libpq.a" _static/*.o
    cp src/common/libpgcommon_shlib.a src/port/libpgport_shlib.a "$PREFIX/lib/"
    # pgport's getopt would clash with mingw's, which the program uses.
    ${HOST}-ar d "$PREFIX/lib/libpgport_shlib.a" getopt_shlib.o getopt_long_shlib.o 2>/dev/null || true
    cp src/interfaces/libpq/libpq-fe.h src/interfaces/libpq/libpq-events.h \
        src/include/postgres_ext.h src/include/pg_config_ext.h "$PREFIX/include/"
}

# ---- libyaml ----------------------------------------------------------------
build_yaml() {
    fetch libyaml
    cmake_build "$SRC/libyaml" yaml -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF
    cp "$SRC/libyaml/include/yaml.h" "$PREFIX/include/"
    cp "$SRC/libyaml/_build/libyaml.a" "$PREFIX/lib/libyaml.a" 2>/dev/null ||
        cp "$(find "$SRC/libyaml/_build" -name 'libyaml*.a' | head -n 1)" "$PREFIX/lib/libyaml.a"
}

# ---- libcsv -----------------------------------------------------------------
# One C file: compiled directly, its autotools would cost more than it does.
build_csv() {
    fetch libcsv
    cd "$SRC/libcsv"
    ${HOST}-gcc -O2 -c -o libcsv.o libcsv.c
    ${HOST}-ar rcs "$PREFIX/lib/libcsv.a" libcsv.o
    cp csv.h "$PREFIX/include/"
}

# ---- libcurl ----------------------------------------------------------------
# Schannel is Windows' own TLS (its certificate store, its updates): no
# OpenSSL to ship and patch. --disable-pthreads: see libpq above.
build_curl() {
    fetch curl
    cd "$SRC/curl"
    [ -x configure ] || autoreconf -fi
    ./configure --host=$HOST --prefix="$PREFIX" --disable-shared --enable-static \
        --with-schannel --without-openssl --with-zlib="$MINGW" --disable-pthreads \
        --disable-ldap --disable-ldaps --disable-rtsp --disable-dict --disable-telnet \
        --disable-tftp --disable-pop3 --disable-imap --disable-smtp --disable-gopher \
        --disable-mqtt --disable-smb --disable-manual --without-libpsl --without-brotli \
        --without-zstd --without-nghttp2 --without-libidn2 --without-librtmp --without-libssh2
    make -C lib -j "$JOBS"
    make -C lib install
    make -C include install
}

# ---- bzip2 and liblzma (libarchive's .bz2 and .xz) ---------------------------
# cdrimport decodes every compression in-process (libarchive would run an
# external program otherwise). libbz2 is a handful of C files, compiled
# directly; liblzma with xz's own CMake.
build_bz2() {
    fetch bzip2
    cd "$SRC/bzip2"
    for f in blocksort huffman crctable randtable compress decompress bzlib; do
        ${HOST}-gcc -O2 -D_FILE_OFFSET_BITS=64 -c -o "$f.o" "$f.c"
    done
    ${HOST}-ar rcs "$PREFIX/lib/libbz2.a" blocksort.o huffman.o crctable.o randtable.o \
        compress.o decompress.o bzlib.o
    cp bzlib.h "$PREFIX/include/"
}

build_xz() {
    fetch xz-utils
    cmake_build "$SRC/xz-utils" liblzma -DBUILD_SHARED_LIBS=OFF
    cp "$(find "$SRC/xz-utils/_build" -name 'liblzma.a' | head -n 1)" "$PREFIX/lib/liblzma.a"
    cp -r "$SRC/xz-utils/src/liblzma/api/lzma.h" "$SRC/xz-utils/src/liblzma/api/lzma" \
        "$PREFIX/include/"
}

# ---- libarchive -------------------------------------------------------------
# zlib, bzip2 and xz: zip, tar, gzip, .bz2, .xz. ZLIB_WINAPI is a run test
# CMake cannot run when cross-compiling (3.25 crashes on it): its answer for
# Debian's static zlib (no WINAPI) is given.
build_archive() {
    fetch libarchive
    zlib=$MINGW/lib/libz.a
    cmake_build "$SRC/libarchive" archive_static \
        -DENABLE_OPENSSL=OFF -DENABLE_MBEDTLS=OFF -DENABLE_NETTLE=OFF -DENABLE_LIBB2=OFF \
        -DENABLE_LZ4=OFF -DENABLE_LZMA=ON -DENABLE_ZSTD=OFF -DENABLE_BZip2=ON \
        -DBZIP2_LIBRARY_RELEASE="$PREFIX/lib/libbz2.a" -DBZIP2_INCLUDE_DIR="$PREFIX/include" \
        -DLIBLZMA_LIBRARY="$PREFIX/lib/liblzma.a" -DLIBLZMA_INCLUDE_DIR="$PREFIX/include" \
        -DENABLE_LIBXML2=OFF -DENABLE_EXPAT=OFF -DENABLE_PCREPOSIX=OFF -DENABLE_LIBGCC=OFF \
        -DENABLE_CNG=ON -DENABLE_TAR=OFF -DENABLE_CPIO=OFF -DENABLE_CAT=OFF \
        -DENABLE_XATTR=OFF -DENABLE_ACL=OFF -DENABLE_ICONV=OFF -DENABLE_TEST=OFF \
        -DENABLE_WERROR=OFF -DPOSIX_REGEX_LIB=NONE \
        -DZLIB_LIBRARY="$zlib" -DZLIB_INCLUDE_DIR="$MINGW/include" \
        -DZLIB_WINAPI=OFF -DZLIB_WINAPI_WITH_LIB="$zlib" -DZLIB_WINAPI_EXITCODE=1
    cp "$(find "$SRC/libarchive/_build" -name 'libarchive_static.a' | head -n 1)" "$PREFIX/lib/libarchive.a"
    cp "$SRC/libarchive/libarchive/archive.h" "$SRC/libarchive/libarchive/archive_entry.h" "$PREFIX/include/"
}

# ---- cmocka and jansson (the unit tests) --------------------------------------
build_cmocka() {
    fetch cmocka
    cmake_build "$SRC/cmocka" all -DWITH_STATIC_LIB=ON -DBUILD_SHARED_LIBS=OFF \
        -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF -DPICKY_DEVELOPER=OFF
    cp "$(find "$SRC/cmocka/_build" -name 'libcmocka*.a' ! -name '*.dll.a' | head -n 1)" "$PREFIX/lib/libcmocka.a"
    cp "$SRC/cmocka/include/cmocka.h" "$PREFIX/include/"
}

build_jansson() {
    fetch jansson
    cmake_build "$SRC/jansson" jansson -DJANSSON_BUILD_SHARED_LIBS=OFF -DJANSSON_BUILD_DOCS=OFF \
        -DJANSSON_EXAMPLES=OFF -DJANSSON_WITHOUT_TESTS=ON
    cp "$(find "$SRC/jansson/_build" -name 'libjansson*.a' | head -n 1)" "$PREFIX/lib/libjansson.a"
    cp "$SRC/jansson/src/jansson.h" "$(find "$SRC/jansson/_build" -name jansson_config.h | head -n 1)" \
        "$PREFIX/include/"
}

# Two lanes: most of the time goes to single-threaded configure steps, so the
# two cores run two of them at once.
run() {   # run NAME: one library, its output in a log, its tail on failure
    step "$1"
    # In the background: `if ! (...)` would switch set -e off inside.
    ( "build_$1" ) > "$LOGS/$1.log" 2>&1 &
    if ! wait $!; then
        tail -n 40 "$LOGS/$1.log" >&2
        echo "build-deps: $1 failed (log: $LOGS/$1.log)" >&2
        return 1
    fi
}
JOBS=1
( run openssl && run libpq && run csv && run cmocka ) & lane1=$!
( run bz2 && run xz && run yaml && run jansson && run curl && run archive ) & lane2=$!
ok=1
wait $lane1 || ok=0
wait $lane2 || ok=0
[ $ok = 1 ] || exit 1

echo "$STAMP" > "$PREFIX/.stamp"
rm -rf "$SRC"
step "done: $PREFIX"
sort "$PREFIX/versions.txt"
