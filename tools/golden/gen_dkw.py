# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for the KS distance tested against a limit (src/stats/dkw.c).

Writes dkw.json (via tools/golden.py). Each case holds two samples x and y,
a limit L, and:

  d        scipy.stats.ks_2samp(x, y, method='asymp').statistic of scipy
           1.10: the two-sided distance, not rounded to a multiple of
           1/lcm(n, m) as the exact method's is;
  h        n m / (sqrt(n) + sqrt(m))^2, the two-sample DKW effective size;
  p_above  1 if d <= L, else min(1, 4 exp(-2 (d - L)^2 h))
           (H0: D_true <= L, the judge's harm test);
  p_below  1 if d >= L, else min(1, 4 exp(-2 (L - d)^2 h))
           (H0: D_true >= L, the judge's "within the limit" test).

The p-values are the documented formula, evaluated here in Python
independently of the C code (math.exp on the same doubles); the statistic
is scipy's. Fixed seeds; inputs rounded to 6 significant digits, which
also makes ties.
"""
import math

import numpy as np
import scipy
from scipy import stats


def sig6(v):
    return np.array([float(f"{t:.6g}") for t in v])


def dkw_p(gap, h):
    if not gap > 0 or not h > 0:
        return 1.0
    return min(1.0, 4.0 * math.exp(-2.0 * gap * gap * h))


def case(name, x, y, limit):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n, m = len(x), len(y)
    d = float(stats.ks_2samp(x, y, method="asymp").statistic)
    h = n * m / (math.sqrt(n) + math.sqrt(m)) ** 2
    return {"name": name, "x": x, "y": y, "limit": limit, "d": d, "h": h,
            "p_above": dkw_p(d - limit, h), "p_below": dkw_p(limit - d, h)}


def generate():
    rng = np.random.default_rng(20261207)
    cs = []
    cs.append(case("one each, equal", [1.0], [1.0], 0.1))
    cs.append(case("one each, apart", [1.0], [2.0], 0.1))
    cs.append(case("1 vs 5", [0.5], sig6(rng.normal(0, 1, 5)), 0.3))
    for n, m, shift, limit in [(5, 7, 0.0, 0.1), (20, 30, 1.0, 0.1),
                               (100, 100, 0.5, 0.1), (400, 400, 0.5, 0.1),
                               (1000, 1000, 0.25, 0.1), (1000, 1000, 0.6, 0.1),
                               (2000, 2000, 0.5, 0.1), (1000, 1000, 1.0, 0.2),
                               (50, 5000, 1.5, 0.1), (400, 20000, 0.6, 0.1),
                               (2000, 500, -0.8, 0.2), (400, 400, 0.0, 0.0),
                               (400, 400, 0.0, 1.0), (5000, 5000, 0.0, 0.1),
                               (6000, 6000, 0.05, 0.1), (300, 30000, 0.0, 0.2)]:
        x = sig6(rng.normal(shift, 1, n))
        y = sig6(rng.normal(0, 1, m))
        cs.append(case(f"normal n={n} m={m} shift={shift} limit={limit}", x, y,
                       limit))
    # Heavy ties: a discrete model output (5 classes).
    x = rng.integers(0, 5, 800).astype(float)
    y = rng.integers(0, 4, 1200).astype(float)
    cs.append(case("discrete classes with ties", x, y, 0.1))
    # Uniform shift by exactly the limit's distance: D_true = 0.1.
    x = sig6(rng.uniform(0.1, 1.1, 5000))
    y = sig6(rng.uniform(0, 1, 5000))
    cs.append(case("uniform shifted by 0.1, 5000 each", x, y, 0.1))
    return {"dkw": {"generator": f"tools/golden/gen_dkw.py, scipy {scipy.__version__}",
                    "cases": cs}}
