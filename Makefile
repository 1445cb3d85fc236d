# SPDX-License-Identifier: GPL-3.0-or-later
#
# canary: one binary (build/canary), one library (build/libcanary.a) that the
# binary, the tests and the benchmarks link.
#
#   make            build everything into build/
#   make check      lint (format, module arrows, build flags), unit, integration
#   make test       install deps, build, run unit + integration tests, then
#                   rebuild into build-asan/ and run it all again under
#                   AddressSanitizer + UndefinedBehaviorSanitizer
#   make demo       the main job (see README.md); installs only what it runs
#   make bench      statistics benchmark next to scipy; writes docs/BENCHMARKS.md
#   make golden     regenerate tests/golden/ from scipy/statsmodels/R
#   make sim-rollout  whole rollouts in simulated time; writes docs/JUDGE.md
#   make SAN=1 ...  any target, sanitized, in build-asan/

CC      ?= cc
PKGS    := gsl jansson libcrypto libcurl libfyaml libuv sqlite3
SAN     ?= 0

ifeq ($(SAN),1)
BUILD   ?= build-asan
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
OPT     := -O1 -g
else
BUILD   ?= build
SANFLAGS :=
OPT     := -O2 -g
endif

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

# The project's own flags live apart from CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS,
# which are the user's: `make CFLAGS=-O0` changes the optimisation and keeps
# the include paths, the warnings and the libraries. The user's flags come
# last, so they can override ours (-O0, -Wno-error).
CFLAGS  ?= $(OPT)
CN_CPPFLAGS := -D_GNU_SOURCE -Isrc $(PKG_CFLAGS)
CN_CFLAGS   := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
               -Wmissing-prototypes $(SANFLAGS) -MMD -MP
CN_LDFLAGS  := $(SANFLAGS)
CN_LDLIBS   := $(PKG_LIBS) -lhttp_parser -lm -lpthread
COMPILE  = $(CC) $(CN_CPPFLAGS) $(CPPFLAGS) $(CN_CFLAGS) $(CFLAGS)
LINK     = $(CC) $(CN_LDFLAGS) $(LDFLAGS) -o $@ $^ $(CN_LDLIBS) $(LDLIBS)

LIB_SRCS := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
# The dashboard's files (src/api/ui/) go into the library as one generated
# C source (tools/embed-assets.sh, api/ui.h), rebuilt when a file changes.
UI_FILES := $(sort $(wildcard src/api/ui/*))
LIB_OBJS += $(BUILD)/obj/gen/ui_assets.o
CLI_OBJS := $(BUILD)/obj/src/cli/main.o

UNIT_SRCS := $(wildcard tests/unit/*.c tests/unit/*/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/obj/%.o)


.PHONY: all install uninstall deps test check lint format-check include-check flags-check unit integration \
        demo demo-serve bench bench-remote bench-router bench-haproxy bench-router-scaling bench-rollout bench-snapshot golden clean format fuzz fuzz-smoke \
        sim-rollout sim-sequential sim-anytime bench-sequential

all: $(BUILD)/canary $(BUILD)/canary.1 $(BUILD)/libcanary.a $(BUILD)/bench-stats $(BUILD)/judge-sim \
     $(BUILD)/rollout-sim $(BUILD)/seq-sim $(BUILD)/model-server $(BUILD)/haproxy-driver $(BUILD)/idle-conns \
     $(BUILD)/example-model-server $(BUILD)/remote-drive

# Rebuilt from scratch (`ar r` would keep the objects of deleted sources),
# also when a source is only removed: the list of sources is a prerequisite,
# rewritten when it changes.
LIB_LIST := $(BUILD)/libcanary.list
$(shell mkdir -p $(BUILD); echo '$(LIB_SRCS)' | cmp -s - $(LIB_LIST) || \
  echo '$(LIB_SRCS)' >$(LIB_LIST))

$(BUILD)/libcanary.a: $(LIB_OBJS) $(LIB_LIST)
	@rm -f $@
	$(AR) rcs $@ $(LIB_OBJS)

$(BUILD)/canary: $(CLI_OBJS) $(BUILD)/libcanary.a
	$(LINK)

# canary(1), rendered from the binary's own help texts.
$(BUILD)/canary.1: $(BUILD)/canary man/mkman.sh
	man/mkman.sh $(BUILD)/canary >$@.tmp && mv $@.tmp $@

# `make install PREFIX=/usr DESTDIR=...` (docs/INSTALL.md): the binary, its
# man page, and the example config and systemd unit; the unit's ExecStart=
# names the installed binary. `make uninstall` removes exactly these.
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man/man1
DOCDIR  ?= $(PREFIX)/share/doc/canary
INSTALLED := $(BINDIR)/canary $(MANDIR)/canary.1 $(DOCDIR)/canary.yaml \
             $(DOCDIR)/canary.service

install: $(BUILD)/canary $(BUILD)/canary.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR) $(DESTDIR)$(DOCDIR)
	install -m 755 $(BUILD)/canary $(DESTDIR)$(BINDIR)/canary
	install -m 644 $(BUILD)/canary.1 $(DESTDIR)$(MANDIR)/canary.1
	install -m 644 contrib/canary.yaml $(DESTDIR)$(DOCDIR)/canary.yaml
	sed 's|^ExecStart=/usr/local/bin/canary |ExecStart=$(BINDIR)/canary |' \
	  contrib/canary.service >$(DESTDIR)$(DOCDIR)/canary.service
	chmod 644 $(DESTDIR)$(DOCDIR)/canary.service

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	[ ! -d $(DESTDIR)$(DOCDIR) ] || rmdir --ignore-fail-on-non-empty $(DESTDIR)$(DOCDIR)

