#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# make bench-router: the data plane (`canary serve`) next to HAProxy and
# NGINX, in front of the same two model servers, on the same machine, in
# the same invocation, from a few to thousands of concurrent clients.
# Rewrites the "Router" section of docs/BENCHMARKS.md (the part between
# its bench-router markers) and keeps the raw output in BUILD/bench-router/.
#
#   bench/router.sh BUILD_DIR
#
# What it measures (BENCH_PARTS picks the parts; all four by default):
#  grid: throughput, latency and errors. For each worker count in
#     BENCH_WORKERS the three proxies are started once; then for each
#     client count in BENCH_CONNECTIONS each proxy is warmed up (2 s of wrk
#     at that count: connection pools, allocator) and BENCH_ROUNDS rounds of
#     BENCH_SECONDS alternate canary, HAProxy, NGINX, canary, ... wrk keeps
#     every client connection busy with a small KServe v2 POST, keep-alive.
#     All three split 90/10 at random between a "stable" and a "canary"
#     build/model-server; the share each backend really got is checked at
#     every point. results.tsv has one line per run: workers, clients,
#     proxy, round, requests/s, p50, p99, canary share, errors, and the
#     errors by kind (wrk's connect/read/write/timeout errors and non-2xx
#     responses).
#  memory: RSS (VmRSS summed over the proxy's processes) fresh, after the
#     load, and holding BENCH_IDLE idle keep-alive connections opened by
#     build/idle-conns.
#  soak: canary's RSS every 30 s through BENCH_SOAK_SECONDS of full load at
#     BENCH_SOAK_CONNECTIONS clients.
#  weight: under load (BENCH_WEIGHT_CONNECTIONS clients) at canary weight
#     50, PUT weight 0 to the admin API (bench/router/put_weight.py: T0
#     just before the request is sent, T1 just after the response arrived,
#     on an open connection). The check is the router's guarantee, which is
#     about decisions: once the PUT returns, no request is routed to canary.
#     Every PUT that changes the traffic opens a measurement step, and a
#     request is counted in a step only if it was decided under that step's
#     config; so after a wait, GET /v1/samples?window=step must show the
#     step the PUT answered with and zero canary requests in it. The canary
#     model server's own CLOCK_REALTIME arrival times give the reported
#     latency (last canary arrival minus T0) and, for information, the
#     arrivals after T1: those are requests decided before the switch and
#     still in flight (in a socket or a queue), which the guarantee allows.
#     Repeated BENCH_WEIGHT_CHANGES times.
#  The soak and the weight change use one canary with the last worker
#  count of BENCH_WORKERS.
#
# Goals, reported per (workers, clients) and never a reason to fail:
# canary's requests/s at least 1.1 times the better of HAProxy and NGINX,
# its p99 at most the better of theirs, no errors; per idle connection at
# most NGINX's memory.
#
# CPUs. wrk runs BENCH_WRK_THREADS threads (at most one per client) pinned
# with taskset to BENCH_WRK_CPUS; by default the last CPU and one thread per
# CPU of that list: on a small machine this keeps wrk off the others' run
# queue identically for every proxy. The proxies float unless
# BENCH_PROXY_CPUS is set: then each proxy, with all its workers, is
# started under `taskset -c BENCH_PROXY_CPUS`, the same for all three.
# The model servers float unless BENCH_BACKEND_CPUS is set.
# bench/router-scaling.sh splits a bigger machine with these.
#
# Fairness at many clients: NGINX caches at most `keepalive N` idle
# upstream connections per worker and closes the rest after each response,
# so at more clients than N it reconnects for most requests. N is
# BENCH_UPSTREAM_IDLE, by default the largest client count (a pool as large
# as the load; with 1,024 at 4,096 clients canary's p99 went from 0.25-0.37 s
# to 1.25 s, from reconnect storms), and canary gets the same number as
# --max-idle-upstream (idle pooled connections per address per worker).
# HAProxy's `http-reuse always` keeps every idle server connection.
# NGINX's listen backlog is raised from its default (511) to the largest
# client count, as an operator expecting that many clients would.
#
# Descriptors: at C clients each proxy holds C client and up to C upstream
# sockets, and the stable model server the upstream connections of all
# three proxies (those of the proxy under load and the others' idle
# pools). The script raises the open-file limit to the hard limit and
# refuses to start if it is below 3 C + 500 for the largest C, or below
# BENCH_IDLE + 500 for the memory part. HAProxy's maxconn, NGINX's
# worker_connections and canary's --max-connections are sized from the
# largest C and BENCH_IDLE.
#
# Environment (defaults in brackets):
#   BENCH_PARTS ["grid memory soak weight"]
#   BENCH_SECONDS [10]  BENCH_ROUNDS [2]  BENCH_WORKERS ["1 2"], each <= nproc
#   BENCH_CONNECTIONS ["64 256 1024 4096"]: client counts of the grid
#   BENCH_WRK_CPUS [the last CPU]: a taskset CPU list for wrk
#   BENCH_WRK_THREADS [the number of CPUs in BENCH_WRK_CPUS]
#   BENCH_WRK_TIMEOUT [10]: wrk --timeout in seconds (wrk's own default, 2 s,
#     would leave slower responses out of the p99 and count them as errors)
#   BENCH_PIN_WRK [1]: 0 lets wrk float
#   BENCH_PROXY_CPUS [unset]  BENCH_BACKEND_CPUS [unset]: taskset CPU lists
#   BENCH_UPSTREAM_IDLE [the largest client count]: NGINX keepalive,
#     canary --max-idle-upstream
#   BENCH_IDLE [10000]  BENCH_SOAK_SECONDS [600]  BENCH_SOAK_WARMUP [30]
#   BENCH_SOAK_CONNECTIONS [1024]  BENCH_WEIGHT_CHANGES [10]
#   BENCH_WEIGHT_CONNECTIONS [64]  BENCH_PORT [18600]
#   BENCH_DOC [docs/BENCHMARKS.md]
#   BENCH_MARKER [bench-router]: the doc's section markers (bench/
#     router-scaling.sh sets its own, so it never rewrites this section)
#
# Exits 1 (after writing the report) if a check failed: a proxy's canary
# share off 10% by more than 1.5 points at a point of the grid, wrk errors
# or non-2xx responses (any proxy), idle connections that did not all open,
# soak growth over 5%, no canary traffic at weight 50, or a request decided
# for canary in the step opened by a PUT weight 0. A speed or memory goal
# that is not met is reported, not a failed check.

