#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Regenerate the measured section of docs/JUDGE.md -- the lines between
# `<!-- judge-evidence:begin -->` and `<!-- judge-evidence:end -->` -- from
# `judge-sim --markdown`, so the rates in the docs are the ones the code
# produces. Nothing outside the markers is touched.
#
#   tests/sim/update_docs.sh [JUDGE_SIM]     default: $JUDGE_SIM or build/judge-sim
#
# Build first (`make`). The section is written even when judge-sim reports
# a failed requirement (a failure is recorded, not hidden); the exit code
# is then judge-sim's (1). tests/integration/test_judge_evidence.sh fails
# when the section is stale.
set -eu
cd "$(dirname "$0")/../.."
sim=${1:-${JUDGE_SIM:-build/judge-sim}}
doc=docs/JUDGE.md
begin='<!-- judge-evidence:begin -->'
end='<!-- judge-evidence:end -->'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

set +e
"$sim" --markdown >"$tmp/section.md"
rc=$?
set -e
if [ "$rc" -ge 2 ] || [ ! -s "$tmp/section.md" ]; then
    echo "update_docs: $sim did not run (exit $rc)" >&2
    exit 1
fi

[ -f "$doc" ] || printf '%s\n%s\n' "$begin" "$end" >"$doc"
if [ "$(grep -cxF -e "$begin" "$doc")" -ne 1 ] || [ "$(grep -cxF -e "$end" "$doc")" -ne 1 ]; then
    echo "update_docs: $doc must have exactly one '$begin' line and one '$end' line" >&2
    exit 1
fi
awk -v begin="$begin" -v end="$end" -v section="$tmp/section.md" '
    $0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }
' "$doc" >"$tmp/doc.md"
cat "$tmp/doc.md" >"$doc"
echo "update_docs: $(wc -l <"$tmp/section.md") lines between the markers of $doc"
if [ "$rc" -ne 0 ]; then
    echo "update_docs: judge-sim reported failed requirements; they are in the section" >&2
fi
exit "$rc"
