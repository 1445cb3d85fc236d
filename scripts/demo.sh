#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# make demo: the whole product, unattended, on real models.
#
# Three versions of a real classifier (logistic regression on UCI Adult:
# is a person's income over $50K?), each served by the example model
# server in C (examples/model-server/), behind `canary serve`:
#   v1  the current stable;
#   v2  retrained, genuinely no worse;
#   v3  a silent regression: HTTP 200, the same latency, well-formed
#       answers, within a point of v1's accuracy over all traffic, but
#       badly calibrated in one segment (the government sector).
# canary loadgen replays held-out rows with their sector in X-Sector and
# posts each row's true label back as delayed feedback. Tagging v2
# production-candidate starts a rollout that walks its steps and is
# promoted; tagging v3 starts one that the judge rolls back, naming the
# metric and the segment, while the aggregate alone passes. Then both
# rollouts' HTML reports are written to a folder.
#
# Exit 0 only if v2 was promoted and v3 rolled back. Headings and colours
# only on a terminal. DEMO_OUT names the reports' folder (default:
# demo-output/ in the repository); DEMO_KEEP=1 (make demo-serve) keeps
# canary serve, the models and the load running until Ctrl-C, for the
# dashboard.
set -eu
canary=$(realpath "${1:-build/canary}")
model_server=$(dirname "$canary")/example-model-server
root=$(cd "$(dirname "$0")/.." && pwd)
models=$root/examples/model-server
out=${DEMO_OUT:-$root/demo-output}
keep=${DEMO_KEEP:-0}
tmp=$(mktemp -d)
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cd "$tmp"

bold="" plain="" green="" red=""
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ] && [ "${TERM:-dumb}" != dumb ]; then
    bold=$(printf '\033[1m') plain=$(printf '\033[0m')
    green=$(printf '\033[32m') red=$(printf '\033[31m')
fi
say() { printf '\n%s== %s%s\n' "$bold" "$1" "$plain"; }
cmd() { printf '$ %s\n' "$*"; }
fail() {
    printf '%sdemo: %s%s\n' "$red" "$*" "$plain" >&2
    exit 1
}

# bg NAME CMD...: start in the background; waits for its "listening on"
# line and sets NAME_addr (and NAME_admin for canary serve)
bg() {
    name=$1
    shift
    "$@" >"$name.out" 2>"$name.err" &
    PIDS="$PIDS $!"
    i=0
    until grep -q '^listening on' "$name.out" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 200 ] || fail "$name did not start: $(cat "$name.err")"
        sleep 0.05
    done
    eval "${name}_addr=$(awk '/^listening on/ {print $NF}' "$name.out")"
    if grep -q '^admin on' "$name.out"; then
        eval "${name}_admin=$(awk '/^admin on/ {print $NF}' "$name.out")"
    fi
}
CANARY_TOKEN=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
export CANARY_TOKEN

say "1. Three versions of a real model, each behind its own model server"
echo "Logistic regression on UCI Adult (is income over \$50K?), examples/model-server/MODELS.md:"
echo "held-out accuracy v1 0.844, v2 0.846, v3 0.831; but in the government sector (13.5% of"
echo "the traffic) v3 falls to 0.693 (v1 0.805), its log-loss rises from 0.406 to 0.658."
for v in v1 v2 v3; do
    cmd "example-model-server --model examples/model-server/models/adult-$v.json --listen 127.0.0.1:0"
    bg "$v" "$model_server" --model "$models/models/adult-$v.json" --listen 127.0.0.1:0
done

cat >demo.yaml <<'YAML'
serve:
  model: adult-income
  workers: 2
  measure:
    segment_header: X-Sector
    segments: [private, self-employed, government, other]
    prediction: kserve-v2
  feedback:
    ttl: 10m
    metrics:
      label: label
strategy:
  warmup: 2s
  progress_deadline: 30s
  steps:
    - set_weight: 20
    - pause: {duration: 5s}
    - analysis: {}
    - set_weight: 50
    - pause: {duration: 15s}
    - analysis: {}
  max_bake: 60s
  on_marginal: rollback
  triggers:
    error_rate: {max: 0.05}
analysis:
  alpha: 0.05
  min_per_arm: 100
  segment_by: segment
  metrics:
    - name: latency_ms       # these servers answer in well under 1 ms: a
      test: mann-whitney     # relative margin would judge scheduling noise
      margin: 5              # ms
    - name: error
      test: proportion
      margin: 0.01
      critical: true
    - name: prediction
      test: ks
      max_statistic: 0.15
      critical: true
    - name: accuracy
      test: proportion
      direction: higher-is-better
      margin: 0.05
      critical: true
    - name: log_loss
      test: welch
      direction: lower-is-better
      margin: 20%
      critical: true
YAML
say "2. canary serve in front of them, its state in a temporary directory"
cmd "canary serve --config demo.yaml --stable $v1_addr --stable-version v1 --state $tmp/state.db"
bg px "$canary" serve --config demo.yaml --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
    --stable "$v1_addr" --stable-version v1 --state "$tmp/state.db"