# For the whole file: awk programs are single-quoted on purpose (SC2016);
# some variables are set or read through eval (SC2034, SC2154); `ulimit -n`
# is not POSIX but dash, bash and busybox sh have it (SC3045).
# shellcheck disable=SC2016,SC2034,SC2154,SC3045
set -eu

build=${1:?usage: bench/router.sh BUILD_DIR}
build_arg=$build
cd "$(dirname "$0")/.."
case $build in /*) ;; *) build=$(pwd)/$build ;; esac

ncpu=$(nproc)
BENCH_PARTS=${BENCH_PARTS:-"grid memory soak weight"}
BENCH_SECONDS=${BENCH_SECONDS:-10}
BENCH_ROUNDS=${BENCH_ROUNDS:-2}
BENCH_WORKERS=${BENCH_WORKERS:-"1 2"}
BENCH_CONNECTIONS=${BENCH_CONNECTIONS:-"64 256 1024 4096"}
BENCH_WRK_CPUS=${BENCH_WRK_CPUS:-$((ncpu - 1))}
BENCH_WRK_THREADS=${BENCH_WRK_THREADS:-}
BENCH_WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-10}
BENCH_PIN_WRK=${BENCH_PIN_WRK:-1}
BENCH_PROXY_CPUS=${BENCH_PROXY_CPUS:-}
BENCH_BACKEND_CPUS=${BENCH_BACKEND_CPUS:-}
BENCH_UPSTREAM_IDLE=${BENCH_UPSTREAM_IDLE:-}
BENCH_IDLE=${BENCH_IDLE:-10000}
BENCH_SOAK_SECONDS=${BENCH_SOAK_SECONDS:-600}
BENCH_SOAK_WARMUP=${BENCH_SOAK_WARMUP:-30}
BENCH_SOAK_CONNECTIONS=${BENCH_SOAK_CONNECTIONS:-1024}
BENCH_WEIGHT_CHANGES=${BENCH_WEIGHT_CHANGES:-10}
BENCH_WEIGHT_CONNECTIONS=${BENCH_WEIGHT_CONNECTIONS:-64}
BENCH_PORT=${BENCH_PORT:-18600}
BENCH_DOC=${BENCH_DOC:-docs/BENCHMARKS.md}
BENCH_MARKER=${BENCH_MARKER:-bench-router}
# Set by bench/router-scaling.sh: the command the report's Reproduce line names.
BENCH_SCRIPT=${BENCH_SCRIPT:-bench/router.sh}
export CANARY_TOKEN=bench

log() { echo "bench-router: $*" >&2; }
die() {
    log "$*"
    exit 1
}

# ---- the configuration, checked before anything starts -----------------

is_count() { # VALUE: a whole number >= 1
    case $1 in '' | *[!0-9]* | 0*) return 1 ;; esac
}
has_part() { # PART: whether BENCH_PARTS names it
    case " $BENCH_PARTS " in *" $1 "*) return 0 ;; esac
    return 1
}
cpu_count() { # LIST: how many CPUs a taskset list (0-3,8) names; fails if malformed
    echo "$1" | tr ',' '\n' | awk -F- '
        NF == 1 && $1 ~ /^[0-9]+$/ { n++; next }
        NF == 2 && $1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ && $2 + 0 >= $1 + 0 { n += $2 - $1 + 1; next }
        { bad = 1 }
        END { if (bad || !n) exit 1; print n }'
}
cpu_list_ok() { # NAME VALUE: a CPU list taskset accepts on this machine
    if ! cpu_count "$2" >/dev/null || ! taskset -c "$2" true 2>/dev/null; then
        die "$1='$2' is not a CPU list of this machine (taskset -c syntax, CPUs 0-$((ncpu - 1)))"
    fi
}

for part in $BENCH_PARTS; do
    case $part in grid | memory | soak | weight) ;;
    *) die "BENCH_PARTS: unknown part '$part' (grid, memory, soak, weight)" ;;
    esac
done
[ -n "$BENCH_WORKERS" ] || die "BENCH_WORKERS is empty"
for w in $BENCH_WORKERS; do
    is_count "$w" || die "BENCH_WORKERS: '$w' is not a worker count"
    [ "$w" -le "$ncpu" ] ||
        die "BENCH_WORKERS: $w workers is more than this machine's $ncpu CPUs (nproc)"
done
for c in $BENCH_CONNECTIONS; do
    is_count "$c" || die "BENCH_CONNECTIONS: '$c' is not a client count"
done
[ -n "$BENCH_CONNECTIONS" ] || die "BENCH_CONNECTIONS is empty"
for v in BENCH_SECONDS BENCH_ROUNDS BENCH_WRK_TIMEOUT BENCH_IDLE \
    BENCH_SOAK_SECONDS BENCH_SOAK_WARMUP BENCH_SOAK_CONNECTIONS BENCH_WEIGHT_CHANGES \
    BENCH_WEIGHT_CONNECTIONS BENCH_PORT; do
    eval "val=\$$v"
    is_count "$val" || die "$v: '$val' is not a whole number >= 1"
done
cpu_list_ok BENCH_WRK_CPUS "$BENCH_WRK_CPUS"
[ -z "$BENCH_PROXY_CPUS" ] || cpu_list_ok BENCH_PROXY_CPUS "$BENCH_PROXY_CPUS"
[ -z "$BENCH_BACKEND_CPUS" ] || cpu_list_ok BENCH_BACKEND_CPUS "$BENCH_BACKEND_CPUS"
wrk_cpus_n=$(cpu_count "$BENCH_WRK_CPUS")
[ -n "$BENCH_WRK_THREADS" ] || BENCH_WRK_THREADS=$wrk_cpus_n
is_count "$BENCH_WRK_THREADS" || die "BENCH_WRK_THREADS: '$BENCH_WRK_THREADS' is not a thread count"

# The most clients any part opens at once.
max_clients=0
load_counts=""
has_part grid && load_counts=$BENCH_CONNECTIONS
# The memory part loads fresh proxies at the smallest client count.
mem_clients=$(echo "$BENCH_CONNECTIONS" | tr ' ' '\n' | sed '/^$/d' | sort -n | head -n 1)
has_part memory && load_counts="$load_counts $mem_clients"
has_part soak && load_counts="$load_counts $BENCH_SOAK_CONNECTIONS"
has_part weight && load_counts="$load_counts $BENCH_WEIGHT_CONNECTIONS"
for c in $load_counts; do [ "$c" -le "$max_clients" ] || max_clients=$c; done
[ -n "$BENCH_UPSTREAM_IDLE" ] || BENCH_UPSTREAM_IDLE=$max_clients
is_count "$BENCH_UPSTREAM_IDLE" ||
    die "BENCH_UPSTREAM_IDLE: '$BENCH_UPSTREAM_IDLE' is not a whole number >= 1"

out=$build/bench-router
rm -rf "$out"
mkdir -p "$out"
results=$out/results.tsv
failed_checks=""

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

# Everything started from here inherits the hard limit. At C clients a
# proxy needs C client and up to C upstream descriptors, wrk C, and the
# stable model server the connections of all three proxies' pools (3 C at
# most); BENCH_IDLE idle connections need as many in the proxy and in
# idle-conns.
ulimit -n "$(ulimit -Hn)"
nofile=$(ulimit -n)
[ "$nofile" = unlimited ] && nofile=1048576
[ "$nofile" -ge $((3 * max_clients + 500)) ] ||
    die "open-file limit $nofile is too low for $max_clients clients: a proxy holds" \
        "$max_clients client and up to $max_clients upstream sockets, the stable model server" \
        "up to $((3 * max_clients)) (all three proxies' upstream connections); need" \
        "$((3 * max_clients + 500)) (raise the hard limit, ulimit -Hn, or lower BENCH_CONNECTIONS)"
if has_part memory; then
    [ "$nofile" -ge $((BENCH_IDLE + 500)) ] ||
        die "open-file limit $nofile is too low for BENCH_IDLE=$BENCH_IDLE"
fi
# Connection limits of the three proxies: every point of the grid and the
# idle connections, with room to spare.
most=$max_clients
if has_part memory && [ "$BENCH_IDLE" -gt "$most" ]; then most=$BENCH_IDLE; fi
canary_maxconn=$((most + 2000))
[ "$canary_maxconn" -ge 20000 ] || canary_maxconn=20000
haproxy_maxconn=$((most + 2000))
# NGINX counts client and upstream connections against worker_connections,
# per worker; SO_REUSEPORT may give one worker nearly all clients.
nginx_conns=$((2 * max_clients + 1000))
[ "$nginx_conns" -ge $((BENCH_IDLE + 4000)) ] || nginx_conns=$((BENCH_IDLE + 4000))
# NGINX's listen backlog (its default, 511, is the smallest of the three:
# HAProxy's follows maxconn, canary's is its own); the kernel caps it at
# net.core.somaxconn.
nginx_backlog=$max_clients
[ "$nginx_backlog" -ge 511 ] || nginx_backlog=511
somaxconn=$(cat /proc/sys/net/core/somaxconn 2>/dev/null || echo unknown)

pin=""
[ "$BENCH_PIN_WRK" = 1 ] && pin="taskset -c $BENCH_WRK_CPUS"
proxy_pin=""
[ -n "$BENCH_PROXY_CPUS" ] && proxy_pin="taskset -c $BENCH_PROXY_CPUS"
backend_pin=""
[ -n "$BENCH_BACKEND_CPUS" ] && backend_pin="taskset -c $BENCH_BACKEND_CPUS"

wrk_threads() { # CLIENTS: BENCH_WRK_THREADS, at most one per client
    if [ "$BENCH_WRK_THREADS" -gt "$1" ]; then echo "$1"; else echo "$BENCH_WRK_THREADS"; fi
}

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
    $backend_pin "$build/model-server" --listen 127.0.0.1:0 --name "$1" --prediction "$2" \
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
    $proxy_pin "$build/canary" serve --listen "127.0.0.1:$proxy_port" \
        --admin "127.0.0.1:$admin_port" --stable "127.0.0.1:$stable_port" \
        --canary "127.0.0.1:$canary_port" --canary-weight 10 --mode random \
        --workers "$1" --max-connections "$canary_maxconn" \
        --max-idle-upstream "$BENCH_UPSTREAM_IDLE" --upstream-idle 120s \
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
        -e "s/@MAXCONN@/$haproxy_maxconn/" \
        bench/router/haproxy.cfg.in >"$out/haproxy-$2.cfg"
    $proxy_pin haproxy -f "$out/haproxy-$2.cfg" -db >"$out/haproxy-$2.log" 2>&1 &
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
        -e "s/@MAXCONN@/$nginx_conns/" -e "s/@NOFILE@/$nofile/" \
        -e "s/@KEEPALIVE@/$BENCH_UPSTREAM_IDLE/" -e "s/@BACKLOG@/$nginx_backlog/" \
        -e "s|@DIR@|$dir|" bench/router/nginx.conf.in >"$dir/nginx.conf"
    $proxy_pin nginx -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
    proxy_pid=$!
    pids="$pids $proxy_pid"
    wait_http "http://127.0.0.1:$proxy_port/healthz" nginx "$proxy_pid" "$dir/error.log"
}

# wrk_start PORT SECONDS CLIENTS OUTFILE [--latency]: wrk in the background
# (sets wrk_pid); done() in post.lua writes the RESULT line to OUTFILE.
wrk_start() {
    # shellcheck disable=SC2086 # $pin is a command prefix or nothing
    $pin wrk -t"$(wrk_threads "$3")" -c"$3" -d"$2s" --timeout "${BENCH_WRK_TIMEOUT}s" \
        ${5:-} -s bench/router/post.lua "http://127.0.0.1:$1/v2/models/model/infer" \
        >"$4" 2>&1 &
    wrk_pid=$!
    pids="$pids $wrk_pid"
}

# wrk_run PORT SECONDS CLIENTS OUTFILE: one wrk run; the RESULT line is in OUTFILE
wrk_run() {
    wrk_start "$1" "$2" "$3" "$4" --latency
    wait "$wrk_pid" || true
    stop "$wrk_pid"
    grep -q '^RESULT ' "$4" || die "wrk failed: $(tail -n 5 "$4")"
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

log "raw results in $out (parts: $BENCH_PARTS)"
start_backend stable 0.25
stable_pid=$backend_pid
stable_port=$backend_port
start_backend canary 0.75
canary_backend_pid=$backend_pid
canary_port=$backend_port
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

printf 'workers\tclients\tproxy\tround\trps\tp50_ms\tp99_ms\tcanary_share_pct\terrors' >"$results"
printf '\tconnect\tread\twrite\ttimeout\tstatus\n' >>"$results"
printf 'workers\tproxy\trest_kib\tloaded_kib\tidle_kib\tidle_open\n' >"$out/memory.tsv"

start_proxies() { # WORKERS TAG: the three, with their RSS at rest in rest_PROXY
    log "workers $1: starting canary, haproxy, nginx"
    start_canary "$1" "$2"
    canary_pid=$proxy_pid
    canary_pport=$proxy_port
    start_haproxy "$1" "$2"
    haproxy_pid=$proxy_pid
    haproxy_pport=$proxy_port
    start_nginx "$1" "$2"
    nginx_pid=$proxy_pid
    nginx_pport=$proxy_port
    sleep 1
    for p in canary haproxy nginx; do
        eval "rest_$p=\$(rss_kib \$${p}_pid)"
    done
}
stop_proxies() {
    stop "$canary_pid"
    stop "$haproxy_pid"
    stop "$nginx_pid"
}

for w in $BENCH_WORKERS; do
    if has_part grid; then
        start_proxies "$w" "w$w"
        for c in $BENCH_CONNECTIONS; do
            # Warm up every proxy at this client count (connection pools,
            # allocator) before measuring.
            for p in canary haproxy nginx; do
                eval "port=\$${p}_pport"
                log "workers $w clients $c: warming up $p"
                wrk_run "$port" 2 "$c" "$out/warmup-$p-w$w-c$c.txt"
            done
            r=1
            while [ $r -le "$BENCH_ROUNDS" ]; do
                for p in canary haproxy nginx; do
                    eval "port=\$${p}_pport"
                    s0=$(backend_stat "$stable_port" requests)
                    c0=$(backend_stat "$canary_port" requests)
                    f=$out/wrk-$p-w$w-c$c-r$r.txt
                    log "workers $w clients $c round $r: $p"
                    wrk_run "$port" "$BENCH_SECONDS" "$c" "$f"
                    s1=$(backend_stat "$stable_port" requests)
                    c1=$(backend_stat "$canary_port" requests)
                    awk -v w="$w" -v c="$c" -v p="$p" -v r="$r" \
                        -v n="$(result_field "$f" requests)" -v us="$(result_field "$f" duration_us)" \
                        -v p50="$(result_field "$f" p50_us)" -v p99="$(result_field "$f" p99_us)" \
                        -v ec="$(result_field "$f" connect)" -v er="$(result_field "$f" read)" \
                        -v ew="$(result_field "$f" write)" -v et="$(result_field "$f" timeout)" \
                        -v es="$(result_field "$f" status)" \
                        -v ds=$((s1 - s0)) -v dc=$((c1 - c0)) 'BEGIN {
                            share = (ds + dc) ? 100 * dc / (ds + dc) : 0
                            printf "%s\t%s\t%s\t%s\t%.1f\t%.3f\t%.3f\t%.2f\t%d\t%d\t%d\t%d\t%d\t%d\n",
                                w, c, p, r, n / (us / 1e6), p50 / 1000, p99 / 1000, share,
                                ec + er + ew + et + es, ec, er, ew, et, es }' \
                        >>"$results"
                done
                r=$((r + 1))
            done
        done
        stop_proxies
    fi

    if has_part memory; then
        # Fresh proxies: after the grid's thousands of clients each
        # allocator holds freed buffers that idle connections would reuse,
        # which would hide what an idle connection costs. "After load" is
        # after 2 s at the smallest client count.
        start_proxies "$w" "w$w-mem"
        for p in canary haproxy nginx; do
            eval "port=\$${p}_pport"
            wrk_run "$port" 2 "$mem_clients" "$out/memory-load-$p-w$w.txt"
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
                kill -0 "$idle_pid" 2>/dev/null ||
                    die "idle-conns died: $(cat "$out/idle-$p-w$w.err")"
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
        stop_proxies
    fi
done

# ---- soak --------------------------------------------------------------

soak_w=$(echo "$BENCH_WORKERS" | awk '{ print $NF }')
if has_part soak || has_part weight; then
    start_canary "$soak_w" soak
    soak_pid=$proxy_pid
    soak_port=$proxy_port
    soak_admin=$admin_port
fi

if has_part soak; then
    log "soak: canary, workers $soak_w, $BENCH_SOAK_CONNECTIONS clients, ${BENCH_SOAK_SECONDS}s"
    soak_fresh=$(rss_kib "$soak_pid")
    wrk_run "$soak_port" "$BENCH_SOAK_WARMUP" "$BENCH_SOAK_CONNECTIONS" "$out/soak-warmup.txt"
    printf 'elapsed_s\trss_kib\n' >"$out/soak.tsv"
    printf '0\t%s\n' "$(rss_kib "$soak_pid")" >>"$out/soak.tsv"
    wrk_start "$soak_port" "$BENCH_SOAK_SECONDS" "$BENCH_SOAK_CONNECTIONS" \
        "$out/soak-wrk.txt" --latency
    soak_wrk=$wrk_pid
    elapsed=0
    while [ $((elapsed + 30)) -lt "$BENCH_SOAK_SECONDS" ]; do
        sleep 30
        elapsed=$((elapsed + 30))
        printf '%s\t%s\n' $elapsed "$(rss_kib "$soak_pid")" >>"$out/soak.tsv"
    done
    wait "$soak_wrk" || true
    stop "$soak_wrk"
    printf '%s\t%s\n' "$BENCH_SOAK_SECONDS" "$(rss_kib "$soak_pid")" >>"$out/soak.tsv"
    grep -q '^RESULT ' "$out/soak-wrk.txt" ||
        die "soak wrk failed: $(tail -n 5 "$out/soak-wrk.txt")"
fi

# ---- weight change -------------------------------------------------------

if has_part weight; then
    log "weight change: $BENCH_WEIGHT_CHANGES times under load ($BENCH_WEIGHT_CONNECTIONS clients)"
    put_weight() { # WEIGHT: sets t0 t1 code step (put_weight.py, connection already open)
        # shellcheck disable=SC2046 # split into fields on purpose
        set -- $(/usr/bin/python3 bench/router/put_weight.py "127.0.0.1:$soak_admin" \
            "$CANARY_TOKEN" "$1")
        t0=${1:-} t1=${2:-} code=${3:-} step=${4:-}
        [ "$code" = 200 ] || die "PUT /v1/traffic answered '$code'"
    }
    step_counts() { # sets s_step, s_canary, s_stable: this step, as the router counted it
        curl -sf -H "Authorization: Bearer $CANARY_TOKEN" \
            "http://127.0.0.1:$soak_admin/v1/samples?window=step" >"$out/samples.json" ||
            die "GET /v1/samples failed"
        # shellcheck disable=SC2046 # split into fields on purpose
        set -- $(jq -r '[.step, ([.versions.canary.segments[]?.requests] | add // 0),
            ([.versions.stable.segments[]?.requests] | add // 0)] | @tsv' "$out/samples.json")
        s_step=$1 s_canary=$2 s_stable=$3
    }
    put_weight 50
    wrk_start "$soak_port" $((BENCH_WEIGHT_CHANGES * 5 + 30)) "$BENCH_WEIGHT_CONNECTIONS" \
        "$out/weight-wrk.txt"
    weight_wrk=$wrk_pid
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
fi

if has_part soak || has_part weight; then stop "$soak_pid"; fi
stop "$stable_pid"
stop "$canary_backend_pid"


# ---- report ----------------------------------------------------------------

tab=$(printf '\t')
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
haproxy_v=$(haproxy -v | sed -n 's/^HAProxy version \([^ ]*\).*/\1/p')
nginx_v=$(nginx -v 2>&1 | sed 's/^nginx version: nginx\///')
wrk_v=$(wrk -v 2>&1 | sed -n 's/^wrk \([^ ]*\).*/\1/p')
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

