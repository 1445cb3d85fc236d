# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for the population stability index (cn_stats_psi).

There is no reference library for PSI with these exact conventions, so this
is an independent numpy implementation of the formula in docs/stats/psi.md:
type-7 quantile edges of y at k/B (checked against np.quantile), duplicate
edges merged, right-closed bins via np.searchsorted(side='left'), an empty
bin in one sample counted as half an observation, bins empty in both
skipped, PSI = sum (p_x - p_y) ln(p_x / p_y).
"""
import numpy as np


def type7(sorted_y, q):
    """cn_stats_quantile_sorted: h = (n-1) q, lo + (hi - lo) * frac."""
    n = len(sorted_y)
    h = (n - 1) * q
    lo = np.floor(h).astype(np.int64)
    frac = h - lo
    hi = np.minimum(lo + 1, n - 1)
    return sorted_y[lo] + (sorted_y[hi] - sorted_y[lo]) * frac


def psi(x, y, bins):
    x = np.asarray(x, dtype=float)
    y = np.sort(np.asarray(y, dtype=float))
    k = np.arange(1, bins)
    q = k / bins
    raw = type7(y, q)
    assert np.allclose(raw, np.quantile(y, q), rtol=1e-13, atol=0)
    edges = [raw[0]]
    for e in raw[1:]:
        if e > edges[-1]:
            edges.append(e)
    edges = np.array(edges)
    nb = len(edges) + 1
    cx = np.bincount(np.searchsorted(edges, x, side="left"), minlength=nb)
    cy = np.bincount(np.searchsorted(edges, y, side="left"), minlength=nb)
    keep = (cx + cy) > 0
    px = np.where(cx > 0, cx, 0.5)[keep] / len(x)
    py = np.where(cy > 0, cy, 0.5)[keep] / len(y)
    return float(np.sum((px - py) * np.log(px / py))), nb


def case(name, x, y, bins=0):
    b = bins if bins else 10
    value, nb = psi(x, y, b)
    return {"name": name, "x": np.asarray(x, dtype=float),
            "y": np.asarray(y, dtype=float), "bins": bins, "psi": value,
            "bins_used": nb}


def generate():
    rng = np.random.default_rng(777)
    cases = [
        case("n1_n1", [1.0], [2.0]),
        case("n1_same", [2.0], [2.0]),
        case("n2_n3", [0.5, 3.0], [1.0, 2.0, 3.0]),
        case("n3_n2", [1.0, 2.0, 3.0], [0.0, 10.0]),
        case("y_two_points_empty_middle_bins", rng.uniform(0, 10, 50), [0.0, 10.0]),
        case("equal_samples", np.arange(100.0), np.arange(100.0)),
        case("constant_y", rng.normal(0, 1, 40), np.full(30, 0.0)),
        case("constant_x", np.full(25, 1.5), rng.normal(1.5, 1, 60)),
        case("both_constant_same", np.full(5, 3.0), np.full(9, 3.0)),
        case("integer_ties", rng.integers(0, 5, 300), rng.integers(0, 6, 400)),
        case("x_outside_y_range", rng.normal(100, 1, 50), rng.normal(0, 1, 80)),
        case("shift_small", rng.normal(0.1, 1, 2000), rng.normal(0, 1, 2000)),
        case("shift_large", rng.normal(1.0, 1, 2000), rng.normal(0, 1, 2000)),
        case("scale_change", rng.normal(0, 2, 1500), rng.normal(0, 1, 1000)),
        case("bins_2", rng.normal(0, 1, 100), rng.normal(0.2, 1, 100), 2),
        case("bins_5", rng.normal(0, 1, 100), rng.normal(0.2, 1, 100), 5),
        case("bins_20", rng.exponential(1, 500), rng.exponential(1.1, 700), 20),
        case("bins_100", rng.exponential(1, 5000), rng.exponential(1.1, 7000), 100),
        case("more_bins_than_y", rng.normal(0, 1, 30), rng.normal(0, 1, 7), 20),
        case("rounded_latency_ties", np.round(rng.lognormal(3, 0.5, 3000)),
             np.round(rng.lognormal(3.02, 0.5, 3000))),
    ]
    for n in (10, 100, 1000):
        cases.append(case(f"normal_n{n}", rng.normal(0, 1, n),
                          rng.normal(0.05, 1.1, n + 7)))
    big_x = np.array([float(f"{v:.6g}") for v in rng.lognormal(2, 0.7, 100000)])
    big_y = np.array([float(f"{v:.6g}") for v in rng.lognormal(2.01, 0.7, 80000)])
    cases.append(case("lognormal_n1e5_rounded", big_x, big_y))
    return {"psi": {
        "generator": f"numpy {np.__version__} implementation of the formula in "
                     "docs/stats/psi.md (tools/golden/gen_psi.py)",
        "cases": cases}}
