#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `canary k8s manifests`: the YAML for Gateway API and Istio is exactly the
# golden files in tests/golden/k8s/ (a change to it is a reviewed change
# of those files), parses as YAML, holds the six objects, and its Role
# grants get and patch on the one route object and nothing else; its
# ConfigMap holds a control config. Bad options are one line and 64.
#
# Then whole rollouts through `canary control` with `traffic: {gateway_api:
# ...}` and `{istio: ...}` against the fake Kubernetes API server
# (fake_kube_api.py; no real cluster runs here, docs/SCALE.md): a strategy
# of set_weight and pause steps (no metrics source: `metrics: {none: {}}`)
# walks 10% and 50% to promotion, every write a JSON Patch, and each step's
# weights are read back from the server's log of writes; concurrent writes
# injected during the rollout are retried. The engines' own cases (errors,
# drift, HTTPS with a CA) are the unit suites k8s_live/*.
. tests/integration/lib.sh

golden=tests/golden/k8s
args="--namespace shop --name canary --image registry.example/canary:0.1.0 --route fraud"

# shellcheck disable=SC2086
run "$CANARY" k8s manifests $args
expect_ok
diff -u "$golden/gateway-api.yaml" "$TMP/out" || die "gateway-api manifests differ from $golden"
cp "$TMP/out" "$TMP/gateway-api.yaml"
# shellcheck disable=SC2086
run "$CANARY" k8s manifests $args --mesh istio
expect_ok
diff -u "$golden/istio.yaml" "$TMP/out" || die "istio manifests differ from $golden"
cp "$TMP/out" "$TMP/istio.yaml"

# Each parses, in this order of kinds; the Role is least privilege; the
# control config in the ConfigMap parses and names the engine's kind.
for mesh in gateway-api istio; do
    python3 - "$TMP/$mesh.yaml" "$mesh" <<'PY' || die "$mesh manifests: see above"
import sys, yaml
path, mesh = sys.argv[1], sys.argv[2]
docs = [d for d in yaml.safe_load_all(open(path)) if d]
route_kind = "HTTPRoute" if mesh == "gateway-api" else "VirtualService"
kinds = [d["kind"] for d in docs]
want = ["ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Deployment", route_kind]
assert kinds == want, kinds
by = {d["kind"]: d for d in docs}
for d in docs:
    assert d["metadata"]["namespace"] == "shop", d["metadata"]
group = "gateway.networking.k8s.io" if mesh == "gateway-api" else "networking.istio.io"
resource = "httproutes" if mesh == "gateway-api" else "virtualservices"
assert by["Role"]["rules"] == [
    {"apiGroups": [group], "resources": [resource], "resourceNames": ["fraud"],
     "verbs": ["get", "patch"]}
], by["Role"]["rules"]
rb = by["RoleBinding"]
assert rb["roleRef"]["name"] == "canary" and rb["subjects"][0]["name"] == "canary"
pod = by["Deployment"]["spec"]["template"]["spec"]
assert pod["serviceAccountName"] == "canary"
c = pod["containers"][0]
assert c["args"][:1] == ["control"] and c["image"] == "registry.example/canary:0.1.0"
assert by["Deployment"]["spec"]["replicas"] == 1
cfg = yaml.safe_load(by["ConfigMap"]["data"]["control.yaml"])
kind = "gateway_api" if mesh == "gateway-api" else "istio"
m = cfg["models"][0]
assert list(m["traffic"]) == [kind], m
assert m["stable"]["addresses"] == ["fraud-v1:8080"]
route = by[route_kind]
if mesh == "gateway-api":
    refs = route["spec"]["rules"][0]["backendRefs"]
    assert [(r["name"], r["port"], r["weight"]) for r in refs] == [
        ("fraud-v1", 8080, 1000000), ("fraud-v2", 8080, 0)], refs
else:
    dests = route["spec"]["http"][0]["route"]
    assert [(d["destination"]["host"], d["weight"]) for d in dests] == [
        ("fraud-v1", 100), ("fraud-v2", 0)], dests
