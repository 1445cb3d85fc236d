#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# make demo: canary in front of two real model servers, then judging.
#
# Part 1 is live: two HTTP model servers on loopback (build/model-server,
# answering KServe v2 JSON), `canary serve` in front of them at 20% canary,
# and `canary loadgen` sending real traffic from four regions at a fixed
# rate (open loop). The canary model is
# subtly worse: it answers 200 with the same predictions, but 2 ms slower
# and with 3% errors instead of 0.5%. canary measures both versions per
# region, the judge (canary analyze) reads the router's own samples and
# fails the canary, and the rollback (weight 0) takes effect at once and
# survives a restart.
#
# Part 2 simulates longer rollouts, where the statistics need more traffic
# than a demo should wait for: per request a latency (lognormal, median
# 40 ms), an error flag (1%) and the model's click prediction (a
# beta-distributed score), in four regions. Three canaries are judged with
# the same analysis spec (the good one after more traffic: a rate metric
# with a 0.5-point margin needs ~16,000 requests per arm before it can
# pass):
#   1. a good model: same behaviour as stable;
#   2. a model 8% slower everywhere;
#   3. a model that is fine on average but broken in one region (eu-west:
#      3x the errors and 30% slower) -- the "one region served badly" case.
# Then the statistics engine alone, on the second canary's latencies.
set -eu
canary=$(realpath "${1:-build/canary}")
model_server=$(dirname "$canary")/model-server
tmp=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
cd "$tmp"

cat >analysis.yaml <<'YAML'
alpha: 0.05
correction: holm
thresholds: {pass: 95, marginal: 60}
segment_by: region
metrics:
  - name: latency_ms
    test: mann-whitney
    direction: lower-is-better
    margin: 5%
    weight: 2
  - name: error
    test: proportion
    direction: lower-is-better
    margin: 0.005
    critical: true
  - name: prediction
    test: ks
    max_statistic: 0.1
  - name: p99_latency
    test: threshold
    source: latency_ms
    quantile: 0.99
    max: 250
    max_ratio: 2.0
YAML

# simulate SEED N_STABLE N_CANARY SLOWDOWN BAD_REGION BAD_SLOWDOWN BAD_ERRX
simulate() {
    awk -v seed="$1" -v ns="$2" -v nc="$3" -v slow="$4" -v badr="$5" \
        -v bslow="$6" -v berr="$7" 'BEGIN {
        srand(seed); pi = atan2(0, -1)
        split("us-east us-west eu-west ap-south", region, " ")
        print "version,metric,value,region"
        for (arm = 0; arm < 2; arm++) {
            n = arm ? nc : ns; v = arm ? "canary" : "stable"
            for (i = 0; i < n; i++) {
                r = region[1 + int(rand() * 4)]
                f = arm ? slow : 1; e = 0.01
                if (arm && r == badr) { f *= bslow; e *= berr }
                u1 = rand(); if (u1 < 1e-12) u1 = 1e-12
                z = sqrt(-2 * log(u1)) * cos(2 * pi * rand())
                printf "%s,latency_ms,%.3f,%s\n", v, f * 40 * exp(0.4 * z), r
                printf "%s,error,%d,%s\n", v, rand() < e, r
                # Beta(2,5)-ish click score: mean of two uniforms squared
                s = (rand() + rand()) / 2; printf "%s,prediction,%.4f,%s\n", v, s * s, r
            }
        }
    }'
}
# Headings in bold only on a terminal: a log file or a pipe gets plain text
# (no raw escapes), and so does NO_COLOR=1 or TERM=dumb.
bold="" plain=""
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${TERM:-dumb}" != dumb ]; then
    bold=$(printf '\033[1m') plain=$(printf '\033[0m')
fi
say() { printf '\n%s== %s%s\n$ %s\n' "$bold" "$1" "$plain" "$2"; }
judge() {
    set +e
    "$canary" analyze --config analysis.yaml --data "$1"
    rc=$?
    set -e
    echo "(exit code $rc: 0 pass, 1 fail, 2 marginal)"
}


