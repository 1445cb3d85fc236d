#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Bad requests to the rollouts API, on real processes (model servers and
# `canary serve` with a state file and a strategy, one rollout running):
# malformed JSON, wrong types, unknown keys, missing or unknown model and
# version, a reason that is not UTF-8, not one line or too long, ids that
# are not numbers, out of range or unknown, commands the rollout's state
# refuses. Each gets its status (400, 404, 409) and a one-line JSON error
# naming the field, and changes nothing: the rollouts, their audit trails,
# the traffic and the versions read the same afterwards. Then the longest
# reasons in multi-byte UTF-8, which are valid, are taken and recorded.
. tests/integration/lib.sh
TOKEN=bodies-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

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
    - pause: {duration: 600s}
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

# req METHOD PATH [BODY]: prints the HTTP code; the body in $TMP/api. A
# BODY of "-" sends $TMP/body as it is (bytes that are not UTF-8).
req() {
    if [ "${3-}" = - ]; then
        set -- "$1" "$2" --data-binary "@$TMP/body"
    elif [ $# -ge 3 ]; then
        set -- "$1" "$2" --data-binary "$3"
    fi
    rq_m=$1
    rq_p=$2
    shift 2
    curl -s -o "$TMP/api" -w '%{http_code}' -X "$rq_m" -H "Authorization: Bearer $TOKEN" \
        "$@" "$CANARY_SERVER$rq_p"
}

# state: what a bad request must not change, as one line of text
state() {
    curl -s -H "Authorization: Bearer $TOKEN" "$CANARY_SERVER/v1/rollouts" |
        jq -c '[.rollouts[] | [.id, .version, .state, .step, .weight, .reason,
            .analysis_attempts, .generation, .dry_run, .updated_unix_ms]]'
    curl -s -H "Authorization: Bearer $TOKEN" "$CANARY_SERVER/v1/traffic" | jq -c .
    curl -s -H "Authorization: Bearer $TOKEN" "$CANARY_SERVER/v1/versions" | jq -c .
    curl -s -H "Authorization: Bearer $TOKEN" "$CANARY_SERVER/v1/models/fraud" | jq -c .
    for st_id in $(curl -s -H "Authorization: Bearer $TOKEN" "$CANARY_SERVER/v1/rollouts" |
        jq '.rollouts[].id'); do
        curl -s -H "Authorization: Bearer $TOKEN" "$CANARY_SERVER/v1/rollouts/$st_id/history" |
            jq -c '[.entries[] | [.seq, .state, .reason]]'
    done
}

