#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The infrastructure parity (A/A) check (issue 17; docs/PARITY.md), with
# real processes: canary serve, model servers, wrk, the CLI.
#  1. stable's version on a second server as fast as stable's: passed,
#     judged both ways; no tag moves, the arm leaves at weight 0;
#  2. the parity arm on a slower server: failed, and a later rollout of
#     the model says so in its status (JSON and text);
#  3. the parity arm on a *faster* server (stable's is the slow one): also
#     failed: the check is two-sided (a one-sided judge would pass it);
#  4. refusals: a version with --parity, a dry run, a bad address, a
#     parity check while a rollout runs, a promote of a parity check;
#  5. a parity check on stable's own servers (the default): the two arms
#     share the addresses, and it passes.
. tests/integration/lib.sh
TOKEN=parity-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

cat >"$TMP/parity.yaml" <<'YAML'
serve:
  model: fraud
  workers: 1
strategy:
  warmup: 1s
  progress_deadline: 30s
  steps:
    - set_weight: 10
    - pause: {duration: 2s}
    - analysis: {}
  max_bake: 30s
  parity: {weight: 50, duration: 4s}
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

# parity_result ID: the check's result once it has ended
wait_parity() {
    wait_state "$1" promoted rolled-back aborted
    run "$CANARY" rollout status "$1" --json
    jq -r '.parity_check.result' "$TMP/out"
}

echo "parity: 1. stable's version on an equal server passes, both ways"
start_model s1 0.5 --delay-ms 2
start_model s1b 0.5 --delay-ms 2
start_canary h1 --config "$TMP/parity.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/p1.db"
export CANARY_SERVER="http://$h1_ADMIN"
traffic_to "$h1_ADDR" 300 8
run "$CANARY" rollout start fraud --parity --addresses "$s1b_ADDR" --reason "new nodes"
expect_ok
grep -q "^parity check 1: fraud v1 as 'v1+parity' on 1 address: running" "$TMP/out" ||
    die "start: $(cat "$TMP/out")"
run "$CANARY" rollout status 1 --json
json_eq '.parity' true
json_eq '.parity_check.label' '"v1+parity"'
json_eq '.parity_check.addresses' "[\"$s1b_ADDR\"]"
json_eq '.parity_check.weight' 50
json_eq '.steps' 3
# while it runs, the arm serves stable's version under its own label
wait_state 1 progressing
w=$(http_json "$CANARY_SERVER/v1/versions" '.canary.version' -H "Authorization: Bearer $TOKEN")
[ "$w" = '"v1+parity"' ] || die "the canary arm is $w"
r=$(wait_parity 1)
[ "$r" = passed ] || die "an equal arm: $r: $(cat "$TMP/out")"
json_eq '.reason | startswith("passed: the two arms")' true
curl -s -H "Authorization: Bearer $TOKEN" "$CANARY_SERVER/v1/rollouts/1/analyses" >"$TMP/an"
jq -e '.analyses | length == 1' "$TMP/an" >/dev/null || die "one analysis: $(cat "$TMP/an")"
jq -e '.analyses[0].result | .parity.verdict == "pass" and .verdict == "pass" and
    .parity.reverse.verdict == "pass"' "$TMP/an" >/dev/null ||
    die "both directions pass: $(jq -c '.analyses[0].result | [.verdict, .parity]' "$TMP/an" | head -c 600)"
# every metric has its interval, each way
jq -e '.analyses[0].result | [.metrics[], .parity.reverse.metrics[]] |
    all(.ci != null)' "$TMP/an" >/dev/null ||
    die "intervals: $(jq -c '.analyses[0].result.metrics' "$TMP/an" | head -c 600)"
# nothing that lasts changed: v1 stays stable, no tag, the arm is gone
run "$CANARY" model list fraud --json
json_eq '[.versions[] | [.version, .tags]]' '[["v1",["stable"]]]'
v=$(http_json "$CANARY_SERVER/v1/versions" '[.stable.version, .canary.addresses]' \
    -H "Authorization: Bearer $TOKEN")
