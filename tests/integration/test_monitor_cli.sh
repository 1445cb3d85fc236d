#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The `canary monitor` contract (docs/CLI.md): a stream replayed through the
# anytime-valid sequential triggers of a serve config. The exit code is the
# answer (1 a trigger fired, 0 none did); an A/A stream does not fire; a
# 3x error rate, a 30% slower canary and shifted predictions each fire on
# their own metric at a plausible time; --json and --every; and for every
# kind of bad stream, config or usage one stderr line naming the file and
# line, with the exit codes of `canary analyze` (65 data or config, 64
# usage, 66 unreadable) and nothing on stdout.
# (Whether the triggers keep their alpha is for the unit tests and the
# simulations, tests/sim/; here the command is checked end to end.)
. tests/integration/lib.sh

# ---- inputs ----------------------------------------------------------

# A stream of 600 s at 100 requests/s, 20% to the canary: each request is
# three rows (error 0/1, latency_ms lognormal around 20 ms, a prediction
# uniform on [0, 1]). MINSTD (Park-Miller) gives the same numbers in every
# awk: x * 48271 stays below 2^53, so the arithmetic is exact.
cat >"$TMP/gen.awk" <<'EOF'
function rnd() { seed = (seed * 48271) % 2147483647; return seed / 2147483647 }
function gauss(u, v) { u = rnd(); v = rnd(); return sqrt(-2 * log(u)) * cos(6.283185307179586 * v) }
BEGIN {
    print "t,version,metric,value"
    for (s = 0; s < secs; s++)
        for (i = 0; i < rate; i++) {
            t = s + i / rate
            c = rnd() < 0.2
            v = c ? "canary" : "stable"
            printf "%.3f,%s,error,%d\n", t, v, rnd() < (c ? err_c : 0.01)
            printf "%.3f,%s,latency_ms,%.3f\n", t, v, exp(3 + 0.4 * gauss()) * (c ? lat_c : 1)
            p = rnd() + (c ? shift : 0)
            printf "%.3f,%s,prediction,%.4f\n", t, v, (p > 1 ? 1 : p)
        }
}
EOF
gen() { # NAME ERR_C LAT_C SHIFT
    awk -f "$TMP/gen.awk" -v secs=600 -v rate=100 -v seed=42 -v err_c="$2" \
        -v lat_c="$3" -v shift="$4" >"$TMP/$1.csv"
}
gen aa 0.01 1 0     # identical arms
gen err 0.03 1 0    # the canary's error rate 3x stable's 1%
gen slow 0.01 1.3 0 # the canary 30% slower
gen shift 0.01 1 0.1 # the canary's predictions 0.1 higher (KS distance 0.1)

# The serve config: triggers.sequential over the three metrics, with the
# margins of the analysis section (0.5 points, 10%, max KS 0.05), and the
# prediction bins the router would use (20 bins 0.05 wide).
cat >"$TMP/all.yaml" <<'EOF'
serve:
  stable: {addresses: ["127.0.0.1:9"]}
  measure:
    prediction_buckets: [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5,
                         0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1]
strategy:
  steps:
    - set_weight: 20
    - analysis: {}
  triggers:
    sequential:
      alpha: 0.01
      metrics: [error, latency_ms, prediction]
analysis:
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 10%
    - name: error
      test: proportion
      margin: 0.005
    - name: prediction
      test: ks
      max_statistic: 0.05
EOF
# Only the error rate is monitored.
sed 's/metrics: \[error, latency_ms, prediction\]/metrics: [error]/' \
    "$TMP/all.yaml" >"$TMP/error.yaml"
grep -q 'metrics: \[error\]$' "$TMP/error.yaml" || die "error.yaml was not derived"

# fired_at: the firing time of the last --json run
fired_at() { jq -r .t "$TMP/out"; }

# ---- A/A: no trigger fires, exit 0 -----------------------------------

run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/aa.csv"
expect_ok
grep -q '^no trigger fired (180000 rows, 600 intervals of 1s, warmup 30s; threshold 300 = 3 metrics / alpha 0.01)$' \
    "$TMP/out" || die "A/A: unexpected text: $(head -c 300 "$TMP/out")"
for m in error latency_ms prediction; do
    grep -Eq "^  $m +e-value [0-9.e+-]+  anytime-valid p = [0-9.e+-]+  canary [0-9]+, stable [0-9]+$" \
        "$TMP/out" || die "A/A: no line for $m: $(cat "$TMP/out")"
done

