# barge — one binary, build/barge, and beside it build/barge-init, the init process the agent
# runs as PID 1 of a container that asks for one.  `make` builds both; `make check` runs every test (plain and
# sanitizer builds); `make demo` sets up a fresh machine and runs the demo.

CC       ?= cc
PKGS     := libmicrohttpd jansson sqlite3 libcurl libcrypto libpq
# Recursive (=) so that pkg-config runs only when a compile needs it, after scripts/deps.sh.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))

WARN     := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wstrict-prototypes
CFLAGS   ?= -O2 -g
# barge-init's flags, taken before a sanitizer build replaces CFLAGS: the sanitizers' runtimes do
# not link statically, and barge-init must.
INIT_CFLAGS := -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -Isrc -MMD -MP
ALL_CFLAGS = -std=gnu11 $(WARN) $(CFLAGS) -D_GNU_SOURCE -Isrc -I$(BUILD)/gen $(PKG_CFLAGS) -MMD -MP
LDLIBS_ALL = $(PKG_LIBS) -lpthread -lm
# The allocator of barge and its unit tests: jemalloc, which takes malloc's place in the whole
# process.  The core thread makes and frees many small JSON values and texts a second, and glibc's
# malloc spent a good part of its time merging free chunks (bench/agent_load.py: exchange p99
# 45-57 ms with it, 28-37 ms with jemalloc).  Sanitizer and fuzzing builds keep their runtime's
# own allocator, which they need.
MALLOC_LIBS = $(shell pkg-config --libs jemalloc)

# BUILD may be overridden (make BUILD=build/mine) to keep several builds apart.
BUILD    ?= build
ifeq ($(SAN),1)
override BUILD := $(BUILD)/san
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
MALLOC_LIBS :=
endif

# src/ is layered by folder (docs/architecture.md); every .c below it is part of the binary but
# those of src/init/, which make barge-init alone: a static executable that needs nothing from the
# images it runs in, linked against libc and nothing else.
INIT_SRCS := $(wildcard src/init/*.c)
INIT_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(INIT_SRCS))
SRCS     := $(filter-out $(INIT_SRCS),$(wildcard src/*.c src/*/*.c src/*/*/*.c))
OBJS     := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(SRCS))
LIBOBJS  := $(filter-out $(BUILD)/obj/main.o,$(OBJS))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))

.PHONY: all deps test unit e2e check sanitize valgrind demo bench bench-smoke clean layers layers-selftest fuzz fuzz-check
all: $(BUILD)/barge $(BUILD)/barge-init

$(BUILD)/barge: $(OBJS)
	@echo "  LD    $@"
	@$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS_ALL) $(MALLOC_LIBS)

$(BUILD)/barge-init: $(INIT_OBJS)
	@echo "  LD    $@"
	@$(CC) -static -o $@ $^

