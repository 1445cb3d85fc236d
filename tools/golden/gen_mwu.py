# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for ranks, the Wilcoxon distribution and Mann-Whitney U.

Writes three files (via tools/golden.py):

  rank.json    scipy.stats.rankdata(method='average') and the tie term
               sum(t^3 - t) (scipy.stats.tiecorrect == 1 - T/(n^3 - n)).
  wilcox.json  R 4.2's pwilcox / qwilcox (run through Rscript) for sizes
               R's O(n^2 m^2) algorithm handles, plus exact big-integer
               probabilities (Python's int and Fraction, correctly rounded)
               for sizes beyond it, up to min(n, m) = 100 (CN_WILCOX_MAX_MIN).
  mwu.json     scipy.stats.mannwhitneyu (scipy 1.10) with every method,
               alternative and continuity setting, including the z that
               scipy's _get_mwu_z computes for the asymptotic p-value.

Fixed seeds only. The 10^5-size inputs are rounded to 6 significant digits
to keep the files small; that also makes ties.
"""
import math
import subprocess
from fractions import Fraction

import numpy as np
import scipy
from scipy import stats
from scipy.stats import _mannwhitneyu as mwu_mod

ALTERNATIVES = ("two-sided", "less", "greater")


def sig(a, digits=6):
    """Round to `digits` significant digits (float64 in, float64 out)."""
    a = np.asarray(a, dtype=float)
    return np.array([float(f"{v:.{digits - 1}e}") for v in a])


# ---------------------------------------------------------------- ranks

def rank_cases():
    rng = np.random.default_rng(20240501)
    inputs = [
        ("size 1", [3.5]),
        ("size 2 distinct", [2.0, 1.0]),
        ("size 2 tied", [7.0, 7.0]),
        ("size 3 with a tie", [1.0, 3.0, 1.0]),
        ("constant", [4.2] * 10),
        ("negative and zero, -0 equals +0", [-1.5, 0.0, -0.0, 2.5, -1.5, 0.0]),
        ("integers with many ties", rng.integers(0, 5, size=40).astype(float)),
        ("normal 100", rng.normal(size=100)),
        ("normal 1000 rounded (ties)", np.round(rng.normal(size=1000), 2)),
        ("lognormal 10^5 to 6 digits", sig(rng.lognormal(3.0, 1.0, size=100000))),
    ]
    cases = []
    for name, x in inputs:
        x = np.asarray(x, dtype=float)
        _, t = np.unique(x, return_counts=True)
        tie_term = int((t.astype(np.int64) ** 3 - t).sum())
        cases.append({
            "name": name,
            "x": x,
            "ranks": stats.rankdata(x),
            "tie_term": tie_term,
            "tiecorrect": stats.tiecorrect(stats.rankdata(x)),
        })
    return cases


# ----------------------------------------------------- Wilcoxon distribution

R_SCRIPT = r"""
con <- file("stdin"); lines <- readLines(con); close(con)
for (ln in lines) {
  f <- strsplit(ln, " ")[[1]]
  kind <- f[1]; n <- as.numeric(f[2]); m <- as.numeric(f[3]); v <- as.numeric(f[4])
  if (kind == "cdf") {
    r <- pwilcox(v, n, m)
  } else if (kind == "sf") {         # P(U >= v) for integer v
    r <- pwilcox(v - 1, n, m, lower.tail = FALSE)
  } else if (kind == "q") {
    r <- qwilcox(v, n, m)
  } else if (kind == "qk") {         # quantile at p = pwilcox(k): print both
    p <- pwilcox(v, n, m)
    cat(sprintf("%.17g %.17g\n", p, qwilcox(p, n, m)))
    next
  }
  cat(sprintf("%.17g\n", r))
}
"""

QUANTILE_PS = [0.0, 1e-12, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
               0.75, 0.9, 0.95, 0.975, 0.99, 0.995, 0.999, 1 - 1e-12, 1.0]


def r_version():
    out = subprocess.run(["Rscript", "-e", "cat(R.version.string)"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def run_r(lines):
    out = subprocess.run(["Rscript", "-e", R_SCRIPT], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True)
    return out.stdout.split("\n")


def u_grid(n, m):
    nm = n * m
    if nm <= 60:
        return list(range(-1, nm + 2))
    pts = {0, 1, 2, nm // 4, nm // 2 - 1, nm // 2, nm // 2 + 1, nm - 2, nm - 1, nm}
    pts |= {round(nm * f) for f in (0.01, 0.05, 0.1, 0.2, 0.35, 0.65, 0.8, 0.9, 0.95, 0.99)}
    return sorted(p for p in pts if 0 <= p <= nm)


def r_wilcox_cases():
    sizes = [(1, 1), (1, 2), (2, 1), (2, 3), (3, 3), (1, 30), (4, 5), (5, 7),
             (6, 6), (8, 8), (4, 20), (20, 4), (10, 10), (12, 15), (25, 30),
             (40, 45), (49, 49), (3, 300), (10, 120)]
    cases = []
    for n, m in sizes:
        us = u_grid(n, m)
        ks = sorted({0, 1, (n * m) // 10, (n * m) // 4, (n * m) // 2, n * m - 1})
        lines = [f"cdf {n} {m} {u!r}" for u in us]
        lines += [f"cdf {n} {m} {u + 0.5!r}" for u in us[:5]]   # non-integer u
        lines += [f"sf {n} {m} {u}" for u in us]
        lines += [f"q {n} {m} {p!r}" for p in QUANTILE_PS]
        lines += [f"qk {n} {m} {k}" for k in ks]
        out = run_r(lines)
        i = 0
        cdf_u = [float(u) for u in us] + [u + 0.5 for u in us[:5]]
        cdf = [float(out[i + j]) for j in range(len(cdf_u))]
        i += len(cdf_u)
        sf = [float(out[i + j]) for j in range(len(us))]
        i += len(us)
        q = [float(out[i + j]) for j in range(len(QUANTILE_PS))]
        i += len(QUANTILE_PS)
        qk_p, qk = [], []
        for j in range(len(ks)):
            p, qq = out[i + j].split()
            qk_p.append(float(p))
            qk.append(float(qq))
        cases.append({
            "reference": "R",
            "n": n, "m": m,
            "cdf_u": cdf_u, "cdf": cdf,
            "sf_u": [float(u) for u in us], "sf": sf,
            "quantile_p": QUANTILE_PS + qk_p, "quantile": q + qk,
        })
    return cases


def exact_counts(n, m, kmax):
    """Exact counts #{U = k}, k <= kmax, by the Gaussian binomial product."""
    s, big = min(n, m), max(n, m)
    a = [0] * (kmax + 1)
    a[0] = 1
    for i in range(1, s + 1):
        top = min(i * big, kmax)
        for k in range(i, top + 1):
            a[k] += a[k - i]
        g = big + i
        for k in range(top, g - 1, -1):
            a[k] -= a[k - g]
    return a


def exact_wilcox_cases():
    # (100, 134) is where the recursion's rounding error peaks (wilcox.c)
    sizes = [(60, 70), (100, 100), (100, 134), (64, 2000), (8, 20000), (100, 1000)]
    cases = []
    for n, m in sizes:
        nm = n * m
        half = nm // 2
        counts = exact_counts(n, m, half)
        total = math.comb(n + m, n)
        cum = []
        acc = 0
        for c in counts:
            acc += c
            cum.append(acc)

        def cdf(u):  # P(U <= u), integer u
            if u < 0:
                return Fraction(0)
            if u >= nm:
                return Fraction(1)
            if u <= half:
                return Fraction(cum[u], total)
            return 1 - Fraction(cum[nm - u - 1], total)

        us = u_grid(n, m)
        cases.append({
            "reference": "exact",
            "n": n, "m": m,
            "cdf_u": [float(u) for u in us],
            "cdf": [float(cdf(u)) for u in us],
            "sf_u": [float(u) for u in us],
            "sf": [float(cdf(nm - u)) for u in us],   # P(U >= u) = P(U <= nm-u)
        })
    return cases


# -------------------------------------------------------- Mann-Whitney U

def scipy_z(x, y, alternative, use_continuity):
    """The z scipy 1.10 computes for method='asymptotic' (its _get_mwu_z)."""
    n1, n2 = len(x), len(y)
    ranks = stats.rankdata(np.concatenate([x, y]))
    u1 = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    u2 = n1 * n2 - u1
    u = {"greater": u1, "less": u2}.get(alternative, max(u1, u2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(mwu_mod._get_mwu_z(np.asarray(u), n1, n2, ranks[None, :],
                                        continuity=use_continuity))


def method_used(x, y, method):
    if method != "auto":
        return method
    xy = np.concatenate([x, y])[None, :]
    return mwu_mod._mwu_choose_method(len(x), len(y), xy, method)


def mwu_inputs():
    rng = np.random.default_rng(20240502)
    norm = rng.normal
    yield "sizes 1 and 1", [1.0], [2.0]
    yield "sizes 1 and 1 tied", [1.0], [1.0]
    yield "sizes 1 and 2", [0.5], [0.1, 0.9]
    yield "sizes 2 and 1", [0.1, 0.9], [0.5]
    yield "sizes 2 and 3", [3.1, 1.2], [0.4, 2.2, 5.0]
    yield "sizes 3 and 3 separated", [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    yield "scipy docstring example", [19, 22, 16, 29, 24], [20, 11, 17, 12]
    yield "small with ties", [1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 3.0, 4.0, 5.0]
    yield "ties inside x only", [1.0, 1.0, 2.0], [3.0, 4.0, 5.0, 6.0]
    yield "equal samples", [1.5, 2.5, 3.5, 4.5], [1.5, 2.5, 3.5, 4.5]
    yield "constant samples, equal", [2.0] * 5, [2.0] * 7
    yield "constant samples, different", [1.0] * 4, [2.0] * 6
    yield "constant 30 vs constant 40", [3.0] * 30, [3.0] * 40
    yield "negative and zero, -0 equals +0", [-0.0, -2.0, 1.0], [0.0, -1.0, 3.0, 2.0]
    yield "8 vs 8 shifted", norm(0.5, 1, 8), norm(0, 1, 8)
    yield "8 vs 100", norm(0.3, 1, 8), norm(0, 1, 100)
    yield "100 vs 7", norm(0, 1, 100), norm(0.8, 1, 7)
    yield "5 vs 400", norm(0, 1, 5), norm(0, 1, 400)
    yield "9 vs 9", norm(0, 1, 9), norm(1, 1, 9)
    yield "20 vs 30", norm(0, 1, 20), norm(0.4, 1, 30)
    yield "40 vs 45", norm(0, 1, 40), norm(0.2, 1, 45)
    yield "integer scores with ties 30 vs 25", rng.integers(1, 6, 30).astype(float), \
        rng.integers(2, 7, 25).astype(float)
    yield "1 vs 1000", [0.2], norm(0, 1, 1000)
    yield "1000 vs 1000 lognormal", rng.lognormal(0, 1, 1000), rng.lognormal(0.1, 1, 1000)
    yield "10^4 vs 3*10^3 to 3 digits (heavy ties)", np.round(norm(0, 1, 10000), 2), \
        np.round(norm(0.05, 1, 3000), 2)
    yield "10^5 vs 10^5 to 6 digits", sig(rng.lognormal(3, 1, 100000)), \
        sig(rng.lognormal(3.01, 1, 100000))


def mwu_cases():
    """One case per input pair; its "results" hold every option combination."""
    cases = []
    for name, x, y in mwu_inputs():
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        n1, n2 = len(x), len(y)
        methods = ["auto", "asymptotic"]
        # scipy's exact recursion is O(n^2 m^2): force it only where it is quick
        if min(n1, n2) <= 45 and n1 * n2 <= 2000:
            methods.append("exact")
        results = []
        for method in methods:
            used = method_used(x, y, method)
            for alternative in ALTERNATIVES:
                for cont in (True, False):
                    with np.errstate(divide="ignore", invalid="ignore"):
                        res = stats.mannwhitneyu(x, y, use_continuity=cont,
                                                 alternative=alternative,
                                                 method=method)
                    z = (scipy_z(x, y, alternative, cont)
                         if used == "asymptotic" else float("nan"))
                    r = {
                        "method": method,
                        "alternative": alternative,
                        "use_continuity": cont,
                        "method_used": used,
                        "u": float(res.statistic),
                        "pvalue": float(res.pvalue),
                        "z": z,
                    }
                    if math.isinf(z):  # JSON has no infinities
                        r["z"], r["z_inf"] = None, (1 if z > 0 else -1)
                    results.append(r)
        cases.append({"name": name, "x": x, "y": y, "results": results})
    return cases


def generate():
    gen_scipy = f"scipy {scipy.__version__} (numpy {np.__version__})"
    rver = r_version()
    return {
        "rank": {
            "generator": f"{gen_scipy}: stats.rankdata(method='average'), "
                         "tie term sum(t^3 - t) by np.unique, stats.tiecorrect",
            "cases": rank_cases(),
        },
        "wilcox": {
            "generator": f"{rver}: pwilcox/qwilcox via Rscript (reference 'R'); "
                         "exact big-integer Gaussian-binomial counts, "
                         "correctly rounded (reference 'exact')",
            "cases": r_wilcox_cases() + exact_wilcox_cases(),
        },
        "mwu": {
            "generator": f"{gen_scipy}: stats.mannwhitneyu; z from "
                         "stats._mannwhitneyu._get_mwu_z",
            "cases": mwu_cases(),
        },
    }
