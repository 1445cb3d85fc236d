#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# make bench-router: the data plane (`canary serve`) next to HAProxy and
# NGINX, in front of the same two model servers, on the same machine, in
# the same invocation. Rewrites the "Router" section of docs/BENCHMARKS.md
# and keeps the raw output in BUILD/bench-router/.
#
#   bench/router.sh BUILD_DIR
#
# What it measures:
#  1. Throughput and latency: wrk (one thread, BENCH_CONNECTIONS keep-alive
#     connections, a small KServe v2 POST) against each proxy in turn,
#     alternating canary, HAProxy, NGINX, canary, ... for BENCH_ROUNDS
#     rounds of BENCH_SECONDS, at each worker count in BENCH_WORKERS. All
#     three split 90/10 at random between a "stable" and a "canary"
#     build/model-server; the share each backend really got is checked.
#  2. Memory: RSS (VmRSS summed over the proxy's processes) fresh, after
#     the load, and holding BENCH_IDLE idle keep-alive connections opened by
#     build/idle-conns.
#  3. Soak: canary's RSS every 30 s through BENCH_SOAK_SECONDS of full load.
#  4. Weight change: under load at canary weight 50, PUT weight 0 to the
#     admin API (bench/router/put_weight.py: T0 just before the request is
#     sent, T1 just after the response arrived, on an open connection).
#     The check is the router's guarantee, which is about decisions: once
#     the PUT returns, no request is routed to canary. Every PUT that
#     changes the traffic opens a measurement step, and a request is counted
#     in a step only if it was decided under that step's config; so after a
#     wait, GET /v1/samples?window=step must show the step the PUT answered
#     with and zero canary requests in it. The canary model server's own
#     CLOCK_REALTIME arrival times give the reported latency (last canary
#     arrival minus T0) and, for information, the arrivals after T1: those
#     are requests decided before the switch and still in flight (in a
#     socket or a queue), which the guarantee allows. Repeated
#     BENCH_WEIGHT_CHANGES times.
#
# Environment (defaults in brackets):
#   BENCH_SECONDS [10]  BENCH_ROUNDS [2]  BENCH_WORKERS ["1 2"]
#   BENCH_CONNECTIONS [64]  BENCH_IDLE [10000]  BENCH_SOAK_SECONDS [600]
#   BENCH_SOAK_WARMUP [30]  BENCH_WEIGHT_CHANGES [10]  BENCH_PORT [18600]
#   BENCH_PIN_WRK [1]: pin wrk to the last CPU (taskset), see below
#   BENCH_DOC [docs/BENCHMARKS.md]
#
# Exits 1 (after writing the report) if a check failed: a proxy's canary
# share off 10% by more than 1.5 points, wrk errors, idle connections that
# did not all open, soak growth over 5%, no canary traffic at weight 50, or
# a request decided for canary in the step opened by a PUT weight 0.
set -eu

