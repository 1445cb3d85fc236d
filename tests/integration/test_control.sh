#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The control plane of `canary serve` with real processes: every change goes
# through the controller's checks (the shadow-without-canary regression,
# across a real restart with --state), the versions resource, and the
# admin token's warnings.
. tests/integration/lib.sh
TOKEN=control-token-$$-0123456789abcdef
export CANARY_TOKEN="$TOKEN"

# put ADMIN PATH JSON: PUT with the token; the status in $CODE, body in $TMP/put
put() {
    CODE=$(curl -s -o "$TMP/put" -w '%{http_code}' -X PUT \
        -H "Authorization: Bearer $TOKEN" -d "$3" "http://$1$2") || die "PUT $2: curl failed"
}

get() { # ADMIN PATH: GET with the token into $TMP/out (run/json_eq read it)
    curl -sf -o "$TMP/out" -H "Authorization: Bearer $TOKEN" "http://$1$2" ||
        die "GET $2 failed"
}

start_model m1

echo "control: shadow mode without a canary is refused, and a restart still starts"
start_canary s1 --workers 1 --stable "$m1_ADDR" --state "$TMP/state.db"
put "$s1_ADMIN" /v1/traffic '{"mode":"shadow"}'
[ "$CODE" = 400 ] || die "shadow without canary: HTTP $CODE $(cat "$TMP/put")"
grep -q '"mode: .shadow. needs a canary' "$TMP/put" || die "400 body: $(cat "$TMP/put")"
put "$s1_ADMIN" /v1/traffic '{"canary_weight":1}'
[ "$CODE" = 400 ] || die "weight without canary: HTTP $CODE $(cat "$TMP/put")"
put "$s1_ADMIN" /v1/traffic '{"force_enabled":true}'
[ "$CODE" = 200 ] || die "force_enabled: HTTP $CODE $(cat "$TMP/put")"
grep -q 'change by admin 127.0.0.1' "$TMP/s1.err" || die "no log line: $(cat "$TMP/s1.err")"
stop_canary s1
start_canary s2 --workers 1 --stable "$m1_ADDR" --state "$TMP/state.db"
get "$s2_ADMIN" /v1/traffic
json_eq .mode '"random"'
json_eq .force_enabled true
stop_canary s2

echo "control: GET /v1/versions gives both sets; a bad PUT is a 400 naming the field"
start_model m2
start_canary v1 --workers 1 --stable "$m1_ADDR" --stable-version v1 --canary "$m2_ADDR" \
    --canary-version v2 --canary-weight 10
get "$v1_ADMIN" /v1/versions
json_eq .stable "{\"version\":\"v1\",\"addresses\":[\"$m1_ADDR\"]}"
json_eq .canary "{\"version\":\"v2\",\"addresses\":[\"$m2_ADDR\"]}"
put "$v1_ADMIN" /v1/versions "{\"canary\":{\"version\":\"v3\",\"addresses\":[\"$m2_ADDR\",\"$m2_ADDR\"]}}"
[ "$CODE" = 400 ] || die "duplicate address: HTTP $CODE"
grep -q 'canary.addresses\[1\]: duplicate address' "$TMP/put" || die "400 body: $(cat "$TMP/put")"
put "$v1_ADMIN" /v1/versions '{"canary":{"version":"v1","addresses":["127.0.0.1:9"]}}'
[ "$CODE" = 400 ] || die "label clash: HTTP $CODE"
grep -q 'canary.version: must differ' "$TMP/put" || die "400 body: $(cat "$TMP/put")"
put "$v1_ADMIN" /v1/versions '{"canary":{"version":"v3","addresses":[]}}'
[ "$CODE" = 400 ] || die "weight with an empty canary: HTTP $CODE"
grep -q 'canary_weight: must stay 0' "$TMP/put" || die "400 body: $(cat "$TMP/put")"
get "$v1_ADMIN" /v1/versions
json_eq .generation 1
stop_canary v1

