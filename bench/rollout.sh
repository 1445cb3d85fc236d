#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# make bench-rollout: whole rollouts on real processes, timed. Rewrites the
# "Measured with real processes" part of docs/BENCHMARKS.md ("Detection
# time") and keeps the raw output in BUILD/bench-rollout/.
#
#   bench/rollout.sh BUILD_DIR
#
# Every run is a fresh `canary serve` (its own state file, a `strategy:`
# and an `analysis:` section) in front of a stable build/model-server, with
# `canary loadgen` offering BENCH_RATE requests/s (open loop: the rate does
# not depend on the answers). After 2 s of stable-only traffic a canary
# version is registered (`canary model register`) and rolled out
# (`canary rollout start`); the run ends when the rollout has ended or after
# its timeout. Stable answers after BENCH_DELAY_MS with 1% errors (HTTP
# 500), as in the simulation (tests/sim/rollout_sim.c). Scenarios:
#  1. gross failure at 1% (the issue's example strategy, verbatim), each
#     BENCH_GROSS_RUNS times:
#     a. 500s: the canary model server is healthy (/healthz answers 200)
#        and answers every model request with a 500 (--status 500);
#     b. refused: the canary model server is healthy until its first model
#        request, on which it exits (--crash), so that request gets no
#        answer and every later canary connection is refused (the router
#        answers those from stable and counts them against the canary).
#  3. a 30% slower canary (BENCH_DELAY_MS x 1.3, 1% errors like stable) at
#     5%: the example strategy from its 5% step, as the simulation's
#     "from its 5% step" (warmup 30 s, a 15 min bake, then the analysis),
#     BENCH_SLOW_RUNS times.
# What is measured, per run:
#  - the canary's first request: the canary model server's own arrival
#    time (CLOCK_REALTIME, /stats first_request_unix_ns, or the time --crash
#    prints);
#  - weight 0 in effect: the audit trail's entry that moved the rollout to
#    rolling-back. The driver publishes weight 0 to every worker first and
#    then stores the decision; the entry's time_unix_ms is taken by that
#    store write, so it is an upper bound on the time weight 0 took effect
#    (by the generation's fsync, a few ms); the driver's decision itself is
#    not stamped anywhere outside the process;
#  - the last canary arrival (the model server's last_request_unix_ns) and
#    the canary arrivals after the rolling-back entry (/stats?after_ns=);
#  - canary requests served: the router's count (canary_requests_total,
#    role canary) and, for 500s and slow, the canary model server's;
#  - the load generator's achieved rate over the run.
# 2. From a decision to no new canary request (abort): a healthy canary at
#    50% (a strategy whose first step is set_weight 50), so that canary
#    requests arrive every few milliseconds; 3 s after the start
#    POST /v1/rollouts/1/abort (a rollback: weight 0 first, then the record)
#    from bench/timed_post.py, which takes T0 just before the request is
#    sent and T1 just after the answer arrived, as bench/router.sh does for
#    PUT /v1/traffic. Measured: the canary model server's last arrival minus
#    T0 and minus T1, and the canary arrivals after T1; BENCH_ABORT_RUNS
#    times.
#
# Environment (defaults in brackets):
#   BENCH_GROSS_RUNS [10]  BENCH_ABORT_RUNS [10]  BENCH_SLOW_RUNS [1]
#   BENCH_RATE [500]
#   BENCH_DELAY_MS [50]  BENCH_GROSS_TIMEOUT [60] (s, per run)
#   BENCH_SLOW_TIMEOUT [1500] (s, per run)  BENCH_DOC [docs/BENCHMARKS.md]
#   BENCH_SCENARIOS ["500s refused abort slow"]
#   BENCH_SLOW_PAUSE [15m]: the bake of the slow canary's 5% step (the
#     example's; shorter only to try the script)
# About 5 minutes for the gross and abort runs and 16 per slow run.
#
# Exits 1 (after writing the report) if a run did not end rolled back
# (aborted, for abort), if the last canary request of an abort arrived more
# than 1 ms after T1 (the abort's answer), or if the load generator fell
# more than 5% short of BENCH_RATE.