PY
    NCHECK=$((NCHECK + 1))
done

# Usage errors: one line, 64, nothing on stdout.
run "$CANARY" k8s manifests --mesh linkerd
expect_error 64 "--mesh must be gateway-api or istio, got 'linkerd'"
run "$CANARY" k8s manifests --namespace Shop
expect_error 64 "--namespace must be a DNS label"
run "$CANARY" k8s manifests --image 'a b'
expect_error 64 "--image must be an image reference"
run "$CANARY" k8s manifests --rout fraud
expect_error 64 "rout"
run "$CANARY" k8s apply
expect_error 64 "unknown command 'apply'"
run "$CANARY" k8s manifests --help
expect_ok
grep -q "usage: canary k8s manifests" "$TMP/out" || die "--help: $(head -n 2 "$TMP/out")"

# The ConfigMap's control config is one canary control accepts.
for mesh in gateway-api istio; do
    python3 -c '
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
print([d for d in docs if d["kind"] == "ConfigMap"][0]["data"]["control.yaml"])
' "$TMP/$mesh.yaml" >"$TMP/$mesh-control.yaml"
    run "$CANARY" control --config "$TMP/$mesh-control.yaml" --check
    expect_ok
done

# ------------------------------------------------ rollouts through canary control
TOKEN=k8s-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
printf 'sa-token-%s\n' "$$" >"$TMP/sa-token"
cat >"$TMP/objects.json" <<'JSON'
[{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
  "metadata": {"name": "fraud", "namespace": "shop"},
  "spec": {"parentRefs": [{"name": "gateway"}],
           "rules": [{"backendRefs": [{"name": "fraud-v1", "port": 8080}]}]}},
 {"apiVersion": "networking.istio.io/v1beta1", "kind": "VirtualService",
  "metadata": {"name": "fraud", "namespace": "shop"},
  "spec": {"hosts": ["fraud"],
           "http": [{"route": [
               {"destination": {"host": "fraud-v1", "port": {"number": 8080}}, "weight": 100},
               {"destination": {"host": "fraud-v2", "port": {"number": 8080}}, "weight": 0}]}]}}]
JSON
start_bg kube python3 tests/integration/fake_kube_api.py --token-file "$TMP/sa-token" \
    --objects "$TMP/objects.json"
KUBE=$(addr_of kube '^listening on')