run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/aa.csv" --json
expect_ok
json_eq 'keys' '["alpha","e_value","every","every_ms","evidence","fired","intervals","last_row_t","line","log_e_value","metric","pvalue","reason","rows","t","threshold","warmup_ms"]'
json_eq .fired false
json_eq '[.t, .metric, .reason, .e_value, .pvalue]' '[null,null,null,null,null]'
json_eq .rows 180000
json_eq .intervals 600
json_eq .every '"1s"'
json_eq .every_ms 1000
json_eq .warmup_ms 30000
json_close .alpha 0.01
json_close .threshold 300
json_eq '[.evidence.metrics[].metric]' '["error","latency_ms","prediction"]'
json_eq '[.evidence.metrics[] | .e_value < 300] | all' true
json_eq '[.evidence.metrics[] | .started] | all' true
# Every request was counted by the error rate, also in the warmup (the
# strategy's default, 30 s after the canary's first row, here at t = 0);
# latency and predictions start at the end of the warmup, at the look of
# t = 30 s, and are fed from the next interval on: 30 s x 100 requests
# fewer.
json_eq '[.evidence.metrics[] | .canary_n + .stable_n]' '[60000,57000,57000]'
# Without a warmup they start once stable has 200 (about 240 after the
# third second) and are fed from the fourth second on.
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/aa.csv" --json --warmup 0
expect_ok
json_eq '[.warmup_ms, ([.evidence.metrics[] | .canary_n + .stable_n])]' '[0,[60000,59700,59700]]'
json_eq '[.evidence.metrics[] | .canary_n > 11400 and .canary_n < 12600] | all' true
# The JSON is one document a strict reader accepts.
python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$TMP/out" 2>/dev/null ||
    { command -v python3 >/dev/null && die "python3 cannot read the JSON"; }

# ---- a 3x error rate fires on the error rate, exit 1 -----------------

run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/err.csv"
[ "$RC" -eq 1 ] || die "3x errors: expected exit 1, got $RC: $(cat "$TMP/err")"
[ ! -s "$TMP/err" ] || die "3x errors: stderr: $(cat "$TMP/err")"
grep -Eq '^trigger fired: error at t = [0-9]+ s \(the end of its 1s interval; its last row: line [0-9]+, t = [0-9.]+\)$' \
    "$TMP/out" || die "3x errors: first line: $(head -n 1 "$TMP/out")"
grep -Eq '^  e-value [0-9.]+ >= 300 \(3 metrics / alpha 0.01\), anytime-valid p = 0\.00[0-9]+$' \
    "$TMP/out" || die "3x errors: evidence line: $(cat "$TMP/out")"
grep -Eq '^  error rate: canary worse than stable by more than the 0\.5-point margin, anytime-valid p = ' \
    "$TMP/out" || die "3x errors: the reason does not name the error rate: $(cat "$TMP/out")"

run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/err.csv" --json
[ "$RC" -eq 1 ] || die "3x errors --json: expected exit 1, got $RC"
json_eq .fired true
json_eq .metric '"error"'
json_eq '.reason | startswith("error rate: canary worse than stable by more than the 0.5-point margin")' true
json_eq '.e_value >= 300 and .pvalue <= 1/300' true
json_eq '. as $o | (($o.log_e_value | exp) - $o.e_value | fabs) < 1e-6 * $o.e_value' true
json_eq '.evidence.metrics[0].e_value == .e_value' true
# Plausible: 20 canary requests/s with 3% against 1% errors and a 0.5-point
# margin; not before a few hundred canary requests, and well before the end.
t=$(fired_at)
awk -v t="$t" 'BEGIN { exit !(t >= 30 && t <= 400) }' || die "3x errors fired at t = $t s"
json_eq '.evidence.metrics[0].canary_n > 500' true
# The time is the end of the interval, whose rows were all read; the line
# is that of its last row, which is in the file with that time.
json_eq '.t == .intervals * .every_ms / 1000' true
json_eq '.last_row_t < .t and .last_row_t >= .t - 1' true
line=$(jq .line "$TMP/out")
last=$(jq -r .last_row_t "$TMP/out")
sed -n "${line}p" "$TMP/err.csv" | grep -q "^$(printf '%.3f' "$last")," ||
    die "line $line of err.csv is not at t = $last: $(sed -n "${line}p" "$TMP/err.csv")"
next=$((line + 1))
sed -n "${next}p" "$TMP/err.csv" | grep -q "^$t.000," ||
    die "line $next of err.csv does not start the next interval: $(sed -n "${next}p" "$TMP/err.csv")"

