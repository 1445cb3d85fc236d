#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# traffic.retry_on_stable with a dead canary (an address nothing listens on
# any more): on (the default), the user gets stable's answer; off
# (--no-retry), the user gets the router's 502 for the canary, with a JSON
# body, and stable never sees the request.
. tests/integration/lib.sh
TOKEN=test-token-$$
export CANARY_TOKEN="$TOKEN"

start_model stable 0.25
# A dead canary: nothing listens on port 1 of loopback, so connects are
# refused. (Not the port of a model server that was stopped: other tests on
# the machine may be handed that port meanwhile.)
gone_ADDR=127.0.0.1:1
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$gone_ADDR/" || true)
[ "$code" = 000 ] || die "something answers on $gone_ADDR (HTTP $code); the test needs it dead"

# post ROUTER NAME: one POST; the status in $CODE, the body in $TMP/NAME.json,
# the headers in $TMP/NAME.h
post() {
    CODE=$(curl -sS -D "$TMP/$2.h" -o "$TMP/$2.json" -w '%{http_code}' -d '{}' \
        -H "X-Request-Id: $2" "http://$1/v2/models/m/infer" 2>"$TMP/$2.curl") ||
        die "$2: no HTTP answer from the router: $(cat "$TMP/$2.curl")"
}

# Passive and active checks are turned off, so every request really tries
# the dead canary: what is tested is the retry, not the health marks.
for mode in retry no-retry; do
    flag=""
    [ "$mode" = no-retry ] && flag=--no-retry
    # shellcheck disable=SC2086
    start_canary "r_$(echo $mode | tr - _)" --workers 1 --stable "$stable_ADDR" \
        --canary "$gone_ADDR" --stable-version v1 --canary-version v2 --canary-weight 100 \
        --passive-failures 0 --health-path '' $flag
done

echo "retry: a dead canary with retry_on_stable on gives stable's 200"
http_json "http://$stable_ADDR/admin/reset-stats" .ok -X POST >/dev/null
i=0
while [ $i -lt 20 ]; do
    post "$r_retry_ADDR" "retry-$i"
    [ "$CODE" = 200 ] || die "retry on: HTTP $CODE: $(cat "$TMP/retry-$i.json")"
    jq -e '.model_name == "stable"' "$TMP/retry-$i.json" >/dev/null ||
        die "retry on: body $(cat "$TMP/retry-$i.json")"
    grep -qi '^x-model-version: v1' "$TMP/retry-$i.h" || die "retry on: not labelled v1"
    i=$((i + 1))
done
[ "$(http_json "http://$stable_ADDR/stats" .requests)" -eq 20 ] ||
    die "retry on: stable did not receive the 20 retried requests"

echo "retry: a dead canary with retry_on_stable off gives the user a 502"
http_json "http://$stable_ADDR/admin/reset-stats" .ok -X POST >/dev/null
i=0
while [ $i -lt 20 ]; do
    post "$r_no_retry_ADDR" "noretry-$i"
    [ "$CODE" = 502 ] || die "retry off: HTTP $CODE, expected 502: $(cat "$TMP/noretry-$i.json")"
    jq -e --arg id "noretry-$i" \
        '.status == 502 and .error == "upstream connect failed" and .request_id == $id' \
        "$TMP/noretry-$i.json" >/dev/null || die "retry off: 502 body $(cat "$TMP/noretry-$i.json")"
    grep -qi '^x-model-version: v2' "$TMP/noretry-$i.h" ||
        die "retry off: the 502 is not labelled with the canary's version: $(cat "$TMP/noretry-$i.h")"
    i=$((i + 1))
done
[ "$(http_json "http://$stable_ADDR/stats" .requests)" -eq 0 ] ||
    die "retry off: stable received requests meant for the canary"
curl -sf "http://$r_no_retry_ADMIN/metrics" >"$TMP/metrics" || die "GET /metrics failed"
retries=$(awk '/^canary_retries_total\{/ {s += $NF} END {print s + 0}' "$TMP/metrics")
[ "$retries" -eq 0 ] || die "retry off: $retries retries counted"
fails=$(awk '/^canary_upstream_failures_total\{.*role="canary"/ {s += $NF} END {print s + 0}' \
    "$TMP/metrics")
[ "$fails" -ge 20 ] || die "retry off: $fails canary failures counted, expected 20"

echo "retry: off, once the dead canary is marked down, still a 502"
# Passive checks on (3 failures mark it down): after the first failures the
# canary has no usable address, which is the other path to a retry.
start_canary r_marked --workers 1 --stable "$stable_ADDR" --canary "$gone_ADDR" \
    --stable-version v1 --canary-version v2 --canary-weight 100 --passive-failures 3 \
    --health-path '' --no-retry
http_json "http://$stable_ADDR/admin/reset-stats" .ok -X POST >/dev/null
i=0
while [ $i -lt 10 ]; do
    post "$r_marked_ADDR" "marked-$i"
    [ "$CODE" = 502 ] || die "marked down, retry off: HTTP $CODE: $(cat "$TMP/marked-$i.json")"
    i=$((i + 1))
done
jq -e '.error == "no upstream available"' "$TMP/marked-9.json" >/dev/null ||
    die "marked down, retry off: the last 502 is not 'no upstream available': $(cat "$TMP/marked-9.json")"
[ "$(http_json "http://$stable_ADDR/stats" .requests)" -eq 0 ] ||
    die "marked down, retry off: stable received requests meant for the canary"

stop_canary r_retry
stop_canary r_no_retry
stop_canary r_marked
echo "retry: all checks passed"
