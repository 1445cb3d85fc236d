#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Whole rollouts through `canary control` judged from Prometheus: Debian's
# real Prometheus, started here on a free port (it cannot listen on port 0)
# with its data in $TMP, scrapes every second the model servers' own
# /metrics (model_requests_total, model_request_errors_total and a latency
# histogram in milliseconds, labelled model="NAME"); the traffic engine is
# gateway_api against the fake Kubernetes API server (fake_kube_api.py: no
# cluster here), and wrk sends each version its requests directly, each
# with its own delay of 2 to 12 ms at the server (the split a mesh would
# make is not what is judged: each arm's own requests are).
#  1. a canary 60 ms slower is rolled back by the analysis, which reads
#     the latency as buckets and says so;
#  2. an identical canary is promoted;
#  3. Prometheus gone: the analysis has no data, the rollout holds (never
#     passes, never fails) with the reason.
# The same window judged from Prometheus and from a router's own snapshot
# (per-request latencies) is tests/unit/engines/test_prometheus_router.c.
. tests/integration/lib.sh
TOKEN=prom-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
[ -x /usr/bin/prometheus ] || die "Debian's prometheus is not installed (scripts/deps.sh --test)"

start_model v1 0.5
start_model v2 0.5 --delay-ms 60
start_model v3 0.5

# Prometheus on a port free a moment ago: another process may take it
# first, so a refused start is tried again on another.
cat >"$TMP/prometheus.yml" <<YAML
global: {scrape_interval: 1s, evaluation_interval: 1s}
rule_files: ['$PWD/contrib/prometheus/canary-rules.yml']
scrape_configs:
  - job_name: model
    static_configs: [{targets: ['$v1_ADDR', '$v2_ADDR', '$v3_ADDR']}]
YAML
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
start_prometheus() {
    sp_try=0
    while [ $sp_try -lt 5 ]; do
        PROM_PORT=$(free_port)
        start_bg "prom$sp_try" prometheus --config.file="$TMP/prometheus.yml" \
            --storage.tsdb.path="$TMP/prom-data" --web.listen-address="127.0.0.1:$PROM_PORT" \
            --log.level=error
        PROM_PID=$LAST_PID
        sp_i=0
        while [ $sp_i -lt 300 ]; do
            curl -sf "http://127.0.0.1:$PROM_PORT/-/ready" >/dev/null 2>&1 && return 0
            kill -0 "$PROM_PID" 2>/dev/null || break
            sp_i=$((sp_i + 1))
            sleep 0.1
        done
        kill "$PROM_PID" 2>/dev/null || true
        sp_try=$((sp_try + 1))
    done
    die "prometheus did not start: $(cat "$TMP"/prom*.err)"
}
start_prometheus

printf 'sa-token-%s\n' "$$" >"$TMP/sa-token"
cat >"$TMP/objects.json" <<'JSON'
[{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
  "metadata": {"name": "fraud", "namespace": "shop"},
  "spec": {"parentRefs": [{"name": "gateway"}],
           "rules": [{"backendRefs": [{"name": "fraud-v1", "port": 8080}]}]}}]
JSON
start_bg kube python3 tests/integration/fake_kube_api.py --token-file "$TMP/sa-token" \
    --objects "$TMP/objects.json"
KUBE=$(addr_of kube '^listening on')

cat >"$TMP/control.yaml" <<YAML
control:
  admin: 127.0.0.1:0
  state: $TMP/control.db
models:
  - name: fraud
    stable: {version: v1, addresses: ["fraud-v1:8080"]}
    traffic:
      gateway_api:
        api_server: http://$KUBE
        token_file: $TMP/sa-token
        namespace: shop
        httproute: fraud
    metrics:
      prometheus:
        url: http://127.0.0.1:$PROM_PORT
        selector: '{job="model",model="%s"}'
        requests: model_requests_total
        errors: [model_request_errors_total]
        latency: model_request_duration_milliseconds
        latency_unit: 0.001
        step: 1s
strategy:
  warmup: 0s
  progress_deadline: 60s
  steps:
    - set_weight: 50
    - pause: {duration: 2s}
    - analysis: {}
  max_bake: 120s
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
run "$CANARY" control --config "$TMP/control.yaml" --check
expect_ok
start_bg ctl "$CANARY" control --config "$TMP/control.yaml"
CTL_PID=$LAST_PID
CANARY_SERVER="http://$(addr_of ctl '^admin on')"
export CANARY_SERVER

