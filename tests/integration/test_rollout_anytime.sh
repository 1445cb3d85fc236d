#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Anytime step analyses (strategy `analysis: {mode: anytime}`) on a real
# `canary serve` with real model servers and wrk, no sequential triggers:
#  - a canary as good as stable (both 2% errors, margin one point) ends
#    its 10-minute pause in seconds once non-inferiority is shown, and is
#    promoted; the audit trail says so, with both families' evidence;
#  - a canary with 5x the errors (10% against 2%) is rolled back by the
#    analysis (its harm family), long before the pause ends;
#  - `canary serve` killed with -9 while an anytime analysis monitors
#    resumes its stored state (the families' seconds keep counting, not
#    from 0, which would spend its alpha twice) and still promotes early.
. tests/integration/lib.sh
TOKEN=any-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

cat >"$TMP/canary.yaml" <<'YAML'
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
    - pause: {duration: 10m}
    - analysis: {mode: anytime}
  max_bake: 15m
analysis:
  alpha: 0.05
  min_per_arm: 200
  metrics:
    - name: error
      test: proportion
      margin: 0.01
YAML

start_model s1 0.5 --delay-ms 1 --fail-rate 0.02 --seed 1
start_model same 0.5 --delay-ms 1 --fail-rate 0.02 --seed 2
start_model bad 0.5 --delay-ms 1 --fail-rate 0.10 --seed 3

echo "anytime: a canary as good as stable ends its 10-min bake early and is promoted"
start_canary good_sv --config "$TMP/canary.yaml" --stable "$s1_ADDR" \
    --stable-version v1 --state "$TMP/good.db"
export CANARY_SERVER="http://$good_sv_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$same_ADDR"
expect_ok
t0=$(date +%s)
run "$CANARY" rollout start fraud v2
expect_ok
traffic_to "$good_sv_ADDR" 120 4
wait_state 1 promoted
t1=$(date +%s)
[ $((t1 - t0)) -lt 120 ] || die "the bake was not ended early: $((t1 - t0)) s"
trail_ok 1
run "$CANARY" rollout history 1 --json
# the analysis's entry: actor analysis, non-inferiority in words, evidence
json_eq '[.entries[] | select(.actor == "analysis") | .reason |
  test("step 2: analysis 1 of 1 \\(anytime\\) passed: non-inferiority shown: error within the 1-point margin, anytime-valid p <= [0-9.e-]+ \\(every test\\) after [0-9,]+ canary requests")] | any' true
json_eq '[.entries[] | select(.actor == "analysis") | .payload |
  select(. != null) | .mode == "anytime" and .step == 2 and
  (.ni.threshold == 20) and (.ni.metrics[0].metric == "error")] | any' true
# no planned analysis ran
json_eq '[.entries[] | select(.reason | test("attempt 1 of"))] | length' 0
json_eq '[.entries[] | select(.reason | test("promoting -> promoted"))] | length' 1
kill "$WRK" 2>/dev/null || true
stop_canary good_sv

echo "anytime: a canary with 5x the error rate is rolled back by the analysis"
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
json_eq '.reason | test("^analysis at step 2 \\(anytime\\): error rate: canary worse than stable by more than the 1-point margin, anytime-valid p = [0-9.e-]+ after [0-9,]+ canary requests")' true
kill "$WRK" 2>/dev/null || true
w=$(http_json "$CANARY_SERVER/v1/traffic" '.canary_weight' -H "Authorization: Bearer $TOKEN")
[ "$w" = 0 ] || die "rolled back, but the canary weight is $w"
stop_canary bad_sv
echo "anytime: kill -9 while the analysis monitors; its state resumes"
sql() { sqlite3 -batch "$1" "$2"; }
DB="$TMP/crash.db"
start_canary c1 --config "$TMP/canary.yaml" --stable "$s1_ADDR" \
    --stable-version v1 --state "$DB"
export CANARY_SERVER="http://$c1_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$same_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
# one connection: non-inferiority takes longer to show than the kill
traffic_to "$c1_ADDR" 120 1
wait_stored "$DB" .anytime.ni.seconds 3 "$TMP/c1.err"
kill -9 "$c1_PID"
wait "$c1_PID" 2>/dev/null || true
kill "$WRK" 2>/dev/null || true
before=$(stored_machine "$DB" .anytime.ni.seconds)
st=$(sql "$DB" "SELECT state FROM rollouts WHERE id = 1")
[ "$st" != promoted ] || die "promoted before the kill: the test raced; lower the traffic"
start_canary c2 --config "$TMP/canary.yaml" --stable "$s1_ADDR" \
    --stable-version v1 --state "$DB"
export CANARY_SERVER="http://$c2_ADMIN"
traffic_to "$c2_ADDR" 120 4
wait_err c2 "rollout 1 \\(fraud v2\\): resuming"
# the first state stored after the restart (saved every second) counts on
# from before the kill; one started again would hold a second or two
i=0
while :; do
    n=$(stored_machine "$DB" .anytime.ni.seconds)
    [ -n "$n" ] && [ "$n" != "$before" ] && break
    # shown already (the state then leaves the machine): its pass's payload
    n=$("$CANARY" rollout history 1 --json 2>/dev/null |
        jq -r '[.entries[] | select(.actor == "analysis") | .payload.ni.seconds //
          empty] | last // empty' 2>/dev/null || true)
    [ -n "$n" ] && break
    i=$((i + 1))
    [ $i -lt 300 ] || die "the anytime state was not saved again after the restart"
    sleep 0.05
done
[ "$n" -gt "$before" ] || die "the anytime state started again: $n seconds after the restart, $before before"
grep -q 'anytime.*off\|cannot resume' "$TMP/c2.err" && die "not resumed: $(cat "$TMP/c2.err")"
wait_state 1 promoted
trail_ok 1
run "$CANARY" rollout history 1 --json
json_eq '[.entries[] | select(.actor == "analysis") | .payload | select(. != null) |
  .ni.seconds > '"$before"'] | any' true
kill "$WRK" 2>/dev/null || true
stop_canary c2
echo "anytime: all checks passed ($NCHECK)"
