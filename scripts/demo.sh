#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# make demo: canary judging three retrained models against the one in
# production.
#
# Until the router records live traffic, the demo simulates it: per
# request, a latency (lognormal, median 40 ms), an error flag (1%) and the
# model's click prediction (a beta-distributed score), in four regions.
# Three canaries are judged with the same analysis spec (the good one after
# more traffic: a rate metric with a 0.5-point margin needs ~16,000
# requests per arm before it can pass):
#   1. a good model: same behaviour as stable;
#   2. a model 8% slower everywhere;
#   3. a model that is fine on average but broken in one region (eu-west:
#      3x the errors and 30% slower) -- the "one region served badly" case.
# Then the statistics engine alone, on the second canary's latencies.
set -eu
canary=$(realpath "${1:-build/canary}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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

say() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }
judge() {
    set +e
    "$canary" analyze --config analysis.yaml --data "$1"
    rc=$?
    set -e
    echo "(exit code $rc: 0 pass, 1 fail, 2 marginal)"
}

simulate 11 40000 16000 1.00 none 1 1 >good.csv
simulate 12 40000 8000 1.08 none 1 1 >slow.csv
simulate 13 40000 8000 1.00 eu-west 1.3 3 >region.csv

say "1. A good retrained model: 16,000 canary requests against 40,000 stable" \
    "canary analyze --config analysis.yaml --data good.csv"
judge good.csv
say "2. A model 8% slower everywhere (margin: 5%)" \
    "canary analyze --config analysis.yaml --data slow.csv"
judge slow.csv
say "3. Fine on average, broken in eu-west (3x errors, 30% slower there)" \
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
