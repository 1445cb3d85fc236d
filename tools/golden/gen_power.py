# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for sample size and power (cn_stats_*_means, *_props).

Means: statsmodels NormalIndPower().power(effect_size=delta/sd, nobs1=n,
alpha, ratio=1, alternative) ('two-sided' or 'larger'), which includes the
far tail of the two-sided test. For the sample size, "n_exact" is the root
of that same power function found by scipy's brentq to machine precision;
"n_statsmodels" is NormalIndPower().solve_power(...), whose root finder
stops at xtol=1e-5 and so only agrees to ~1e-8 relative.

Proportions: statsmodels samplesize_proportions_2indep_onetail(diff, prop2,
power, ratio=1, alpha, alternative) (Fleiss's formula, no far tail) and
power_proportions_2indep(diff, prop2, nobs1, ratio=1, alpha, alternative)
(with the far tail), called with diff = |p2 - p1| and prop2 = min(p1, p2)
(both are symmetric in the two rates). "n_arcsine" is the arcsine-based
NormalIndPower().solve_power(proportion_effectsize(...)) for comparison.
"""
import numpy as np
import statsmodels
from scipy.optimize import brentq
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (power_proportions_2indep,
                                          proportion_effectsize,
                                          samplesize_proportions_2indep_onetail)


def alt_name(two_sided):
    return "two-sided" if two_sided else "larger"


def means_cases():
    p = NormalIndPower()
    out = []
    settings = [
        (1.0, 1.0, 0.05, 0.8, 1), (1.0, 1.0, 0.05, 0.8, 0),
        (0.2, 1.0, 0.05, 0.8, 1), (5.0, 100.0, 0.05, 0.9, 1),
        (5.0, 100.0, 0.01, 0.9, 0), (0.5, 2.0, 0.1, 0.5, 1),
        (3.0, 10.0, 0.05, 0.99, 1), (2.0, 7.0, 0.001, 0.95, 0),
        (1.0, 3.0, 0.2, 0.3, 1), (0.01, 1.0, 0.05, 0.8, 1),
        (0.8, 1.0, 0.05, 0.999999, 1),
    ]
    for delta, sd, alpha, power, two in settings:
        es = delta / sd
        alt = alt_name(two)
        exact = brentq(lambda n: p.power(es, n, alpha, 1, alt) - power,
                       1e-6, 1e12, xtol=1e-300, maxiter=1000)
        c = {"kind": "sample_size", "delta": delta, "sd": sd, "alpha": alpha,
             "power": power, "two_sided": two, "n_exact": exact}
        if exact > 2:  # solve_power's bracket starts at nobs1 = 2
            c["n_statsmodels"] = float(p.solve_power(
                effect_size=es, alpha=alpha, power=power, ratio=1,
                alternative=alt))
        out.append(c)
    for delta, sd, alpha, n, two in [
        (1.0, 1.0, 0.05, 16, 1), (1.0, 1.0, 0.05, 16, 0), (0.2, 1.0, 0.05, 100, 1),
        (0.2, 1.0, 0.05, 1000, 1), (5.0, 100.0, 0.01, 5000.5, 0),
        (0.5, 2.0, 0.1, 1.5, 1), (0.001, 1.0, 0.05, 10, 1),
        (3.0, 1.0, 0.05, 50, 1), (1.0, 10.0, 0.5, 3, 1)]:
        out.append({"kind": "power", "delta": delta, "sd": sd, "alpha": alpha,
                    "n": n, "two_sided": two,
                    "power": float(p.power(delta / sd, n, alpha, 1,
                                           alt_name(two)))})
    return out


def props_cases():
    out = []
    for p1, p2, alpha, power, two in [
        (0.10, 0.15, 0.05, 0.8, 1), (0.10, 0.15, 0.05, 0.8, 0),
        (0.15, 0.10, 0.05, 0.8, 1), (0.001, 0.0015, 0.05, 0.8, 1),
        (0.05, 0.052, 0.05, 0.9, 0), (0.5, 0.6, 0.01, 0.95, 1),
        (0.9, 0.95, 0.1, 0.5, 1), (0.02, 0.01, 0.05, 0.99, 1),
        (0.3, 0.31, 0.05, 0.2, 1)]:
        diff, prop2 = abs(p2 - p1), min(p1, p2)
        alt = alt_name(two)
        n = samplesize_proportions_2indep_onetail(diff, prop2, power, ratio=1,
                                                  alpha=alpha, alternative=alt)
        h = proportion_effectsize(max(p1, p2), min(p1, p2))
        n_arc = NormalIndPower().solve_power(effect_size=h, alpha=alpha,
                                             power=power, ratio=1,
                                             alternative=alt)
        out.append({"kind": "sample_size", "p1": p1, "p2": p2, "alpha": alpha,
                    "power": power, "two_sided": two, "n": float(n),
                    "n_arcsine": float(n_arc)})
    for p1, p2, alpha, n, two in [
        (0.10, 0.15, 0.05, 680, 1), (0.10, 0.15, 0.05, 680, 0),
        (0.001, 0.0015, 0.05, 80000, 1), (0.5, 0.6, 0.01, 10, 1),
        (0.05, 0.03, 0.05, 2000.5, 0), (0.2, 0.21, 0.05, 100, 1),
        (0.4, 0.9, 0.05, 30, 1)]:
        diff, prop2 = abs(p2 - p1), min(p1, p2)
        pw = power_proportions_2indep(diff, prop2, n, ratio=1, alpha=alpha,
                                      alternative=alt_name(two),
                                      return_results=False)
        out.append({"kind": "power", "p1": p1, "p2": p2, "alpha": alpha,
                    "n": n, "two_sided": two, "power": float(pw)})
    return out


def generate():
    return {"power": {
        "generator": f"statsmodels {statsmodels.__version__} NormalIndPower, "
                     "samplesize_proportions_2indep_onetail, "
                     "power_proportions_2indep; scipy brentq for exact roots",
        "cases": [dict(c, test="means") for c in means_cases()]
                 + [dict(c, test="props") for c in props_cases()]}}
