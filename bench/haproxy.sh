#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# make bench-haproxy: the rollback time through HAProxy. Debian's HAProxy
# in front of three stable model servers and one canary
# (build/model-server), wrk keeping BENCH_CONNS connections busy through
# it; the HAProxy engine (src/engines/haproxy.c) driven directly by
# build/haproxy-driver, as the controller drives it. BENCH_ROUNDS times:
# apply a 10% canary, wait until the canary has had requests, then apply
# the rollback (canary weight 0, canary set empty) and read the canary's
# own clock of its last request (model-server's /stats). The rollback
# time is that last request's arrival minus the moment apply started (a
# request that arrived before the start counts as 0); the apply's own
# duration is reported next to it. Then the time renew() takes to put
# the split back after an HAProxy restart. Rewrites the "Rollback through
# HAProxy" section of docs/BENCHMARKS.md (between its bench-haproxy
# markers).
#
#   bench/haproxy.sh BUILD_DIR
#   BENCH_ROUNDS [20]  BENCH_CONNS [16]  BENCH_DOC [docs/BENCHMARKS.md]
set -eu
BUILD=${1:-build}
BENCH_ROUNDS=${BENCH_ROUNDS:-20}
BENCH_CONNS=${BENCH_CONNS:-16}
BENCH_DOC=${BENCH_DOC:-docs/BENCHMARKS.md}
export CANARY="$BUILD/canary" MODEL_SERVER="$BUILD/model-server"
export HAPROXY_DRIVER="$BUILD/haproxy-driver"
. tests/integration/lib.sh
. tests/integration/haproxy_lib.sh

log() { echo "bench-haproxy: $*" >&2; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

start_model s1
start_model s2
start_model s3
start_model c1
haproxy_config
start_haproxy
start_driver "drain_timeout: 5s"
ST="$s1_ADDR,$s2_ADDR,$s3_ADDR"
drv_ok apply 1 0 v1 "$ST" v2 -
traffic_to "127.0.0.1:$HAP_PORT" $((BENCH_ROUNDS * 10 + 60)) "$BENCH_CONNS" # killed at the end
sleep 1

: >"$TMP/rounds"
g=1
r=0
while [ $r -lt "$BENCH_ROUNDS" ]; do
    r=$((r + 1))
    g=$((g + 1))
    drv_ok apply $g 1000 v1 "$ST" v2 "$c1_ADDR"
    before=$(requests "$c1_ADDR")
    i=0
    while [ "$(requests "$c1_ADDR")" -le "$before" ]; do
        i=$((i + 1))
        [ $i -lt 300 ] || die "round $r: the canary gets no requests"
        sleep 0.01
    done
    sleep 0.3
    g=$((g + 1))
    drv_ok apply $g 0 v1 "$ST" v2 -
    t0=$(field unix_ns)
    us=$(field us)
    sleep 0.3
    last=$(http_json "http://$c1_ADDR/stats" .last_request_unix_ns)
    after=$(http_json "http://$c1_ADDR/stats?after_ns=$t0" .requests_after)
    echo "$r $last $t0 $us $after" >>"$TMP/rounds"
    log "round $r: last canary request $(awk -v a="$last" -v b="$t0" \
        'BEGIN { printf "%.3f", (a - b) / 1e6 }') ms after apply start, apply $us us"
    drv_ok renew
done

# renew after a restart: the split back from an empty backend
restart_haproxy
drv_ok renew
renew_us=$(field us)
[ "$(field reapplied)" -ge 1 ] || die "renew did not re-apply after the restart: $DRV"
kill "$WRK" 2>/dev/null || true

# stats: median, p90 and max of the rollback time (ms) and apply time (us)
summary() { # COLUMN-EXPRESSION
    awk "{ print $1 }" "$TMP/rounds" | sort -g | awk '{ v[NR] = $1 }
        END { m = v[int((NR + 1) / 2)]; p = v[int(NR * 0.9 + 0.999)]
              printf "%.2f | %.2f | %.2f", m, p, v[NR] }'
}
rb=$(summary '($2 - $3) / 1e6 < 0 ? 0 : ($2 - $3) / 1e6')
ap=$(summary '$4 / 1000')
late=$(awk '{ s += $5 } END { print s + 0 }' "$TMP/rounds")
hv=$(haproxy -v | sed -n 's/^HAProxy version \([^ ]*\).*/\1/p')
cpu=$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1)
section="$TMP/section.md"
{
    echo "Written by \`make bench-haproxy\` (bench/haproxy.sh; its header says what it"
    echo "measures). Measured $(date -u +%Y-%m-%d) on $cpu ($(nproc) CPUs), HAProxy $hv"
    echo "(Debian), load average $load_before (1/5/15 min) before the run;"
    echo "$BENCH_ROUNDS rollbacks from a 10% canary (1 canary and 3 stable model"
    echo "servers) under wrk with $BENCH_CONNS connections through HAProxy."
    echo
    echo "| | median | p90 | max |"
    echo "|---|---|---|---|"
    echo "| rollback: apply start to the canary's last request (ms) | $rb |"
    echo "| the whole apply (ms) | $ap |"
    echo
    echo "A round whose last canary request arrived before the apply started counts"
    echo "0 ms. Canary requests that arrived after an apply started, over all rounds:"
    echo "$late (requests HAProxy had already sent to the canary when the weight"
    echo "changed). The machine is shared: with a load average above its CPU count,"
    echo "the apply's commands wait for CPU, which the p90 and the max show."
    echo "The rollback's first command is \`set weight\` 0 on each canary server the"
    echo "engine knows, before it reads the backend; the rest of the apply (read,"
    echo "drain, verify, delete the idle server, write the state file) follows."
    echo "After an HAProxy restart (every dynamic server gone), one renew() re-applied"
    echo "the generation in $(awk -v u="$renew_us" 'BEGIN { printf "%.2f", u / 1000 }') ms."
} >"$section"

marker=bench-haproxy
if ! grep -q "^<!-- $marker:begin -->" "$BENCH_DOC"; then
    printf '\n## Rollback through HAProxy\n\n<!-- %s:begin -->\n<!-- %s:end -->\n' \
        "$marker" "$marker" >>"$BENCH_DOC"
fi
awk -v section="$section" -v begin="<!-- $marker:begin -->" \
    -v end="<!-- $marker:end -->" '
    $0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
    $0 == end { skip = 0; print; next }
    !skip { print }' "$BENCH_DOC" >"$TMP/doc.tmp"
cat "$TMP/doc.tmp" >"$BENCH_DOC"
log "wrote $BENCH_DOC"
cat "$section"
