# cdrimport - non-recursive Makefile (objects in $(BUILD), -MMD dependency files).
#   make              build $(BUILD)/cdrimport
#   make check        unit tests, the fuzz smoke, end-to-end tests, then unit
#                     and end-to-end again under AddressSanitizer +
#                     UndefinedBehaviorSanitizer
#   make unit         unit tests only (no database needed)
#   make fuzz         every libFuzzer target (tests/fuzz, clang) for
#                     FUZZ_SECONDS (60) each, into build-fuzz/
#   make fuzz-merge   what make fuzz found, merged into the committed seeds
#   make fuzz-smoke   each target over its committed corpus plus FUZZ_RUNS
#                     (20000) runs: a crash fails (part of make check)
#   make e2e          end-to-end tests against a throwaway PostgreSQL
#   make bench        the benchmark (not a test): ratios against psql \copy
#   make man          the manual pages (scdoc; importer.yaml(5)'s keys are
#                     generated from the loader's key tables by tools/keydoc)
#   make install      PREFIX=/usr/local DESTDIR= (binary, manual pages, the
#                     systemd unit, /etc/cdrimport/importer.yaml unless there,
#                     /var/lib/cdrimport/*, bash completion, docs)
#   make deb          the Debian package, ../cdrimport_<version>_<arch>.deb
#                     copied to build/ (dpkg-buildpackage -us -uc -b)
#   make SANITIZE=address,undefined   a sanitized build in build-san/
#   make STRICT=1     warnings are errors (the project's own builds and CI:
#                     scripts/test sets it; a user's newer compiler must not
#                     fail `make` on a warning it has just learnt)
#   make windows      build-win64/cdrimport.exe and its zip, cross-built with
#                     mingw-w64 against libraries built from Debian's sources
#                     (tools/windows/build-deps.sh, cached in build-win64/deps)
#   make windows-check  the unit tests built for Windows, run under Wine
#   make windows-e2e  end-to-end tests of cdrimport.exe under Wine
#   make clean        removes build/, build-san/, build-deb/ and build-fuzz/, or only $(BUILD) if given

.DELETE_ON_ERROR:
.SUFFIXES:

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/cdrimport
# /etc even under /usr/local: the unit and the documentation name that file.
SYSCONFDIR ?= /etc
STATEDIR   ?= /var/lib/cdrimport
# The group (cdrimport) may drop files in; the Debian package ships 0755 and
# sets this in its postinst, once the user exists.
STATEDIR_MODE ?= 2770
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BASHCOMPDIR    ?= $(PREFIX)/share/bash-completion/completions
PKGS     = libpq yaml-0.1 libcrypto libsystemd libcurl libarchive

ifdef SANITIZE
BUILD   ?= build-san
SANFLAGS = -fsanitize=$(SANITIZE) -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD   ?= build
SANFLAGS =
endif

WARN    = -Wall -Wextra -Wpedantic -Wformat=2 -Wshadow -Wstrict-prototypes \
          -Wmissing-prototypes -Wold-style-definition -Wwrite-strings -Wvla \
          -Wundef -fno-common
ifeq ($(STRICT),1)
WARN   += -Werror
endif
OPT    ?= -O2 -g
CPPFLAGS += -Iinclude -D_GNU_SOURCE $(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
            -I$(shell pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)
CFLAGS  += -std=c11 $(OPT) $(WARN) $(SANFLAGS) -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS  += -pthread -lcsv $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lpq -lyaml -lcrypto -lsystemd -lcurl -larchive)

