#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Fault injection: `canary serve` killed by SIGKILL at the worst moments of
# a rollout, three times in a row at each, then restarted for good. The
# kill is deterministic: CANARY_CRASH_AT=POINT makes the process SIGKILL
# itself when it reaches POINT (src/controller/driver.c), as a `kill -9`
# landing there would:
#   warmup     the rollout's warmup was stored
#   analysis   an analysis is running (its attempt stored as spent)
#   promotion  the promotion is published, not yet recorded
#   rollback   the canary's weight 0 is published, not yet recorded
# After every restart the rollout resumes where its state file says, and
# its audit trail is numbered 1..N with no gap and no duplicate; no
# decision is lost or taken twice; attempts a crash interrupted stay spent.
. tests/integration/lib.sh
TOKEN=crash-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

cat >"$TMP/canary.yaml" <<'YAML'
serve:
  model: fraud
  workers: 1
  health:
    interval: 400ms
    timeout: 400ms
strategy:
  warmup: 1s
  progress_deadline: 60s
  steps:
    - set_weight: 20
    - pause: {duration: 2s}
    - analysis: {}
    - set_weight: 50
    - pause: {duration: 2s}
    - analysis: {}
  max_bake: 60s
  retries: 2
  triggers:
    error_rate: {max: 0.05}
analysis:
  alpha: 0.05
  min_per_arm: 50
  metrics:
    - name: error
      test: proportion
      margin: 0.05
YAML

start_model s1 0.5 --delay-ms 1
start_model good 0.5 --delay-ms 1
start_model bad 0.5 --delay-ms 1 --fail-rate 0.5

# serve NAME STATE [CRASH_AT]: start canary serve (it may die at once);
# sets SV_PID, SV_ADMIN, SV_ADDR when it came up
serve() {
    CANARY_CRASH_AT=${3:-} start_bg "$1" "$CANARY" serve --listen 127.0.0.1:0 \
        --admin 127.0.0.1:0 --config "$TMP/canary.yaml" --stable "$s1_ADDR" \
        --stable-version v1 --state "$2"
    SV_PID=$LAST_PID
    eval "${1}_PID=$SV_PID"
    sv_i=0
    SV_ADMIN=""
    while [ $sv_i -lt 200 ]; do
        if grep -q '^admin on' "$TMP/$1.out" 2>/dev/null; then
            SV_ADMIN=$(grep '^admin on' "$TMP/$1.out" | awk '{print $NF}')
            SV_ADDR=$(grep '^listening on' "$TMP/$1.out" | awk '{print $NF}')
            export CANARY_SERVER="http://$SV_ADMIN"
            traffic_to "$SV_ADDR" 120 2
            return 0
        fi
        kill -0 "$SV_PID" 2>/dev/null || return 0
        sv_i=$((sv_i + 1))
        sleep 0.05
    done
    die "$1 neither came up nor died: $(cat "$TMP/$1.err")"
}

# died NAME: canary serve NAME must end by SIGKILL at its crash point (60 s)
died() {
    dd_i=0
    while kill -0 "$SV_PID" 2>/dev/null; do
        dd_i=$((dd_i + 1))
        [ $dd_i -lt 1200 ] || die "$1 did not reach its crash point: $(tail -5 "$TMP/$1.err")"
        sleep 0.05
    done
    dd_rc=0
    wait "$SV_PID" 2>/dev/null || dd_rc=$?
    [ "$dd_rc" -eq 137 ] || die "$1 ended with $dd_rc, not SIGKILL: $(tail -5 "$TMP/$1.err")"
    grep -q "CANARY_CRASH_AT=" "$TMP/$1.err" || die "$1 died elsewhere: $(tail -5 "$TMP/$1.err")"
    kill "$WRK" 2>/dev/null || true
}

# crash_run POINT VERSION ADDR: three crashes at POINT, then a clean run
crash_run() {
    cr_db="$TMP/$1.db"
    serve "${1}_0" "$cr_db" "$1"
    [ -n "$SV_ADMIN" ] || die "$1: the first start died before it served"
    run "$CANARY" model register fraud "$2" --upstream "$3"
    expect_ok
    run "$CANARY" rollout start fraud "$2"
    # warmup begins inside the start itself: the server may die answering it
    [ "$RC" -eq 0 ] || { [ "$1" = warmup ] && [ "$RC" -eq 69 ]; } ||
        die "$1: rollout start: exit $RC $(cat "$TMP/err")"
    died "${1}_0"
    k=1
    while [ $k -le 2 ]; do
        serve "${1}_$k" "$cr_db" "$1"
        died "${1}_$k"
        k=$((k + 1))
    done
    serve "${1}_ok" "$cr_db"
    [ -n "$SV_ADMIN" ] || die "$1: the clean start died: $(cat "$TMP/${1}_ok.err")"
    wait_err "${1}_ok" "rollout 1 \\(fraud $2\\): resuming"
}

echo "crash: warmup, three times"
crash_run warmup v2 "$good_ADDR"
trail_ok 1
run "$CANARY" rollout history 1 --json
json_eq '[.entries[].reason | select(test("restarted"))] | length >= 3' true
wait_state 1 promoted
trail_ok 1
stop_canary warmup_ok

echo "crash: during an analysis, three times: its attempts stay spent"
crash_run analysis v2 "$good_ADDR"
# three attempts (1 + retries) at the first analysis were lost to crashes
wait_state 1 holding
run "$CANARY" rollout status 1 --json
json_eq '[.analysis_attempts, (.reason | test("budget spent"))]' '[3,true]'
trail_ok 1
run "$CANARY" rollout promote 1 --reason "the crashes were ours, not the model's"
expect_ok
wait_state 1 promoted
trail_ok 1
stop_canary analysis_ok

echo "crash: after the promotion is published, three times"
crash_run promotion v2 "$good_ADDR"
wait_state 1 promoted
trail_ok 1
v=$(http_json "$CANARY_SERVER/v1/versions" '[.stable.version, .canary.addresses]' \
    -H "Authorization: Bearer $TOKEN")
[ "$v" = '["v2",[]]' ] || die "promotion after crashes: the router runs $v"
run "$CANARY" model list fraud --json
json_eq '[.versions[] | [.version, .tags]]' '[["v1",["retired"]],["v2",["stable"]]]'
run "$CANARY" rollout history 1 --json
json_eq '[.entries[] | select(.state == "promoted")] | length' 1
stop_canary promotion_ok

echo "crash: after a rollback's weight 0 is published, three times"
crash_run rollback v3 "$bad_ADDR"
wait_state 1 rolled-back
trail_ok 1
w=$(http_json "$CANARY_SERVER/v1/traffic" '.canary_weight' -H "Authorization: Bearer $TOKEN")
[ "$w" = 0 ] || die "rolled back after crashes, but the canary weight is $w"
run "$CANARY" rollout history 1 --json
json_eq '[.entries[] | select(.state == "rolled-back")] | length' 1
run "$CANARY" model list fraud --json
json_eq '[.versions[] | select(.version == "v3") | .tags]' '[["rolled-back"]]'
stop_canary rollback_ok
echo "crash: all checks passed ($NCHECK)"
