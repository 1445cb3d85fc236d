#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `make demo` end to end (scripts/demo.sh against $CANARY and the model
# server next to it): it runs to the end, and its output, when it is not a
# terminal (a log, a pipe, CI), holds no raw terminal escapes.
. tests/integration/lib.sh

echo "demo: runs to the end; plain text when not on a terminal"
sh scripts/demo.sh "$CANARY" >"$TMP/demo" 2>&1 </dev/null ||
    die "scripts/demo.sh failed: $(tail -n 20 "$TMP/demo")"
esc=$(printf '\033')
if grep -n "$esc" "$TMP/demo" >"$TMP/esc"; then
    die "terminal escapes in the demo's output to a file: $(head -n 3 "$TMP/esc" | od -c | head -n 5)"
fi
headings=$(grep -c '^== ' "$TMP/demo")
[ "$headings" -ge 10 ] || die "expected the demo's headings (== ...), found $headings"
grep -q '^== 1\. canary serve in front of two model servers' "$TMP/demo" ||
    die "the first heading is missing: $(head -n 5 "$TMP/demo")"
echo "  $headings headings, no escapes"
