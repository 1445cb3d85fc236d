# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for the Hodges-Lehmann estimator (src/stats/hl.c).

Two references, one per branch of cn_stats_hl():

* exact (n, m < 50, no ties in the pooled sample): R 4.2's
  wilcox.test(x, y, conf.int=TRUE, exact=TRUE, conf.level=...), run through
  `Rscript`. R reports the estimate and the interval; the achieved coverage
  it computes internally, 1 - 2 pwilcox(qu - 1, n, m) with
  qu = max(1, qwilcox(alpha/2, n, m)), is recomputed in the same R session.
  The samples travel to R as C99 hex floats and R echoes them back in hex,
  so both sides use bit-identical inputs.

* normal (n or m >= 50, or ties): numpy brute force. All n*m differences
  are enumerated and sorted; the estimate is np.median (mean of the two
  middle differences for even n*m, as R's median), the interval is
  [d_(k+1), d_(nm-k)] with k = floor(nm/2 - z sqrt(nm(n+m+1)/12)) clamped
  to [0, (nm-1)/2], z = norm.isf(alpha/2), and the coverage is
  erf((nm/2 - k - 1/2) / (sigma sqrt 2)). Cases also carry a few
  (rank, value) pairs of the sorted differences for
  cn_stats_pairdiff_select ("select").

Inputs are rounded to 6 significant digits where noted: it keeps the JSON
short for the 10^5-size cases and creates ties on purpose.
"""
import math
import subprocess
import tempfile

import numpy as np
import scipy
import scipy.stats

R_SCRIPT = r"""
args <- commandArgs(trailingOnly = TRUE)
lines <- readLines(args[1])
out <- character(0)
for (i in seq(1, length(lines), by = 3)) {
  conf <- as.numeric(lines[i])
  x <- scan(text = lines[i + 1], quiet = TRUE)
  y <- scan(text = lines[i + 2], quiet = TRUE)
  w <- suppressWarnings(wilcox.test(x, y, conf.int = TRUE, exact = TRUE,
                                    conf.level = conf))
  alpha <- 1 - conf
  qu <- qwilcox(alpha / 2, length(x), length(y))
  if (qu == 0) qu <- 1
  ach <- 1 - 2 * pwilcox(trunc(qu) - 1, length(x), length(y))
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


def sig6(v):
    return np.array([float(f"{t:.6g}") for t in v])


def has_pooled_ties(x, y):
    p = np.concatenate([x, y])
    return len(np.unique(p)) != len(p)


def run_r(cases):
    """Evaluate every exact case in one R session."""
    with tempfile.TemporaryDirectory() as d:
        inp, outp, script = f"{d}/in.txt", f"{d}/out.txt", f"{d}/hl.R"
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
        assert "exact" in f[5], (c["name"], f[5])
        c["estimate"], c["ci_low"], c["ci_high"], c["achieved_confidence"] = (
            float(t) for t in f[:4])
        c["qu"] = int(f[4])
        c["exact"] = 1


def normal_reference(c, rng, nselect=6):
    x = np.asarray(c["x"], dtype=float)
    y = np.asarray(c["y"], dtype=float)
    n, m = len(x), len(y)
    nm = n * m
    d = np.sort(np.subtract.outer(x, y).ravel())
    alpha = 1 - c["confidence"]
    z = scipy.stats.norm.isf(alpha / 2)
    sigma = math.sqrt(float(nm) * float(n + m + 1) / 12.0)
    t = nm / 2.0 - z * sigma
    # floor() must not sit on a rounding knife edge between C and Python.
    assert t < 0 or abs(t - round(t)) > 1e-6, (c["name"], t)
    k = 0 if t < 0 else int(math.floor(t))
    k = min(k, (nm - 1) // 2)
    w = (nm / 2.0 - (k + 0.5)) / sigma
    c["estimate"] = float(np.median(d))
    c["ci_low"] = float(d[k])
    c["ci_high"] = float(d[nm - 1 - k])
    c["achieved_confidence"] = math.erf(w / math.sqrt(2))
    c["k"] = k
    c["exact"] = 0
    ks = {0, nm - 1, (nm - 1) // 2, nm // 2}
    want = min(nm, len(ks) + nselect)
    while len(ks) < want:
        ks.add(int(rng.integers(0, nm)))
    c["select"] = [[int(kk), float(d[kk])] for kk in sorted(ks)]


def case(name, x, y, confidence=0.95):
    return {"name": name, "x": [float(v) for v in x], "y": [float(v) for v in y],
            "confidence": confidence}


def exact_cases(rng):
    cs = []

    def ln(n, mu=0.0):
        return sig6(rng.lognormal(mu, 1.0, n))

    for n, m in [(1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (3, 3), (1, 5), (5, 1),
                 (4, 4), (5, 7), (7, 5), (10, 10), (8, 12), (20, 30), (30, 20),
                 (1, 49), (49, 1), (2, 49), (49, 49), (25, 49), (49, 48)]:
        cs.append(case(f"lognormal n={n} m={m}", ln(n, 0.3), ln(m)))
    for conf in [0.01, 0.1, 0.5, 0.8, 0.9, 0.99, 0.999]:
        cs.append(case(f"normal shift n=12 m=15 conf={conf}",
                       sig6(rng.normal(1.0, 2.0, 12)), sig6(rng.normal(0, 2.0, 15)),
                       conf))
        cs.append(case(f"lognormal n=40 m=45 conf={conf}", ln(40, 0.2), ln(45), conf))
    cs.append(case("tiny high confidence n=2 m=2 conf=0.99", [1.5, 2.25], [0.5, 3.75],
                   0.99))
    cs.append(case("disjoint: every x above every y", sig6(rng.uniform(10, 11, 9)),
                   sig6(rng.uniform(0, 1, 11))))
    cs.append(case("negative values", sig6(rng.normal(-50, 3, 17)),
                   sig6(rng.normal(-48, 3, 13))))
    cs.append(case("distinct integers", rng.permutation(100)[:30] * 1.0,
                   rng.permutation(np.arange(100, 200))[:20] - 149.5))
    for c in cs:
        assert not has_pooled_ties(np.array(c["x"]), np.array(c["y"])), c["name"]
        assert len(c["x"]) < 50 and len(c["y"]) < 50
    return cs


def normal_cases(rng):
    cs = []
    # Ties make R (and us) leave the exact branch even for tiny samples.
    cs.append(case("tie n=1 m=1", [1.0], [1.0]))
    cs.append(case("ties n=2 m=2", [1.0, 2.0], [2.0, 2.0]))
    cs.append(case("ties n=3 m=3", [0.0, 1.0, 1.0], [1.0, 2.0, 3.0]))
    cs.append(case("ties n=2 m=3 conf=0.99 (k clamps to 0)", [1.0, 1.0],
                   [0.0, 2.0, 5.0], 0.99))
    small = rng.integers(0, 4, 40) * 1.0
    cs.append(case("equal samples n=m=40", small, small))
    cs.append(case("constant samples, equal", [5.0] * 10, [5.0] * 7))
    cs.append(case("constant samples, different", [5.0] * 10, [3.0] * 7))
    cs.append(case("integer ties n=30 m=45", rng.integers(0, 6, 30) * 1.0,
                   rng.integers(1, 7, 45) * 1.0))
    cs.append(case("rounded lognormal ties n=20 m=25",
                   np.round(rng.lognormal(0, 1, 20), 1),
                   np.round(rng.lognormal(0, 1, 25), 1)))
    # No ties, but at least one sample of 50 or more.
    for n, m in [(50, 10), (10, 50), (50, 50), (1, 100), (100, 1), (60, 49), (1, 1000),
                 (100, 200), (1000, 1000)]:
        cs.append(case(f"lognormal n={n} m={m}", rng.lognormal(0.1, 1, n),
                       rng.lognormal(0, 1, m)))
    for conf in [0.01, 0.5, 0.9, 0.99, 0.999]:
        cs.append(case(f"lognormal n=300 m=200 conf={conf}",
                       rng.lognormal(0.1, 1, 300), rng.lognormal(0, 1, 200), conf))
    cs.append(case("ties n=2 m=2 conf=0.01 (k = nm/2 - 1)", [1.0, 1.0], [0.0, 2.0],
                   0.01))
    cs.append(case("ties n=3 m=3 conf=0.01 (interval collapses to the median)",
                   [1.0, 1.0, 2.0], [0.0, 2.0, 3.0], 0.01))
    # Large: 6 significant digits keep the JSON short (and create ties).
    cs.append(case("lognormal n=100000 m=3, 6 digits",
                   sig6(rng.lognormal(0.05, 1, 100000)), sig6(rng.lognormal(0, 1, 3))))
    cs.append(case("lognormal n=150 m=100000, 6 digits",
                   sig6(rng.lognormal(0.05, 1, 150)), sig6(rng.lognormal(0, 1, 100000))))
    cs.append(case("latency-like n=20000 m=500, 6 digits",
                   sig6(5 + rng.gamma(2.0, 10.0, 20000)),
                   sig6(4 + rng.gamma(2.0, 10.0, 500))))
    for c in cs:
        normal_reference(c, rng)
    return cs


def generate():
    rng = np.random.default_rng(20240611)
    exact = exact_cases(rng)
    run_r(exact)
    normal = normal_cases(rng)
    for c in normal:
        n, m = len(c["x"]), len(c["y"])
        assert n >= 50 or m >= 50 or has_pooled_ties(np.array(c["x"]),
                                                     np.array(c["y"])), c["name"]
    gen = (f"exact cases: {r_version()} wilcox.test(x, y, conf.int=TRUE, "
           f"exact=TRUE); normal cases: numpy {np.__version__} brute-force "
           f"enumeration of the sorted differences, scipy {scipy.__version__} "
           f"norm.isf")
    return {"hl": {"generator": gen, "cases": exact + normal}}
