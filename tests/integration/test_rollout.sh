#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Whole rollouts on real processes: model servers, `canary serve` with a
# state file, a strategy and an analysis, wrk as the traffic, the CLI as
# the operator. A short strategy (seconds, not minutes) walks the same
# code as a real one.
#  1. a good canary walks every step and is promoted; the registry moves
#     stable and the router follows; a dry run changes no traffic and
#     records what it would have done;
#  2. a canary that answers 500 on some requests is rolled back by a
#     trigger (weight 0, tagged rolled-back, the trigger in the trail);
#  3. silent regressions (HTTP 200): 4x slower, or predictions shifted,
#     are rolled back by an analysis whose reason names the metric;
#  6. pause, resume, abort, retry, promote --full; a PUT during a rollout
#     gets 409, override pauses it, weight 0 always passes and aborts;
#     a newer candidate supersedes the active rollout;
#  7. kill -9 during a bake, then a restart: the rollout resumes at the
#     same step and weight, and its audit trail has no gap or duplicate.
. tests/integration/lib.sh
TOKEN=rollout-token-$$-0123456789abcdef
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
  progress_deadline: 20s
  steps:
    - set_weight: 20
    - pause: {duration: 2s}
    - analysis: {}
    - set_weight: 50
    - pause: {duration: 2s}
    - analysis: {}
  max_bake: 60s
  on_marginal: hold
  triggers:
    error_rate: {max: 0.05, max_ratio: 3.0}
analysis:
  alpha: 0.05
  min_per_arm: 100
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 100%
    - name: error
      test: proportion
      margin: 0.05
    - name: prediction
      test: ks
      max_statistic: 0.2
YAML

api() { # api METHOD PATH [BODY]: prints the HTTP code; body in $TMP/api
    curl -s -o "$TMP/api" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
        ${3:+-d "$3"} "$CANARY_SERVER$2"
}

start_model s1 0.5 --delay-ms 2
start_model good 0.5 --delay-ms 2
start_model good2 0.5 --delay-ms 2

start_canary r1 --config "$TMP/canary.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/state.db"
export CANARY_SERVER="http://$r1_ADMIN"
grep -q "model 'fraud' registered with its first version 'v1'" "$TMP/r1.err" ||
    die "the flags did not fill the empty registry: $(cat "$TMP/r1.err")"

echo "rollout: 1. a good canary walks every step and is promoted"
traffic_to "$r1_ADDR" 600
run "$CANARY" model register fraud v2 --upstream "$good_ADDR"
expect_ok
run "$CANARY" model tag fraud v2 production-candidate --json
expect_ok
json_eq '.tags' '["production-candidate"]'
run "$CANARY" rollout status fraud --json
json_eq '[.id, .model, .version, .baseline, .dry_run, .steps]' '[1,"fraud","v2","v1",false,6]'
[ "$RC" -eq 3 ] || die "status of a rollout in progress exits 3, got $RC"
wait_state 1 promoted
run "$CANARY" rollout status 1
[ "$RC" -eq 0 ] || die "status of a promoted rollout exits 0, got $RC"
grep -q '^rollout 1: fraud v2: promoted' "$TMP/out" || die "readable status: $(cat "$TMP/out")"
v=$(http_json "$CANARY_SERVER/v1/versions" '[.stable.version, .stable.addresses, .canary.addresses]' \
    -H "Authorization: Bearer $TOKEN")
[ "$v" = "[\"v2\",[\"$good_ADDR\"],[]]" ] || die "the router did not follow the promotion: $v"
run "$CANARY" model list fraud --json
expect_ok
json_eq '[.versions[] | [.version, .tags]]' '[["v1",["retired"]],["v2",["stable"]]]'
run "$CANARY" rollout history 1 --json
expect_ok
json_eq '[.entries[] | select(.kind == "analysis")] | length >= 2' true
json_eq '.entries[-1] | [.state, (.reason | test("promoted: the canary is stable"))]' '["promoted",true]'
trail_ok 1
run "$CANARY" rollout list --json
json_eq '[.rollouts[0] | keys[]] | contains(["id","model","version","state","step","steps","weight","reason","dry_run"])' true
code=$(api GET /v1/rollouts/1/analyses)
[ "$code" = 200 ] || die "analyses: HTTP $code"
jq -e '[.analyses[].result.verdict] | length >= 2' "$TMP/api" >/dev/null ||
    die "analyses carry the judge's JSON: $(head -c 300 "$TMP/api")"
jq -e '.analyses[-1].result.verdict == "pass"' "$TMP/api" >/dev/null ||
    die "the last analysis passed: $(jq -c '.analyses[-1].result | [.verdict, .reason]' "$TMP/api")"

