#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Notifications and gate hooks (docs/NOTIFY.md), with real processes:
# canary serve, model servers, wrk, and webhook receivers
# (webhook_receiver.py, python3's http.server).
#  1. a rollout's events reach a json target once each, in order, signed
#     (HMAC-SHA256 over the body, checked here with the secret), with the
#     event id in a header and the per-metric reasons in the body;
#  2. a target that is down gets every event after it comes back, once
#     each and in order, and the rollout goes at its normal pace meanwhile;
#  3. kill -9 of canary serve with events undelivered: after the restart
#     each is delivered once;
#  4. a gate hook answering 503 holds the rollout, with the reason; 200
#     releases it and the rollout goes on by itself;
#  5. a gate hook that times out holds it; a person's resume goes past it;
#  6. a canary that fails trips its trigger: a json target filtered to
#     trigger_fired and rolled_back gets those two, a pagerduty target
#     two triggers with the rollout's dedup key, slack and teams targets
#     their messages.
. tests/integration/lib.sh
TOKEN=notify-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
RECV=tests/integration/webhook_receiver.py

# start_receiver NAME [PORT]: a receiver writing into $TMP/NAME/; sets
# NAME_PID, NAME_ADDR
start_receiver() {
    mkdir -p "$TMP/$1"
    : >"$TMP/$1/requests.jsonl"
    start_bg "$1" python3 "$RECV" "$TMP/$1" ${2:-0}
    eval "${1}_PID=$LAST_PID"
    eval "${1}_ADDR=$(addr_of "$1" '^listening on')"
}

# free_port: a loopback port nothing listens on (bound, then released)
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# check_events NAME SECRET EVENTS...: the receiver got exactly EVENTS (in
# that order) as 2xx deliveries, each event id once, each signature valid
check_events() {
    ce_name=$1
    ce_secret=$2
    shift 2
    python3 - "$TMP/$ce_name/requests.jsonl" "$ce_secret" "$@" <<'PY' ||
import hashlib, hmac, json, sys
path, secret, want = sys.argv[1], sys.argv[2], sys.argv[3:]
reqs = [json.loads(l) for l in open(path) if l.strip()]
ok = [r for r in reqs if r["status"] < 300]
got = [json.loads(r["body"])["event"] for r in ok]
if got != want:
    sys.exit("events: want %s, got %s" % (want, got))
ids = [r["event_id"] for r in ok]
if len(set(ids)) != len(ids):
    sys.exit("an event delivered twice: %s" % ids)
for r in ok:
    body = json.loads(r["body"])
    if body["id"] != r["event_id"] or body["event"] != r["event"]:
        sys.exit("headers and body disagree: %s" % r)
    if r["content_type"] != "application/json":
        sys.exit("content type %s" % r["content_type"])
    if secret:
        mac = hmac.new(secret.encode(), r["body"].encode(), hashlib.sha256).hexdigest()
        if r["signature"] != "sha256=" + mac:
            sys.exit("bad signature on %s: %s, want sha256=%s" % (r["event_id"], r["signature"], mac))
    elif r["signature"]:
        sys.exit("signed without a secret")
    for k in ("schema", "id", "event", "time", "model", "rollout_id", "version",
              "baseline", "state", "reason", "step_index", "step_count", "weight_pct",
              "verdict", "analysis"):
        if k not in body:
            sys.exit("%s lacks %s" % (r["event_id"], k))
PY
        die "$ce_name: $(tail -c 600 "$TMP/$ce_name/requests.jsonl")"
}

# wait_events NAME N: until the receiver has N 2xx deliveries (30 s)
wait_events() {
    we_i=0
    while :; do
        we_n=$(grep -c '"status": 2' "$TMP/$1/requests.jsonl" 2>/dev/null || true)
        [ "${we_n:-0}" -ge "$2" ] && return 0
        we_i=$((we_i + 1))
        [ $we_i -lt 300 ] || die "$1: $we_n of $2 events after 30 s"
        sleep 0.1
    done
}

strategy() {
    cat <<YAML
strategy:
  warmup: 0s
  progress_deadline: 30s
  steps:
    - set_weight: 20
    - pause: {duration: 1s}
    - analysis: {}
    - set_weight: 50
    - pause: {duration: 1s}
  max_bake: 60s
$1
analysis:
  alpha: 0.05
  min_per_arm: 20
  metrics:
    - name: latency_ms
      test: mann-whitney
      margin: 300%
YAML
}

