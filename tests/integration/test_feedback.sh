#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Delayed feedback (POST /v1/feedback), on real processes: two model
# servers that echo scores the test chooses (stable the good ones, the
# canary ones that are uninformative in segment eu only), canary serve
# splitting 50/50 with segments, a driver posting labels, clicks and
# revenue afterwards.
#  1. the join: every item accepted once; per version and segment,
#     accuracy, log-loss, Brier score and AUC equal scikit-learn's on the
#     same requests, and the click rate and mean revenue the driver's;
#  2. duplicates, unknown ids and malformed lines are counted, never
#     counted twice, and the valid lines of a bad batch still count; an
#     empty or all-bad body is a 400 naming the problem;
#  3. feedback older than the ttl is expired;
#  4. fed metrics reach the judge: a rollout judging auc per segment rolls
#     the canary back, naming eu; without feedback an analysis of accuracy
#     holds (marginal, "no samples named 'accuracy'"), never passes;
#     the rolled-back rollout's blast radius (canary requests, failed,
#     share of all traffic) is shown, and the same after a restart;
#  5. config errors: an analysis metric neither measured nor fed, a fed
#     rate judged by a non-proportion test, auc without a label.
. tests/integration/lib.sh
TOKEN=feedback-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
DRIVER=tests/integration/feedback_driver.py
AUTH="Authorization: Bearer $TOKEN"

cat >"$TMP/fb.yaml" <<'YAML'
serve:
  workers: 2
  measure:
    segment_header: X-Region
    segments: [us, eu]
  feedback:
    ttl: 10m
    metrics:
      clicked: proportion
      revenue: mean
      label: label
YAML
start_model good 0.5 --echo good
start_model bad 0.5 --echo bad

echo "feedback: 1. joined per version and segment, equal to scikit-learn's"
start_canary f1 --config "$TMP/fb.yaml" --stable "$good_ADDR" --stable-version v1 \
    --canary "$bad_ADDR" --canary-version v2 --canary-weight 50
/usr/bin/python3 "$DRIVER" send "$f1_ADDR" 2000 7 "$TMP/served.jsonl"
[ "$(wc -l <"$TMP/served.jsonl")" -eq 2000 ] || die "not every request was answered"
/usr/bin/python3 "$DRIVER" post "$f1_ADMIN" "$TOKEN" "$TMP/served.jsonl" >"$TMP/out"
json_eq '.accepted' 2000
json_eq '[.unknown, .expired, .duplicate, .invalid]' '[0,0,0,0]'
/usr/bin/python3 "$DRIVER" reference "$TMP/served.jsonl" >"$TMP/ref.json"
curl -sS -H "$AUTH" "http://$f1_ADMIN/v1/feedback" >"$TMP/fed.json"
jq -e '.cells | length == 4' "$TMP/fed.json" >/dev/null ||
    die "expected 4 cells (2 versions x 2 segments): $(cat "$TMP/fed.json")"
jq -n --slurpfile ref "$TMP/ref.json" --slurpfile fed "$TMP/fed.json" '
  def close(a; b): ((a - b) | fabs) <= 1e-9 * ([a, b] | map(fabs) | max) + 1e-12;
  [ $ref[0][] as $r
    | ($fed[0].cells[] | select(.version == $r.version and .segment == $r.segment)) as $c
    | { cell: "\($r.version)/\($r.segment)",
        ok: ($c.label.n == $r.n and $c.accuracy.n == $r.n
             and close($c.accuracy.value; $r.accuracy)
             and close($c.log_loss.value; $r.log_loss)
             and close($c.brier.value; $r.brier)
             and close($c.auc.value; $r.auc)
             and close($c.clicked.value; $r.clicked)
             and close($c.revenue.value; $r.revenue)
             and $c.accuracy.ci_low < $c.accuracy.value
             and $c.auc.ci_high > $c.auc.value) } ]
  | if length == 4 and all(.ok) then "ok" else . end' >"$TMP/cmp" ||
    die "comparison failed"
[ "$(cat "$TMP/cmp")" = '"ok"' ] ||
    die "fed metrics differ from scikit-learn: $(cat "$TMP/cmp") fed: $(cat "$TMP/fed.json") ref: $(cat "$TMP/ref.json")"
# the canary's eu AUC is near 0.5, stable's well above it
eu=$(jq '[.cells[] | select(.segment == "eu") | {(.role): .auc.value}] | add' "$TMP/fed.json")
echo "$eu" | jq -e '.canary < 0.62 and .stable > 0.8' >/dev/null ||
    die "eu AUC: expected the canary near 0.5 and stable above 0.8, got $eu"

