# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for src/stats/eprocess.c: the betting e-process of the
canary's 0/1 outcomes against each second's stable share, implemented
here independently, one observation at a time (the C code works on
counts): Z_j = sign * (X_j - a * s) - b for each canary request of a
second, E *= prod (1 + lam * Z_j) * exp(-n^2 lam^2 a^2 / (8 n_s)),
lam = clip(mu / (var + mu^2 + n a^2 / (4 n_s)), 0, 0.5 / max(a + b, 1 + b))
with mu = sum(Z) / (N + 1) and var = (1/4 + sum((Z - mu)^2)) / (N + 1) over
the past Z (Waudby-Smith & Ramdas 2023, aGRAPA). A negative margin
-1 < b < 0 is the non-inferiority direction (the last four cases)."""
import numpy as np


def run(sign, a, b, seconds):
    zs = []          # every past Z, one per canary request
    log_e = 0.0
    log_max = 0.0
    trace = []
    cap = 0.5 / max(a + b, 1 + b)
    for (k, n, ks, ns) in seconds:
        if n == 0 or ns == 0:
            trace.append(log_e)
            continue
        past = np.array(zs, dtype=float)
        mu = past.sum() / (len(past) + 1)
        var = (0.25 + ((past - mu) ** 2).sum()) / (len(past) + 1)
        lam = 0.0
        if mu > 0:
            lam = min(mu / (var + mu * mu + n * a * a / (4.0 * ns)), cap)
        s = ks / ns
        xs = np.array([1.0] * k + [0.0] * (n - k))
        z = sign * (xs - a * s) - b
        if lam > 0:
            log_e += float(np.log(1 + lam * z).sum()) - n * n * lam * lam * a * a / (8.0 * ns)
            log_max = max(log_max, log_e)
        zs.extend(z.tolist())
        trace.append(log_e)
    return trace, log_max


def generate():
    rng = np.random.RandomState(20261207)
    cases = []
    specs = [
        # name, sign, a, b, canary p, stable q, canary rate/s, stable rate/s, seconds
        ("abs margin, 3x errors at 1%", 1, 1.0, 0.005, 0.03, 0.01, 5, 495, 400),
        ("abs margin, A/A at 1%", 1, 1.0, 0.005, 0.01, 0.01, 5, 495, 400),
        ("relative 5%, 2x errors at 5%", 1, 1.05, 0.0, 0.04, 0.02, 25, 475, 300),
        ("cdf side -1, shifted", -1, 1.0, 0.05, 0.3, 0.5, 25, 475, 200),
        ("cdf side +1, 50/50", 1, 1.0, 0.05, 0.7, 0.5, 250, 250, 120),
        # non-inferiority (a negative margin: H0 is harm of at least the margin)
        ("NI abs margin, good canary at 5%", -1, 1.0, -0.005, 0.01, 0.01, 25, 475, 300),
        ("NI abs margin, at the margin", -1, 1.0, -0.005, 0.015, 0.01, 25, 475, 300),
        ("NI cdf side, 50/50", 1, 1.0, -0.05, 0.5, 0.5, 250, 250, 120),
        ("NI relative 5%, a = 1.05 b = -0.2", -1, 1.05, -0.2, 0.3, 0.3, 25, 475, 200),
    ]
    for name, sign, a, b, p, q, rc, rs, secs in specs:
        seconds = []
        for t in range(secs):
            n = int(rng.poisson(rc))
            ns = int(rng.poisson(rs)) if t % 37 else 0  # some seconds without stable
            k = int(rng.binomial(n, p))
            ks = int(rng.binomial(ns, q)) if ns else 0
            seconds.append([k, n, ks, ns])
        trace, log_max = run(sign, a, b, seconds)
        cases.append({"name": name, "sign": sign, "a": a, "b": b,
                      "seconds": seconds, "log_e": trace, "log_e_max": log_max})
    return {"eprocess": {"generator": "tools/golden/gen_eprocess.py (numpy, "
                                      "one observation at a time)",
                         "cases": cases}}
