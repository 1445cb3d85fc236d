#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# make demo: what canary's statistics engine says about a canary model.
#
# Until the router and controller land, the demo judges two simulated
# latency samples the way the judge will: stable ~ lognormal(ln 40 ms, 0.5),
# and a canary that is 8% slower. It asks whether the canary is
# non-inferior within a 5% margin, and for how big the shift is, then shows
# the same for a rate metric and for prediction drift.
set -eu
canary=$(realpath "${1:-build/canary}")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

# lognormal(mu, sigma) * scale, Box-Muller, fixed seed: reproducible.
gen() { # seed n mu sigma file
    awk -v seed="$1" -v n="$2" -v mu="$3" -v s="$4" 'BEGIN {
        srand(seed); pi = atan2(0, -1)
        for (i = 0; i < n; i++) {
            u1 = rand(); if (u1 < 1e-12) u1 = 1e-12; u2 = rand()
            z = sqrt(-2 * log(u1)) * cos(2 * pi * u2)
            printf "%.4f\n", exp(mu + s * z)
        }
    }' >"$5"
}
gen 11 4000 3.6889 0.5 "stable_ms"         # median 40 ms
gen 12 4000 3.7659 0.5 "canary_ms"         # median 43.2 ms (+8%)
gen 13 4000 3.6889 0.5 "canary_good_ms"    # same as stable

say() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

say "Is the good canary non-inferior to stable on latency (5% margin)?" \
    "canary stat noninf canary_good_ms stable_ms --margin 5% --direction lower-is-better"
"$canary" stat noninf "canary_good_ms" "stable_ms" --margin 5% --direction lower-is-better

say "And the canary that is 8% slower?" \
    "canary stat noninf canary_ms stable_ms --margin 5%"
"$canary" stat noninf "canary_ms" "stable_ms" --margin 5%

say "How big is the shift? Hodges-Lehmann estimate with an exact-order-statistic CI" \
    "canary stat hl canary_ms stable_ms"
"$canary" stat hl "canary_ms" "stable_ms"

say "Mann-Whitney U, one-sided: is the canary stochastically slower?" \
    "canary stat mwu canary_ms stable_ms --alternative greater"
"$canary" stat mwu "canary_ms" "stable_ms" --alternative greater

say "Error rate: 31 errors in 5000 canary requests vs 24 in 20000 stable ones" \
    "canary stat prop --x 31/5000 --y 24/20000 --margin 0.002"
"$canary" stat prop --x 31/5000 --y 24/20000 --margin 0.002

say "Prediction drift: KS and PSI of canary against stable" \
    "canary stat ks canary_ms stable_ms; canary stat psi canary_ms stable_ms"
"$canary" stat ks "canary_ms" "stable_ms"
"$canary" stat psi "canary_ms" "stable_ms"

say "Four metrics judged at once: Holm-adjust their p-values" \
    "canary stat adjust --method holm 0.004 0.03 0.2 0.01"
"$canary" stat adjust --method holm 0.004 0.03 0.2 0.01

say "How many requests per arm to see a 2 ms shift at sd 20 ms (one-sided, 80% power)?" \
    "canary stat power --test means --delta 2 --sd 20 --sided one"
"$canary" stat power --test means --delta 2 --sd 20 --sided one

say "The same questions, machine-readable" "canary stat hl canary_ms stable_ms --json"
"$canary" stat hl "canary_ms" "stable_ms" --json
