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

# json_close FILTER VALUE [REL]: numeric jq FILTER within relative error REL (1e-9)
json_close() {
    got=$(jq "$1" "$TMP/out") || die "stdout is not JSON"
    awk -v g="$got" -v w="$2" -v r="${3:-1e-9}" 'BEGIN {
        d = g - w; if (d < 0) d = -d; s = (w < 0 ? -w : w); if (s == 0) s = 1;
        exit !(d <= r * s) }' || die "$1: expected $2 (rel ${3:-1e-9}), got $got"
}
