"""Generates the anomaly benchmark stream and the reference detectors' ROC-AUC.

The stream (seeded, public domain) is three channels of a noisy periodic
signal whose normal rows lie near a closed curve:
    x0 = sin θ + ε,  x1 = cos θ + ε,  x2 = 0.5·sin 2θ + ε,  θ = 2πt/100,  ε ~ N(0, 0.05)
with anomalies injected after row 500:
  - point:      one channel pushed by ±(1..2),
  - contextual: x0 takes the value of the opposite phase, sin(θ+π) (each
                channel stays in its normal range; the row is off the curve),
  - collective: 40-row bursts where the noise grows to σ = 0.4.
Rows are labelled 1 when anomalous.

References, on the same rows, scored prequentially like a stream:
  - river  preprocessing.MinMaxScaler() | anomaly.HalfSpaceTrees(seed=42)
           (score_one, then learn_one, row by row),
  - scikit-learn IsolationForest(n_estimators=100, random_state=42) fitted
    on the first `EVAL_START` rows and scoring the rest (`-score_samples`),
  - and, for information only, the same IsolationForest fitted on all rows.
ROC-AUC is computed on rows from EVAL_START on.

Writes stream.csv and reference.json beside this script, or into the
directory given as the first argument (`make bench` regenerates both there,
so the comparison is made in the same run).
"""

import csv
import json
import pathlib
import sys

import numpy as np
import river
import sklearn
from river import anomaly, compose, preprocessing
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score

HERE = pathlib.Path(__file__).parent
ROWS = 6000
EVAL_START = 1000
SEED = 20261123


def generate():
    rng = np.random.default_rng(SEED)
    t = np.arange(ROWS)
    theta = 2 * np.pi * t / 100
    x = np.stack([np.sin(theta), np.cos(theta), 0.5 * np.sin(2 * theta)], axis=1)
    x += rng.normal(0, 0.05, x.shape)
    label = np.zeros(ROWS, dtype=int)
    kind = np.array(["normal"] * ROWS, dtype=object)
    free = np.ones(ROWS, dtype=bool)
    free[:500] = False

    def take(length):
        while True:
            start = int(rng.integers(500, ROWS - length))
            if free[start : start + length].all() and free[max(0, start - 5) : start + length + 5].all():
                free[start : start + length] = False
                return start

    for _ in range(8):  # collective bursts
        s = take(40)
        x[s : s + 40] += rng.normal(0, 0.4, (40, 3))
        label[s : s + 40] = 1
        kind[s : s + 40] = "collective"
    for _ in range(30):  # contextual
        s = take(1)
        x[s, 0] = np.sin(theta[s] + np.pi) + rng.normal(0, 0.05)
        label[s] = 1
        kind[s] = "contextual"
    for _ in range(40):  # point
        s = take(1)
        channel = int(rng.integers(0, 3))
        x[s, channel] += rng.choice([-1, 1]) * rng.uniform(1, 2)
        label[s] = 1
        kind[s] = "point"
    return x, label, kind


def river_hst(x):
    model = compose.Pipeline(preprocessing.MinMaxScaler(), anomaly.HalfSpaceTrees(seed=42))
    scores = []
    for row in x:
        features = {f"x{j}": float(v) for j, v in enumerate(row)}
        scores.append(model.score_one(features))
        model.learn_one(features)
    return np.array(scores)


def main():
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else HERE
    out.mkdir(parents=True, exist_ok=True)
    x, label, kind = generate()
    with open(out / "stream.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["t", "x0", "x1", "x2", "label", "kind"])
        for t, (row, l, k) in enumerate(zip(x, label, kind)):
            writer.writerow([t, *(f"{v:.6f}" for v in row), l, k])
    # Score exactly what was written (6 decimals), as Weft will read it.
    x = np.round(x, 6)
    evaluated = slice(EVAL_START, None)
    hst = river_hst(x)
    prefix_forest = IsolationForest(n_estimators=100, random_state=42).fit(x[:EVAL_START])
    all_forest = IsolationForest(n_estimators=100, random_state=42).fit(x)
    reference = {
        "rows": ROWS,
        "eval_start": EVAL_START,
        "anomalies": int(label.sum()),
        "anomalies_evaluated": int(label[evaluated].sum()),
        "roc_auc": {
            "river_half_space_trees": roc_auc_score(label[evaluated], hst[evaluated]),
            "sklearn_isolation_forest": roc_auc_score(
                label[evaluated], -prefix_forest.score_samples(x[evaluated])
            ),
            "sklearn_isolation_forest_fit_on_all_rows": roc_auc_score(
                label[evaluated], -all_forest.score_samples(x[evaluated])
            ),
        },
        "versions": {"river": river.__version__, "scikit-learn": sklearn.__version__, "numpy": np.__version__},
    }
    with open(out / "reference.json", "w") as f:
        json.dump(reference, f, indent=2)
        f.write("\n")
    print(json.dumps(reference, indent=2))


if __name__ == "__main__":
    main()
