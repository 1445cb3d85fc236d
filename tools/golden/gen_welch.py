# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for Welch's t-test and the location non-inferiority tests.

welch.json
  "cases": scipy.stats.ttest_ind(x, y, equal_var=False) for every
      alternative, with mean_x, mean_y and the standard error, plus the
      confidence interval mean_x - mean_y -/+ q * se at several levels.
      q is the t quantile found by Newton's method on scipy.special.stdtr
      (to ~1e-15), because scipy's own stdtrit is only good to ~1e-8; the
      value from stats.t.ppf is stored next to it as "ci_scipy_ppf".
  "noninf_cases": the identities behind cn_stats_noninf: the Welch p-value
      is ttest_ind(x - m, y, alternative='less') for lower-is-better and
      ttest_ind(x + m, y, alternative='greater') for higher-is-better; the
      Mann-Whitney p-value is mannwhitneyu(x -/+ m, y, alternative=...)
      (use_continuity=True, method='auto'); m is the margin, or the margin
      times |mean(y)| (Welch) / |median(y)| (MWU, type-7 median) if relative.
"""
import warnings

import numpy as np
from scipy import special, stats
import scipy
from scipy.stats._stats_py import _unequal_var_ttest_denom, _var

# A constant sample makes scipy warn about "catastrophic cancellation"; its
# variance is still exactly 0, which is the point of those cases.
warnings.filterwarnings("ignore", message="Precision loss occurred")

ALTS = ["two-sided", "less", "greater"]
LEVELS = [0.8, 0.95, 0.99, 0.999999]


def t_upper_quantile(tail, df):
    """x with stdtr(df, -x) == tail, polished by Newton's method."""
    x = special.stdtrit(df, 1 - tail) if tail > 1e-6 else -special.stdtrit(df, tail)
    for _ in range(20):
        q = special.stdtr(df, -x)
        lgc = special.gammaln((df + 1) / 2) - special.gammaln(df / 2)
        dens = np.exp(lgc - 0.5 * np.log(df * np.pi)
                      - (df + 1) / 2 * np.log1p(x * x / df))
        step = (q - tail) / dens
        x = x + step
        if abs(step) <= 1e-16 * abs(x):
            break
    return float(x)


def welch_case(name, x, y):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    case = {"name": name, "x": x, "y": y}
    if x.min() == x.max() and y.min() == y.max():
        case["error"] = "degenerate"
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            r = stats.ttest_ind(x, y, equal_var=False)
        # scipy's answer (nan or +/-inf) as text: JSON has no infinities.
        case["scipy_says"] = f"t={r.statistic}, p={r.pvalue}"
        return case
    for alt in ALTS:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            # scipy warns about "catastrophic cancellation" for a constant
            # sample; its variance is still exactly 0.
            warnings.simplefilter("ignore", RuntimeWarning)
            r = stats.ttest_ind(x, y, equal_var=False, alternative=alt)
        case["p_" + alt.replace("-", "_")] = float(r.pvalue)
        case["t"] = float(r.statistic)
    # scipy's own intermediates, so df and se are the doubles scipy uses.
    df, se = _unequal_var_ttest_denom(_var(x, 0, ddof=1), len(x),
                                      _var(y, 0, ddof=1), len(y))
    case["df"] = float(df)
    case["se"] = float(se)
    case["mean_x"] = float(np.mean(x))
    case["mean_y"] = float(np.mean(y))
    d = case["mean_x"] - case["mean_y"]
    cis, ppf = [], []
    for level in LEVELS:
        q = t_upper_quantile((1 - level) / 2, df)
        cis.append([level, d - q * se, d + q * se])
        qp = stats.t.ppf(0.5 + level / 2, df)
        ppf.append([level, d - qp * se, d + qp * se])
    case["ci"] = cis
    case["ci_scipy_ppf"] = ppf
    return case


def median7(v):
    """Type-7 median as cn_stats_quantile_sorted computes it."""
    s = np.sort(np.asarray(v, dtype=float))
    h = (len(s) - 1) * 0.5
    lo = int(np.floor(h))
    if lo + 1 >= len(s):
        return float(s[-1])
    return float(s[lo] + (s[lo + 1] - s[lo]) * (h - lo))


def noninf_case(name, x, y, margin, kind, direction, confidence=0.95):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    case = {"name": name, "x": x, "y": y, "margin": margin, "kind": kind,
            "direction": direction, "confidence": confidence}
    mean_y = float(np.mean(y))
    med_y = median7(y)
    if kind == "relative":
        m_welch = margin * abs(mean_y)
        m_mwu = margin * abs(med_y)
    else:
        m_welch = m_mwu = margin
    case["stable_mean"] = mean_y
    case["stable_median"] = med_y
    case["margin_abs_welch"] = m_welch
    case["margin_abs_mwu"] = m_mwu
    if direction == "lower-is-better":
        xs_w, xs_m, alt = x - m_welch, x - m_mwu, "less"
    else:
        xs_w, xs_m, alt = x + m_welch, x + m_mwu, "greater"
    r = stats.ttest_ind(xs_w, y, equal_var=False, alternative=alt)
    case["p_welch"] = float(r.pvalue)
    case["effect_welch"] = float(np.mean(x)) - mean_y
    df, se = _unequal_var_ttest_denom(_var(x, 0, ddof=1), len(x),
                                      _var(y, 0, ddof=1), len(y))
    q = t_upper_quantile((1 - confidence) / 2, df)
    case["ci_welch"] = [case["effect_welch"] - q * se,
                        case["effect_welch"] + q * se]
    r = stats.mannwhitneyu(xs_m, y, alternative=alt)
    case["p_mwu"] = float(r.pvalue)
    return case