build=${1:?usage: bench/router.sh BUILD_DIR}
build_arg=$build
cd "$(dirname "$0")/.."
case $build in /*) ;; *) build=$(pwd)/$build ;; esac

BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_ROUNDS=${BENCH_ROUNDS:-2}
BENCH_WORKERS=${BENCH_WORKERS:-"1 2"}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-64}
BENCH_IDLE=${BENCH_IDLE:-10000}
BENCH_SOAK_SECONDS=${BENCH_SOAK_SECONDS:-600}
BENCH_SOAK_WARMUP=${BENCH_SOAK_WARMUP:-30}
BENCH_WEIGHT_CHANGES=${BENCH_WEIGHT_CHANGES:-10}
BENCH_PORT=${BENCH_PORT:-18600}
BENCH_PIN_WRK=${BENCH_PIN_WRK:-1}
BENCH_DOC=${BENCH_DOC:-docs/BENCHMARKS.md}
export CANARY_TOKEN=bench

out=$build/bench-router
rm -rf "$out"
mkdir -p "$out"
results=$out/results.tsv
failed_checks=""

log() { echo "bench-router: $*" >&2; }
die() {
    log "$*"
    exit 1
}
check_failed() {
    log "CHECK FAILED: $*"
    failed_checks="$failed_checks
- $*"
}

for tool in wrk haproxy nginx curl taskset; do
    command -v $tool >/dev/null || die "$tool not found (scripts/deps.sh --bench-router)"
done
for bin in canary model-server idle-conns; do
    [ -x "$build/$bin" ] || die "$build/$bin not built (make all)"
done

# 10,000 idle connections need as many descriptors in the proxy and in
# idle-conns; everything started from here inherits the hard limit.
ulimit -n "$(ulimit -Hn)"
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nofile" -ge $((BENCH_IDLE + 500)) ] ||
    die "open-file limit $nofile is too low for BENCH_IDLE=$BENCH_IDLE"

# On a small machine wrk competes with the proxy and the model servers for
# the CPUs. Pinning wrk to one CPU keeps it off the others' run queue
# identically for every proxy; the proxies and the model servers float.
ncpu=$(nproc)
wrk_cpu=$((ncpu - 1))
pin=""
[ "$BENCH_PIN_WRK" = 1 ] && pin="taskset -c $wrk_cpu"

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

next_port=$BENCH_PORT
free_port() { # sets port to one nothing listens on, from BENCH_PORT up
    while ss -ltnH "sport = :$next_port" | grep -q .; do
        next_port=$((next_port + 1))
    done
    port=$next_port
    next_port=$((next_port + 1))
}

wait_http() { # URL WHAT PID LOG: until URL answers 200, at most 10 s
    i=0
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = 200 ]; do
        kill -0 "$3" 2>/dev/null || die "$2 exited: $(tail -n 5 "$4")"
        i=$((i + 1))
        [ $i -le 100 ] || die "$2 did not become ready ($1)"
        sleep 0.1
    done
}

rss_kib() { # PID: VmRSS of PID and its children (nginx workers), in KiB
    total=0
    for q in $1 $(pgrep -P "$1" || true); do
        v=$(awk '/^VmRSS:/ { print $2 }' "/proc/$q/status" 2>/dev/null || true)
        total=$((total + ${v:-0}))
    done
    echo $total
}

backend_stat() { # PORT FIELD [QUERY]: a number from the model server's /stats
    curl -s "http://127.0.0.1:$1/stats${3:-}" | sed -n "s/.*\"$2\":\([0-9a-z]*\).*/\1/p"
}

start_backend() { # NAME PREDICTION: sets backend_pid, backend_port
    "$build/model-server" --listen 127.0.0.1:0 --name "$1" --prediction "$2" \
        >"$out/backend-$1.out" 2>"$out/backend-$1.err" &
    backend_pid=$!
    pids="$pids $backend_pid"
    i=0
    until grep -q '^listening on' "$out/backend-$1.out"; do
        i=$((i + 1))
        [ $i -le 100 ] || die "model-server $1 did not start: $(cat "$out/backend-$1.err")"
        sleep 0.05
    done
    backend_port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out/backend-$1.out")
}

start_canary() { # WORKERS TAG: sets proxy_pid, proxy_port, admin_port
    free_port
    proxy_port=$port
    free_port
    admin_port=$port
    "$build/canary" serve --listen "127.0.0.1:$proxy_port" \
        --admin "127.0.0.1:$admin_port" --stable "127.0.0.1:$stable_port" \
        --canary "127.0.0.1:$canary_port" --canary-weight 10 --mode random \
        --workers "$1" --max-connections 20000 \
        >"$out/canary-$2.log" 2>&1 &
    proxy_pid=$!
    pids="$pids $proxy_pid"
    wait_http "http://127.0.0.1:$admin_port/healthz" "canary serve" "$proxy_pid" \
        "$out/canary-$2.log"
}

start_haproxy() { # WORKERS TAG
    free_port
    proxy_port=$port
    sed -e "s/@WORKERS@/$1/" -e "s/@PORT@/$proxy_port/" \
        -e "s/@STABLE_PORT@/$stable_port/" -e "s/@CANARY_PORT@/$canary_port/" \
        -e "s/@MAXCONN@/$((BENCH_IDLE + 2000))/" \
        bench/router/haproxy.cfg.in >"$out/haproxy-$2.cfg"
    haproxy -f "$out/haproxy-$2.cfg" -db >"$out/haproxy-$2.log" 2>&1 &
    proxy_pid=$!
    pids="$pids $proxy_pid"
    wait_http "http://127.0.0.1:$proxy_port/healthz" haproxy "$proxy_pid" \
        "$out/haproxy-$2.log"
}

