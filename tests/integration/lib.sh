# SPDX-License-Identifier: GPL-3.0-or-later
# Shared helpers for the integration tests (sourced, POSIX sh).
set -eu
: "${CANARY:=build/canary}"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
NCHECK=0

die() {
    echo "  FAILED: $*" >&2
    exit 1
}

# run CMD...: runs it, capturing stdout/stderr/exit code in $TMP/out, $TMP/err, $RC
run() {
    set +e
    "$@" >"$TMP/out" 2>"$TMP/err"
    RC=$?
    set -e
    NCHECK=$((NCHECK + 1))
}

# expect_ok: last run exited 0 with no stderr
expect_ok() {
    [ "$RC" -eq 0 ] || die "expected exit 0, got $RC: $(cat "$TMP/err")"
    [ ! -s "$TMP/err" ] || die "expected no stderr, got: $(head -c 400 "$TMP/err")"
}

# expect_error CODE PATTERN: exit CODE, empty stdout, exactly one stderr line
# that matches the extended regex PATTERN
expect_error() {
    [ "$RC" -eq "$1" ] || die "expected exit $1, got $RC (stderr: $(cat "$TMP/err"))"
    [ ! -s "$TMP/out" ] || die "expected no stdout on error, got: $(head -c 200 "$TMP/out")"
    lines=$(wc -l <"$TMP/err")
    [ "$lines" -eq 1 ] || die "expected one stderr line, got $lines: $(cat "$TMP/err")"
    grep -Eq -e "$2" "$TMP/err" || die "stderr '$(cat "$TMP/err")' does not match /$2/"
}

# json_eq FILTER VALUE: jq FILTER on the last stdout equals VALUE (as text)
json_eq() {
    got=$(jq -c "$1" "$TMP/out") || die "stdout is not JSON: $(head -c 200 "$TMP/out")"
    [ "$got" = "$2" ] || die "$1: expected $2, got $got"
}

# json_close FILTER VALUE [REL]: numeric jq FILTER within relative error REL
# (1e-9). A FILTER that gives no number (a missing key, null, a string)
# fails: it is not close to anything.
json_close() {
    got=$(jq -c "$1" "$TMP/out") || die "stdout is not JSON: $(head -c 200 "$TMP/out")"
    [ "$(printf '%s\n' "$got" | wc -l)" -eq 1 ] &&
        printf '%s\n' "$got" | grep -Eqx -e '-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?' ||
        die "$1: expected the number $2, got '$got'"
    awk -v g="$got" -v w="$2" -v r="${3:-1e-9}" 'BEGIN {
        d = g - w; if (d < 0) d = -d; s = (w < 0 ? -w : w); if (s == 0) s = 1;
        exit !(d <= r * s) }' || die "$1: expected $2 (rel ${3:-1e-9}), got $got"
}

# http_json URL FILTER [curl args...]: the request must succeed (connected,
# 2xx) and its body be JSON; prints jq FILTER of the body (compact). A failed
# request, a body that is not JSON, or a FILTER that gives null (a missing
# key) fails the test. Call it as VAR=$(http_json ...), never in a pipeline
# or a condition: the test stops only if the assignment fails (set -e).
# It replaces `curl ... | jq ...`, whose status is jq's, so a failed request
# read as an empty answer.
http_json() {
    hj_url=$1
    hj_filter=$2
    shift 2
    hj_body=$(mktemp "$TMP/http.XXXXXX")
    hj_code=$(curl -sS --fail-with-body -o "$hj_body" -w '%{http_code}' "$@" "$hj_url" \
        2>"$hj_body.err") ||
        die "$hj_url: request failed (HTTP ${hj_code:-000}): $(head -c 200 "$hj_body.err")" \
            "$(head -c 200 "$hj_body")"
    hj_value=$(jq -c "$hj_filter" "$hj_body") ||
        die "$hj_url: body is not JSON: $(head -c 200 "$hj_body")"
    [ -n "$hj_value" ] && [ "$hj_value" != null ] ||
        die "$hj_url: $hj_filter is missing in $(head -c 200 "$hj_body")"
    rm -f "$hj_body" "$hj_body.err"
    printf '%s\n' "$hj_value"
}

