#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Two builds of `canary serve` at 64 clients, alternated in one run, in
# front of the same two model servers: the before/after check for a change
# to the data plane (a quick one; `make bench-router` is the full
# comparison with HAProxy and NGINX).
#
#   bench/router_ab.sh OLD_CANARY NEW_CANARY MODEL_SERVER [ROUNDS]
#
# Each round runs old, new, new, old (wrk -t1 -c64 -d8s, pinned to CPU 1,
# the 82-byte KServe v2 POST of bench/router/post.lua, 1 worker, canary
# weight 10) and prints one line per run: build, requests/s, p99, errors.
set -eu
old=$1 new=$2 ms=$3 rounds=${4:-3}
cd "$(dirname "$0")/.."
"$ms" --listen 127.0.0.1:19101 --name stable >/dev/null 2>&1 &
p1=$!
"$ms" --listen 127.0.0.1:19102 --name canary >/dev/null 2>&1 &
p2=$!
trap 'kill $p1 $p2 2>/dev/null' EXIT
sleep 0.5
export CANARY_TOKEN=bench-router-ab-0123456789
port=19110
run() { # BIN TAG
    port=$((port + 1))
    "$1" serve --listen 127.0.0.1:$port --admin 127.0.0.1:0 --workers 1 \
        --stable 127.0.0.1:19101 --canary 127.0.0.1:19102 --canary-weight 10 \
        >/dev/null 2>&1 &
    p=$!
    sleep 0.7
    out=$(taskset -c 1 wrk -t1 -c64 -d8s --latency -s bench/router/post.lua \
        "http://127.0.0.1:$port/v2/models/m/infer" 2>&1)
    kill $p
    wait $p 2>/dev/null || true
    echo "$out" | awk -v tag="$2" '/Requests\/sec/ {rps = $2} / 99%/ {p99 = $2}
        /Non-2xx|Socket errors/ {err = err " " $0}
        END {printf "%s %s req/s, p99 %s%s\n", tag, rps, p99, err ? err : ", no errors"}'
}
i=0
while [ $i -lt "$rounds" ]; do
    run "$old" old
    run "$new" new
    run "$new" new
    run "$old" old
    i=$((i + 1))
done