if has_part grid; then
    # Per worker count, client count and proxy: the median of the rounds
    # (requests/s, p50, p99), the mean canary share, the errors summed.
    # summary.tsv: workers clients proxy rps p50 p99 share errors connect
    # read write timeout status
    awk -F'\t' 'NR > 1 {
            k = $1 "\t" $2 "\t" $3; n[k]++; rps[k, n[k]] = $5; p50[k, n[k]] = $6
            p99[k, n[k]] = $7; share[k] += $8; err[k] += $9; ec[k] += $10; er[k] += $11
            ew[k] += $12; et[k] += $13; es[k] += $14; keys[k] = 1 }
        function med(a, k, m,   i, j, t, v) {
            for (i = 1; i <= m; i++) v[i] = a[k, i]
            for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++)
                if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
            return m % 2 ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2 }
        END { for (k in keys)
            printf "%s\t%.1f\t%.3f\t%.3f\t%.2f\t%d\t%d\t%d\t%d\t%d\t%d\n", k, med(rps, k, n[k]),
                med(p50, k, n[k]), med(p99, k, n[k]), share[k] / n[k], err[k], ec[k], er[k],
                ew[k], et[k], es[k] }' \
        "$results" | sort -t"$tab" -k1,1n -k2,2n -k3,3 >"$out/summary.tsv"

    while IFS="$tab" read -r w c p _ _ _ share errs ec er ew et es; do
        awk -v s="$share" 'BEGIN { exit !(s >= 8.5 && s <= 11.5) }' ||
            check_failed "$p (workers $w, $c clients) sent $share% to canary, expected 10%"
        [ "$errs" = 0 ] ||
            check_failed "$p (workers $w, $c clients): $errs wrk errors or non-2xx responses" \
                "(connect $ec, read $er, write $ew, timeout $et, non-2xx $es)"
    done <"$out/summary.tsv"