$(BUILD)/bench-stats: $(BUILD)/obj/bench/bench_stats.o $(BUILD)/libcanary.a
	$(LINK)

$(BUILD)/judge-sim: $(BUILD)/obj/tests/sim/judge_sim.o $(BUILD)/libcanary.a
	$(LINK)

# Whole rollouts in simulated time (docs/JUDGE.md, "Whole rollouts");
# `make sim-rollout` runs the full report (minutes; not part of `make test`).
$(BUILD)/rollout-sim: $(BUILD)/obj/tests/sim/rollout_sim.o $(BUILD)/libcanary.a
	$(LINK)

# The anytime-valid sequential triggers in simulated time (docs/JUDGE.md,
# "Anytime-valid triggers: simulations"); `make sim-sequential` runs the
# full report (CPU-heavy; not part of `make test`, which runs --smoke).
$(BUILD)/seq-sim: $(BUILD)/obj/tests/sim/seq_sim.o $(BUILD)/libcanary.a
	$(LINK)

# How much shorter the bake is with anytime analyses (docs/JUDGE.md,
# "Anytime step analyses"); `make sim-anytime` prints the table.
$(BUILD)/anytime-sim: $(BUILD)/obj/tests/sim/anytime_sim.o $(BUILD)/libcanary.a
	$(LINK)

sim-anytime: $(BUILD)/anytime-sim
	$(BUILD)/anytime-sim --reps 1000

# The remote engine from the command line (tests/integration/test_remote.sh,
# bench/remote.sh).
$(BUILD)/remote-drive: $(BUILD)/obj/tests/backend/remote_drive.o $(BUILD)/libcanary.a
	$(LINK)

# A real HTTP model server for the tests and benchmarks (libuv): answers
# KServe v2 JSON, can be told to fail, stall or slow down.
$(BUILD)/model-server: $(BUILD)/obj/tests/backend/model_server.o $(BUILD)/libcanary.a
	$(LINK)

# Drives the HAProxy traffic engine directly (apply, renew) for
# tests/integration/test_haproxy_engine.sh and make bench-haproxy.
$(BUILD)/haproxy-driver: $(BUILD)/obj/tests/backend/haproxy_driver.o $(BUILD)/libcanary.a
	$(LINK)

# The demo's model server (examples/model-server/): serves one exported
# model (tools/train_demo_models.py) with KServe v2 JSON on src/http/.
EXAMPLE_SERVER_OBJS := $(BUILD)/obj/examples/model-server/model_server.o \
                       $(BUILD)/obj/examples/model-server/model.o
$(BUILD)/example-model-server: $(EXAMPLE_SERVER_OBJS) $(BUILD)/libcanary.a
	$(LINK)

# What a router snapshot costs (bench/snapshot.c); malloc and friends are
# wrapped to count the bytes asked for.
$(BUILD)/bench-snapshot: $(BUILD)/obj/bench/snapshot.o $(BUILD)/libcanary.a
	$(LINK) -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc

# Opens and holds N idle keep-alive connections (memory benchmark).
$(BUILD)/idle-conns: $(BUILD)/obj/bench/idle_conns.o
	$(LINK)

$(BUILD)/test-unit: $(UNIT_OBJS) $(BUILD)/libcanary.a
	$(LINK) -lcriterion

# Only test code sees tests/unit (the test helpers): the library, the
# binary and the benchmarks are built without it.
$(BUILD)/obj/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(COMPILE) -Itests/unit -c -o $@ $<

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(COMPILE) -c -o $@ $<

%/gen/ui_assets.c: tools/embed-assets.sh $(UI_FILES)
	@mkdir -p $(@D)
	tools/embed-assets.sh $@ $(UI_FILES)

$(BUILD)/obj/gen/ui_assets.o: $(BUILD)/gen/ui_assets.c src/api/ui.h
	@mkdir -p $(@D)
	$(COMPILE) -c -o $@ $<

