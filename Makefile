# cdrimport - non-recursive Makefile (objects in $(BUILD), -MMD dependency files).
#   make              build $(BUILD)/cdrimport
#   make check        unit tests, end-to-end tests, then both again under
#                     AddressSanitizer + UndefinedBehaviorSanitizer
#   make unit         unit tests only (no database needed)
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
#   make clean        removes build/, build-san/ and build-deb/, or only $(BUILD) if given

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

LIB_SRC  = $(filter-out src/main.c,$(wildcard src/*.c))
LIB_OBJ  = $(LIB_SRC:src/%.c=$(BUILD)/obj/%.o)
MAIN_OBJ = $(BUILD)/obj/main.o
UNIT_SRC = $(wildcard tests/unit/test_*.c)
# The shared fixtures (../shared, or beside the repository this was cloned from).
SHARED_DIR := $(shell scripts/shared-dir)
CDRIMPORT_VERSION := $(shell sed -n 's/^\#define CDRIMPORT_VERSION "\(.*\)"/\1/p' include/cdrimport.h)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check unit e2e sanitize install clean bench man deb

all: $(BUILD)/cdrimport

$(BUILD)/cdrimport: $(MAIN_OBJ) $(BUILD)/libcdr.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/libcdr.a: $(LIB_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

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

check: unit e2e sanitize

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
	rm -rf build build-san build-deb
endif

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/tests/*.d $(BUILD)/tools/*.d)
