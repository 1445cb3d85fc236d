# SPDX-License-Identifier: GPL-3.0-or-later
"""Golden vectors for the AUC and its DeLong variance (cn_stats_auc), and
for the label metrics the feedback module computes (accuracy, log-loss,
Brier score).

The AUC is scikit-learn's roc_auc_score; the variance is DeLong's from its
definition, the O(m n) structural components (an implementation apart
from the C code's sorted counts). Log-loss and Brier are scikit-learn's
log_loss (probabilities clipped to [1e-15, 1 - 1e-15]) and
brier_score_loss; accuracy is accuracy_score at a 0.5 threshold.
"""
import numpy as np
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score


def delong_var(pos, neg):
    pos = np.asarray(pos, dtype=float)[:, None]
    neg = np.asarray(neg, dtype=float)[None, :]
    psi = (pos > neg) + 0.5 * (pos == neg)
    v10 = psi.mean(axis=1)
    v01 = psi.mean(axis=0)
    var = 0.0
    if len(v10) > 1:
        var += v10.var(ddof=1) / len(v10)
    if len(v01) > 1:
        var += v01.var(ddof=1) / len(v01)
    return var


def generate():
    rng = np.random.default_rng(20261207)
    cases = []
    shapes = [(5, 7, False), (30, 40, True), (200, 150, False), (500, 900, True),
              (1, 1, False), (3, 1, True), (50, 50, True)]
    for n_pos, n_neg, rounded in shapes:
        pos = rng.normal(0.8, 1.0, n_pos)
        neg = rng.normal(0.0, 1.0, n_neg)
        if rounded:  # many ties
            pos = np.round(pos, 1)
            neg = np.round(neg, 1)
        y = np.r_[np.ones(n_pos), np.zeros(n_neg)]
        s = np.r_[pos, neg]
        cases.append({"pos": pos, "neg": neg, "auc": roc_auc_score(y, s),
                      "variance": delong_var(pos, neg)})
    # label metrics on probabilities, some at the clip edges
    label_cases = []
    for n in (10, 100, 1000):
        p = rng.uniform(0, 1, n)
        p[0] = 0.0
        p[1] = 1.0
        y = (rng.uniform(0, 1, n) < p * 0.8 + 0.1).astype(int)
        y[0] = 1  # a confident miss: log-loss clips it
        label_cases.append({
            "prediction": p, "label": y,
            "accuracy": accuracy_score(y, (p >= 0.5).astype(int)),
            "log_loss": log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]),
            "brier": brier_score_loss(y, p),
            "auc": roc_auc_score(y, p),
        })
    return {"auc": {"generator": "scikit-learn roc_auc_score; DeLong by definition",
                    "cases": cases},
            "labels": {"generator": "scikit-learn accuracy_score, log_loss, "
                       "brier_score_loss, roc_auc_score", "cases": label_cases}}