# Each target installs only what it runs (scripts/deps.sh): `make demo`
# no test tools, `make test` no Prometheus server.
deps:
	@scripts/deps.sh --test

# The checks and the optimised build (-O2 -Werror finds what -O1 does not,
# such as truncated formats), then the whole suite (unit and integration)
# under ASan + UBSan; then a short, fixed-length fuzz run over every
# parser. The tests run once, sanitized: a plain run checks nothing the
# sanitized one does not, and the suite takes minutes (`make check` runs
# it plain).
test:
	scripts/deps.sh --test
	$(MAKE) lint all $(BUILD)/test-unit
	$(MAKE) SAN=1 unit integration
	$(MAKE) fuzz-smoke

check: lint unit integration

# Checks of the tree itself, quick: the format, the module arrows of
# docs/ARCHITECTURE.md (and the checker's own self-test), the build flags.
lint: format-check include-check flags-check

# The C files git tracks (every C file below, outside a git checkout).
C_FILES = $$(git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench tools -name '*.[ch]')

format-check:
	clang-format --dry-run -Werror $(C_FILES)

include-check:
	tools/check-includes-test.sh
	tools/check-includes.sh docs/ARCHITECTURE.md src

flags-check:
	tools/check-build-flags.sh

# The router's swap test runs the model server next to test-unit.
unit: $(BUILD)/test-unit $(BUILD)/model-server
	$(BUILD)/test-unit --jobs 2

integration: $(BUILD)/canary $(BUILD)/judge-sim $(BUILD)/rollout-sim $(BUILD)/seq-sim \
             $(BUILD)/model-server $(BUILD)/example-model-server $(BUILD)/haproxy-driver \
             $(BUILD)/remote-drive
	CANARY=$(BUILD)/canary JUDGE_SIM=$(BUILD)/judge-sim ROLLOUT_SIM=$(BUILD)/rollout-sim \
	  SEQ_SIM=$(BUILD)/seq-sim HAPROXY_DRIVER=$(BUILD)/haproxy-driver REMOTE_DRIVE=$(BUILD)/remote-drive \
	  MODEL_SERVER=$(BUILD)/model-server EXAMPLE_MODEL_SERVER=$(BUILD)/example-model-server \
	  tests/integration/run.sh

demo:
	scripts/deps.sh --demo
	$(MAKE) all
	scripts/demo.sh $(BUILD)/canary

# The demo, then canary serve, the models and the load kept up for the
# dashboard until Ctrl-C.
demo-serve:
	scripts/deps.sh --demo
	$(MAKE) all
	DEMO_KEEP=1 scripts/demo.sh $(BUILD)/canary

bench:
	scripts/deps.sh --build --bench
	$(MAKE) all
	bench/run.sh $(BUILD)/bench-stats

# A snapshot's cost at 8 workers x 32 segments with full reservoirs (one
# Markdown row per mask; the numbers in docs/BENCHMARKS.md come from it).
bench-snapshot: $(BUILD)/bench-snapshot
	$(BUILD)/bench-snapshot

# Whole rollouts in simulated time: the full report (about 5 CPU minutes),
# spliced into docs/JUDGE.md ("Whole rollouts"). `make test` runs only its
# smoke mode (tests/integration/test_rollout_sim.sh).
sim-rollout: $(BUILD)/rollout-sim
	tests/sim/update_rollout_docs.sh $(BUILD)/rollout-sim

# The sequential triggers' A/A, restart and detection campaigns (CPU-heavy:
# nice 19, 2 threads; the section records its wall and CPU time), spliced
# into docs/JUDGE.md ("Anytime-valid triggers: simulations").
sim-sequential: $(BUILD)/seq-sim
	nice -n 19 tests/sim/update_seq_docs.sh $(BUILD)/seq-sim

# One evaluation of every sequential trigger at 32 segments
# (docs/BENCHMARKS.md, "Sequential triggers").
bench-sequential: $(BUILD)/seq-sim
	$(BUILD)/seq-sim --bench

# One canary control driving 100 concurrent rollouts through HAProxy, measured
# from Prometheus (docs/BENCHMARKS.md, "One controller, 100 rollouts").
# (its own .PHONY line: the list above is where merges meet)
.PHONY: bench-scale
bench-scale:
	scripts/deps.sh --build --bench-router --test
	$(MAKE) all
	bench/scale.sh $(BUILD)

# The data plane next to HAProxy and NGINX, with wrk; writes docs/BENCHMARKS.md.
bench-router:
	scripts/deps.sh --build --demo --bench-router
	$(MAKE) all
	bench/router.sh $(BUILD)

# The rollback time through HAProxy (bench/haproxy.sh): the HAProxy engine
# driven directly under wrk load; writes its section of docs/BENCHMARKS.md.
bench-haproxy: $(BUILD)/canary $(BUILD)/model-server $(BUILD)/haproxy-driver
	scripts/deps.sh --build --bench-haproxy
	bench/haproxy.sh $(BUILD)

