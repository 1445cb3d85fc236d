#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Regenerate the "Whole rollouts" section of docs/JUDGE.md -- the lines
# between `<!-- rollout-sim:begin -->` and `<!-- rollout-sim:end -->` --
# from `rollout-sim --markdown`, so the numbers in the docs are the ones the
# code produces. Nothing outside the markers is touched. The full run takes
# about 5 CPU minutes (`make sim-rollout`).
#
#   tests/sim/update_rollout_docs.sh [ROLLOUT_SIM]   default: build/rollout-sim
#
# The section is written even when rollout-sim reports a failed requirement
# (recorded, not hidden); the exit code is then rollout-sim's (1).
set -eu
cd "$(dirname "$0")/../.."
sim=${1:-${ROLLOUT_SIM:-build/rollout-sim}}
doc=docs/JUDGE.md
begin='<!-- rollout-sim:begin -->'
end='<!-- rollout-sim:end -->'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

set +e
"$sim" --markdown >"$tmp/section.md"
rc=$?
set -e
if [ "$rc" -ge 2 ] || [ ! -s "$tmp/section.md" ]; then
    echo "update_rollout_docs: $sim did not run (exit $rc)" >&2
    exit 1
fi
if [ "$(grep -cxF -e "$begin" "$doc")" -ne 1 ] || [ "$(grep -cxF -e "$end" "$doc")" -ne 1 ]; then
    echo "update_rollout_docs: $doc must have exactly one '$begin' line and one '$end' line" >&2
    exit 1
fi
awk -v begin="$begin" -v end="$end" -v section="$tmp/section.md" '
    $0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }
' "$doc" >"$tmp/doc.md"
cat "$tmp/doc.md" >"$doc"
echo "update_rollout_docs: $(wc -l <"$tmp/section.md") lines between the markers of $doc"
if [ "$rc" -ne 0 ]; then
    echo "update_rollout_docs: rollout-sim reported failed requirements; they are in the section" >&2
fi
exit "$rc"
