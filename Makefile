# probe: one GNU Makefile (STYLE.md section 8).
#
#   make            build ./probe (installs missing Debian packages first)
#   make deps       install the Debian packages the build and tests need
#   make check      unit + integration tests, fuzz-corpus replay, then the
#                   same suite under -fsanitize=address,undefined
#   make check-asan only the sanitizer half of `make check`
#   make fuzz       libFuzzer on every tests/fuzz target (FUZZ_SECONDS each)
#   make bench      every bench/ script, quick (a few minutes); FULL=1 all of
#                   it (BENCHMARKS.md's figures); outputs in build/bench/
#   make install    PREFIX=/usr/local DESTDIR=
#   make demo       run scenarios/demo.scn against a local demo target
#                   (nginx + dnsmasq on private ports, stopped afterwards)
#
# Every target that compiles or runs something depends on `deps`, so a fresh
# Debian 12 machine needs nothing by hand.  pkg-config is asked lazily (at
# recipe time, once), because on a fresh machine the .pc files appear only
# after `deps` has run.

SHELL := /bin/bash
.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
MAKEFLAGS += --no-print-directory

PROBE_VERSION := 0.1.0
PREFIX ?= /usr/local
DESTDIR ?=
FUZZ_SECONDS ?= 60

# Debian packages: the build, the tests, the fuzzers.
DEB_BUILD := gcc make pkg-config libc6-dev libcurl4-openssl-dev libc-ares-dev \
	libssl-dev libpcap-dev libsqlite3-dev libmicrohttpd-dev libjson-c-dev
DEB_TEST := libcmocka-dev sqlite3 dnsmasq-base nginx-light openssl iproute2 procps valgrind \
	python3 curl util-linux bsdutils groff-base tshark tcpdump ethtool iputils-ping \
	time
DEB_FUZZ := clang libfuzzer-14-dev
PKGS := libcurl libcares openssl libpcap sqlite3 libmicrohttpd json-c

B := build
# V=1 shows whole command lines.
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif
CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif

# Evaluated once, when first used in a recipe (after `deps` has run).
PKG_CFLAGS = $(eval PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS)))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $(shell pkg-config --libs $(PKGS)) -lm)$(PKG_LIBS)
CMOCKA_LIBS = $(eval CMOCKA_LIBS := $(shell pkg-config --libs cmocka))$(CMOCKA_LIBS)
GIT_REV := $(shell git rev-parse --short=10 HEAD 2>/dev/null || echo unknown)

WARN := -Wall -Wextra -Werror -Wstrict-prototypes -Wvla -Wwrite-strings \
	-Wshadow -Wformat=2 -Wmissing-prototypes -Wno-missing-field-initializers
CFLAGS ?= -O2 -g
BASE_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) -Isrc -I$(B)/gen \
	-DPROBE_VERSION='"$(PROBE_VERSION)"' \
	-include src/util/banned_pre.h
ASAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer

SRC := $(shell find src -name '*.c' | LC_ALL=C sort)
LIB_SRC := $(filter-out src/main.c,$(SRC))
SCHEMA := $(sort $(wildcard schema/[0-9][0-9][0-9]_*.sql))
GEN_SRC := $(B)/gen/schema_sql.c
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
IT_SCRIPTS := $(sort $(wildcard tests/integration/[0-9][0-9][0-9][0-9]-*.sh))

# Object sets for the normal (o) and sanitizer (asan) flavours.
objs = $(patsubst %.c,$(B)/$(1)/%.o,$(LIB_SRC)) $(B)/$(1)/gen/schema_sql.o
LIB_O := $(call objs,o)
LIB_ASAN := $(call objs,asan)
UNIT_BIN := $(patsubst tests/unit/%.c,$(B)/o/tests/%,$(UNIT_SRC))
UNIT_ASAN := $(patsubst tests/unit/%.c,$(B)/asan/tests/%,$(UNIT_SRC))
REPLAY_BIN := $(patsubst tests/fuzz/%.c,$(B)/o/replay/%,$(FUZZ_SRC))
REPLAY_ASAN := $(patsubst tests/fuzz/%.c,$(B)/asan/replay/%,$(FUZZ_SRC))
DEPS_STAMP := $(B)/.deps-ok