fi

if has_part soak; then
    soak_base=$(awk -F'\t' 'NR == 2 { print $2 }' "$out/soak.tsv")
    soak_final=$(awk -F'\t' 'END { print $2 }' "$out/soak.tsv")
    soak_max=$(awk -F'\t' 'NR > 1 && $2 > m { m = $2 } END { print m }' "$out/soak.tsv")
    soak_growth=$(awk -v a="$soak_base" -v b="$soak_final" \
        'BEGIN { printf "%.2f", 100 * (b - a) / a }')
    soak_rps=$(awk -v n="$(result_field "$out/soak-wrk.txt" requests)" \
        -v us="$(result_field "$out/soak-wrk.txt" duration_us)" \
        'BEGIN { printf "%.0f", n / (us / 1e6) }')
    soak_p99=$(awk -v us="$(result_field "$out/soak-wrk.txt" p99_us)" \
        'BEGIN { printf "%.2f", us / 1000 }')
    soak_errs=0
    for k in connect read write timeout status; do
        soak_errs=$((soak_errs + $(result_field "$out/soak-wrk.txt" $k)))
    done
    awk -v g="$soak_growth" 'BEGIN { exit !(g <= 5) }' ||
        check_failed "canary RSS grew $soak_growth% during the soak"
fi

if has_part weight; then
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
    while IFS="$tab" read -r i _ _ step50 _ _ step sstep dcanary dstable _ _ _; do
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
    if [ "$wc_min_before" -le 0 ] || [ "$wc_min_decided_before" -le 0 ]; then
        check_failed "no canary traffic at weight 50 before a PUT"
    fi