# shellcheck disable=SC2016 # '$5' and the like are awk's columns
set -eu

build=${1:?usage: bench/rollout.sh BUILD_DIR}
build_arg=$build
cd "$(dirname "$0")/.."
case $build in /*) ;; *) build=$(pwd)/$build ;; esac

BENCH_GROSS_RUNS=${BENCH_GROSS_RUNS:-10}
BENCH_SLOW_RUNS=${BENCH_SLOW_RUNS:-1}
BENCH_ABORT_RUNS=${BENCH_ABORT_RUNS:-10}
BENCH_RATE=${BENCH_RATE:-500}
BENCH_DELAY_MS=${BENCH_DELAY_MS:-50}
BENCH_GROSS_TIMEOUT=${BENCH_GROSS_TIMEOUT:-60}
BENCH_SLOW_TIMEOUT=${BENCH_SLOW_TIMEOUT:-1500}
BENCH_DOC=${BENCH_DOC:-docs/BENCHMARKS.md}
BENCH_SCENARIOS=${BENCH_SCENARIOS:-"500s refused abort slow"}
BENCH_SLOW_PAUSE=${BENCH_SLOW_PAUSE:-15m}
CANARY_TOKEN=bench-rollout-$$-0123456789abcdef
export CANARY_TOKEN

out=$build/bench-rollout
rm -rf "$out"
mkdir -p "$out"
results=$out/results.tsv
failed_checks=""

log() { echo "bench-rollout: $*" >&2; }
die() {
    log "$*"
    exit 1
}
check_failed() {
    log "CHECK FAILED: $*"
    failed_checks="$failed_checks
- $*"
}

for tool in curl jq python3; do
    command -v $tool >/dev/null || die "$tool not found (scripts/deps.sh --demo --bench-router)"
done
for bin in canary model-server; do
    [ -x "$build/$bin" ] || die "$build/$bin not built (make all)"
done

# ---- processes --------------------------------------------------------

pids=""
cleanup() {
    for q in $pids; do
        kill -TERM "$q" 2>/dev/null || true
    done
    for q in $pids; do
        wait "$q" 2>/dev/null || true
    done
    pids=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() { # PID: stop one process we started, and forget it
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    keep=""
    for q in $pids; do [ "$q" = "$1" ] || keep="$keep $q"; done
    pids=$keep
}

wait_line() { # FILE PATTERN WHAT: until FILE has a line matching, at most 10 s
    i=0
    until grep -q "$2" "$1" 2>/dev/null; do
        i=$((i + 1))
        [ $i -le 200 ] || die "$3 did not start: $(cat "$1" "$1.err" 2>/dev/null | tail -n 5)"
        sleep 0.05
    done
}

start_model() { # NAME ARGS...: sets model_pid, model_addr
    n=$1
    shift
    "$build/model-server" --listen 127.0.0.1:0 --name "$n" "$@" \
        >"$out/$n.out" 2>"$out/$n.out.err" &
    model_pid=$!
    pids="$pids $model_pid"
    wait_line "$out/$n.out" '^listening on' "model-server $n"
    model_addr=$(sed -n 's/^listening on //p' "$out/$n.out")
}

api() { # PATH: GET from the admin API, body on stdout
    curl -sf -H "Authorization: Bearer $CANARY_TOKEN" "http://$admin$1"
}

stat_of() { # ADDR FIELD [QUERY]: a number from a model server's /stats
    curl -s "http://$1/stats${3:-}" | sed -n "s/.*\"$2\":\([0-9a-z]*\).*/\1/p"
}

now_ns() { date +%s%N; }

# ---- configurations -----------------------------------------------------

# The analysis every rollout judges with, as the simulation's: the three
# built-in metrics, all critical.
analysis_yaml='analysis:
  alpha: 0.05
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 5%
      critical: true
    - name: error
      test: proportion
      margin: 0.005
      critical: true
    - name: prediction
      test: ks
      max_statistic: 0.1
      critical: true'