# bad STATUS PATTERN METHOD PATH [BODY]: the request gets STATUS and one
# line of JSON {"error": ...} matching PATTERN (extended regex), and the
# state is unchanged
bad() {
    bd_status=$1
    bd_pattern=$2
    shift 2
    bd_code=$(req "$@")
    NCHECK=$((NCHECK + 1))
    [ "$bd_code" = "$bd_status" ] ||
        die "$1 $2 ${3-}: expected HTTP $bd_status, got $bd_code: $(cat "$TMP/api")"
    [ "$(wc -l <"$TMP/api")" -le 1 ] || die "$1 $2: not one line: $(cat "$TMP/api")"
    bd_err=$(jq -r 'if (type == "object" and (keys == ["error"]) and (.error | type == "string"))
        then .error else error("not {\"error\": string}") end' "$TMP/api") ||
        die "$1 $2 ${3-}: the answer is not {\"error\": \"...\"}: $(cat "$TMP/api")"
    case "$bd_err" in *"
"*) die "$1 $2: the error is not one line: $bd_err" ;; esac
    printf '%s\n' "$bd_err" | grep -Eq -e "$bd_pattern" ||
        die "$1 $2 ${3-}: error '$bd_err' does not match /$bd_pattern/"
    bd_now=$(state)
    [ "$bd_now" = "$BEFORE" ] || {
        printf 'before:\n%s\nafter:\n%s\n' "$BEFORE" "$bd_now" >&2
        die "$1 $2 ${3-}: a refused request changed the state"
    }
}

start_model s1 0.5 --delay-ms 1
start_model good 0.5 --delay-ms 1
start_canary r1 --config "$TMP/canary.yaml" --stable "$s1_ADDR" --stable-version v1 \
    --state "$TMP/state.db"
export CANARY_SERVER="http://$r1_ADMIN"
traffic_to "$r1_ADDR" 600
run "$CANARY" model register fraud v2 --upstream "$good_ADDR"
expect_ok
run "$CANARY" model register fraud v3 --upstream "$good_ADDR"
expect_ok
run "$CANARY" rollout start fraud v2
expect_ok
wait_state 1 progressing
# the step's bake is 600 s: nothing changes by itself from here on
sleep 1
BEFORE=$(state)

echo "bodies: POST /v1/rollouts"
R=/v1/rollouts
bad 400 '^body: not valid JSON' POST $R '{'
bad 400 '^body: not valid JSON' POST $R '{"model": "fraud", "version": "v3",}'
bad 400 '^body: expected a JSON object, got \[\]' POST $R '[]'
bad 400 '^body: not valid JSON: .* expected' POST $R 'null'
bad 400 '^model: required' POST $R ''
bad 400 '^model: required' POST $R '{}'
bad 400 '^model: required' POST $R '{"version": "v3"}'
bad 400 '^version: required' POST $R '{"model": "fraud"}'
bad 400 '^body: not valid JSON: duplicate object key' POST $R \
    '{"model": "fraud", "model": "fraud", "version": "v3"}'
bad 400 '^model: must be a string, got 1' POST $R '{"model": 1, "version": "v3"}'
bad 400 '^version: must be a string, got null' POST $R '{"model": "fraud", "version": null}'
bad 400 '^dry_run: must be true or false, got "yes"' POST $R \
    '{"model": "fraud", "version": "v3", "dry_run": "yes"}'
bad 400 '^dry_run: must be true or false, got 1' POST $R \
    '{"model": "fraud", "version": "v3", "dry_run": 1}'
bad 400 '^reason: must be a string, got \["a"\]' POST $R \
    '{"model": "fraud", "version": "v3", "reason": ["a"]}'
bad 400 '^unknown key "force" \(expected model, version, dry_run, reason, parity or addresses\)' POST $R \
    '{"model": "fraud", "version": "v3", "force": true}'
bad 400 '^unknown key "Model" \(expected model, version, dry_run, reason, parity or addresses\)' POST $R \
    '{"Model": "fraud", "version": "v3"}'
bad 400 "^model: this canary serve fronts model 'fraud', not 'other'" POST $R \
    '{"model": "other", "version": "v3"}'
bad 400 "^model: must be 1 to 63 letters" POST $R '{"model": "no such/model", "version": "v3"}'
bad 400 "^model: must be 1 to 63 letters" POST $R '{"model": "", "version": "v3"}'
bad 400 "^version: must be 1 to 63 letters" POST $R '{"model": "fraud", "version": "v 3"}'
bad 400 "^version: model 'fraud' has no version 'v9'" POST $R '{"model": "fraud", "version": "v9"}'
bad 400 "^version: 'v1' is the stable version of model 'fraud'" POST $R \
    '{"model": "fraud", "version": "v1"}'
bad 409 "^rollout 1 of version 'v2' is progressing already" POST $R \
    '{"model": "fraud", "version": "v2"}'
printf '{"model": "fraud", "version": "v3", "reason": "caf\351"}' >"$TMP/body"
bad 400 '^body: not valid JSON: .*(UTF-8|decode)' POST $R -
long=$(printf '%0256d' 0)
bad 400 '^reason: longer than 255 bytes' POST $R \
    "{\"model\": \"fraud\", \"version\": \"v3\", \"reason\": \"$long\"}"
bad 400 '^reason: must be one line of text without control characters' POST $R \
    '{"model": "fraud", "version": "v3", "reason": "two\nlines"}'
bad 400 '^reason: must be one line of text without control characters' POST $R \
    '{"model": "fraud", "version": "v3", "reason": "bell\u0007"}'
bad 400 '^body: not valid JSON' POST $R \
    '{"model": "fraud", "version": "v3", "reason": "nul\u0000"}'

echo "bodies: POST /v1/rollouts/{id}/pause|resume|promote|abort|retry"
for cmd in pause resume promote abort retry; do
    bad 400 "^id: must be a rollout number, got 'abc'" POST "$R/abc/$cmd" '{}'
    bad 400 "^id: must be a rollout number, got '0'" POST "$R/0/$cmd"
    bad 400 "^id: must be a rollout number, got '-1'" POST "$R/-1/$cmd"
    bad 400 "^id: must be a rollout number, got '1e3'" POST "$R/1e3/$cmd"
    bad 400 "^id: must be a rollout number, got '99999999999999999999'" POST \
        "$R/99999999999999999999/$cmd"
    bad 404 '^no rollout 999$' POST "$R/999/$cmd" '{"reason": "x"}'
    bad 400 '^body: not valid JSON' POST "$R/1/$cmd" '{"reason": '
    bad 400 '^body: not valid JSON' POST "$R/1/$cmd" '"abort"'
    bad 400 '^reason: must be a string, got 5' POST "$R/1/$cmd" '{"reason": 5}'
    bad 400 '^reason: longer than 255 bytes' POST "$R/1/$cmd" "{\"reason\": \"$long\"}"
    bad 400 '^reason: must be one line of text without control characters' POST \
        "$R/1/$cmd" '{"reason": "tab\there"}'
    printf '{"reason": "\377"}' >"$TMP/body"
    bad 400 '^body: not valid JSON' POST "$R/1/$cmd" -
    bad 400 '^unknown key "model" \(expected reason' POST "$R/1/$cmd" '{"model": "fraud"}'
done
bad 400 '^unknown key "full" \(expected reason\)$' POST $R/1/pause '{"full": true}'
bad 400 '^unknown key "full" \(expected reason\)$' POST $R/1/abort '{"full": true}'
bad 400 '^unknown key "dry_run" \(expected reason\)$' POST $R/1/abort '{"dry_run": true}'
bad 400 '^unknown key "dry_run" \(expected reason or full\)$' POST $R/1/promote \
    '{"dry_run": false}'
bad 400 '^full: must be true or false, got 1' POST $R/1/promote '{"full": 1}'
bad 400 '^full: must be true or false, got "yes"' POST $R/1/promote '{"full": "yes"}'
bad 400 '^dry_run: must be true or false, got "yes"' POST $R/1/retry '{"dry_run": "yes"}'
# commands the rollout's state refuses
bad 409 'nothing to resume|not paused' POST $R/1/resume '{"reason": "go on"}'
bad 409 'nothing to retry: the rollout is progressing' POST $R/1/retry
echo "bodies: reads"
bad 400 "^id: must be a rollout number, got 'x1'" GET $R/x1
bad 404 '^.*no rollout 999$' GET $R/999
bad 404 '^.*no rollout 999$' GET $R/999/history
bad 404 '^.*no rollout 999$' GET $R/999/analyses
bad 400 "^query: unknown key 'modle'" GET "$R?modle=fraud"
bad 400 "^state: unknown 'runing'" GET "$R?state=runing"

echo "bodies: the longest reasons in multi-byte UTF-8 are taken and recorded"
# 1 + 127 x 2 = 255 bytes: the longest reason, with a character across
# every cut the controller might make when it quotes the reason
wide=x$(printf '%127s' '' | sed 's/ /\xc3\xa9/g')
[ "$(printf '%s' "$wide" | wc -c)" -eq 255 ] || die "the wide reason is not 255 bytes"
for cmd in pause resume abort; do
    code=$(req POST "$R/1/$cmd" "{\"reason\": \"$wide\"}")
    [ "$code" = 200 ] || die "$cmd with a 255-byte reason: HTTP $code $(cat "$TMP/api")"
done
wait_state 1 aborted
run "$CANARY" rollout history 1 --json
expect_ok
json_eq '[.entries[].reason | select(contains("xéé"))] | length >= 3' true
trail_ok 1
if grep -q "NOT STORED" "$TMP/r1.err"; then
    die "a decision was not stored: $(grep "NOT STORED" "$TMP/r1.err")"
fi
BEFORE=$(state)
echo "bodies: commands on an ended rollout"
for cmd in pause resume promote abort; do
    bad 409 "the rollout is aborted|rollout 1 is aborted|nothing to" POST "$R/1/$cmd"
done
bad 400 "^version: model 'fraud' has no version 'v9'" POST $R '{"model": "fraud", "version": "v9"}'
kill "$WRK" 2>/dev/null || true
stop_canary r1
echo "bodies: all checks passed ($NCHECK)"