fi

plural() { # N WORD: "1 thread", "2 threads"
    if [ "$1" = 1 ]; then echo "$1 $2"; else echo "$1 ${2}s"; fi
}

section=$out/section.md
{
    echo "<!-- $BENCH_MARKER:begin -->"
    echo
    echo "Measured $(date -u +%Y-%m-%d) on $cpu ($ncpu CPUs, kernel $(uname -r)), HAProxy" \
        "$haproxy_v, NGINX $nginx_v, wrk $wrk_v. Load average (1/5/15 min) before the run" \
        "$load_start, after $load_end."
    echo
    if [ "$BENCH_SCRIPT" = bench/router.sh ]; then
        make_target=bench-router
    else
        make_target=bench-router-scaling
    fi
    echo "Reproduce: \`make BUILD=$build_arg all && BENCH_PARTS=\"$BENCH_PARTS\"" \
        "BENCH_SECONDS=$BENCH_SECONDS BENCH_ROUNDS=$BENCH_ROUNDS" \
        "BENCH_WORKERS=\"$BENCH_WORKERS\" BENCH_CONNECTIONS=\"$BENCH_CONNECTIONS\"" \
        "BENCH_WRK_CPUS=\"$BENCH_WRK_CPUS\" BENCH_WRK_THREADS=$BENCH_WRK_THREADS" \
        "BENCH_WRK_TIMEOUT=$BENCH_WRK_TIMEOUT BENCH_PIN_WRK=$BENCH_PIN_WRK" \
        "BENCH_PROXY_CPUS=\"$BENCH_PROXY_CPUS\" BENCH_BACKEND_CPUS=\"$BENCH_BACKEND_CPUS\"" \
        "BENCH_UPSTREAM_IDLE=$BENCH_UPSTREAM_IDLE BENCH_IDLE=$BENCH_IDLE" \
        "BENCH_SOAK_SECONDS=$BENCH_SOAK_SECONDS BENCH_SOAK_WARMUP=$BENCH_SOAK_WARMUP" \
        "BENCH_SOAK_CONNECTIONS=$BENCH_SOAK_CONNECTIONS" \
        "BENCH_WEIGHT_CHANGES=$BENCH_WEIGHT_CHANGES" \
        "BENCH_WEIGHT_CONNECTIONS=$BENCH_WEIGHT_CONNECTIONS $BENCH_SCRIPT $build_arg\`" \
        "(\`make $make_target\` runs \`$BENCH_SCRIPT build\` with the defaults)."
    echo
    if [ "$BENCH_PIN_WRK" = 1 ]; then
        wrk_where="pinned to CPU $BENCH_WRK_CPUS with taskset"
    else
        wrk_where="not pinned"
    fi
    if [ -n "$BENCH_PROXY_CPUS" ]; then
        proxy_where="each proxy, with all its workers, runs under \`taskset -c $BENCH_PROXY_CPUS\`"
    else
        proxy_where="the proxies are not pinned"
    fi
    if [ -n "$BENCH_BACKEND_CPUS" ]; then
        backend_where="the model servers run under \`taskset -c $BENCH_BACKEND_CPUS\`"
    else
        backend_where="the model servers are not pinned"
    fi
    echo "Setup: two \`build/model-server\` processes on loopback (\"stable\" and" \
        "\"canary\", KServe v2 JSON, one event loop each); each proxy splits 90/10" \
        "between them at random with keep-alive on both sides: \`canary serve --mode" \
        "random --canary-weight 10 --max-idle-upstream $BENCH_UPSTREAM_IDLE --upstream-idle" \
        "120s\` (metrics and" \
        "prediction extraction on, as by default), HAProxy \`balance random(1)\` with" \
        "weights 90/10 (one draw: the default \`random(2)\` sends to the less loaded of" \
        "two draws, so its split follows load, not the weights) and \`http-reuse" \
        "always\`, NGINX \`random\` with \`weight=9\`/\`weight=1\` and \`keepalive" \
        "$BENCH_UPSTREAM_IDLE\` (configurations in \`bench/router/\`). Idle upstream" \
        "connections: NGINX keeps at most \`keepalive\` of them per worker and closes" \
        "the others after their response, so with more clients than that it would" \
        "reconnect for most requests; canary gets the same number as" \
        "\`--max-idle-upstream\` (its cap per upstream address and worker), and NGINX's" \
        "upstream \`keepalive_timeout 120s\` as \`--upstream-idle 120s\` (its default is" \
        "30 s: with three proxies alternating 10 s runs, canary's pool would otherwise" \
        "expire between its own runs); HAProxy" \
        "with \`http-reuse always\` keeps every idle server connection. Listen" \
        "backlog: NGINX \`backlog=$nginx_backlog\` (its default, 511, overflows when" \
        "thousands of clients connect at once), HAProxy its default (maxconn)," \
        "canary its own; the kernel caps all at net.core.somaxconn ($somaxconn). The same" \
        "worker count for all three (canary \`--workers\`, HAProxy \`nbthread\`, NGINX" \
        "\`worker_processes\`); $proxy_where; $backend_where."
    if has_part grid; then
        echo "Load: wrk, $(plural "$BENCH_WRK_THREADS" thread) (at most one per client)," \
            "$wrk_where, \`--timeout ${BENCH_WRK_TIMEOUT}s\`, every connection sending an" \
            "82-byte KServe v2 POST (\`bench/router/post.lua\`) again as soon as the" \
            "answer arrives. For each worker count the three proxies are started once;" \
            "at each client count every proxy gets a 2 s warm-up at that count, then" \
            "runs alternate canary, HAProxy, NGINX, canary, ...; each figure is the" \
            "median of $(plural "$BENCH_ROUNDS" round) of ${BENCH_SECONDS}s. Errors: wrk's" \
            "connect, read, write and timeout errors and non-2xx responses, summed over" \
            "the rounds."
        awk -F'\t' '
            function errs(k,   s) {
                if (tot[k] == 0) return "0"
                s = ""
                if (ec[k]) s = s ", connect " ec[k]
                if (er[k]) s = s ", read " er[k]
                if (ew[k]) s = s ", write " ew[k]
                if (et[k]) s = s ", timeout " et[k]
                if (es[k]) s = s ", non-2xx " es[k]
                return tot[k] " (" substr(s, 3) ")" }
            {
                k = $1 SUBSEP $2 SUBSEP $3
                rps[k] = $4; p99[k] = $6; tot[k] = $8; ec[k] = $9; er[k] = $10
                ew[k] = $11; et[k] = $12; es[k] = $13
                if (!($1 in seen_w)) { seen_w[$1] = 1; ws[++nw] = $1 }
                if (!(($1, $2) in seen_c)) { seen_c[$1, $2] = 1; cs[$1, ++nc[$1]] = $2 }
            }
            END {
                split("canary haproxy nginx", ps, " ")
                for (i = 1; i <= nw; i++) {
                    w = ws[i]
                    printf "\n**%s worker%s**\n\n", w, (w == 1 ? "" : "s")
                    print "| clients | canary req/s | canary p99 (ms) | canary errors |" \
                        " HAProxy req/s | HAProxy p99 (ms) | HAProxy errors |" \
                        " NGINX req/s | NGINX p99 (ms) | NGINX errors |"
                    print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
                    for (j = 1; j <= nc[w]; j++) {
                        c = cs[w, j]
                        printf "| %s", c
                        for (q = 1; q <= 3; q++) {
                            k = w SUBSEP c SUBSEP ps[q]
                            printf " | %.0f | %.2f | %s", rps[k], p99[k], errs(k)
                        }
                        print " |"
                    }
                }
            }' "$out/summary.tsv"
        echo
        echo "To canary (the share of requests the canary model server counted during" \
            "each run; per point the mean of the rounds):" \
            "$(awk -F'\t' '{ n = ($3 == "canary" ? "canary" : ($3 == "haproxy" ? "HAProxy" : "NGINX"))
                    if (!(n in lo) || $7 < lo[n]) lo[n] = $7
                    if (!(n in hi) || $7 > hi[n]) hi[n] = $7 }
                END { printf "canary %.1f-%.1f%%, HAProxy %.1f-%.1f%%, NGINX %.1f-%.1f%%",
                    lo["canary"], hi["canary"], lo["HAProxy"], hi["HAProxy"],
                    lo["NGINX"], hi["NGINX"] }' "$out/summary.tsv")."
        echo
        echo "Goals (issue 16), at every point: canary's requests/s at least 1.1 times" \
            "the better of HAProxy and NGINX, its p99 at most the better of theirs, no" \
            "errors. Reported, not asserted: a goal not met does not fail the run."
        echo
        echo "| workers | clients | canary req/s ÷ better peer | goal ≥ 1.1 |" \
            "canary p99 ÷ better peer | goal ≤ 1 | canary errors | goal 0 |"
        echo "|---:|---:|---:|---|---:|---|---:|---|"
        awk -F'\t' '
            { k = $1 SUBSEP $2
              if (!(k in seen)) { seen[k] = 1; keys[++n] = k; wv[n] = $1; cv[n] = $2 }
              rps[k, $3] = $4; p99[k, $3] = $6; err[k, $3] = $8 }
            function met(ok) { return ok ? "met" : "**not met**" }
            END {
                for (i = 1; i <= n; i++) {
                    k = keys[i]
                    if (rps[k, "haproxy"] >= rps[k, "nginx"]) { br = rps[k, "haproxy"]; bn = "HAProxy" }
                    else { br = rps[k, "nginx"]; bn = "NGINX" }
                    # A peer that answered nothing has no p99 (wrk says 0).
                    bp = 0; pn = "none"
                    if (rps[k, "haproxy"] > 0) { bp = p99[k, "haproxy"]; pn = "HAProxy" }
                    if (rps[k, "nginx"] > 0 && (bp == 0 || p99[k, "nginx"] < bp)) {
                        bp = p99[k, "nginx"]; pn = "NGINX" }
                    r = br > 0 ? rps[k, "canary"] / br : 0
                    t = bp > 0 ? p99[k, "canary"] / bp : 1e9
                    e = err[k, "canary"]
                    printf "| %s | %s | %.2f (%s) | %s | %s (%s) | %s | %d | %s |\n", wv[i], cv[i],
                        r, bn, met(r >= 1.1), (bp > 0 ? sprintf("%.2f", t) : "n/a"), pn,
                        met(t <= 1), e, met(e == 0)
                    mr += (r >= 1.1); mt += (t <= 1); me += (e == 0)
                }
                printf "\nGoals met at %d of %d points for requests/s, %d for p99, %d for errors.\n",
                    mr, n, mt, me
            }' "$out/summary.tsv"
        echo
    fi
    if has_part memory; then
        echo "Memory: VmRSS summed over each proxy's processes (NGINX: master and" \
            "workers), fresh after start, after 2 s of wrk at $mem_clients clients, and" \
            "while \`build/idle-conns\` holds $BENCH_IDLE idle keep-alive connections, each" \
            "of which has sent one request. The proxies are started afresh for this:" \
            "after thousands of clients an allocator holds freed buffers that idle" \
            "connections would reuse, hiding their cost."
        echo
        echo "| workers | proxy | fresh (MiB) | after load (MiB) | $BENCH_IDLE idle (MiB) | per idle connection (KiB) |"
        echo "|---:|---|---:|---:|---:|---:|"
        awk -F'\t' -v n="$BENCH_IDLE" 'NR > 1 {
            name = ($2 == "canary" ? "canary" : ($2 == "haproxy" ? "HAProxy" : "NGINX"))
            printf "| %s | %s | %.1f | %.1f | %.1f | %.1f |\n", $1, name, $3 / 1024, $4 / 1024,
                $5 / 1024, ($5 - $4) / n }' "$out/memory.tsv"
        echo
        awk -F'\t' -v n="$BENCH_IDLE" 'NR > 1 {
                kib[$1, $2] = ($5 - $4) / n
                if (!($1 in seen)) { seen[$1] = 1; ws[++nw] = $1 } }
            END {
                printf "Memory per idle connection, goal at most NGINX'"'"'s:"
                for (i = 1; i <= nw; i++) {
                    w = ws[i]; c = kib[w, "canary"]; g = kib[w, "nginx"]
                    printf "%s %s worker%s: canary %.1f KiB, NGINX %.1f KiB (canary ÷ NGINX %s): %s",
                        (i > 1 ? ";" : ""), w, (w == 1 ? "" : "s"), c, g,
                        (g > 0 ? sprintf("%.2f", c / g) : "n/a"), (c <= g ? "met" : "**not met**")
                }
                print "." }' "$out/memory.tsv"
        echo
    fi
    if has_part soak; then
        echo "Soak: canary (workers $soak_w) at $BENCH_SOAK_CONNECTIONS clients for" \
            "${BENCH_SOAK_SECONDS}s ($soak_rps requests/s, p99 $soak_p99 ms, $soak_errs" \
            "errors) after a ${BENCH_SOAK_WARMUP}s warm-up. RSS fresh" \
            "$(awk -v k="$soak_fresh" 'BEGIN { printf "%.1f", k / 1024 }') MiB; after the" \
            "warm-up $(awk -v k="$soak_base" 'BEGIN { printf "%.1f", k / 1024 }') MiB; at the" \
            "end $(awk -v k="$soak_final" 'BEGIN { printf "%.1f", k / 1024 }') MiB (highest" \
            "sample $(awk -v k="$soak_max" 'BEGIN { printf "%.1f", k / 1024 }') MiB, sampled" \
            "every 30 s): growth $soak_growth% (goal: at most 5%, flat RSS). Samples (MiB):" \
            "$(awk -F'\t' 'NR > 1 { printf "%s%.1f", (NR > 2 ? ", " : ""), $2 / 1024 }' "$out/soak.tsv")."
        echo
    fi
    if has_part weight; then
        echo "Weight change. The guarantee: once \`PUT /v1/traffic\` returns, no new request" \
            "is routed by the old split; after \`{\"canary_weight\":0}\` no request is" \
            "decided for canary. While wrk ($BENCH_WEIGHT_CONNECTIONS connections) loads" \
            "canary (workers $soak_w) at canary weight 50, \`bench/router/put_weight.py\`" \
            "sends \`PUT /v1/traffic {\"canary_weight\":0}\` on an already open connection," \
            "taking T0 (CLOCK_REALTIME) just before the request is sent and T1 just after" \
            "the response arrived; $BENCH_WEIGHT_CHANGES changes, back to 50 for 1 s before each."
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
        echo
    fi
    if [ -n "$failed_checks" ]; then
        echo "Checks that failed in this run:"
        echo "$failed_checks" | sed '/^$/d'
        echo
    fi
    echo "<!-- $BENCH_MARKER:end -->"
} >"$section"