# ---------------------------------------------------------------- part 1
# bg NAME CMD...: start in the background; waits for its "listening on"
# line and sets NAME_addr (and NAME_admin for canary serve)
bg() {
    name=$1
    shift
    "$@" >"$name.out" 2>"$name.err" &
    PIDS="$PIDS $!"
    eval "${name}_pid=$!"
    i=0
    until grep -q '^listening on' "$name.out" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 100 ]; then
            echo "demo: $name did not start: $(cat "$name.err")" >&2
            exit 1
        fi
        sleep 0.05
    done
    eval "${name}_addr=$(awk '/^listening on/ {print $NF}' "$name.out")"
    if grep -q '^admin on' "$name.out"; then
        eval "${name}_admin=$(awk '/^admin on/ {print $NF}' "$name.out")"
    fi
}
export CANARY_TOKEN=demo-token
auth="Authorization: Bearer $CANARY_TOKEN"

bg stable "$model_server" --listen 127.0.0.1:0 --name fraud-v1 --prediction 0.12 \
    --fail-rate 0.005 --seed 1
bg canaryv "$model_server" --listen 127.0.0.1:0 --name fraud-v2 --prediction 0.12 \
    --fail-rate 0.03 --delay-ms 2 --seed 2
serve_args="--listen 127.0.0.1:0 --admin 127.0.0.1:0 --workers 2
    --stable $stable_addr --canary $canaryv_addr
    --stable-version fraud-v1 --canary-version fraud-v2
    --segment-header X-Region --segments us-east,us-west,eu-west,ap-south --state $tmp/state.db"
say "1. canary serve in front of two model servers, 20% to the new model" \
    "canary serve --stable $stable_addr --canary $canaryv_addr --canary-weight 20 --segment-header X-Region --segments us-east,us-west,eu-west,ap-south ..."
# shellcheck disable=SC2086
bg px "$canary" serve $serve_args --canary-weight 20
cat px.err
curl -s -H "$auth" "http://$px_admin/v1/traffic"
echo

say "A request through it: the answer says which version served it" \
    "curl -i -d '{\"inputs\": ...}' http://$px_addr/v2/models/fraud/infer"
curl -s -i -H 'X-Region: eu-west' -d '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}' \
    "http://$px_addr/v2/models/fraud/infer" | tr -d '\r'
echo

load() { # load SECONDS: 2,000 requests/s from four regions
    "$canary" loadgen --target "http://$px_addr/v2/models/fraud/infer" --rps 2000 \
        --duration "$1s" --segment-header X-Region \
        --segments us-east=0.25,us-west=0.25,eu-west=0.25,ap-south=0.25 \
        --body '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
}
say "8 seconds of live traffic from four regions, 2,000 requests/s" \
    "canary loadgen --target http://$px_addr/v2/models/fraud/infer --rps 2000 --duration 8s --segment-header X-Region --segments us-east=0.25,us-west=0.25,eu-west=0.25,ap-south=0.25 --body '{\"inputs\": ...}'"
load 8
echo "(the non-2xx answers are the models' own 500s: 0.5% from fraud-v1, 3% from fraud-v2)"

say "What canary measured, per version and region (GET /v1/samples)" \
    "curl -H 'Authorization: Bearer ...' http://$px_admin/v1/samples | jq ..."
curl -s -H "$auth" "http://$px_admin/v1/samples?window=step" >samples.json
jq -r '.versions | to_entries[] | .value.version as $v | .value.segments | to_entries[] |
    [$v, .key, .value.requests, .value.errors, .value.latency_us.p50, .value.latency_us.p99] | @tsv' \
    samples.json | awk 'BEGIN { printf "%-9s %-9s %8s %7s %9s %9s\n", "version", "region", "requests", "errors", "p50 us", "p99 us" }
    { printf "%-9s %-9s %8d %7d %9d %9d\n", $1, $2, $3, $4, $5, $6 }'

say "The same numbers for Prometheus (GET /metrics, a few lines)" \
    "curl http://$px_admin/metrics | grep ..."
curl -s "http://$px_admin/metrics" | grep -E '^canary_(requests_total|retries_total|traffic_canary_weight_percent)' | head -n 6

