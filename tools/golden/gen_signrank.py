# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for the paired comparisons (src/stats/signrank.c).

Writes signrank.json (via tools/golden.py) with three kinds of case:

  kind "test"       scipy.stats.wilcoxon(x, y, zero_method, correction,
                    alternative, method) of scipy 1.10, for every
                    alternative, zero_method ('pratt', 'wilcox', 'zsplit')
                    and correction. "method" is the method canary's 'auto'
                    picks (exact for n <= 50 without zeros or ties, else
                    approx), passed to scipy explicitly: scipy's own 'auto'
                    keeps the exact method with ties and truncates a
                    half-integer R+, which canary does not follow (see
                    signrank.c). A run records the statistic and p-value.
                    All-zero inputs, where scipy raises for 'wilcox' and
                    'pratt', are not here (the unit tests check canary's
                    documented answer).
  kind "hl"         the Hodges-Lehmann estimate of the paired shift: for
                    n < 50 without zeros or ties in |x - y|, R 4.2's
                    wilcox.test(x, y, paired=TRUE, conf.int=TRUE,
                    exact=TRUE) through Rscript (inputs travel as hex
                    floats), with the achieved coverage 1 - 2
                    psignrank(qu - 1, n), qu = max(1, qsignrank(alpha/2, n));
                    otherwise numpy brute force over all n(n+1)/2 Walsh
                    averages, the interval [W_(k+1), W_(N-k)] with
                    k = floor(N/2 - z sqrt(n(n+1)(2n+1)/24)) clamped to
                    [0, (N-1)/2] and coverage erf((N/2 - k - 1/2) /
                    (sigma sqrt 2)).
  kind "agreement"  two label vectors, the number of equal pairs, and
                    scipy.stats.binomtest(k, n).proportion_ci(confidence,
                    'wilson').

Fixed seeds; inputs rounded to a few significant digits (which also makes
ties and zeros on purpose).
"""
import math
import subprocess
import tempfile
import warnings

import numpy as np
import scipy
from scipy import stats

ALTS = ("two-sided", "less", "greater")
ZERO_METHODS = ("pratt", "wilcox", "zsplit")


def sig(v, digits=6):
    return np.array([float(f"{t:.{digits - 1}e}") for t in v])


def canary_method(d):
    absd = np.abs(d[d != 0])
    ties = len(np.unique(absd)) != len(absd)
    if len(d) <= 50 and not np.any(d == 0) and not ties:
        return "exact"
    return "approx"


def test_case(name, x, y):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    d = x - y
    method = canary_method(d)
    runs = []
    for zm in ZERO_METHODS:
        if zm != "zsplit" and np.all(d == 0):
            continue
        if zm == "wilcox" and np.count_nonzero(d) == 0:
            continue
        for alt in ALTS:
            for corr in (False, True):
                if method == "exact" and corr:
                    continue  # no continuity correction in the exact test
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    r = stats.wilcoxon(x, y, zero_method=zm, correction=corr,
                                       alternative=alt, method=method)
                runs.append({"zero_method": zm, "alternative": alt,
                             "correction": int(corr), "method": method,
                             "statistic": float(r.statistic),
                             "pvalue": float(r.pvalue)})
    return {"kind": "test", "name": name, "x": x, "y": y, "runs": runs}


R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
lines <- readLines(args[1])
out <- character(0)
for (i in seq(1, length(lines), by = 3)) {
  conf <- as.numeric(lines[i])
  x <- as.numeric(strsplit(lines[i + 1], " ")[[1]])
  y <- as.numeric(strsplit(lines[i + 2], " ")[[1]])
  w <- suppressWarnings(wilcox.test(x, y, paired = TRUE, conf.int = TRUE,
                                    exact = TRUE, conf.level = conf))
  n <- length(x)
  qu <- qsignrank((1 - conf) / 2, n)
  if (qu == 0) qu <- 1
  ach <- 1 - 2 * psignrank(trunc(qu) - 1, n)
  out <- c(out,
           paste(sprintf("%a", x), collapse = " "),
           paste(sprintf("%a", y), collapse = " "),
           sprintf("%.17g %.17g %.17g %.17g %d %s", w$estimate, w$conf.int[1],
                   w$conf.int[2], ach, as.integer(qu), w$method))
}
writeLines(out, args[2])
"""


def r_version():
    v = subprocess.run(["Rscript", "-e", "cat(R.version.string)"],
                       capture_output=True, text=True, check=True)
    return v.stdout.strip()


def run_r(cases):
    with tempfile.TemporaryDirectory() as tmp:
        inp, outp, script = f"{tmp}/in.txt", f"{tmp}/out.txt", f"{tmp}/sr.R"
        with open(script, "w") as f:
            f.write(R_SCRIPT)
        with open(inp, "w") as f:
            for c in cases:
                f.write(repr(c["confidence"]) + "\n")
                f.write(" ".join(float(v).hex() for v in c["x"]) + "\n")
                f.write(" ".join(float(v).hex() for v in c["y"]) + "\n")
        subprocess.run(["Rscript", script, inp, outp], check=True)
        with open(outp) as f:
            lines = f.read().splitlines()
    for i, c in enumerate(cases):
        rx = [float.fromhex(t) for t in lines[3 * i].split()]
        ry = [float.fromhex(t) for t in lines[3 * i + 1].split()]
        assert rx == list(c["x"]) and ry == list(c["y"]), c["name"]
        f = lines[3 * i + 2].split(" ", 5)
        assert "signed rank exact" in f[5], (c["name"], f[5])
        c["estimate"], c["ci_low"], c["ci_high"], c["achieved_confidence"] = (
            float(t) for t in f[:4])
        c["exact"] = 1


