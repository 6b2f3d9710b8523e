# ctr — build, install, test.  `make deps` installs packages.txt; `make`
# builds every tool; `make check` runs the whole suite.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DATADIR ?= $(PREFIX)/share
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR ?= $(DATADIR)/zsh/vendor-completions
DESTDIR ?=

CC ?= cc
BUILD ?= build
PKGS := jansson libarchive libcrypto libseccomp libcap libcurl libnl-3.0 libnl-route-3.0 libnftables gpgme yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wno-format-nonliteral
CPPFLAGS += -D_FILE_OFFSET_BITS=64 -Ilib -DCTR_DATADIR='"$(DATADIR)"'
ALL_CFLAGS = $(WARN) -std=gnu11 -fno-strict-aliasing $(PKG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS += $(PKG_LIBS) -lpthread

TOOLS := $(patsubst bin/%.c,%,$(wildcard bin/ctr-*.c))
LIB_SRC := $(wildcard lib/core/*.c lib/image/*.c lib/run/*.c lib/net/*.c lib/verify/*.c)
LIB_OBJ := $(LIB_SRC:%.c=$(BUILD)/%.o)
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
MAN1 := $(wildcard man/man1/*.1)
MAN5 := $(wildcard man/man5/*.5)
MAN7 := $(wildcard man/man7/*.7)

all: $(TOOLS:%=$(BUILD)/bin/%) $(UNIT_BIN) $(BUILD)/probe/ctr-probe

# ctr-init runs inside containers (ctr-run --init): static, libc only.
$(BUILD)/bin/ctr-init: bin/ctr-init.c
	@mkdir -p $(dir $@)
	@echo "  LD      $@ (static)"
	@$(CC) $(WARN) -std=gnu11 -O2 -static -o $@ $<

# ctr-monitor waits behind every detached container for as long as it
# runs: static, libc only (the log writer and the time formatter are all
# it takes from lib), so it stays small; built like ctr-init, without a
# sanitizer's flags (they refuse -static).
MONITOR_SRC := bin/ctr-monitor.c lib/run/logwrite.c lib/core/rfc3339.c
$(BUILD)/bin/ctr-monitor: $(MONITOR_SRC) lib/run/logwrite.h lib/core/rfc3339.h lib/run/container.h
	@mkdir -p $(dir $@)
	@echo "  LD      $@ (static)"
	@$(CC) $(WARN) -std=gnu11 -O2 -D_FILE_OFFSET_BITS=64 -Ilib $(PKG_CFLAGS) -static -o $@ $(MONITOR_SRC)

# The probe runs inside test containers, so it is static: it needs nothing
# from the image it is copied into.
$(BUILD)/probe/ctr-probe: tests/probe/probe.c
	@mkdir -p $(dir $@)
	@echo "  LD      $@ (static)"
	@$(CC) $(WARN) -std=gnu11 -O2 -static -o $@ $<

$(BUILD)/%.o: %.c $(wildcard lib/*/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/libctr.a: $(LIB_OBJ)
	@rm -f $@
	@$(AR) rcs $@ $^

# ctr-net runs once per attach and once per detach (it is a CNI plugin;
# the reference plugins are static binaries), so its start-up is on that
# path: `ctr-net --version` took 4.1 ms, now 1.4 ms. Mapping and
# relocating libnl-route-3.so (and running the constructors of every
# link, qdisc and classifier type it knows) and libcrypto.so (ctr-net
# takes only base64 from it, in lib/net/cniexec.c) were most of that. So
# ctr-net links what it uses of libnl, jansson and libcrypto from their
# static archives (Debian's -dev packages; for the LGPL's relinking, the
# source is there), and lib/net/nft.c loads libnftables on first use.
CTR_NET_STATIC := -ljansson -lnl-route-3 -lnl-3 -lcrypto
$(BUILD)/bin/ctr-net: LDLIBS := $(filter-out $(CTR_NET_STATIC),$(PKG_LIBS)) -Wl,-Bstatic $(CTR_NET_STATIC) -Wl,-Bdynamic -lpthread
# ctr-verify runs at every container start when a trust policy is set
# (ctr-run execs `ctr-verify verify`, answered from the verdict cache in
# the common case), so the same: gpgme and its two helpers, jansson and
# libcrypto from their static archives took its start from 3.9 ms to
# 1.5 ms here. gpgme still runs gpg as a separate program, as always.
CTR_VERIFY_STATIC := -ljansson -lgpgme -lassuan -lgpg-error -lcrypto
$(BUILD)/bin/ctr-verify: LDLIBS := $(filter-out $(CTR_VERIFY_STATIC),$(PKG_LIBS)) -Wl,-Bstatic $(CTR_VERIFY_STATIC) -Wl,-Bdynamic -lpthread
# Both have libcrypto in the program already: lib/core/digest_linked.c
# lets digest.c hash with it rather than load libcrypto.so.3 again.
$(BUILD)/bin/ctr-net $(BUILD)/bin/ctr-verify: LDFLAGS += -Wl,-u,ctr_crypto_linked

$(BUILD)/bin/%: $(BUILD)/bin/%.o $(BUILD)/libctr.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(BUILD)/libctr.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -Wl,--as-needed -o $@ $^ $(LDLIBS)

.PRECIOUS: $(BUILD)/%.o

deps:
	@if [ "$$(id -u)" != 0 ]; then echo "make deps: run as root (it calls apt-get)" >&2; exit 1; fi
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
	  $$(grep -v '^#' packages.txt) >/dev/null
	@echo "make deps: installed $$(grep -vc '^#' packages.txt) packages"

check: all
	@tests/run-all.sh $(BUILD)

# AddressSanitizer + UBSan build in its own tree, then the same suite.
asan:
	$(MAKE) BUILD=build-asan CC=gcc \
	  EXTRA_CFLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -O1" \
	  LDFLAGS="-fsanitize=address,undefined" all
	CTR_SKIP_FUZZ=1 ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  tests/run-all.sh build-asan

# The suite with every ctr tool run under valgrind's memcheck. Reports go
# to files (valgrind's own notes would otherwise change the tools' stderr);
# a memcheck error makes the tool exit 99, failing its test.
VG_LOGS ?= /tmp/ctr-valgrind
valgrind: all
	rm -rf $(VG_LOGS) && mkdir -p $(VG_LOGS)
	CTR_SKIP_FUZZ=1 CTR_TEST_WRAPPER="valgrind -q --suppressions=$(CURDIR)/tests/valgrind.supp --log-file=$(VG_LOGS)/%p.log --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
	  tests/run-all.sh $(BUILD)
	@! grep -l "ERROR SUMMARY: [1-9]\|definitely lost: [1-9]\|Invalid \|uninitialised" $(VG_LOGS)/*.log 2>/dev/null

FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -g -O1
fuzz-build:
	$(MAKE) BUILD=build-fuzz CC=clang EXTRA_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -O1 -Wno-unused-command-line-argument" \
	  build-fuzz/libctr.a
	@mkdir -p build-fuzz/fuzz
	for t in $(FUZZ_TARGETS); do \
	  clang $(CPPFLAGS) $(PKG_CFLAGS) $(FUZZ_FLAGS) -o build-fuzz/fuzz/$$t tests/fuzz/$$t.c \
	    build-fuzz/libctr.a $(PKG_LIBS) -lpthread || exit 1; done

# Long fuzzing, separate from `make check`: FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 600
fuzz: fuzz-build
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p build-fuzz/corpus/$$t; \
	  build-fuzz/fuzz/$$t -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus/$$t tests/fuzz/corpus/$$t || exit 1; done

bench: all
	bench/unpack.sh

demo: all
	examples/base-image.sh

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 $(TOOLS:%=$(BUILD)/bin/%) $(DESTDIR)$(BINDIR)/
	$(if $(MAN1),install -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/)
	$(if $(MAN5),install -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/)
	$(if $(MAN7),install -m 0644 $(MAN7) $(DESTDIR)$(MANDIR)/man7/)
	install -d $(DESTDIR)$(DATADIR)/ctr/seccomp
	install -m 0644 share/seccomp/default.json $(DESTDIR)$(DATADIR)/ctr/seccomp/default.json
	for t in $(TOOLS); do \
	  [ -f completions/bash/$$t ] && install -m 0644 completions/bash/$$t $(DESTDIR)$(BASHCOMPDIR)/$$t; \
	  [ -f completions/zsh/_$$t ] && install -m 0644 completions/zsh/_$$t $(DESTDIR)$(ZSHCOMPDIR)/_$$t; \
	done; true

clean:
	rm -rf build build-asan build-fuzz

.PHONY: all deps check asan valgrind fuzz fuzz-build bench demo install clean