# ---- a 30% slower canary fires on latency_ms -------------------------

run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/slow.csv" --json
[ "$RC" -eq 1 ] || die "slower: expected exit 1, got $RC: $(cat "$TMP/err")"
json_eq .metric '"latency_ms"'
json_eq '.reason | startswith("latency_ms: canary slower than stable by more than the 10% margin")' true
# monitoring of latency starts after the warmup: the first look that can
# fire is at the end of [30, 31)
t=$(fired_at)
awk -v t="$t" 'BEGIN { exit !(t >= 31 && t <= 300) }' || die "slower fired at t = $t s"
# without a warmup, once stable has 200 latencies (2.5 s here): earlier
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/slow.csv" --json --warmup 0
[ "$RC" -eq 1 ] || die "slower, no warmup: expected exit 1, got $RC"
json_eq '[.metric, .warmup_ms]' '["latency_ms",0]'
t0=$(fired_at)
awk -v t="$t0" -v w="$t" 'BEGIN { exit !(t >= 3 && t < 30 && t < w) }' ||
    die "slower without warmup fired at t = $t0 s (with: $t s)"
# the strategy's warmup key is the default
sed 's/^  steps:$/  warmup: 10s\n  steps:/' "$TMP/all.yaml" >"$TMP/warm10.yaml"
run "$CANARY" monitor --config "$TMP/warm10.yaml" --data "$TMP/slow.csv" --json
json_eq '[.metric, .warmup_ms]' '["latency_ms",10000]'
t10=$(fired_at)
awk -v t="$t10" -v w="$t" 'BEGIN { exit !(t >= 11 && t < w) }' ||
    die "slower with a 10s warmup fired at t = $t10 s"
# The error rate alone does not see a slower canary.
run "$CANARY" monitor --config "$TMP/error.yaml" --data "$TMP/slow.csv" --json
expect_ok
json_eq '[.fired, (.evidence.metrics | length)]' '[false,1]'

# ---- shifted predictions fire on prediction --------------------------

run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/shift.csv"
[ "$RC" -eq 1 ] || die "shift: expected exit 1, got $RC: $(cat "$TMP/err")"
grep -q '^trigger fired: prediction at t = ' "$TMP/out" || die "shift: $(cat "$TMP/out")"
grep -q "^  prediction: the canary's and stable's distributions differ by more than max_statistic 0.05" \
    "$TMP/out" || die "shift: reason: $(cat "$TMP/out")"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/shift.csv" --json
json_eq '[.fired, .metric]' '[true,"prediction"]'
t=$(fired_at)
awk -v t="$t" 'BEGIN { exit !(t >= 3 && t <= 300) }' || die "shift fired at t = $t s"

# ---- --every: the triggers look every interval of data time ----------

run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/err.csv" --json --every 1s
t1=$(fired_at)
[ "$RC" -eq 1 ] || die "--every 1s: exit $RC"
for every in 250ms:250 2s:2000 10s:10000 1m:60000; do
    run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/err.csv" --json \
        --every "${every%%:*}"
    [ "$RC" -eq 1 ] || die "--every ${every%%:*}: expected exit 1, got $RC: $(cat "$TMP/err")"
    json_eq '[.metric, .every, .every_ms]' "[\"error\",\"${every%%:*}\",${every#*:}]"
    # a look at the end of each interval since the first row's (t = 0)
    json_eq '.t == .intervals * .every_ms / 1000' true
    json_eq '.last_row_t < .t and .last_row_t >= .t - .every_ms / 1000' true
done
# Looking less often, the firing is seen at the end of a longer interval:
# with 1m it cannot come before the first minute is over.
json_eq '.t >= 60' true
# Each look bets on that interval's counts: the firing time depends on the
# interval (1s and 10s give different times on this stream).
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/err.csv" --json --every 10s
[ "$(fired_at)" != "$t1" ] || die "--every 10s fired at the same t as 1s ($t1)"
# The default is 1s.
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/err.csv" --json
[ "$(fired_at)" = "$t1" ] || die "the default --every is not 1s: $(fired_at) != $t1"

# The A/A stream stays quiet at any interval.
for every in 100ms 5s; do
    run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/aa.csv" --every $every
    expect_ok
done

# ---- other well-formed streams ---------------------------------------

# stdin, a segment column in another order, CRLF, quotes, blank lines, a
# BOM; stable has too few latencies for that metric to start
printf '\357\273\277segment,value,metric,version,t\r\n"eu",0,error,stable,0\r\n\r\n,12.5,latency_ms,canary,0.5\r\n"us ""west""",1,"error",canary,1\r\n' \
    >"$TMP/small.csv"
