#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The traffic split counted where requests land: at the model servers
# themselves (their own /stats counts), not from X-Model-Version, which the
# router writes from its own decision. For random, sticky and forced
# requests, each model server must have received exactly the requests whose
# answers carry its version, and each answer's body (the model server's
# name) must match its X-Model-Version. A router that decided "canary" but
# sent the request to stable passes a header count; it fails this.
. tests/integration/lib.sh
TOKEN=test-token-$$
export CANARY_TOKEN="$TOKEN"

# ask NAME N [HEADER]: N POSTs to the router from one curl (one keep-alive
# connection). HEADER is sent with every request; with the word `user` the
# i-th request gets `X-User: user-i` instead. Writes $TMP/NAME, one line per
# answer: "<status> <X-Model-Version> <model_name of the body>"; a body that
# is not JSON fails the test.
ask() {
    ak_name=$1
    ak_n=$2
    ak_h=${3:-}
    : >"$TMP/$ak_name.cfg"
    ak_i=0
    while [ $ak_i -lt "$ak_n" ]; do
        {
            [ $ak_i -eq 0 ] || echo 'next'
            printf 'url = "http://%s/v2/models/m/infer"\n' "$px_ADDR"
            echo 'data = "{\"inputs\":[]}"'
            echo 'header = "Content-Type: application/json"'
            if [ "$ak_h" = user ]; then
                printf 'header = "X-User: user-%d"\n' "$ak_i"
            elif [ -n "$ak_h" ]; then
                printf 'header = "%s"\n' "$ak_h"
            fi
            echo 'write-out = "{\"status\":%{http_code},\"version\":\"%header{x-model-version}\"}\n"'
        } >>"$TMP/$ak_name.cfg"
        ak_i=$((ak_i + 1))
    done
    curl -s -K "$TMP/$ak_name.cfg" >"$TMP/$ak_name.raw" ||
        die "$ak_name: curl failed: $(tail -c 300 "$TMP/$ak_name.raw")"
    jq -r -s '. as $a | range(0; length; 2) |
        "\($a[. + 1].status) \($a[. + 1].version) \($a[.].model_name // "none")"' \
        "$TMP/$ak_name.raw" >"$TMP/$ak_name" ||
        die "$ak_name: answers are not JSON: $(head -c 300 "$TMP/$ak_name.raw")"
    ak_got=$(grep -c . "$TMP/$ak_name" || true)
    [ "$ak_got" -eq "$ak_n" ] || die "$ak_name: $ak_got answers to $ak_n requests"
}

reset_backends() {
    for rb in "$stable_ADDR" "$canary_ADDR"; do
        http_json "http://$rb/admin/reset-stats" .ok -X POST >/dev/null
    done
}

# check_phase NAME N: every answer of $TMP/NAME is a 200 whose body comes
# from the version its header names, and each model server received exactly
# the requests answered with its version; sets K (answers from v2)
check_phase() {
    bad=$(grep -Ev '^200 (v1 stable|v2 canary)$' "$TMP/$1" | head -3)
    [ -z "$bad" ] || die "$1: answers whose body does not match X-Model-Version: $bad"
    K=$(grep -c '^200 v2 canary$' "$TMP/$1" || true)
    at_stable=$(http_json "http://$stable_ADDR/stats" .requests)
    at_canary=$(http_json "http://$canary_ADDR/stats" .requests)
    [ "$at_canary" -eq "$K" ] ||
        die "$1: $K answers say v2 but the canary model server received $at_canary"
    [ "$at_stable" -eq $(($2 - K)) ] ||
        die "$1: $(($2 - K)) answers say v1 but the stable model server received $at_stable"
}

start_model stable 0.25
start_model canary 0.75
# No active health checks: a probe slowed by a loaded machine must not take
# the canary out of rotation in the middle of a count.
start_canary px --workers 2 --stable "$stable_ADDR" --canary "$canary_ADDR" \
    --stable-version v1 --canary-version v2 --canary-weight 30 --mode random \
    --sticky-header X-User --health-path ''

echo "split at the backends: random at 30%"
reset_backends
ask random 2000
check_phase random 2000
in_binomial "$K" 2000 0.30
echo "  random: $K of 2000 at the canary model server, the rest at stable"

echo "split at the backends: sticky at 30%, twice over the same 400 users"
put_traffic "$px_ADMIN" '{"mode":"sticky","canary_weight":30}'
reset_backends
ask sticky 400 user
check_phase sticky 400
in_binomial "$K" 400 0.30
k1=$K
reset_backends
ask sticky2 400 user
check_phase sticky2 400
cmp -s "$TMP/sticky" "$TMP/sticky2" ||
    die "sticky: users changed version: $(diff "$TMP/sticky" "$TMP/sticky2" | head -4)"
echo "  sticky: $k1 of 400 users at the canary model server, the same on a second pass"

echo "split at the backends: forced requests"
put_traffic "$px_ADMIN" '{"mode":"random","canary_weight":30,"force_enabled":true}'
reset_backends
ask always 300 'X-Canary: always'
check_phase always 300
[ "$K" -eq 300 ] || die "X-Canary: always: $K of 300 reached the canary model server"
reset_backends
ask never 300 'X-Canary: never'
check_phase never 300
[ "$K" -eq 0 ] || die "X-Canary: never: $K of 300 reached the canary model server"
echo "  forced: 300 of 300 always, 0 of 300 never"

echo "split at the backends: weight 100 sends everything to canary"
put_traffic "$px_ADMIN" '{"mode":"random","canary_weight":100,"force_enabled":false}'
reset_backends
ask all 300
check_phase all 300
[ "$K" -eq 300 ] || die "weight 100: $K of 300 reached the canary model server"

stop_canary px
echo "split at the backends: all checks passed"
