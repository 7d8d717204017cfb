# cdrimport - non-recursive Makefile (objects in $(BUILD), -MMD dependency files).
#   make              build $(BUILD)/cdrimport
#   make check        unit tests, end-to-end tests, then both again under
#                     AddressSanitizer + UndefinedBehaviorSanitizer
#   make unit         unit tests only (no database needed)
#   make e2e          end-to-end tests against a throwaway PostgreSQL
#   make bench        the benchmark (not a test): ratios against psql \copy
#   make install      PREFIX=/usr/local DESTDIR=
#   make SANITIZE=address,undefined   a sanitized build in build-san/
#   make STRICT=1     warnings are errors (the project's own builds and CI:
#                     scripts/test sets it; a user's newer compiler must not
#                     fail `make` on a warning it has just learnt)
#   make clean        removes build/ and build-san/, or only $(BUILD) if given

.DELETE_ON_ERROR:
.SUFFIXES:

CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
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
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

.PHONY: all check unit e2e sanitize install clean bench

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
	    FAULT_PRELOAD="$(FAULT_PRELOAD)" SHARED=$(SHARED_DIR) tests/e2e/run.sh

sanitize:
	$(MAKE) SANITIZE=address,undefined unit e2e

check: unit e2e sanitize

install: $(BUILD)/cdrimport
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/cdrimport $(DESTDIR)$(PREFIX)/bin/cdrimport

bench: $(BUILD)/cdrimport
	bench/run.sh

clean:
ifeq ($(origin BUILD),command line)
	rm -rf $(BUILD)
else
	rm -rf build build-san
endif

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/tests/*.d)