run sh -c "'$CANARY' monitor --config '$TMP/all.yaml' --data - <'$TMP/small.csv'"
expect_ok
grep -q '^no trigger fired (3 rows, 2 intervals of 1s, warmup 30s; ' "$TMP/out" ||
    die "small: $(cat "$TMP/out")"
grep -q "^  latency_ms  not started (stable's reference: 0 latencies; it needs 200)$" "$TMP/out" ||
    die "small: latency_ms: $(cat "$TMP/out")"
# A long pause in data time costs nothing: 10^11 s at --every 1ms is 10^14
# intervals (the empty ones in between are counted, not looped over).
printf 't,version,metric,value\n0,stable,error,0\n0,canary,error,0\n1e11,canary,error,1\n' \
    >"$TMP/pause.csv"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/pause.csv" --every 1ms --json
expect_ok
json_eq '[.fired, .rows, .intervals]' '[false,3,100000000000001]'
# A pause that spans the end of the warmup: latency starts at the first
# look after the warmup, inside the pause, as it does when the pause is
# filled with rows that change nothing for latency (stable requests
# alone). 300 stable latencies in [0, 5), the canary's first row at 1 s,
# then 100 s of a slower canary from t = 1000.
awk 'BEGIN {
    print "t,version,metric,value"
    for (i = 0; i < 300; i++) {
        printf "%.3f,stable,latency_ms,%d\n", i / 60, 10 + i % 20
        if (i == 60) print "1.000,canary,error,0"
    }
}' >"$TMP/head.csv"
awk 'BEGIN { for (s = 5; s < 1000; s++) printf "%d.5,stable,error,0\n", s }' >"$TMP/fill.csv"
awk 'BEGIN { for (s = 1000; s < 1100; s++) for (i = 0; i < 20; i++)
    printf "%.2f,stable,latency_ms,%d\n%.2f,canary,latency_ms,%d\n",
        s + i / 20, 10 + (i * 7) % 20, s + i / 20, 14 + (i * 7) % 20 }' >"$TMP/tail.csv"
cat "$TMP/head.csv" "$TMP/tail.csv" >"$TMP/gap.csv"
cat "$TMP/head.csv" "$TMP/fill.csv" "$TMP/tail.csv" >"$TMP/filled.csv"
for w in 0 30s; do
    run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/gap.csv" --json --warmup $w
    [ "$RC" -eq 1 ] || die "gap, warmup $w: expected exit 1, got $RC: $(cat "$TMP/err")"
    jq -c '[.t, .intervals, .evidence.metrics[1]]' "$TMP/out" >"$TMP/gap.json"
    run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/filled.csv" --json --warmup $w
    [ "$RC" -eq 1 ] || die "filled, warmup $w: expected exit 1, got $RC"
    json_eq '[.t, .intervals, .evidence.metrics[1]]' "$(cat "$TMP/gap.json")"
    json_eq '.metric' '"latency_ms"'
done

# Equal times and a row exactly on an interval's edge (4.35 s at 50ms is
# the start of [4.35, 4.40), although 4.35 is not exact in binary).
printf 't,version,metric,value\n4.3,stable,error,0\n4.35,stable,error,0\n4.35,canary,error,0\n' \
    >"$TMP/edge.csv"
run "$CANARY" monitor --config "$TMP/error.yaml" --data "$TMP/edge.csv" --every 50ms --json
expect_ok
json_eq .intervals 2

# ---- bad streams: 65, one line FILE:LINE: what, no stdout --------------

