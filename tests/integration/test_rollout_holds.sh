#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Rollouts that must not fail: real processes, as test_rollout.sh.
#  4. a canary with too little traffic holds, says why ("n=.. of ..
#     needed, at .. per minute"), and is never rolled back;
#  5. a canary identical to stable, with segment volumes of 90/10 and a
#     reservoir cap (3000) that stable's big segment reaches and the canary's does
#     not, is promoted, not failed (each arm's aggregate is stratified by
#     its own traffic);
#  6. a canary that never passes a health check aborts at its progress
#     deadline;
#  8. a corrupt or foreign state file is refused with one line naming it,
#     and never written to.
. tests/integration/lib.sh
TOKEN=holds-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

echo "holds: 4. too little traffic holds, says why, and never fails"
cat >"$TMP/few.yaml" <<'YAML'
serve:
  model: fraud
  workers: 1
strategy:
  warmup: 0s
  progress_deadline: 30s
  steps:
    - set_weight: 50
    - pause: {duration: 1s}
    - analysis: {min_samples: 100000}
  max_bake: 2s
analysis:
  alpha: 0.05
  min_per_arm: 20
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 30%
YAML
start_model s1 0.5
start_model c1 0.5
start_canary h1 --config "$TMP/few.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/few.db"
export CANARY_SERVER="http://$h1_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$c1_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
# a trickle: a few requests a second
( while :; do
    curl -s -o /dev/null -X POST -d '{"inputs":[]}' "http://$h1_ADDR/v2/models/m/infer" || true
    sleep 0.2
done ) &
PIDS="$PIDS $!"
wait_state 1 holding
run "$CANARY" rollout status 1
[ "$RC" -eq 2 ] || die "status of a holding rollout exits 2, got $RC"
grep -Eq 'n=[0-9]+ of 100000 needed, at [0-9.]+ per minute' "$TMP/out" ||
    die "the hold says why: $(cat "$TMP/out")"
sleep 3
run "$CANARY" rollout status 1 --json
json_eq '.state' '"holding"'
run "$CANARY" rollout abort 1 --reason "not enough traffic to judge"
expect_ok
stop_canary h1

echo "holds: 5. an identical canary with 90/10 segments is promoted, not failed"
cat >"$TMP/aa.yaml" <<'YAML'
serve:
  model: fraud
  workers: 1
  measure:
    segment_header: X-Region
    segments: [eu, us]
    reservoir_size: 3000
strategy:
  warmup: 1s
  progress_deadline: 30s
  steps:
    - set_weight: 10
    - pause: {duration: 2s}
    - analysis: {}
    - set_weight: 30
    - pause: {duration: 3s}
    - analysis: {}
  max_bake: 60s
analysis:
  alpha: 0.05
  min_per_arm: 100
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 50%
    - name: error
      test: proportion
      margin: 0.05
YAML
# the regions differ, as they do in life: eu is fast, us slow (X-Delay-Ms)
start_model s2 0.5
start_model c2 0.5
cat >"$TMP/regions.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  local region = (n % 10 == 0) and "us" or "eu"
  wrk.headers["X-Region"] = region
  -- the same model answers us 10x slower than eu (both versions alike)
  wrk.headers["X-Delay-Ms"] = (region == "us") and "10" or "1"
  return wrk.format()
end
LUA
start_canary h2 --config "$TMP/aa.yaml" --stable "$s2_ADDR" --stable-version v1 \
    --state "$TMP/aa.db"
export CANARY_SERVER="http://$h2_ADMIN"
wrk -t1 -c4 -d300s -s "$TMP/regions.lua" "http://$h2_ADDR/v2/models/m/infer" \
    >"$TMP/wrk2" 2>&1 &