tail_yaml='  max_bake: 1h
  on_marginal: hold
  retries: 2
  dry_run: false
  triggers:
    error_rate: {max: 0.05, max_ratio: 3.0}
    p99_latency_ms: {max: 500, max_ratio: 2.0}
    prediction_shift: {max_statistic: 0.2}'

# The issue's example strategy, verbatim.
cat >"$out/example.yaml" <<EOF
serve:
  model: bench
strategy:
  warmup: 30s
  progress_deadline: 5m
  steps:
    - set_weight: 1
    - pause: {duration: 10m}
    - analysis: {}
    - set_weight: 5
    - pause: {duration: 15m}
    - analysis: {}
    - set_weight: 25
    - pause: {}
    - set_weight: 50
    - pause: {duration: 30m}
    - analysis: {}
    - set_weight: 100
    - pause: {duration: 10m}
$tail_yaml
$analysis_yaml
EOF
# The same from its 5% step on (the simulation's from5_yaml).
cat >"$out/from5.yaml" <<EOF
serve:
  model: bench
strategy:
  warmup: 30s
  progress_deadline: 5m
  steps:
    - set_weight: 5
    - pause: {duration: $BENCH_SLOW_PAUSE}
    - analysis: {}
    - set_weight: 25
    - pause: {}
    - set_weight: 50
    - pause: {duration: 30m}
    - analysis: {}
    - set_weight: 100
    - pause: {duration: 10m}
$tail_yaml
$analysis_yaml
EOF

# A healthy canary at 50% from the start (abort): dense canary traffic.
cat >"$out/at50.yaml" <<EOF
serve:
  model: bench
strategy:
  warmup: 30s
  progress_deadline: 5m
  steps:
    - set_weight: 50
    - pause: {duration: 10m}
    - analysis: {}
$tail_yaml
$analysis_yaml
EOF

slow_delay=$(awk -v d="$BENCH_DELAY_MS" 'BEGIN { printf "%d", d * 1.3 + 0.5 }')

# ---- one rollout ----------------------------------------------------------

printf 'scenario\trun\tstate\tstarted_ns\tfirst_ns\tlast_ns\trolling_back_ms\tend_ms' >"$results"
printf '\tmodel_requests\trouter_requests\tafter\tachieved_rate\thealthy_ms\tt0_ns\tt1_ns' \
    >>"$results"
printf '\treason\n' >>"$results"

