#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `make demo` end to end, headless (scripts/demo.sh against $CANARY and
# the example model server next to it): three real model versions behind
# canary serve, held-out rows replayed with their labels posted back; v2
# must be promoted and v3 rolled back with the right metric and segment
# named, while no aggregate row failed; both reports are written; its
# output to a file holds no terminal escapes.
. tests/integration/lib.sh

echo "demo: v2 promoted, v3 rolled back for the government sector; plain text off a terminal"
DEMO_OUT="$TMP/reports" sh scripts/demo.sh "$CANARY" >"$TMP/demo" 2>&1 </dev/null ||
    die "scripts/demo.sh failed: $(tail -n 30 "$TMP/demo")"
esc=$(printf '\033')
if grep -n "$esc" "$TMP/demo" >"$TMP/esc"; then
    die "terminal escapes in the demo's output to a file: $(head -n 3 "$TMP/esc" | od -c | head -n 5)"
fi
grep -q '^== 1\. Three versions of a real model' "$TMP/demo" ||
    die "the first heading is missing: $(head -n 5 "$TMP/demo")"
grep -q '^v2 promoted: rollout 1$' "$TMP/demo" || die "v2 was not promoted: $(grep -A3 '^== 4' "$TMP/demo")"
grep -q '^v3 rolled back: rollout 2$' "$TMP/demo" || die "v3 was not rolled back"
grep -Eq "^why: .*critical metric '(log_loss|accuracy|prediction)' failed in segment 'government'" \
    "$TMP/demo" || die "the reason names no metric in the government sector: $(grep '^why' "$TMP/demo")"
grep -q '^Over all traffic 0 metric(s) failed; per segment: .*in government' "$TMP/demo" ||
    die "the aggregate: $(grep '^Over all' "$TMP/demo")"
grep -q '^v2 promoted, v3 rolled back: the demo passed$' "$TMP/demo" || die "no outcome line"
for r in rollout-1-v2.html rollout-2-v3.html; do
    [ -s "$TMP/reports/$r" ] || die "no report $r"
done
grep -q 'government' "$TMP/reports/rollout-2-v3.html" || die "v3's report does not name the segment"
echo "  $(grep -c '^== ' "$TMP/demo") headings, no escapes, both reports written"
