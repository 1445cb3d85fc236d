#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# make bench-remote: three `canary serve` replicas under one controller (the
# remote engine, driven by build/remote-drive), on loopback, under wrk load.
# Prints two tables (markdown) for docs/BENCHMARKS.md and keeps the raw
# numbers in BUILD/bench-remote/.
#
#   bench/remote.sh BUILD_DIR
#
# Setup: one stable model server shared by the replicas, one canary model
# server per replica (so each replica's canary arrivals are counted apart),
# three replicas (--workers 1) and one wrk per replica (1 thread,
# BENCH_CONNECTIONS connections, POSTs to /v2/models/m/infer).
#
# 1. Rollback: BENCH_ROUNDS rounds of: the engine applies canary weight 50%
#    to the three replicas, 1 s of load, then applies weight 0 (a rollback).
#    T0 is CLOCK_REALTIME just before the rollback's apply call (what
#    remote-drive prints). The cut-off is the last canary arrival at any of
#    the three canary model servers (/stats last_request_unix_ns,
#    CLOCK_REALTIME when the first byte is parsed) minus T0, read 0.5 s
#    after the apply returned. A request whose canary decision was taken
#    before the new generation reached the replica's worker may still
#    arrive after T0: that is what the cut-off measures. Also the apply's
#    own duration (all three replicas confirmed).
# 2. Lease: BENCH_LEASE_ROUNDS times: remote-drive applies weight 50% with
#    a BENCH_LEASE lease (renewed every lease / 4) and holds; after 1 s it
#    is killed with SIGKILL at TK. The fallback time of a replica is its
#    canary model server's last arrival minus TK, read lease + 2 s after
#    TK; the table gives the largest of the three. Goal: <= lease + 1 s.
set -eu
BUILD=${1:-build}
: "${BENCH_ROUNDS:=20}"
: "${BENCH_LEASE_ROUNDS:=3}"
: "${BENCH_LEASE:=2000}"
: "${BENCH_CONNECTIONS:=8}"
CANARY=$BUILD/canary
DRIVE=$BUILD/remote-drive
MODEL=$BUILD/model-server
OUT=$BUILD/bench-remote
rm -rf "$OUT"
mkdir -p "$OUT"
TOKEN=bench-remote-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

die() {
    echo "bench-remote: $*" >&2
    exit 1
}

bg() { # NAME CMD...: in the background, output in $OUT/NAME.{out,err}
    n=$1
    shift
    "$@" >"$OUT/$n.out" 2>"$OUT/$n.err" &
    PIDS="$PIDS $!"
    LAST=$!
}

addr() { # NAME PATTERN: the last field of the first line of NAME.out matching
    i=0
    while [ $i -lt 200 ]; do
        l=$(grep -m1 -E "$2" "$OUT/$1.out" 2>/dev/null || true)
        [ -n "$l" ] && { echo "$l" | awk '{print $NF}'; return 0; }
        i=$((i + 1))
        sleep 0.05
    done
    die "$1 did not print /$2/: $(cat "$OUT/$1.err")"
}

