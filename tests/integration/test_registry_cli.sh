#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The model registry through `canary model` against a real `canary serve`
# with a state file: registering versions (the model is created, its first
# version is stable), tags, the refusals with their exit codes and one line
# naming the field, the --json keys the CLI promises (the API's), and that
# it all survives a restart. Also the client's own exit codes: 69 when the
# server is unreachable, 77 for a refused token, 64 for usage.
. tests/integration/lib.sh
TOKEN=registry-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

start_canary r1 --workers 1 --stable 127.0.0.1:9 --state "$TMP/reg.db"
export CANARY_SERVER="http://$r1_ADMIN"

echo "registry: register versions; the first is stable"
run "$CANARY" model register fraud v1 --upstream 127.0.0.1:9001 --artifact s3://m/v1 \
    --meta team=risk --meta owner=ana --json
expect_ok
json_eq '[.model, .version, .addresses, .artifact, .metadata, .tags]' \
    '["fraud","v1",["127.0.0.1:9001"],"s3://m/v1",{"owner":"ana","team":"risk"},["stable"]]'
json_eq '.created_by' '"admin 127.0.0.1"'
json_eq 'keys' '["addresses","artifact","created_by","created_unix_ms","metadata","model","tags","version"]'
run "$CANARY" model register fraud v2 --upstream 127.0.0.1:9002,127.0.0.1:9003
expect_ok
grep -q '^fraud v2$' "$TMP/out" || die "readable answer: $(cat "$TMP/out")"

echo "registry: refusals name the field, change nothing, exit 65"
run "$CANARY" model register fraud v2 --upstream 127.0.0.1:9004
expect_error 65 "^canary model register: HTTP 400: .*version 'v2' is registered already$"
run "$CANARY" model register fraud v3 --upstream nope
expect_error 65 "^canary model register: HTTP 400: addresses\\[0\\]: expected host:port"
run "$CANARY" model register fraud v3 --upstream 127.0.0.1:1,127.0.0.1:1
expect_error 65 "addresses\\[1\\]: duplicate address '127.0.0.1:1'"
run "$CANARY" model tag fraud v2 gold
expect_error 65 "tag: unknown 'gold' \\(expected stable, production-candidate"
run "$CANARY" model tag fraud v2 retired
expect_error 65 "tag: 'retired' is set by the rollout controller, not by hand"
run "$CANARY" model tag fraud v9 stable
expect_error 65 "HTTP 404: .*v9"
run "$CANARY" model list nosuch
expect_error 65 "HTTP 404: .*no model 'nosuch'"

echo "registry: tags move"
run "$CANARY" model tag fraud v2 production-candidate --json
expect_ok
json_eq '.tags' '["production-candidate"]'
run "$CANARY" model tag fraud v2 stable --json
expect_ok
json_eq '.tags' '["stable"]'
run "$CANARY" model list --json
expect_ok
json_eq '.models[0] | [.name, .version_count, .stable, .candidate, .active_rollout]' \
    '["fraud",2,"v2",null,null]'
json_eq '.models[0] | keys' \
    '["active_rollout","candidate","created_by","created_unix_ms","name","stable","version_count"]'
run "$CANARY" model untag fraud v2 stable
expect_error 65 "HTTP 400"

echo "registry: survives a restart"
stop_canary r1
start_canary r2 --workers 1 --stable 127.0.0.1:9 --state "$TMP/reg.db"
export CANARY_SERVER="http://$r2_ADMIN"
run "$CANARY" model list fraud --json
expect_ok
json_eq '[.versions[] | [.version, .tags]]' '[["v1",[]],["v2",["stable"]]]'
run "$CANARY" model list
expect_ok
grep -Eq '^fraud +2 +v2 +-$' "$TMP/out" || die "readable list: $(cat "$TMP/out")"

echo "registry: the client's exit codes"
CANARY_TOKEN=wrong run "$CANARY" model list
expect_error 77 "refused the token \\(HTTP 401\\)"
run "$CANARY" model list --server http://127.0.0.1:1
expect_error 69 "cannot reach the canary server at http://127.0.0.1:1"
run "$CANARY" model register fraud
expect_error 64 "needs MODEL VERSION"
run "$CANARY" model list --server 127.0.0.1:1
expect_error 64 "expected http://HOST:PORT"

echo "registry: canary rollout without a strategy: section lists, and refuses to start"
run "$CANARY" rollout list
expect_ok
grep -q '^no rollouts$' "$TMP/out" || die "readable empty list: $(cat "$TMP/out")"
run "$CANARY" rollout start fraud v1 --dry-run
expect_error 65 "^canary rollout start: HTTP 400: rollouts need .*strategy: section"
run "$CANARY" rollout pause abc
expect_error 64 "needs the rollout's ID"
run "$CANARY" rollout status --server http://127.0.0.1:1
expect_error 69 "cannot reach the canary server"
run "$CANARY" rollout frob
expect_error 64 "unknown command 'frob'"
stop_canary r2

echo "registry: without a state file there is no registry (503, exit 70)"
start_canary r3 --workers 1 --stable 127.0.0.1:9
run "$CANARY" model list --server "http://$r3_ADMIN"
expect_error 70 "HTTP 503: the model registry lives in the state file"
stop_canary r3
echo "registry: all checks passed ($NCHECK)"
