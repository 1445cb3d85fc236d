#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The data plane with real processes on loopback: two model servers
# (build/model-server), `canary serve` in front, curl and wrk as clients,
# promtool for the metrics format.
. tests/integration/lib.sh
TOKEN=test-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
model_requests() { http_json "http://$1/stats" .requests; }

# versions ADDR N [curl args]: N POSTs over one keep-alive connection;
# prints one X-Model-Version per line
versions() {
    a=$1
    n=$2
    shift 2
    : >"$TMP/urls"
    i=0
    while [ $i -lt "$n" ]; do
        printf 'url = "http://%s/v2/models/m/infer"\noutput = "/dev/null"\n' "$a" >>"$TMP/urls"
        i=$((i + 1))
    done
    curl -s -K "$TMP/urls" -w '%header{x-model-version}\n' \
        -H 'Content-Type: application/json' -d '{"inputs":[]}' "$@"
}

echo "router: starting model servers"
start_model stable 0.25
start_model canary 0.75

start_canary px --workers 2 --stable "$stable_ADDR" --canary "$canary_ADDR" \
    --stable-version v1 --canary-version v2 --canary-weight 30 --mode random \
    --sticky-header X-User --segment-header X-Region --segments eu,us --health-interval 400ms --health-timeout 400ms

echo "router: random split at 30%"
versions "$px_ADDR" 2000 >"$TMP/v"
n=$(grep -c . "$TMP/v")
[ "$n" -eq 2000 ] || die "expected 2000 answers, got $n"
k=$(grep -c '^v2' "$TMP/v" || true)
in_binomial "$k" 2000 0.30
echo "  random: $k of 2000 to canary"

echo "router: headers, request ids, lookup"
curl -s -D "$TMP/h" -o "$TMP/body" -H 'X-Request-Id: abc-123' -H 'X-Canary: never' \
    -d '{}' "http://$px_ADDR/v2/models/m/infer"
