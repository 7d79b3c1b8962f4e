# barge — one binary, build/barge.  `make` builds it; `make check` runs every test (plain and
# sanitizer builds); `make demo` sets up a fresh machine and runs the demo.

CC       ?= cc
PKGS     := libmicrohttpd jansson sqlite3 libcurl libcrypto
# Recursive (=) so that pkg-config runs only when a compile needs it, after scripts/deps.sh.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wstrict-prototypes
CFLAGS   ?= -O2 -g
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -Isrc $(PKG_CFLAGS) -MMD -MP
LDLIBS_ALL = $(PKG_LIBS) -lpthread -lm

# BUILD may be overridden (make BUILD=build/mine) to keep several builds apart.
BUILD    ?= build
ifeq ($(SAN),1)
override BUILD := $(BUILD)/san
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

# src/ is layered by folder (docs/architecture.md); every .c below it is part of the binary.
SRCS     := $(wildcard src/*.c src/*/*.c src/*/*/*.c)
OBJS     := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
LIBOBJS  := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

.PHONY: all deps test unit e2e check sanitize demo bench clean layers layers-selftest
all: $(BUILD)/barge

$(BUILD)/barge: $(OBJS)
	@echo "  LD    $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c $(LIBOBJS) | $(BUILD)/unit
	@echo "  CC    $<"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS_ALL)

$(BUILD)/unit:
	mkdir -p $@

deps:
	./scripts/deps.sh

# Unit tests: each binary is its own process.  End-to-end tests drive the real server.
unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

e2e: $(BUILD)/barge
	BARGE=$(CURDIR)/$(BUILD)/barge python3 tests/e2e/run.py $(E2E_ARGS)

test: layers layers-selftest all unit e2e

# The layering check (scripts/check_layers.py, docs/architecture.md) and its own test: no include
# upwards or in a cycle, agent/ and cli/ apart from server/, no source file over 800 lines.
layers:
	python3 scripts/check_layers.py

layers-selftest:
	python3 tests/layers/test_check_layers.py

sanitize:
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(MAKE) SAN=1 test

# The README's test command.
check: deps
	$(MAKE) test
	$(MAKE) sanitize

# The README's first command: set up a fresh machine, then run the demo.
demo: deps
	$(MAKE) all
	BARGE=$(CURDIR)/$(BUILD)/barge ./scripts/demo.sh

bench: deps
	$(MAKE) all
	./bench/run.sh

clean:
	rm -rf build

-include $(OBJS:.o=.d)
