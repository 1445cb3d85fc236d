#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The same rollouts judged from the replicas' own snapshots and from
# Prometheus reach the same verdicts. Two `canary control`s drive two
# sets of three `canary serve` replicas (traffic: remote) in front of the
# same model servers, under the same wrk load (each request delayed 2 to
# 12 ms at the model server): one reads the replicas' snapshots
# (per-request latencies, merged), the other Debian's real Prometheus,
# scraping its replicas' /metrics every second (canary serve's buckets).
#  1. a canary 60 ms slower: rolled back by both analyses;
#  2. an identical canary: promoted by both.
# Both analyses' latency rows are printed: the differences are the
# binning's (an interval bounded by the bucket edges around the same
# shift). tests/unit/engines/test_prometheus_router.c compares the same on
# one router with the exact counts.
. tests/integration/lib.sh
TOKEN=promrep-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
[ -x /usr/bin/prometheus ] || die "Debian's prometheus is not installed (scripts/deps.sh --test)"

start_model v1 0.5
start_model v2 0.5 --delay-ms 60
start_model v3 0.5
for r in a1 a2 a3 b1 b2 b3; do
    start_canary "$r" --workers 1 --stable "$v1_ADDR" --stable-version v1
done

cat >"$TMP/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
scrape_configs:
  - job_name: replicas
    static_configs: [{targets: ['$b1_ADMIN', '$b2_ADMIN', '$b3_ADMIN']}]
YAML
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
sp_try=0
PROM_PORT=
while [ $sp_try -lt 5 ] && [ -z "$PROM_PORT" ]; do
    port=$(free_port)
    start_bg "prom$sp_try" prometheus --config.file="$TMP/prometheus.yml" \
        --storage.tsdb.path="$TMP/prom-data" --web.listen-address="127.0.0.1:$port" \
        --log.level=error
    sp_i=0
    while [ $sp_i -lt 300 ]; do
        if curl -sf "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; then
            PROM_PORT=$port
            break
        fi
        kill -0 "$LAST_PID" 2>/dev/null || break
        sp_i=$((sp_i + 1))
        sleep 0.1
    done
    [ -n "$PROM_PORT" ] || kill "$LAST_PID" 2>/dev/null || true
    sp_try=$((sp_try + 1))
done
[ -n "$PROM_PORT" ] || die "prometheus did not start: $(cat "$TMP"/prom*.err)"

# control_yaml SET METRICS: a controller over replicas SET1..SET3
control_yaml() {
    eval "u1=\$${1}1_ADMIN u2=\$${1}2_ADMIN u3=\$${1}3_ADMIN"
    cat <<YAML
control:
  admin: 127.0.0.1:0
  state: $TMP/$1.db
models:
  - name: fraud
    traffic:
      remote:
        replicas: [{url: "http://$u1"}, {url: "http://$u2"}, {url: "http://$u3"}]
        lease: 5s
        renew_every: 1s
        controller: ctl-$1
$2
    stable: {version: v1, addresses: ["$v1_ADDR"]}
strategy:
  warmup: 1s
  progress_deadline: 30s
  steps:
    - set_weight: 50
    - pause: {duration: 2s}
    - analysis: {}
  max_bake: 60s
  on_marginal: hold
analysis:
  alpha: 0.05
  min_per_arm: 50
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 20
    - name: error
      test: proportion
      margin: 0.05
YAML
}
control_yaml a "" >"$TMP/a.yaml"
control_yaml b "    metrics:
      prometheus:
        url: http://127.0.0.1:$PROM_PORT
        selector: '{job=\"replicas\",version=\"%s\"}'
        step: 1s" >"$TMP/b.yaml"
for s in a b; do
    start_bg "ctl-$s" "$CANARY" control --config "$TMP/$s.yaml"
    eval "ctl_${s}_PID=$LAST_PID"
    eval "ctl_${s}=http://$(addr_of "ctl-$s" '^admin on')"
done
for r in a1 a2 a3 b1 b2 b3; do
    i=0
    until grep -q "change by controller ctl-" "$TMP/$r.err"; do
        i=$((i + 1))
        [ $i -lt 200 ] || die "$r: never applied: $(cat "$TMP/ctl-a.err" "$TMP/ctl-b.err")"
        sleep 0.05
    done
done

cat >"$TMP/delay.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
wrk.headers["Content-Type"] = "application/json"
request = function()
    wrk.headers["X-Delay-Ms"] = tostring(math.random(2, 12))
    return wrk.format(nil, "/v2/models/m/infer")
end
LUA
for r in a1 a2 a3 b1 b2 b3; do
    eval "p=\$${r}_ADDR"
    wrk -t1 -c1 -d150s -s "$TMP/delay.lua" "http://$p/v2/models/m/infer" >/dev/null 2>&1 &
    PIDS="$PIDS $!"
done

# rollout ID VERSION ADDR STATE: the same candidate through both
# controllers; both must end in STATE; prints both latency rows
rollout() {
    for s in a b; do
        eval "CANARY_SERVER=\$ctl_$s"
        export CANARY_SERVER
        run "$CANARY" model register fraud "$2" --upstream "$3"
        expect_ok
        run "$CANARY" model tag fraud "$2" production-candidate
        expect_ok
    done
    for s in a b; do
        eval "CANARY_SERVER=\$ctl_$s"
        export CANARY_SERVER
        wait_state "$1" "$4"
        code=$(curl -s -o "$TMP/an" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
            "$CANARY_SERVER/v1/rollouts/$1/analyses")
        [ "$code" = 200 ] || die "analyses: HTTP $code"
        row=$(jq -r '[.analyses[].result.metrics[]? | select(.name == "latency_ms"
            and .segment == null) | "n=\(.canary.n)/\(.stable.n): \(.reason)"] | last' "$TMP/an")
        [ "$s" = a ] && src=replicas || src=prometheus
        echo "  $src: $4: $row"
        eval "row_$s=\$row"
    done
    # shellcheck disable=SC2154 # set by the eval above
    case "$row_b" in *"binned at 15 buckets"*"bounded by the bucket edges"*) ;;
    *) die "the Prometheus row does not say it is binned: $row_b" ;; esac
    case "$row_a" in *binned*) die "the replicas' row is binned: $row_a" ;; esac
}

echo "prometheus-replicas: 1. a canary 60 ms slower: rolled back from both sources"
rollout 1 v2 "$v2_ADDR" rolled-back
echo "prometheus-replicas: 2. an identical canary: promoted from both sources"
rollout 2 v3 "$v3_ADDR" promoted

for s in a b; do
    eval "pid=\$ctl_${s}_PID"
    kill "$pid"
    wait "$pid" || die "canary control $s exited $? after SIGTERM"
    if grep -Eq 'Sanitizer|runtime error' "$TMP/ctl-$s.err"; then
        die "canary control $s: $(grep -E -A 15 'Sanitizer|runtime error' "$TMP/ctl-$s.err" | head -40)"
    fi
done
echo "  ok"
