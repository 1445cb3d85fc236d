#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The anytime-valid sequential triggers (strategy triggers.sequential) on a
# real `canary serve` with real model servers and wrk:
#  - a canary whose error rate is 5x stable's (10% against 2%, margin one
#    point) is rolled back by the sequential trigger long before its 10-min
#    pause ends; the reason says it in words, and the audit entry's payload
#    holds the e-value, the threshold and the confidence sequence;
#  - a canary 40% slower than stable (14 ms against 10 ms, margin 10%) is
#    rolled back by the latency_ms trigger (stochastic order);
#  - a canary as good as stable (A/A, both 2%) is not rolled back, and
#    `canary serve` killed with -9 mid-rollout resumes the stored
#    sequential state (its seconds keep counting; they do not start again
#    at 0, which would spend the budget twice), and the rollout promotes.
. tests/integration/lib.sh
TOKEN=seq-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

# config PAUSE [METRICS]: the strategy with a pause of PAUSE after the
# first step, sequential triggers on METRICS (default [error])
config() {
    cat >"$TMP/canary.yaml" <<YAML
serve:
  model: fraud
  workers: 1
  health:
    interval: 400ms
    timeout: 400ms
strategy:
  warmup: 1s
  progress_deadline: 60s
  steps:
    - set_weight: 30
    - pause: {duration: $1}
    - analysis: {}
  max_bake: 15m
  triggers:
    sequential:
      alpha: 0.01
      metrics: ${2:-[error]}
analysis:
  alpha: 0.05
  min_per_arm: 200
  metrics:
    - name: error
      test: proportion
      margin: 0.01
YAML
    # the latency trigger's margin (and only then: an analysis of latency
    # would make the good canary's last analysis wait for its floor)
    case "${2:-}" in *latency_ms*) cat >>"$TMP/canary.yaml" <<'YAML' ;; esac
    - name: latency_ms
      test: mann-whitney
      margin: 10%
      critical: false
YAML
}

start_model s1 0.5 --delay-ms 1 --fail-rate 0.02 --seed 1
start_model same 0.5 --delay-ms 1 --fail-rate 0.02 --seed 2
start_model bad 0.5 --delay-ms 1 --fail-rate 0.10 --seed 3
start_model s10 0.5 --delay-ms 10
start_model slow 0.5 --delay-ms 14


echo "sequential: a canary with 5x the error rate is rolled back by the trigger"
config 10m
start_canary bad_sv --config "$TMP/canary.yaml" --stable "$s1_ADDR" \
    --stable-version v1 --state "$TMP/bad.db"
export CANARY_SERVER="http://$bad_sv_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$bad_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
traffic_to "$bad_sv_ADDR" 120 4
wait_state 1 rolled-back
trail_ok 1
run "$CANARY" rollout status 1 --json
json_eq '.reason | test("^trigger fired: error rate: canary worse than stable by more than the 1-point margin, anytime-valid p = [0-9.e-]+ after [0-9,]+ canary requests")' true
run "$CANARY" rollout history 1 --json
# the trigger's entry: actor trigger, the evidence in its payload
json_eq '[.entries[] | select(.actor == "trigger")] | length' 1
json_eq '[.entries[] | select(.actor == "trigger") | .payload |
  (.metrics | length) >= 1 and .alpha == 0.01 and (.threshold >= 100) and
  (.metrics[0].metric == "error") and (.metrics[0].e_value >= .threshold)]' '[true]'
kill "$WRK" 2>/dev/null || true
w=$(http_json "$CANARY_SERVER/v1/traffic" '.canary_weight' -H "Authorization: Bearer $TOKEN")
[ "$w" = 0 ] || die "rolled back, but the canary weight is $w"
stop_canary bad_sv

echo "sequential: a canary 40% slower than stable is rolled back by the latency trigger"
config 10m "[error, latency_ms]"
start_canary slow_sv --config "$TMP/canary.yaml" --stable "$s10_ADDR" \
    --stable-version v1 --state "$TMP/slow.db"
export CANARY_SERVER="http://$slow_sv_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$slow_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
traffic_to "$slow_sv_ADDR" 120 8
wait_state 1 rolled-back
trail_ok 1
run "$CANARY" rollout status 1 --json
json_eq '.reason | test("^trigger fired: latency_ms: canary slower than stable by more than the 10% margin .*anytime-valid p = [0-9.e-]+ after [0-9,]+ canary requests")' true
kill "$WRK" 2>/dev/null || true
stop_canary slow_sv

echo "sequential: a canary as good as stable is not rolled back; kill -9 keeps its state"
config 25s
DB="$TMP/aa.db"
start_canary aa1 --config "$TMP/canary.yaml" --stable "$s1_ADDR" \
    --stable-version v1 --state "$DB"
export CANARY_SERVER="http://$aa1_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$same_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
traffic_to "$aa1_ADDR" 120 4
# wait until the stored state has counted 8 seconds or more (saved every second)
wait_stored "$DB" .sequential.seconds 8 "$TMP/aa1.err"
# the rollout's read shows the sequential triggers as they stand
run "$CANARY" rollout status 1 --json
json_eq '.sequential | [.alpha, .threshold, .seconds >= 8, (.metrics | map(.metric)),
  (.metrics[0].e_value < .threshold), (.metrics[0].canary_requests > 0)]' \
    '[0.01,100,true,["error"],true,true]'
# and each arm's p99 in the window, a confidence interval at the
# triggers' level (stable has well over the 1,700 values it needs)
json_eq '.p99_ms | [.level, (.stable | length == 2 and .[0] <= .[1] and .[0] > 0),
  ((.canary // [0, 0]) | .[0] <= .[1])]' '[1e-07,true,true]'
run "$CANARY" rollout status 1
grep -Eq '^  sequential triggers \(roll back at e-value 100\): error [0-9.e+-]+$' "$TMP/out" ||
    die "status does not show the sequential triggers: $(cat "$TMP/out")"
kill -9 "$aa1_PID"
wait "$aa1_PID" 2>/dev/null || true
kill "$WRK" 2>/dev/null || true
before=$(stored_machine "$DB" .sequential.seconds)
start_canary aa2 --config "$TMP/canary.yaml" --stable "$s1_ADDR" \
    --stable-version v1 --state "$DB"
export CANARY_SERVER="http://$aa2_ADMIN"
traffic_to "$aa2_ADDR" 120 4
wait_err aa2 "rollout 1 \\(fraud v2\\): resuming"
# the state resumed: the next save counts on from what was stored
wait_stored "$DB" .sequential.seconds $((before + 1)) "$TMP/aa2.err"
grep -q 'sequential triggers off' "$TMP/aa2.err" && die "the state was not resumed: $(cat "$TMP/aa2.err")"
wait_state 1 promoted
trail_ok 1
run "$CANARY" rollout history 1 --json
json_eq '[.entries[] | select(.actor == "trigger")] | length' 0
stop_canary aa2
echo "sequential: all checks passed ($NCHECK)"
