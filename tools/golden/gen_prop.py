# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for the two-proportion tests (cn_stats_prop).

Non-inferiority: statsmodels test_proportions_2indep(count1, nobs1, count2,
nobs2, value=+/-margin, method='wald', compare='diff', alternative=...),
'smaller' with value=+m for lower-is-better, 'larger' with value=-m for
higher-is-better. CI: confint_proportions_2indep(method='wald',
compare='diff', alpha=1-confidence). Equality: proportions_ztest(count,
nobs) (pooled, two-sided).

Degenerate cases (every arm all 0 or all 1, so the Wald se is 0) use
method='agresti-caffo' for the NI test and the CI, as cn_stats_prop does;
the pooled test is defined as z = 0, p = 1 there (statsmodels: NaN).
"""
import warnings

import numpy as np
import statsmodels
from statsmodels.stats.proportion import (confint_proportions_2indep,
                                          proportions_ztest,
                                          test_proportions_2indep)


def case(name, sx, nx, sy, ny, margin, kind, direction, confidence=0.95):
    c = {"name": name, "succ_x": sx, "n_x": nx, "succ_y": sy, "n_y": ny,
         "margin": margin, "kind": kind, "direction": direction,
         "confidence": confidence}
    p_x, p_y = sx / nx, sy / ny
    m = margin * p_y if kind == "relative" else margin
    wald_var = p_x * (1 - p_x) / nx + p_y * (1 - p_y) / ny
    method = "wald" if wald_var > 0 else "agresti-caffo"
    if direction == "lower-is-better":
        value, alt = m, "smaller"
    else:
        value, alt = -m, "larger"
    # numpy integers: statsmodels also computes p1 / p2 and the odds ratio,
    # which must not raise ZeroDivisionError for a zero rate.
    ix, jx, iy, jy = (np.int64(v) for v in (sx, nx, sy, ny))
    with np.errstate(all="ignore"):
        r = test_proportions_2indep(ix, jx, iy, jy, value=value, method=method,
                                    compare="diff", alternative=alt)
    lo, hi = confint_proportions_2indep(sx, nx, sy, ny, method=method,
                                        compare="diff", alpha=1 - confidence)
    c.update({"p_x": p_x, "p_y": p_y, "diff": p_x - p_y, "margin_abs": m,
              "adjusted": int(method != "wald"),
              "se": float(np.sqrt(r.variance)),
              "z_noninf": float(r.statistic), "p_noninf": float(r.pvalue),
              "ci_low": float(lo), "ci_high": float(hi)})
    pooled = (sx + sy) / (nx + ny)
    if 0 < pooled < 1:
        z, p = proportions_ztest([sx, sy], [nx, ny])
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            z, p = proportions_ztest([sx, sy], [nx, ny])
        c["statsmodels_pooled"] = f"z={z}, p={p}"
        z, p = 0.0, 1.0
    c["z_pooled"] = float(z)
    c["p_equal"] = float(p)
    return c


def generate():
    cases = []
    lo, hi = "lower-is-better", "higher-is-better"
    # Error rates.
    cases.append(case("errors_similar", 10, 10000, 12, 10000, 0.001, "absolute", lo))
    cases.append(case("errors_canary_worse", 40, 10000, 12, 10000, 0.001,
                      "absolute", lo))
    cases.append(case("errors_relative_margin", 130, 50000, 120, 50000, 0.2,
                      "relative", lo))
    cases.append(case("errors_unequal_n", 3, 1200, 45, 30000, 0.002, "absolute", lo,
                      0.9))
    cases.append(case("errors_zero_margin", 10, 10000, 12, 10000, 0.0, "absolute",
                      lo))
    # Click-through.
    cases.append(case("ctr_similar", 500, 10000, 520, 10000, 0.005, "absolute", hi))
    cases.append(case("ctr_relative", 2900, 100000, 3000, 100000, 0.05, "relative",
                      hi, 0.99))
    cases.append(case("ctr_canary_much_worse", 100, 10000, 520, 10000, 0.005,
                      "absolute", hi))
    # Tiny samples.
    cases.append(case("n1_each", 1, 1, 0, 1, 0.1, "absolute", lo))
    cases.append(case("n2_n3", 1, 2, 2, 3, 0.1, "absolute", lo))
    cases.append(case("n3_n2_higher", 2, 3, 1, 2, 0.1, "absolute", hi))
    # One arm at the boundary, the other not: plain Wald.
    cases.append(case("canary_zero_errors", 0, 5000, 7, 5000, 0.001, "absolute", lo))
    cases.append(case("stable_all_success", 990, 1000, 1000, 1000, 0.02,
                      "absolute", hi))
    # Degenerate: Agresti-Caffo.
    cases.append(case("zero_errors_both_arms", 0, 100000, 0, 100000, 0.0001,
                      "absolute", lo))
    cases.append(case("zero_errors_both_tight_margin", 0, 100000, 0, 100000,
                      0.00001, "absolute", lo))
    cases.append(case("zero_errors_both_zero_margin", 0, 100000, 0, 100000, 0.0,
                      "absolute", lo))
    cases.append(case("zero_errors_both_relative", 0, 20000, 0, 30000, 0.1,
                      "relative", lo))
    cases.append(case("all_success_both", 5000, 5000, 8000, 8000, 0.001,
                      "absolute", hi))
    cases.append(case("canary_all_fail_stable_all_ok", 50, 50, 0, 60, 0.05,
                      "absolute", lo))
    cases.append(case("n1_both_zero", 0, 1, 0, 1, 0.1, "absolute", lo))
    # Huge traffic and extreme tails.
    cases.append(case("huge_n", 1234567, 1000000000, 1200000, 1000000000, 1e-5,
                      "absolute", lo))
    cases.append(case("tail_p", 0, 100000, 500, 100000, 0.0, "absolute", lo))
    cases.append(case("tail_p_pooled", 2000, 100000, 500, 100000, 0.0, "absolute",
                      hi))
    return {"prop": {
        "generator": f"statsmodels {statsmodels.__version__} "
                     "test_proportions_2indep / confint_proportions_2indep "
                     "(method='wald', or 'agresti-caffo' when the Wald se is 0), "
                     "proportions_ztest",
        "cases": cases}}
