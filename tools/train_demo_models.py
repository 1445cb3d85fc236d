#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Train the demo's three model versions on UCI Adult and export them.

Run with Debian's interpreter and its packages (python3-sklearn,
python3-numpy, python3-scipy):

    /usr/bin/python3 tools/train_demo_models.py [--out DIR]

It reads examples/model-server/data/adult.{data,test}.gz (the UCI files,
checked against their SHA-256) and writes, under examples/model-server/
(or DIR: tests/integration/test_example_model_server.sh writes a second
copy there and compares it with the committed one, byte for byte):

  models/adult-v{1,2,3}.json   the three versions, in the JSON format that
                               examples/model-server/model_server.c serves
                               (described in examples/model-server/README.md)
  replay.jsonl                 held-out rows as `canary loadgen --bodies`
                               wrappers: a KServe v2 body, the row's segment
                               and its true label as recorded feedback
  testdata/golden.json         rows and every version's predict_proba, for
                               tests/integration/test_example_model_server.sh
  MODELS.md                    the held-out metrics per version and segment

The task: predict whether a person's income is over $50K a year (the
positive class) from 12 census attributes. The segment is the person's
sector, derived from workclass: private, self-employed, government, other.

The versions (all logistic regression on the same inputs and encoding):
  v1  the current stable: fitted on a 10% sample of the training file,
      C = 1;
  v2  the retrain: the whole training file, C = 1; no worse than v1 on the
      held-out file overall and in every segment: log-loss and AUC no
      worse, accuracy at most 0.2 points lower (the script checks it);
  v3  the silent regression: v2 recalibrated per sector (its three
      government workclass weights refit, everything else v2's) on a label
      feed where a bug marked 40% of the government sector's <=50K rows
      >50K. Outside the government sector it answers exactly as v2; inside
      it its scores run high: accuracy and log-loss drop and the prediction
      distribution moves, while over all traffic it stays within about a
      point of v1's accuracy (the script checks both).

Reproducible bit for bit: fixed seeds, a single BLAS thread, the reference
BLAS whatever the machine's default (see below), Newton's method
(newton-cholesky) run to a tight tolerance, so the fit is the unique
optimum whatever path the arithmetic took (L-BFGS stopped at a point that
moved in the fifth digit between the reference BLAS and OpenBLAS), and
every exported parameter rounded to 10 significant
digits (the golden predictions to 12). The rounded parameters are put back
into the fitted sklearn pipeline before anything is scored, so the metrics and the golden
predictions are those of exactly the model that is exported.
"""
import os
import sys

# Before numpy loads: one BLAS thread, so sums are taken in one order.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

# And the same BLAS on every machine: Debian's numpy uses whichever
# libblas.so.3 the alternatives system points to, and a machine with
# OpenBLAS installed (a fresh Debian 12 with the test packages has it)
# computes in another order than one with the reference BLAS, which moved
# the fitted weights beyond the exported digits. The reference BLAS and
# LAPACK (libblas3, liblapack3: numpy depends on them) are put first, and
# the script runs again with them.
_REF = ("/usr/lib/x86_64-linux-gnu/blas", "/usr/lib/x86_64-linux-gnu/lapack")
if os.environ.get("CANARY_TRAIN_REFERENCE_BLAS") != "1" and all(
        os.path.exists(os.path.join(d, n))
        for d, n in zip(_REF, ("libblas.so.3", "liblapack.so.3"))):
    os.environ["CANARY_TRAIN_REFERENCE_BLAS"] = "1"
    os.environ["LD_LIBRARY_PATH"] = ":".join(
        list(_REF) + [p for p in os.environ.get("LD_LIBRARY_PATH", "").split(":") if p])
    os.execv(sys.executable, [sys.executable] + sys.argv)

import copy  # noqa: E402
import gzip  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import pathlib  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import log_loss, roc_auc_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "model-server"
DATA = EXAMPLE / "data"

# SHA-256 of the uncompressed UCI files (adult.data 3,974,305 bytes,
# adult.test 2,003,153 bytes).
SHA256 = {
    "adult.data": "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d",
    "adult.test": "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05",
}

MODEL_NAME = "adult-income"
OUTPUT_NAME = "probability"
# The columns of the UCI files, in order.
COLUMNS = ["age", "workclass", "fnlwgt", "education", "education_num",
           "marital_status", "occupation", "relationship", "race", "sex",
           "capital_gain", "capital_loss", "hours_per_week", "native_country",
           "income"]
# The model's inputs: (name, transform) for numbers, in request order.
NUMERIC = [("age", "identity"), ("capital_gain", "log1p"),
           ("capital_loss", "log1p"), ("hours_per_week", "identity")]
CATEGORICAL = ["workclass", "education", "marital_status", "occupation",
               "relationship", "race", "sex", "native_country"]
# The request's input order (the UCI column order).
INPUTS = [c for c in COLUMNS if c in {n for n, _ in NUMERIC} | set(CATEGORICAL)]

SECTOR = {
    "Private": "private",
    "Self-emp-not-inc": "self-employed",
    "Self-emp-inc": "self-employed",
    "Federal-gov": "government",
    "State-gov": "government",
    "Local-gov": "government",
}
SEGMENTS = ["private", "self-employed", "government", "other"]
DAMAGED = "government"

SIG_DIGITS = 10
# How much lower v2's accuracy may be than v1's in a segment (its log-loss
# and AUC may not be worse at all).
V2_ACCURACY_SLACK = 0.002
# The golden predictions are sklearn's predict_proba to this many digits:
# its last bit depends on the order BLAS sums in, which can change from run
# to run (memory alignment), and the server is held to 1e-9 anyway.
GOLDEN_DIGITS = 12
REPLAY_ROWS = 2000
GOLDEN_ROWS = 400
SEED = 20261207

VERSIONS = {
    "v1": {"sample": 0.10, "C": 1.0, "corrupt": 0.0,
           "about": "the current stable: a 10% sample of the training file, C = 1"},
    "v2": {"sample": 1.0, "C": 1.0, "corrupt": 0.0,
           "about": "retrained on the whole training file, C = 1"},
    "v3": {"recalibrate": "v2", "C": 1.0, "corrupt": 0.4,
           "about": "v2 recalibrated per sector on a label feed where a bug marked 40% "
                    "of the government sector's <=50K rows >50K: its three government "
                    "workclass weights refit, every other parameter v2's"},
}


def sector(workclass):
    return SECTOR.get(workclass, "other")


def load(name):
    """The rows of a UCI file as a dict of numpy columns, and the labels."""
    raw = gzip.decompress((DATA / f"{name}.gz").read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256[name]:
        sys.exit(f"train_demo_models: {name}: SHA-256 {digest}, expected {SHA256[name]}")
    rows = []
    for line in raw.decode("ascii").splitlines():
        if not line.strip() or line.startswith("|"):
            continue
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != len(COLUMNS):
            sys.exit(f"train_demo_models: {name}: bad line {line!r}")
        rows.append(fields)
    cols = {}
    for i, c in enumerate(COLUMNS):
        vals = [r[i] for r in rows]
        if c in CATEGORICAL:
            cols[c] = np.array(["unknown" if v == "?" else v for v in vals], dtype=object)
        elif c == "income":
            cols[c] = np.array([1 if v.rstrip(".") == ">50K" else 0 for v in vals])
        else:
            cols[c] = np.array([float(v) for v in vals])
    cols["segment"] = np.array([sector(w) for w in cols["workclass"]], dtype=object)
    return cols


def matrix(cols, idx=None):
    """The model's input matrix (object dtype: numbers and strings)."""
    names = [n for n, _ in NUMERIC] + CATEGORICAL
    m = np.empty((len(cols["age"]), len(names)), dtype=object)
    for j, n in enumerate(names):
        m[:, j] = cols[n]
    return m if idx is None else m[idx]


def numeric_transform(x):
    """The numeric inputs as floats, log1p where the model says so."""
    x = np.asarray(x, dtype=float).copy()
    for j, (_, t) in enumerate(NUMERIC):
        if t == "log1p":
            x[:, j] = np.log1p(x[:, j])
    return x


def pipeline(vocab, C):
    n_num = len(NUMERIC)
    numeric = Pipeline([("transform", FunctionTransformer(numeric_transform)),
                        ("scale", StandardScaler())])
    enc = ColumnTransformer([
        ("num", numeric, list(range(n_num))),
        ("cat", OneHotEncoder(categories=[vocab[c] for c in CATEGORICAL],
                              handle_unknown="error", sparse_output=False),
         list(range(n_num, n_num + len(CATEGORICAL)))),
    ])
    clf = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12, max_iter=1000)
    return Pipeline([("enc", enc), ("clf", clf)])