PIDS="$PIDS $!"
run "$CANARY" model register fraud v2 --upstream "$c2_ADDR"
run "$CANARY" rollout start fraud v2
expect_ok
# Promoted, or still gathering what the last analysis needs: never failed
# (wait_state dies on a rollback).
wait_state 1 promoted holding
run "$CANARY" rollout status 1 --json
json_eq '.state == "promoted" or .hold == "samples"' true
code=$(curl -s -o "$TMP/an" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "$CANARY_SERVER/v1/rollouts/1/analyses")
[ "$code" = 200 ] || die "analyses: HTTP $code"
jq -e '[.analyses[].result.verdict] | length >= 1 and all(. != "fail")' "$TMP/an" >/dev/null ||
    die "an identical canary was failed: $(jq -c '[.analyses[].result | [.verdict, .reason]]' "$TMP/an")"
# the segments' latencies differ tenfold, and each arm's aggregate kept
# its own traffic's 90/10 mix: the canary's median is eu's, as stable's
jq -e '.analyses[0].result.metrics[] | select(.name == "latency_ms" and .segment == null) |
    (.canary.median < 5 and .stable.median < 5)' "$TMP/an" >/dev/null ||
    die "aggregate medians: $(jq -c '.analyses[0].result.metrics' "$TMP/an")"
run "$CANARY" rollout abort 1
stop_canary h2

echo "holds: 6. a canary that never becomes healthy aborts at its progress deadline"
cat >"$TMP/dead.yaml" <<'YAML'
serve:
  model: fraud
  workers: 1
  health:
    interval: 200ms
    timeout: 200ms
strategy:
  warmup: 1s
  progress_deadline: 3s
  steps:
    - set_weight: 50
    - pause: {duration: 1s}
YAML
start_model s3 0.5
start_model sick 0.5 --unhealthy
start_canary h3 --config "$TMP/dead.yaml" --stable "$s3_ADDR" --stable-version v1 \
    --state "$TMP/dead.db"
export CANARY_SERVER="http://$h3_ADMIN"
( while :; do
    curl -s -o /dev/null -X POST -d '{"inputs":[]}' "http://$h3_ADDR/v2/models/m/infer" || true
    sleep 0.05
done ) &
PIDS="$PIDS $!"
run "$CANARY" model register fraud v2 --upstream "$sick_ADDR"
run "$CANARY" rollout start fraud v2
expect_ok
wait_state 1 aborted
run "$CANARY" rollout status 1 --json
json_eq '.reason | test("progress deadline")' true
w=$(http_json "$CANARY_SERVER/v1/traffic" '.canary_weight' -H "Authorization: Bearer $TOKEN")
[ "$w" = 0 ] || die "aborted, but the canary weight is $w"
stop_canary h3
echo "holds: 8. a corrupt or foreign state file is refused with one line and kept"
head -c 8192 /dev/urandom >"$TMP/corrupt.db"
printf 'SQLite format 3\000' | dd of="$TMP/corrupt.db" conv=notrunc 2>/dev/null
cp "$TMP/corrupt.db" "$TMP/corrupt.copy"
run "$CANARY" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --config "$TMP/few.yaml" \
    --stable "$s1_ADDR" --state "$TMP/corrupt.db"
[ "$RC" -ne 0 ] || die "a corrupt state file was accepted"
[ "$(wc -l <"$TMP/err")" -eq 1 ] || die "expected one line: $(cat "$TMP/err")"
grep -q "corrupt.db" "$TMP/err" || die "the message names the file: $(cat "$TMP/err")"
cmp -s "$TMP/corrupt.db" "$TMP/corrupt.copy" || die "the corrupt state file was written to"
echo "notes: not a database" >"$TMP/foreign.db"
run "$CANARY" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --config "$TMP/few.yaml" \
    --stable "$s1_ADDR" --state "$TMP/foreign.db"
[ "$RC" -ne 0 ] || die "a foreign state file was accepted"
grep -q "foreign.db" "$TMP/err" || die "the message names the file: $(cat "$TMP/err")"
[ "$(cat "$TMP/foreign.db")" = "notes: not a database" ] || die "the foreign file was changed"
echo "holds: all checks passed ($NCHECK)"
