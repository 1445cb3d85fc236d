#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# An active rollout whose stored state cannot be read, on real processes
# (model servers, `canary serve` with a state file, wrk, the CLI, the
# sqlite3 shell as the damage). `canary serve` is killed with -9 during a
# bake, one column of the rollout's row is damaged, and it is started
# again: nothing can drive the rollout, so it is ended as aborted (canary
# weight 0 first, published and stored, as a rollback), by "controller",
# with a reason that names what could not be read, in one new audit entry
# that keeps the damaged text; nothing else of the row changes; a retry
# then starts it again from its first step, and a new rollout may start.
#  1. the machine's state out of range;
#  2. a machine written by a newer canary (a newer "format");
#  3. a machine with a key this build does not know, whose end cannot be
#     stored at start (a trigger in the state file refuses it): the weight
#     is 0 anyway, the rollout stays active, only abort works on it, and
#     the operator's abort ends it once the file takes writes again;
#  4. a machine that disagrees with its row (state changed by hand);
#  5. a retry whose candidate's stored addresses are not addresses is
#     refused with a 409 that says so.
# (A candidate that cannot be read at start is not reached here: canary
# serve reads the active rollout's candidate to build its first generation
# and refuses to start, src/server/server.c.)
. tests/integration/lib.sh
TOKEN=repair-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
DB="$TMP/state.db"

cat >"$TMP/canary.yaml" <<'YAML'
serve:
  model: fraud
  workers: 1
  health:
    interval: 300ms
    timeout: 300ms
strategy:
  warmup: 1s
  progress_deadline: 30s
  steps:
    - set_weight: 20
    - pause: {duration: 300s}
    - analysis: {}
    - set_weight: 50
  max_bake: 60s
analysis:
  alpha: 0.05
  min_per_arm: 50
  metrics:
    - name: error
      test: proportion
      margin: 0.05
YAML

api() { # api METHOD PATH [BODY]: prints the HTTP code; body in $TMP/api
    curl -s -o "$TMP/api" -w '%{http_code}' -X "$1" -H "Authorization: Bearer $TOKEN" \
        ${3:+-d "$3"} "$CANARY_SERVER$2"
}
sql() { sqlite3 -batch "$DB" "$1"; }
weight() { http_json "$CANARY_SERVER/v1/traffic" '.canary_weight' -H "Authorization: Bearer $TOKEN"; }
serve() { # serve: start canary serve as r1 on $DB, with traffic
    start_canary r1 --config "$TMP/canary.yaml" --stable "$s1_ADDR" --stable-version v1 \
        --state "$DB"
    export CANARY_SERVER="http://$r1_ADMIN"
    traffic_to "$r1_ADDR" 600
}
crash() { # crash: kill -9 canary serve (and its traffic)
    kill -9 "$r1_PID"
    wait "$r1_PID" 2>/dev/null || true
    kill "$WRK" 2>/dev/null || true
}
# row ID: the columns a repair must keep, as one line
row() { sql "SELECT step_index, analysis_attempts, dry_run, generation >= 0, reason IS NOT NULL, strategy IS NULL, created_by, started_unix_ms, baseline_version_id FROM rollouts WHERE id = $1"; }
# running ID: start rollout ID's state to progressing at weight 20
running() {
    wait_state "$1" progressing
    w=$(weight)
    [ "$w" = 20 ] || die "rollout $1 runs at $w, not 20"
}
# repaired ID PATTERN SEQ: rollout ID was ended at start as aborted with a
# reason matching PATTERN, in entry SEQ (the one after those before), and
# the canary weight is 0
repaired() {
    wait_err r1 "rollout $1 cannot resume"
    wait_state "$1" aborted
    run "$CANARY" rollout status "$1" --json
    json_eq ".reason | test(\"$2\")" true
    json_eq '.weight' 0
    w=$(weight)
    [ "$w" = 0 ] || die "rollout $1 was ended, but the canary weight is $w"
    run "$CANARY" rollout history "$1" --json
    expect_ok
    json_eq '.entries | length' "$3"
    json_eq '.entries[-1] | [.actor, .kind, .state, .weight]' '["controller","transition","aborted",0]'
    json_eq ".entries[-1].reason | test(\"$2\")" true
    trail_ok "$1"
}

start_model s1 0.5 --delay-ms 1
start_model good 0.5 --delay-ms 1
serve
run "$CANARY" model register fraud v2 --upstream "$good_ADDR"
expect_ok

echo "repair: 1. a machine state out of range: ended as aborted at restart, then retried"
run "$CANARY" rollout start fraud v2 --reason "first try"
expect_ok
running 1
crash
before=$(row 1)
seq=$(sql "SELECT audit_seq FROM rollouts WHERE id = 1")
sql "UPDATE rollouts SET machine = json_set(machine, '\$.state', 42) WHERE id = 1"
damaged=$(sql "SELECT machine FROM rollouts WHERE id = 1")
serve
repaired 1 "^machine state unreadable at restart: the stored rollout state has a bad 'state'" $((seq + 1))
# the damaged text is kept, in the entry's payload
json_eq '.entries[-1].payload | [.unreadable, .state, .weight, .traffic_weight]' '["machine state","progressing",20,20]'
json_eq '.entries[-1].payload.stored_machine' "$(printf '%s' "$damaged" | jq -Rc .)"
[ "$(row 1)" = "$before" ] || die "the repair changed the row: was $before, is $(row 1)"
[ "$(sql "SELECT ended_unix_ms > 0 FROM rollouts WHERE id = 1")" = 1 ] || die "no end time"
run "$CANARY" model list fraud --json
json_eq '[.versions[] | select(.version == "v2") | .tags]' '[["rolled-back"]]'
# the weight 0 and the end were stored: another restart keeps both, and
# adds nothing to the trail
crash
serve
sleep 1
w=$(weight)
[ "$w" = 0 ] || die "after another restart the canary weight is $w"
run "$CANARY" rollout history 1 --json
json_eq '.entries | length' $((seq + 1))
json_eq '.entries[-1].state' '"aborted"'
# a retry starts again from the first step
run "$CANARY" rollout retry 1 --reason "after the repair"
expect_ok
running 1
run "$CANARY" rollout status 1 --json
json_eq '.step' 1
trail_ok 1
run "$CANARY" rollout abort 1 --reason "next case"
expect_ok
wait_state 1 aborted