# The router's samples as the judge's CSV: latency samples as they are,
# errors as one 0/1 row per request.
jq -r '.versions | to_entries[] | (if .key == "canary" then "canary" else "stable" end) as $arm |
    .value.segments | to_entries[] | .key as $r | .value as $c |
    ($c.latency_us.sample[] | "\($arm),latency_us,\(.),\($r)"),
    (range(0; $c.errors) | "\($arm),error,1,\($r)"),
    (range(0; $c.requests - $c.errors) | "\($arm),error,0,\($r)")' samples.json |
    { echo "version,metric,value,region"; cat; } >live.csv
cat >live.yaml <<'YAML'
alpha: 0.05
segment_by: region
metrics:
  - name: latency_us
    test: mann-whitney
    direction: lower-is-better
    margin: 5%
  - name: error
    test: proportion
    direction: lower-is-better
    margin: 0.005
    critical: true
YAML
say "The judge on the router's own samples" \
    "canary analyze --config live.yaml --data live.csv"
set +e
"$canary" analyze --config live.yaml --data live.csv
rc=$?
set -e
echo "(exit code $rc: 0 pass, 1 fail, 2 marginal)"

say "Roll back: canary weight 0, published atomically to every worker" \
    "curl -X PUT -H 'Authorization: Bearer ...' -d '{\"canary_weight\": 0}' http://$px_admin/v1/traffic"
curl -s -X PUT -H "$auth" -d '{"canary_weight":0}' "http://$px_admin/v1/traffic"
echo
before=$(curl -s "http://$canaryv_addr/stats" | jq .requests)
load 2 >/dev/null
after=$(curl -s "http://$canaryv_addr/stats" | jq .requests)
echo "requests reaching fraud-v2 in 2 s of load after the rollback: $((after - before))"

say "The rollback survives a restart (--state $tmp/state.db)" \
    "kill $px_pid; canary serve ... --canary-weight 20 --state state.db"
kill "$px_pid"
wait "$px_pid" 2>/dev/null || true
# shellcheck disable=SC2086
bg px2 "$canary" serve $serve_args --canary-weight 20
grep 'restored' px2.err || true
curl -s -H "$auth" "http://$px2_admin/v1/traffic"
echo

# ---------------------------------------------------------------- part 2

simulate 11 40000 16000 1.00 none 1 1 >good.csv
simulate 12 40000 8000 1.08 none 1 1 >slow.csv
simulate 13 40000 8000 1.00 eu-west 1.3 3 >region.csv

say "2a. Simulated: a good retrained model: 16,000 canary requests against 40,000 stable" \
    "canary analyze --config analysis.yaml --data good.csv"
judge good.csv
say "2b. Simulated: a model 8% slower everywhere (margin: 5%)" \
    "canary analyze --config analysis.yaml --data slow.csv"
judge slow.csv
say "2c. Simulated: fine on average, broken in eu-west (3x errors, 30% slower there)" \
    "canary analyze --config analysis.yaml --data region.csv"
judge region.csv

say "The same judgement for machines (first metric row shown)" \
    "canary analyze --config analysis.yaml --data slow.csv --json | jq '{verdict, score, metrics: [.metrics[0]]}'"
set +e
"$canary" analyze --config analysis.yaml --data slow.csv --json >slow.json
set -e
if command -v jq >/dev/null 2>&1; then
    jq '{verdict, score, reason, metrics: [.metrics[0]]}' slow.json
else
    head -40 slow.json
fi

# The statistics engine on its own, on canary 2's latencies.
awk -F, '$1 == "canary" && $2 == "latency_ms" { print $3 }' slow.csv >canary_ms
awk -F, '$1 == "stable" && $2 == "latency_ms" { print $3 }' slow.csv >stable_ms
say "The statistics underneath: Hodges-Lehmann shift of canary 2's latency" \
    "canary stat hl canary_ms stable_ms"
"$canary" stat hl canary_ms stable_ms
say "Non-inferiority within 5% of stable's median (one-sided Mann-Whitney)" \
    "canary stat noninf canary_ms stable_ms --margin 5%"
"$canary" stat noninf canary_ms stable_ms --margin 5%
say "How many requests per arm to detect a 2 ms shift at sd 16 ms (one-sided, 80% power)?" \
    "canary stat power --test means --delta 2 --sd 16 --sided one"
"$canary" stat power --test means --delta 2 --sd 16 --sided one