# run_rollout SCENARIO RUN CONFIG TIMEOUT_S POLL_S CANARY_MODEL_ARGS...
run_rollout() {
    sc=$1 run=$2 cfg=$3 timeout=$4 poll=$5
    shift 5
    tag=$sc-$run
    start_model "canary-$tag" --fail-rate 0.01 "$@"
    cpid=$model_pid
    caddr=$model_addr
    "$build/canary" serve --config "$cfg" --listen 127.0.0.1:0 --admin 127.0.0.1:0 \
        --stable "$stable_addr" --stable-version v1 --state "$out/state-$tag.db" \
        >"$out/serve-$tag.out" 2>"$out/serve-$tag.out.err" &
    spid=$!
    pids="$pids $spid"
    wait_line "$out/serve-$tag.out" '^admin on' "canary serve"
    proxy=$(sed -n 's/^listening on //p' "$out/serve-$tag.out")
    admin=$(sed -n 's/^admin on //p' "$out/serve-$tag.out")
    # stopped by SIGTERM below: it then waits for the answers in flight and
    # prints its report
    "$build/canary" loadgen --target "http://$proxy/v2/models/model/infer" \
        --rps "$BENCH_RATE" --duration $((timeout + 30))s --json \
        --body '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}' \
        >"$out/load-$tag.json" 2>"$out/load-$tag.err" &
    lpid=$!
    pids="$pids $lpid"
    sleep 2
    CANARY_SERVER=http://$admin "$build/canary" model register bench v2 \
        --upstream "$caddr" >/dev/null || die "$tag: canary model register failed"
    started=$(now_ns)
    CANARY_SERVER=http://$admin "$build/canary" rollout start bench v2 >/dev/null ||
        die "$tag: canary rollout start failed"
    want=rolled-back
    t0=0 t1=0
    if [ "$sc" = abort ]; then
        want=aborted
        sleep 3
        # shellcheck disable=SC2046
        set -- $(python3 bench/timed_post.py "$admin" "$CANARY_TOKEN" /v1/rollouts/1/abort \
            '{"reason": "benchmark"}')
        t0=${1:-0} t1=${2:-0}
        [ "${3:-}" = 200 ] || die "$tag: POST /v1/rollouts/1/abort answered '${3:-}'"
    fi
    state=""
    deadline=$(($(date +%s) + timeout))
    while [ "$(date +%s)" -lt $deadline ]; do
        state=$(api /v1/rollouts/1 | jq -r '.state' || true)
        case $state in rolled-back | aborted | promoted) break ;; esac
        sleep "$poll"
    done
    # What was in flight lands; then the counts are final.
    sleep 1
    api /v1/rollouts/1 >"$out/rollout-$tag.json" || true
    api /v1/rollouts/1/history >"$out/history-$tag.json" || true
    api /metrics >"$out/metrics-$tag.txt" || true
    state=$(jq -r '.state' "$out/rollout-$tag.json")
    reason=$(jq -r '.reason' "$out/rollout-$tag.json" | tr '\t' ' ')
    rb=$(jq -r '[.entries[] | select(.state == "rolling-back")][0].time_unix_ms // 0' \
        "$out/history-$tag.json")
    zero=$(jq -r --arg s "$want" '[.entries[] | select(.state == $s)][0].time_unix_ms // 0' \
        "$out/history-$tag.json")
    healthy=$(jq -r '[.entries[] | select(.reason == "canary healthy")][0].time_unix_ms // 0' \
        "$out/history-$tag.json")
    routed=$(awk '/^canary_requests_total\{/ && /role="canary"/ { s += $NF }
        END { printf "%d", s }' "$out/metrics-$tag.txt")
    if grep -q '^crashed on a model request at' "$out/canary-$tag.out"; then
        first=$(sed -n 's/^crashed on a model request at //p' "$out/canary-$tag.out")
        last=$first
        served=1
        after=0
        [ "$first" -gt "$((rb * 1000000))" ] && after=1
    else
        first=$(stat_of "$caddr" first_request_unix_ns)
        last=$(stat_of "$caddr" last_request_unix_ns)
        served=$(stat_of "$caddr" requests)
        after_ns=$((rb * 1000000))
        [ "$sc" = abort ] && after_ns=$t1
        after=$(stat_of "$caddr" requests_after "?after_ns=$after_ns")
    fi
    stop "$lpid"
    rate=$(jq -r '.achieved_rps' "$out/load-$tag.json" 2>/dev/null || true)
    stop "$spid"
    stop "$cpid"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$sc" \
        "$run" "$state" "$started" "${first:-0}" "${last:-0}" "$rb" "$zero" "${served:-0}" \
        "$routed" "${after:-0}" "${rate:-0}" "$healthy" "$t0" "$t1" "$reason" >>"$results"
    [ "$state" = "$want" ] ||
        check_failed "$tag: the rollout ended '$state', not $want: $reason"
    if [ "$sc" = abort ]; then
        late_us=$(((${last:-0} - t1) / 1000))
        [ "$late_us" -le 1000 ] ||
            check_failed "$tag: a canary request arrived $late_us us after the abort's answer"
    fi
    awk -v r="${rate:-0}" -v w="$BENCH_RATE" 'BEGIN { exit !(r >= 0.95 * w) }' ||
        check_failed "$tag: the load generator achieved ${rate:-0} requests/s of $BENCH_RATE"
    log "$tag: $state, first canary request to rolling-back" \
        "$(awk -v z="$rb" -v f="${first:-0}" 'BEGIN { printf "%.3f", (z * 1e6 - f) / 1e9 }') s"
}

# ---- the runs ------------------------------------------------------------