def rounded(x):
    return float(f"{float(x):.{SIG_DIGITS}g}")


def round_params(pipe):
    """Round the fitted parameters in place; return the export layout."""
    enc = pipe.named_steps["enc"]
    numeric = enc.named_transformers_["num"]
    scaler = numeric.named_steps["scale"]
    scaler.mean_ = np.array([rounded(v) for v in scaler.mean_])
    scaler.scale_ = np.array([rounded(v) for v in scaler.scale_])
    clf = pipe.named_steps["clf"]
    clf.coef_ = np.array([[rounded(v) for v in clf.coef_[0]]])
    clf.intercept_ = np.array([rounded(clf.intercept_[0])])
    coef = clf.coef_[0]
    out = []
    for k, (name, transform) in enumerate(NUMERIC):
        out.append({"name": name, "type": "numeric", "transform": transform,
                    "mean": float(scaler.mean_[k]), "scale": float(scaler.scale_[k]),
                    "weight": float(coef[k])})
    at = len(NUMERIC)
    onehot = enc.named_transformers_["cat"]
    for c, cats in zip(CATEGORICAL, onehot.categories_):
        out.append({"name": c, "type": "categorical",
                    "categories": [str(v) for v in cats],
                    "weights": [float(w) for w in coef[at:at + len(cats)]]})
        at += len(cats)
    assert at == len(coef)
    by_name = {f["name"]: f for f in out}
    return [by_name[n] for n in INPUTS], float(clf.intercept_[0])