stat_of() { # ADDR FIELD: a number from a model server's /stats
    curl -s "http://$1/stats" | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

bg stable "$MODEL" --listen 127.0.0.1:0 --name stable
STABLE=$(addr stable '^listening on')
CANARIES=""
REPLICAS=""
ADMINS=""
for r in 1 2 3; do
    bg "canary$r" "$MODEL" --listen 127.0.0.1:0 --name "canary$r"
    c=$(addr "canary$r" '^listening on')
    CANARIES="$CANARIES $c"
    bg "replica$r" "$CANARY" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --workers 1 \
        --stable "$STABLE" --canary "$c"
    REPLICAS="$REPLICAS $(addr "replica$r" '^listening on')"
    a=$(addr "replica$r" '^admin on')
    ADMINS="$ADMINS $a"
done

# drive G-ARGS...: remote-drive over the three replicas; each replica's
# canary set is its own canary model server: the engine sends one
# generation to all, so the canary set lists all three, and each replica
# measures the three (the arrivals are still counted per server)
canary_list=$(echo $CANARIES | tr ' ' ',')
drive() {
    set -- $(for a in $ADMINS; do printf -- '--replica http://%s ' "$a"; done) \
        --controller bench --stable "v1=$STABLE" --canary "v2=$canary_list" "$@"
    "$DRIVE" "$@"
}

cat >"$OUT/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
wrk.headers["Content-Type"] = "application/json"
LUA
# generous: the load runs until the end (the report stops it)
secs=$((BENCH_ROUNDS * 5 + BENCH_LEASE_ROUNDS * (BENCH_LEASE / 1000 + 8) + 60))
i=0
for p in $REPLICAS; do
    i=$((i + 1))
    bg "wrk$i" wrk -t1 -c"$BENCH_CONNECTIONS" -d"${secs}s" -s "$OUT/post.lua" \
        "http://$p/v2/models/m/infer"
done
sleep 1

# ---- 1. rollback ----------------------------------------------------------
printf 'round\tt0_ns\tapply_us\tlast_canary_ns\tcutoff_us\tcanary_during_50\n' \
    >"$OUT/rollback.tsv"
g=0
round=1
while [ $round -le "$BENCH_ROUNDS" ]; do
    g=$((g + 2))
    n0=0
    for c in $CANARIES; do n0=$((n0 + $(stat_of "$c" requests))); done
    drive apply $((g - 1)) 5000 sleep 1000 apply "$g" 0 sleep 500 >"$OUT/round.out" ||
        die "round $round: $(cat "$OUT/round.out")"
    set -- $(grep "^applied $g " "$OUT/round.out")
    t0=$3 t1=$4
    last=0 n1=0
    for c in $CANARIES; do
        l=$(stat_of "$c" last_request_unix_ns)
        [ "$l" -gt "$last" ] && last=$l
        n1=$((n1 + $(stat_of "$c" requests)))
    done
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' $round "$t0" $(((t1 - t0) / 1000)) "$last" \
        $(((last - t0) / 1000)) $((n1 - n0)) >>"$OUT/rollback.tsv"
    round=$((round + 1))
done

# ---- 2. lease -------------------------------------------------------------
printf 'round\tlease_ms\tkill_ns\treplica\tlast_canary_ns\tfallback_ms\tcanary_in_hold\n' \
    >"$OUT/lease.tsv"
round=1
while [ $round -le "$BENCH_LEASE_ROUNDS" ]; do
    g=$((g + 1))
    "$DRIVE" $(for a in $ADMINS; do printf -- '--replica http://%s ' "$a"; done) \
        --controller bench --lease "$BENCH_LEASE" --renew-every $((BENCH_LEASE / 4)) \
        --stable "v1=$STABLE" --canary "v2=$canary_list" apply "$g" 5000 hold \
        >"$OUT/hold.out" 2>"$OUT/hold.err" &
    hold=$!
    sleep 0.5
    before=""
    for c in $CANARIES; do before="$before $(stat_of "$c" requests)"; done
    sleep 0.5
    grep -q "^applied $g " "$OUT/hold.out" || die "lease round $round: $(cat "$OUT/hold.out")"
    tk=$(date +%s%N)
    kill -9 $hold
    wait $hold 2>/dev/null || true
    sleep $((BENCH_LEASE / 1000 + 2))
    r=0
    for c in $CANARIES; do
        r=$((r + 1))
        l=$(stat_of "$c" last_request_unix_ns)
        b=$(echo $before | cut -d' ' -f$r)
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' $round "$BENCH_LEASE" "$tk" $r "$l" \
            $(((l - tk) / 1000000)) $(($(stat_of "$c" requests) - b)) >>"$OUT/lease.tsv"
    done
    # the next round's controller takes over from this one only once the
    # lease has run out, which it has
    round=$((round + 1))
done

# ---- report ---------------------------------------------------------------
load=$(cut -d' ' -f1-3 /proc/loadavg)
for p in $PIDS; do kill -INT "$p" 2>/dev/null || true; done
sleep 1
for w in 1 2 3; do
    grep -E '^Requests/sec' "$OUT/wrk$w.out" 2>/dev/null || true
done >"$OUT/wrk.txt" || true
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
rps=$(awk '{s += $2} END {printf "%.0f", s}' "$OUT/wrk.txt")
echo "Machine: $cpu, $(nproc) CPUs, load average at the end $load; 3 replicas"
echo "(--workers 1), wrk -t1 -c$BENCH_CONNECTIONS on each: $rps requests/s in all."
echo
echo "| rollback | median | p90 | max | of |"
echo "|---|---|---|---|---|"
awk -F'\t' 'NR > 1 { c[NR - 1] = $5; a[NR - 1] = $3; n = NR - 1 }
    function q(v, n, p,   i, j, t, s) {
        for (i = 1; i <= n; i++) s[i] = v[i]
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++)
            if (s[j] < s[i]) { t = s[i]; s[i] = s[j]; s[j] = t }
        i = int(p * n + 0.999999); if (i < 1) i = 1; return s[i] }
    END {
        printf "| last canary arrival after the apply call began (ms) | %.2f | %.2f | %.2f | %d |\n",
            q(c, n, 0.5) / 1000, q(c, n, 0.9) / 1000, q(c, n, 1) / 1000, n
        printf "| the apply call, all three confirmed (ms) | %.2f | %.2f | %.2f | %d |\n",
            q(a, n, 0.5) / 1000, q(a, n, 0.9) / 1000, q(a, n, 1) / 1000, n
    }' "$OUT/rollback.tsv"
echo
echo "| lease $BENCH_LEASE ms, renewed every $((BENCH_LEASE / 4)) ms | slowest replica: last canary arrival after SIGKILL (ms) | canary requests from 0.5 s before SIGKILL on (all replicas) |"
echo "|---|---|---|"
awk -F'\t' 'NR > 1 { if (!($1 in m) || $6 > m[$1]) m[$1] = $6; n[$1] += $7 }
    END { for (r in m) printf "| round %s | %d | %d |\n", r, m[r], n[r] }' "$OUT/lease.tsv" | sort