log "raw results in $out"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
start_model stable --delay-ms "$BENCH_DELAY_MS" --fail-rate 0.01
stable_addr=$model_addr

for sc in $BENCH_SCENARIOS; do
    case $sc in
    500s) runs=$BENCH_GROSS_RUNS ;;
    refused) runs=$BENCH_GROSS_RUNS ;;
    abort) runs=$BENCH_ABORT_RUNS ;;
    slow) runs=$BENCH_SLOW_RUNS ;;
    *) die "unknown scenario '$sc' (500s, refused, abort, slow)" ;;
    esac
    r=1
    while [ $r -le "$runs" ]; do
        log "$sc: run $r of $runs"
        case $sc in
        500s)
            run_rollout 500s $r "$out/example.yaml" "$BENCH_GROSS_TIMEOUT" 0.1 \
                --delay-ms "$BENCH_DELAY_MS" --status 500
            ;;
        refused)
            run_rollout refused $r "$out/example.yaml" "$BENCH_GROSS_TIMEOUT" 0.1 \
                --delay-ms "$BENCH_DELAY_MS" --crash
            ;;
        abort)
            run_rollout abort $r "$out/at50.yaml" "$BENCH_GROSS_TIMEOUT" 0.1 \
                --delay-ms "$BENCH_DELAY_MS"
            ;;
        slow)
            run_rollout slow $r "$out/from5.yaml" "$BENCH_SLOW_TIMEOUT" 5 \
                --delay-ms "$slow_delay"
            ;;
        esac
        r=$((r + 1))
    done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report ----------------------------------------------------------------

# stats SCENARIO EXPR: "median p90 min max" of EXPR over the scenario's runs
# that rolled back; EXPR in awk over the columns of results.tsv.
stats() {
    awk -F'\t' -v sc="$1" "NR > 1 && \$1 == sc && (\$3 == \"rolled-back\" ||
        \$3 == \"aborted\") { print $2 }" \
        "$results" | sort -g | awk '{ v[NR] = $1 } END {
            if (NR == 0) { print "nan nan nan nan"; exit }
            m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            i = int(0.9 * NR + 0.999999); if (i < 1) i = 1
            print m, v[i], v[1], v[NR] }'
}
count() { # SCENARIO [STATE]: runs, or runs that ended in STATE
    awk -F'\t' -v sc="$1" -v st="${2:-}" \
        'NR > 1 && $1 == sc && (st == "" || $3 == st) { n++ } END { print n + 0 }' "$results"
}
# seconds from the first canary request to weight 0 (the rolling-back
# entry) and to the last canary arrival; ms from that entry to the last
# arrival
e_zero='($7 * 1e6 - $5) / 1e9'
e_last='($6 - $5) / 1e9'
e_last_after='($6 - $7 * 1e6) / 1e6'