# load ADDR: wrk sending model requests to ADDR, each delayed 2-12 ms
cat >"$TMP/delay.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
wrk.headers["Content-Type"] = "application/json"
request = function()
    wrk.headers["X-Delay-Ms"] = tostring(math.random(2, 12))
    return wrk.format(nil, "/v2/models/m/infer")
end
LUA
load() {
    wrk -t1 -c2 -d120s -s "$TMP/delay.lua" "http://$1/v2/models/m/infer" >/dev/null 2>&1 &
    PIDS="$PIDS $!"
    LOAD_PID=$!
}
load "$v1_ADDR"

# latency_rows ID: the latency rows' reasons of rollout ID's analyses
latency_rows() {
    lr_code=$(curl -s -o "$TMP/an" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
        "$CANARY_SERVER/v1/rollouts/$1/analyses")
    [ "$lr_code" = 200 ] || die "analyses of rollout $1: HTTP $lr_code"
    jq -c '[.analyses[].result.metrics[]? | select(.name == "latency_ms" and .segment == null)
        | .reason]' "$TMP/an"
}

echo "prometheus: 1. a canary 60 ms slower is rolled back by the analysis on buckets"
load "$v2_ADDR"
CANARY_LOAD=$LOAD_PID
run "$CANARY" model register fraud v2 --upstream fraud-v2:8080
expect_ok
run "$CANARY" model tag fraud v2 production-candidate
expect_ok
wait_state 1 rolled-back
run "$CANARY" rollout status 1 --json
[ "$RC" -eq 1 ] || die "status of a rolled-back rollout exits 1, got $RC"
cp "$TMP/out" "$TMP/r1.json"
reason=$(jq -r '.reason // ""' "$TMP/r1.json")
rows=$(latency_rows 1)
echo "  rollout 1: $reason"
echo "  latency rows: $rows"
echo "$rows" | grep -q "binned at 11 buckets" || die "the latency row does not say it is binned: $rows"
echo "$rows" | grep -q "bounded by the bucket edges" || die "no bucket edges in: $rows"
kill "$CANARY_LOAD" 2>/dev/null || true

echo "prometheus: 2. an identical canary is promoted"
load "$v3_ADDR"
CANARY_LOAD=$LOAD_PID
run "$CANARY" model register fraud v3 --upstream fraud-v3:8080
expect_ok
run "$CANARY" model tag fraud v3 production-candidate
expect_ok
wait_state 2 promoted
run "$CANARY" rollout status 2 --json
rows=$(latency_rows 2)
echo "  latency rows: $rows"
echo "$rows" | grep -q "non-inferior" || die "rollout 2 was not promoted on latency: $rows"
kill "$CANARY_LOAD" 2>/dev/null || true

echo "prometheus: 3. Prometheus gone: no data, the rollout waits (no pass, no fail)"
kill "$PROM_PID"
wait "$PROM_PID" 2>/dev/null || true
load "$v2_ADDR"
run "$CANARY" model register fraud v4 --upstream fraud-v2:8080
expect_ok
run "$CANARY" model tag fraud v4 production-candidate
expect_ok
# Every read fails: it must be neither promoted nor rolled back.
sleep 4
run "$CANARY" rollout status 3 --json
[ "$RC" -eq 3 ] || die "status of a rollout in progress exits 3, got $RC: $(cat "$TMP/out")"
state=$(jq -r .state "$TMP/out")
[ "$state" = warmup ] || die "rollout 3 without data: state '$state': $(cat "$TMP/out")"
reason=$(jq -r '.reason // ""' "$TMP/out")
echo "  rollout 3 without Prometheus: state $state: $reason"

kill "$CTL_PID"
wait "$CTL_PID" || die "canary control exited $? after SIGTERM"
if grep -Eq 'Sanitizer|runtime error' "$TMP/ctl.err"; then
    die "canary control: $(grep -E -A 15 'Sanitizer|runtime error' "$TMP/ctl.err" | head -40)"
fi
echo "  ok"