# One system's own files: src/*_win.c are Windows' (plat_win.c, CNG's
# SHA-256); these are the POSIX side's (libcrypto, inotify).
WIN_SRC   = $(wildcard src/*_win.c)
POSIX_SRC = src/plat_posix.c src/checksum.c src/watch_inotify.c
LIB_SRC  = $(filter-out src/main.c $(WIN_SRC),$(wildcard src/*.c))
LIB_OBJ  = $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
MAIN_OBJ = $(BUILD)/obj/main.o
UNIT_SRC = $(wildcard tests/unit/test_*.c)
# The shared fixtures (../shared, or beside the repository this was cloned from).
SHARED_DIR := $(shell scripts/shared-dir)
CDRIMPORT_VERSION := $(shell sed -n 's/^\#define CDRIMPORT_VERSION "\(.*\)"/\1/p' include/cdrimport.h)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check unit e2e sanitize install clean bench man deb fuzz fuzz-build fuzz-smoke \
        fuzz-merge windows windows-deps windows-check windows-e2e

all: $(BUILD)/cdrimport

$(BUILD)/cdrimport: $(MAIN_OBJ) $(BUILD)/libcdr.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libcdr.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@ && $(AR) rcs $@ $^

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libcdr.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libcdr.a $(LDFLAGS) $(LDLIBS) -lcmocka -ljansson

# A driver the end-to-end tests run: imports through an input read once.
$(BUILD)/tests/stream_import: tests/e2e/stream_import.c $(BUILD)/libcdr.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libcdr.a $(LDFLAGS) $(LDLIBS)

# importer.yaml(5): the template with the key list that tools/keydoc prints
# from the loader's own tables (linked against libcdr.a) and the words of
# man/importer.yaml.keys; cdrimport(1) is written by hand. scdoc makes troff.
MAN = $(BUILD)/man/cdrimport.1 $(BUILD)/man/importer.yaml.5

man: $(MAN)

$(BUILD)/tools/keydoc: tools/keydoc.c $(BUILD)/libcdr.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libcdr.a $(LDFLAGS) $(LDLIBS)

$(BUILD)/man/importer.yaml.5.scd: man/importer.yaml.5.scd.in man/importer.yaml.keys $(BUILD)/tools/keydoc
	@mkdir -p $(@D)
	$(BUILD)/tools/keydoc man/importer.yaml.5.scd.in man/importer.yaml.keys > $@

$(BUILD)/man/importer.yaml.5: $(BUILD)/man/importer.yaml.5.scd
	scdoc < $< > $@

$(BUILD)/man/cdrimport.1: man/cdrimport.1.scd
	@mkdir -p $(@D)
	scdoc < $< > $@

$(BUILD)/cdrimport.service: systemd/cdrimport.service.in
	@mkdir -p $(@D)
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $< > $@

# The fault-injection shim (tests/fault/faultinject.c), LD_PRELOADed by the
# fault tests. Never sanitized: under SANITIZE the tests preload the
# sanitizer's runtime before it (see FAULT_PRELOAD below).
$(BUILD)/tests/faultinject.so: tests/fault/faultinject.c
	@mkdir -p $(@D)
	$(CC) -std=c11 $(OPT) $(WARN) -fPIC -shared -o $@ $< -ldl -pthread

# Unit tests: cmocka, table-driven, no database.
unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; CDR_FIXTURES=$(CURDIR)/fixtures SHARED=$(SHARED_DIR) $$t; done

# End-to-end: the real binary, a real PostgreSQL (started by scripts/pg.sh
# unless PGHOST is already set), real folders and signals.
# FAULT_PRELOAD: what the fault tests put in LD_PRELOAD; a sanitized binary
# wants its sanitizer's runtime first in the list.
ifdef SANITIZE
FAULT_PRELOAD = $(shell $(CC) -print-file-name=libasan.so) $(CURDIR)/$(BUILD)/tests/faultinject.so
else
FAULT_PRELOAD = $(CURDIR)/$(BUILD)/tests/faultinject.so
endif

e2e: $(BUILD)/cdrimport $(BUILD)/tests/stream_import $(BUILD)/tests/faultinject.so
	CDRIMPORT_BIN=$(CURDIR)/$(BUILD)/cdrimport STREAM_IMPORT_BIN=$(CURDIR)/$(BUILD)/tests/stream_import \
	    CDR_SANITIZE=$(SANITIZE) FAULT_PRELOAD="$(FAULT_PRELOAD)" \
	    SHARED=$(SHARED_DIR) tests/e2e/run.sh

sanitize:
	$(MAKE) SANITIZE=address,undefined unit e2e

check: unit fuzz-smoke e2e sanitize

# ---- fuzzing (tests/fuzz, README "Fuzzing") --------------------------------
# clang's libFuzzer with ASan+UBSan, in its own build-fuzz/: the library is
# compiled with coverage (fuzzer-no-link), each target links libFuzzer's
# main. Seeds are committed in tests/fuzz/corpus/<target>/; what a run
# learns goes to build-fuzz/corpus/<target>/, crashes and slow inputs to
# build-fuzz/artifacts/.
FUZZ_CC      ?= clang
FUZZ_BUILD   ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?= 20000
# The archive target expands members of up to 1 MiB: a tenth of the runs.
FUZZ_RUNS_ARCHIVE ?= 2000
FUZZ_RSS_MB  ?= 2048
FUZZ_TARGETS  = $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
# clang also counts shadowing a global of a system header (time.h's timezone)
# as -Wshadow, which gcc, the compiler of the normal builds, does not.
FUZZ_CFLAGS   = -std=c11 -O2 -g $(filter-out -Wshadow,$(WARN)) $(FUZZ_SAN) -MMD -MP
FUZZ_LIB_OBJ  = $(LIB_SRC:src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_BIN      = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
# -timeout=1: an input that takes over a second is a finding (issue 13).
FUZZ_OPTS     = -timeout=1 -rss_limit_mb=$(FUZZ_RSS_MB) -print_final_stats=1

$(FUZZ_BUILD)/obj/%.o: src/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# The targets' shared checks: sanitized, but without coverage, so that the
# fuzzer's time goes to the branches of src/ and not to the checker's.
$(FUZZ_BUILD)/obj/fuzz-pipeline.o: tests/fuzz/pipeline.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<

$(FUZZ_BUILD)/libcdr.a: $(FUZZ_LIB_OBJ) $(FUZZ_BUILD)/obj/fuzz-pipeline.o
	rm -f $@ && $(AR) rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_BUILD)/libcdr.a
	$(FUZZ_CC) $(CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libcdr.a \
	    $(LDLIBS) -ljansson

fuzz-build: $(FUZZ_BIN)

# Every target for FUZZ_SECONDS, one after the other (they share the cores
# with whatever else runs).
fuzz: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    echo "== fuzz_$$t: $(FUZZ_SECONDS) s"; \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t $(FUZZ_BUILD)/artifacts; \
	    $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_OPTS) -max_total_time=$(FUZZ_SECONDS) \
	        -dict=tests/fuzz/$$t.dict -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
	        $(FUZZ_BUILD)/corpus/$$t tests/fuzz/corpus/$$t; \
	done

# What `make fuzz` learnt, into the committed seed corpus: libFuzzer's merge
# keeps only the inputs that reach coverage the seeds do not (review and
# commit tests/fuzz/corpus/ afterwards; fuzz-smoke replays all of it).
fuzz-merge: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    [ -d $(FUZZ_BUILD)/corpus/$$t ] || continue; \
	    before=$$(ls tests/fuzz/corpus/$$t | wc -l); \
	    $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_OPTS) -merge=1 tests/fuzz/corpus/$$t \
	        $(FUZZ_BUILD)/corpus/$$t 2>$(FUZZ_BUILD)/merge-$$t.log \
	        || { tail -n 30 $(FUZZ_BUILD)/merge-$$t.log; exit 1; }; \
	    echo "fuzz_$$t: $$before seeds, now $$(ls tests/fuzz/corpus/$$t | wc -l)"; \
	done

# CI: each target over its committed corpus, then FUZZ_RUNS mutations from a
# fixed seed; a crash, leak or slow input fails the build. New inputs go to a
# scratch folder, never into the committed corpus.
fuzz-smoke: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    runs=$(FUZZ_RUNS); [ $$t != archive ] || runs=$(FUZZ_RUNS_ARCHIVE); \
	    echo "== fuzz_$$t: corpus + $$runs runs"; \
	    rm -rf $(FUZZ_BUILD)/smoke/$$t; mkdir -p $(FUZZ_BUILD)/smoke/$$t $(FUZZ_BUILD)/artifacts; \
	    $(FUZZ_BUILD)/fuzz_$$t $(FUZZ_OPTS) -seed=1 -runs=$$runs \
	        -dict=tests/fuzz/$$t.dict -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$t- \
	        $(FUZZ_BUILD)/smoke/$$t tests/fuzz/corpus/$$t 2>$(FUZZ_BUILD)/smoke/$$t.log \
	        || { tail -n 60 $(FUZZ_BUILD)/smoke/$$t.log; exit 1; }; \
	    grep -h '^stat::number_of_executed_units\|^Done' $(FUZZ_BUILD)/smoke/$$t.log || true; \
	done

# ---- Windows (README "On Windows") -----------------------------------------
# Cross-built with Debian's mingw-w64 (win32 threads; winpthreads for the
# program's own threads) against static libraries built once from Debian's
# source packages into $(WIN_DEPS) by tools/windows/build-deps.sh. Linked
# statically: the exe imports only DLLs that come with Windows.
WIN_BUILD ?= build-win64
WIN_DEPS  ?= $(WIN_BUILD)/deps
WIN_HOST   = x86_64-w64-mingw32
WIN_CC     = $(WIN_HOST)-gcc
WIN_AR     = $(WIN_HOST)-ar
WINE      ?= /usr/lib/wine/wine64
WINESERVER ?= $(dir $(WINE))wineserver
# -isystem: the libraries' headers are system headers, as on Linux (their
# own warnings are not ours). _POSIX_C_SOURCE: mingw's localtime_r;
# __USE_MINGW_ANSI_STDIO: C99 printf (%zu, %lld) rather than msvcrt's;
# _FILE_OFFSET_BITS: 64-bit off_t. Windows 7 is the oldest API level used
# (GetFinalPathNameByHandleW).
WIN_CPPFLAGS = -Iinclude -isystem $(WIN_DEPS)/include -D_POSIX_C_SOURCE=200809L -D_FILE_OFFSET_BITS=64 \
               -D__USE_MINGW_ANSI_STDIO=1 -D_WIN32_WINNT=0x0601 -DWINVER=0x0601 \
               -DLIBARCHIVE_STATIC -DYAML_DECLARE_STATIC -DCURL_STATICLIB
WIN_CFLAGS   = -std=c11 $(OPT) $(WARN) -MMD -MP
WIN_LDFLAGS  = -static -L$(WIN_DEPS)/lib
WIN_LDLIBS   = -lpq -lpgcommon_shlib -lpgport_shlib -lssl -lcrypto -lcurl -larchive -llzma -lbz2 \
               -lyaml -lcsv -lz -lpthread -lbcrypt -lsecur32 -lcrypt32 -lshell32 -lws2_32 -luser32 \
               -ladvapi32
WIN_LIB_SRC  = $(filter-out src/main.c $(POSIX_SRC),$(wildcard src/*.c))
WIN_LIB_OBJ  = $(WIN_LIB_SRC:src/%.c=$(WIN_BUILD)/obj/%.o)
# The unit tests that stay Linux's: they build POSIX scenes (symbolic
# links, FIFOs, flock, mkdtemp, setenv, open_memstream, sub-second st_mtim,
# POSIX regex as an oracle)
# or archives with Python; what they cover on Windows is left to
# tests/e2e/test_windows.py.
WIN_UNIT_SKIP ?= test_config test_finish test_input test_input_archive test_keydoc test_pending \
                 test_report_html test_source test_spool test_trunks
WIN_UNIT_BIN = $(filter-out $(WIN_UNIT_SKIP:%=$(WIN_BUILD)/tests/%.exe), \
                 $(UNIT_SRC:tests/unit/%.c=$(WIN_BUILD)/tests/%.exe))
WIN_ZIP = $(WIN_BUILD)/cdrimport-$(CDRIMPORT_VERSION)-win64.zip

windows: $(WIN_BUILD)/cdrimport.exe $(WIN_ZIP)

windows-deps: $(WIN_DEPS)/.stamp

$(WIN_DEPS)/.stamp: tools/windows/build-deps.sh
	nice -n 10 tools/windows/build-deps.sh $(WIN_DEPS)

$(WIN_BUILD)/obj/%.o: src/%.c | $(WIN_DEPS)/.stamp
	@mkdir -p $(@D)
	$(WIN_CC) $(WIN_CPPFLAGS) $(WIN_CFLAGS) -c -o $@ $<

$(WIN_BUILD)/libcdr.a: $(WIN_LIB_OBJ)
	rm -f $@ && $(WIN_AR) rcs $@ $^

$(WIN_BUILD)/cdrimport.exe: $(WIN_BUILD)/obj/main.o $(WIN_BUILD)/libcdr.a
	$(WIN_CC) $(WIN_LDFLAGS) -o $@ $^ $(WIN_LDLIBS)

# -Wno-format: cmocka.h declares its printf checks with the "printf"
# archetype, msvcrt's under mingw, which the tests' C99 formats do not fit.
# tests/windows/unbuffered.c: see there.
$(WIN_BUILD)/tests/%.exe: tests/unit/%.c tests/windows/unbuffered.c $(WIN_BUILD)/libcdr.a
	@mkdir -p $(@D)
	$(WIN_CC) $(WIN_CPPFLAGS) $(WIN_CFLAGS) -Wno-format $(WIN_LDFLAGS) -o $@ $< \
	    tests/windows/unbuffered.c $(WIN_BUILD)/libcdr.a -lcmocka -ljansson $(WIN_LDLIBS)

$(WIN_ZIP): $(WIN_BUILD)/cdrimport.exe tools/windows/importer.yaml README.md
	rm -rf $(WIN_BUILD)/zip $@
	mkdir -p $(WIN_BUILD)/zip/cdrimport
	cp $(WIN_BUILD)/cdrimport.exe $(WIN_BUILD)/zip/cdrimport/
	$(WIN_HOST)-strip $(WIN_BUILD)/zip/cdrimport/cdrimport.exe
	sed 's/$$/\r/' tools/windows/importer.yaml > $(WIN_BUILD)/zip/cdrimport/importer.yaml
	cp README.md $(WIN_BUILD)/zip/cdrimport/README.md
	cd $(WIN_BUILD)/zip && zip -q -r ../$(@F) cdrimport
	@ls -l $@

# Under Wine, in a prefix of the build folder's own (WINEDEBUG quiet).
WINE_RUN = WINEPREFIX=$(CURDIR)/$(WIN_BUILD)/wineprefix WINEDEBUG=-all $(WINE)

# tests/e2e/test_windows*.py: cdrimport.exe under Wine against the test
# PostgreSQL, which also listens on 127.0.0.1 (Wine has no unix sockets);
# the Linux binary imports the same files for comparison. pytest's -k
# selects by module file name.
WIN_E2E_FILES = $(notdir $(wildcard tests/e2e/test_windows*.py))
windows-e2e: $(WIN_BUILD)/cdrimport.exe $(BUILD)/cdrimport $(WIN_BUILD)/tests/slow_writer.exe
	$(WINE_RUN) $(WIN_BUILD)/cdrimport.exe --version >/dev/null 2>&1  # the prefix, made once,
	WINEPREFIX=$(CURDIR)/$(WIN_BUILD)/wineprefix $(WINESERVER) -w  # and Wine done with it
	CDRIMPORT_EXE=$(CURDIR)/$(WIN_BUILD)/cdrimport.exe WINE=$(WINE) \
	    SLOW_WRITER=$(CURDIR)/$(WIN_BUILD)/tests/slow_writer.exe \
	    WINEPREFIX=$(CURDIR)/$(WIN_BUILD)/wineprefix WINEDEBUG=-all CDR_PG_LISTEN=127.0.0.1 \
	    CDRIMPORT_BIN=$(CURDIR)/$(BUILD)/cdrimport SHARED=$(SHARED_DIR) \
	    tests/e2e/run.sh -k "$(subst .py ,.py or ,$(WIN_E2E_FILES))"

# A writer that holds its file open between two halves (test_windows.py).
$(WIN_BUILD)/tests/slow_writer.exe: tests/windows/slow_writer.c
	@mkdir -p $(@D)
	$(WIN_CC) -O2 -Wall -o $@ $< -static

# tests/windows/run-unit.sh: a program that dies before cmocka's summary
# is run once more with Wine's errors shown (see there).
windows-check: $(WIN_UNIT_BIN)
	@CDR_FIXTURES=$(CURDIR)/fixtures SHARED=$(SHARED_DIR) WINE=$(WINE) WINESERVER=$(WINESERVER) \
	    WINEPREFIX=$(CURDIR)/$(WIN_BUILD)/wineprefix tests/windows/run-unit.sh $(WIN_UNIT_BIN)

# The same set of files as the Debian package (which runs this with
# PREFIX=/usr). An importer.yaml already in place is never replaced. The
# user cdrimport and the ownership of the folders are the package's
# maintainer scripts' (from source: see the README).
install: $(BUILD)/cdrimport $(MAN) $(BUILD)/cdrimport.service
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(DOCDIR)/examples \
	    $(DESTDIR)$(SYSCONFDIR)/cdrimport
	install -m 0755 $(BUILD)/cdrimport $(DESTDIR)$(BINDIR)/cdrimport
	install -m 0644 $(BUILD)/man/cdrimport.1 $(DESTDIR)$(MANDIR)/man1/cdrimport.1
	install -m 0644 $(BUILD)/man/importer.yaml.5 $(DESTDIR)$(MANDIR)/man5/importer.yaml.5
	install -m 0644 $(BUILD)/cdrimport.service $(DESTDIR)$(SYSTEMDUNITDIR)/cdrimport.service
	install -m 0644 completion/cdrimport $(DESTDIR)$(BASHCOMPDIR)/cdrimport
	install -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	install -m 0644 importer.yaml $(DESTDIR)$(DOCDIR)/examples/importer.yaml
	install -m 0644 systemd/importer.yaml $(DESTDIR)$(DOCDIR)/examples/importer.service.yaml
	[ -e $(DESTDIR)$(SYSCONFDIR)/cdrimport/importer.yaml ] || \
	    install -m 0644 systemd/importer.yaml $(DESTDIR)$(SYSCONFDIR)/cdrimport/importer.yaml
	install -d -m 0755 $(DESTDIR)$(STATEDIR)
	install -d -m $(STATEDIR_MODE) $(DESTDIR)$(STATEDIR)/inbox $(DESTDIR)$(STATEDIR)/processed \
	    $(DESTDIR)$(STATEDIR)/failed $(DESTDIR)$(STATEDIR)/spool

# The Debian package from this tree (debian/), with debhelper, into build/.
# The steps of `dpkg-buildpackage -us -uc -b` (which works too, writing to
# ..) without the .changes and .buildinfo an upload would need.
deb:
	@mkdir -p build
	dpkg-checkbuilddeps
	debian/rules clean
	CDRIMPORT_DEBDIR=$(CURDIR)/build debian/rules binary
	@ls -l build/cdrimport_$(CDRIMPORT_VERSION)_*.deb

bench: $(BUILD)/cdrimport
	bench/run.sh

clean:
ifeq ($(origin BUILD),command line)
	rm -rf $(BUILD)
else
	rm -rf build build-san build-deb build-fuzz
endif

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/tests/*.d $(BUILD)/tools/*.d $(FUZZ_BUILD)/obj/*.d \
                    $(FUZZ_BUILD)/*.d $(WIN_BUILD)/obj/*.d $(WIN_BUILD)/tests/*.d)