def generate():
    rng = np.random.default_rng(20240604)
    cases = []
    cases.append(welch_case("tiny_2_2", [1.0, 2.0], [3.0, 5.0]))
    cases.append(welch_case("tiny_2_3", [0.5, -1.25], [2.0, 2.5, 9.0]))
    cases.append(welch_case("tiny_3_2", [1.0, 2.0, 4.0], [0.0, 0.1]))
    cases.append(welch_case("tiny_3_3", [3.1, 2.9, 3.3], [3.0, 3.6, 3.4]))
    cases.append(welch_case("tiny_2_5_extreme_t", [100.0, 100.001],
                            [0.0, 0.001, 0.002, 0.0005, 0.0015]))
    cases.append(welch_case("ties_integers", rng.integers(0, 4, 25),
                            rng.integers(1, 5, 18)))
    cases.append(welch_case("ties_many", np.repeat([1.0, 2.0, 3.0], 40),
                            np.repeat([1.0, 2.0, 3.0, 4.0], [10, 30, 50, 20])))
    s = rng.normal(10, 2, 40)
    cases.append(welch_case("equal_samples", s, s.copy()))
    cases.append(welch_case("x_constant", np.full(12, 7.5), rng.normal(7, 1, 20)))
    cases.append(welch_case("y_constant", rng.normal(3, 0.5, 9), np.full(30, 0.1)))
    cases.append(welch_case("both_constant_equal", np.full(5, 2.0), np.full(7, 2.0)))
    cases.append(welch_case("both_constant_different", np.full(5, 1.0),
                            np.full(7, 2.0)))
    cases.append(welch_case("unequal_var_small_n", rng.normal(0, 10, 5),
                            rng.normal(1, 0.1, 100)))
    cases.append(welch_case("lognormal_latency", rng.lognormal(3, 0.8, 300),
                            rng.lognormal(3.05, 0.7, 450)))
    cases.append(welch_case("negative_values", rng.normal(-50, 5, 60),
                            rng.normal(-49, 7, 70)))
    cases.append(welch_case("large_offset", 1e9 + rng.normal(0, 1, 200),
                            1e9 + 0.3 + rng.normal(0, 1, 150)))
    cases.append(welch_case("tiny_p_df_small", rng.normal(0, 1, 4),
                            rng.normal(1e4, 1, 4)))
    cases.append(welch_case("tiny_p_df_moderate", rng.normal(0, 1, 30),
                            rng.normal(12, 1.5, 25)))
    cases.append(welch_case("tiny_p_df_large", rng.normal(0, 1, 2000),
                            rng.normal(1.2, 1, 1500)))
    cases.append(welch_case("p_near_half", rng.normal(0, 1, 500),
                            rng.normal(0.0001, 1, 500)))
    for n in (10, 100, 1000, 10000):
        cases.append(welch_case(f"normal_n{n}", rng.normal(100, 15, n),
                                rng.normal(101, 20, n + n // 3)))
    big_x = np.round(rng.lognormal(4, 1, 100000), 3)
    big_x = np.array([float(f"{v:.6g}") for v in big_x])
    big_y = np.array([float(f"{v:.6g}") for v in rng.lognormal(4.01, 1, 60000)])
    cases.append(welch_case("lognormal_n1e5_rounded", big_x, big_y))

    ni = []
    x = rng.normal(100, 10, 40)
    y = rng.normal(100, 12, 50)
    ni.append(noninf_case("abs_lower", x, y, 5.0, "absolute", "lower-is-better"))
    ni.append(noninf_case("abs_higher", x, y, 5.0, "absolute", "higher-is-better"))
    ni.append(noninf_case("rel_lower", x, y, 0.05, "relative", "lower-is-better"))
    ni.append(noninf_case("rel_higher", x, y, 0.05, "relative", "higher-is-better",
                          0.9))
    ni.append(noninf_case("zero_margin", x, y, 0.0, "absolute", "lower-is-better"))
    lat_c = np.round(rng.lognormal(3, 0.5, 300), 1)
    lat_s = np.round(rng.lognormal(3, 0.5, 400), 1)
    ni.append(noninf_case("latency_ties_rel", lat_c, lat_s, 0.1, "relative",
                          "lower-is-better"))
    ni.append(noninf_case("latency_worse", lat_c * 1.3, lat_s, 0.05, "relative",
                          "lower-is-better"))
    ni.append(noninf_case("small_exact_mwu", [1.1, 2.3, 0.7, 1.9, 1.4],
                          [1.0, 2.0, 3.0, 1.5, 0.9, 2.2], 0.25, "absolute",
                          "lower-is-better"))
    ni.append(noninf_case("small_exact_mwu_higher", [1.1, 2.3, 0.7, 1.9, 1.4],
                          [1.0, 2.0, 3.0, 1.5, 0.9, 2.2], 0.25, "absolute",
                          "higher-is-better"))
    ni.append(noninf_case("negative_stable_rel", rng.normal(-20, 2, 30),
                          rng.normal(-20, 2, 30), 0.1, "relative",
                          "higher-is-better"))
    return {"welch": {
        "generator": f"scipy {scipy.__version__} stats.ttest_ind(equal_var=False), "
                     f"stats.mannwhitneyu; numpy {np.__version__}; "
                     "CI quantile by Newton on scipy.special.stdtr",
        "cases": cases, "noninf_cases": ni}}