# wait_weights PATH WEIGHTS: until rule 0 of the object at PATH (below
# the API group) has WEIGHTS (a compact JSON array).
wait_weights() {
    ww_i=0
    while [ $ww_i -lt 300 ]; do
        ww_w=$(curl -sf -H "Authorization: Bearer $(cat "$TMP/sa-token")" \
            "http://$KUBE/apis$1" | jq -c '(.spec.rules // .spec.http)[0] |
            [(.backendRefs // .route)[].weight]') || true
        [ "$ww_w" = "$2" ] && return 0
        ww_i=$((ww_i + 1))
        sleep 0.1
    done
    die "$1: weights $ww_w, expected $2"
}

# rollout MESH KIND OBJECT_KEY SUFFIX API_PATH FIRST_STEP: one whole rollout of fraud v2 through the
# engine KIND; leaves the distinct weights the route went through in
# $TMP/MESH.weights, one JSON array per line.
rollout() {
    ro_mesh=$1
    curl -sf -X POST -d '{"count": 0}' "http://$KUBE/fake/conflicts" >/dev/null
    cat >"$TMP/$ro_mesh.control.yaml" <<YAML
control:
  admin: 127.0.0.1:0
  state: $TMP/$ro_mesh.db
models:
  - name: fraud
    stable: {version: v1, addresses: ["fraud-v1:8080"]}
    traffic:
      $2:
        api_server: http://$KUBE
        token_file: $TMP/sa-token
        namespace: shop
        $3: fraud
    metrics: {none: {}}
strategy:
  warmup: 0s
  steps:
    - set_weight: 10
    - pause: {duration: 1s}
    - set_weight: 50
    - pause: {duration: 1s}
YAML
    start_bg "ctl-$ro_mesh" "$CANARY" control --config "$TMP/$ro_mesh.control.yaml"
    ro_pid=$LAST_PID
    CANARY_SERVER="http://$(addr_of "ctl-$ro_mesh" '^admin on')"
    export CANARY_SERVER
    run "$CANARY" model register fraud v2 --upstream fraud-v2:8080
    expect_ok
    # Two writers race the controller's next writes: retried, not fatal.
    curl -sf -X POST -d '{"count": 2, "status": 422}' "http://$KUBE/fake/conflicts" >/dev/null
    run "$CANARY" model tag fraud v2 production-candidate
    expect_ok
    # The first step's weights are on the object. With no metrics source
    # (`none`) nothing waits for a canary request: the warmup, the pauses
    # and 50% run on their own, up to the promotion.
    wait_weights "$5" "$6"
    wait_state 1 promoted
    run "$CANARY" rollout status 1 --json
    json_eq '[.state, .version, .baseline]' '["promoted","v2","v1"]'
    kill "$ro_pid"
    wait "$ro_pid" || die "canary control ($ro_mesh) exited $? after SIGTERM"
    if grep -Eq 'Sanitizer|runtime error' "$TMP/ctl-$ro_mesh.err"; then
        die "canary control ($ro_mesh): $(grep -E -A 15 'Sanitizer|runtime error' "$TMP/ctl-$ro_mesh.err" | head -40)"
    fi
    curl -sf "http://$KUBE/fake/log" >"$TMP/kube-log.json" || die "the fake's log"
    # Every write was a JSON Patch; never merge or strategic merge.
    jq -e --arg p "$4" '[.[] | select(.method == "PATCH" and (.path | endswith($p)))
        | .content_type] | length > 0 and all(. == "application/json-patch+json")' \
        "$TMP/kube-log.json" >/dev/null || die "$ro_mesh: not every write was a JSON Patch"
    # The weights after each successful write, repeats folded.
    jq -c --arg p "$4" '[.[] | select(.method == "PATCH" and .status == 200
        and (.path | endswith($p))) | .weights[0]] | reduce .[] as $w ([];
        if length > 0 and .[-1] == $w then . else . + [$w] end) | .[]' \
        "$TMP/kube-log.json" >"$TMP/$ro_mesh.weights"
    NCHECK=$((NCHECK + 2))
}

echo "k8s: a rollout through canary control and the gateway_api engine"
rollout gateway-api gateway_api httproute /httproutes/fraud \
    /gateway.networking.k8s.io/v1/namespaces/shop/httproutes/fraud '[900000,100000]'
# stable alone (the backendRef's default weight 1 becomes 1,000,000), then
# v2 appended to the rule at 0, 10%, 50%, and after promotion v2 alone.
grep -qx '\[1000000\]' "$TMP/gateway-api.weights" ||
    die "gateway_api: stable alone never written: $(cat "$TMP/gateway-api.weights")"
tail -n 3 "$TMP/gateway-api.weights" | tr '\n' ' ' |
    grep -qx '\[900000,100000\] \[500000,500000\] \[0,1000000\] ' ||
    die "gateway_api: steps read back as $(cat "$TMP/gateway-api.weights")"
conflicts=$(jq '[.[] | select(.status == 422 and (.path | endswith("/httproutes/fraud")))] | length' \
    "$TMP/kube-log.json")
[ "$conflicts" -eq 2 ] || die "gateway_api: expected 2 conflicts retried, got $conflicts"

echo "k8s: a rollout through canary control and the istio engine"
rollout istio istio virtual_service /virtualservices/fraud \
    /networking.istio.io/v1beta1/namespaces/shop/virtualservices/fraud '[90,10]'
tail -n 3 "$TMP/istio.weights" | tr '\n' ' ' | grep -qx '\[90,10\] \[50,50\] \[0,100\] ' ||
    die "istio: steps read back as $(cat "$TMP/istio.weights")"

echo "  $NCHECK checks"
