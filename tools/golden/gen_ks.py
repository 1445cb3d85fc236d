# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for the two-sample Kolmogorov-Smirnov test.

Writes ks.json (via tools/golden.py) with three kinds of case:

  kind "ks2"      scipy.stats.ks_2samp(x, y, alternative, method) of
                  scipy 1.10 for every alternative and every method
                  ('auto', 'exact', 'asymp'). Each case holds the inputs and
                  a list of "runs"; a run records the statistic, the p-value
                  and the method scipy actually used ("exact" or "asymp":
                  scipy falls back from exact to asymp with a RuntimeWarning,
                  which is caught here). A NaN p-value from scipy (only for
                  n1 = n2 = 1 with the two-sided asymptotic method, where
                  round(n1 n2 / (n1 + n2)) = 0) is recorded as null with
                  "expect_error": "CN_ETOOFEW", which is what canary returns.
  kind "kstwo"    scipy.stats.kstwo.sf(d, n), the finite-n one-sample
                  two-sided distribution used for the two-sided asymptotic
                  p-value, at (n, d) chosen to reach every branch of scipy's
                  _kolmogn (Ruben-Gambino, Durbin/MTW, Pomeranz, Pelz-Good,
                  2 * smirnov).
  kind "smirnov"  scipy.special.smirnov(n, d), the one-sided distribution.

