#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `canary k8s manifests`: the YAML for Gateway API and Istio is exactly the
# golden files in tests/golden/k8s/ (a change to it is a reviewed change
# of those files), parses as YAML, holds the six objects, and its Role
# grants get and patch on the one route object and nothing else; its
# ConfigMap holds a control config. Bad options are one line and 64.
#
# The engines themselves are tested against the fake API server
# (fake_kube_api.py) by the unit suites k8s_live/*; no real cluster runs
# here (docs/SCALE.md).
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
[ "$RC" -eq 0 ] && grep -q "usage: canary k8s manifests" "$TMP/out" || die "--help"

echo "  $NCHECK checks"