start_nginx() { # WORKERS TAG
    free_port
    proxy_port=$port
    dir=$out/nginx-$2
    mkdir -p "$dir"
    sed -e "s/@WORKERS@/$1/" -e "s/@PORT@/$proxy_port/" \
        -e "s/@STABLE_PORT@/$stable_port/" -e "s/@CANARY_PORT@/$canary_port/" \
        -e "s/@MAXCONN@/$((BENCH_IDLE + 4000))/" -e "s/@NOFILE@/$nofile/" \
        -e "s|@DIR@|$dir|" bench/router/nginx.conf.in >"$dir/nginx.conf"
    nginx -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
    proxy_pid=$!
    pids="$pids $proxy_pid"
    wait_http "http://127.0.0.1:$proxy_port/healthz" nginx "$proxy_pid" "$dir/error.log"
}

# wrk_run PORT SECONDS OUTFILE: one wrk run; the RESULT line is in OUTFILE
wrk_run() {
    $pin wrk -t1 -c"$BENCH_CONNECTIONS" -d"$2s" --latency -s bench/router/post.lua \
        "http://127.0.0.1:$1/v2/models/model/infer" >"$3" 2>&1 || true
    grep -q '^RESULT ' "$3" || die "wrk failed: $(tail -n 5 "$3")"
}