echo "notify: 1. events reach a json target once each, in order, signed"
start_receiver r1
printf 'k3y-for-hmac\n' >"$TMP/secret"
chmod 600 "$TMP/secret"
{
    cat <<YAML
serve:
  model: fraud
  workers: 1
  notifications:
    - name: ops
      url: http://$r1_ADDR/hook
      secret_file: $TMP/secret
      timeout: 2s
YAML
    strategy ""
} >"$TMP/n1.yaml"
start_model s1 0.5
start_model c1 0.5
start_canary n1 --config "$TMP/n1.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/n1.db"
export CANARY_SERVER="http://$n1_ADMIN"
traffic_to "$n1_ADDR" 120
run "$CANARY" model register fraud v2 --upstream "$c1_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
wait_state 1 promoted
wait_events r1 4
sleep 0.5
check_events r1 k3y-for-hmac started step step promoted
# from the change to the target: the event's time to its arrival
lat=$(jq -s 'map(select(.status < 300) | .received_unix_ms - (.body | fromjson).time_unix_ms)
    | "\(min) to \(max) ms"' -r "$TMP/r1/requests.jsonl")
echo "  4 events delivered, each $lat after its change"
# the promotion carries the analysis, its reasons in words and numbers
jq -es 'map(select(.status < 300) | .body | fromjson) | last |
    .analysis.verdict == "pass" and (.analysis.metrics[0].name == "latency_ms") and
    (.analysis.metrics[0].ci | length) == 2 and (.analysis.metrics[0].reason | length) > 0
    and .weight_pct == 100 and .step_count == 5 and .verdict == "pass" and
    .blast_radius.canary_requests > 0 and .blast_radius.canary_failed == 0 and
    .blast_radius.share > 0 and .blast_radius.share < 1' "$TMP/r1/requests.jsonl" >/dev/null ||
    die "the promoted event: $(tail -c 800 "$TMP/r1/requests.jsonl")"
[ "$(sqlite3 "$TMP/n1.db" 'SELECT count(*) FROM notify_outbox')" = 0 ] ||
    die "delivered events stay in the outbox"
m=$(curl -s "http://$n1_ADMIN/metrics")
echo "$m" | grep -q '^canary_notify_delivered_total{target="ops"} 4$' ||
    die "/metrics: $(echo "$m" | grep canary_notify)"
echo "$m" | grep -q '^canary_notify_pending{target="ops"} 0$' || die "pending"
kill "$WRK" 2>/dev/null || true
stop_canary n1

# serve_config FILE TARGETS_YAML [STRATEGY_EXTRA]: a config with these
# notification targets (indented list items) and the strategy above
serve_config() {
    {
        printf 'serve:\n  model: fraud\n  workers: 1\n'
        [ -z "$2" ] || printf '  notifications:\n%s\n' "$2"
        strategy "${3:-}"
    } >"$1"
}

echo "notify: 2. a target that is down gets its events when it is back; the rollout does not wait"
# Two canary serves side by side, on the same machine at the same time (so
# that a loaded machine slows both alike): one's target is up, the other's
# is down; their rollouts must take about as long.
start_model s2 0.5
start_model c2 0.5
port=$(free_port)
serve_config "$TMP/n2a.yaml" "    - {name: up, url: 'http://$r1_ADDR/hook2'}"
serve_config "$TMP/n2.yaml" "    - name: late
      url: http://127.0.0.1:$port/hook
      secret: late-secret
      timeout: 1s
      backoff_min: 100ms
      backoff_max: 1s"
for n in n2a n2; do
    start_canary $n --config "$TMP/$n.yaml" --stable "$s2_ADDR" --stable-version v1 \
        --state "$TMP/$n.db"
    eval "export CANARY_SERVER=http://\$${n}_ADMIN"
    eval "traffic_to \$${n}_ADDR 120"
    wrks="${wrks:-} $WRK"
    run "$CANARY" model register fraud v2 --upstream "$c2_ADDR"
    expect_ok
done
for n in n2a n2; do
    eval "export CANARY_SERVER=http://\$${n}_ADMIN"
    run "$CANARY" rollout start fraud v2
    expect_ok
done
for n in n2a n2; do
    eval "export CANARY_SERVER=http://\$${n}_ADMIN"
    wait_state 1 promoted
done
took() { sqlite3 "$1" 'SELECT ended_unix_ms - started_unix_ms FROM rollouts WHERE id = 1'; }
up_ms=$(took "$TMP/n2a.db")
down_ms=$(took "$TMP/n2.db")
echo "  rollout to promoted: ${up_ms} ms with its target up, ${down_ms} ms with it down"
[ "$down_ms" -lt $((up_ms * 3 / 2 + 2000)) ] ||
    die "the rollout waited for a target that is down: $down_ms ms against $up_ms ms"
m=$(curl -s "http://$n2_ADMIN/metrics")
echo "$m" | grep -q '^canary_notify_pending{target="late"} 4$' ||
    die "4 events wait: $(echo "$m" | grep canary_notify)"
failed=$(echo "$m" | awk '/^canary_notify_failed_attempts_total\{target="late"\}/ {print $2}')
[ "${failed:-0}" -ge 1 ] || die "failed attempts are counted: $(echo "$m" | grep canary_notify)"
grep -q "notify: target 'late': event 1-.* attempt [0-9]* failed: .*; next in [0-9]* ms" \
    "$TMP/n2.err" || die "a failure is logged: $(grep notify "$TMP/n2.err" | head -3)"
start_receiver r2 "$port"
wait_events r2 4
sleep 1.5
check_events r2 late-secret started step step promoted
echo "  failed attempts before the target came back: $failed"
for w in $wrks; do kill "$w" 2>/dev/null || true; done
stop_canary n2a
stop_canary n2

echo "notify: 3. kill -9 with events undelivered: after the restart, each once"
port=$(free_port)
serve_config "$TMP/n3.yaml" "    - name: crash
      url: http://127.0.0.1:$port/hook
      timeout: 1s
      backoff_min: 100ms
      backoff_max: 500ms"
start_canary n3 --config "$TMP/n3.yaml" --stable "$s2_ADDR" --stable-version v1 \
    --state "$TMP/n3.db"
export CANARY_SERVER="http://$n3_ADMIN"
traffic_to "$n3_ADDR" 120
run "$CANARY" model register fraud v2 --upstream "$c2_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
wait_state 1 promoted
kill -9 "$n3_PID"
wait "$n3_PID" 2>/dev/null || true
kill "$WRK" 2>/dev/null || true
pending=$(sqlite3 "$TMP/n3.db" 'SELECT count(*) FROM notify_outbox')
[ "$pending" = 4 ] || die "4 events in the outbox after kill -9, got $pending"
start_receiver r3 "$port"
start_canary n3b --config "$TMP/n3.yaml" --stable "$s2_ADDR" --stable-version v1 \
    --state "$TMP/n3.db"
wait_events r3 4
sleep 1.5
check_events r3 "" started step step promoted
[ "$(sqlite3 "$TMP/n3.db" 'SELECT count(*) FROM notify_outbox')" = 0 ] ||
    die "delivered after the restart, the outbox is empty"
stop_canary n3b

echo "notify: 4. a gate hook answering 503 holds the rollout; 200 releases it"
start_receiver g4
echo 503 >"$TMP/g4/mode"
serve_config "$TMP/n4.yaml" "    - {name: ops, url: 'http://$r1_ADDR/hook4', events: [held, resumed]}" \
    "  gates:
    confirm_traffic_increase: {url: 'http://$g4_ADDR/gate', timeout: 2s}
    interval: 1s"
start_canary n4 --config "$TMP/n4.yaml" --stable "$s2_ADDR" --stable-version v1 \
    --state "$TMP/n4.db"
export CANARY_SERVER="http://$n4_ADMIN"
traffic_to "$n4_ADDR" 120
run "$CANARY" model register fraud v2 --upstream "$c2_ADDR"
expect_ok
: >"$TMP/r1/requests.jsonl"
run "$CANARY" rollout start fraud v2
expect_ok
wait_state 1 holding
run "$CANARY" rollout status 1 --json
jq -e '.reason | test("confirm_traffic_increase did not confirm step 0 \\(weight 20%\\): confirm_traffic_increase answered HTTP 503; asked again every 1000 ms")' \
    "$TMP/out" >/dev/null || die "the hold says why: $(cat "$TMP/out")"
jq -e '.weight_pct // .weight // 0 | . == 0' "$TMP/out" >/dev/null ||
    die "no traffic before the gate says yes: $(cat "$TMP/out")"
sleep 4
asked=$(grep -c '"path": "/gate"' "$TMP/g4/requests.jsonl")
[ "$asked" -ge 3 ] || die "the gate is asked again every second: $asked calls"
jq -es 'map(.body | fromjson) | .[0] | .gate == "confirm_traffic_increase" and
    .weight_pct == 20 and .model == "fraud" and .step_index == 0' \
    "$TMP/g4/requests.jsonl" >/dev/null || die "gate body: $(head -1 "$TMP/g4/requests.jsonl")"
echo 200 >"$TMP/g4/mode"
wait_state 1 promoted
wait_events r1 2
check_events r1 "" held resumed
echo "  the gate was asked $(grep -c '"path": "/gate"' "$TMP/g4/requests.jsonl") times"
kill "$WRK" 2>/dev/null || true
stop_canary n4

echo "notify: 5. a gate hook that times out holds the rollout"
start_receiver g5
echo "sleep 3" >"$TMP/g5/mode"
serve_config "$TMP/n5.yaml" "" "  gates:
    confirm_traffic_increase: {url: 'http://$g5_ADDR/gate', timeout: 500ms}
    interval: 1s"
start_canary n5 --config "$TMP/n5.yaml" --stable "$s2_ADDR" --stable-version v1 \
    --state "$TMP/n5.db"
export CANARY_SERVER="http://$n5_ADMIN"
run "$CANARY" model register fraud v2 --upstream "$c2_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
wait_state 1 holding
run "$CANARY" rollout status 1 --json
jq -e '.reason | test("confirm_traffic_increase did not confirm step 0 .*timed out")' \
    "$TMP/out" >/dev/null || die "the hold says it timed out: $(cat "$TMP/out")"
# a person answers for the gate: resume goes past it
run "$CANARY" rollout resume 1 --reason "checked by hand"
expect_ok
run "$CANARY" rollout history 1 --json
jq -e '[.entries[].reason] | any(test("^holding -> progressing: resumed by .* past confirm_traffic_increase: checked by hand$"))' \
    "$TMP/out" >/dev/null || die "the resume is recorded: $(jq -c '[.entries[].reason]' "$TMP/out")"
run "$CANARY" rollout abort 1 --reason "gate never answers"
expect_ok
wait_state 1 aborted
stop_canary n5

echo "notify: 6. a trigger and a rollback, in every format"
start_receiver r6
start_model c6 0.5 --status 500
serve_config "$TMP/n6.yaml" "    - {name: j, url: 'http://$r6_ADDR/json', events: [trigger_fired, rolled_back]}
    - {name: pd, url: 'http://$r6_ADDR/pd', format: pagerduty, routing_key: R0UT1NG}
    - {name: sl, url: 'http://$r6_ADDR/slack', format: slack, events: [rolled_back]}
    - {name: tm, url: 'http://$r6_ADDR/teams', format: teams, events: [rolled_back]}" \
    "  triggers:
    error_rate: {max: 0.05}"
start_canary n6 --config "$TMP/n6.yaml" --stable "$s2_ADDR" --stable-version v1 \
    --state "$TMP/n6.db"
export CANARY_SERVER="http://$n6_ADMIN"
traffic_to "$n6_ADDR" 60
run "$CANARY" model register fraud v2 --upstream "$c6_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
wait_state 1 rolled-back
wait_events r6 6
sleep 1
python3 - "$TMP/r6/requests.jsonl" <<'PY' || die "formats: $(head -c 1500 "$TMP/r6/requests.jsonl")"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in reqs:
    by.setdefault(r["path"], []).append((r["event"], json.loads(r["body"])))
got = {p: [e for e, _ in v] for p, v in by.items()}
want = {"/json": ["trigger_fired", "rolled_back"], "/pd": ["trigger_fired", "rolled_back"],
        "/slack": ["rolled_back"], "/teams": ["rolled_back"]}
if got != want:
    sys.exit("events per target: %s" % got)
j = by["/json"][0][1]
assert j["trigger"]["reason"].startswith("error_rate"), j["trigger"]
assert j["state"] == "rolling-back", j["state"]
assert by["/json"][1][1]["state"] == "rolled-back"
br = by["/json"][1][1]["blast_radius"]
assert br["canary_requests"] > 0 and br["canary_failed"] == br["canary_requests"], br
assert 0 < br["share"] < 1, br
for _, pd in by["/pd"]:
    assert pd["routing_key"] == "R0UT1NG" and pd["event_action"] == "trigger", pd
    assert pd["dedup_key"] == "canary-fraud-1", pd
    assert pd["payload"]["severity"] == "critical" and pd["payload"]["source"] == "canary/fraud"
sl = by["/slack"][0][1]
assert "rolled back" in sl["text"] and sl["blocks"][0]["type"] == "section", sl
tm = by["/teams"][0][1]
assert tm["attachments"][0]["content"]["type"] == "AdaptiveCard", tm
PY
kill "$WRK" 2>/dev/null || true
stop_canary n6

echo "notify: done ($NCHECK checks)"
