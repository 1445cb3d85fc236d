#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The HAProxy traffic engine (src/engines/haproxy.c) against Debian's real
# HAProxy, driven directly through build/haproxy-driver as the controller
# would: generations applied (servers added, weighted, drained, deleted),
# the split counted at the model servers behind HAProxy, idempotence, an
# HAProxy reload and a restart mid-rollout (renew puts the split back), a
# rollback timed under wrk load (apply start to the canary's last
# request), and errors with HAProxy's own words.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/haproxy_lib.sh"

start_model s1
start_model s2
start_model c1
haproxy_config
start_haproxy
start_driver "drain_timeout: 2s"
ST="$s1_ADDR,$s2_ADDR"

# split_is N BP: N requests; the canary's count fits effective weight BP
split_is() {
    reset_counts "$s1_ADDR" "$s2_ADDR" "$c1_ADDR"
    send "$1"
    si_c=$(requests "$c1_ADDR")
    si_s=$(($(requests "$s1_ADDR") + $(requests "$s2_ADDR")))
    [ $((si_c + si_s)) -eq "$1" ] || die "$1 sent, $((si_c + si_s)) arrived"
    in_binomial "$si_c" "$1" "$(awk -v b="$2" 'BEGIN { print b / 10000 }')"
    echo "  $2 bp: canary $si_c of $1"
}

echo "stable only: two servers, no canary"
drv_ok apply 1 0 v1 "$ST" v2 -
[ "$(field effective_bp)" = 0 ] || die "effective weight: $DRV"
[ "$(hap_servers | awk '{print $1}' | tr '\n' ' ')" = "cn-stable-v1-0 cn-stable-v1-1 " ] ||
    die "servers: $(hap_servers)"
split_is 400 0

echo "10% to the canary"
drv_ok apply 2 1000 v1 "$ST" v2 "$c1_ADDR"
[ "$(field effective_bp)" = 1000 ] || die "effective weight: $DRV"
[ "$(field step)" = 2 ] || die "step: $DRV"
split_is 2000 1000

echo "the same generation again changes nothing"
before=$(hap_cmd "show servers state models" | awk 'NR > 2 {print $3, $4, $8}')
drv_ok apply 2 1000 v1 "$ST" v2 "$c1_ADDR"
[ "$(field step)" = 2 ] || die "a re-apply opened a step: $DRV"
after=$(hap_cmd "show servers state models" | awk 'NR > 2 {print $3, $4, $8}')
[ "$before" = "$after" ] || die "servers changed: $before / $after"

echo "0.01% asks for less than HAProxy's smallest share: 1 / (1 + 2 * 256)"
drv_ok apply 3 1 v1 "$ST" v2 "$c1_ADDR"
[ "$(field effective_bp)" = 19 ] || die "effective weight: $DRV"

echo "50%, then an HAProxy reload forgets the dynamic servers"
drv_ok apply 4 5000 v1 "$ST" v2 "$c1_ADDR"
split_is 1000 5000
reload_haproxy
[ -z "$(hap_servers)" ] || die "servers after a reload: $(hap_servers)"
drv_ok renew
[ "$(field reapplied)" = 1 ] || die "renew did not re-apply: $DRV"
grep -q "generation 4 re-applied: server cn-.* is missing" "$TMP/driver.err" ||
    die "no re-apply line: $(cat "$TMP/driver.err")"
split_is 1000 5000

echo "an HAProxy restart mid-rollout: renew puts the split back"
restart_haproxy
drv_ok renew
[ "$(field reapplied)" = 2 ] || die "renew did not re-apply: $DRV"
split_is 1000 5000
drv_ok renew
[ "$(field reapplied)" = 2 ] || die "a renew of a converged backend re-applied: $DRV"

echo "a server changed by hand is put back"
hap_cmd "set weight models/cn-canary-v2-0 1" >/dev/null
drv_ok renew
[ "$(field reapplied)" = 3 ] || die "renew did not re-apply: $DRV"
[ "$(hap_servers | awk '$1 == "cn-canary-v2-0" {print $2}')" = 256 ] ||
    die "canary weight: $(hap_servers)"

echo "rollback under load: apply start to the canary's last request"
traffic_to "127.0.0.1:$HAP_PORT" 5 4
sleep 1
c_before=$(requests "$c1_ADDR")
[ "$c_before" -gt 0 ] || die "the canary got no traffic before the rollback"
drv_ok apply 5 0 v1 "$ST" v2 -
t0=$(field unix_ns)
sleep 1
last=$(http_json "http://$c1_ADDR/stats" .last_request_unix_ns)
c_after=$(requests "$c1_ADDR")
t1=$((t0 + $(field us) * 1000))
after_start=$(http_json "http://$c1_ADDR/stats?after_ns=$t0" .requests_after)
after_end=$(http_json "http://$c1_ADDR/stats?after_ns=$t1" .requests_after)
echo "  rollback: last canary request $(awk -v a="$last" -v b="$t0" 'BEGIN { printf "%.3f", (a - b) / 1e6 }') ms after apply start; apply took $(field us) us; canary requests after its start $after_start, after its end $after_end"
kill "$WRK" 2>/dev/null || true
# requests HAProxy had sent on before the drain may land just after it
[ "$after_end" -le 4 ] || die "$after_end canary requests after the rollback returned"
[ "$c_after" -ge "$c_before" ] || die "counts went back"
# the drained canary server is deleted once idle (renew)
drv_ok renew
i=0
while hap_servers | grep -q cn-canary; do
    i=$((i + 1))
    [ $i -lt 60 ] || die "canary server not deleted: $(hap_servers)"
    sleep 0.1
    drv_ok renew