def corrupted_labels(train, idx, rate, rng):
    """The labels of train[idx], with `rate` of the damaged segment's
    <=50K rows marked >50K (the labelling bug)."""
    y = train["income"][idx].copy()
    seg = train["segment"][idx]
    hit = (seg == DAMAGED) & (y == 0) & (rng.random(len(idx)) < rate)
    y[hit] = 1
    return y


def recalibrate(pipe, train, y, C):
    """Refit only the weights of the damaged segment's workclass categories
    (every other parameter fixed, as an offset), on labels y: a per-sector
    recalibration. Each row has one workclass, so each category is its own
    one-dimensional L2-penalised logistic fit, C * sum(loss) + w^2 / 2 as
    sklearn's, solved by Newton's method to convergence."""
    enc = pipe.named_steps["enc"]
    clf = pipe.named_steps["clf"]
    x = enc.transform(matrix(train))
    coef = clf.coef_[0].copy()
    assert CATEGORICAL[0] == "workclass"
    at = len(NUMERIC)  # the first one-hot columns are workclass's
    cats = list(enc.named_transformers_["cat"].categories_[0])
    for cat, sec in SECTOR.items():
        if sec != DAMAGED:
            continue
        j = at + cats.index(cat)
        rows = train["workclass"] == cat
        offset = x[rows] @ coef + clf.intercept_[0] - coef[j]
        yc = y[rows]
        w = coef[j]
        for _ in range(100):
            p = 1.0 / (1.0 + np.exp(-(offset + w)))
            grad = C * np.sum(p - yc) + w
            hess = C * np.sum(p * (1 - p)) + 1.0
            step = grad / hess
            w -= step
            if abs(step) < 1e-14:
                break
        coef[j] = rounded(w)
    clf.coef_ = np.array([coef])


def export(pipe, version, spec, rows):
    features, intercept = round_params(pipe)
    return {
        "format": "canary-example-logreg/1",
        "model_name": MODEL_NAME,
        "model_version": version,
        "about": spec["about"],
        "trained_on": f"UCI Adult adult.data, {rows} rows",
        "output": OUTPUT_NAME,
        "intercept": intercept,
        "features": features,
    }