grep -qi '^x-request-id: abc-123' "$TMP/h" || die "X-Request-Id not echoed: $(cat "$TMP/h")"
grep -qi '^x-model-version: v[12]' "$TMP/h" || die "no X-Model-Version"
grep -qi '^x-seen-request-id: abc-123' "$TMP/h" || die "upstream did not get X-Request-Id"
curl -s -D "$TMP/h2" -o /dev/null -d '{}' "http://$px_ADDR/"
id=$(grep -i '^x-request-id:' "$TMP/h2" | tr -d '\r' | awk '{print $2}')
[ ${#id} -ge 16 ] || die "no generated X-Request-Id: $(cat "$TMP/h2")"
ver=$(grep -i '^x-model-version:' "$TMP/h2" | tr -d '\r' | awk '{print $2}')
run curl -sf -H "Authorization: Bearer $TOKEN" "http://$px_ADMIN/v1/requests/$id"
expect_ok
json_eq .version "\"$ver\""

echo "router: sticky users never move back when the weight rises"
put_traffic "$px_ADMIN" '{"mode":"sticky","canary_weight":10}'
# one curl per user: each request is a new client
sticky_run() {
    : >"$TMP/$1"
    j=0
    while [ $j -lt 400 ]; do
        curl -s -o /dev/null -w '%header{x-model-version}\n' -H "X-User: user-$j" \
            -d '{}' "http://$px_ADDR/u" >>"$TMP/$1"
        j=$((j + 1))
    done
}
sticky_run s10
put_traffic "$px_ADMIN" '{"canary_weight":30}'
sticky_run s30
k10=$(grep -c '^v2' "$TMP/s10" || true)
k30=$(grep -c '^v2' "$TMP/s30" || true)
paste -d' ' "$TMP/s10" "$TMP/s30" | grep -c '^v2 v1' >"$TMP/moved" || true
[ "$(cat "$TMP/moved")" -eq 0 ] || die "sticky: $(cat "$TMP/moved") users moved canary -> stable"
in_binomial "$k10" 400 0.10
in_binomial "$k30" 400 0.30
sticky_run s30b
cmp -s "$TMP/s30" "$TMP/s30b" || die "sticky: the same users got different versions: $(diff "$TMP/s30" "$TMP/s30b" | head -5)"
echo "  sticky: $k10 -> $k30 of 400 users on canary, none moved back"

echo "router: no canary request after the weight is set to 0"
put_traffic "$px_ADMIN" '{"mode":"random","canary_weight":50}'
versions "$px_ADDR" 50 >/dev/null
put_traffic "$px_ADMIN" '{"canary_weight":0}'
before=$(model_requests "$canary_ADDR")
versions "$px_ADDR" 500 >"$TMP/v0"
after=$(model_requests "$canary_ADDR")
[ "$before" = "$after" ] || die "canary got $((after - before)) requests at weight 0"
grep -q '^v2' "$TMP/v0" && die "a response came from v2 at weight 0"
# the router's own count: requests decided in the step opened by the PUT
run curl -sf -H "Authorization: Bearer $TOKEN" "http://$px_ADMIN/v1/samples?window=step"
expect_ok
json_eq '[.versions.canary.segments[]?.requests] | add // 0' 0
json_eq '[.versions.stable.segments[].requests] | add' 500
echo "  weight 0: canary requests stayed at $after over 500 requests"

echo "router: shadow copies; the user always gets stable's body"
put_traffic "$px_ADMIN" '{"mode":"shadow","canary_weight":100,"shadow_percent":100}'
before=$(model_requests "$canary_ADDR")
i=0
while [ $i -lt 40 ]; do
    curl -s -D "$TMP/sh" -o "$TMP/sb" -d '{}' "http://$px_ADDR/v2/models/m/infer"
    jq -e '.model_name == "stable" and .outputs[0].data[0] == 0.25' "$TMP/sb" >/dev/null ||
        die "shadow: body not stable's: $(cat "$TMP/sb")"
    grep -qi '^x-model-version: v1' "$TMP/sh" || die "shadow: not served by v1"
    i=$((i + 1))
done
sleep 0.3
after=$(model_requests "$canary_ADDR")
[ $((after - before)) -eq 40 ] || die "shadow: canary got $((after - before)) copies, expected 40"
run curl -sf -H "Authorization: Bearer $TOKEN" "http://$px_ADMIN/v1/samples?window=step"
expect_ok
np=$(jq '.shadow_pairs | length' "$TMP/out")
[ "$np" -eq 40 ] || die "shadow: $np pairs in /v1/samples, expected 40"
json_eq '[.shadow_pairs[] | select(.stable == 0.25 and .canary == 0.75)] | length' 40
echo "  shadow: 40 copies to canary, 40 pairs (0.25, 0.75)"

echo "router: /metrics is valid Prometheus text"
curl -sf "http://$px_ADMIN/metrics" >"$TMP/metrics" || die "GET /metrics failed"
promtool check metrics <"$TMP/metrics" >"$TMP/promtool" 2>&1 ||
    die "promtool: $(cat "$TMP/promtool")"
grep -q '^canary_requests_total{.*role="canary"' "$TMP/metrics" || die "no canary requests metric"
grep -q '^canary_request_duration_seconds_bucket' "$TMP/metrics" || die "no latency histogram"

echo "router: admin auth"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$px_ADMIN/v1/traffic")
[ "$code" = 401 ] || die "no token: HTTP $code, expected 401"
code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Authorization: Bearer wrong' \
    -d '{"canary_weight":100,"mode":"random"}' "http://$px_ADMIN/v1/traffic")
[ "$code" = 401 ] || die "wrong token: HTTP $code, expected 401"
run curl -sf -H "Authorization: Bearer $TOKEN" "http://$px_ADMIN/v1/traffic"
json_eq .mode '"shadow"'

echo "router: the force header works only when enabled, and never at weight 0"
put_traffic "$px_ADMIN" '{"mode":"random","canary_weight":0.01,"force_enabled":false}'
v=$(versions "$px_ADDR" 20 -H 'X-Canary: always' | sort -u | tr '\n' ' ')
[ "$v" = "v1 " ] || die "force disabled: versions '$v', expected only v1"
put_traffic "$px_ADMIN" '{"force_enabled":true}'
v=$(versions "$px_ADDR" 20 -H 'X-Canary: always' | sort -u | tr '\n' ' ')
[ "$v" = "v2 " ] || die "force always: versions '$v', expected only v2"
put_traffic "$px_ADMIN" '{"canary_weight":0}'
v=$(versions "$px_ADDR" 20 -H 'X-Canary: always' | sort -u | tr '\n' ' ')
[ "$v" = "v1 " ] || die "force at weight 0: versions '$v', expected only v1"
put_traffic "$px_ADMIN" '{"force_enabled":false}'

echo "router: a canary killed under load causes no client error"
put_traffic "$px_ADMIN" '{"mode":"random","canary_weight":50}'
cat >"$TMP/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
wrk.headers["Content-Type"] = "application/json"
EOF
wrk -t1 -c8 -d4s -s "$TMP/post.lua" "http://$px_ADDR/v2/models/m/infer" >"$TMP/wrk" 2>&1 &
WRK=$!
sleep 1.5
kill -9 "$canary_PID"
wait "$WRK" || die "wrk failed: $(cat "$TMP/wrk")"
# the health checker (every 400 ms) marks the dead canary down
curl -sf "http://$px_ADMIN/metrics" >"$TMP/metrics"
grep -Eq '^canary_upstream_up\{.*role="canary".*\} 0$' "$TMP/metrics" ||
    die "canary not marked down: $(grep upstream_up "$TMP/metrics")"
grep -q 'Non-2xx' "$TMP/wrk" && die "client errors after canary died: $(cat "$TMP/wrk")"
grep -q 'Socket errors' "$TMP/wrk" && die "socket errors after canary died: $(cat "$TMP/wrk")"
reqs=$(awk '/requests in/ {print $1}' "$TMP/wrk")
curl -sf "http://$px_ADMIN/metrics" >"$TMP/metrics"
fails=$(awk '/^canary_upstream_failures_total\{.*role="canary"/ {s += $NF} END {print s + 0}' "$TMP/metrics")
retries=$(awk '/^canary_retries_total\{.*role="canary"/ {s += $NF} END {print s + 0}' "$TMP/metrics")
[ "$fails" -gt 0 ] || die "canary failures not counted: $(grep failures "$TMP/metrics")"
[ "$retries" -gt 0 ] || die "retries not counted"
echo "  canary killed: $reqs requests, 0 client errors, $fails canary failures, $retries retried on stable"

echo "router: shadow copies to a dead canary never reach the user"
put_traffic "$px_ADMIN" '{"mode":"shadow","canary_weight":100,"shadow_percent":100}'
i=0
while [ $i -lt 20 ]; do
    code=$(curl -s -o "$TMP/sb" -w '%{http_code}' -d '{}' "http://$px_ADDR/v2/models/m/infer")
    [ "$code" = 200 ] || die "shadow with canary down: HTTP $code"
    jq -e '.model_name == "stable"' "$TMP/sb" >/dev/null || die "shadow: body $(cat "$TMP/sb")"
    i=$((i + 1))
done
curl -sf "http://$px_ADMIN/metrics" >"$TMP/metrics"
shadow_fails=$(awk '/^canary_upstream_failures_total\{.*role="canary"/ {s += $NF} END {print s + 0}' "$TMP/metrics")
[ "$shadow_fails" -ge $((fails + 20)) ] ||
    die "shadow failures not counted: $fails before, $shadow_fails after 20 copies"

echo "router: stable down gives 502 with a JSON body"
put_traffic "$px_ADMIN" '{"canary_weight":0}'
kill -9 "$stable_PID"
sleep 0.2
code=$(curl -s -o "$TMP/b502" -w '%{http_code}' -d '{}' "http://$px_ADDR/x")
[ "$code" = 502 ] || die "stable down: HTTP $code, expected 502"
jq -e '.status == 502 and (.error | length > 0)' "$TMP/b502" >/dev/null ||
    die "502 body: $(cat "$TMP/b502")"

echo "router: limits give 400, 408, 413, 431"
start_model lim 0.5
start_canary lp --workers 1 --stable "$lim_ADDR" --max-body-bytes 1KiB \
    --max-header-bytes 2KiB --header-timeout 1s
head -c 2000 /dev/zero | tr '\0' 'a' >"$TMP/big"
code=$(curl -s -o /dev/null -w '%{http_code}' --data-binary @"$TMP/big" "http://$lp_ADDR/x")
[ "$code" = 413 ] || die "big body: HTTP $code, expected 413"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 3000 /dev/zero | tr '\0' 'b')" \
    "http://$lp_ADDR/x")
[ "$code" = 431 ] || die "big header: HTTP $code, expected 431"
host=${lp_ADDR%:*}
port=${lp_ADDR##*:}
bash -c "exec 3<>/dev/tcp/$host/$port; printf 'NOT HTTP AT ALL\r\n\r\n' >&3; timeout 5 cat <&3" \
    >"$TMP/r400" 2>/dev/null || true
head -n1 "$TMP/r400" | grep -q '^HTTP/1.1 400' || die "garbage: $(head -n1 "$TMP/r400")"
bash -c "exec 3<>/dev/tcp/$host/$port; printf 'GET / HTTP/1.1\r\nHost: x\r\n' >&3; timeout 5 cat <&3" \
    >"$TMP/r408" 2>/dev/null || true
head -n1 "$TMP/r408" | grep -q '^HTTP/1.1 408' || die "slow headers: $(head -n1 "$TMP/r408")"
grep -q '408 from' "$TMP/lp.err" || die "no log line for the 408"
code=$(curl -s -o /dev/null -w '%{http_code}' -d '{}' "http://$lp_ADDR/ok")
[ "$code" = 200 ] || die "after the limits the proxy answers $code"
code=$(curl -s -o "$TMP/b400" -w '%{http_code}' -X PUT -H "Authorization: Bearer $TOKEN" \
    -d '{"canary_weight":5}' "http://$lp_ADMIN/v1/traffic")
[ "$code" = 400 ] || die "weight without canary addresses: HTTP $code, expected 400"
grep -q 'no canary addresses' "$TMP/b400" || die "400 body: $(cat "$TMP/b400")"

echo "router: a stalled stable gives 504; idle and excess connections are closed"
start_model stall 0.5 --stall
start_canary tp --workers 1 --stable "$stall_ADDR" --upstream-timeout 300ms \
    --max-connections 3 --idle-timeout 1s
code=$(curl -s -o "$TMP/b504" -w '%{http_code}' -d '{}' "http://$tp_ADDR/x")
[ "$code" = 504 ] || die "stalled stable: HTTP $code, expected 504"
jq -e '.status == 504' "$TMP/b504" >/dev/null || die "504 body: $(cat "$TMP/b504")"
thost=${tp_ADDR%:*}
tport=${tp_ADDR##*:}
# three idle connections fill the limit; a fourth makes the oldest idle one
# give way (idle connections cannot lock new clients out) and is served
HOLD=""
for i in 1 2 3; do
    bash -c "exec 3<>/dev/tcp/$thost/$tport; sleep 3" 2>/dev/null &
    HOLD="$HOLD $!"
done
sleep 0.5
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 -d '{}' "http://$tp_ADDR/x" || true)
[ "$code" = 504 ] || die "over max_connections: HTTP $code, expected 504 (served)"
grep -q 'evicted' "$TMP/tp.err" || die "no log line for the evicted connection"
for p in $HOLD; do wait "$p" || true; done
# after a response, an idle keep-alive connection is closed after
# idle_timeout (1 s)
start=$(date +%s)
bash -c "exec 3<>/dev/tcp/$thost/$tport; printf 'GET /x HTTP/1.1\r\nHost: x\r\n\r\n' >&3
timeout 5 cat <&3" >"$TMP/idle" 2>/dev/null || true
head -n1 "$TMP/idle" | grep -q '^HTTP/1.1 504' || die "idle: $(head -n1 "$TMP/idle")"
took=$(($(date +%s) - start))
[ "$took" -lt 4 ] || die "idle connection not closed after 1 s (took ${took}s)"
stop_canary tp

echo "router: pipelined requests are answered in order; chunked bodies pass"
bash -c "exec 3<>/dev/tcp/$host/$port
printf 'POST /a HTTP/1.1\r\nHost: x\r\nX-Request-Id: p1\r\nContent-Length: 2\r\n\r\n{}POST /b HTTP/1.1\r\nHost: x\r\nX-Request-Id: p2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nX-Request-Id: p3\r\nConnection: close\r\n\r\n' >&3
timeout 5 cat <&3" >"$TMP/pipe" 2>/dev/null || true
ids=$(grep -i '^x-request-id:' "$TMP/pipe" | tr -d '\r' | awk '{printf "%s ", $2}')
[ "$ids" = "p1 p2 p3 " ] || die "pipelining: got ids '$ids'"

echo "router: Expect: 100-continue gets an interim 100 before the body is sent"
bash -c "exec 3<>/dev/tcp/$host/$port
printf 'POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 first <&3; echo \"\$first\"
printf '{}' >&3
timeout 5 cat <&3" >"$TMP/cont" 2>/dev/null || true
head -n1 "$TMP/cont" | grep -q '^HTTP/1.1 100 Continue' || die "no 100 Continue: $(head -n1 "$TMP/cont")"
grep -q '^HTTP/1.1 200' "$TMP/cont" || die "no final 200 after 100 Continue: $(cat "$TMP/cont")"

echo "router: the traffic survives a restart with --state"
stop_canary lp
start_canary st --workers 1 --stable "$lim_ADDR" --canary 127.0.0.1:1 --canary-weight 5 \
    --state "$TMP/state.db"
put_traffic "$st_ADMIN" '{"canary_weight":0}'
stop_canary st
start_canary st2 --workers 1 --stable "$lim_ADDR" --canary 127.0.0.1:1 --canary-weight 5 \
    --state "$TMP/state.db"
run curl -sf -H "Authorization: Bearer $TOKEN" "http://$st2_ADMIN/v1/traffic"
json_eq .canary_weight 0
stop_canary st2
stop_canary px

echo "router: a flood of junk segment labels hides no real region"
# Only the listed values get a label of their own, the same on both
# workers; 150 junk values (more than max_segments) first, then eu.
start_canary sg --workers 2 --stable "$lim_ADDR" --segment-header X-Region \
    --segments eu,us --max-segments 2
: >"$TMP/urls"
i=0
while [ $i -lt 150 ]; do
    # one request each (next): a header in a curl config is otherwise global
    [ $i -eq 0 ] || echo next >>"$TMP/urls"
    printf 'url = "http://%s/v2/models/m/infer"\noutput = "/dev/null"\nheader = "X-Region: junk-%d"\ndata = "{}"\nfail\n' \
        "$sg_ADDR" "$i" >>"$TMP/urls"
    i=$((i + 1))
done
curl -s -K "$TMP/urls" || die "junk requests failed"
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    curl -sf -o /dev/null -H 'X-Region: eu' -H 'Content-Type: application/json' \
        -d '{"inputs":[]}' "http://$sg_ADDR/v2/models/m/infer" || die "eu request failed"
done
run curl -sf -H "Authorization: Bearer $TOKEN" "http://$sg_ADMIN/v1/samples?window=all"
json_eq '.versions.stable.segments.eu.requests' 20
json_eq '.versions.stable.segments._other.requests' 150
json_eq '[.versions.stable.segments | keys[]]' '["_other","eu"]'
run "$CANARY" serve --stable 127.0.0.1:1 --segment-header X-Region
expect_error 64 'measure.segments'
stop_canary sg

echo "router: bad flags are one-line errors"
run "$CANARY" serve --stable 127.0.0.1:1 --canary-weight 150
expect_error 64 'canary-weight'
run "$CANARY" serve --canary-weight 5
expect_error 64 'stable'
run "$CANARY" serve --stable 127.0.0.1:1 --bogus 1
expect_error 64 'unknown flag'
printf 'serve:\n  limits:\n    max_body_bytes: lots\n' >"$TMP/bad.yaml"
run "$CANARY" serve --config "$TMP/bad.yaml" --stable 127.0.0.1:1
expect_error 65 'bad.yaml:3: key .serve.limits.max_body_bytes.'
run "$CANARY" serve --config "$TMP/missing.yaml" --stable 127.0.0.1:1
expect_error 66 'missing.yaml'
start_canary busy --workers 1 --stable 127.0.0.1:1
run "$CANARY" serve --listen "$busy_ADDR" --admin 127.0.0.1:0 --stable 127.0.0.1:1
expect_error 69 'in use'
stop_canary busy
echo "router: all checks passed"
