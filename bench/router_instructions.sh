#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Instructions per proxied request of `canary serve`, counted by
# valgrind's callgrind: the before/after figure for a data-plane change on
# a machine too noisy for wall-clock numbers (the count repeats to a
# fraction of a percent whatever else runs; time does not).
#
#   bench/router_instructions.sh CANARY MODEL_SERVER CLIENTS [SECONDS]
#
# Starts two model servers and `canary serve --workers 1` under callgrind
# with collection off, opens CLIENTS keep-alive connections with wrk (the
# bench's 82-byte KServe v2 POST, 90/10 random split) and, once they are
# all connected and the pools are warm (SECONDS [10] of load), counts the
# worker's instructions over a further SECONDS of load. Prints one line:
#   clients=N requests=R instructions=I per_request=I/R
# R is the requests the two model servers answered while counting.
# CANARY_FLAGS: more flags for canary serve (e.g. --max-idle-upstream 64).
set -eu
canary=$1 ms=$2 clients=$3 secs=${4:-10}
cd "$(dirname "$0")/.."
for t in valgrind callgrind_control wrk curl; do
    command -v $t >/dev/null || { echo "$t not found" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
dir=$(mktemp -d)
pids=""
trap 'kill $pids 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
start_ms() { # NAME PREDICTION: sets port
    "$ms" --listen 127.0.0.1:0 --name "$1" --prediction "$2" >"$dir/$1.out" 2>&1 &
    pids="$pids $!"
    i=0
    until grep -q '^listening on' "$dir/$1.out"; do
        i=$((i + 1)); [ $i -le 100 ] || { echo "model-server did not start" >&2; exit 1; }
        sleep 0.05
    done
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$dir/$1.out")
}
start_ms stable 0.25; sp=$port
start_ms canary 0.75; cp=$port
served() {
    a=$(curl -s "http://127.0.0.1:$sp/stats" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
    b=$(curl -s "http://127.0.0.1:$cp/stats" | sed -n 's/.*"requests":\([0-9]*\).*/\1/p')
    echo $((a + b))
}
# A free port for the proxy: bind 0 is not possible through the flags'
# port reporting under valgrind, so take one from the kernel's range.
pport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CANARY_TOKEN=bench-instructions-0123456789 valgrind --tool=callgrind \
    --instr-atstart=no --callgrind-out-file="$dir/cg.out" \
    "$canary" serve --listen "127.0.0.1:$pport" --admin 127.0.0.1:0 --workers 1 \
    --stable "127.0.0.1:$sp" --canary "127.0.0.1:$cp" --canary-weight 10 \
    --mode random --max-connections 20000 ${CANARY_FLAGS:-} >"$dir/canary.log" 2>&1 &
vpid=$!
pids="$pids $vpid"
i=0
until curl -s -o /dev/null "http://127.0.0.1:$pport/"; do
    i=$((i + 1)); [ $i -le 300 ] || { echo "canary did not start: $(tail -n 3 "$dir/canary.log")" >&2; exit 1; }
    sleep 0.1
done
wrk -t1 -c"$clients" -d"$((secs * 2 + 5))s" -s bench/router/post.lua \
    "http://127.0.0.1:$pport/v2/models/model/infer" >"$dir/wrk.txt" 2>&1 &
wpid=$!
pids="$pids $wpid"
sleep "$secs"
n0=$(served)
callgrind_control -i on "$vpid" >/dev/null 2>&1
sleep "$secs"
callgrind_control -i off "$vpid" >/dev/null 2>&1
n1=$(served)
callgrind_control -d "$vpid" >/dev/null 2>&1
kill "$wpid" 2>/dev/null || true
sleep 1
# The dump (cg.out.1) holds what was counted between "on" and "off".
ins=$(sed -n 's/^totals: \([0-9]*\).*/\1/p' "$dir/cg.out.1")
awk -v c="$clients" -v n=$((n1 - n0)) -v i="$ins" 'BEGIN {
    printf "clients=%d requests=%d instructions=%d per_request=%.0f\n", c, n, i, n ? i / n : 0 }'