$(INIT_OBJS): $(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(INIT_CFLAGS) -c -o $@ $<

# The instance type catalogue is data (data/instance-types.tsv), built into the binary as C
# initializers that src/common/catalog.c includes.
$(BUILD)/gen/catalog_types.inc: data/instance-types.tsv
	@mkdir -p $(dir $@)
	@echo "  GEN   $@"
	@awk -F'\t' '!/^#/ && NF >= 5 { printf "    {\"%s\", %d, %d, %d, \"%s\"},\n", $$1, $$2, $$3, $$4, $$5 }' $< > $@.tmp
	@mv $@.tmp $@
$(BUILD)/obj/common/catalog.o $(BUILD)/fuzz/obj/common/catalog.o: $(BUILD)/gen/catalog_types.inc

# The web console (docs/console.md): console/src bundled by esbuild from the npm packages that
# console/package-lock.json pins, and embedded as C initializers that src/server/http_console.c
# includes.
CONSOLE_INPUTS := $(wildcard console/src/*) console/build.sh console/build.mjs console/package.json \
                  console/package-lock.json
$(BUILD)/gen/console_assets.inc: $(CONSOLE_INPUTS)
	@echo "  GEN   $@"
	@sh console/build.sh $(BUILD)/console $@
$(BUILD)/obj/server/http_console.o $(BUILD)/fuzz/obj/server/http_console.o: $(BUILD)/gen/console_assets.inc

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/unit/%: tests/unit/%.c $(wildcard tests/unit/*.h) $(LIBOBJS) | $(BUILD)/unit
	@echo "  CC    $<"
	@$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $< $(LIBOBJS) $(LDLIBS_ALL) $(MALLOC_LIBS)

$(BUILD)/unit:
	mkdir -p $@

deps:
	./scripts/deps.sh

# Unit tests: each binary is its own process.  End-to-end tests drive the real server.
unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# Several modules at a time: most of the suite waits on deadlines and restarts.  On two CPUs
# (2026-12-07, 74 modules) the plain build's suite took 790 s with three workers and 664 s with
# four, the CPUs still a third idle; under the sanitizers, which keep the CPUs busier, 909 s with
# three and 828 s with four, where a console page then went past its 15 s wait.  So four workers
# for the plain build and three under the sanitizers.  E2E_JOBS=1 runs it in one process, as
# unittest alone would.
E2E_JOBS ?= $(if $(filter 1,$(SAN)),3,4)
e2e: $(BUILD)/barge $(BUILD)/barge-init
	BARGE=$(CURDIR)/$(BUILD)/barge python3 tests/e2e/run.py \
		$(if $(filter-out 1,$(E2E_JOBS)),-j $(E2E_JOBS)) $(E2E_ARGS)

# The builds use every CPU (JOBS): compiling is the one part of `make check` that keeps both
# CPUs busy, and a serial build of the three builds (plain, sanitizers, fuzzers) took minutes.
# The tests run one after another, as before.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: layers layers-selftest
	$(MAKE) -j$(JOBS) all $(UNIT_BINS)
	$(MAKE) unit
	$(MAKE) e2e

# The layering check (scripts/check_layers.py, docs/architecture.md) and its own test: no include
# upwards or in a cycle, agent/ and cli/ apart from server/, no source file over 800 lines.
layers:
	python3 scripts/check_layers.py

layers-selftest:
	python3 tests/layers/test_check_layers.py

sanitize:
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(MAKE) SAN=1 test

# The unit tests under valgrind's memcheck: ASan sees the accesses of barge's own code only, and
# a block freed by barge and then read inside jansson went unseen by it.  jemalloc is named as
# the allocator valgrind must replace; the forked children of the tests that check aborts are
# left out (they die on purpose).  test_exec_process is left out: valgrind runs a posix_spawn'd
# child as a fork, and an exec that fails is then seen as a start.  Two at a time.
VALGRIND_UNIT := $(filter-out $(BUILD)/unit/test_exec_process,$(UNIT_BINS))
VALGRIND = valgrind -q --soname-synonyms=somalloc=*jemalloc* --child-silent-after-fork=yes \
           --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
valgrind: $(VALGRIND_UNIT)
	@printf '%s\n' $(VALGRIND_UNIT) | xargs -P2 -I{} sh -c \
	    '$(VALGRIND) {} > {}.valgrind 2>&1 && echo "== {}: clean" || \
	     { echo "== {}: FAILED"; cat {}.valgrind; exit 1; }'

# Fuzzing (fuzz/README.md): libFuzzer harnesses built with clang against the sources of barge,
# compiled apart with the fuzzer's coverage and the sanitizers.  `make fuzz` runs each for
# FUZZ_SECONDS; `make fuzz-check` (part of `make check`) runs each for FUZZ_CHECK_SECONDS.  The
# seeds in fuzz/corpus/HARNESS/ are read, never written: what a run finds goes to
# $(BUILD)/fuzz/corpus/HARNESS/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CHECK_SECONDS ?= 3
FUZZ_CFLAGS  = -std=gnu11 $(WARN) -O1 -g -fno-omit-frame-pointer -D_GNU_SOURCE -Isrc -I$(BUILD)/gen \
               $(PKG_CFLAGS) -MMD -MP -fsanitize=fuzzer-no-link,address,undefined \
               -fno-sanitize-recover=undefined
FUZZ_SRCS    := $(wildcard fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))
FUZZ_OBJS    := $(patsubst src/%.c,$(BUILD)/fuzz/obj/%.o,$(filter-out src/main.c,$(SRCS)))
.SECONDARY: $(FUZZ_OBJS)

$(BUILD)/fuzz/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	@echo "  FUZZCC $<"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

$(BUILD)/fuzz/%: fuzz/%.c $(FUZZ_OBJS)
	@mkdir -p $(dir $@)
	@echo "  FUZZLD $@"
	@$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $(filter fuzz/%.c,$^) $(FUZZ_OBJS) $(LDLIBS_ALL)

# A harness's files of its own, beside fuzz/NAME.c.
$(BUILD)/fuzz/fuzz_api: fuzz/api_client.c fuzz/api_client.h

FUZZ_RUN = set -e; for b in $(FUZZ_BINS); do h=$$(basename $$b); mkdir -p $(BUILD)/fuzz/corpus/$$h; \
	echo "== $$h"; ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	$$b -max_total_time=$(1) -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/$$h- \
	$(BUILD)/fuzz/corpus/$$h fuzz/corpus/$$h >$(BUILD)/fuzz/$$h.log 2>&1 || \
	{ tail -40 $(BUILD)/fuzz/$$h.log; echo "fuzz: $$h failed (the input is in $(BUILD)/fuzz/$$h-*)"; \
	  exit 1; }; grep -E '^stat::number_of_executed_units|^Done' $(BUILD)/fuzz/$$h.log; done

fuzz: $(FUZZ_BINS)
	@$(call FUZZ_RUN,$(FUZZ_SECONDS))

fuzz-check:
	$(MAKE) -j$(JOBS) $(FUZZ_BINS)
	@$(call FUZZ_RUN,$(FUZZ_CHECK_SECONDS))

# The README's test command.
check: deps
	$(MAKE) test
	$(MAKE) sanitize
	$(MAKE) valgrind
	$(MAKE) fuzz-check
	$(MAKE) bench-smoke

# A short run of the fleet benchmarks (bench/README.md), to show they still work; the figures
# they print here are not the benchmark's.
bench-smoke: $(BUILD)/barge
	python3 bench/restart_survival.py --barge $(CURDIR)/$(BUILD)/barge --jobs 30 --sleep 6
	python3 bench/agent_load.py --barge $(CURDIR)/$(BUILD)/barge --agents 50 --jobs 5000 \
		--idle-seconds 2 --run-ms 200
	python3 bench/retention.py --barge $(CURDIR)/$(BUILD)/barge --jobs 30000 --array 5000 \
		--plain 50 --retention-seconds 1 --agents 10 --sample-seconds 0.5
	python3 bench/console_pages.py --barge $(CURDIR)/$(BUILD)/barge --jobs 2000 --repeat 2

# The README's first command: set up a fresh machine, then run the demo.
demo: deps
	$(MAKE) -j$(JOBS) all
	BARGE=$(CURDIR)/$(BUILD)/barge ./scripts/demo.sh

bench: deps
	$(MAKE) -j$(JOBS) all
	BARGE=$(CURDIR)/$(BUILD)/barge ./bench/run.sh

clean:
	rm -rf build

-include $(OBJS:.o=.d) $(INIT_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d)
