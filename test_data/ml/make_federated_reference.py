"""Reference values for federated training (`federated` op, FedAvg).

Writes two datasets of three clients each, with different sizes and shifted
feature distributions (non-IID): fed_classes.csv (a binary label) and
fed_values.csv (a real target); the `region` column names each row's client.
federated_reference.json holds, per case, what a NumPy transcription of
FedAvg with full-batch local gradient descent gives (the weights, the
rows-weighted loss per round, the final metrics and the predictions of the
test rows) and what scikit-learn fits centrally on the pooled rows (the
accuracy or R² federated training should come within 0.02 of).
Run: python3 make_federated_reference.py (numpy, scikit-learn 1.9.1).
"""

import csv
import json
from pathlib import Path

import numpy as np
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import StandardScaler

HERE = Path(__file__).parent
REGIONS = [("north", 300, 0.0), ("south", 200, 1.5), ("east", 100, -1.0)]
FEATURES = ["x1", "x2", "x3", "x4"]


def make(seed, kind):
    rng = np.random.default_rng(seed)
    true_w = np.array([1.5, -2.0, 0.7, 0.0])
    parts = []
    for region, n, shift in REGIONS:
        x = rng.normal(loc=shift, scale=[1.0, 2.0, 0.5, 3.0], size=(n, 4)) + [0.0, 1.0, 5.0, -2.0]
        z = (x - [0.0, 1.0, 5.0, -2.0]) @ true_w + 0.3
        if kind == "classes":
            y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
        else:
            y = z * 2.0 + rng.normal(scale=1.0, size=n)
        parts.append((region, x, y))
    return parts


def write(name, parts, kind):
    with open(HERE / f"{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(FEATURES + ["region", "target"])
        for region, x, y in parts:
            for row, t in zip(x, y):
                w.writerow([repr(float(v)) for v in row] + [region, int(t) if kind == "classes" else repr(float(t))])


def fedavg(parts, kind, rounds, epochs, lr, l2=0.0):
    n_total = sum(len(y) for _, _, y in parts)
    sums = sum(x.sum(axis=0) for _, x, _ in parts)
    squares = sum((x * x).sum(axis=0) for _, x, _ in parts)
    mean = sums / n_total
    var = squares / n_total - mean * mean
    scale = np.where(var > 1e-24, np.sqrt(np.maximum(var, 0)), 1.0)
    clients = [((x - mean) / scale, y.astype(float)) for _, x, y in parts]
    w = np.zeros(4)
    b = 0.0

    def residual(x, y, w, b):
        z = x @ w + b
        if kind == "classes":
            p = 1 / (1 + np.exp(-z))
            loss = np.mean(np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))) - y * z)
            return p - y, loss
        r = z - y
        return r, np.mean(0.5 * r * r)

    history = []
    for _ in range(rounds):
        updates, losses = [], []
        for x, y in clients:
            lw, lb = w.copy(), b
            for e in range(epochs):
                r, loss = residual(x, y, lw, lb)
                if e == 0:
                    losses.append((loss, len(y)))
                gw = x.T @ r / len(y) + l2 * lw
                gb = r.mean()
                lw, lb = lw - lr * gw, lb - lr * gb
            updates.append((lw, lb, len(y)))
        history.append(sum(l * n for l, n in losses) / n_total)
        w = sum(lw * n for lw, _, n in updates) / n_total
        b = sum(lb * n for _, lb, n in updates) / n_total
    return mean, scale, w, b, history


def main():
    cases = []
    for kind, seed, rounds, epochs, lr in [("classes", 7, 30, 5, 0.5), ("values", 8, 40, 5, 0.1)]:
        parts = make(seed, kind)
        write(f"fed_{kind}", parts, kind)
        mean, scale, w, b, history = fedavg(parts, kind, rounds, epochs, lr)
        x = np.vstack([p[1] for p in parts])
        y = np.concatenate([p[2] for p in parts])
        xs = (x - mean) / scale
        z = xs @ w + b
        test = np.random.default_rng(99).normal(size=(20, 4)) * [1.0, 2.0, 0.5, 3.0] + [0.0, 1.0, 5.0, -2.0]
        zt = ((test - mean) / scale) @ w + b
        central = StandardScaler().fit(x)
        if kind == "classes":
            ours = accuracy_score(y, (z > 0).astype(int))
            model = LogisticRegression(C=1e6, max_iter=10000).fit(central.transform(x), y)
            theirs = accuracy_score(y, model.predict(central.transform(x)))
            predictions = [int(v > 0) for v in zt]
            metric = "accuracy"
        else:
            ours = r2_score(y, z)
            model = LinearRegression().fit(x, y)
            theirs = r2_score(y, model.predict(x))
            predictions = [float(v) for v in zt]
            metric = "r2"
        cases.append({
            "dataset": f"fed_{kind}",
            "algorithm": "logistic_regression" if kind == "classes" else "linear_regression",
            "rounds": rounds, "local_epochs": epochs, "learning_rate": lr,
            "clients": [{"label": r, "rows": n} for r, n, _ in REGIONS],
            "coefficients": [float(v) for v in w], "intercept": float(b),
            "history": [float(v) for v in history],
            "metric": metric, "federated": float(ours), "central_sklearn": float(theirs),
            "test_rows": test.tolist(), "predictions": predictions,
        })
    (HERE / "federated_reference.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    for c in cases:
        print(c["dataset"], c["metric"], "fedavg", round(c["federated"], 4), "central", round(c["central_sklearn"], 4))


if __name__ == "__main__":
    main()
