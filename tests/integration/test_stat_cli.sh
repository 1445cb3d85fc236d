#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The `canary stat` contract: JSON keys and values, stdin, text output, and
# one-line errors with sysexits codes and no partial output for bad input.
. tests/integration/lib.sh

printf '1\n2\n3\n' >"$TMP/a"
printf '4\n5\n6\n' >"$TMP/b"
printf '1.5\n2.5\n0.5\n3.5\n2.25\n' >"$TMP/c"

# Reference values below come from scipy 1.10 / statsmodels 0.13 / R 4.2,
# computed once by hand; the full comparison lives in the unit tests.

# mwu: U of X and the exact p-value (scipy: U=0, p=0.1)
run "$CANARY" stat mwu "$TMP/a" "$TMP/b" --json
expect_ok
json_close .statistic 0
json_close .pvalue 0.1
json_eq .method '"exact"'

# the same through stdin, and the greater alternative (scipy: p=1.0)
run sh -c "cat '$TMP/a' | '$CANARY' stat mwu - '$TMP/b' --alternative greater --json"
expect_ok
json_close .pvalue 1.0

# asymptotic without continuity: scipy p = 0.049534613435626706
run "$CANARY" stat mwu "$TMP/a" "$TMP/b" --method asymptotic --no-continuity --json
expect_ok
json_close .pvalue 0.049534613435626706
json_eq .method '"asymptotic"'

# ks: D = 1 for disjoint samples; scipy exact p = 0.1
run "$CANARY" stat ks "$TMP/a" "$TMP/b" --json
expect_ok
json_close .statistic 1
json_close .pvalue 0.1
json_eq .method '"exact"'

# welch: scipy ttest_ind([1,2,3],[4,5,6],equal_var=False): t=-3.6742346141747673,
# df=4.0, p=0.021311641128756727
run "$CANARY" stat welch "$TMP/a" "$TMP/b" --json
expect_ok
json_close .statistic -3.6742346141747673
json_close .df 4
json_close .pvalue 0.021311641128756727

# hl: R wilcox.test(c(1,2,3), c(4,5,6), conf.int=TRUE): estimate -3;
# with 3 and 3 values the exact 95% interval is the full range [-5, -1]
run "$CANARY" stat hl "$TMP/a" "$TMP/b" --json
expect_ok
json_close .estimate -3
json_eq '.ci | length' 2
json_close '.ci[0]' -5
json_close '.ci[1]' -1

# adjust: statsmodels multipletests([0.01,0.04,0.03], method=...)
run "$CANARY" stat adjust --method bonferroni 0.01 0.04 0.03 --json
expect_ok
json_close ".adjusted[0]" 0.03
json_close ".adjusted[1]" 0.12
json_close ".adjusted[2]" 0.09
run "$CANARY" stat adjust --method holm 0.01 0.04 0.03 --json
expect_ok
json_close '.adjusted[0]' 0.03
json_close '.adjusted[1]' 0.06
json_close '.adjusted[2]' 0.06
run "$CANARY" stat adjust --method bh 0.01 0.04 0.03 --json
expect_ok
json_close '.adjusted[0]' 0.03
json_close '.adjusted[1]' 0.04
json_close '.adjusted[2]' 0.04

# psi of a sample against itself is 0
run "$CANARY" stat psi "$TMP/c" "$TMP/c" --json
expect_ok
json_close .psi 0

# bootstrap: reproducible for a seed, keys present
run "$CANARY" stat bootstrap "$TMP/c" "$TMP/a" --statistic p99 --seed 7 --json
expect_ok
cp "$TMP/out" "$TMP/boot1"
run "$CANARY" stat bootstrap "$TMP/c" "$TMP/a" --statistic p99 --seed 7 --json
expect_ok
cmp -s "$TMP/out" "$TMP/boot1" || die "bootstrap with the same seed differs"
json_eq '.ci | length' 2
json_eq .statistic '"p99"'

# power: statsmodels NormalIndPower().solve_power(0.5, alpha=0.05, power=0.8)
# = 62.79 per arm, so 63
run "$CANARY" stat power --test means --delta 0.5 --sd 1 --json
expect_ok
json_eq .n_per_arm 63