# ---- processes: model servers and `canary serve` on loopback, port 0 ----

: "${MODEL_SERVER:=build/model-server}"
PIDS=""
lib_cleanup() {
    for lib_p in $PIDS; do kill "$lib_p" 2>/dev/null || true; done
    for lib_p in $PIDS; do wait "$lib_p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap lib_cleanup EXIT
# A test killed by a signal still stops what it started.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# start_bg NAME CMD...: run in the background, stdout to $TMP/NAME.out,
# stderr to $TMP/NAME.err; sets $LAST_PID (killed when the test exits)
start_bg() {
    sb_name=$1
    shift
    "$@" >"$TMP/$sb_name.out" 2>"$TMP/$sb_name.err" &
    LAST_PID=$!
    PIDS="$PIDS $LAST_PID"
}

# wait_line NAME PATTERN: wait (10 s) for a stdout line of NAME; prints it
wait_line() {
    wl_i=0
    while [ $wl_i -lt 200 ]; do
        wl_l=$(grep -m1 -E "$2" "$TMP/$1.out" 2>/dev/null || true)
        if [ -n "$wl_l" ]; then
            echo "$wl_l"
            return 0
        fi
        wl_i=$((wl_i + 1))
        sleep 0.05
    done
    die "$1 did not print /$2/: $(cat "$TMP/$1.err")"
}

addr_of() { wait_line "$1" "$2" | awk '{print $NF}'; }

# start_model NAME [PREDICTION [model-server args]]: sets NAME_PID,
# NAME_ADDR; the model server answers with "model_name": NAME (and its
# default prediction when PREDICTION is not given)
start_model() {
    sm_n=$1
    shift
    if [ $# -gt 0 ]; then
        sm_p=$1
        shift
        set -- --prediction "$sm_p" "$@"
    fi
    start_bg "$sm_n" "$MODEL_SERVER" --listen 127.0.0.1:0 --name "$sm_n" "$@"
    eval "${sm_n}_PID=$LAST_PID"
    eval "${sm_n}_ADDR=$(addr_of "$sm_n" '^listening on')"
}

# start_canary NAME [serve args]: sets NAME_PID, NAME_ADDR, NAME_ADMIN
start_canary() {
    sc_n=$1
    shift
    start_bg "$sc_n" "$CANARY" serve --listen 127.0.0.1:0 --admin 127.0.0.1:0 "$@"
    eval "${sc_n}_PID=$LAST_PID"
    eval "${sc_n}_ADDR=$(addr_of "$sc_n" '^listening on')"
    eval "${sc_n}_ADMIN=$(addr_of "$sc_n" '^admin on')"
}

# stop_canary NAME: SIGTERM, then it must exit 0 with no sanitizer report
stop_canary() {
    eval "st_pid=\$${1}_PID"
    kill "$st_pid"
    st_rc=0
    wait "$st_pid" || st_rc=$?
    [ "$st_rc" -eq 0 ] || die "$1 exited $st_rc after SIGTERM: $(tail -n 20 "$TMP/$1.err")"
    if grep -Eq 'Sanitizer|runtime error' "$TMP/$1.err"; then
        die "$1: $(grep -E -A 15 'Sanitizer|runtime error' "$TMP/$1.err" | head -40)"
    fi
}

# put_traffic ADMIN JSON: PUT /v1/traffic with $TOKEN; must answer 200
put_traffic() {
    pt_code=$(curl -s -o "$TMP/put.json" -w '%{http_code}' -X PUT \
        -H "Authorization: Bearer $TOKEN" -d "$2" "http://$1/v1/traffic")
    [ "$pt_code" = 200 ] || die "PUT /v1/traffic $2: HTTP $pt_code $(cat "$TMP/put.json")"
}

# in_binomial K N P: K within the 99.9% normal-approximation interval of
# Binomial(N, P) (z = 3.2905)
in_binomial() {
    awk -v k="$1" -v n="$2" -v p="$3" 'BEGIN {
        m = n * p; s = sqrt(n * p * (1 - p)); lo = m - 3.2905 * s; hi = m + 3.2905 * s
        if (k < lo || k > hi) { printf "%d of %d not in [%.1f, %.1f]\n", k, n, lo, hi; exit 1 } }' ||
        die "split ratio: $1 of $2 to canary is outside the 99.9% binomial interval for p=$3"
}

# ---- rollouts: wrk traffic, the CLI's status, the audit trail ----

# traffic_to ADDR SECONDS [CONNECTIONS]: wrk POSTs to the proxy at ADDR in
# the background; sets $WRK (stopped when the test exits)
traffic_to() {
    [ -f "$TMP/post.lua" ] || cat >"$TMP/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}'
wrk.headers["Content-Type"] = "application/json"
LUA
    wrk -t1 -c"${3:-4}" -d"$2"s -s "$TMP/post.lua" "http://$1/v2/models/m/infer" \
        >/dev/null 2>&1 &
    WRK=$!
    PIDS="$PIDS $WRK"
}

# wait_state ID STATE...: poll `canary rollout status ID` (450 times, 0.2 s
# apart) until its state is one of STATE. A final state (promoted,
# rolled-back, aborted) not asked for cannot change: it fails at once, as
# does running out of polls, with the last status and the proxy's counters.
wait_state() {
    ws_id=$1
    shift
    ws_i=0
    while [ $ws_i -lt 450 ]; do
        "$CANARY" rollout status "$ws_id" --json >"$TMP/status" 2>"$TMP/status.err" || true
        ws_s=$(jq -r '.state // empty' "$TMP/status" 2>/dev/null || true)
        for ws_want in "$@"; do
            [ "$ws_s" = "$ws_want" ] && return 0
        done
        case "$ws_s" in promoted | rolled-back | aborted) break ;; esac
        ws_i=$((ws_i + 1))
        sleep 0.2
    done
    curl -s -H "Authorization: Bearer $TOKEN" "$CANARY_SERVER/metrics" |
        grep -E '^canary_(responses|failures|upstream)' | grep -v ' 0$' >&2 || true
    die "rollout $ws_id: expected state $*, got '$ws_s': $(cat "$TMP/status" "$TMP/status.err")"
}