done

echo "a promotion: v2 becomes stable on c1, v1's servers leave"
drv_ok apply 6 0 v2 "$c1_ADDR" v2 -
drv_ok renew
[ "$(hap_servers | awk '{print $1}' | tr '\n' ' ')" = "cn-stable-v2-0 " ] ||
    die "servers after promotion: $(hap_servers)"
reset_counts "$c1_ADDR"
send 50
[ "$(requests "$c1_ADDR")" = 50 ] || die "v2 did not take everything"

echo "errors name the command and quote HAProxy"
hap_cmd "add server models/other $s1_ADDR weight 5" >/dev/null
hap_cmd "enable server models/other" >/dev/null
drv apply 7 0 v2 "$c1_ADDR" v2 -
case "$DRV" in
"error: haproxy backend 'models': server 'other' is not canary's"*"takes traffic (weight 5"*) ;;
*) die "foreign server: $DRV" ;;
esac
hap_cmd "set server models/other state maint" >/dev/null
hap_cmd "del server models/other" >/dev/null
drv apply 7 0 v2 "$c1_ADDR" v2 no-such-host.invalid:80
case "$DRV" in "error: haproxy: canary version 'v2': address 'no-such-host.invalid:80': cannot resolve"*) ;;
*) die "unresolvable: $DRV" ;; esac
cat >"$TMP/bad.yaml" <<EOF
haproxy:
  socket: $HAP_SOCK
  backend: nosuch
EOF
echo "apply 1 0 v1 $s1_ADDR v2 -" | "$HAPROXY_DRIVER" "$TMP/bad.yaml" >"$TMP/out" 2>"$TMP/out.err"
[ ! -s "$TMP/out.err" ] || die "driver stderr: $(head -c 400 "$TMP/out.err")"
grep -qx "error: haproxy: 'show servers state nosuch': Can.t find backend." "$TMP/out" ||
    die "unknown backend: $(cat "$TMP/out")"
cat >"$TMP/bad.yaml" <<EOF
haproxy:
  socket: $TMP/nosuch.sock
  backend: models
EOF
echo "apply 1 0 v1 $s1_ADDR v2 -" | "$HAPROXY_DRIVER" "$TMP/bad.yaml" >"$TMP/out" 2>"$TMP/out.err"
[ ! -s "$TMP/out.err" ] || die "driver stderr: $(head -c 400 "$TMP/out.err")"
grep -q "^error: haproxy socket '.*nosuch.sock': connect: No such file or directory$" \
    "$TMP/out" || die "no socket: $(cat "$TMP/out")"
# an admin socket that accepts and never answers: the timeout, named
python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(4)
c = s.accept(); time.sleep(30)' "$TMP/mute.sock" &
PIDS="$PIDS $!"
i=0
until [ -S "$TMP/mute.sock" ]; do i=$((i + 1)); [ $i -lt 100 ] || die "no mute socket"; sleep 0.05; done
printf 'haproxy:\n  socket: %s\n  backend: models\n  timeout: 300ms\n' "$TMP/mute.sock" >"$TMP/bad.yaml"
echo "apply 1 0 v1 $s1_ADDR v2 -" | "$HAPROXY_DRIVER" "$TMP/bad.yaml" >"$TMP/out" 2>"$TMP/out.err"
grep -qx "error: haproxy: 'show servers state models': no whole answer within 300 ms" "$TMP/out" ||
    die "mute socket: $(cat "$TMP/out" "$TMP/out.err")"
printf 'haproxy:\n  socket: x\n  backend: models\n' >"$TMP/bad.yaml"
run "$HAPROXY_DRIVER" "$TMP/bad.yaml"
expect_error 65 "bad.yaml:2: key 'haproxy.socket': must be the admin socket"

echo "the TCP admin socket drives the same backend"
printf 'haproxy:\n  socket: 127.0.0.1:%s\n  backend: models\n' "$HAP_TCP" >"$TMP/tcp.yaml"
printf 'apply 6 0 v2 %s v2 -\nrenew\n' "$c1_ADDR" | "$HAPROXY_DRIVER" "$TMP/tcp.yaml" >"$TMP/out" \
    2>"$TMP/out.err"
[ "$(sed -n 1p "$TMP/out" | cut -d' ' -f1-3)" = "applied 6 effective_bp=0" ] &&
    [ "$(sed -n 2p "$TMP/out" | cut -d' ' -f1-2)" = "renewed reapplied=0" ] ||
    die "over TCP: $(cat "$TMP/out" "$TMP/out.err")"

echo "the state file holds the backend's servers"
grep -q " models .* cn-stable-v2-0 " "$HAP_STATE" || die "state file: $(cat "$HAP_STATE")"
[ "$(stat -c %a "$HAP_STATE")" = 644 ] || die "state file mode $(stat -c %a "$HAP_STATE")"
[ -z "$(ls "$HAP_STATE".* 2>/dev/null)" ] || die "temporary files left: $(ls "$HAP_STATE".*)"
stop_driver
echo "PASS test_haproxy_engine.sh"