echo "control: a good PUT /v1/versions is applied, routed to, and kept across a restart"
start_model m3
start_canary p1 --workers 1 --stable "$m1_ADDR" --stable-version v1 --canary "$m2_ADDR" \
    --canary-version v2 --state "$TMP/put-versions.db"
put "$p1_ADMIN" /v1/versions "{\"canary\":{\"version\":\"v3\",\"addresses\":[\"$m3_ADDR\"]}}"
[ "$CODE" = 200 ] || die "PUT /v1/versions: HTTP $CODE $(cat "$TMP/put")"
cp "$TMP/put" "$TMP/out"
json_eq .canary "{\"version\":\"v3\",\"addresses\":[\"$m3_ADDR\"]}"
json_eq .generation 2
put "$p1_ADMIN" /v1/traffic '{"canary_weight":100}'
[ "$CODE" = 200 ] || die "PUT /v1/traffic: HTTP $CODE $(cat "$TMP/put")"
m3_before=$(http_json "http://$m3_ADDR/stats" .requests)
v=$(curl -s -D - -o /dev/null -d '{}' "http://$p1_ADDR/v2/models/m/infer" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "x-model-version" {print $2}')
[ "$v" = v3 ] || die "served by '$v', expected the new canary v3"
m3_after=$(http_json "http://$m3_ADDR/stats" .requests)
[ "$m3_after" -eq $((m3_before + 1)) ] || die "the new canary's server counted $m3_before -> $m3_after"
stop_canary p1
start_canary p2 --workers 1 --stable "$m1_ADDR" --stable-version v1 --canary "$m2_ADDR" \
    --canary-version v2 --state "$TMP/put-versions.db"
get "$p2_ADMIN" /v1/versions
json_eq .canary "{\"version\":\"v3\",\"addresses\":[\"$m3_ADDR\"]}"
stop_canary p2

echo "control: the version sets in the state file win over the flags at restart"
start_canary r1 --workers 1 --stable "$m1_ADDR" --stable-version v1 --state "$TMP/versions.db"
stop_canary r1
start_canary r2 --workers 1 --stable "$m2_ADDR" --stable-version v9 --state "$TMP/versions.db"
get "$r2_ADMIN" /v1/versions
json_eq .stable "{\"version\":\"v1\",\"addresses\":[\"$m1_ADDR\"]}"
grep -q "versions restored from $TMP/versions.db (generation 1).*the config's differ, and the state wins" \
    "$TMP/r2.err" || die "no restore line: $(cat "$TMP/r2.err")"
v=$(curl -s -D - -o /dev/null -d '{}' "http://$r2_ADDR/v2/models/m/infer" | tr -d '\r' |
    awk -F': ' 'tolower($1) == "x-model-version" {print $2}')
[ "$v" = v1 ] || die "served by '$v', expected the stored stable v1"
stop_canary r2

echo "control: a one-character token and a token file others can read get a warning"
printf 'x\n' >"$TMP/token"
chmod 644 "$TMP/token"
start_canary t1 --workers 1 --stable "$m1_ADDR" --token-file "$TMP/token"
grep -q "warning: token file '$TMP/token' can be read or written by other users (mode 0644)" \
    "$TMP/t1.err" || die "no warning for the file mode: $(cat "$TMP/t1.err")"
grep -q "warning: the admin token from the token file is only 1 byte" "$TMP/t1.err" ||
    die "no warning for the short token: $(cat "$TMP/t1.err")"
[ "$(grep -c warning "$TMP/t1.err")" -eq 2 ] || die "one line each: $(cat "$TMP/t1.err")"
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer x' \
    "http://$t1_ADMIN/v1/traffic")
[ "$code" = 200 ] || die "the short token is still the token: HTTP $code"
stop_canary t1
chmod 600 "$TMP/token"
printf '%s\n' "$TOKEN" >"$TMP/token"
start_canary t2 --workers 1 --stable "$m1_ADDR" --token-file "$TMP/token"
grep -q warning "$TMP/t2.err" && die "unexpected warning: $(cat "$TMP/t2.err")"
stop_canary t2

echo "control: all checks passed"
