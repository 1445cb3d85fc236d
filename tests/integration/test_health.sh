#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The active health check on its own: a canary whose /healthz answers 503
# (switched at run time with the model server's POST /admin/health) gets no
# traffic, and gets its share back once it is healthy again. Its model
# requests are still answered 200 and passive checks are effectively off
# (passive_failures 1000), so only the active check can mark it down;
# traffic is counted at the model servers themselves.
. tests/integration/lib.sh
TOKEN=test-token-$$
export CANARY_TOKEN="$TOKEN"

# send N: N POSTs to the router over one connection; every answer must be a
# 200; sets AT_STABLE and AT_CANARY to what each model server received
send() {
    for sd_a in "$stable_ADDR" "$canary_ADDR"; do
        http_json "http://$sd_a/admin/reset-stats" .ok -X POST >/dev/null
    done
    : >"$TMP/urls"
    sd_i=0
    while [ $sd_i -lt "$1" ]; do
        printf 'url = "http://%s/v2/models/m/infer"\noutput = "/dev/null"\n' "$hp_ADDR" \
            >>"$TMP/urls"
        sd_i=$((sd_i + 1))
    done
    curl -s -K "$TMP/urls" -w '%{http_code}\n' -d '{}' >"$TMP/codes" || die "curl failed"
    sd_bad=$(grep -vc '^200$' "$TMP/codes" || true)
    [ "$sd_bad" -eq 0 ] || die "$sd_bad of $1 answers were not 200: $(sort "$TMP/codes" | uniq -c)"
    AT_STABLE=$(http_json "http://$stable_ADDR/stats" .requests)
    AT_CANARY=$(http_json "http://$canary_ADDR/stats" .requests)
    [ $((AT_STABLE + AT_CANARY)) -eq "$1" ] ||
        die "$1 requests, but the model servers received $AT_STABLE + $AT_CANARY"
}

# canary_up VALUE: canary_upstream_up{role="canary"} is VALUE
canary_up() {
    curl -sf "http://$hp_ADMIN/metrics" >"$TMP/metrics" || die "GET /metrics failed"
    grep -Eq "^canary_upstream_up\{.*role=\"canary\".*\} $1\$" "$TMP/metrics" ||
        die "canary_upstream_up{role=canary} is not $1: $(grep upstream_up "$TMP/metrics")"
}

# logged TEXT: wait (5 s) for the router to log TEXT (the health checker
# logs each change of an address's state once)
logged() {
    lg_i=0
    while [ $lg_i -lt 100 ]; do
        grep -qF -e "$1" "$TMP/hp.err" && return 0
        lg_i=$((lg_i + 1))
        sleep 0.05
    done
    die "the router did not log '$1': $(cat "$TMP/hp.err")"
}

start_model stable 0.25
start_model canary 0.75
# A long probe timeout: a 503 is seen at once, and a probe slowed by a
# loaded machine does not take a healthy canary down.
start_canary hp --workers 2 --stable "$stable_ADDR" --canary "$canary_ADDR" \
    --stable-version v1 --canary-version v2 --canary-weight 50 --mode random \
    --health-interval 500ms --health-timeout 500ms --passive-failures 1000

echo "health: a healthy canary gets its share"
send 300
in_binomial "$AT_CANARY" 300 0.5

echo "health: /healthz 503 takes the canary out of rotation"
[ "$(http_json "http://$canary_ADDR/admin/health" .healthy -d '{"healthy":false}')" = false ] ||
    die "the model server did not switch to unhealthy"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$canary_ADDR/healthz")
[ "$code" = 503 ] || die "canary /healthz answers $code after the switch, expected 503"
logged "health: canary upstream $canary_ADDR is down"
# Counted at the model servers first: the metric alone could say "down"
# while requests still go there.
send 300
[ "$AT_CANARY" -eq 0 ] || die "an unhealthy canary received $AT_CANARY of 300 requests"
canary_up 0
echo "  unhealthy: 0 of 300 at the canary model server, $AT_STABLE at stable, all 200"

echo "health: the canary comes back when /healthz recovers"
[ "$(http_json "http://$canary_ADDR/admin/health" .healthy -d '{"healthy":true}')" = true ] ||
    die "the model server did not switch back to healthy"
logged "health: canary upstream $canary_ADDR is up again"
send 300
in_binomial "$AT_CANARY" 300 0.5
canary_up 1
echo "  recovered: $AT_CANARY of 300 at the canary model server"

stop_canary hp
echo "health: all checks passed"