# Replace the section between the markers; add the heading if missing.
if [ "$BENCH_MARKER" = bench-router ]; then heading=Router; else heading="Router scaling"; fi
if [ ! -e "$BENCH_DOC" ]; then
    printf '# Benchmarks: %s\n\nWritten by `%s` (its header says what it measures and how).\n' \
        "$(echo "$heading" | tr 'R' 'r')" "$BENCH_SCRIPT" >"$BENCH_DOC"
fi
if ! grep -q "^<!-- $BENCH_MARKER:begin -->" "$BENCH_DOC"; then
    printf '\n## %s\n\n<!-- %s:begin -->\n<!-- %s:end -->\n' "$heading" "$BENCH_MARKER" \
        "$BENCH_MARKER" >>"$BENCH_DOC"
fi
awk -v section="$section" -v begin="<!-- $BENCH_MARKER:begin -->" \
    -v end="<!-- $BENCH_MARKER:end -->" '
    $0 == begin { while ((getline line < section) > 0) print line; skip = 1; next }
    $0 == end { skip = 0; next }
    !skip { print }' "$BENCH_DOC" >"$out/doc.tmp"
cat "$out/doc.tmp" >"$BENCH_DOC"
log "wrote $BENCH_DOC"
cat "$section"

if [ -n "$failed_checks" ]; then
    log "some checks failed:$failed_checks"
    exit 1
fi