echo "rollout: 1b. a dry run judges the live canary and records, and changes no traffic"
# A dry run judges the canary the operator runs by hand (here v3 at 20%)
# and records what it would have done; it never touches the traffic.
run "$CANARY" model register fraud v3 --upstream "$good2_ADDR"
expect_ok
code=$(api PUT /v1/versions "{\"canary\": {\"version\": \"v3\", \"addresses\": [\"$good2_ADDR\"]}}")
[ "$code" = 200 ] || die "PUT /v1/versions: HTTP $code $(cat "$TMP/api")"
put_traffic "$r1_ADMIN" '{"canary_weight": 20}'
run "$CANARY" rollout start fraud v3 --dry-run --json
expect_ok
json_eq '[.id, .dry_run]' '[2,true]'
wait_state 2 promoted
w=$(http_json "$CANARY_SERVER/v1/traffic" '.canary_weight' -H "Authorization: Bearer $TOKEN")
[ "$w" = 20 ] || die "a dry run changed the canary weight to $w"
v=$(http_json "$CANARY_SERVER/v1/versions" '[.stable.version, .canary.version]' -H "Authorization: Bearer $TOKEN")
[ "$v" = '["v2","v3"]' ] || die "a dry run moved the versions: $v"
run "$CANARY" rollout history 2 --json
json_eq '[.entries[].reason | select(startswith("[dry run]"))] | length > 3' true
json_eq '[.entries[] | select(.kind == "analysis")] | length >= 2' true
run "$CANARY" model list fraud --json
json_eq '[.versions[] | select(.version == "v2") | .tags]' '[["stable"]]'
trail_ok 2
put_traffic "$r1_ADMIN" '{"canary_weight": 0}'

echo "rollout: 2. a canary answering 500 on some requests is rolled back by a trigger"
start_model bad 0.5 --delay-ms 2 --fail-rate 0.3
run "$CANARY" model register fraud v4 --upstream "$bad_ADDR"
expect_ok
run "$CANARY" rollout start fraud v4 --json
expect_ok
json_eq '.id' 3
wait_state 3 rolled-back
run "$CANARY" rollout status 3
[ "$RC" -eq 1 ] || die "status of a rolled-back rollout exits 1, got $RC"
run "$CANARY" rollout history 3 --json
json_eq '[.entries[] | select(.kind == "trigger")] | length >= 1' true
json_eq '[.entries[] | select(.kind == "trigger")][0].reason | test("error_rate")' true
w=$(http_json "$CANARY_SERVER/v1/traffic" '.canary_weight' -H "Authorization: Bearer $TOKEN")
[ "$w" = 0 ] || die "rolled back, but the canary weight is $w"
run "$CANARY" model list fraud --json
json_eq '[.versions[] | select(.version == "v4") | .tags]' '[["rolled-back"]]'
trail_ok 3

echo "rollout: 3. silent regressions are rolled back by an analysis that names the metric"
start_model slow 0.5 --delay-ms 8
run "$CANARY" model register fraud v5 --upstream "$slow_ADDR"
run "$CANARY" rollout start fraud v5
expect_ok
wait_state 4 rolled-back
run "$CANARY" rollout status 4 --json
json_eq '.reason | test("latency_ms")' true
start_model shifted 0.9 --delay-ms 2
run "$CANARY" model register fraud v6 --upstream "$shifted_ADDR"
run "$CANARY" rollout start fraud v6
expect_ok
wait_state 5 rolled-back
run "$CANARY" rollout status 5 --json
json_eq '.reason | test("prediction")' true
trail_ok 4
trail_ok 5

