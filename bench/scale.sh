#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
#
# make bench-scale: one `canary control` driving BENCH_MODELS (100)
# concurrent rollouts, each model through its own HAProxy backend (one
# HAProxy), each measured from Prometheus. Prints a table (markdown) for
# docs/BENCHMARKS.md and keeps the raw numbers in BUILD/bench-scale/.
#
#   bench/scale.sh BUILD_DIR
#
# The traffic is synthetic: bench/scale/exporter.py stands for the model
# servers' own /metrics (per model and version a request counter, an error
# counter and a latency histogram at BENCH_RATE requests/s per version),
# scraped by Debian's Prometheus every second. What is measured is the
# controller's side at that load, over BENCH_SECONDS of 100 rollouts in
# their bakes and analyses:
#  - the controller's CPU (utime + stime from /proc) and its peak memory
#    (VmHWM);
#  - the analyses: how many ran, and the wall and CPU time of each (the
#    driver's "analysis of step N: ... in W ms (C ms CPU)" log lines);
#  - the queries against Prometheus: per second, and their cost inside
#    Prometheus (prometheus_engine_query_duration_seconds, inner eval);
#  - the time from a trigger's condition to the rollback: model m42's canary
#    starts failing 30% of its requests at T0 (the exporter's fault switch);
#    the rollback is the audit entry that rolls it back. What this includes:
#    the scrape interval (1 s), the tick (1 s), and the evidence the error
#    trigger needs at that rate.
set -eu
BUILD=${1:-build}
: "${BENCH_MODELS:=100}"
: "${BENCH_SECONDS:=60}"
: "${BENCH_RATE:=20}"
: "${BENCH_FAULT_MODEL:=m42}"
CANARY=$BUILD/canary
OUT=$BUILD/bench-scale
rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd) # absolute: HAProxy takes a socket path only so
TOKEN=bench-scale-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
PIDS=""
cleanup() {
    for p in $PIDS; do kill "$p" 2>/dev/null || true; done
    for p in $PIDS; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() {
    echo "bench-scale: $*" >&2
    for f in "$OUT"/*.err; do echo "== $f" >&2; tail -n 5 "$f" >&2; done
    exit 1
}
bg() { # NAME CMD...
    n=$1
    shift
    "$@" >"$OUT/$n.out" 2>"$OUT/$n.err" &
    PIDS="$PIDS $!"
    eval "${n}_PID=$!"
}
free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_for() { # SECONDS CMD...: until CMD succeeds
    t=$1
    shift
    i=0
    until "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ "$i" -le $((t * 10)) ] || return 1
        sleep 0.1
    done
}
for b in haproxy prometheus wrk; do
    command -v "$b" >/dev/null 2>&1 || [ "$b" = wrk ] || die "$b is not installed (scripts/deps.sh --bench)"
done

# 1. the exporter and Prometheus
bg exporter /usr/bin/python3 bench/scale/exporter.py 0 "$BENCH_MODELS" "$BENCH_RATE"
wait_for 10 grep -q "exporter on" "$OUT/exporter.out" || die "the exporter did not start"
EXP=$(awk '{print $NF}' "$OUT/exporter.out")
PROM_PORT=$(free_port)
cat >"$OUT/prometheus.yml" <<YML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: model
    static_configs: [{targets: ['$EXP']}]
YML
bg prometheus prometheus --config.file="$OUT/prometheus.yml" \
    --storage.tsdb.path="$OUT/tsdb" --web.listen-address="127.0.0.1:$PROM_PORT"
PROM=http://127.0.0.1:$PROM_PORT
wait_for 30 curl -fs "$PROM/-/ready" || die "Prometheus is not ready"

# 2. HAProxy: one backend per model, empty (canary control adds the servers)
SOCK=$OUT/haproxy.sock
HA_PORT=$(free_port)
{
    printf 'global\n  stats socket %s mode 600 level admin expose-fd listeners\n' "$SOCK"
    printf '  maxconn 2000\ndefaults\n  mode http\n  timeout connect 1s\n'
    printf '  timeout client 5s\n  timeout server 5s\n'
    printf 'frontend fe\n  bind 127.0.0.1:%s\n  use_backend be_%%[req.hdr(x-model)]\n' "$HA_PORT"
    i=0
    while [ "$i" -lt "$BENCH_MODELS" ]; do
        printf 'backend be_m%d\n  balance random\n' "$i"
        i=$((i + 1))
    done
} >"$OUT/haproxy.cfg"
bg haproxy haproxy -db -f "$OUT/haproxy.cfg"
wait_for 10 test -S "$SOCK" || die "HAProxy did not start"

# 3. canary control over the 100 models
STATE=$OUT/control.db
{
    printf 'control:\n  admin: 127.0.0.1:0\n  state: %s\n' "$STATE"
    printf 'models:\n'
    i=0
    while [ "$i" -lt "$BENCH_MODELS" ]; do
        printf '  - name: m%d\n' "$i"
        printf '    traffic: {haproxy: {socket: %s, backend: be_m%d}}\n' "$SOCK" "$i"
        printf '    metrics:\n      prometheus:\n        url: %s\n' "$PROM"
        printf "        selector: '{job=\"model\",model=\"m%d\",version=\"%%s\"}'\n" "$i"
        printf '        requests: bench_requests_total\n        errors: [bench_errors_total]\n'
        printf '        latency: bench_latency_seconds\n        step: 1s\n'
        printf '    stable: {version: v1, addresses: ["127.0.0.1:%d"]}\n' $((20000 + i))
        i=$((i + 1))
    done
    cat <<'YML'
strategy:
  warmup: 2s
  progress_deadline: 10m
  steps:
    - set_weight: 10
    - pause: {duration: 15s}
    - analysis: {}
    - set_weight: 50
    - pause: {duration: 15s}
    - analysis: {}
  max_bake: 10m
  on_marginal: hold
  triggers:
    error_rate: {max: 0.05, max_ratio: 3.0}
analysis:
  alpha: 0.05
  min_per_arm: 100
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 50%
    - name: error
      test: proportion
      margin: 0.02
YML
} >"$OUT/control.yaml"
"$CANARY" control --config "$OUT/control.yaml" --check || die "the config is refused"
bg control "$CANARY" control --config "$OUT/control.yaml"
wait_for 30 grep -q "^admin on" "$OUT/control.out" || die "canary control did not start"
export CANARY_SERVER="http://$(awk '/^admin on/ {print $NF}' "$OUT/control.out")"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$control_PID/stat"; }
prom_queries() { # the count of query and query_range requests Prometheus answered
    curl -fs "$PROM/metrics" |
        awk '/^prometheus_http_requests_total\{.*handler="\/api\/v1\/query(_range)?"/ {s += $NF} END {print s + 0}'
}
prom_eval() { # sum and count of the queries' inner evaluation time
    curl -fs "$PROM/metrics" |
        awk '/^prometheus_engine_query_duration_seconds_sum\{slice="inner_eval"\}/ {s=$NF}
             /^prometheus_engine_query_duration_seconds_count\{slice="inner_eval"\}/ {c=$NF}
             END {print s + 0, c + 0}'
}

# 4. start the rollouts: v2 of every model, tagged production-candidate
i=0
while [ "$i" -lt "$BENCH_MODELS" ]; do
    "$CANARY" model register "m$i" v2 --upstream "127.0.0.1:$((30000 + i))" >/dev/null ||
        die "register m$i"
    "$CANARY" model tag "m$i" v2 production-candidate >/dev/null || die "tag m$i"
    i=$((i + 1))
done
T_START=$(date +%s.%N)
HZ=$(getconf CLK_TCK)
cpu0=$(cpu_ticks)
q0=$(prom_queries)
set -- $(prom_eval)
es0=$1
ec0=$2

# 5. the fault, a third of the way in; then poll for its rollback
sleep $((BENCH_SECONDS / 3))
T_FAULT=$(date +%s%3N)
curl -fs "http://$EXP/fault?model=$BENCH_FAULT_MODEL&errors=0.3" >/dev/null || die "fault"
T_ROLLBACK=""
end=$(($(date +%s) + BENCH_SECONDS - BENCH_SECONDS / 3))
while [ "$(date +%s)" -lt "$end" ]; do
    if [ -z "$T_ROLLBACK" ]; then
        st=$("$CANARY" rollout status "$BENCH_FAULT_MODEL" --json 2>/dev/null |
            /usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin); print(r.get("state",""), r.get("id",0))' 2>/dev/null || true)
        case "$st" in
        rolled-back* | rolling-back*)
            id=${st#* }
            T_ROLLBACK=$("$CANARY" rollout history "$id" --json |
                /usr/bin/python3 -c '
import json, sys
for e in json.load(sys.stdin).get("entries", []):
    if e.get("state") in ("rolling-back", "rolled-back"):
        print(e["time_unix_ms"]); break')
            ;;
        esac
    fi
    sleep 0.2
done
T_END=$(date +%s.%N)
cpu1=$(cpu_ticks)
q1=$(prom_queries)
set -- $(prom_eval)
es1=$1
ec1=$2
HWM=$(awk '/VmHWM/ {print $2}' "/proc/$control_PID/status")
kill "$control_PID"
wait "$control_PID" 2>/dev/null || true

grep -o 'analysis of step [0-9]*: [a-z]* in [0-9.]* ms ([0-9.]* ms CPU)' "$OUT/control.err" |
    awk '{print $(NF-4), $(NF-2)}' | tr -d '(' >"$OUT/analyses.txt" || true
/usr/bin/python3 - "$OUT" "$T_START" "$T_END" "$cpu0" "$cpu1" "$HZ" "$q0" "$q1" \
    "$es0" "$es1" "$ec0" "$ec1" "$HWM" "$T_FAULT" "${T_ROLLBACK:-}" "$BENCH_MODELS" <<'PY'
import statistics, sys
out, t0, t1, c0, c1, hz, q0, q1, es0, es1, ec0, ec1, hwm, tf, tr, n = sys.argv[1:]
secs = float(t1) - float(t0)
cpu = (float(c1) - float(c0)) / float(hz)
an = [tuple(map(float, l.split())) for l in open(out + "/analyses.txt") if l.strip()]
walls = sorted(a[0] for a in an)
cpus = sorted(a[1] for a in an)
def q(v, p):
    return v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")
nq = float(q1) - float(q0)
ne = float(ec1) - float(ec0)
evalms = (float(es1) - float(es0)) / ne * 1e3 if ne else float("nan")
print(f"| models (concurrent rollouts) | {n} |")
print(f"| window measured | {secs:.0f} s |")
print(f"| controller CPU | {cpu / secs * 100:.1f}% of one core ({cpu:.1f} s) |")
print(f"| controller peak memory (VmHWM) | {float(hwm) / 1024:.1f} MiB |")
print(f"| analyses run | {len(an)} |")
print(f"| analysis wall, median / p95 | {q(walls, .5):.1f} / {q(walls, .95):.1f} ms |")
print(f"| analysis CPU, median / p95 | {q(cpus, .5):.2f} / {q(cpus, .95):.2f} ms |")
print(f"| queries to Prometheus | {nq / secs:.1f} /s ({nq:.0f}) |")
print(f"| Prometheus inner eval per query, mean | {evalms:.2f} ms |")
if tr:
    print(f"| trigger condition to rollback ({n} rollouts running) | {(float(tr) - float(tf)) / 1e3:.1f} s |")
else:
    print("| trigger condition to rollback | not seen in the window |")
PY