def fit(version, spec, train, vocab, fitted):
    rng = np.random.default_rng(SEED + int(version[1:]))
    n = len(train["age"])
    if "recalibrate" in spec:
        # the base version's pipeline, its damaged sector's weights refit
        pipe = copy.deepcopy(fitted[spec["recalibrate"]])
        y = corrupted_labels(train, np.arange(n), spec["corrupt"], rng)
        recalibrate(pipe, train, y, spec["C"])
        return pipe, export(pipe, version, spec, n)
    idx = np.arange(n)
    if spec["sample"] < 1.0:
        idx = np.sort(rng.choice(n, size=int(round(spec["sample"] * n)), replace=False))
    y = train["income"][idx]
    pipe = pipeline(vocab, spec["C"])
    pipe.fit(matrix(train, idx), y)
    return pipe, export(pipe, version, spec, len(idx))


def metrics(y, p):
    return {"n": int(len(y)),
            "accuracy": float(np.mean((p >= 0.5) == (y == 1))),
            "log_loss": float(log_loss(y, p, labels=[0, 1])),
            "auc": float(roc_auc_score(y, p)),
            "mean_score": float(np.mean(p))}


def table(title, cols, probs, versions):
    lines = [f"### {title}", "",
             "| segment | rows | positive | version | accuracy | log-loss | AUC | mean score |",
             "|---|---:|---:|---|---:|---:|---:|---:|"]
    results = {}
    for seg in ["all"] + SEGMENTS:
        mask = np.ones(len(cols["age"]), bool) if seg == "all" else cols["segment"] == seg
        y = cols["income"][mask]
        for v in versions:
            m = metrics(y, probs[v][mask])
            results[(seg, v)] = m
            lines.append(f"| {seg} | {m['n']} | {np.mean(y):.3f} | {v} | {m['accuracy']:.4f} | "
                         f"{m['log_loss']:.4f} | {m['auc']:.4f} | {m['mean_score']:.4f} |")
    return lines, results