echo "repair: 2. a machine from a newer canary: ended, and a new rollout starts"
run "$CANARY" rollout retry 1
expect_ok
running 1
crash
seq=$(sql "SELECT audit_seq FROM rollouts WHERE id = 1")
sql "UPDATE rollouts SET machine = json_set(machine, '\$.format', 6, '\$.pairs', 7) WHERE id = 1"
serve
repaired 1 "the stored rollout state is format 6, written by a newer canary; this build reads formats 1 to 5" $((seq + 1))
code=$(api POST /v1/rollouts '{"model": "fraud", "version": "v2"}')
[ "$code" = 201 ] || die "a new rollout after the repair: HTTP $code $(cat "$TMP/api")"
id=$(jq .id "$TMP/api")
[ "$id" = 2 ] || die "the new rollout is $id"
running 2
trail_ok 2

echo "repair: 3. an unknown key, and its end cannot be stored at start: abort works"
crash
seq=$(sql "SELECT audit_seq FROM rollouts WHERE id = 2")
sql "UPDATE rollouts SET machine = json_set(machine, '\$.shadow_pairs', 1) WHERE id = 2"
sql "CREATE TRIGGER test_refuse_end BEFORE UPDATE OF state ON rollouts WHEN NEW.state = 'aborted' BEGIN SELECT RAISE(ABORT, 'test: the disk refuses'); END"
serve
wait_err r1 "rollout 2 cannot resume: its machine state is unreadable: the stored rollout state has an unknown key 'shadow_pairs'"
wait_err r1 "test: the disk refuses; it stays active: end it with POST /v1/rollouts/2/abort"
# weight 0 came first, and was stored: the canary no longer serves
w=$(weight)
[ "$w" = 0 ] || die "the end was not stored, but the weight must be 0 anyway; it is $w"
[ "$(sql "SELECT canary_weight_bp FROM traffic")" = 0 ] || die "weight 0 was not stored"
run "$CANARY" rollout status 2 --json
json_eq '.state' '"progressing"'
code=$(api POST /v1/rollouts/2/pause '{"reason": "hold on"}')
[ "$code" = 409 ] || die "pause of a rollout that could not resume: HTTP $code $(cat "$TMP/api")"
jq -e '.error | test("could not resume it .*only abort works on it")' "$TMP/api" >/dev/null ||
    die "pause's 409 says why: $(cat "$TMP/api")"
code=$(api POST /v1/rollouts '{"model": "fraud", "version": "v2"}')
[ "$code" = 409 ] || die "a new rollout beside the active one: HTTP $code $(cat "$TMP/api")"
code=$(api POST /v1/rollouts/2/abort '{"reason": "disk still full"}')
[ "$code" = 500 ] || [ "$code" = 503 ] || die "abort while the file refuses: HTTP $code $(cat "$TMP/api")"
jq -e '.error | test("test: the disk refuses")' "$TMP/api" >/dev/null ||
    die "the abort's error says why: $(cat "$TMP/api")"
sql "DROP TRIGGER test_refuse_end"
code=$(api POST /v1/rollouts/2/abort '{"reason": "disk fixed"}')
[ "$code" = 200 ] || die "abort of an unreadable rollout: HTTP $code $(cat "$TMP/api")"
jq -e '.state == "aborted" and .weight == 0' "$TMP/api" >/dev/null || die "abort: $(cat "$TMP/api")"
run "$CANARY" rollout history 2 --json
json_eq '.entries | length' $((seq + 1))
json_eq '.entries[-1] | [(.actor | startswith("admin")), .kind, .state]' '[true,"manual","aborted"]'
json_eq '.entries[-1].reason | test("^aborted by admin.*: disk fixed \\(its machine state was unreadable: .*unknown key .shadow_pairs.")' true
trail_ok 2

echo "repair: 4. a machine that disagrees with its row"
run "$CANARY" rollout retry 2
expect_ok
running 2
crash
seq=$(sql "SELECT audit_seq FROM rollouts WHERE id = 2")
sql "UPDATE rollouts SET state = 'paused', resume_state = 'progressing' WHERE id = 2"
serve
repaired 2 "the stored rollout state says progressing, its row says paused" $((seq + 1))

echo "repair: 5. a retry whose candidate cannot be read is refused, saying why"
sql "UPDATE model_versions SET addresses = '[\"not an address\"]' WHERE version = 'v2'"
code=$(api POST /v1/rollouts/2/retry)
[ "$code" = 409 ] || die "retry without a candidate: HTTP $code $(cat "$TMP/api")"
jq -e '.error | test("cannot be retried: its candidate version is unreadable")' "$TMP/api" >/dev/null ||
    die "retry's 409 says why: $(cat "$TMP/api")"
run "$CANARY" rollout status 2 --json
json_eq '[.state, .weight]' '["aborted",0]'
kill "$WRK" 2>/dev/null || true
stop_canary r1
echo "repair: all checks passed ($NCHECK)"
