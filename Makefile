# SPDX-License-Identifier: GPL-3.0-or-later
#
# canary: one binary (build/canary), one library (build/libcanary.a) that the
# binary, the tests and the benchmarks link.
#
#   make            build everything into build/
#   make test       install deps, build, run unit + integration tests, then
#                   rebuild into build-asan/ and run it all again under
#                   AddressSanitizer + UndefinedBehaviorSanitizer
#   make demo       the main job (see README.md)
#   make bench      statistics benchmark next to scipy; writes docs/BENCHMARKS.md
#   make golden     regenerate tests/golden/ from scipy/statsmodels/R
#   make SAN=1 ...  any target, sanitized, in build-asan/

CC      ?= cc
PKGS    := gsl jansson
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

CFLAGS  ?= $(OPT)
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -Isrc $(PKG_CFLAGS) $(SANFLAGS) -MMD -MP
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lm -lpthread

LIB_SRCS := $(filter-out src/cli/main.c,$(wildcard src/*/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(BUILD)/obj/src/cli/main.o

UNIT_SRCS := $(wildcard tests/unit/*.c tests/unit/*/*.c)
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/obj/%.o)


.PHONY: all deps test check unit integration demo bench golden clean format

all: $(BUILD)/canary $(BUILD)/libcanary.a $(BUILD)/bench-stats

$(BUILD)/libcanary.a: $(LIB_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/canary: $(CLI_OBJS) $(BUILD)/libcanary.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench-stats: $(BUILD)/obj/bench/bench_stats.o $(BUILD)/libcanary.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/test-unit: $(UNIT_OBJS) $(BUILD)/libcanary.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcriterion

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itests/unit -c -o $@ $<

deps:
	@scripts/deps.sh

# The whole suite, twice: plain, then under ASan + UBSan.
test: deps
	$(MAKE) check
	$(MAKE) SAN=1 check

check: unit integration

unit: $(BUILD)/test-unit
	$(BUILD)/test-unit --jobs 2

integration: $(BUILD)/canary
	CANARY=$(BUILD)/canary tests/integration/run.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh $(BUILD)/canary

bench: deps
	scripts/deps.sh --bench
	$(MAKE) all
	bench/run.sh $(BUILD)/bench-stats

golden:
	scripts/deps.sh --golden
	/usr/bin/python3 tools/golden.py

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan

-include $(LIB_OBJS:.o=.d) $(CLI_OBJS:.o=.d) $(UNIT_OBJS:.o=.d)