.PHONY: all deps deps-fuzz check check-asan test-bins fuzz install demo clean \
	format bench FORCE

all: probe

# ---- dependencies ---------------------------------------------------------
# Installs only what is missing; needs root (or sudo) only when something is.
# Server packages (nginx-light, dnsmasq-base) are installed with a
# policy-rc.d that forbids starting services: the tests run their own
# instances on private ports and must never start or disturb system ones.
define install_debs
	@missing=$$(for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
		grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; \
		elif command -v sudo >/dev/null; then SUDO=sudo; \
		else echo "deps: run 'make deps' as root to install:" $$missing >&2; \
			exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		prc=/usr/sbin/policy-rc.d; own=; \
		if [ ! -e $$prc ]; then own=1; \
			printf '#!/bin/sh\nexit 101\n' | $$SUDO tee $$prc >/dev/null; \
			$$SUDO chmod 755 $$prc; fi; \
		$$SUDO apt-get update -qq && \
		$$SUDO apt-get install -y -qq --no-install-recommends $$missing \
			>/dev/null; rc=$$?; \
		[ -z "$$own" ] || $$SUDO rm -f $$prc; \
		[ $$rc -eq 0 ] || exit 1; \
	fi
endef

deps: $(DEPS_STAMP)
$(DEPS_STAMP): Makefile
	$(call install_debs,$(DEB_BUILD) $(DEB_TEST))
	@pkg-config --exists $(PKGS) || \
		{ echo "deps: pkg-config cannot find: $(PKGS)" >&2; exit 1; }
	@curl-config --ssl-backends | grep -q OpenSSL || \
		{ echo "deps: libcurl is not the OpenSSL flavour" >&2; exit 1; }
	@mkdir -p $(@D) && touch $@

deps-fuzz: $(DEPS_STAMP)
	$(call install_debs,$(DEB_FUZZ))

# ---- build ----------------------------------------------------------------
probe: $(B)/o/src/main.o $(LIB_O)
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(PKG_LIBS)

$(B)/asan/probe: $(B)/asan/src/main.o $(LIB_ASAN)
	$(call say,LINK,$@)
	$(Q)$(CC) -fsanitize=address,undefined -o $@ $^ $(PKG_LIBS)

$(B)/o/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/asan/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(PKG_CFLAGS) $(ASAN_FLAGS) -MMD -MP -c -o $@ $<

$(B)/o/gen/%.o: $(B)/gen/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(CFLAGS) -c -o $@ $<

$(B)/asan/gen/%.o: $(B)/gen/%.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) $(BASE_CFLAGS) $(ASAN_FLAGS) -c -o $@ $<

# The git revision `probe --version` names, in a header rewritten only when
# HEAD moved: cli.c alone depends on it (a -D flag would leave every other
# object as it was and the revision stale).
GIT_REV_H := $(B)/gen/git_rev.h
$(GIT_REV_H): FORCE
	@mkdir -p $(@D)
	@printf '#define PROBE_GIT_REV "%s"\n' "$(GIT_REV)" >$@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
$(B)/o/src/cli/cli.o $(B)/asan/src/cli/cli.o: $(GIT_REV_H)
FORCE:

# The migrations are compiled into the binary: an installed probe needs no
# schema/ directory beside it.
$(GEN_SRC): $(SCHEMA) tests/tools/embed_schema.awk
	@mkdir -p $(@D)
	LC_ALL=C awk -f tests/tools/embed_schema.awk $(SCHEMA) > $@

# ---- tests ----------------------------------------------------------------
$(B)/o/tests/%: $(B)/o/tests/unit/%.o $(LIB_O)
	$(call say,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

$(B)/asan/tests/%: $(B)/asan/tests/unit/%.o $(LIB_ASAN)
	$(call say,LINK,$@)
	$(Q)$(CC) -fsanitize=address,undefined -o $@ $^ $(PKG_LIBS) $(CMOCKA_LIBS)

# Fuzz targets replayed over their corpora without libFuzzer.
$(B)/o/replay/%: $(B)/o/tests/fuzz/%.o $(B)/o/tests/fuzz/replay.o $(LIB_O)
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

$(B)/asan/replay/%: $(B)/asan/tests/fuzz/%.o $(B)/asan/tests/fuzz/replay.o \
		$(LIB_ASAN)
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) -fsanitize=address,undefined -o $@ $^ $(PKG_LIBS)

