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
