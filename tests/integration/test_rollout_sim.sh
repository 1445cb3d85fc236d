#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Whole rollouts, smoke size (issue 14, "Simulation"): rollout-sim --quick
# drives the real state machine, triggers and judge through 40 A/A rollouts
# with unequal segments (the example strategy's durations divided by 10) and
# 100 canaries that answer every request with a 500, and exits 0 only when
# the A/A rollback rate is not significantly above alpha + 1e-7 x trigger
# checks, no rollout waits forever for samples, every gross failure is rolled
# back, and its median time from the first canary request is at most 2 s.
# The full run (`make sim-rollout`) takes minutes and is not part of
# `make test`.
. tests/integration/lib.sh
: "${ROLLOUT_SIM:=build/rollout-sim}"

run "$ROLLOUT_SIM" --quick
expect_ok
grep -Eq '^\| A/A, segments 90/10, durations / 10 \| 40 \| ' "$TMP/out" ||
    die "no A/A row: $(head -c 400 "$TMP/out")"
grep -Eq '^\| every answer a 500, 1% \| 100 of 100 \| 0 / 100 \| ' "$TMP/out" ||
    die "gross failures not all rolled back by a trigger: $(cat "$TMP/out")"

# A usage error is one line and exit 2.
run "$ROLLOUT_SIM" --rollouts 0
expect_error 2 '^usage: rollout-sim '
echo "ok $NCHECK checks"