echo "feedback: 2. duplicates, unknown ids and bad lines, counted once each"
/usr/bin/python3 "$DRIVER" post "$f1_ADMIN" "$TOKEN" "$TMP/served.jsonl" label >"$TMP/out"
json_eq '[.accepted, .duplicate]' '[0,2000]'
id0=$(head -1 "$TMP/served.jsonl" | jq -r .id)
printf '%s\n' \
    '{"request_id": "never-served", "metrics": {"clicked": 1}}' \
    '{"request_id": "x", "metrics": {"clicked": 2}}' \
    'not json' \
    '{"request_id": "x", "metrics": {"colour": 1}}' \
    '{"request_id": "x", "metrics": {}, "extra": 1}' \
    "{\"request_id\": \"$id0\", \"metrics\": {\"clicked\": 1, \"revenue\": 3}}" \
    >"$TMP/bad.jsonl"
curl -sS -H "$AUTH" --data-binary @"$TMP/bad.jsonl" -w '\n%{http_code}\n' \
    "http://$f1_ADMIN/v1/feedback" >"$TMP/bad.out"
[ "$(tail -1 "$TMP/bad.out")" = 200 ] || die "a batch with valid lines is a 200: $(cat "$TMP/bad.out")"
head -1 "$TMP/bad.out" >"$TMP/out"
json_eq '[.accepted, .unknown, .duplicate, .invalid]' '[0,1,1,4]'
json_eq '[.errors[].line]' '[2,3,4,5]'
json_eq '.errors[0].error' '"line 2: metrics.clicked: must be 0 or 1"'
jq -e '.errors[2].error | test("metrics.colour: not a fed metric")' "$TMP/out" >/dev/null ||
    die "unknown metric: $(cat "$TMP/out")"
# all lines bad, or none: 400 with the reason
curl -sS -H "$AUTH" --data-binary 'not json' -w '\n%{http_code}\n' \
    "http://$f1_ADMIN/v1/feedback" >"$TMP/bad.out"
[ "$(tail -1 "$TMP/bad.out")" = 400 ] || die "an all-bad batch is a 400: $(cat "$TMP/bad.out")"
grep -q '"error":"line 1: not JSON' "$TMP/bad.out" || die "names the line: $(cat "$TMP/bad.out")"
curl -sS -H "$AUTH" --data-binary '' -w '\n%{http_code}\n' \
    "http://$f1_ADMIN/v1/feedback" >"$TMP/bad.out"
[ "$(tail -1 "$TMP/bad.out")" = 400 ] || die "an empty body is a 400: $(cat "$TMP/bad.out")"
curl -sS "http://$f1_ADMIN/metrics" >"$TMP/metrics"
grep -q '^canary_feedback_items_total{outcome="accepted"} 2000$' "$TMP/metrics" ||
    die "accepted counted once: $(grep feedback "$TMP/metrics")"
grep -q '^canary_feedback_items_total{outcome="duplicate"} 2001$' "$TMP/metrics" ||
    die "duplicates: $(grep feedback "$TMP/metrics")"
grep -q '^canary_feedback_items_total{outcome="invalid"} 5$' "$TMP/metrics" ||
    die "invalid: $(grep feedback "$TMP/metrics")"
grep -q '^canary_feedback_items_total{outcome="unknown"} 1$' "$TMP/metrics" ||
    die "unknown: $(grep feedback "$TMP/metrics")"
# nothing was counted twice: the cells still hold 2000 labels in all
n=$(curl -sS -H "$AUTH" "http://$f1_ADMIN/v1/feedback" | jq '[.cells[].label.n] | add')
[ "$n" -eq 2000 ] || die "labels counted twice: $n"
stop_canary f1

echo "feedback: 3. older than the ttl: expired"
start_canary f2 --config "$TMP/fb.yaml" --stable "$good_ADDR" --stable-version v1 \
    --feedback-ttl 1s
/usr/bin/python3 "$DRIVER" send "$f2_ADDR" 5 8 "$TMP/old.jsonl"
sleep 1.5
/usr/bin/python3 "$DRIVER" post "$f2_ADMIN" "$TOKEN" "$TMP/old.jsonl" >"$TMP/out"
json_eq '[.accepted, .expired]' '[0,5]'
stop_canary f2

echo "feedback: 4. fed metrics reach the judge"
cat >"$TMP/roll.yaml" <<'YAML'
serve:
  model: fraud
  workers: 2
  measure:
    segment_header: X-Region
    segments: [us, eu]
  feedback:
    metrics:
      label: label
strategy:
  warmup: 0s
  progress_deadline: 60s
  steps:
    - set_weight: 50
    - pause: {duration: 6s}
    - analysis: {}
  max_bake: 60s
analysis:
  alpha: 0.05
  min_per_arm: 50
  segment_by: region
  metrics:
    - name: auc
      test: auc
      direction: higher-is-better
      margin: 0.05
      critical: true
YAML
start_canary r1 --config "$TMP/roll.yaml" --stable "$good_ADDR" --stable-version v1 \
    --state "$TMP/roll.db"
