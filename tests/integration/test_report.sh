#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `canary report` on real rollouts: model servers, `canary serve` with a
# state file, two regions (segment_by), wrk as the traffic.
#  1. a good canary is promoted, a 4x slower one is rolled back by an
#     analysis, one answering 500 on 30% of requests by a trigger; each
#     gets an HTML and a JSON report;
#  2. each report holds every analysis and every audit entry the API has
#     (ids compared), every metric row of every analysis, every analysis,
#     trigger and manual action marked on the timeline, and the JSON
#     variant the same analyses and entries; the blast radius of the
#     rollout's read with its numbers;
#  3. the page runs nothing and fetches nothing: no script, no src, no
#     url(), links only to its own anchors; headless Chromium opens it
#     with a proxy to nowhere and its network log shows no request from
#     the page (a page with an image by URL is the positive control);
#     a screenshot is kept;
#  4. errors: an unknown rollout, an unreachable server, a refused token,
#     an unwritable path, a full stdout, bad flags: one line, the CLI's
#     exit codes, and an existing report never overwritten by a failed run
#     nor a temporary file left behind.
. tests/integration/lib.sh
TOKEN=report-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
command -v chromium >/dev/null 2>&1 || die "chromium is missing (scripts/deps.sh --test)"
ARTIFACTS=${TEST_ARTIFACTS:-build/test-artifacts}/report
mkdir -p "$ARTIFACTS"

cat >"$TMP/canary.yaml" <<'YAML'
serve:
  model: fraud
  workers: 1
  measure:
    segment_header: X-Region
    segments: [eu, us]
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
  segment_by: region
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
cat >"$TMP/regions.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
wrk.headers["Content-Type"] = "application/json"
local n = 0
request = function()
  n = n + 1
  wrk.headers["X-Region"] = (n % 4 == 0) and "us" or "eu"
  return wrk.format()
end
LUA

start_model s1 0.5 --delay-ms 2
start_model good 0.5 --delay-ms 2
start_model slow 0.5 --delay-ms 8
start_model bad 0.5 --delay-ms 2 --fail-rate 0.3
start_canary r1 --config "$TMP/canary.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/state.db"
export CANARY_SERVER="http://$r1_ADMIN"
wrk -t1 -c4 -d300s -s "$TMP/regions.lua" "http://$r1_ADDR/v2/models/m/infer" >/dev/null 2>&1 &
PIDS="$PIDS $!"

echo "report: 1. a promoted and a rolled-back rollout"
run "$CANARY" model register fraud v2 --upstream "$good_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
wait_state 1 promoted
run "$CANARY" model register fraud v3 --upstream "$slow_ADDR"
expect_ok
run "$CANARY" rollout start fraud v3
expect_ok
wait_state 2 rolled-back
run "$CANARY" model register fraud v4 --upstream "$bad_ADDR"
expect_ok
run "$CANARY" rollout start fraud v4
expect_ok
wait_state 3 rolled-back

# the seqs of the page's sections or rows named by PREFIX, one per line
ids_in() { grep -o "$1[0-9]*\"" "$2" | tr -dc '0-9\n'; }

# chromium_net PAGE LOG [args]: open PAGE headless with a proxy to nowhere
# and Chromium's own background requests off, its network log in LOG;
# prints the DOM
chromium_net() {
    cn_page=$1
    cn_log=$2
    shift 2
    rm -rf "$TMP/chrome-profile"
    timeout 120 chromium --headless --disable-gpu --no-sandbox --no-first-run \
        --user-data-dir="$TMP/chrome-profile" --disable-background-networking \
        --disable-component-update --disable-sync --disable-default-apps \
        --disable-extensions --proxy-server=http://127.0.0.1:9 \
        --log-net-log="$cn_log" "$@" "file://$cn_page" 2>"$TMP/chromium.err"
}

