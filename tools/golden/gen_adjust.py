# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for multiple-testing adjustment (cn_stats_adjust).

statsmodels.stats.multitest.multipletests(p, method=...)[1] for
'bonferroni', 'holm' and 'fdr_bh', in input order.
"""
import numpy as np
import statsmodels
from statsmodels.stats.multitest import multipletests

METHODS = {"bonferroni": "bonferroni", "holm": "holm", "bh": "fdr_bh"}


def case(name, p):
    p = np.asarray(p, dtype=float)
    c = {"name": name, "p": p}
    for ours, theirs in METHODS.items():
        c[ours] = multipletests(p, method=theirs)[1]
    return c


def generate():
    rng = np.random.default_rng(424242)
    cases = [
        case("single", [0.03]),
        case("single_zero", [0.0]),
        case("single_one", [1.0]),
        case("two", [0.04, 0.01]),
        case("three", [0.02, 0.5, 0.01]),
        case("ties", [0.01, 0.04, 0.01, 0.04, 0.2, 0.01]),
        case("all_equal", [0.02] * 7),
        case("zeros_and_ones", [0.0, 1.0, 0.0, 0.5, 1.0]),
        case("clipping", [0.3, 0.6, 0.9, 0.45]),
        case("tiny", [1e-300, 5e-324, 1e-10, 0.5]),
        case("classic_bh", [0.01, 0.04, 0.03, 0.005, 0.055, 0.2, 0.3, 0.02]),
        case("descending", list(np.linspace(1, 0.001, 12))),
    ]
    for n in (10, 100, 1000, 10000):
        # A mixture: mostly null (uniform), some signals (small p).
        k = max(1, n // 10)
        p = np.concatenate([rng.uniform(size=n - k),
                            rng.beta(0.1, 10, size=k)])
        rng.shuffle(p)
        p = np.array([float(f"{v:.6g}") for v in p])  # short JSON, some ties
        cases.append(case(f"mixture_n{n}", p))
    cases.append(case("rounded_ties_n500",
                      np.round(rng.uniform(size=500), 2)))
    return {"adjust": {
        "generator": f"statsmodels {statsmodels.__version__} "
                     "multitest.multipletests(method='bonferroni'|'holm'|'fdr_bh')",
        "cases": cases}}