# The grid of bench-router at 1 to 16 workers (at most nproc), proxies and
# load on separate halves of the CPUs; writes docs/BENCHMARKS-scaling.md.
# Three canary serve replicas under the remote engine, under wrk load: the
# rollback's cut-off at the canary backends and the lease's fallback when
# the controller is killed (docs/BENCHMARKS.md, "Several replicas").
bench-remote: $(BUILD)/canary $(BUILD)/remote-drive $(BUILD)/model-server
	bench/remote.sh $(BUILD)

bench-router-scaling:
	scripts/deps.sh --build --demo --bench-router
	$(MAKE) all
	bench/router-scaling.sh $(BUILD)

# Whole rollouts on real processes (canary serve with a strategy, model
# servers, a fixed 500 requests/s): detection times; writes the "Measured
# with real processes" part of docs/BENCHMARKS.md. About 25 minutes; not
# part of `make test`.
bench-rollout:
	scripts/deps.sh --build --demo --bench-router
	$(MAKE) all
	bench/rollout.sh $(BUILD)

golden:
	scripts/deps.sh --golden
	/usr/bin/python3 tools/golden.py

# libFuzzer targets (clang): tests/fuzz/fuzz_<name>.c over a corpus in
# tests/fuzz/corpus/<name>/. `make fuzz` runs each for FUZZ_SECONDS;
# `make fuzz-smoke` (part of `make test`) runs a fixed number of inputs.
# New inputs go to build-fuzz/, never into the committed seed corpus.
FUZZ_SRCS    := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?= 200000
FUZZ_CFLAGS  := -std=c11 -D_GNU_SOURCE -g -O1 -Isrc $(PKG_CFLAGS) \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

# The library is compiled once for all targets, with the same flags.
FUZZ_OBJS := $(LIB_SRCS:%.c=build-fuzz/obj/%.o)
FUZZ_OBJS += build-fuzz/obj/gen/ui_assets.o

build-fuzz/obj/gen/ui_assets.o: build-fuzz/gen/ui_assets.c src/api/ui.h
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -c -o $@ $<

build-fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

build-fuzz/libfuzzcanary.a: $(FUZZ_OBJS) $(LIB_LIST)
	@rm -f $@
	$(AR) rcs $@ $(FUZZ_OBJS)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c build-fuzz/libfuzzcanary.a
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -o $@ $< build-fuzz/libfuzzcanary.a $(PKG_LIBS) -lhttp_parser -lm \
	  -lpthread

# The example model server's request decoder is not in the library.
build-fuzz/fuzz_model_request: tests/fuzz/fuzz_model_request.c examples/model-server/model.c \
                               build-fuzz/libfuzzcanary.a
	clang $(FUZZ_CFLAGS) -Iexamples/model-server -o $@ $(filter %.c,$^) \
	  build-fuzz/libfuzzcanary.a $(PKG_LIBS) -lhttp_parser -lm -lpthread

fuzz:
	scripts/deps.sh --build --fuzz
	$(MAKE) $(FUZZ_BINS)
	@for b in $(FUZZ_BINS); do n=$${b#build-fuzz/fuzz_}; mkdir -p build-fuzz/corpus-$$n; \
	  echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
	  $$b -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 build-fuzz/corpus-$$n tests/fuzz/corpus/$$n || exit 1; done

fuzz-smoke:
	scripts/deps.sh --build --fuzz
	$(MAKE) $(FUZZ_BINS)
	@for b in $(FUZZ_BINS); do n=$${b#build-fuzz/fuzz_}; \
	  rm -rf build-fuzz/smoke-$$n; mkdir -p build-fuzz/smoke-$$n; \
	  if $$b -runs=$(FUZZ_RUNS) -seed=1 build-fuzz/smoke-$$n tests/fuzz/corpus/$$n \
	     >build-fuzz/smoke-$$n.log 2>&1; then echo "fuzz $$n: $$(tail -n 1 build-fuzz/smoke-$$n.log)"; \
	  else tail -n 30 build-fuzz/smoke-$$n.log; echo "fuzz $$n: FAILED"; exit 1; fi; done

format:
	clang-format -i $(C_FILES)

clean:
	rm -rf build build-asan build-fuzz

# Every object's header dependencies, the simulations' and benchmarks' too
# (without them an incremental build linked a stale rollout_sim.o against
# a changed struct layout, and the simulation read the wrong fields).
-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(FUZZ_OBJS:.o=.d) \
  $(BUILD)/obj/tests/backend/model_server.d $(EXAMPLE_SERVER_OBJS:.o=.d) \
  $(wildcard $(BUILD)/obj/tests/sim/*.d $(BUILD)/obj/bench/*.d)
