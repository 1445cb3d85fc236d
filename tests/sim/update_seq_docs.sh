#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Regenerate the "Anytime-valid triggers: simulations" section of
# docs/JUDGE.md -- the lines between `<!-- seq-sim:begin -->` and
# `<!-- seq-sim:end -->` -- from `seq-sim` (the full campaign), so the
# numbers in the docs are the ones the code produces. Nothing outside the
# markers is touched. CPU-heavy (`make sim-sequential` runs it at nice 19 on
# 2 threads; the section records its own wall and CPU time).
#
#   tests/sim/update_seq_docs.sh [SEQ_SIM [seq-sim options...]]
#                                               default: build/seq-sim
#
# The section is written even when seq-sim reports a failed requirement
# (recorded, not hidden); the exit code is then seq-sim's (1).
set -eu
cd "$(dirname "$0")/../.."
sim=${1:-${SEQ_SIM:-build/seq-sim}}
[ "$#" -gt 0 ] && shift
doc=docs/JUDGE.md
begin='<!-- seq-sim:begin -->'
end='<!-- seq-sim:end -->'
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

set +e
"$sim" "$@" >"$tmp/section.md"
rc=$?
set -e
if [ "$rc" -ge 2 ] || [ ! -s "$tmp/section.md" ]; then
    echo "update_seq_docs: $sim did not run (exit $rc)" >&2
    exit 1
fi
if [ "$(grep -cxF -e "$begin" "$doc")" -ne 1 ] || [ "$(grep -cxF -e "$end" "$doc")" -ne 1 ]; then
    echo "update_seq_docs: $doc must have exactly one '$begin' line and one '$end' line" >&2
    exit 1
fi
awk -v begin="$begin" -v end="$end" -v section="$tmp/section.md" '
    $0 == begin { print; while ((getline line < section) > 0) print line; skip = 1; next }
    $0 == end { skip = 0 }
    !skip { print }
' "$doc" >"$tmp/doc.md"
cat "$tmp/doc.md" >"$doc"
echo "update_seq_docs: $(wc -l <"$tmp/section.md") lines between the markers of $doc"
if [ "$rc" -ne 0 ]; then
    echo "update_seq_docs: seq-sim reported failed requirements; they are in the section" >&2
fi
exit "$rc"