# The bench's delay-and-loss element (a userspace netem): one file, no libs.
$(B)/tools/pbfwd: tests/tools/pbfwd.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -o $@ $<

# The bench's HTTP/1.1 server for what nginx cannot do (RST mid-body, split
# timed writes, per-request Nagle, 100/103, a stalled TLS handshake).
$(B)/tools/pbserver: tests/tools/pbserver.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -o $@ $< \
		$$(pkg-config --libs --cflags openssl)

# bench/analyzer's synthetic capture (many concurrent TCP connections,
# TLS and HTTP, retransmissions) and its floor (libpcap reading a file and
# nothing else): one file each.
$(B)/tools/pbgen: tests/tools/pbgen.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -o $@ $< -lm

$(B)/tools/pbread: tests/tools/pbread.c | $(DEPS_STAMP)
	@mkdir -p $(@D)
	$(call say,CC,$@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE $(WARN) -O2 -g -o $@ $< \
		$$(pkg-config --libs --cflags libpcap)

# Decodes a capture with src/packet/ and prints tshark-style fields
# (tests/integration/0600-decode-vs-tshark.sh), or with --flows the
# connections src/analyze/flow.c makes of it (0610-flows-vs-tshark.sh).
PACKET_O := $(patsubst %.c,$(B)/o/%.o,$(filter src/packet/%,$(LIB_SRC)))
# (all of src/packet/ reports through errbuf_set: err.o)
$(B)/tools/pbdecode: $(B)/o/tests/tools/pbdecode.o $(PACKET_O) \
		$(B)/o/src/analyze/flow.o $(B)/o/src/analyze/tcp_seq.o \
		$(B)/o/src/util/err.o
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

# Converts a capture into pcapng through src/capture/cap_pcapw.c, with
# comments and a key log DSB (tests/integration/0640-pcapng-vs-tshark.sh).
$(B)/tools/pbpcapng: $(B)/o/tests/tools/pbpcapng.o \
		$(B)/o/src/capture/cap_file.o $(B)/o/src/capture/cap_pcapw.o \
		$(B)/o/src/util/err.o
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

# Writes a capture through src/capture/cap_evidence.c, the escalation
# file's redaction (tests/integration/0680-evidence-vs-tshark.sh).
$(B)/tools/pbevidence: $(B)/o/tests/tools/pbevidence.o $(PACKET_O) \
		$(B)/o/src/capture/cap_evidence.o $(B)/o/src/capture/cap_file.o \
		$(B)/o/src/capture/cap_pcapw.o $(B)/o/src/util/err.o
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

# Decrypts a capture's TLS records with src/packet/ and a key log, one line
# per record (tests/integration/0650-tls-decrypt-vs-tshark.sh).
$(B)/tools/pbtlsdec: $(B)/o/tests/tools/pbtlsdec.o $(PACKET_O) \
		$(B)/o/src/util/err.o
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

# Drives src/capture/ around one command and writes what it caught as a
# pcap file (tests/integration/0620-capture.sh).
$(B)/tools/pbcap: $(B)/o/tests/tools/pbcap.o $(LIB_O)
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

# A store of runs from three regions, through probe's own store code, for
# the report tests (tests/integration/0790-report-html.sh).
$(B)/tools/pbseed: $(B)/o/tests/tools/pbseed.o $(LIB_O)
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

# The store's write time and growth per run (bench/scale).
$(B)/tools/pbstorebench: $(B)/o/tests/tools/pbstorebench.o $(LIB_O)
	@mkdir -p $(@D)
	$(call say,LINK,$@)
	$(Q)$(CC) -o $@ $^ $(PKG_LIBS)

test-bins: probe $(B)/asan/probe $(UNIT_BIN) $(UNIT_ASAN) $(REPLAY_BIN) \
	$(REPLAY_ASAN) $(B)/tools/pbfwd $(B)/tools/pbserver \
	$(B)/tools/pbdecode $(B)/tools/pbpcapng $(B)/tools/pbtlsdec \
	$(B)/tools/pbcap $(B)/tools/pbevidence $(B)/tools/pbseed

# Both halves in one runner, so the last line is the summary of everything.
check: test-bins
	@tests/run.sh --suite plain --probe ./probe --unit "$(UNIT_BIN)" \
		--replay "$(REPLAY_BIN)" --integration "$(IT_SCRIPTS)" \
		--suite asan --probe $(B)/asan/probe --unit "$(UNIT_ASAN)" \
		--replay "$(REPLAY_ASAN)" --integration "$(IT_SCRIPTS)"

check-asan: $(B)/asan/probe $(UNIT_ASAN) $(REPLAY_ASAN)
	@tests/run.sh --suite asan --probe $(B)/asan/probe \
		--unit "$(UNIT_ASAN)" --replay "$(REPLAY_ASAN)" \
		--integration "$(IT_SCRIPTS)"

# ---- fuzzing (not part of check: long-running) ------------------------------
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -I$(B)/gen \
	-DPROBE_VERSION='"$(PROBE_VERSION)"' -DPROBE_GIT_REV='"fuzz"' \
	-include src/util/banned_pre.h -fsanitize=fuzzer,address,undefined \
	-DSERVE_TIMEOUT_S=1

# FUZZ_TARGETS: which (names without fuzz_, e.g. "serve ingest"); all by
# default.  Each target's libFuzzer output ends in $(B)/fuzz/<target>.log
# (its last lines: executions, coverage, crashes).
FUZZ_TARGETS ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC))
fuzz: deps-fuzz $(GEN_SRC)
	@mkdir -p $(B)/fuzz
	@for f in $(patsubst %,tests/fuzz/fuzz_%.c,$(FUZZ_TARGETS)); do \
		t=$$(basename $$f .c); c=tests/fuzz/corpus/$${t#fuzz_}; \
		clang $(FUZZ_CFLAGS) $(PKG_CFLAGS) -o $(B)/fuzz/$$t $$f \
			$(LIB_SRC) $(GEN_SRC) $(PKG_LIBS) || exit 1; \
		mkdir -p $(B)/fuzz/$$t.new; \
		$(B)/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(B)/fuzz/$$t- \
			-dict=tests/fuzz/$$t.dict $(B)/fuzz/$$t.new $$c \
			2>$(B)/fuzz/$$t.log || { tail -30 $(B)/fuzz/$$t.log; exit 1; }; \
		grep -E '^(Done|stat::)' $(B)/fuzz/$$t.log | sed "s/^/fuzz: $$t: /"; \
		echo "fuzz: $$t: new inputs in $(B)/fuzz/$$t.new (merge with" \
			"-merge=1 into $$c)"; \
	done

# ---- benchmarks (not part of check) -------------------------------------------
# Each bench/ script prints its tables and the command; the outputs are kept
# in build/bench/NAME.txt.  Needs root (the bench's namespaces).
BENCH_SCRIPTS := accuracy analyzer overhead scale
bench: probe $(B)/tools/pbfwd $(B)/tools/pbserver $(B)/tools/pbgen \
		$(B)/tools/pbread $(B)/tools/pbstorebench
	@mkdir -p $(B)/bench
	@for b in $(BENCH_SCRIPTS); do \
		echo "== bench/$$b $(if $(FULL),,--quick)"; \
		bench/$$b $(if $(FULL),,--quick) | tee $(B)/bench/$$b.txt; \
		[ $${PIPESTATUS[0]} -eq 0 ] || exit 1; echo; \
	done

# ---- demo, install ------------------------------------------------------------
# nginx (private test CA) on 127.0.0.1:58443 and dnsmasq on 127.0.0.1:53535,
# then `probe run scenarios/demo.scn`; the servers are always stopped.
demo: probe | $(DEPS_STAMP)
	@tests/tools/demo.sh

install: probe
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 0755 probe $(DESTDIR)$(PREFIX)/bin/probe
	install -m 0644 docs/probe.1 $(DESTDIR)$(PREFIX)/share/man/man1/probe.1

format:
	clang-format -i $$(find src tests -name '*.[ch]')

clean:
	rm -rf $(B) probe

-include $(shell find $(B) -name '*.d' 2>/dev/null)
