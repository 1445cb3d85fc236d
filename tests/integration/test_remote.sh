#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Several `canary serve` replicas under one controller, with real
# processes: model servers, replicas and the remote engine (through
# build/remote-drive, a controller reduced to the engine).
#  - one replica driven with curl alone: a generation applied through
#    PUT /v1/generation (stored, logged, idempotent), its own changes
#    refused while the controller holds the lease, and the lease's
#    fallback to weight 0 when the controller goes quiet, in its log and
#    /metrics;
#  - two replicas through the engine: apply reaches both, read merges
#    both (the requests of both proxies), a rollback reaches both, and a
#    replica that is gone fails apply and read with its name;
#  - end to end: `canary control` with `traffic: {remote: ...}` over three
#    replicas: a good candidate walks its steps and is promoted on every
#    replica; a candidate that answers 500s is rolled back, weight 0 on
#    every replica, and the canary backend gets nothing after; a replica
#    stopped before a rollout starts: the start reports the replica, and
#    the rollout is paused (held), never promoted.
. tests/integration/lib.sh
: "${REMOTE_DRIVE:=build/remote-drive}"
TOKEN=remote-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
AUTH="Authorization: Bearer $TOKEN"

# call METHOD URL [BODY]: status in $CODE, body in $TMP/body
call() {
    if [ $# -ge 3 ]; then
        CODE=$(curl -s -o "$TMP/body" -w '%{http_code}' -X "$1" -H "$AUTH" -d "$3" "$2")
    else
        CODE=$(curl -s -o "$TMP/body" -w '%{http_code}' -X "$1" -H "$AUTH" "$2")
    fi
}

# infer PROXY N: N model requests through a replica's proxy
infer() {
    i=0
    while [ $i -lt "$2" ]; do
        curl -sf -o /dev/null -H 'Content-Type: application/json' \
            -d '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}' \
            "http://$1/v2/models/m/infer" || die "request $i through $1 failed"
        i=$((i + 1))
    done
}

served() { # MODEL: model requests the model server has answered
    curl -sf "http://$1/stats" | jq .requests
}

start_model stable
start_model canary

echo "remote: a replica driven with curl; the lease falls back to weight 0"
start_canary r1 --workers 1 --stable "$stable_ADDR" --state "$TMP/r1.db"
gen() { # G WEIGHT_BP LEASE_MS [CONTROLLER]
    printf '{"controller":"%s","generation":%s,"traffic":{"canary_weight_bp":%s},' \
        "${4:-ctl-test}" "$1" "$2"
    printf '"stable":{"version":"v1","addresses":["%s"]},' "$stable_ADDR"
    printf '"canary":{"version":"v2","addresses":["%s"]},"lease_ms":%s}' "$canary_ADDR" "$3"
}
call PUT "http://$r1_ADMIN/v1/generation" "$(gen 7 5000 5000)"
[ "$CODE" = 200 ] || die "PUT /v1/generation: HTTP $CODE $(cat "$TMP/body")"
run jq -c . "$TMP/body"
json_eq .generation 7
json_eq .changed true
json_eq .canary_weight_bp 5000
local_gen=$(jq .local_generation "$TMP/body")
grep -q 'change by controller ctl-test: generation '"$local_gen" "$TMP/r1.err" ||
    die "no log line: $(cat "$TMP/r1.err")"
call PUT "http://$r1_ADMIN/v1/generation" "$(gen 7 5000 5000)"
run jq -c . "$TMP/body"
json_eq .changed false
json_eq .local_generation "$local_gen"
call PUT "http://$r1_ADMIN/v1/generation" "$(gen 6 0 5000)"
[ "$CODE" = 409 ] || die "an older generation: HTTP $CODE $(cat "$TMP/body")"
grep -q 'generation 6 is older than generation 7' "$TMP/body" || die "$(cat "$TMP/body")"
call PUT "http://$r1_ADMIN/v1/generation" "$(gen 8 0 5000 intruder)"
[ "$CODE" = 409 ] || die "another controller: HTTP $CODE $(cat "$TMP/body")"
grep -q 'managed by controller ctl-test' "$TMP/body" || die "$(cat "$TMP/body")"
call PUT "http://$r1_ADMIN/v1/traffic" '{"canary_weight":20}'
[ "$CODE" = 409 ] || die "a local change while managed: HTTP $CODE $(cat "$TMP/body")"
grep -q 'managed by controller ctl-test' "$TMP/body" || die "$(cat "$TMP/body")"
call PUT "http://$r1_ADMIN/v1/models/fraud/versions/v1/tags/stable"
[ "$CODE" = 409 ] || die "a tag while managed: HTTP $CODE $(cat "$TMP/body")"
call POST "http://$r1_ADMIN/v1/rollouts" '{"model":"fraud","version":"v2"}'
[ "$CODE" = 409 ] || die "a rollout while managed: HTTP $CODE $(cat "$TMP/body")"
renew() {
    call POST "http://$r1_ADMIN/v1/lease" '{"controller":"ctl-test","generation":7,"lease_ms":5000}'
    [ "$CODE" = 200 ] || die "POST /v1/lease: HTTP $CODE $(cat "$TMP/body")"
}
# the controller's heartbeat, by hand, between short bursts of requests
for burst in 1 2 3 4 5 6 7 8; do
    renew
    infer "$r1_ADDR" 5
done
[ "$(served "$canary_ADDR")" -gt 5 ] || die "the canary got $(served "$canary_ADDR") of 40"
renew
t0=$(date +%s%N)
call GET "http://$r1_ADMIN/v1/snapshot?generation=7&mask=1"
[ "$CODE" = 200 ] || die "GET /v1/snapshot: HTTP $CODE $(cat "$TMP/body")"
head -c 8 "$TMP/body" | grep -q CNSNAP01 || die "not a snapshot: $(head -c 40 "$TMP/body")"
call GET "http://$r1_ADMIN/v1/snapshot?generation=6&mask=1"
[ "$CODE" = 404 ] || die "a generation not applied: HTTP $CODE"
# silence: the lease (5 s) runs out; the replica falls back by itself
i=0
while :; do
    w=$(http_json "http://$r1_ADMIN/v1/traffic" .canary_weight -H "$AUTH")
    [ "$w" = '"0.00%"' ] || [ "$w" = 0 ] && break
    i=$((i + 1))
    [ $i -lt 200 ] || die "the weight is still $w 10 s after the last word"
    sleep 0.05
done
waited_ms=$((($(date +%s%N) - t0) / 1000000))
echo "  fell back ${waited_ms} ms after the renewal (lease 5000 ms)"
[ "$waited_ms" -ge 4900 ] && [ "$waited_ms" -le 8000 ] ||
    die "fell back after $waited_ms ms, lease 5000 ms"
grep -q 'lease: no word from controller ctl-test for 5000 ms: canary weight set to 0' \
    "$TMP/r1.err" || die "no lease line: $(cat "$TMP/r1.err")"
curl -sf "http://$r1_ADMIN/metrics" >"$TMP/metrics" || die "GET /metrics"
grep -qx 'canary_lease_expired_total 1' "$TMP/metrics" || die "$(grep lease "$TMP/metrics")"
grep -q '^canary_lease_contact_age_seconds ' "$TMP/metrics" || die "no contact age"
grep -qx 'canary_lease_managed 0' "$TMP/metrics" || die "$(grep lease "$TMP/metrics")"
# the controller's renewal of a generation that no longer runs is refused
call POST "http://$r1_ADMIN/v1/lease" '{"controller":"ctl-test","generation":7,"lease_ms":5000}'
[ "$CODE" = 409 ] || die "a renewal after the fallback: HTTP $CODE $(cat "$TMP/body")"
# no longer managed: a person's change is taken, and stays
call PUT "http://$r1_ADMIN/v1/traffic" '{"canary_weight":10}'
[ "$CODE" = 200 ] || die "a local change after the lease: HTTP $CODE $(cat "$TMP/body")"
n0=$(served "$canary_ADDR")
# 150 at 10%: none to the canary by chance has probability 0.9^150 = 1.4e-7
# (30 left it at 4%: the test failed so once under load)
infer "$r1_ADDR" 150
[ "$(served "$canary_ADDR")" -gt "$n0" ] || die "weight 10% sent nothing to the canary"
stop_canary r1

echo "remote: two replicas through the engine: apply, merged read, rollback, a replica gone"
start_canary a --workers 1 --stable "$stable_ADDR"
start_canary b --workers 1 --stable "$stable_ADDR"
drive() {
    "$REMOTE_DRIVE" --replica "http://$a_ADMIN" --replica "http://$b_ADMIN" \
        --controller ctl-test --lease 10s --stable "v1=$stable_ADDR" \
        --canary "v2=$canary_ADDR" "$@"
}
run drive apply 1 5000
expect_ok
grep -q '^applied 1 ' "$TMP/out" || die "$(cat "$TMP/out")"
infer "$a_ADDR" 25
infer "$b_ADDR" 35
run drive read 1
expect_ok
# shellcheck disable=SC2046 # fields on purpose
set -- $(cat "$TMP/out")
[ "$1 $2" = "read 1" ] || die "$(cat "$TMP/out")"
[ $(($3 + $4)) -eq 60 ] || die "merged requests $3 + $4, sent 60"
[ "$4" -gt 0 ] && [ "$5" -eq "$4" ] || die "canary $4 requests, $5 latencies"
run drive apply 2 0
expect_ok
for r in a b; do
    eval "adm=\$${r}_ADMIN"
    w=$(http_json "http://$adm/v1/traffic" .canary_weight -H "$AUTH")
    [ "$w" = '"0.00%"' ] || [ "$w" = 0 ] || die "$r: weight $w after the rollback"
done
n0=$(served "$canary_ADDR")
infer "$a_ADDR" 20
infer "$b_ADDR" 20
[ "$(served "$canary_ADDR")" -eq "$n0" ] || die "the canary got requests after the rollback"
kill "$b_PID"
wait "$b_PID" 2>/dev/null || true
run drive apply 3 2500
[ "$RC" -eq 1 ] || die "apply with a replica gone: exit $RC"
grep -q "^apply failed: 1 of 2 replicas did not confirm generation 3; replica http://$b_ADMIN: " \
    "$TMP/out" || die "$(cat "$TMP/out")"
run drive read 3
[ "$RC" -eq 1 ] || die "read with a replica gone: exit $RC"
grep -q "^read failed: replica http://$b_ADMIN: " "$TMP/out" || die "$(cat "$TMP/out")"
stop_canary a

echo "remote: canary control over three replicas: a promotion, then a rollback"
start_model good 0.5
start_model bad 0.5 --fail-rate 0.5
for r in x y z; do
    start_canary "$r" --workers 1 --stable "$stable_ADDR" --stable-version v1
done
cat >"$TMP/control.yaml" <<YAML
control:
  admin: 127.0.0.1:0
  state: $TMP/control.db
models:
  - name: fraud
    traffic:
      remote:
        replicas:
          - {url: "http://$x_ADMIN"}
          - {url: "http://$y_ADMIN"}
          - {url: "http://$z_ADMIN"}
        lease: 5s
        renew_every: 1s
        controller: ctl-e2e
    stable: {version: v1, addresses: ["$stable_ADDR"]}
strategy:
  warmup: 1s
  progress_deadline: 20s
  steps:
    - set_weight: 20
    - pause: {duration: 2s}
    - analysis: {}
    - set_weight: 50
    - pause: {duration: 2s}
    - analysis: {}
  max_bake: 60s
  on_marginal: hold
  triggers:
    error_rate: {max: 0.05, max_ratio: 3.0}
analysis:
  alpha: 0.05
  min_per_arm: 100
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 100%
    - name: error
      test: proportion
      margin: 0.05
YAML
start_bg ctl "$CANARY" control --config "$TMP/control.yaml"
CTL_PID=$LAST_PID
CTL_ADMIN=$(addr_of ctl '^admin on')
export CANARY_SERVER="http://$CTL_ADMIN"
for r in x y z; do
    eval "adm=\$${r}_ADMIN"
    i=0
    until grep -q 'change by controller ctl-e2e' "$TMP/$r.err"; do
        i=$((i + 1))
        [ $i -lt 100 ] || die "$r: canary control never applied: $(cat "$TMP/ctl.err")"
        sleep 0.05
    done
done
for r in x y z; do
    eval "p=\$${r}_ADDR"
    traffic_to "$p" 120 2
done
run "$CANARY" model register fraud v2 --upstream "$good_ADDR"
expect_ok
run "$CANARY" model tag fraud v2 production-candidate
expect_ok
wait_state 1 promoted
for r in x y z; do
    eval "adm=\$${r}_ADMIN"
    v=$(http_json "http://$adm/v1/versions" '[.stable.version, .stable.addresses]' -H "$AUTH")
    [ "$v" = "[\"v2\",[\"$good_ADDR\"]]" ] || die "$r did not follow the promotion: $v"
done
[ "$(served "$good_ADDR")" -gt 100 ] || die "v2 served $(served "$good_ADDR")"
run "$CANARY" model register fraud v3 --upstream "$bad_ADDR"
expect_ok
run "$CANARY" model tag fraud v3 production-candidate
expect_ok
wait_state 2 rolled-back
for r in x y z; do
    eval "adm=\$${r}_ADMIN"
    w=$(http_json "http://$adm/v1/traffic" .canary_weight -H "$AUTH")
    [ "$w" = '"0.00%"' ] || [ "$w" = 0 ] || die "$r: weight $w after the rollback"
done
n0=$(served "$bad_ADDR")
[ "$n0" -gt 0 ] || die "v3 was never tried"
sleep 1
[ "$(served "$bad_ADDR")" -eq "$n0" ] || die "v3 got requests after the rollback"
run "$CANARY" rollout history 2 --json
json_eq '[.entries[-1].state]' '["rolled-back"]'
# a replica that goes away: the rollout is held (paused), never promoted
start_model good3 0.5
run "$CANARY" model register fraud v4 --upstream "$good3_ADDR"
expect_ok
stop_canary z
run "$CANARY" model tag fraud v4 production-candidate
[ "$RC" -ne 0 ] || die "a rollout with a replica gone started quietly: $(cat "$TMP/out")"
grep -q "traffic not set: 1 of 3 replicas did not confirm generation .*http://$z_ADMIN" \
    "$TMP/err" || die "$(cat "$TMP/err")"
wait_state 3 paused
run jq -r .reason "$TMP/status"
grep -q "^paused by controller: held: the traffic engine (remote) failed: .*nothing is judged or promoted" \
    "$TMP/out" || die "$(cat "$TMP/out")"
kill "$CTL_PID"
rc=0
wait "$CTL_PID" || rc=$?
[ "$rc" -eq 0 ] || die "canary control exited $rc after SIGTERM: $(tail -n 20 "$TMP/ctl.err")"
! grep -Eq 'Sanitizer|runtime error' "$TMP/ctl.err" || die "$(grep -A 15 Sanitizer "$TMP/ctl.err")"
for r in x y; do stop_canary "$r"; done
echo "remote: $NCHECK checks passed"
