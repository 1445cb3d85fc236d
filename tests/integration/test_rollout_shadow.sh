#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# A strategy's shadow step on real processes: `canary serve` copies every
# request to the candidate while users get stable's answers, and the
# analysis after it judges the predictions in pairs (the same requests
# answered by both versions: the signed-rank test with the Hodges-Lehmann
# paired shift, and the agreement of the predicted classes), with the
# step's own metric subset.
#  1. a canary that answers like stable passes the shadow step and is
#     promoted; the shadow analysis is paired and judged only the metrics
#     its step names; the later analysis is unpaired and leaves the
#     agreement metric out;
#  2. a canary whose predictions moved (HTTP 200) is rolled back by the
#     paired analysis before any user got one of its answers;
#  3. a metric canary serve does not measure, errors judged by another
#     test than proportion, and agreement without a shadow step are
#     config errors that name the key.
. tests/integration/lib.sh
TOKEN=shadow-token-$$-0123456789abcdef
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
    - shadow: {percent: 100, duration: 3s}
    - analysis: {metrics: [error, prediction, fraud_class]}
    - set_weight: 20
    - pause: {duration: 2s}
    - analysis: {}
  max_bake: 60s
  on_marginal: hold
  triggers:
    error_rate: {max: 0.05, max_ratio: 3.0}
analysis:
  alpha: 0.05
  min_per_arm: 50
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 100%
    - name: error
      test: proportion
      margin: 0.05
    - name: prediction
      test: mann-whitney
      direction: either
      margin: 0.05
      critical: true
    - name: fraud_class
      test: agreement
      source: prediction
      class_threshold: 0.7
      min_agreement: 0.95
YAML

start_model s1 0.5 --delay-ms 2
start_model good 0.5 --delay-ms 2
start_model moved 0.9 --delay-ms 2

start_canary r1 --config "$TMP/canary.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/state.db"
export CANARY_SERVER="http://$r1_ADMIN"
traffic_to "$r1_ADDR" 600

analyses() { # analyses ID: GET /v1/rollouts/ID/analyses into $TMP/an
    an_code=$(curl -s -o "$TMP/an" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        "$CANARY_SERVER/v1/rollouts/$1/analyses")
    [ "$an_code" = 200 ] || die "analyses of $1: HTTP $an_code $(cat "$TMP/an")"
}
an_eq() { # an_eq JQ WANT: on $TMP/an
    an_got=$(jq -c "$1" "$TMP/an" 2>&1) || die "jq $1: $an_got"
    [ "$an_got" = "$2" ] || die "analyses: $1 = $an_got, want $2: $(head -c 1500 "$TMP/an")"
}

echo "rollout-shadow: 1. a canary that answers like stable passes its paired analysis"
run "$CANARY" model register fraud v2 --upstream "$good_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2 --json
expect_ok
wait_state 1 promoted
analyses 1
an_eq '[.analyses[].result.paired]' '[true,false]'
an_eq '[.analyses[0].result.metrics[] | .name]' '["error","prediction","fraud_class"]'
an_eq '[.analyses[1].result.metrics[] | .name]' '["latency_ms","error","prediction"]'
an_eq '.analyses[0].result.metrics[1] | [.test, .pairs > 50, .effect]' '["mann-whitney",true,0]'
# not the last analysis: it looks for harm only (passing is the last's)
an_eq '.analyses[0].result.metrics[2] | [.test, .pairs > 50, .effect, .classification]' \
    '["agreement",true,1,"inconclusive"]'
an_eq '.analyses[0].result.metrics[2].reason | test("no harm shown")' true
an_eq '.analyses[0].result.metrics[1].reason | test("^paired, [0-9]+ requests")' true
an_eq '.analyses[0].result.metrics[0].pairs' 0
an_eq '.analyses[1].result.metrics[2].pairs' 0
an_eq '.analyses[1].result.verdict' '"pass"'
run "$CANARY" rollout history 1 --json
expect_ok
json_eq '[.entries[] | select(.reason | test("^step 0: shadow 100% for"))] | length' 1
trail_ok 1

echo "rollout-shadow: 2. moved predictions are rolled back by the paired analysis, in shadow"
run "$CANARY" model register fraud v3 --upstream "$moved_ADDR"
expect_ok
run "$CANARY" rollout start fraud v3 --json
expect_ok
wait_state 2 rolled-back
run "$CANARY" rollout status 2 --json
json_eq '.reason | test("prediction")' true
analyses 2
an_eq '[.analyses[].result.paired]' '[true]'
an_eq '.analyses[0].result.verdict' '"fail"'
an_eq '[.analyses[0].result.metrics[1] | .classification, .effect]' '["fail",0.4]'
an_eq '.analyses[0].result.metrics[2] | [.classification, .effect]' '["fail",0]'
run "$CANARY" rollout history 2 --json
expect_ok
json_eq '[.entries[] | select(.reason | test("set_weight"))] | length' 0
w=$(http_json "$CANARY_SERVER/v1/traffic" '.canary_weight' -H "Authorization: Bearer $TOKEN")
[ "$w" = 0 ] || die "canary weight after the rollback: $w"
run "$CANARY" model list fraud --json
json_eq '[.versions[] | select(.version == "v3") | .tags[]]' '["rolled-back"]'
trail_ok 2
kill "$WRK" 2>/dev/null || true
stop_canary r1

echo "rollout-shadow: 3. what canary serve cannot judge is a config error"
bad_config() { # bad_config WANT: serve must refuse $TMP/bad.yaml with WANT (65: bad data)
    "$CANARY" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --config "$TMP/bad.yaml" \
        --stable "$s1_ADDR" >"$TMP/bad.out" 2>"$TMP/bad.err" &
    bc_pid=$!
    bc_rc=0
    wait $bc_pid || bc_rc=$?
    [ "$bc_rc" -eq 65 ] || die "serve with a bad config exited $bc_rc: $(cat "$TMP/bad.err")"
    grep -qF "$1" "$TMP/bad.err" || die "want '$1', got: $(cat "$TMP/bad.err")"
    [ "$(wc -l <"$TMP/bad.err")" -eq 1 ] || die "one line: $(cat "$TMP/bad.err")"
}
printf 'serve:\n  workers: 1\nstrategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\nanalysis:\n  metrics:\n    - {name: clicks, test: proportion, margin: 0.01}\n' >"$TMP/bad.yaml"
bad_config "bad.yaml:7: key 'analysis.metrics[0].name': 'clicks' is neither measured by canary serve"
printf 'serve:\n  workers: 1\nstrategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\nanalysis:\n  metrics:\n    - {name: error, test: welch, margin: 0.01}\n' >"$TMP/bad.yaml"
bad_config "'error' is counted whole by the router: judge it with test proportion"
printf 'serve:\n  workers: 1\nstrategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\nanalysis:\n  metrics:\n    - {name: cls, test: agreement, source: prediction}\n' >"$TMP/bad.yaml"
bad_config "key 'analysis.metrics[0].source': 'prediction' is judged by an agreement test"
echo "rollout-shadow: ok"
