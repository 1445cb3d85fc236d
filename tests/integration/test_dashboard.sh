#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The live dashboard in a real browser (headless Chromium, driven by
# tests/integration/dashboard.py over the DevTools pipe): model servers,
# `canary serve` with a rollout running under load (a slower canary with
# 2% errors and shifted predictions, segments eu and us), the page loaded
# from the admin address, the token typed into its form, every chart
# drawn with data, the live stream connected, Pause clicked and confirmed,
# the new state shown by the page and read back from the API; then a
# second rollout, failed by a per-segment analysis, with its failing
# segments marked and named on the page. The
# resources behind it are checked with curl first: /v1/series, /v1/events
# (SSE), the static files with no token, and a wrong token refused.
# Screenshots (desktop 1280x900, phone 390x844) are kept in
# $DASHBOARD_ARTIFACTS (default: build-dir/artifacts/dashboard next to
# $CANARY), for a person to look at.
. tests/integration/lib.sh
TOKEN=dashboard-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
ART=${DASHBOARD_ARTIFACTS:-$(dirname "$CANARY")/artifacts/dashboard}
rm -rf "$ART"
mkdir -p "$ART"

cat >"$TMP/canary.yaml" <<'YAML'
serve:
  model: fraud
  workers: 1
  measure:
    segment_header: X-Region
    segments: [eu, us]
  feedback:
    ttl: 1h
    metrics:
      clicked: proportion
      revenue: mean
strategy:
  warmup: 1s
  progress_deadline: 60s
  steps:
    - set_weight: 20
    - pause: {duration: 3s}
    - analysis: {}
    - set_weight: 50
    - pause: {duration: 600s}
    - analysis: {}
  max_bake: 600s
  on_marginal: hold
  triggers:
    error_rate: {max: 0.5}
analysis:
  alpha: 0.05
  min_per_arm: 100
  segment_by: segment
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 100%
    - name: error
      test: proportion
      margin: 0.05
YAML
start_model s1 0.5 --delay-ms 5
start_model c1 0.55 --delay-ms 8 --fail-rate 0.02
start_canary d1 --config "$TMP/canary.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/state.db"
export CANARY_SERVER="http://$d1_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$c1_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
# traffic: two connections, 70% eu and 30% us
cat >"$TMP/seg.lua" <<'LUA'
local n = 0
request = function()
  n = n + 1
  local region = (n % 10 < 7) and "eu" or "us"
  return wrk.format("POST", "/v2/models/m/infer",
    {["Content-Type"] = "application/json", ["X-Region"] = region},
    '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}')
end
LUA
wrk -t1 -c2 -d300s -s "$TMP/seg.lua" "http://$d1_ADDR/v2/models/m/infer" >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_state 1 progressing
AUTH="Authorization: Bearer $TOKEN"

