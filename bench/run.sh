#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# make bench: the statistics engine against scipy, same data, same machine,
# alternating runs (C, scipy, C, scipy), best of each. Rewrites the
# "Statistics engine" section of docs/BENCHMARKS.md.
#   bench/run.sh BUILD/bench-stats [N]
set -eu
bin=$1
n=${2:-1000000}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

have_scipy=0
/usr/bin/python3 -c 'import scipy' 2>/dev/null && have_scipy=1

for round in 1 2; do
    "$bin" --n "$n" --reps 3 --write-data "$tmp/data.bin" --json >"$tmp/c$round.json"
    if [ $have_scipy = 1 ]; then
        /usr/bin/python3 bench/scipy_bench.py "$tmp/data.bin" "$n" 2 >"$tmp/s$round.json"
    fi
done

/usr/bin/python3 bench/report.py "$tmp" "$n" "$have_scipy" docs/BENCHMARKS.md