bad_data() { # NAME REGEX, with the CSV on stdin
    cat >"$TMP/$1.csv"
    run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/$1.csv"
    expect_error 65 "^canary monitor: $TMP/$1\.csv:$2"
}
bad_data backwards "4: column 't': time goes backwards: '1.5' is before 2 on line 3 \(rows must be in time order\)$" <<'EOF'
t,version,metric,value
1,stable,error,0
2,canary,error,0
1.5,stable,error,1
EOF
bad_data novalue "1: the header has no 'value' column \(expected t, version, metric, value and optionally segment\)$" <<'EOF'
t,version,metric
1,stable,error
EOF
bad_data notime "1: the header has no 't' column " <<'EOF'
version,metric,value
stable,error,0
EOF
bad_data unknowncol "1: unknown column 'time' in the header " <<'EOF'
time,version,metric,value
1,stable,error,0
EOF
bad_data twice "1: column 'value' appears twice in the header$" <<'EOF'
t,version,metric,value,value
EOF
bad_data nan "3: column 'value': 'NaN' is not finite \(NaN/Inf\)$" <<'EOF'
t,version,metric,value
1,stable,latency_ms,3
2,canary,latency_ms,NaN
EOF
bad_data tnan "2: column 't': 'nan' is not finite \(NaN/Inf\)$" <<'EOF'
t,version,metric,value
nan,canary,prediction,0.5
EOF
bad_data inf "2: column 'value': '-inf' is not finite \(NaN/Inf\)$" <<'EOF'
t,version,metric,value
0,canary,prediction,-inf
EOF
bad_data overflow "2: column 'value': '1e999' overflows a double$" <<'EOF'
t,version,metric,value
0,canary,prediction,1e999
EOF
bad_data word "2: column 'value': '12ms' is not a number$" <<'EOF'
t,version,metric,value
0,canary,latency_ms,12ms
EOF
bad_data hex "2: column 't': '0x10' is not a decimal number$" <<'EOF'
t,version,metric,value
0x10,canary,latency_ms,12
EOF
bad_data empty "2: column 'value': empty, expected a number$" <<'EOF'
t,version,metric,value
0,canary,latency_ms,
EOF
bad_data metric "3: column 'metric': must be 'error', 'latency_ms' or 'prediction', got 'cpu_ms'$" <<'EOF'
t,version,metric,value
0,canary,error,0
0,canary,cpu_ms,3
EOF
bad_data version "2: column 'version': must be 'stable' or 'canary', got 'v2'$" <<'EOF'
t,version,metric,value
0,v2,error,0
EOF
bad_data errorvalue "2: column 'value': an error is 0 or 1, got '0.5'$" <<'EOF'
t,version,metric,value
0,canary,error,0.5
EOF
bad_data negative "2: column 'value': a latency_ms must be >= 0, got '-1'$" <<'EOF'
t,version,metric,value
0,canary,latency_ms,-1
EOF
bad_data tneg "2: column 't': '-0.5' is out of range: seconds in \[0, 1e\+11\]$" <<'EOF'
t,version,metric,value
-0.5,canary,latency_ms,1
EOF
bad_data tms "2: column 't': '1733568000000' is out of range: seconds in \[0, 1e\+11\]$" <<'EOF'
t,version,metric,value
1733568000000,canary,latency_ms,1
EOF
bad_data fields "3: expected 4 fields as in the header, got 3$" <<'EOF'
t,version,metric,value
0,canary,latency_ms,1
1,canary,latency_ms
EOF
bad_data quote "2: column 'version': quoted field has no closing quote$" <<'EOF'
t,version,metric,value
0,"canary,latency_ms,1
EOF
bad_data after "2: column 'metric': unexpected text 'x' after the closing quote$" <<'EOF'
t,version,metric,value
0,canary,"error"x,1
EOF
bad_data headeronly ' no samples \(a header only\)$' <<'EOF'
t,version,metric,value
EOF
: >"$TMP/void.csv"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/void.csv"
expect_error 65 "void\.csv: no samples \(empty file\)$"
# blank lines are skipped and counted: the line numbers stay right
bad_data lines "6: column 'value': an error is 0 or 1, got '7'$" <<'EOF'
t,version,metric,value,segment
0,canary,error,0,"us"

1,canary,error,1,

2,canary,error,7,eu
EOF
# a quoted field may span lines (RFC 4180), but no segment holds a newline;
# the message names the line where the field starts
bad_data twolines "3: column 'segment': 'two\\?lines' contains a control character$" <<'EOF'
t,version,metric,value,segment
0,canary,error,0,eu
0,canary,error,0,"two
lines"
EOF
printf 't,version,metric,value,segment\n0,canary,error,0,"a\001b"\n' >"$TMP/ctl.csv"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/ctl.csv"
expect_error 65 "ctl\.csv:2: column 'segment': 'a\?b' contains a control character$"
printf 't,version,metric,value\n0,canary,error,0\n1,canary,er\000ror,0\n' >"$TMP/nul.csv"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/nul.csv"
expect_error 65 "nul\.csv:3: unexpected NUL byte$"
# The whole stream is checked, also after a firing: a bad last row is an
# error, with nothing printed about the firing.
cp "$TMP/err.csv" "$TMP/errbad.csv"
echo '600,canary,latency_ms,oops' >>"$TMP/errbad.csv"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/errbad.csv"
expect_error 65 "errbad\.csv:180002: column 'value': 'oops' is not a number$"
# Time going backwards across an interval's edge, late in a big file.
{ cat "$TMP/aa.csv"; echo '599.5,stable,error,0'; } >"$TMP/late.csv"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/late.csv" --json
expect_error 65 "late\.csv:180002: column 't': time goes backwards: '599.5' is before 599.99 on line 180001 "