row() { # SCENARIO LABEL: one table row
    n=$(count "$1")
    rb=$(count "$1" rolled-back)
    [ "$n" -gt 0 ] || return 0
    set -- "$1" "$2" "$n" "$rb"
    # shellcheck disable=SC2046
    set -- "$@" $(stats "$1" "$e_zero") $(stats "$1" "$e_last") $(stats "$1" '$10') \
        $(stats "$1" '$9') $(stats "$1" '$12')
    # $5-8 weight 0, $9-12 last arrival, $13-16 router, $17-20 model, $21-24 rate
    awk -v sc="$1" -v label="$2" -v n="$3" -v rb="$4" -v zm="$5" -v zp="$6" -v zmin="$7" \
        -v zmax="$8" -v lm="$9" -v lp="${10}" -v rm="${13}" -v rp="${14}" -v mm="${17}" \
        -v mp="${18}" -v ratemin="${23}" 'BEGIN {
        # seconds, or minutes for the slow canary (a bake of minutes)
        u = (sc == "slow") ? 60 : 1; un = (sc == "slow") ? "min" : "s"
        printf "| %s | %d of %d | **%.2f %s** | %.2f %s | %.2f-%.2f %s |", label, rb, n,
            zm / u, un, zp / u, un, zmin / u, zmax / u, un
        if (sc == "refused") printf " (crashed) |"
        else printf " %.2f %s / %.2f %s |", lm / u, un, lp / u, un
        printf " %d / %d |", rm, rp
        if (sc == "refused") printf " 1 |"
        else printf " %d / %d |", mm, mp
        printf " %.1f |\n", ratemin }'
}
fmt_min() { # SECONDS -> "15.5 min"
    awk -v s="$1" 'BEGIN { printf "%.1f min", s / 60 }'
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
ncpu=$(nproc)
gross='($1 == "500s" || $1 == "refused")'
after_total=$(awk -F'\t' "NR > 1 && $gross { s += \$11 } END { print s + 0 }" "$results")
healthy_first=$(awk -F'\t' "NR > 1 && $gross && \$13 > 0 && \$13 <= \$7 { n++ }
    END { print n + 0 }" "$results")
gross_runs=$(awk -F'\t' "NR > 1 && $gross { n++ } END { print n + 0 }" "$results")
# shellcheck disable=SC2046
set -- $(stats 500s "$e_last_after")
last_after_med=$1 last_after_max=$4
# abort: last arrival minus T0, minus T1, T1 - T0 (us); the rolling-back
# entry minus T0 (ms); the canary's share of requests
# shellcheck disable=SC2046
set -- $(stats abort '($6 - $14) / 1e3') $(stats abort '($6 - $15) / 1e3') \
    $(stats abort '($15 - $14) / 1e3') $(stats abort '($7 * 1e6 - $14) / 1e6')
ab_t0_med=$1 ab_t0_p90=$2 ab_t0_max=$4 ab_t1_med=$5 ab_t1_max=$8 ab_rt_med=$9 ab_rt_max=${12}
ab_rb_med=${13} ab_rb_max=${16}
abort_after=$(awk -F'\t' 'NR > 1 && $1 == "abort" { s += $11 } END { print s + 0 }' "$results")
abort_with_after=$(awk -F'\t' 'NR > 1 && $1 == "abort" && $11 > 0 { n++ } END { print n + 0 }' \
    "$results")

section=$out/section.md
{
    echo "<!-- bench-rollout:begin -->"
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $cpu ($ncpu CPUs, kernel $(uname -r)), with the" \
        "load generator, \`canary serve\` and the model servers on the same machine." \
        "Load average (1/5/15 min) before the run $load_start, after $load_end."
    echo
    echo "Reproduce: \`make BUILD=$build_arg all &&" \
        "BENCH_GROSS_RUNS=$BENCH_GROSS_RUNS BENCH_SLOW_RUNS=$BENCH_SLOW_RUNS" \
        "BENCH_RATE=$BENCH_RATE BENCH_DELAY_MS=$BENCH_DELAY_MS" \
        "BENCH_SCENARIOS=\"$BENCH_SCENARIOS\" BENCH_SLOW_PAUSE=$BENCH_SLOW_PAUSE" \
        "bench/rollout.sh $build_arg\`" \
        "(\`make bench-rollout\` runs \`bench/rollout.sh build\` with the defaults)."
    echo
    echo "Setup: every run is a fresh \`canary serve\` (default workers, its own state" \
        "file, the strategy and analysis below) in front of a stable" \
        "\`build/model-server\` answering after $BENCH_DELAY_MS ms with 1% errors (HTTP 500)," \
        "loaded by \`canary loadgen\` (open loop, request *i* intended at" \
        "*i*/$BENCH_RATE s whatever the answers, keep-alive connections as" \
        "needed) at $BENCH_RATE requests/s. After 2 s of stable traffic the canary" \
        "version is registered and rolled out with \`canary rollout start\`. Strategy:" \
        "the issue's example, verbatim, for the gross failures (first weight 1%," \
        "warmup 30 s, triggers \`error_rate: {max: 0.05, max_ratio: 3.0}\`," \
        "\`p99_latency_ms: {max: 500, max_ratio: 2.0}\`, \`prediction_shift\`); the" \
        "example from its 5% step for the slow canary (the simulation's \"from its 5%" \
        "step\"). Analysis: \`latency_ms\` mann-whitney margin 5%, \`error\` proportion" \
        "margin 0.005, \`prediction\` ks max_statistic 0.1, all critical, alpha 0.05" \
        "(the simulation's)."
    echo
    echo "- **500s**: the canary model server is healthy (\`/healthz\` answers 200) and" \
        "answers every model request with a 500 (\`--status 500\`)."
    echo "- **refused**: the canary model server is healthy until its first model" \
        "request, on which it exits (\`--crash\`, a model that dies on real input): that" \
        "request gets no answer, and every later canary connection is refused (the" \
        "router answers those from stable and counts them against the canary)."
    echo "- **30% slower**: the canary answers after $slow_delay ms instead of" \
        "$BENCH_DELAY_MS, with stable's 1% errors and the same prediction."
    echo
    echo "Times are from the canary's first request, as the canary model server saw" \
        "it (its own CLOCK_REALTIME arrival time), to **weight 0**: the audit trail's" \
        "entry that moved the rollout to \`rolling-back\`. The driver publishes weight 0" \
        "to every worker first and then stores its decision, stamped by that write" \
        "(whole milliseconds), so this is an upper bound on the time to weight 0, by" \
        "the traffic change's own synchronous write to the state file; the moment the" \
        "driver decided is not visible outside the process. And to the **last canary" \
        "arrival** at the canary model server. Requests served before the rollback:" \
        "the router's count (\`canary_requests_total\`, role canary) and the canary" \
        "model server's."
    echo
    echo "| scenario | rolled back | first request to weight 0, median | p90 | range |" \
        "to the last canary arrival, median / p90 | canary requests (router), median /" \
        "p90 | canary requests (model server), median / p90 | lowest achieved rate" \
        "(requests/s) |"
    echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
    row 500s "every answer a 500, at 1%"
    row refused "every connection refused (crash on the first request), at 1%"
    row slow "30% slower, at 5%"
    echo
    echo "Next to the simulation (\`make sim-rollout\`, docs/JUDGE.md) and to Argo" \
        "Rollouts' and Flagger's defaults (the table above; their formulas, not runs):"
    echo
    echo "| regression | real processes (this run), median | simulated, median / p90 |" \
        "Flagger defaults (interval 1 m x threshold 1) | Argo Rollouts, inline analysis" \
        "(after the step's pause) / docs' background analysis (5 m x failureLimit 3) |"
    echo "|---|---:|---:|---|---|"
    # shellcheck disable=SC2046
    set -- $(stats 500s "$e_zero")
    [ "$(count 500s)" -gt 0 ] &&
        echo "| every answer a 500, at 1% | $(printf '%.2f' "$1") s | 1.6 s / 2.0 s | 60 s |" \
            "after the pause / 15-20 min |"
    # shellcheck disable=SC2046
    set -- $(stats refused "$e_zero")
    [ "$(count refused)" -gt 0 ] &&
        echo "| every connection refused, at 1% | $(printf '%.2f' "$1") s | (not simulated) |" \
            "60 s | after the pause / 15-20 min |"
    # shellcheck disable=SC2046
    set -- $(stats slow "$e_zero")
    [ "$(count slow)" -gt 0 ] &&
        echo "| 30% slower, at 5% | $(fmt_min "$1") | 15.5 min / 15.5 min |" \
            "never (p99 < 500 ms passes) | never, unless a latency threshold sits between" \
            "stable's and the canary's |"
    if [ "$(count slow)" -gt 0 ]; then
        echo
        echo "Why the slow canary was rolled back:" \
            "$(awk -F'\t' 'NR > 1 && $1 == "slow" { print $16 }' "$results" | sort | uniq -c |
                awk '{ n = $1; $1 = ""; printf "%s\"%s\" (%d of the runs)", (NR > 1 ? "; " : ""),
                    substr($0, 2), n }')."
    fi
    echo
    if [ "$(count abort)" -gt 0 ]; then
        echo "**From a decision to no new canary request.** A healthy canary at 50% (a" \
            "strategy whose first step is \`set_weight: 50\`), aborted 3 s after the" \
            "start by \`POST /v1/rollouts/1/abort\` (an abort is a rollback: weight 0 is" \
            "published first, then recorded), sent by \`bench/timed_post.py\` on an open" \
            "connection, T0 (CLOCK_REALTIME) taken just before the request is sent and T1" \
            "just after the answer arrived; $(count abort) aborts. The last canary arrival" \
            "at the canary model server came **$(printf '%.0f' "$ab_t0_med") us (median)," \
            "$(printf '%.0f' "$ab_t0_p90") us (p90), $(printf '%.0f' "$ab_t0_max") us (max)" \
            "after T0**; $(printf '%.0f' "$ab_t1_med") us (median) and" \
            "$(printf '%.0f' "$ab_t1_max") us (max) after T1 (negative: before the answer" \
            "came back). The abort's round trip (T1 - T0): $(printf '%.0f' "$ab_rt_med") us" \
            "(median), $(printf '%.0f' "$ab_rt_max") us (max); the trail's \`rolling-back\`" \
            "entry is stamped" \
            "$(printf '%.0f' "$ab_rb_med") ms (median), $(printf '%.0f' "$ab_rb_max") ms" \
            "(max) after T0. Canary arrivals after T1: $abort_after, in $abort_with_after" \
            "of $(count abort) aborts (requests routed before the switch and still on their" \
            "way). \`make bench-router\` measures the same for \`PUT /v1/traffic\` weight 0" \
            "(the \"Weight change\" paragraph of \"Router\" above)."
        echo
    fi
    echo "In the gross-failure runs above, at 1% of $BENCH_RATE requests/s (a canary" \
        "request every 200 ms on average), canary arrivals after the \`rolling-back\`" \
        "entry's millisecond: **$after_total** over $gross_runs runs. In the 500s runs the" \
        "last canary arrival came $(printf '%.0f' "$last_after_med") ms (median) and" \
        "$(printf '%.0f' "$last_after_max") ms (latest) after that entry (negative:" \
        "before it)."
    echo
    echo "Health checks and the first canary request: the rollout sets the canary's" \
        "weight when it starts, and the router sends the canary requests at once; the" \
        "health checker probes the new address in its next round (every" \
        "\`health.interval\`, 2 s by default), and the rollout's warmup waits for both a" \
        "passed check and a first request. The audit trail shows \"canary healthy\"" \
        "before the rollback decision in $healthy_first of the $gross_runs gross-failure" \
        "runs: the triggers, which count from the first canary request, usually decide" \
        "before the first probe. A canary whose address refuses connections from the" \
        "start is therefore caught the same way (its first requests fail); the router" \
        "does not hold traffic back until a check passes, as Kubernetes readiness" \
        "gates do for Argo Rollouts and Flagger."
    if [ -n "$failed_checks" ]; then
        echo
        echo "Checks that failed in this run:"
        echo "$failed_checks" | sed '/^$/d'
    fi
    echo
    echo "<!-- bench-rollout:end -->"
} >"$section"

# Replace the section between the markers; add them (with a heading) at the
# end of the document if missing.
if ! grep -q '^<!-- bench-rollout:begin -->' "$BENCH_DOC"; then
    printf '\n### Measured with real processes\n\n<!-- bench-rollout:begin -->\n<!-- bench-rollout:end -->\n' \
        >>"$BENCH_DOC"
fi
awk -v section="$section" '
    /^<!-- bench-rollout:begin -->/ { while ((getline line < section) > 0) print line; skip = 1; next }
    /^<!-- bench-rollout:end -->/ { skip = 0; next }
    !skip { print }' "$BENCH_DOC" >"$out/doc.tmp"
cat "$out/doc.tmp" >"$BENCH_DOC"
log "wrote $BENCH_DOC"
cat "$section"

if [ -n "$failed_checks" ]; then
    log "some checks failed:$failed_checks"
    exit 1
fi