[ "$v" = '["v1",[]]' ] || die "after the check: $v"
w=$(http_json "$CANARY_SERVER/v1/traffic" '.canary_weight' -H "Authorization: Bearer $TOKEN")
[ "$w" = 0 ] || die "after the check the canary weight is $w"
run "$CANARY" report 1 --format json -o "$TMP/report.json"
expect_ok
jq -e '.rollout.parity == true' "$TMP/report.json" >/dev/null ||
    die "the report shows the parity check: $(jq -c '.rollout' "$TMP/report.json" | head -c 300)"
trail_ok 1
stop_canary h1
kill "$WRK" 2>/dev/null || true

echo "parity: 2. a slower parity arm fails, and later rollouts say so"
start_model s2 0.5 --delay-ms 1
start_model slow 0.5 --delay-ms 25
start_model c2 0.5 --delay-ms 1
start_canary h2 --config "$TMP/parity.yaml" --stable "$s2_ADDR" --stable-version v1 \
    --state "$TMP/p2.db"
export CANARY_SERVER="http://$h2_ADMIN"
traffic_to "$h2_ADDR" 300 8
run "$CANARY" rollout start fraud --parity --addresses "$slow_ADDR"
expect_ok
r=$(wait_parity 1)
[ "$r" = failed ] || die "a slower arm: $r: $(cat "$TMP/out")"
json_eq '.reason | startswith("failed: ")' true
run "$CANARY" model register fraud v2 --upstream "$c2_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
run "$CANARY" rollout status 2
grep -q "WARNING: the last parity check of model 'fraud' (rollout 1) failed" "$TMP/out" ||
    die "the status does not warn: $(cat "$TMP/out")"
run "$CANARY" rollout history 2
grep -q "started by .*(warning: the last parity check, rollout 1, failed)" "$TMP/out" ||
    die "the trail does not warn: $(cat "$TMP/out")"
run "$CANARY" rollout status 2 --json
json_eq '.parity_warning.parity_check_id' 1
json_eq '.parity_warning.result' '"failed"'
# 4. refusals, while rollout 2 runs
run "$CANARY" rollout start fraud --parity
expect_error 75 'rollout 2 of version .v2. is [a-z-]+: a parity check needs the canary arm'
run "$CANARY" rollout abort 2
expect_ok
run "$CANARY" rollout start fraud v2 --parity
expect_error 64 '--parity takes MODEL alone'
run "$CANARY" rollout start fraud --addresses "$s2_ADDR"
expect_error 64 '--addresses goes with --parity'
run "$CANARY" rollout start fraud --parity --dry-run
expect_error 65 'dry_run: a parity check judges real traffic'
run "$CANARY" rollout start fraud --parity --addresses "127.0.0.1:0"
expect_error 65 'canary.addresses\[0\]: must be an address'
run "$CANARY" rollout start fraud --parity --addresses "$s2_ADDR,$s2_ADDR"
expect_error 65 'canary.addresses\[1\]: duplicate address'
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -d '{"model":"fraud","parity":true,"version":"v1"}' "$CANARY_SERVER/v1/rollouts")
[ "$code" = 400 ] && grep -q 'version: not with' "$TMP/body" ||
    die "parity with a version: HTTP $code $(cat "$TMP/body")"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -d '{"model":"fraud","parity":true,"addresses":"x"}' "$CANARY_SERVER/v1/rollouts")
[ "$code" = 400 ] && grep -q 'addresses: must be a list' "$TMP/body" ||
    die "addresses not a list: HTTP $code $(cat "$TMP/body")"
# a promote of a running parity check is refused; an abort ends it
run "$CANARY" rollout start fraud --parity --addresses "$slow_ADDR"
expect_ok
run "$CANARY" rollout promote 3
expect_error 75 'rollout 3 is a parity check: it promotes nothing'
run "$CANARY" rollout abort 3 --reason "enough"
expect_ok
r=$(wait_parity 3)
[ "$r" = inconclusive ] || die "an aborted check: $r"
json_eq '.reason | startswith("inconclusive: aborted by ")' true
stop_canary h2
kill "$WRK" 2>/dev/null || true

