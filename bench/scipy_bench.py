#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time scipy on the data bench-stats wrote: scipy_bench.py FILE N [REPS].

FILE holds x then y as raw float64 (N each). Prints one JSON object with
the best-of-REPS times in ms and the results, so run.sh can check that both
sides computed the same thing.
"""
import json
import sys
import time

import numpy as np
import scipy
from scipy import stats


def best(fn, reps):
    times = []
    out = None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return min(times), times[0], out


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    reps = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    d = np.fromfile(path, dtype="<f8")
    x, y = d[:n], d[n:2 * n]
    t_mwu, f_mwu, r_mwu = best(lambda: stats.mannwhitneyu(x, y), reps)
    t_ks, f_ks, r_ks = best(lambda: stats.ks_2samp(x, y), reps)
    print(json.dumps({
        "scipy": scipy.__version__, "numpy": np.__version__, "n": n,
        "reps": reps, "mwu_ms": t_mwu, "ks_ms": t_ks,
        "mwu_first_ms": f_mwu, "ks_first_ms": f_ks,
        "mwu_u": float(r_mwu.statistic), "mwu_p": float(r_mwu.pvalue),
        "ks_d": float(r_ks.statistic), "ks_p": float(r_ks.pvalue),
    }))


if __name__ == "__main__":
    main()