Cases are grouped ("group") so the unit tests can name what they check:
tiny samples, ties, equal and constant samples, sizes with various gcds,
exact-to-asymptotic fallbacks, the 'auto' limit (10000) and 10^5-size
samples. Fixed seeds only. The large inputs are rounded to a few
significant digits to keep the file small; that also makes ties.
One-sample values below 1e-290 are left out unless they are the exact zeros
scipy returns by rule (n d^2 >= 370, or d = 1): in the subnormal range
scipy's double-double arithmetic and ours underflow differently.
"""
import math
import warnings

import numpy as np
import scipy
from scipy import special, stats

ALTERNATIVES = ("two-sided", "less", "greater")
METHODS = ("auto", "exact", "asymp")


def sig(a, digits=6):
    """Round to `digits` significant digits (float64 in, float64 out)."""
    a = np.asarray(a, dtype=float)
    return np.array([float(f"{v:.{digits - 1}e}") for v in a])


def run_ks2(x, y, alternative, method):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = stats.ks_2samp(x, y, alternative=alternative, method=method)
    fell_back = any(issubclass(w.category, RuntimeWarning)
                    and ("Switching" in str(w.message)
                         or "unsuccessful" in str(w.message))
                    for w in caught)
    if method == "auto":
        used = "exact" if max(len(x), len(y)) <= 10000 else "asymp"
    else:
        used = method
    if fell_back:
        used = "asymp"
    run = {
        "alternative": alternative,
        "method": method,
        "statistic": float(res.statistic),
        "pvalue": float(res.pvalue),
        "method_used": used,
    }
    if math.isnan(res.pvalue):
        run["expect_error"] = "CN_ETOOFEW"
    return run


def ks2_case(group, name, x, y, methods=METHODS):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    runs = [run_ks2(x, y, alt, m) for alt in ALTERNATIVES for m in methods]
    return {"kind": "ks2", "group": group, "name": name, "x": x, "y": y,
            "runs": runs}


def ks2_cases():
    rng = np.random.default_rng(20240611)
    cases = []
    add = lambda *a, **k: cases.append(ks2_case(*a, **k))

    # Tiny samples: sizes 1, 2, 3 in every combination that matters.
    add("tiny", "1 vs 1 distinct", [1.0], [2.0])
    add("tiny", "1 vs 1 reversed", [2.0], [1.0])
    add("tiny", "1 vs 1 equal", [1.0], [1.0])
    add("tiny", "1 vs 2", [0.5], [0.2, 0.9])
    add("tiny", "2 vs 1", [1.0, 3.0], [2.0])
    add("tiny", "1 vs 3 below", [-1.0], [0.0, 1.0, 2.0])
    add("tiny", "2 vs 2 interleaved", [1.0, 3.0], [2.0, 4.0])
    add("tiny", "2 vs 3", [0.1, 0.7], [0.3, 0.4, 0.9])
    add("tiny", "3 vs 2", [5.0, 1.0, 3.0], [2.0, 6.0])
    add("tiny", "3 vs 3 separated", [1.0, 2.0, 3.0], [4.0, 5.0, 6.0])
    add("tiny", "3 vs 3 with a tie", [1.0, 2.0, 3.0], [2.0, 3.5, 0.5])
    add("tiny", "3 vs 1 tie", [1.0, 1.0, 2.0], [1.0])
    add("tiny", "3 vs 7", rng.normal(size=3), rng.normal(size=7))

    # Ties within and between samples.
    add("ties", "integers 0..4, 20 vs 30",
        rng.integers(0, 5, 20), rng.integers(0, 5, 30))
    add("ties", "integers 0..9, 37 vs 37",
        rng.integers(0, 10, 37), rng.integers(1, 11, 37))
    add("ties", "integers, 50 vs 80 shifted",
        rng.integers(0, 8, 50), rng.integers(2, 10, 80))
    add("ties", "normal to 1 decimal, 100 vs 150",
        np.round(rng.normal(0, 1, 100), 1), np.round(rng.normal(0.3, 1, 150), 1))
    add("ties", "lognormal to 2 digits, 400 vs 600",
        sig(rng.lognormal(0, 1, 400), 2), sig(rng.lognormal(0.1, 1, 600), 2))
    add("ties", "binary 0/1, 40 vs 60",
        rng.integers(0, 2, 40), rng.integers(0, 2, 60))
    add("ties", "signed zeros", [-0.0, 0.0, 1.0, -1.0], [0.0, 0.0, -0.0, 2.0, -1.0])

    # Equal samples: D = 0, p = 1.
    z = rng.normal(size=50)
    add("equal", "identical 5", [1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    add("equal", "identical 50 permuted", z, rng.permutation(z))
    w = rng.lognormal(size=500)
    add("equal", "identical 500", w, w)
    add("equal", "same values, 40 vs 60 (each value repeated)",
        np.repeat(np.arange(20.0), 2), np.repeat(np.arange(20.0), 3))

    # Constant samples.
    add("constant", "same constant 10 vs 7", [3.0] * 10, [3.0] * 7)
    add("constant", "different constants 8 vs 12", [1.0] * 8, [2.0] * 12)
    add("constant", "constant vs varied", [0.0] * 15, rng.normal(size=25))
    add("constant", "varied vs constant", rng.normal(size=25), [0.0] * 15)

    # Sizes with various gcd, and shifts that give a range of p-values.
    for n1, n2, shift in [(6, 9, 0.5), (12, 18, 1.0), (7, 11, 0.0), (30, 30, 0.5),
                          (64, 96, 0.3), (100, 150, 0.2), (100, 3, 0.0),
                          (5, 333, 0.4), (128, 2000, 0.1), (200, 300, 0.0),
                          (999, 1000, 0.1), (1000, 1500, 0.05),
                          (2500, 1000, 0.0), (8, 8, 2.0), (150, 100, -0.4)]:
        add("sizes", f"normal {n1} vs {n2}, shift {shift}",
            sig(rng.normal(0, 1, n1)), sig(rng.normal(shift, 1, n2)))
    add("sizes", "separated 40 vs 60 (D = 1)",
        rng.uniform(0, 1, 40), rng.uniform(2, 3, 60))
    add("sizes", "separated 50 vs 50 (D = 1)",
        rng.uniform(2, 3, 50), rng.uniform(0, 1, 50))
    add("sizes", "separated 300 vs 301 (D = 1, p near 1e-180)",
        rng.uniform(0, 1, 300), rng.uniform(2, 3, 301))
    # Two-sided asymptotic p-values that reach each branch of kolmogn via
    # n = round(n1 n2 / (n1 + n2)): D small (Durbin), moderate (Pomeranz /
    # Pelz-Good), large (2 * smirnov), D >= 0.5.
    base = sig(rng.normal(size=3000))
    add("sizes", "near-identical 3000 vs 3000 (small D)",
        base, sig(base + rng.normal(0, 0.001, 3000)), methods=("asymp",))
    add("sizes", "shifted 3000 vs 2000 (smirnov branch)",
        sig(rng.normal(0, 1, 3000)), sig(rng.normal(0.15, 1, 2000)),
        methods=("asymp",))
    add("sizes", "shifted 60 vs 90 (D >= 0.5)",
        rng.normal(0, 1, 60), rng.normal(1.5, 1, 90))

    # Exact p-value computations that fail, so scipy warns and uses asymp.
    add("fallback", "5 vs 5 with D = 0.2 (exact rounds to 1 + 2^-52)",
        [1.0, 3.0, 5.0, 7.0, 9.0], [2.0, 4.0, 6.0, 8.0, 10.0])
    add("fallback", "one-sided 600 vs 700 (C(1300, 600) overflows)",
        sig(rng.normal(0, 1, 600)), sig(rng.normal(0.1, 1, 700)))
    add("fallback", "one-sided 520 vs 515 near the overflow edge",
        sig(rng.normal(0, 1, 520)), sig(rng.normal(0.1, 1, 515)))

    # Around the 'auto' limit max(n1, n2) <= 10000.
    add("auto_limit", "10000 vs 9999 (exact, O(n^2))",
        sig(rng.lognormal(0, 1, 10000), 5), sig(rng.lognormal(0.03, 1, 9999), 5))
    add("auto_limit", "10000 vs 10000 (exact, equal sizes)",
        sig(rng.lognormal(0, 1, 10000), 5), sig(rng.lognormal(0, 1.05, 10000), 5))
    add("auto_limit", "10001 vs 500 (auto is asymp)",
        sig(rng.normal(0, 1, 10001), 5), sig(rng.normal(0.1, 1, 500), 5))

    # 10^5: asymptotic under auto; exact forced either succeeds (equal sizes,
    # small lcm) or is refused (lcm too big) or overflows (one-sided).
    add("large", "lognormal 100000 vs 99999, shifted",
        sig(rng.lognormal(0, 1, 100000), 5), sig(rng.lognormal(0.02, 1, 99999), 5))
    add("large", "poisson 100000 vs 40000 (heavy ties, gcd 20000)",
        rng.poisson(30, 100000), rng.poisson(30.2, 40000))
    return cases


def kstwo_cases():
    cases = []
    ns = [1, 2, 3, 5, 10, 25, 50, 100, 139, 140, 141, 200, 500, 1000, 5000,
          20000, 100000, 100001, 500000]
    cs = [0.05, 0.3, 0.5, 0.754, 0.76, 1.0, 1.5, 2.19, 2.21, 3.0, 3.99, 4.01,
          6.0, 18.0, 50.0, 150.0, 300.0, 369.0, 371.0]
    for n in ns:
        ds = set()
        for t in [0.3, 0.5, 0.5000001, 0.75, 1.0, 1.2, 2.5]:
            ds.add(t / n)
        for c in cs:
            ds.add(math.sqrt(c / n))
        if n > 140:  # Durbin's region for n > 140: n d^1.5 <= 1.4
            ds.add((1.2 / n) ** (2 / 3))
            ds.add((1.39 / n) ** (2 / 3))
        ds.update([0.4999, 0.5, 0.6, 0.9, 1 - 1.0 / n, 1 - 0.5 / n, 1.0])
        for d in sorted(ds):
            if not 0 <= d <= 1:
                continue
            # scipy's double-double smirnov is ~0.5 s at n = 5e5; a few.
            if n >= 100000 and not (0.1 <= n * d * d <= 400):
                continue
            sf = float(stats.kstwo.sf(d, n))
            if sf < 1e-290 and not (sf == 0 and (n * d * d >= 370 or d >= 1)):
                continue  # subnormal territory, or a zero from underflow
            cases.append({"kind": "kstwo", "n": n, "d": d, "sf": sf})
    return cases


def smirnov_cases():
    cases = []
    for n in [1, 2, 3, 7, 10, 40, 100, 1000, 1012, 1013, 10000, 100000,
              1000000, 1000001, 2000000]:
        ds = {0.0, 0.5 / n, 1.0 / n, 2.0 / n, 0.1, 0.5, 0.9, 1 - 1.0 / n, 1.0}
        for c in [0.01, 0.25, 1.0, 2.2, 5.0, 30.0, 300.0]:
            ds.add(math.sqrt(c / n))
        for d in sorted(ds):
            if not 0 <= d <= 1:
                continue
            if n >= 100000 and not (0.01 <= n * d * d <= 400):
                continue
            sf = float(special.smirnov(n, d))
            if sf < 1e-290 and not (sf == 0 and (-2 * n * d * d < -745.13 or d >= 1)):
                continue  # subnormal territory, or a zero from underflow
            cases.append({"kind": "smirnov", "n": n, "d": d, "sf": sf})
    return cases


def generate():
    cases = ks2_cases() + kstwo_cases() + smirnov_cases()
    return {
        "ks": {
            "generator": f"scipy {scipy.__version__}: scipy.stats.ks_2samp "
                         "(alternative x method, fallbacks from RuntimeWarning), "
                         "scipy.stats.kstwo.sf, scipy.special.smirnov; "
                         "tools/golden/gen_ks.py",
            "cases": cases,
        }
    }