# wait_err NAME PATTERN: wait (20 s) for a stderr line of NAME
wait_err() {
    we_i=0
    until grep -Eq -e "$2" "$TMP/$1.err" 2>/dev/null; do
        we_i=$((we_i + 1))
        [ $we_i -lt 400 ] || die "$1 did not log /$2/: $(tail -5 "$TMP/$1.err")"
        sleep 0.05
    done
}

# trail_ok ID: the audit trail is numbered 1..N with no gap or duplicate
trail_ok() {
    run "$CANARY" rollout history "$1" --json
    expect_ok
    json_eq '[.entries[].seq] == [range(1; (.entries | length) + 1)]' true
}

# stored_machine DB JQ: a field of rollout 1's stored machine JSON, read
# straight from the state file (empty while none is stored).
stored_machine() {
    sqlite3 -batch "$1" "SELECT machine FROM rollouts WHERE id = 1" |
        jq -r "$2 // empty" 2>/dev/null || true
}

# wait_stored DB JQ MIN ERRFILE: until that stored field is at least MIN
# (the driver saves its state every second); dies after 30 s.
wait_stored() {
    _i=0
    while :; do
        _n=$(stored_machine "$1" "$2")
        [ -n "$_n" ] && [ "$_n" -ge "$3" ] && return 0
        _i=$((_i + 1))
        [ $_i -lt 300 ] || die "stored $2 of rollout 1 not at $3 after 30 s: '$_n' $(tail -5 "$4")"
        sleep 0.1
    done
}