# page_requests LOG: the URLs the page itself asked for (requests whose
# network isolation key is the file:// page's; Chromium's own background
# requests have another), one per line
page_requests() {
    jq -r '(.constants.logEventTypes.URL_REQUEST_START_JOB) as $t |
        .events[] | select(.type == $t) | .params |
        select((.network_isolation_key // "") | startswith("file://")) | .url' "$1"
}

echo "report: 3a. the network check sees a page that fetches (positive control)"
printf '<!DOCTYPE html><img src="http://192.0.2.1/x.png"><p>control</p>\n' >"$TMP/fetches.html"
chromium_net "$TMP/fetches.html" "$TMP/control.netlog" --dump-dom >"$TMP/control.dom" ||
    die "chromium failed on the control page: $(tail -3 "$TMP/chromium.err")"
grep -q 'control' "$TMP/control.dom" || die "chromium did not load the control page"
page_requests "$TMP/control.netlog" | grep -qx 'http://192.0.2.1/x.png' ||
    die "the network log does not show the control page's request: $(page_requests "$TMP/control.netlog")"

for id in 1 2 3; do
    echo "report: 2. rollout $id: every analysis and every audit entry, HTML and JSON"
    html="$TMP/r$id.html"
    run "$CANARY" report "$id" -o "$html"
    expect_ok
    [ ! -s "$TMP/out" ] || die "-o FILE printed to stdout: $(head -c 200 "$TMP/out")"
    run "$CANARY" report "$id" --format json -o "$TMP/r$id.json"
    expect_ok
    jq empty "$TMP/r$id.json" || die "report $id: the JSON does not parse"
    an=$(http_json "$CANARY_SERVER/v1/rollouts/$id/analyses" '[.analyses[].seq]' \
        -H "Authorization: Bearer $TOKEN")
    hist=$(http_json "$CANARY_SERVER/v1/rollouts/$id/history" '[.entries[].seq]' \
        -H "Authorization: Bearer $TOKEN")
    rows=$(http_json "$CANARY_SERVER/v1/rollouts/$id/analyses" \
        '[.analyses[].result.metrics | length] | add // 0' -H "Authorization: Bearer $TOKEN")
    marks=$(http_json "$CANARY_SERVER/v1/rollouts/$id/history" \
        '[.entries[] | select(.kind == "trigger" or .kind == "manual" or
            (.kind == "analysis" and .payload != null)) | .kind] | sort | group_by(.) |
            map({(.[0]): length}) | add' -H "Authorization: Bearer $TOKEN")
    case $id in
    1 | 2)
        [ "$(echo "$an" | jq length)" -ge 1 ] || die "rollout $id had no analysis: $an"
        [ "$rows" -ge 9 ] || die "rollout $id: expected metric x segment rows, got $rows"
        ;;
    3) [ "$(echo "$marks" | jq '.trigger')" -ge 1 ] || die "rollout 3: no trigger: $marks" ;;
    esac
    # the JSON variant: the same analyses, entries and rollout
    cp "$TMP/r$id.json" "$TMP/out"
    json_eq '.format' '"canary-report/1"'
    json_eq '.rollout.id' "$id"
    json_eq '[.analyses[].seq]' "$an"
    json_eq '[.history[].seq]' "$hist"
    json_eq '[.analyses[].result.metrics | length] | add // 0' "$rows"
    # the HTML: the same analysis ids and audit ids, every metric row
    got=$(ids_in '<section class="analysis" id="analysis-' "$html" | jq -cs .)
    [ "$got" = "$an" ] || die "report $id: analyses $got in the page, $an in the API"
    got=$(ids_in '<tr id="audit-' "$html" | jq -cs .)
    [ "$got" = "$hist" ] || die "report $id: audit rows $got in the page, $hist in the API"
    n=$(grep -c '<tr class="why">' "$html" || true)
    [ "$n" = "$rows" ] || die "report $id: $n metric rows in the page, $rows in the API"
    n=$(grep -c '<g class="row ' "$html" || true)
    [ "$n" = "$rows" ] || die "report $id: $n forest-plot rows, $rows in the API"
    for kind in analysis trigger manual; do
        n=$(grep -c "class=\"mark $kind\"" "$html" || true)
        [ "$n" = "$(echo "$marks" | jq ".$kind // 0")" ] ||
            die "report $id: $n ${kind}s on the timeline, the API has $marks"
    done
    state=$(jq -r .rollout.state "$TMP/r$id.json")
    grep -q "<span class=\"badge b-$state\">$state</span>" "$html" ||
        die "report $id: no final state $state in the page"
    # the blast radius, in the page with the read's numbers
    br=$(jq -r '.rollout.blast_radius | "\(.canary_requests) \(.canary_failed)"' "$TMP/r$id.json")
    case $br in null* | "") die "report $id: the rollout's read has no blast_radius" ;; esac
    grep -q "<dt>Blast radius</dt><dd>${br% *} requests served by the canary, ${br#* } of them failed" \
        "$html" || die "report $id: the blast radius ($br) is not in the page"

    echo "report: 3. rollout $id: nothing to run, nothing to fetch, in Chromium too"
    ! grep -qi '<script' "$html" || die "report $id has a script"
    ! grep -Eqi 'src=|url\(|@import' "$html" || die "report $id refers to a resource"
    ! grep -o 'href="[^"]*"' "$html" | grep -qv '^href="#' ||
        die "report $id links outside itself: $(grep -o 'href="[^#][^"]*"' "$html" | head -3)"
    # the CSP is a second lock; the check runs on the page without it, so
    # that it tests the content itself
    sed '/Content-Security-Policy/d' "$html" >"$TMP/nocsp$id.html"
    chromium_net "$TMP/nocsp$id.html" "$TMP/r$id.netlog" --dump-dom >"$TMP/r$id.dom" ||
        die "chromium failed on report $id: $(tail -3 "$TMP/chromium.err")"
    got=$(ids_in '<section class="analysis" id="analysis-' "$TMP/r$id.dom" | jq -cs .)
    [ "$got" = "$an" ] || die "report $id in Chromium: analyses $got, $an in the API"
    grep -q '</svg>' "$TMP/r$id.dom" || die "report $id in Chromium: no chart"
    req=$(page_requests "$TMP/r$id.netlog")
    [ -z "$req" ] || die "report $id made network requests: $req"
    chromium_net "$html" "$TMP/shot$id.netlog" --hide-scrollbars --window-size=1200,2600 \
        --screenshot="$ARTIFACTS/report-$id.png" >/dev/null ||
        die "chromium could not take the screenshot: $(tail -3 "$TMP/chromium.err")"
    [ "$(wc -c <"$ARTIFACTS/report-$id.png")" -gt 20000 ] || die "report $id: blank screenshot"
    cp "$html" "$ARTIFACTS/report-$id.html"
done

echo "report: 2b. stdout: no -o, or -o -"
run "$CANARY" report 2
expect_ok
head -c 16 "$TMP/out" | grep -q '<!DOCTYPE html>' || die "report to stdout: $(head -c 100 "$TMP/out")"
run "$CANARY" report 2 -o - --format json
expect_ok
json_eq '.rollout.state' '"rolled-back"'

echo "report: 4. errors: one line, the usual codes, no half report"
cp "$TMP/r1.html" "$TMP/keep.html"
run "$CANARY" report 99 -o "$TMP/keep.html"
expect_error 65 'canary report: HTTP 404: .*no rollout 99'
cmp -s "$TMP/r1.html" "$TMP/keep.html" || die "a failed run changed the existing report"
run "$CANARY" report 1 -o "$TMP/keep.html" --server http://127.0.0.1:1
expect_error 69 'canary report: cannot reach the canary server'
CANARY_TOKEN=wrong run "$CANARY" report 1 -o "$TMP/keep.html"
expect_error 77 'refused the token'
cmp -s "$TMP/r1.html" "$TMP/keep.html" || die "a failed run changed the existing report"
run "$CANARY" report 1 -o "$TMP/no/such/dir/r.html"
expect_error 73 "canary report: cannot write '.*/no/such/dir/r.html': No such file"
mkdir "$TMP/adir"
run "$CANARY" report 1 -o "$TMP/adir"
expect_error 73 "canary report: cannot write '.*/adir': Is a directory"
[ -z "$(ls "$TMP" | grep '\.tmp-')" ] || die "a temporary file was left: $(ls "$TMP")"
set +e
"$CANARY" report 1 >/dev/full 2>"$TMP/err"
RC=$?
set -e
[ "$RC" -eq 74 ] || die "a full stdout: expected exit 74, got $RC"
grep -q 'cannot write to stdout' "$TMP/err" || die "a full stdout: $(cat "$TMP/err")"
run "$CANARY" report
expect_error 64 'needs one rollout ID'
run "$CANARY" report 1 2
expect_error 64 'needs one rollout ID'
run "$CANARY" report x1
expect_error 64 'needs one rollout ID'
run "$CANARY" report 1 --format pdf
expect_error 64 'format must be html or json'
run "$CANARY" report 1 --bogus 3
expect_error 64 'bogus'
run "$CANARY" report --help
expect_ok
grep -q '^usage: canary report ID' "$TMP/out" || die "report --help: $(head -3 "$TMP/out")"

stop_canary r1
echo "report: $NCHECK checks passed (screenshots in $ARTIFACTS)"
