#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# A rollout through `canary control` with HAProxy as the traffic splitter
# (traffic: {haproxy: ...}), against Debian's real HAProxy started here:
#  1. control applies the model's first stable set to HAProxy's backend;
#  2. a candidate's rollout walks its steps (10%, an 8 s pause, 50%); at
#     each the split is counted at the model servers behind HAProxy;
#  3. HAProxy is restarted mid-rollout, during the last step (a pause
#     until a person's promote; its dynamic servers are gone): control's
#     renew puts the split back within a tick; then the promote makes v2
#     stable (HAProxy then sends everything to v2);
#  4. a second rollout is aborted under wrk load: the time from the
#     abort to the canary's last request is measured at the canary.
# The metrics source is `none` and the strategy has set_weight and pause
# steps only (with `none` the warmup waits for no canary request): the
# judge is not what this tests.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/haproxy_lib.sh"
TOKEN=haproxy-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

start_model s1
start_model s2
start_model c1
start_model c2
haproxy_config
start_haproxy

cat >"$TMP/control.yaml" <<EOF
control:
  admin: 127.0.0.1:0
  state: $TMP/control.db
models:
  - name: fraud
    traffic:
      haproxy:
        socket: $HAP_SOCK
        backend: models
        state_file: $HAP_STATE
        drain_timeout: 2s
    metrics: {none: {}}
    stable: {version: v1, addresses: ["$s1_ADDR", "$s2_ADDR"]}
strategy:
  warmup: 0s
  steps:
    - set_weight: 10
    - pause: {duration: 8s}
    - set_weight: 50
    - pause: {}                 # until a person's promote: the restart is not timed
EOF
start_bg control "$CANARY" control --config "$TMP/control.yaml"
control_PID=$LAST_PID
export CANARY_SERVER="http://$(addr_of control '^admin on')"

# split_is N BP CANARY_ADDR: N requests through HAProxy; the canary's
# share fits BP (the engine's weights give these splits exactly)
split_is() {
    reset_counts "$s1_ADDR" "$s2_ADDR" "$3"
    send "$1"
    si_c=$(requests "$3")
    si_s=$(($(requests "$s1_ADDR") + $(requests "$s2_ADDR")))
    [ $((si_c + si_s)) -eq "$1" ] || die "$1 sent, $((si_c + si_s)) arrived at the model servers"
    in_binomial "$si_c" "$1" "$(awk -v b="$2" 'BEGIN { print b / 10000 }')"
    echo "  $2 bp: canary $si_c of $1"
}

# wait_servers WANT: until HAProxy's backend holds exactly these servers
wait_servers() {
    ws_i=0
    until [ "$(hap_servers | awk '{print $1}' | tr '\n' ' ')" = "$1" ]; do
        ws_i=$((ws_i + 1))
        [ $ws_i -lt 200 ] || die "backend servers: '$(hap_servers | tr '\n' ';')', want '$1'"
        sleep 0.05
    done
}

# wait_weight ID PCT: until rollout ID's canary weight is PCT
wait_weight() {
    ww_i=0
    while :; do
        "$CANARY" rollout status "$1" --json >"$TMP/status" 2>/dev/null || true
        [ "$(jq -r '.weight // empty' "$TMP/status" 2>/dev/null)" = "$2" ] && return 0
        ww_i=$((ww_i + 1))
        [ $ww_i -lt 300 ] || die "rollout $1 not at weight $2: $(cat "$TMP/status")"
        sleep 0.05
    done
}

echo "haproxy: 1. control puts the first stable set into HAProxy"
wait_servers "cn-stable-v1-0 cn-stable-v1-1 "
split_is 200 0 "$c1_ADDR"

echo "haproxy: 2. a rollout walks its steps, the split counted at the backends"
run "$CANARY" model register fraud v2 --upstream "$c1_ADDR"
expect_ok
run "$CANARY" model tag fraud v2 production-candidate
expect_ok
wait_weight 1 10
wait_servers "cn-canary-v2-0 cn-stable-v1-0 cn-stable-v1-1 "
split_is 1000 1000 "$c1_ADDR"
# the rollout walks on by itself: the pause ends, 50% is set
wait_weight 1 50
split_is 1000 5000 "$c1_ADDR"

echo "haproxy: 3. an HAProxy restart mid-rollout: renew puts the split back"
restart_haproxy
t_up=$(date +%s%N)
# the new HAProxy starts with no dynamic server; control's next tick
# (every second) finds them missing and applies the generation again
wait_servers "cn-canary-v2-0 cn-stable-v1-0 cn-stable-v1-1 "
echo "  split back $((($(date +%s%N) - t_up) / 1000000)) ms after the new HAProxy answered"
wait_err control "generation [0-9]+ re-applied: server cn-.* is missing"
split_is 1000 5000 "$c1_ADDR"
run "$CANARY" rollout promote 1
expect_ok
wait_state 1 promoted
# v2 is stable on c1: the v1 servers and the canary server leave
wait_servers "cn-stable-v2-0 "
reset_counts "$c1_ADDR"
send 100
[ "$(requests "$c1_ADDR")" = 100 ] || die "after the promotion v2 does not take everything"
trail_ok 1

echo "haproxy: 4. an abort under load: time to the canary's last request"
run "$CANARY" model register fraud v3 --upstream "$c2_ADDR"
expect_ok
run "$CANARY" model tag fraud v3 production-candidate
expect_ok
wait_weight 2 10
traffic_to "127.0.0.1:$HAP_PORT" 6 4
sleep 1
[ "$(requests "$c2_ADDR")" -gt 0 ] || die "the canary got no traffic before the abort"
t0=$(date +%s%N)
run "$CANARY" rollout abort 2
expect_ok
wait_state 2 aborted rolled-back
sleep 1
last=$(http_json "http://$c2_ADDR/stats" .last_request_unix_ns)
late=$(http_json "http://$c2_ADDR/stats?after_ns=$(($(date +%s%N) - 1000000000))" .requests_after)
kill "$WRK" 2>/dev/null || true
echo "  abort: last canary request $(awk -v a="$last" -v b="$t0" 'BEGIN { printf "%.1f", (a - b) / 1e6 }') ms after the CLI's abort started"
[ "$late" -eq 0 ] || die "$late canary requests in the last second after the abort"
# the canary keeps its set at weight 0 (or leaves it): it takes nothing
[ "$(hap_servers | awk '$1 ~ /^cn-canary-/ { w += $2 } END { print w + 0 }')" = 0 ] ||
    die "the canary still has weight: $(hap_servers | tr '\n' ';')"
trail_ok 2

stop_canary control
echo "PASS test_haproxy.sh"