def hl_normal(c):
    d = np.asarray(c["x"]) - np.asarray(c["y"])
    n = len(d)
    big_n = n * (n + 1) // 2
    i, j = np.triu_indices(n)
    w = np.sort((d[i] + d[j]) / 2)
    alpha = 1 - c["confidence"]
    z = stats.norm.isf(alpha / 2)
    sigma = math.sqrt(n * (n + 1) * (2 * n + 1) / 24.0)
    t = big_n / 2.0 - z * sigma
    assert t < 0 or abs(t - round(t)) > 1e-6, (c["name"], t)
    k = 0 if t < 0 else int(math.floor(t))
    k = min(k, (big_n - 1) // 2)
    c["estimate"] = float(np.median(w))
    c["ci_low"] = float(w[k])
    c["ci_high"] = float(w[big_n - 1 - k])
    c["achieved_confidence"] = math.erf(
        (big_n / 2.0 - (k + 0.5)) / sigma / math.sqrt(2))
    c["exact"] = 0


def hl_case(name, x, y, confidence=0.95):
    return {"kind": "hl", "name": name, "x": [float(v) for v in x],
            "y": [float(v) for v in y], "confidence": confidence}


def is_exact_hl(c):
    d = np.asarray(c["x"]) - np.asarray(c["y"])
    a = np.abs(d)
    return len(d) < 50 and not np.any(d == 0) and len(np.unique(a)) == len(a)


def generate():
    rng = np.random.default_rng(14)
    tests = []
    for n in (1, 2, 3, 5, 8, 10, 15, 20, 25, 30, 49, 50, 51, 80, 200):
        y = sig(rng.lognormal(3, 0.5, n))
        x = sig(y * rng.lognormal(0.05, 0.2, n))
        tests.append(test_case(f"untied n={n}", x, y))
    # Zeros and ties: discrete latencies, identical answers.
    for n, p_same in ((10, 0.3), (40, 0.5), (300, 0.8), (2000, 0.95)):
        y = rng.integers(10, 30, n).astype(float)
        x = np.where(rng.random(n) < p_same, y, y + rng.integers(-3, 5, n))
        tests.append(test_case(f"zeros and ties n={n} same={p_same}", x, y))
    y = rng.integers(0, 5, 30).astype(float)
    tests.append(test_case("ties without zeros n=30", y + 0.5, y))
    tests.append(test_case("all but one zero n=12", np.r_[np.ones(11), 2.0],
                           np.ones(12)))
    tests.append(test_case("all zero n=6 (zsplit only)", np.ones(6), np.ones(6)))
    y = sig(rng.normal(0, 1, 5000))
    tests.append(test_case("n=5000 shift 0.02",
                           sig(y + rng.normal(0.02, 0.5, 5000)), y))

    hls = []
    for n, conf in ((1, 0.95), (2, 0.95), (3, 0.5), (5, 0.9), (7, 0.95), (10, 0.99),
                    (20, 0.95), (30, 0.8), (49, 0.95)):
        y = sig(rng.lognormal(3, 0.5, n))
        x = sig(y + rng.normal(1.0, 3.0, n))
        hls.append(hl_case(f"exact n={n} conf={conf}", x, y, conf))
    for n, conf in ((50, 0.95), (120, 0.9), (1000, 0.95), (2500, 0.99)):
        y = sig(rng.lognormal(3, 0.5, n), 4)
        x = sig(y + rng.normal(0.5, 2.0, n), 4)
        hls.append(hl_case(f"normal n={n} conf={conf}", x, y, conf))
    y = rng.integers(10, 30, 40).astype(float)
    x = np.where(rng.random(40) < 0.6, y, y + rng.integers(-2, 4, 40))
    hls.append(hl_case("zeros and ties n=40", x, y))
    y = rng.integers(10, 30, 500).astype(float)
    x = np.where(rng.random(500) < 0.9, y, y + rng.integers(1, 4, 500))
    hls.append(hl_case("mostly identical n=500", x, y))
    exact = [c for c in hls if is_exact_hl(c)]
    run_r(exact)
    for c in hls:
        if not is_exact_hl(c):
            hl_normal(c)

    agreements = []
    for n, k_cls, p_same, conf in ((1, 3, 1.0, 0.95), (10, 3, 0.0, 0.95),
                                   (20, 2, 0.5, 0.9), (1000, 10, 0.97, 0.95),
                                   (5000, 5, 0.999, 0.99), (300, 4, 1.0, 0.95)):
        y = rng.integers(0, k_cls, n).astype(float)
        x = np.where(rng.random(n) < p_same, y, (y + 1) % k_cls)
        k = int(np.sum(x == y))
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=conf,
                                                 method="wilson")
        agreements.append({"kind": "agreement", "name": f"n={n} same={p_same}",
                           "x": x, "y": y, "confidence": conf, "agree": k,
                           "ci_low": float(ci.low), "ci_high": float(ci.high)})

    return {"signrank": {
        "generator": f"tools/golden/gen_signrank.py, scipy {scipy.__version__}, "
                     f"{r_version()}",
        "cases": tests + hls + agreements}}