echo "rollout: 6. manual controls, 409, override and weight 0"
start_model good3 0.5 --delay-ms 2
run "$CANARY" model register fraud v7 --upstream "$good3_ADDR"
run "$CANARY" rollout start fraud v7 --json
expect_ok
wait_state 6 progressing warmup
run "$CANARY" rollout pause 6 --reason "lunch"
expect_ok
wait_state 6 paused
run "$CANARY" rollout pause 6
expect_error 75 "already paused"
run "$CANARY" rollout resume 6
expect_ok
code=$(api PUT /v1/traffic '{"canary_weight": 40}')
[ "$code" = 409 ] || die "a PUT during a rollout: expected 409, got $code $(cat "$TMP/api")"
grep -q 'rollout 6' "$TMP/api" || die "the 409 names the rollout: $(cat "$TMP/api")"
code=$(api PUT /v1/traffic '{"canary_weight": 40, "override": true}')
[ "$code" = 200 ] || die "override: expected 200, got $code $(cat "$TMP/api")"
wait_state 6 paused
code=$(api PUT /v1/traffic '{"canary_weight": 0}')
[ "$code" = 200 ] || die "weight 0 is always accepted: got $code $(cat "$TMP/api")"
wait_state 6 aborted
run "$CANARY" rollout retry 6 --reason "again"
expect_ok
wait_state 6 progressing warmup
run "$CANARY" rollout promote 6 --full --reason "ship it"
expect_ok
wait_state 6 promoted
v=$(http_json "$CANARY_SERVER/v1/versions" '.stable.version' -H "Authorization: Bearer $TOKEN")
[ "$v" = '"v7"' ] || die "promote --full did not move stable: $v"
run "$CANARY" rollout resume 6
expect_error 75 "nothing to resume"
run "$CANARY" rollout abort 999
expect_error 65 "HTTP 404: no rollout 999"
CANARY_TOKEN=wrong run "$CANARY" rollout list
expect_error 77 "refused the token \\(HTTP 401\\)"
run "$CANARY" rollout status 6 --server http://127.0.0.1:1
expect_error 69 "cannot reach the canary server"
run "$CANARY" rollout promote 6 --bogus
expect_error 64 "bogus"
run "$CANARY" rollout history 6 --json
json_eq '.entries[0] | keys' '["actor","kind","reason","seq","state","step","time_unix_ms","weight"]'
json_eq '.entries[0].kind' '"manual"'
run "$CANARY" rollout list --state promoted --json
json_eq '[.rollouts[].state] | unique' '["promoted"]'
code=$(api GET '/v1/rollouts?state=nope')
[ "$code" = 400 ] || die "a bad state filter: HTTP $code"
trail_ok 6

echo "rollout: 6b. a newer candidate supersedes the active rollout"
start_model good4 0.5 --delay-ms 2
start_model good5 0.5 --delay-ms 2
run "$CANARY" model register fraud v8 --upstream "$good4_ADDR"
run "$CANARY" model register fraud v9 --upstream "$good5_ADDR"
run "$CANARY" rollout start fraud v8
expect_ok
wait_state 7 progressing warmup
run "$CANARY" model tag fraud v9 production-candidate
expect_ok
wait_state 7 aborted
run "$CANARY" rollout status 7 --json
json_eq '.reason | test("superseded by v9")' true
wait_state 8 progressing warmup promoted

echo "rollout: 7. kill -9 during a bake; the rollout resumes at the same step and weight"
# The same strategy with bakes long enough that the step cannot end while
# canary serve restarts, so "the same step" is what the test sees.
sed -e 's/duration: 2s/duration: 120s/' "$TMP/canary.yaml" >"$TMP/long.yaml"
wait_state 8 promoted
kill "$WRK" 2>/dev/null || true
stop_canary r1
start_canary r1 --config "$TMP/long.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/state.db"
export CANARY_SERVER="http://$r1_ADMIN"
traffic_to "$r1_ADDR" 600
start_model good6 0.5 --delay-ms 2
run "$CANARY" model register fraud v10 --upstream "$good6_ADDR"
expect_ok
run "$CANARY" rollout start fraud v10 --json
expect_ok
json_eq '.id' 9
wait_state 9 progressing
n=0
while [ $n -lt 3 ]; do
    run "$CANARY" rollout status 9 --json
    before=$(jq -c '[.step, .weight, .state]' "$TMP/out")
    kill -9 "$r1_PID"
    wait "$r1_PID" 2>/dev/null || true
    kill "$WRK" 2>/dev/null || true
    start_canary r1 --config "$TMP/long.yaml" --stable "$s1_ADDR" --stable-version v1 \
        --state "$TMP/state.db"
    export CANARY_SERVER="http://$r1_ADMIN"
    traffic_to "$r1_ADDR" 600
    run "$CANARY" rollout status 9 --json
    [ "$RC" -eq 3 ] || die "status after restart: exit $RC $(cat "$TMP/out" "$TMP/err")"
    after=$(jq -c '[.step, .weight, .state]' "$TMP/out")
    [ "$after" = "$before" ] ||
        die "kill -9 #$n: was at $before, resumed at $after"
    wait_err r1 "rollout 9 \\(fraud v10\\): resuming"
    w=$(http_json "$CANARY_SERVER/v1/traffic" '.canary_weight' -H "Authorization: Bearer $TOKEN")
    [ "$w" = "$(jq .weight "$TMP/out")" ] || die "the router runs $w, the rollout says $(jq .weight "$TMP/out")"
    trail_ok 9
    n=$((n + 1))
    sleep 1
done
run "$CANARY" rollout history 9 --json
json_eq '[.entries[].reason | select(test("restarted"))] | length >= 3' true
run "$CANARY" rollout promote 9 --full
expect_ok
wait_state 9 promoted
trail_ok 9
kill "$WRK" 2>/dev/null || true
stop_canary r1
echo "rollout: all checks passed ($NCHECK)"