echo "dashboard: the page and its files are served without a token, the API is not"
for p in / /ui/app.js /ui/chart.js /ui/style.css; do
    code=$(curl -s -o "$TMP/page" -w '%{http_code} %{content_type}' "http://$d1_ADMIN$p")
    case "$code" in 200\ text/*) ;; *) die "GET $p: $code" ;; esac
    cmp -s "$TMP/page" "src/api/ui/$( [ "$p" = / ] && echo index.html || basename "$p")" ||
        die "GET $p is not the file in src/api/ui"
done
grep -Eq 'https?://' "$TMP/page" && die "style.css names another origin"
for f in src/api/ui/*; do
    ! grep -Eq '(src|href)="https?:|url\(https?:|fetch\("https?:' "$f" ||
        die "$f loads something from another origin"
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$d1_ADMIN/v1/series")
[ "$code" = 401 ] || die "GET /v1/series without a token: $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer wrong" \
    "http://$d1_ADMIN/v1/events")
[ "$code" = 401 ] || die "GET /v1/events with a wrong token: $code"

echo "dashboard: /v1/series keeps per-second points of both arms"
sleep 3
n=$(http_json "http://$d1_ADMIN/v1/series?rollout=1" '.points | length' -H "$AUTH")
[ "$n" -ge 2 ] || die "/v1/series?rollout=1 has $n points"
# the model servers wait 5 ms (stable) and 8 ms (canary) before answering:
# lower bounds of every second's median, whatever the load on the machine
v=$(http_json "http://$d1_ADMIN/v1/series?rollout=1" \
    '[.points[-1] | .stable.version, .canary.version, (.canary.requests > 0),
      (.canary.p50_ms > 7.9), (.stable.p50_ms > 4.9)]' -H "$AUTH")
[ "$v" = '["v1","v2",true,true,true]' ] || die "/v1/series last point: $v"
v=$(http_json "http://$d1_ADMIN/v1/series" \
    '[.predictions.stable.version, .predictions.canary.version,
      (.predictions.canary.count > 0), (.predictions.bounds | length) + 1 ==
      (.predictions.canary.le | length)]' -H "$AUTH")
[ "$v" = '["v1","v2",true,true]' ] || die "/v1/series predictions: $v"
v=$(http_json "http://$d1_ADMIN/v1/series?rollout=2" '.points | length' -H "$AUTH")
[ "$v" = 0 ] || die "/v1/series?rollout=2 (none) has $v points"
code=$(curl -s -o "$TMP/bad" -w '%{http_code}' -H "$AUTH" "http://$d1_ADMIN/v1/series?since=x")
[ "$code" = 400 ] && grep -q 'since: must be a whole number' "$TMP/bad" ||
    die "/v1/series?since=x: $code $(cat "$TMP/bad")"

echo "dashboard: fed metrics for the step at 50%"
i=0
until [ "$(http_json "http://$d1_ADMIN/v1/rollouts/1" '.weight' -H "$AUTH")" = 50 ]; do
    i=$((i + 1))
    [ $i -lt 300 ] || die "rollout 1 did not reach 50% in 60 s"
    sleep 0.2
done
# 240 requests of our own, 60% eu: their ids and versions, then feedback
# for each (clicked at 30% on stable, 15% on canary; revenue when clicked)
: >"$TMP/served"
n=0
while [ $n -lt 240 ]; do
    region=eu
    [ $((n % 5)) -lt 2 ] && region=us
    curl -s -o /dev/null -D - -X POST -H "X-Region: $region" \
        -d '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}' \
        "http://$d1_ADDR/v2/models/m/infer" |
        awk -v r="$region" 'tolower($1) == "x-request-id:" { id = $2 }
            tolower($1) == "x-model-version:" { v = $2 }
            END { gsub(/\r/, "", id); gsub(/\r/, "", v); print id, v, r }' >>"$TMP/served"
    n=$((n + 1))
done
awk 'BEGIN { srand(7) } {
    p = ($2 == "v2") ? 0.15 : 0.30; c = (rand() < p) ? 1 : 0
    printf "{\"request_id\": \"%s\", \"metrics\": {\"clicked\": %d", $1, c
    if (c) printf ", \"revenue\": %.2f", 5 + 20 * rand()
    print "}}" }' "$TMP/served" >"$TMP/feedback.jsonl"
v=$(http_json "http://$d1_ADMIN/v1/feedback" '[.accepted, .unknown, .invalid]' -H "$AUTH" \
    -X POST --data-binary @"$TMP/feedback.jsonl")
[ "$v" = '[240,0,0]' ] || die "POST /v1/feedback: $v"
v=$(http_json "http://$d1_ADMIN/v1/feedback" \
    '[.cells[] | select(.clicked.n > 0) | .role] | unique' -H "$AUTH")
[ "$v" = '["canary","stable"]' ] || die "GET /v1/feedback: cells of $v"

echo "dashboard: /v1/events streams samples as Server-Sent Events"
curl -sN --max-time 3 -H "$AUTH" -D "$TMP/events.head" "http://$d1_ADMIN/v1/events" \
    >"$TMP/events" || true
grep -qi '^content-type: text/event-stream' "$TMP/events.head" ||
    die "/v1/events head: $(cat "$TMP/events.head")"
head -n 1 "$TMP/events" | grep -qx 'retry: 2000' || die "/v1/events starts with $(head -n 2 "$TMP/events")"
ns=$(grep -c '^event: sample$' "$TMP/events" || true)
[ "$ns" -ge 2 ] || die "/v1/events: $ns samples in 3 s: $(head -c 400 "$TMP/events")"
grep '^data: ' "$TMP/events" | sed 's/^data: //' | jq -e 'select(.rollout == 1) | .canary.version' \
    >/dev/null || die "/v1/events data is not the points of rollout 1"

echo "dashboard: Chromium loads the page, draws the charts, pauses the rollout"
command -v chromium >/dev/null || die "chromium is not installed (scripts/deps.sh --test)"
# a second reader of the event stream, for the pause's "rollout" event
curl -sN -H "$AUTH" "http://$d1_ADMIN/v1/events" >"$TMP/events2" 2>/dev/null &
PIDS="$PIDS $!"
python3 tests/integration/dashboard.py "http://$d1_ADMIN/" "$TOKEN" "$ART" live \
    >"$TMP/seen.json" 2>"$ART/dashboard-live.err" ||
    die "the browser test failed: $(head -c 1500 "$ART/dashboard-live.err") (screenshots in $ART)"
jq -e '.before.id == 1 and .before.analyses >= 1 and .before.rows >= 6
       and .before.fed == ["clicked", "revenue"] and .before.fed_points >= 6
       and (.before.blast | test("[0-9]+ canary requests[0-9]+ failed, [0-9.]+% of all traffic"))
       and .before.charts.weight.markers >= 1 and .phone.width <= 390
       and .after.state == "paused" and (.after.result | test("now paused"))' \
    "$TMP/seen.json" >/dev/null || die "what the page showed: $(cat "$TMP/seen.json")"
run "$CANARY" rollout status 1 --json
json_eq '.state' '"paused"'
# the stream told its readers that the rollout moved: a "rollout" event in
# the first second after the pause (each is sent with that second's sample)
paused_ms=$(http_json "http://$d1_ADMIN/v1/rollouts/1/history" '.entries[-1].time_unix_ms' \
    -H "$AUTH")
i=0
until awk -v p="$paused_ms" '
    /^event: rollout$/ { r = 1; next }
    /^event: sample$/ { s = r; r = 0; next }
    /^data: / && s { s = 0; sub(/^data: /, ""); if (match($0, /"t":[0-9]+/) &&
        substr($0, RSTART + 4, RLENGTH - 4) + 0 >= p + 0) found = 1 }
    END { exit !found }' "$TMP/events2"; do
    i=$((i + 1))
    [ $i -lt 50 ] || die "no rollout event after the pause: $(grep -A1 '^event: rollout' "$TMP/events2")"
    sleep 0.1
done
run "$CANARY" rollout history 1 --json
json_eq '[.entries[] | select(.kind == "manual") | .reason][-1] | test("paused from the dashboard test")' true
stop_canary d1

echo "dashboard: a rollout failed by its analysis shows the failing segments"
# the same canary, judged on its predictions per segment: 0.55 against 0.5
# is a KS distance of 1 in the aggregate and in each segment; a bake of
# 10 s gives eu (70% of the traffic) its 100 canary samples, also under
# the sanitizers
sed -e 's/^  metrics:$/  metrics:\
    - name: prediction\
      test: ks\
      max_statistic: 0.2/' -e 's/pause: {duration: 3s}/pause: {duration: 10s}/' \
    "$TMP/canary.yaml" >"$TMP/fails.yaml"
grep -q 'test: ks' "$TMP/fails.yaml" && grep -q 'duration: 10s' "$TMP/fails.yaml" ||
    die "the failing config was not written"
start_canary d2 --config "$TMP/fails.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/fails.db"
export CANARY_SERVER="http://$d2_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$c1_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
wrk -t1 -c2 -d60s -s "$TMP/seg.lua" "http://$d2_ADDR/v2/models/m/infer" >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_state 1 rolled-back
python3 tests/integration/dashboard.py "http://$d2_ADMIN/" "$TOKEN" "$ART" failed \
    >"$TMP/failed.json" 2>"$ART/dashboard-failed.err" ||
    die "the browser test of the failed rollout failed:" \
        "$(head -c 1500 "$ART/dashboard-failed.err") (screenshots in $ART)"
# (us, 30% of the traffic, may still be under the analysis' floor: the
# page names the segments that failed, eu at least)
jq -e '.failed.verdict == "fail" and .failed.fail_rows >= 2
       and (.failed.fail_segments | index("eu")) != null
       and (.failed.failing | test("^Failing segments?: (.*, )?eu \\(prediction\\)"))
       and .failed.fail_marks >= 1 and .failed.controls == 0
       and (.failed.blast | test("[0-9]+ canary requests[0-9]+ failed, [0-9.]+% of all traffic"))' \
    "$TMP/failed.json" >/dev/null || die "what the page showed: $(cat "$TMP/failed.json")"
stop_canary d2

echo "dashboard: the Parity check button runs an A/A check to its result"
sed -e 's/^  max_bake: 600s$/  max_bake: 600s\
  parity: {weight: 50, duration: 4s}/' "$TMP/canary.yaml" >"$TMP/parity.yaml"
grep -q 'parity: {weight: 50' "$TMP/parity.yaml" || die "the parity config was not written"
start_model s4 0.5 --delay-ms 2
start_canary d3 --config "$TMP/parity.yaml" --stable "$s4_ADDR" --stable-version v1 \
    --state "$TMP/parity.db"
export CANARY_SERVER="http://$d3_ADMIN"
wrk -t1 -c4 -d120s -s "$TMP/seg.lua" "http://$d3_ADDR/v2/models/m/infer" >/dev/null 2>&1 &
PIDS="$PIDS $!"
python3 tests/integration/dashboard.py "http://$d3_ADMIN/" "$TOKEN" "$ART" parity \
    >"$TMP/parity.json" 2>"$ART/dashboard-parity.err" ||
    die "the browser test of the parity check failed:" \
        "$(head -c 1500 "$ART/dashboard-parity.err") (screenshots in $ART)"
run "$CANARY" rollout status 1 --json
jq -e --slurpfile seen "$TMP/parity.json" '.parity == true and
    .parity_check.result == $seen[0].parity.result and
    ($seen[0].running.promote_disabled == true) and
    (.parity_check.result | IN("passed", "failed", "inconclusive"))' "$TMP/out" >/dev/null ||
    die "the parity check: $(cat "$TMP/parity.json") $(jq -c '.parity_check' "$TMP/out")"
stop_canary d3
for f in desktop.png phone.png confirm.png paused-desktop.png failed-segment.png parity-desktop.png; do
    [ -s "$ART/$f" ] || die "no screenshot $ART/$f"
done
echo "  screenshots in $ART"
