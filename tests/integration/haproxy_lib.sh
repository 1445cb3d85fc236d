# SPDX-License-Identifier: GPL-3.0-or-later
# Helpers for the tests and the benchmark that run Debian's real HAProxy
# (sourced after lib.sh, POSIX sh): start, reload and restart HAProxy with
# an admin socket and one backend, drive the HAProxy engine through
# build/haproxy-driver, and count where requests went at the model servers.
: "${HAPROXY_DRIVER:=build/haproxy-driver}"

command -v haproxy >/dev/null || die "haproxy is not installed (scripts/deps.sh --test)"

# free_port: a port the kernel gave to a socket bound to port 0 (closed
# again: HAProxy binds it next; a lost race fails start_haproxy loudly)
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# haproxy_config: writes $TMP/haproxy.cfg (frontend on $HAP_PORT, backend
# `models`, admin sockets $HAP_SOCK and 127.0.0.1:$HAP_TCP, the
# server-state file) and sets those
HAP_SOCK="$TMP/haproxy.sock"
HAP_STATE="$TMP/haproxy.state"
haproxy_config() {
    HAP_PORT=$(free_port)
    HAP_TCP=$(free_port) # a second admin socket, over TCP
    cat >"$TMP/haproxy.cfg" <<EOF
global
    stats socket $HAP_SOCK level admin
    stats socket ipv4@127.0.0.1:$HAP_TCP level admin
    server-state-file $HAP_STATE
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    load-server-state-from-file global
frontend fe
    bind 127.0.0.1:$HAP_PORT
    default_backend models
backend models
    balance roundrobin
EOF
}

hap_cmd() { echo "$1" | socat -t 2 - "unix-connect:$HAP_SOCK" 2>/dev/null; }

# wait_haproxy: until the admin socket answers (10 s)
wait_haproxy() {
    wh_i=0
    until hap_cmd "show info" | grep -q '^Pid:'; do
        wh_i=$((wh_i + 1))
        [ $wh_i -lt 200 ] || die "haproxy did not answer on $HAP_SOCK: $(tail -5 "$TMP/haproxy.err")"
        sleep 0.05
    done
}

# start_haproxy: master-worker mode (a USR2 to the master reloads); sets HAP_PID
start_haproxy() {
    start_bg haproxy haproxy -W -db -f "$TMP/haproxy.cfg"
    HAP_PID=$LAST_PID
    wait_haproxy
}

# worker_pid: the pid of the worker that answers on the socket now
worker_pid() { hap_cmd "show info" | awk '/^Pid:/ {print $2}'; }

# reload_haproxy: USR2 to the master, then until a new worker answers
reload_haproxy() {
    rh_old=$(worker_pid)
    kill -USR2 "$HAP_PID"
    rh_i=0
    while :; do
        rh_new=$(worker_pid)
        [ -n "$rh_new" ] && [ "$rh_new" != "$rh_old" ] && break
        rh_i=$((rh_i + 1))
        [ $rh_i -lt 200 ] || die "haproxy did not reload: $(tail -5 "$TMP/haproxy.err")"
        sleep 0.05
    done
}

# restart_haproxy: stop the master (and its worker), start a new one
restart_haproxy() {
    kill "$HAP_PID"
    wait "$HAP_PID" 2>/dev/null || true
    start_haproxy
}

# start_driver [KEY: VALUE...]: build/haproxy-driver on this HAProxy's backend
start_driver() {
    {
        echo "haproxy:"
        echo "  socket: $HAP_SOCK"
        echo "  backend: models"
        echo "  state_file: $HAP_STATE"
        for sd_kv in "$@"; do echo "  $sd_kv"; done
    } >"$TMP/driver.yaml"
    mkfifo "$TMP/driver.in"
    : >"$TMP/driver.out"
    "$HAPROXY_DRIVER" "$TMP/driver.yaml" <"$TMP/driver.in" >>"$TMP/driver.out" \
        2>"$TMP/driver.err" &
    DRV_PID=$!
    PIDS="$PIDS $DRV_PID"
    exec 3>"$TMP/driver.in"
    DRV_N=0
}

# stop_driver: quit; it must exit 0 with no sanitizer report
stop_driver() {
    echo quit >&3
    exec 3>&-
    sd_rc=0
    wait "$DRV_PID" || sd_rc=$?
    [ "$sd_rc" -eq 0 ] || die "haproxy-driver exited $sd_rc: $(tail -20 "$TMP/driver.err")"
    if grep -Eq 'Sanitizer|runtime error' "$TMP/driver.err"; then
        die "haproxy-driver: $(grep -E -A 15 'Sanitizer|runtime error' "$TMP/driver.err" | head -40)"
    fi
}

# drv COMMAND: one command to the driver; its answer line in $DRV
drv() {
    DRV_N=$((DRV_N + 1))
    echo "$*" >&3
    dv_i=0
    while [ "$(wc -l <"$TMP/driver.out")" -lt "$DRV_N" ]; do
        dv_i=$((dv_i + 1))
        [ $dv_i -lt 600 ] || die "driver: no answer to '$*': $(cat "$TMP/driver.err")"
        sleep 0.02
    done
    DRV=$(sed -n "${DRV_N}p" "$TMP/driver.out")
}

# drv_ok COMMAND: drv, and the answer must not be an error
drv_ok() {
    drv "$@"
    case "$DRV" in error:*) die "driver: '$*': $DRV" ;; esac
}

# field NAME: the value of NAME=... in $DRV
field() { printf '%s\n' "$DRV" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# requests ADDR: the model server's count of model requests
requests() { http_json "http://$1/stats" .requests; }
reset_counts() {
    for rc_a in "$@"; do http_json "http://$rc_a/admin/reset-stats" .ok -X POST >/dev/null; done
}

# send N: N GET model requests through HAProxy, one keep-alive connection
send() {
    curl -sS -o /dev/null "http://127.0.0.1:$HAP_PORT/v2/models/m/infer?i=[1-$1]" ||
        die "curl through haproxy failed"
}

# hap_servers: "name weight admin_state" of the backend's servers, sorted
hap_servers() {
    hap_cmd "show servers state models" | awk 'NR > 2 && NF > 7 {print $4, $8, $7}' | sort
}