def body(cols, i):
    inputs = []
    for name in INPUTS:
        v = cols[name][i]
        if name in CATEGORICAL:
            inputs.append({"name": name, "shape": [1], "datatype": "BYTES", "data": [str(v)]})
        else:
            inputs.append({"name": name, "shape": [1], "datatype": "INT64", "data": [int(v)]})
    return {"inputs": inputs}


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def main():
    out_dir = EXAMPLE
    args = sys.argv[1:]
    if args[:1] == ["--out"] and len(args) == 2:
        out_dir = pathlib.Path(args[1]).resolve()
    elif args:
        sys.exit("usage: train_demo_models.py [--out DIR]")
    train = load("adult.data")
    test = load("adult.test")
    # One vocabulary for every version (the same schema): every value of
    # the training file, in sorted order.
    vocab = {c: sorted(set(train[c])) for c in CATEGORICAL}
    for c in CATEGORICAL:
        unseen = set(test[c]) - set(vocab[c])
        if unseen:
            sys.exit(f"train_demo_models: {c}: test values not in training: {sorted(unseen)}")

    probs, docs, pipes = {}, {}, {}
    x_test = matrix(test)
    for v, spec in VERSIONS.items():
        pipes[v], docs[v] = fit(v, spec, train, vocab, pipes)
        probs[v] = pipes[v].predict_proba(x_test)[:, 1]
        path = out_dir / "models" / f"adult-{v}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(docs[v], indent=1, allow_nan=False) + "\n")
        print(f"wrote {path}")

    # The replay file: a seeded sample of held-out rows, in random order.
    rng = np.random.default_rng(SEED)
    n_test = len(test["age"])
    replay = rng.permutation(n_test)[:REPLAY_ROWS]
    with open(out_dir / "replay.jsonl", "w") as f:
        for i in replay:
            f.write(dumps({"body": body(test, i), "segment": test["segment"][i],
                           "feedback": {"label": int(test["income"][i])}}) + "\n")
    print(f"wrote {out_dir / 'replay.jsonl'} ({REPLAY_ROWS} rows)")

    # Golden rows: held-out rows not in the replay sample, then rows with
    # every category of every input and extreme numbers.
    rest = np.setdiff1d(np.arange(n_test), replay)
    gold_idx = np.sort(rng.choice(rest, size=GOLDEN_ROWS, replace=False))
    gold = {c: list(test[c][gold_idx]) for c in INPUTS}
    extra = 0
    for c in CATEGORICAL:
        for cat in vocab[c]:
            base = {k: gold[k][extra % GOLDEN_ROWS] for k in INPUTS}
            base[c] = cat
            for k in INPUTS:
                gold[k].append(base[k])
            extra += 1
    for age, gain, loss, hours in [(17, 0, 0, 1), (90, 99999, 0, 99), (0, 0, 4356, 0),
                                   (120, 1000000, 1000000, 168)]:
        for k, val in [("age", age), ("capital_gain", gain), ("capital_loss", loss),
                       ("hours_per_week", hours)]:
            gold[k].append(float(val))
        for c in CATEGORICAL:
            gold[c].append(vocab[c][extra % len(vocab[c])])
        extra += 1
    gcols = {k: np.array(v, dtype=object if k in CATEGORICAL else float) for k, v in gold.items()}
    gx = matrix(gcols)
    doc = {"generator": "tools/train_demo_models.py (sklearn " + sklearn.__version__ + ")",
           "model_name": MODEL_NAME,
           "inputs": [{"name": k, "datatype": "BYTES" if k in CATEGORICAL else "INT64",
                       "data": [str(x) if k in CATEGORICAL else int(x) for x in gcols[k]]}
                      for k in INPUTS],
           "expected": {v: [float(f"{p:.{GOLDEN_DIGITS}g}")
                            for p in pipes[v].predict_proba(gx)[:, 1]]
                        for v in VERSIONS}}
    (out_dir / "testdata").mkdir(exist_ok=True)
    (out_dir / "testdata" / "golden.json").write_text(dumps(doc) + "\n")
    print(f"wrote {out_dir / 'testdata' / 'golden.json'} ({len(gx)} rows)")

    # The tables.
    vs = list(VERSIONS)
    held, res = table(f"Held out: adult.test, all {n_test} rows", test, probs, vs)
    rcols = {k: test[k][replay] for k in ("age", "segment", "income")}
    rprobs = {v: probs[v][replay] for v in vs}
    rep, _ = table(f"The replay file: {REPLAY_ROWS} of those rows (what the demo sends)",
                   rcols, rprobs, vs)

    # The promises the demo relies on.
    problems = []
    for seg in ["all"] + SEGMENTS:
        a, b = res[(seg, "v1")], res[(seg, "v2")]
        # Accuracy at a 0.5 threshold moves by a few rows either way between
        # two good models; the proper scores must not be worse at all.
        if (b["accuracy"] < a["accuracy"] - V2_ACCURACY_SLACK or b["log_loss"] > a["log_loss"]
                or b["auc"] < a["auc"]):
            problems.append(f"v2 is worse than v1 in segment {seg}")
    d1, d3 = res[(DAMAGED, "v1")], res[(DAMAGED, "v3")]
    if d1["accuracy"] - d3["accuracy"] < 0.08:
        problems.append("v3's damage in the segment is too small")
    a1, a3 = res[("all", "v1")], res[("all", "v3")]
    if a1["accuracy"] - a3["accuracy"] > 0.02:
        problems.append("v3 is too much worse than v1 over all traffic")
    for seg in SEGMENTS:
        if seg != DAMAGED and res[(seg, "v3")]["accuracy"] < res[(seg, "v1")]["accuracy"] - 0.005:
            problems.append(f"v3 is worse than v1 in segment {seg}, not only in {DAMAGED}")

    out = ["# The demo's models", "",
           "Written by `/usr/bin/python3 tools/train_demo_models.py` "
           f"(scikit-learn {sklearn.__version__}, numpy {np.__version__}); do not edit.",
           "",
           "Logistic regression on UCI Adult (Becker & Kohavi 1996, CC BY 4.0; see",
           "[data/README.md](data/README.md)): is a person's income over $50K a year?",
           "Trained on adult.data (32,561 rows), measured on adult.test (16,281 rows,",
           "never used in training). The segment is the sector, from workclass:",
           "private (Private), self-employed (Self-emp-not-inc, Self-emp-inc),",
           "government (Federal-gov, State-gov, Local-gov), other (unknown,",
           "Without-pay, Never-worked). Accuracy at a 0.5 threshold; log-loss in nats;",
           "mean score is the average predicted probability.", ""]
    for v, spec in VERSIONS.items():
        out.append(f"- **{v}**: {spec['about']}.")
    out.append("")
    out += held + [""] + rep + [""]
    text = "\n".join(out)
    (out_dir / "MODELS.md").write_text(text)
    print(text)
    if problems:
        sys.exit("train_demo_models: " + "; ".join(problems))


if __name__ == "__main__":
    main()
