#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive a canary serve with requests whose scores the test chooses, post
their delayed feedback, and compute the reference numbers (scikit-learn).

  send ADDR N SEED OUT       N requests to the proxy at ADDR; each body is
                             {"good": g, "bad": b} (the stable model server
                             echoes "good", the canary's "bad"), with
                             X-Request-Id and X-Region; OUT gets one JSON
                             line per answered request: id, segment, label,
                             version and prediction (from the response)
  post ADMIN TOKEN IN [ONLY] post the feedback of IN in JSON Lines batches
                             of 500 (label, clicked, revenue; ONLY: a comma
                             list of those to send); prints the summed
                             answers as JSON
  loop ADDR ADMIN TOKEN S SEED ONLY
                             for S seconds: send 200 requests, post their
                             feedback (ONLY: as for post; none: post
                             nothing), again; the
                             traffic of a live service whose labels come
                             back shortly after
  reference IN               per (version, segment): accuracy, log_loss,
                             brier, auc (scikit-learn), clicked rate and
                             revenue mean, as JSON

The scores: y ~ Bernoulli(0.3); good = sigmoid(1.5 (2y - 1) + N(0, 1));
bad = good in us, but in eu an uninformative score (uniform), the silent
regression of one segment.
"""
import http.client
import json
import math
import random
import sys


def send(addr, n, seed, out, first=0):
    rng = random.Random(int(seed))
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    with open(out, "w") as f:
        for i in range(int(first), int(first) + int(n)):
            seg = "eu" if rng.random() < 0.3 else "us"
            y = 1 if rng.random() < 0.3 else 0
            good = 1 / (1 + math.exp(-(1.5 * (2 * y - 1) + rng.gauss(0, 1))))
            bad = rng.random() if seg == "eu" else good
            rid = f"fb-{seed}-{i}"
            body = json.dumps({"good": good, "bad": bad})
            conn.request("POST", "/v2/models/m/infer", body,
                         {"X-Request-Id": rid, "X-Region": seg,
                          "Content-Type": "application/json"})
            r = conn.getresponse()
            data = r.read()
            if r.status != 200:
                continue
            pred = json.loads(data)["outputs"][0]["data"][0]
            f.write(json.dumps({"id": rid, "segment": seg, "label": y,
                                "version": r.getheader("X-Model-Version"),
                                "prediction": pred}) + "\n")


def values(rec):
    return {"label": rec["label"], "clicked": 1 if rec["prediction"] >= 0.5 else 0,
            "revenue": round(10 * rec["prediction"], 6)}


def post(admin, token, path, only=None):
    keep = set(only.split(",")) if only else None
    recs = [json.loads(line) for line in open(path)]
    host, port = admin.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    total = {}
    for at in range(0, len(recs), 500):
        lines = []
        for rec in recs[at:at + 500]:
            v = values(rec)
            if keep:
                v = {k: x for k, x in v.items() if k in keep}
            lines.append(json.dumps({"request_id": rec["id"], "metrics": v}))
        conn.request("POST", "/v1/feedback", "\n".join(lines) + "\n",
                     {"Authorization": f"Bearer {token}"})
        r = conn.getresponse()
        answer = json.loads(r.read())
        if r.status != 200:
            sys.exit(f"POST /v1/feedback answered {r.status}: {str(answer)[:300]}")
        for k, x in answer.items():
            if isinstance(x, int):
                total[k] = total.get(k, 0) + x
    print(json.dumps(total))


def loop(addr, admin, token, seconds, seed, only):
    import os
    import time
    end = time.monotonic() + float(seconds)
    first = 0
    tmp = os.environ.get("TMP", "/tmp") + f"/loop-{seed}.jsonl"
    while time.monotonic() < end:
        send(addr, 200, seed, tmp, first)
        first += 200
        if only == "none":
            continue
        with open(os.devnull, "w") as quiet:
            old, sys.stdout = sys.stdout, quiet
            try:
                post(admin, token, tmp, only)
            finally:
                sys.stdout = old


def reference(path):
    import numpy as np
    from sklearn.metrics import (accuracy_score, brier_score_loss, log_loss,
                                 roc_auc_score)
    recs = [json.loads(line) for line in open(path)]
    cells = {}
    for rec in recs:
        cells.setdefault((rec["version"], rec["segment"]), []).append(rec)
    out = []
    for (version, seg), rs in sorted(cells.items()):
        y = np.array([r["label"] for r in rs])
        p = np.array([r["prediction"] for r in rs])
        v = [values(r) for r in rs]
        out.append({
            "version": version, "segment": seg, "n": len(rs),
            "accuracy": accuracy_score(y, (p >= 0.5).astype(int)),
            "log_loss": log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]),
            "brier": brier_score_loss(y, p),
            "auc": roc_auc_score(y, p),
            "clicked": float(np.mean([x["clicked"] for x in v])),
            "revenue": float(np.mean([x["revenue"] for x in v])),
        })
    print(json.dumps(out))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"send": send, "post": post, "loop": loop, "reference": reference}[cmd](*args)
