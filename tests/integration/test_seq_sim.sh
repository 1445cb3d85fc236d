#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The anytime-valid sequential triggers in simulated time, smoke size
# (issue 15, "Correctness and evidence"): seq-sim --smoke drives the real
# cn_seq_init / cn_seq_update through 1,000 A/A rollouts of 2 hours on the
# issue's ramp (error rate alone) and 20 each with all three metrics: on
# the ramp, with the weight redrawn every minute, and restarted from a
# saved state at a random second; and 20 canaries with 3x stable's error
# rate at 5%. Checked here, from its output: the A/A false-fire count is
# not significantly above alpha = 0.01 (one-sided exact binomial test at
# 1%), while naive per-look testing of the same data fires far more often
# (so the A/A data are noisy enough to fool a test); every restored run
# matched the uninterrupted one; every 3x-error canary was rolled back by
# the sequential triggers. The full campaign (`make sim-sequential`) is
# CPU-heavy and not part of `make test`.
. tests/integration/lib.sh
: "${SEQ_SIM:=build/seq-sim}"

run "$SEQ_SIM" --smoke
expect_ok

# "| A/A, error rate alone, ramp | 0.00% [0.00, 0.37] (0 of 1000) | 1 | pass | 32.80% ... (328 of 1000) | ..."
row=$(grep -E '^\| A/A, error rate alone, ramp \|' "$TMP/out") ||
    die "no error-rate A/A row: $(head -c 400 "$TMP/out")"
k=$(printf '%s\n' "$row" | awk -F' \\| ' '{ print $2 }' | sed -E 's/.*\(([0-9]+) of [0-9]+\).*/\1/')
n=$(printf '%s\n' "$row" | awk -F' \\| ' '{ print $2 }' | sed -E 's/.*\([0-9]+ of ([0-9]+)\).*/\1/')
naive=$(printf '%s\n' "$row" | awk -F' \\| ' '{ print $5 }' | sed -E 's/.*\(([0-9]+) of [0-9]+\).*/\1/')
[ "$n" -ge 1000 ] || die "A/A: $n replications, expected at least 1000"
# P(X >= k) for X ~ binomial(n, 0.01), from the log pmf
awk -v k="$k" -v n="$n" -v p=0.01 'BEGIN {
    below = 0; lp = n * log(1 - p)
    for (i = 0; i < k; i++) { below += exp(lp); lp += log((n - i) / (i + 1)) + log(p / (1 - p)) }
    tail = 1 - below
    if (tail < 0.01) { printf "P(X >= %d) = %g\n", k, tail; exit 1 }
}' || die "A/A: $k of $n fired, significantly above alpha 0.01"
[ "$naive" -ge $((n / 10)) ] ||
    die "naive per-look z-test fired in only $naive of $n A/A runs (expected far above alpha)"
NCHECK=$((NCHECK + 1))

for s in 'A/A, three metrics, ramp' \
    'A/A, three metrics, weight redrawn every minute, both arms drifting with it' \
    'A/A, three metrics, ramp, restart at a random second, restored from the saved state'; do
    grep -Fq "| $s | " "$TMP/out" || die "no row '$s'"
    grep -F "| $s | " "$TMP/out" | grep -Fq ' | pass | ' || die "'$s' did not pass"
done
grep -Eq 'matched the uninterrupted run exactly .* in 20 of 20 runs' "$TMP/out" ||
    die "a restored state diverged: $(grep -o 'matched the uninterrupted[^.]*' "$TMP/out")"
grep -Eq '^\| 3x errors \(1% -> 3%\), 5% \| [^|]*\(20 of 20 fired\) \|' "$TMP/out" ||
    die "3x errors at 5% not always detected: $(grep -F '3x errors' "$TMP/out")"
grep -Eq 'error rate: canary worse than stable by more than the 0.5-point margin, anytime-valid p = ' \
    "$TMP/out" || die "no reason in words for the error rate"

# --bench prints its table (its numbers are not checked: no wall-clock limits)
run "$SEQ_SIM" --bench
expect_ok
grep -Eq '^\| cn_seq_update, all sequential triggers, identical arms' "$TMP/out" ||
    die "no bench row: $(head -c 400 "$TMP/out")"

# A usage error is one line and exit 2.
run "$SEQ_SIM" --reps-aa 0
expect_error 2 '^usage: seq-sim '
run "$SEQ_SIM" --smoke --bench
expect_error 2 '^usage: seq-sim '
echo "ok $NCHECK checks"