echo "parity: 3. a faster parity arm fails too: the check is two-sided"
start_model s3 0.5 --delay-ms 25
start_model fast 0.5 --delay-ms 1
start_canary h3 --config "$TMP/parity.yaml" --stable "$s3_ADDR" --stable-version v1 \
    --state "$TMP/p3.db"
export CANARY_SERVER="http://$h3_ADMIN"
traffic_to "$h3_ADDR" 300 8
run "$CANARY" rollout start fraud --parity --addresses "$fast_ADDR"
expect_ok
r=$(wait_parity 1)
[ "$r" = failed ] || die "a faster arm: $r: $(cat "$TMP/out")"
curl -s -H "Authorization: Bearer $TOKEN" "$CANARY_SERVER/v1/rollouts/1/analyses" >"$TMP/an"
jq -e '.analyses[0].result | .verdict != "fail" and .parity.reverse.verdict == "fail"' \
    "$TMP/an" >/dev/null ||
    die "the reverse direction fails: $(jq -c '.analyses[0].result | [.verdict, .parity.verdict, .parity.reverse.verdict]' "$TMP/an")"
stop_canary h3
kill "$WRK" 2>/dev/null || true

echo "parity: 5. on stable's own servers (shared addresses), through a kill -9"
start_model s5a 0.5 --delay-ms 2
start_model s5b 0.5 --delay-ms 2
sed 's/duration: 4s/duration: 6s/' "$TMP/parity.yaml" >"$TMP/parity6.yaml"
start_canary h5 --config "$TMP/parity6.yaml" --stable "$s5a_ADDR,$s5b_ADDR" \
    --stable-version v1 --state "$TMP/p5.db"
export CANARY_SERVER="http://$h5_ADMIN"
traffic_to "$h5_ADDR" 300 8
run "$CANARY" rollout start fraud --parity
expect_ok
run "$CANARY" rollout status 1 --json
json_eq '.parity_check.addresses' "[\"$s5a_ADDR\",\"$s5b_ADDR\"]"
wait_state 1 progressing
v=$(http_json "$CANARY_SERVER/v1/versions" '[.stable.addresses, .canary.version, .canary.addresses]' \
    -H "Authorization: Bearer $TOKEN")
[ "$v" = "[[\"$s5a_ADDR\",\"$s5b_ADDR\"],\"v1+parity\",[\"$s5a_ADDR\",\"$s5b_ADDR\"]]" ] ||
    die "the arms share stable's servers: $v"
# a crash in the middle: the check resumes as a parity check
kill -9 "$h5_PID"
wait "$h5_PID" 2>/dev/null || true
kill "$WRK" 2>/dev/null || true
start_canary h5 --config "$TMP/parity6.yaml" --stable "$s5a_ADDR,$s5b_ADDR" \
    --stable-version v1 --state "$TMP/p5.db"
export CANARY_SERVER="http://$h5_ADMIN"
traffic_to "$h5_ADDR" 300 8
r=$(wait_parity 1)
[ "$r" = passed ] || die "stable's own servers: $r: $(cat "$TMP/out")"
json_eq '.parity' true
curl -s -H "Authorization: Bearer $TOKEN" "$CANARY_SERVER/v1/rollouts/1/analyses" >"$TMP/an"
# each arm's two addresses, each with its own requests and latency
jq -e --arg a "$s5a_ADDR" --arg b "$s5b_ADDR" '.analyses[-1].result.parity.addresses |
    length == 4 and ([.[] | select(.requests > 0 and .p50_ms > 1.9)] | length == 4) and
    ([.[] | .arm + " " + .address] | sort ==
     (["canary " + $a, "canary " + $b, "stable " + $a, "stable " + $b] | sort))' \
    "$TMP/an" >/dev/null ||
    die "per-address latency: $(jq -c '.analyses[-1].result.parity.addresses' "$TMP/an")"
v=$(http_json "$CANARY_SERVER/v1/versions" '[.canary.addresses, .stable.version]' \
    -H "Authorization: Bearer $TOKEN")
[ "$v" = '[[],"v1"]' ] || die "after the check: $v"
stop_canary h5

echo "parity: all checks passed ($NCHECK)"