sed -n 's/^canary: //p' px.err | head -n 3
export CANARY_SERVER="http://$px_admin"
cmd "canary model register adult-income v2 --upstream $v2_addr"
"$canary" model register adult-income v2 --upstream "$v2_addr" >/dev/null
cmd "canary model register adult-income v3 --upstream $v3_addr"
"$canary" model register adult-income v3 --upstream "$v3_addr" >/dev/null
cmd "canary model list adult-income"
"$canary" model list adult-income

say "3. Live traffic: held-out rows replayed with their sector, true labels posted back"
cmd "canary loadgen --target http://$px_addr/v2/models/adult-income/infer --rps 1000 --bodies examples/model-server/replay.jsonl --segment-header X-Sector --feedback http://$px_admin --feedback-delay 500ms"
"$canary" loadgen --target "http://$px_addr/v2/models/adult-income/infer" --rps 1000 \
    --duration 600s --bodies "$models/replay.jsonl" --segment-header X-Sector \
    --feedback "http://$px_admin" --feedback-delay 500ms >loadgen.out 2>loadgen.err &
PIDS="$PIDS $!"
sleep 2
curl -s -i -H 'X-Sector: government' -H 'Content-Type: application/json' \
    --data-binary "$(head -n 1 "$models/replay.jsonl" | jq -c .body)" \
    "http://$px_addr/v2/models/adult-income/infer" | tr -d '\r' |
    grep -Ei '^(HTTP|x-model-version|x-request-id)|outputs' | cut -c 1-160

# roll VERSION: tag it production-candidate and follow its rollout to the
# end; sets $code to `rollout status`'s exit code and $id to its id
roll() {
    cmd "canary model tag adult-income $1 production-candidate"
    "$canary" model tag adult-income "$1" production-candidate >/dev/null
    cmd "canary rollout status adult-income --watch"
    set +e
    "$canary" rollout status adult-income --watch
    code=$?
    set -e
    id=$("$canary" rollout status adult-income --json | jq -r .id)
}

say "4. v2 (a retrained model, no worse) goes out: 20%, then 50%, judged at each step"
roll v2
v2_id=$id v2_code=$code
[ "$v2_code" = 0 ] && echo "${green}v2 promoted${plain}: rollout $v2_id" ||
    echo "${red}v2 was not promoted${plain} (status exit code $v2_code)"

say "5. v3 (a silent regression in one sector) goes out the same way"
roll v3
v3_id=$id v3_code=$code
"$canary" rollout status "$v3_id" --json >v3.json || true # exit 1: rolled back
[ "$(jq -r .state v3.json)" = rolled-back ] &&
    echo "${green}v3 rolled back${plain}: rollout $v3_id" ||
    echo "${red}v3 was not rolled back${plain} ($(jq -r .state v3.json))"
echo "why: $(jq -r .reason v3.json)"
curl -s -H "Authorization: Bearer $CANARY_TOKEN" \
    "http://$px_admin/v1/rollouts/$v3_id/analyses" >v3-analyses.json
echo "The last analysis, per metric: the aggregate next to the government sector:"
jq -r '.analyses[-1].result.metrics[] |
    select(.segment == null or .segment == "government") |
    [.name, (.segment // "all traffic"), .classification, (.effect | tostring), (.reason | .[0:90])] | @tsv' \
    v3-analyses.json | awk -F '\t' '{ printf "  %-11s %-12s %-12s %s\n", $1, $2, $3, $5 }'
n_agg=$(jq '[.analyses[-1].result.metrics[] | select(.segment == null and .classification == "fail")] | length' v3-analyses.json)
n_seg=$(jq -r '[.analyses[-1].result.metrics[] | select(.segment != null and .classification == "fail") | "\(.name) in \(.segment)"] | join(", ")' v3-analyses.json)
echo "Over all traffic $n_agg metric(s) failed; per segment: $n_seg."
[ "$n_agg" = 0 ] && echo "A judge of the aggregate alone would not have rolled v3 back."

say "6. The reports and the dashboard"
mkdir -p "$out"
cmd "canary report $v2_id -o $out/rollout-$v2_id-v2.html"
"$canary" report "$v2_id" -o "$out/rollout-$v2_id-v2.html"
cmd "canary report $v3_id -o $out/rollout-$v3_id-v3.html"
"$canary" report "$v3_id" -o "$out/rollout-$v3_id-v3.html"
echo "Reports: $out/"
if [ "$keep" = 1 ]; then
    echo "Dashboard: http://$px_admin/ (token: $CANARY_TOKEN). Serving until Ctrl-C."
else
    echo "The dashboard is at the admin address's / while canary serve runs;"
    echo "\`make demo-serve\` runs this demo and keeps it up (Ctrl-C to stop)."
fi

say "7. Outcome"
ok=1
[ "$v2_code" = 0 ] || ok=0
[ "$(jq -r .state v3.json)" = rolled-back ] || ok=0
if [ "$ok" = 1 ]; then
    echo "${green}v2 promoted, v3 rolled back: the demo passed${plain}"
else
    fail "expected v2 promoted and v3 rolled back"
fi
if [ "$keep" = 1 ]; then
    while :; do sleep 3600; done
fi
