"""scikit-learn baselines for `make bench`'s ML rows.

Reads the rows the bench wrote (20 feature columns and a 0/1 label) and
times, on one core, what a scikit-learn user would write with the same
hyperparameters as the engine's rows: LogisticRegression (lbfgs, C=1, on
standardized features, as the engine standardizes), RandomForestClassifier
(20 trees, depth <= 10) and KMeans (k=8, one k-means++ run). Prints JSON:
seconds to fit and to predict the same rows, per algorithm.
"""

import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
from sklearn.cluster import KMeans
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def timed(f):
    start = time.perf_counter()
    out = f()
    return time.perf_counter() - start, out


def main(path):
    data = np.loadtxt(path, delimiter=",", skiprows=1)
    x, y = data[:, :-1], data[:, -1].astype(int)
    models = {
        "logistic_regression": (make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=100)), True),
        "random_forest": (RandomForestClassifier(n_estimators=20, max_depth=10, n_jobs=1, random_state=0), True),
        "kmeans": (KMeans(n_clusters=8, n_init=1, random_state=0), False),
    }
    out = {}
    for name, (model, supervised) in models.items():
        fit, _ = timed(lambda: model.fit(x, y) if supervised else model.fit(x))
        predict, _ = timed(lambda: model.predict_proba(x) if supervised else model.predict(x))
        out[name] = {"fit": fit, "predict": predict}
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
