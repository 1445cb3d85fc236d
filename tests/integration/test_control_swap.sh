#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Versions change at run time under load, on real backends: with wrk
# sending requests through `canary serve`, the canary's addresses are
# swapped 20 times and then the stable's 20 times through PUT
# /v1/versions. The clients see no error, and after each PUT has returned
# no new request reaches the address that left the set: its own request
# count (the model server's GET /stats) is read ~200 ms after the PUT
# returned and again after 1 s more of load, and must not grow. Then the
# canary is promoted (POST /v1/versions/promote) under the same load: one
# publication, after which the old stable gets nothing and the promoted
# version everything.
. tests/integration/lib.sh
TOKEN=swap-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"
requests_of() { http_json "http://$1/stats" .requests; } # the server's own count

put_versions() { # JSON
    code=$(curl -s -o "$TMP/put" -w '%{http_code}' -X PUT \
        -H "Authorization: Bearer $TOKEN" -d "$1" "http://$cs_ADMIN/v1/versions") ||
        die "PUT /v1/versions: curl failed"
    [ "$code" = 200 ] || die "PUT /v1/versions $1: HTTP $code $(cat "$TMP/put")"
}

for n in sa sb ca cb; do start_model "$n"; done
start_bg cs "$CANARY" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 --workers 2 \
    --stable "$sa_ADDR" --stable-version v1 --canary "$ca_ADDR" --canary-version v2 \
    --canary-weight 30 --health-interval 400ms --health-timeout 400ms
cs_PID=$LAST_PID
cs_ADDR=$(addr_of cs '^listening on')
cs_ADMIN=$(addr_of cs '^admin on')

cat >"$TMP/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk -t2 -c16 -d120s -s "$TMP/post.lua" "http://$cs_ADDR/v2/models/m/infer" >"$TMP/wrk" 2>&1 &
WRK=$!
PIDS="$PIDS $WRK" # lib.sh stops it if the test fails
sleep 1

# swap ROLE LABEL FROM TO: move ROLE from address FROM to TO, then check
# that FROM gets nothing more
MAXGROW=0
swap() {
    put_versions "{\"$1\":{\"version\":\"$2\",\"addresses\":[\"$4\"]}}"
    sleep 0.2
    before=$(requests_of "$3")
    sleep 1
    after=$(requests_of "$3")
    [ "$after" -eq "$before" ] ||
        die "$1 swap $k: $3 left the set but got $((after - before)) more requests ($before -> $after)"
}

echo "control: 20 swaps of the canary's addresses under load"
from=$ca_ADDR
to=$cb_ADDR
k=1
while [ $k -le 20 ]; do
    swap canary v2 "$from" "$to"
    t=$from
    from=$to
    to=$t
    k=$((k + 1))
done
canary_now=$from
echo "control: 20 swaps of the stable's addresses under load"
from=$sa_ADDR
to=$sb_ADDR
k=1
while [ $k -le 20 ]; do
    swap stable v1 "$from" "$to"
    t=$from
    from=$to
    to=$t
    k=$((k + 1))
done

stable_now=$from

echo "control: the canary is promoted under load, in one publication"
post_promote() { # BODY: POST /v1/versions/promote; status in $code, body in $TMP/put
    code=$(curl -s -o "$TMP/put" -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" \
        -d "$1" "http://$cs_ADMIN/v1/versions/promote") || die "POST promote: curl failed"
}
post_promote '{"force":true}'
[ "$code" = 400 ] || die "promote with parameters: HTTP $code $(cat "$TMP/put")"
post_promote ''
[ "$code" = 200 ] || die "promote: HTTP $code $(cat "$TMP/put")"
jq -e --arg a "$canary_now" '.stable == {"version":"v2","addresses":[$a]} and
    (.canary.addresses | length) == 0 and .generation == 42' "$TMP/put" >/dev/null ||
    die "promote answered $(cat "$TMP/put")"
sleep 0.2
old_before=$(requests_of "$stable_now")
new_before=$(requests_of "$canary_now")
sleep 1
old_after=$(requests_of "$stable_now")
new_after=$(requests_of "$canary_now")
[ "$old_after" -eq "$old_before" ] ||
    die "the old stable got $((old_after - old_before)) requests after the promotion"
[ "$new_after" -gt "$new_before" ] || die "the promoted version got no request"
tr=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://$cs_ADMIN/v1/traffic") ||
    die "GET /v1/traffic failed"
echo "$tr" | jq -e '.canary_weight == 0' >/dev/null || die "traffic after promotion: $tr"
post_promote '{}'
[ "$code" = 400 ] || die "a second promote: HTTP $code $(cat "$TMP/put")"
grep -q 'nothing to promote' "$TMP/put" || die "second promote: $(cat "$TMP/put")"
grep -q 'promotion by admin 127.0.0.1: generation 42' "$TMP/cs.err" ||
    die "no promotion log line: $(cat "$TMP/cs.err")"

kill -INT "$WRK"
wait "$WRK" || true
WRK=""
grep -q 'requests in' "$TMP/wrk" || die "wrk printed no summary: $(cat "$TMP/wrk")"
grep -q 'Socket errors' "$TMP/wrk" && die "socket errors during swaps: $(cat "$TMP/wrk")"
grep -q 'Non-2xx' "$TMP/wrk" && die "non-2xx answers during swaps: $(cat "$TMP/wrk")"
reqs=$(awk '/requests in/ {print $1}' "$TMP/wrk")
for n in sa sb ca cb; do
    eval "a=\$${n}_ADDR"
    c=$(requests_of "$a")
    [ "$c" -gt 0 ] || die "backend $n got no request"
    eval "${n}_N=$c"
done
get=$(curl -sf -H "Authorization: Bearer $TOKEN" "http://$cs_ADMIN/v1/versions") ||
    die "GET /v1/versions failed"
echo "$get" | jq -e '.generation == 42' >/dev/null || die "expected generation 42: $get"
echo "  $reqs requests, 0 client errors; backends sa $sa_N, sb $sb_N, ca $ca_N, cb $cb_N;" \
    "no removed address got a request after its PUT returned; promoted in one publication"

kill "$cs_PID"
st=0
wait "$cs_PID" || st=$?
[ "$st" -eq 0 ] || die "canary serve exited $st: $(tail -n 20 "$TMP/cs.err")"
if grep -Eq 'Sanitizer|runtime error' "$TMP/cs.err"; then
    die "$(grep -E -A 15 'Sanitizer|runtime error' "$TMP/cs.err" | head -40)"
fi
echo "control: all swap checks passed"