result_field() { # FILE KEY
    sed -n 's/^RESULT //p' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

median() { # numbers on stdin
    sort -g | awk '{ v[NR] = $1 } END {
        if (NR == 0) { print "nan"; exit }
        if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---- the run -----------------------------------------------------------

log "raw results in $out"
start_backend stable 0.25
stable_pid=$backend_pid
stable_port=$backend_port
start_backend canary 0.75
canary_backend_pid=$backend_pid
canary_port=$backend_port
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

printf 'workers\tproxy\tround\trps\tp50_ms\tp99_ms\tcanary_share_pct\terrors\n' >"$results"
printf 'workers\tproxy\trest_kib\tloaded_kib\tidle_kib\tidle_open\n' >"$out/memory.tsv"

for w in $BENCH_WORKERS; do
    log "workers $w: starting canary, haproxy, nginx"
    start_canary "$w" "w$w"
    canary_pid=$proxy_pid
    canary_pport=$proxy_port
    start_haproxy "$w" "w$w"
    haproxy_pid=$proxy_pid
    haproxy_pport=$proxy_port
    start_nginx "$w" "w$w"
    nginx_pid=$proxy_pid
    nginx_pport=$proxy_port
    sleep 1
    for p in canary haproxy nginx; do
        eval "rest_$p=\$(rss_kib \$${p}_pid)"
    done

    # Warm up every proxy (connection pools, allocator) before measuring.
    for p in canary haproxy nginx; do
        eval "port=\$${p}_pport"
        wrk_run "$port" 2 "$out/warmup-$p-w$w.txt"
    done

    r=1
    while [ $r -le "$BENCH_ROUNDS" ]; do
        for p in canary haproxy nginx; do
            eval "port=\$${p}_pport"
            s0=$(backend_stat "$stable_port" requests)
            c0=$(backend_stat "$canary_port" requests)
            f=$out/wrk-$p-w$w-r$r.txt
            log "workers $w round $r: $p"
            wrk_run "$port" "$BENCH_SECONDS" "$f"
            s1=$(backend_stat "$stable_port" requests)
            c1=$(backend_stat "$canary_port" requests)
            n=$(result_field "$f" requests)
            us=$(result_field "$f" duration_us)
            errs=0
            for k in connect read write status timeout; do
                errs=$((errs + $(result_field "$f" $k)))
            done
            awk -v w="$w" -v p="$p" -v r="$r" -v n="$n" -v us="$us" \
                -v p50="$(result_field "$f" p50_us)" -v p99="$(result_field "$f" p99_us)" \
                -v ds=$((s1 - s0)) -v dc=$((c1 - c0)) -v e="$errs" 'BEGIN {
                    share = (ds + dc) ? 100 * dc / (ds + dc) : 0
                    printf "%s\t%s\t%s\t%.1f\t%.3f\t%.3f\t%.2f\t%d\n",
                        w, p, r, n / (us / 1e6), p50 / 1000, p99 / 1000, share, e }' \
                >>"$results"
        done
        r=$((r + 1))
    done

    # Memory with BENCH_IDLE idle keep-alive connections, one proxy at a time.
    for p in canary haproxy nginx; do
        eval "pid=\$${p}_pid; port=\$${p}_pport; rest=\$rest_$p"
        loaded=$(rss_kib "$pid")
        log "workers $w: $p holding $BENCH_IDLE idle connections"
        "$build/idle-conns" --count "$BENCH_IDLE" --hold-s 600 "127.0.0.1:$port" \
            >"$out/idle-$p-w$w.out" 2>"$out/idle-$p-w$w.err" &
        idle_pid=$!
        pids="$pids $idle_pid"
        i=0
        until grep -q '^open' "$out/idle-$p-w$w.out"; do
            i=$((i + 1))
            [ $i -le 1200 ] || die "idle-conns did not finish opening against $p"
            kill -0 "$idle_pid" 2>/dev/null || die "idle-conns died: $(cat "$out/idle-$p-w$w.err")"
            sleep 0.1
        done
        sleep 2
        idle=$(rss_kib "$pid")
        stop "$idle_pid"
        opened=$(sed -n 's/^open //p' "$out/idle-$p-w$w.out")
        [ "$opened" = "$BENCH_IDLE" ] ||
            check_failed "$p (workers $w): only $opened of $BENCH_IDLE idle connections opened: $(cat "$out/idle-$p-w$w.err")"
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$w" "$p" "$rest" "$loaded" "$idle" "$opened" \
            >>"$out/memory.tsv"
        sleep 1
    done

    stop "$canary_pid"
    stop "$haproxy_pid"
    stop "$nginx_pid"
done

# ---- soak --------------------------------------------------------------

soak_w=$(echo "$BENCH_WORKERS" | awk '{ print $NF }')
log "soak: canary, workers $soak_w, ${BENCH_SOAK_SECONDS}s"
start_canary "$soak_w" soak
soak_pid=$proxy_pid
soak_port=$proxy_port
soak_admin=$admin_port
soak_fresh=$(rss_kib "$soak_pid")
wrk_run "$soak_port" "$BENCH_SOAK_WARMUP" "$out/soak-warmup.txt"
printf 'elapsed_s\trss_kib\n' >"$out/soak.tsv"
printf '0\t%s\n' "$(rss_kib "$soak_pid")" >>"$out/soak.tsv"
$pin wrk -t1 -c"$BENCH_CONNECTIONS" -d"${BENCH_SOAK_SECONDS}s" --latency \
    -s bench/router/post.lua "http://127.0.0.1:$soak_port/v2/models/model/infer" \
    >"$out/soak-wrk.txt" 2>&1 &
soak_wrk=$!
pids="$pids $soak_wrk"
elapsed=0
while [ $((elapsed + 30)) -lt "$BENCH_SOAK_SECONDS" ]; do
    sleep 30
    elapsed=$((elapsed + 30))
    printf '%s\t%s\n' $elapsed "$(rss_kib "$soak_pid")" >>"$out/soak.tsv"
done
wait "$soak_wrk" || true
printf '%s\t%s\n' "$BENCH_SOAK_SECONDS" "$(rss_kib "$soak_pid")" >>"$out/soak.tsv"
grep -q '^RESULT ' "$out/soak-wrk.txt" || die "soak wrk failed: $(tail -n 5 "$out/soak-wrk.txt")"

# ---- weight change -------------------------------------------------------

log "weight change: $BENCH_WEIGHT_CHANGES times under load"
put_weight() { # WEIGHT: sets t0 t1 code step (put_weight.py, connection already open)
    set -- $(/usr/bin/python3 bench/router/put_weight.py "127.0.0.1:$soak_admin" \
        "$CANARY_TOKEN" "$1")
    t0=${1:-} t1=${2:-} code=${3:-} step=${4:-}
    [ "$code" = 200 ] || die "PUT /v1/traffic answered '$code'"
}
step_counts() { # sets s_step, s_canary, s_stable: this step, as the router counted it
    curl -sf -H "Authorization: Bearer $CANARY_TOKEN" \
        "http://127.0.0.1:$soak_admin/v1/samples?window=step" >"$out/samples.json" ||
        die "GET /v1/samples failed"
    set -- $(jq -r '[.step, ([.versions.canary.segments[]?.requests] | add // 0),
        ([.versions.stable.segments[]?.requests] | add // 0)] | @tsv' "$out/samples.json")
    s_step=$1 s_canary=$2 s_stable=$3
}
put_weight 50
$pin wrk -t1 -c"$BENCH_CONNECTIONS" -d"$((BENCH_WEIGHT_CHANGES * 5 + 30))s" \
    -s bench/router/post.lua "http://127.0.0.1:$soak_port/v2/models/model/infer" \
    >"$out/weight-wrk.txt" 2>&1 &
weight_wrk=$!
pids="$pids $weight_wrk"
sleep 1
# canary_before: canary model server arrivals in 1 s at weight 50;
# decided_before: the router's canary count in that weight-50 step;
# step: the step the PUT weight 0 answered with; samples_step, decided_canary,
# decided_stable: /v1/samples?window=step 1 s after it returned;
# last_ns, after_t1, exact: the canary model server's last arrival, and its
# arrivals after T1 (exact=false: more than it remembers).
printf 'i\tcanary_before\tdecided_before\tstep50\tt0_ns\tt1_ns\tstep\tsamples_step' \
    >"$out/weight.tsv"
printf '\tdecided_canary\tdecided_stable\tlast_ns\tafter_t1\texact\n' >>"$out/weight.tsv"
i=1
while [ $i -le "$BENCH_WEIGHT_CHANGES" ]; do
    put_weight 50
    step50=$step
    n0=$(backend_stat "$canary_port" requests)
    sleep 1
    n1=$(backend_stat "$canary_port" requests)
    step_counts
    [ "$s_step" = "$step50" ] || die "the step moved at weight 50 ($step50, then $s_step)"
    decided_before=$s_canary
    put_weight 0
    sleep 1
    step_counts
    q="?after_ns=$t1"
    last=$(backend_stat "$canary_port" last_request_unix_ns "$q")
    after=$(backend_stat "$canary_port" requests_after "$q")
    exact=$(backend_stat "$canary_port" requests_after_exact "$q")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $i $((n1 - n0)) \
        "$decided_before" "$step50" "$t0" "$t1" "$step" "$s_step" "$s_canary" "$s_stable" \
        "$last" "$after" "$exact" >>"$out/weight.tsv"
    i=$((i + 1))
done
stop "$weight_wrk"
stop "$soak_pid"
stop "$stable_pid"
stop "$canary_backend_pid"

# ---- report ----------------------------------------------------------------

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
haproxy_v=$(haproxy -v | sed -n 's/^HAProxy version \([^ ]*\).*/\1/p')
nginx_v=$(nginx -v 2>&1 | sed 's/^nginx version: nginx\///')
wrk_v=$(wrk -v 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p')
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# Per worker count and proxy: the median of the rounds.
awk -F'\t' 'NR > 1 {
        k = $1 "\t" $2; n[k]++; rps[k, n[k]] = $4; p50[k, n[k]] = $5; p99[k, n[k]] = $6
        share[k] += $7; err[k] += $8; keys[k] = 1 }
    function med(a, k, m,   i, j, t, v) {
        for (i = 1; i <= m; i++) v[i] = a[k, i]
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
            if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
        return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
    END { for (k in keys) printf "%s\t%.1f\t%.3f\t%.3f\t%.2f\t%d\n",
        k, med(rps, k, n[k]), med(p50, k, n[k]), med(p99, k, n[k]), share[k] / n[k], err[k] }' \
    "$results" | sort -k1,1n -k2,2 >"$out/summary.tsv"

while IFS="$(printf '\t')" read -r w p rps p50 p99 share errs; do
    awk -v s="$share" 'BEGIN { exit !(s >= 8.5 && s <= 11.5) }' ||
        check_failed "$p (workers $w) sent $share% to canary, expected 10%"
    [ "$errs" = 0 ] || check_failed "$p (workers $w): $errs wrk errors or non-2xx responses"
done <"$out/summary.tsv"

soak_base=$(awk -F'\t' 'NR == 2 { print $2 }' "$out/soak.tsv")
soak_final=$(awk -F'\t' 'END { print $2 }' "$out/soak.tsv")
soak_max=$(awk -F'\t' 'NR > 1 && $2 > m { m = $2 } END { print m }' "$out/soak.tsv")
soak_growth=$(awk -v a="$soak_base" -v b="$soak_final" 'BEGIN { printf "%.2f", 100 * (b - a) / a }')
soak_rps=$(awk -v n="$(result_field "$out/soak-wrk.txt" requests)" \
    -v us="$(result_field "$out/soak-wrk.txt" duration_us)" 'BEGIN { printf "%.0f", n / (us / 1e6) }')
awk -v g="$soak_growth" 'BEGIN { exit !(g <= 5) }' ||
    check_failed "canary RSS grew $soak_growth% during the soak"

wstat() { # COLUMN_EXPR median|max: over the changes, ns -> us
    awk -F'\t' "NR > 1 { print ($1) / 1000 }" "$out/weight.tsv" |
        if [ "$2" = median ]; then median; else sort -g | tail -n 1; fi |
        awk '{ printf "%.0f", $1 }'
}
wsum() { # COLUMN_EXPR: its sum over the changes
    awk -F'\t' "NR > 1 { s += $1 } END { print s + 0 }" "$out/weight.tsv"
}
# The guarantee, checked from the router's own count: in the step each PUT
# weight 0 opened, no request was decided for canary.
while IFS="$(printf '\t')" read -r i before dbefore step50 t0 t1 step sstep dcanary dstable \
    last after exact; do
    [ "$i" = i ] && continue
    [ "$step" -gt "$step50" ] 2>/dev/null ||
        check_failed "change $i: PUT weight 0 answered step '$step', not a new step after $step50"
    [ "$sstep" = "$step" ] ||
        check_failed "change $i: /v1/samples?window=step showed step $sstep, the PUT opened $step"
    [ "$dcanary" = 0 ] ||
        check_failed "change $i: $dcanary requests decided for canary in step $step, opened by PUT weight 0"
    [ "$dstable" -gt 0 ] ||
        check_failed "change $i: no request decided in step $step at all (no load?)"
done <"$out/weight.tsv"
wc_decided=$(wsum '$9')
wc_decided_stable=$(wsum '$10')
wc_after=$(wsum '$12')
wc_after_changes=$(wsum '($12 > 0)')
wc_after_max=$(awk -F'\t' 'NR > 1 && $12 > m { m = $12 } END { print m + 0 }' "$out/weight.tsv")
wc_inexact=$(wsum '($13 != "true")')
wc_min_before=$(awk -F'\t' 'NR > 1 && (m == "" || $2 < m) { m = $2 } END { print m }' \
    "$out/weight.tsv")
wc_min_decided_before=$(awk -F'\t' 'NR > 1 && (m == "" || $3 < m) { m = $3 } END { print m }' \
    "$out/weight.tsv")
[ "$wc_min_before" -gt 0 ] && [ "$wc_min_decided_before" -gt 0 ] ||
    check_failed "no canary traffic at weight 50 before a PUT"

section=$out/section.md
{
    echo "<!-- bench-router:begin -->"
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $cpu ($ncpu CPUs, kernel $(uname -r)), HAProxy" \
        "$haproxy_v, NGINX $nginx_v, wrk $wrk_v. Load average (1/5/15 min) before the run" \
        "$load_start, after $load_end."
    echo
    echo "Reproduce: \`make BUILD=$build_arg all && BENCH_SECONDS=$BENCH_SECONDS" \
        "BENCH_ROUNDS=$BENCH_ROUNDS BENCH_WORKERS=\"$BENCH_WORKERS\"" \
        "BENCH_CONNECTIONS=$BENCH_CONNECTIONS BENCH_IDLE=$BENCH_IDLE" \
        "BENCH_SOAK_SECONDS=$BENCH_SOAK_SECONDS BENCH_SOAK_WARMUP=$BENCH_SOAK_WARMUP" \
        "BENCH_WEIGHT_CHANGES=$BENCH_WEIGHT_CHANGES BENCH_PIN_WRK=$BENCH_PIN_WRK" \
        "bench/router.sh $build_arg\` (\`make bench-router\` runs" \
        "\`bench/router.sh build\` with the defaults)."
    echo
    echo "Setup: two \`build/model-server\` processes on loopback (\"stable\" and" \
        "\"canary\", KServe v2 JSON); each proxy splits 90/10 between them at random" \
        "with keep-alive on both sides: \`canary serve --mode random --canary-weight 10\`" \
        "(metrics and prediction extraction on, as by default), HAProxy \`balance" \
        "random(1)\` with weights 90/10 (one draw: the default \`random(2)\` sends to" \
        "the less loaded of two draws, so its split follows load, not the weights)" \
        "and \`http-reuse always\`, NGINX \`random\` with" \
        "\`weight=9\`/\`weight=1\` and \`keepalive 64\` (configurations in" \
        "\`bench/router/\`). The same worker count for all three (canary \`--workers\`," \
        "HAProxy \`nbthread\`, NGINX \`worker_processes\`). Load: wrk, 1 thread," \
        "$BENCH_CONNECTIONS connections, an 82-byte KServe v2 POST" \
        "(\`bench/router/post.lua\`)$([ "$BENCH_PIN_WRK" = 1 ] && echo ", pinned to CPU $wrk_cpu with taskset; the proxies and the model servers are not pinned")." \
        "Runs alternate canary, HAProxy, NGINX, canary, ...; each figure is the" \
        "median of $BENCH_ROUNDS rounds of ${BENCH_SECONDS}s. \"to canary\" is the" \
        "share of requests the canary model server counted during the run."
    echo
    echo "| workers | proxy | requests/s | p50 (ms) | p99 (ms) | to canary | errors |"
    echo "|---:|---|---:|---:|---:|---:|---:|"
    awk -F'\t' '{ name = ($2 == "canary" ? "canary" : ($2 == "haproxy" ? "HAProxy" : "NGINX"))
        printf "| %s | %s | %.0f | %.2f | %.2f | %.1f%% | %d |\n", $1, name, $3, $4, $5, $6, $7 }' \
        "$out/summary.tsv"
    echo
    echo "| workers | canary/HAProxy requests/s | canary/NGINX requests/s |" \
        "canary/HAProxy p99 | canary/NGINX p99 |"
    echo "|---:|---:|---:|---:|---:|"
    awk -F'\t' '{ rps[$1, $2] = $3; p99[$1, $2] = $5; ws[$1] = 1 }
        END { for (w in ws) printf "| %s | %.2f | %.2f | %.2f | %.2f |\n", w,
            rps[w, "canary"] / rps[w, "haproxy"], rps[w, "canary"] / rps[w, "nginx"],
            p99[w, "canary"] / p99[w, "haproxy"], p99[w, "canary"] / p99[w, "nginx"] }' \
        "$out/summary.tsv" | sort -t'|' -k2,2n
    echo
    echo "Memory: VmRSS summed over each proxy's processes (NGINX: master and" \
        "workers), fresh after start, after the load above, and while" \
        "\`build/idle-conns\` holds $BENCH_IDLE idle keep-alive connections, each of" \
        "which has sent one request."
    echo
    echo "| workers | proxy | fresh (MiB) | after load (MiB) | $BENCH_IDLE idle (MiB) | per idle connection (KiB) |"
    echo "|---:|---|---:|---:|---:|---:|"
    awk -F'\t' -v n="$BENCH_IDLE" 'NR > 1 {
        name = ($2 == "canary" ? "canary" : ($2 == "haproxy" ? "HAProxy" : "NGINX"))
        printf "| %s | %s | %.1f | %.1f | %.1f | %.1f |\n", $1, name, $3 / 1024, $4 / 1024,
            $5 / 1024, ($5 - $4) / n }' "$out/memory.tsv"
    echo
    echo "Soak: canary (workers $soak_w) under the same load for ${BENCH_SOAK_SECONDS}s" \
        "($soak_rps requests/s) after a ${BENCH_SOAK_WARMUP}s warm-up. RSS fresh" \
        "$(awk -v k="$soak_fresh" 'BEGIN { printf "%.1f", k / 1024 }') MiB; after the" \
        "warm-up $(awk -v k="$soak_base" 'BEGIN { printf "%.1f", k / 1024 }') MiB; at the" \
        "end $(awk -v k="$soak_final" 'BEGIN { printf "%.1f", k / 1024 }') MiB (highest" \
        "sample $(awk -v k="$soak_max" 'BEGIN { printf "%.1f", k / 1024 }') MiB, sampled" \
        "every 30 s): growth $soak_growth%. Samples (MiB):" \
        "$(awk -F'\t' 'NR > 1 { printf "%s%.1f", (NR > 2 ? ", " : ""), $2 / 1024 }' "$out/soak.tsv")."
    echo
    echo "Weight change. The guarantee: once \`PUT /v1/traffic\` returns, no new request" \
        "is routed by the old split; after \`{\"canary_weight\":0}\` no request is" \
        "decided for canary. While wrk loads canary (workers $soak_w) at canary" \
        "weight 50, \`bench/router/put_weight.py\` sends \`PUT /v1/traffic" \
        "{\"canary_weight\":0}\` on an already open connection, taking T0 (CLOCK_REALTIME)" \
        "just before the request is sent and T1 just after the response arrived;" \
        "$BENCH_WEIGHT_CHANGES changes, back to 50 for 1 s before each."
    echo
    echo "Check (the pass/fail criterion): every PUT that changes the traffic opens a" \
        "measurement step, and a request is counted in a step only if it was decided" \
        "under that step's config. 1 s after each PUT weight 0, \`GET" \
        "/v1/samples?window=step\` showed the step the PUT answered with and" \
        "**$wc_decided requests decided for canary** in it (in all $BENCH_WEIGHT_CHANGES" \
        "changes; $wc_decided_stable decided for stable in the same steps). In the" \
        "weight-50 steps before them canary got at least $wc_min_decided_before" \
        "decisions each."
    echo
    echo "Time from the decision until canary receives no new request (the last" \
        "canary arrival, from the canary model server's own CLOCK_REALTIME arrival" \
        "times, minus T0): **median $(wstat '$11 - $5' median) us, max" \
        "$(wstat '$11 - $5' max) us** over $BENCH_WEIGHT_CHANGES changes. A negative" \
        "value means the last canary request arrived before the PUT was sent."
    echo
    echo "| informational | median (us) | max (us) |"
    echo "|---|---:|---:|"
    echo "| last canary arrival minus T0 | $(wstat '$11 - $5' median) | $(wstat '$11 - $5' max) |"
    echo "| last canary arrival minus T1 | $(wstat '$11 - $6' median) | $(wstat '$11 - $6' max) |"
    echo "| PUT round trip (T1 - T0) | $(wstat '$6 - $5' median) | $(wstat '$6 - $5' max) |"
    echo
    echo "Canary arrivals after T1: $wc_after$([ "$wc_inexact" = 0 ] || echo " or more")" \
        "in all, in $wc_after_changes of $BENCH_WEIGHT_CHANGES changes (at most" \
        "$wc_after_max in one). These are requests routed to canary before the switch" \
        "and still in flight (written to a socket, in the model server's accept or" \
        "read queue) when the PUT returned; the router's count above shows that none" \
        "was decided after it."
    echo
    echo "For comparison: Istio's configuration push debounces at least 100 ms and" \
        "is reported to take from seconds to minutes."
    if [ -n "$failed_checks" ]; then
        echo
        echo "Checks that failed in this run:"
        echo "$failed_checks" | sed '/^$/d'
    fi
    echo
    echo "<!-- bench-router:end -->"
} >"$section"

# Replace the section between the markers; add "## Router" if missing.
if ! grep -q '^<!-- bench-router:begin -->' "$BENCH_DOC"; then
    printf '\n## Router\n\n<!-- bench-router:begin -->\n<!-- bench-router:end -->\n' >>"$BENCH_DOC"
fi
awk -v section="$section" '
    /^<!-- bench-router:begin -->/ { while ((getline line < section) > 0) print line; skip = 1; next }
    /^<!-- bench-router:end -->/ { skip = 0; next }
    !skip { print }' "$BENCH_DOC" >"$out/doc.tmp"
cat "$out/doc.tmp" >"$BENCH_DOC"
log "wrote $BENCH_DOC"
cat "$section"

if [ -n "$failed_checks" ]; then
    log "some checks failed:$failed_checks"
    exit 1
fi