# ---- bad configs: 65 -------------------------------------------------

# threshold triggers only, no triggers.sequential: nothing to monitor
sed '/sequential:/,/metrics: \[error, latency_ms, prediction\]/c\
    error_rate: {max: 0.05}' "$TMP/all.yaml" >"$TMP/noseq.yaml"
grep -q sequential "$TMP/noseq.yaml" && die "noseq.yaml still has sequential"
run "$CANARY" monitor --config "$TMP/noseq.yaml" --data "$TMP/aa.csv"
expect_error 65 "^canary monitor: $TMP/noseq\.yaml: no strategy\.triggers\.sequential: nothing to monitor"
printf 'serve:\n  stable: {addresses: ["127.0.0.1:9"]}\n' >"$TMP/nostrategy.yaml"
run "$CANARY" monitor --config "$TMP/nostrategy.yaml" --data "$TMP/aa.csv"
expect_error 65 "nostrategy\.yaml: no strategy\.triggers\.sequential"
# a trigger metric the analysis section lacks (its margin is the test)
sed '/- name: error/,/margin: 0.005/d' "$TMP/all.yaml" >"$TMP/nomargin.yaml"
run "$CANARY" monitor --config "$TMP/nomargin.yaml" --data "$TMP/aa.csv"
expect_error 65 "nomargin\.yaml:[0-9]+: key 'strategy\.triggers\.sequential\.metrics\[0\]': 'error' needs a metric of that name in the analysis section"
sed 's/metrics: \[error, latency_ms, prediction\]/metrics: [error, cpu_ms]/' \
    "$TMP/all.yaml" >"$TMP/unknown.yaml"
run "$CANARY" monitor --config "$TMP/unknown.yaml" --data "$TMP/aa.csv"
expect_error 65 "unknown\.yaml:13: key 'strategy\.triggers\.sequential\.metrics\[1\]': must be one of error, latency_ms, prediction, got 'cpu_ms'$"
sed 's/alpha: 0.01/alpha: 2/' "$TMP/all.yaml" >"$TMP/alpha.yaml"
run "$CANARY" monitor --config "$TMP/alpha.yaml" --data "$TMP/aa.csv"
expect_error 65 "alpha\.yaml:12: key 'strategy\.triggers\.sequential\.alpha'"
printf 'serve: [\n' >"$TMP/broken.yaml"
run "$CANARY" monitor --config "$TMP/broken.yaml" --data "$TMP/aa.csv"
expect_error 65 "broken\.yaml:[0-9]+"

# ---- usage: 64; unreadable files: 66 ---------------------------------

run "$CANARY" monitor --help
expect_ok
grep -q '^usage: canary monitor --config FILE.yaml --data STREAM.csv' "$TMP/out" ||
    die "--help: $(head -n 2 "$TMP/out")"
run "$CANARY" monitor --data "$TMP/aa.csv"
expect_error 64 "--config FILE is required"
run "$CANARY" monitor --config "$TMP/all.yaml"
expect_error 64 "--data FILE is required"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/aa.csv" extra
expect_error 64 "unexpected argument 'extra'"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/aa.csv" --verbose 1
expect_error 64 "unknown option --verbose"
run "$CANARY" monitor --config - --data -
expect_error 64 "only one of --config and --data can be '-'"
for every in 0s 0ms 2h soon 1.5s; do
    run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/aa.csv" --every $every
    expect_error 64 "--every must be a duration from 1ms to 1h \(500ms, 1s, 2s\), got '$every'$"
done
for warmup in -1s 2h soon; do
    run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/aa.csv" --warmup $warmup
    expect_error 64 "--warmup must be a duration from 0 to 1h \(0, 30s, 2m\), got '$warmup'$"
done
run "$CANARY" monitor --config "$TMP/nope.yaml" --data "$TMP/aa.csv"
expect_error 66 "nope\.yaml: No such file or directory$"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP/nope.csv"
expect_error 66 "nope\.csv: No such file or directory$"
run "$CANARY" monitor --config "$TMP/all.yaml" --data "$TMP"
expect_error 66 ": Is a directory$"

echo "  $NCHECK checks"
