# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for the tests on binned data (src/stats/binned.c, the
binned entries of mwu.c and ks.c).

Writes binned.json (via tools/golden.py). Every case is a histogram pair:
`bounds` (k - 1 ascending upper edges; the last bin is open above) and the
counts `x` and `y` of the two samples in the k bins. The reference is
scipy 1.10 on the same data expanded to one value per count, each value
its bin's upper edge (the open last bin: its lower edge + 1, which keeps
the order): the binned tests must agree with it.

  kind "mwu"       scipy.stats.mannwhitneyu(xe, ye, alternative,
                   use_continuity, method) for method 'auto' and
                   'asymptotic' (scipy's 'auto' is asymptotic with ties)
                   and for 'exact' where no bin holds two values.
  kind "ks"        scipy.stats.ks_2samp(xe, ye, alternative, method).
  kind "quantile"  the order-statistic interval of the q-quantile at a
                   confidence: l = binom.ppf((1 - c)/2, n, q),
                   u = binom.ppf(1 - (1 - c)/2, n, q) + 1 (scipy), the bins
                   of X_(l) and X_(u) in the expanded sample (numpy sort),
                   and the interval [lower edge of X_(l)'s bin, upper edge
                   of X_(u)'s bin] (0 below the sample, +inf written as
                   null above it), with the coverage P(l <= B < u).
Fixed seeds only.
"""
import warnings

import numpy as np
import scipy
from scipy import stats

ALTERNATIVES = ("two-sided", "less", "greater")
DEFAULT_S = [.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10]


def expand(bounds, counts):
    edges = list(bounds) + [bounds[-1] + 1 if bounds else 1.0]
    return np.repeat(np.array(edges, dtype=float), counts)


def histogram(rng, values, bounds):
    idx = np.searchsorted(np.asarray(bounds), values, side="left")
    return np.bincount(idx, minlength=len(bounds) + 1).astype(np.int64)


def inputs():
    rng = np.random.default_rng(20261208)
    b = DEFAULT_S
    out = [
        ("one bin each, same bin", [1.0], [5, 0], [7, 0]),
        ("two bins, separated", [1.0], [10, 0], [0, 12]),
        ("tiny, no ties (exact)", [1.0, 2.0, 3.0, 4.0], [1, 0, 1, 0, 1], [0, 1, 0, 1, 0]),
        ("small with ties", [1.0, 2.0, 3.0], [3, 1, 0, 4], [1, 2, 5, 0]),
        ("empty bins between", [1, 2, 3, 4, 5, 6], [0, 4, 0, 0, 9, 0, 2],
         [3, 0, 0, 6, 0, 1, 0]),
    ]
    lat_s = rng.lognormal(np.log(0.02), 0.6, size=2000)
    lat_c = rng.lognormal(np.log(0.024), 0.6, size=300)
    out.append(("latency 2000 vs 300, default buckets", b,
                 histogram(rng, lat_c, b), histogram(rng, lat_s, b)))
    lat_s = rng.lognormal(np.log(0.004), 0.4, size=50000)
    lat_c = rng.lognormal(np.log(0.004), 0.4, size=500)
    out.append(("A/A latency 50000 vs 500, default buckets", b,
                 histogram(rng, lat_c, b), histogram(rng, lat_s, b)))
    fine = list(np.round(np.geomspace(0.001, 1, 40), 6))
    lat_s = rng.gamma(4, 0.01, size=20000)
    lat_c = rng.gamma(4, 0.012, size=20000)
    out.append(("gamma 20000 each, 40 log buckets", fine,
                histogram(rng, lat_c, fine), histogram(rng, lat_s, fine)))
    out.append(("heavy +Inf bin", [0.1, 0.2], [10, 5, 30], [20, 10, 3]))
    return out


def mwu_runs(xe, ye, no_ties):
    runs = []
    methods = ["auto", "asymptotic"] + (["exact"] if no_ties else [])
    for alt in ALTERNATIVES:
        for cont in (True, False):
            for method in methods:
                r = stats.mannwhitneyu(xe, ye, alternative=alt, use_continuity=cont,
                                       method=method)
                runs.append({"alternative": alt, "use_continuity": cont,
                             "method": method, "u": float(r.statistic),
                             "pvalue": float(r.pvalue)})
    return runs


def ks_runs(xe, ye):
    runs = []
    for alt in ALTERNATIVES:
        for method in ("auto", "exact", "asymp"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = stats.ks_2samp(xe, ye, alternative=alt, method=method)
            runs.append({"alternative": alt, "method": method,
                         "statistic": float(r.statistic), "pvalue": float(r.pvalue)})
    return runs


def quantile_runs(bounds, counts):
    xe = np.sort(expand(bounds, counts))
    n = len(xe)
    lower_edges = [0.0] + list(bounds)
    edges_hi = list(bounds) + [bounds[-1] + 1 if bounds else 1.0]
    runs = []
    for q in (0.5, 0.9, 0.95, 0.99):
        for conf in (0.9, 0.95, 0.99):
            tail = (1 - conf) / 2
            l = int(stats.binom.ppf(tail, n, q))
            u = int(stats.binom.ppf(1 - tail, n, q)) + 1
            cov = stats.binom.cdf(u - 1, n, q) - (stats.binom.cdf(l - 1, n, q)
                                                  if l > 0 else 0.0)
            if l == 0:
                bin_lo, low = 0, 0.0
            else:
                bin_lo = edges_hi.index(xe[l - 1])
                low = lower_edges[bin_lo]
            if u > n:
                bin_hi, high = len(edges_hi) - 1, None
            else:
                bin_hi = edges_hi.index(xe[u - 1])
                high = bounds[bin_hi] if bin_hi < len(bounds) else None
            runs.append({"q": q, "confidence": conf, "rank_low": l, "rank_high": u,
                         "bin_low": bin_lo, "bin_high": bin_hi, "low": low,
                         "high": high, "coverage": float(cov)})
    return runs


def generate():
    cases = []
    for name, bounds, x, y in inputs():
        x = [int(v) for v in x]
        y = [int(v) for v in y]
        xe, ye = expand(bounds, x), expand(bounds, y)
        no_ties = all(a + b <= 1 for a, b in zip(x, y))
        base = {"name": name, "bounds": [float(v) for v in bounds], "x": x, "y": y}
        cases.append(dict(base, kind="mwu", runs=mwu_runs(xe, ye, no_ties)))
        cases.append(dict(base, kind="ks", runs=ks_runs(xe, ye)))
        for which, counts in (("x", x), ("y", y)):
            if sum(counts):
                cases.append(dict(base, kind="quantile", sample=which,
                                  runs=quantile_runs(bounds, counts)))
    return {"binned": {"generator": f"tools/golden/gen_binned.py, scipy {scipy.__version__}",
                       "cases": cases}}