export CANARY_SERVER="http://$r1_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$bad_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
( /usr/bin/python3 "$DRIVER" loop "$r1_ADDR" "$r1_ADMIN" "$TOKEN" 120 9 label ) &
LOOP=$!
PIDS="$PIDS $LOOP"
wait_state 1 rolled-back
run "$CANARY" rollout status 1 --json
jq -e '.reason | test("critical metric .auc. failed")' "$TMP/out" >/dev/null ||
    die "the rollback names auc: $(jq .reason "$TMP/out")"
# the segment rows: eu failed, us did not
curl -sS -H "$AUTH" "http://$r1_ADMIN/v1/rollouts/1/analyses" >"$TMP/out"
json_eq '[.analyses[-1].result.metrics[] | select(.segment != null) | {(.segment): .classification}] | add | [.eu == "fail", .us != "fail"]' '[true,true]'
trail_ok 1
kill "$LOOP" 2>/dev/null || true
# the blast radius: the canary's requests at about half the traffic, none
# failed; stored with the rollout, so a restart shows the same
run "$CANARY" rollout status 1 --json
jq -e '.blast_radius | .canary_requests > 1000 and .canary_failed == 0
       and .share > 0.3 and .share < 0.7' "$TMP/out" >/dev/null ||
    die "blast radius: $(jq -c .blast_radius "$TMP/out")"
blast=$(jq -c .blast_radius "$TMP/out")
stop_canary r1
start_canary r1 --config "$TMP/roll.yaml" --stable "$good_ADDR" --stable-version v1 \
    --state "$TMP/roll.db"
export CANARY_SERVER="http://$r1_ADMIN"
run "$CANARY" rollout status 1 --json
json_eq '.blast_radius' "$blast"
stop_canary r1

# without feedback: the analysis of accuracy holds, saying which metric
sed -e 's/- name: auc/- name: accuracy/' -e 's/test: auc/test: proportion/' \
    -e 's/pause: {duration: 6s}/pause: {duration: 1s}/' -e 's/max_bake: 60s/max_bake: 3s/' \
    "$TMP/roll.yaml" >"$TMP/none.yaml"
start_canary r2 --config "$TMP/none.yaml" --stable "$good_ADDR" --stable-version v1 \
    --state "$TMP/none.db"
export CANARY_SERVER="http://$r2_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$bad_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
( /usr/bin/python3 "$DRIVER" loop "$r2_ADDR" "$r2_ADMIN" "$TOKEN" 60 10 none ) &
LOOP=$!
PIDS="$PIDS $LOOP"
wait_state 1 holding
run "$CANARY" rollout status 1 --json
jq -e '.reason | test("accuracy")' "$TMP/out" >/dev/null ||
    die "the hold names the metric with no data: $(jq .reason "$TMP/out")"
sleep 2
run "$CANARY" rollout status 1 --json
json_eq '.state' '"holding"'
kill "$LOOP" 2>/dev/null || true
stop_canary r2

echo "feedback: 5. config errors"
printf 'serve:\n  feedback:\n    metrics: {clicked: proportion}\nstrategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\nanalysis:\n  metrics:\n    - {name: ctr, test: proportion, margin: 1%%}\n' >"$TMP/e1.yaml"
run "$CANARY" config check "$TMP/e1.yaml"
expect_error 65 'analysis.metrics\[0\].name.*'"'"'ctr'"'"' is neither measured by canary serve'
printf 'serve:\n  feedback:\n    metrics: {clicked: proportion}\nstrategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\nanalysis:\n  metrics:\n    - {name: clicked, test: welch, margin: 1%%}\n' >"$TMP/e2.yaml"
run "$CANARY" config check "$TMP/e2.yaml"
expect_error 65 'is a fed rate, counted whole: judge it with test proportion'
printf 'serve:\n  feedback:\n    metrics: {clicked: proportion}\nstrategy:\n  steps: [{set_weight: 5}, {analysis: {}}]\nanalysis:\n  metrics:\n    - {name: auc, test: auc, margin: 0.02}\n' >"$TMP/e3.yaml"
run "$CANARY" config check "$TMP/e3.yaml"
expect_error 65 "neither measured by canary serve"
printf 'serve:\n  feedback:\n    metrics: {label: label, truth: label}\n' >"$TMP/e4.yaml"
run "$CANARY" config check "$TMP/e4.yaml"
expect_error 65 'feedback.metrics.truth.*at most one metric is a label'
printf 'serve:\n  feedback:\n    metrics: {accuracy: proportion}\n' >"$TMP/e5.yaml"
run "$CANARY" config check "$TMP/e5.yaml"
expect_error 65 "feedback.metrics.accuracy.*what a label metric yields"
echo "feedback: ok"