# prop from counts and from 0/1 files give the same answer
printf '0\n1\n0\n0\n' >"$TMP/r1"
printf '0\n0\n0\n1\n1\n0\n' >"$TMP/r2"
run "$CANARY" stat prop "$TMP/r1" "$TMP/r2" --margin 0.1 --json
expect_ok
cp "$TMP/out" "$TMP/prop1"
run "$CANARY" stat prop --x 1/4 --y 2/6 --margin 0.1 --json
expect_ok
json_close .rate_x 0.25
json_close .diff -0.08333333333333331
[ "$(jq -S . "$TMP/out")" = "$(jq -S . "$TMP/prop1")" ] || die "prop counts vs files differ"

# text output is a readable summary, not JSON
run "$CANARY" stat mwu "$TMP/a" "$TMP/b"
expect_ok
grep -q "Mann-Whitney" "$TMP/out" || die "text output lacks a title"
grep -q "p = 0.1" "$TMP/out" || die "text output lacks the p-value"

# ---- bad input: one line naming file and line, exit code, no stdout ----
: >"$TMP/empty"
run "$CANARY" stat mwu "$TMP/empty" "$TMP/b" --json
expect_error 65 "empty: no values \(empty file\)"

printf '1\n2\nabc\n' >"$TMP/text"
run "$CANARY" stat mwu "$TMP/text" "$TMP/b" --json
expect_error 65 "text:3: 'abc' is not a number"

printf '1\nnan\n' >"$TMP/nan"
run "$CANARY" stat ks "$TMP/a" "$TMP/nan" --json
expect_error 65 "nan:2: 'nan' is not finite"

printf '1\n-inf\n' >"$TMP/inf"
run "$CANARY" stat hl "$TMP/inf" "$TMP/b"
expect_error 65 "inf:2: '-inf' is not finite"

printf '1\n1e999\n' >"$TMP/huge"
run "$CANARY" stat hl "$TMP/huge" "$TMP/b"
expect_error 65 "huge:2: '1e999' overflows"

printf '1 2\n' >"$TMP/two"
run "$CANARY" stat mwu "$TMP/two" "$TMP/b"
expect_error 65 "two:1: '1 2' is not a number"

printf '5\n' >"$TMP/one"
run "$CANARY" stat welch "$TMP/one" "$TMP/b" --json
expect_error 65 "one: needs at least 2 values, got 1"

run "$CANARY" stat mwu "$TMP/does-not-exist" "$TMP/b" --json
expect_error 66 "does-not-exist: No such file"

run "$CANARY" stat mwu - - --json
expect_error 64 "only one of X and Y"

run "$CANARY" stat mwu "$TMP/a" "$TMP/b" --alternative sideways
expect_error 64 "--alternative must be one of"

run "$CANARY" stat mwu "$TMP/a" "$TMP/b" --bogus 1
expect_error 64 "unknown option --bogus"

run "$CANARY" stat hl "$TMP/a" "$TMP/b" --confidence 1.5
expect_error 64 "--confidence must be in \(0, 1\)"

run "$CANARY" stat mwu "$TMP/a"
expect_error 64 "expected two sample files"

run "$CANARY" stat adjust --method holm 0.5 1.2
expect_error 65 "'1.2' is not a p-value"

run "$CANARY" stat frobnicate
expect_error 64 "unknown test 'frobnicate'"

run "$CANARY" stat prop "$TMP/c" "$TMP/a"
expect_error 65 "value 1 is 1.5; a rate sample holds only 0 and 1"

# ---- a million lines load and run (correctness, not timing) ----
awk 'BEGIN { srand(3); for (i = 0; i < 1000000; i++) printf "%.6f\n", exp(rand() * 3) }' >"$TMP/big1"
awk 'BEGIN { srand(4); for (i = 0; i < 1000000; i++) printf "%.6f\n", exp(rand() * 3) }' >"$TMP/big2"
run "$CANARY" stat mwu "$TMP/big1" "$TMP/big2" --json
expect_ok
json_eq .n_x 1000000
json_eq .method '"asymptotic"'

echo "  $NCHECK checks"
