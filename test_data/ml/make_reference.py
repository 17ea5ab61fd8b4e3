"""Reference values for the ML engine's differential tests.

Writes each dataset's train and test halves as CSV (the engine trains on the
train half with validation_split 0 and predicts the test half, so both sides
see the same rows) and, in reference.json, what scikit-learn scores on the
test half with matched hyperparameters. It also writes PMML files
from scikit-learn models with nyoka, and what those models predict. Run:
python3 make_reference.py (scikit-learn 1.9.1, nyoka 5.5.0, numpy; see
test_data/requirements.txt).
"""

import csv
import json
from pathlib import Path

import numpy as np
from sklearn import datasets
from sklearn.cluster import KMeans
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.naive_bayes import GaussianNB
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

HERE = Path(__file__).parent


def write(name, x, y, columns, target, labels=None):
    with open(HERE / f"{name}.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns + ([target] if y is not None else []))
        for i, row in enumerate(x):
            values = [repr(float(v)) for v in row]
            if y is not None:
                values.append(labels[y[i]] if labels is not None else (repr(float(y[i])) if y.dtype.kind == "f" else str(int(y[i]))))
            w.writerow(values)


def clean(names):
    return [n.replace(" ", "_").replace("(", "").replace(")", "").replace("/", "_") for n in names]


cases = []
out = {"cases": cases}

# Iris: text labels, three classes.
iris = datasets.load_iris()
xtr, xte, ytr, yte = train_test_split(iris.data, iris.target, test_size=0.4, random_state=0, stratify=iris.target)
cols = clean(iris.feature_names)
species = list(iris.target_names)
iris_split, iris_cols = (xtr, np.array(species)[ytr], xte), cols
write("iris_train", xtr, ytr, cols, "species", species)
write("iris_test", xte, yte, cols, "species", species)
scaled = lambda m: make_pipeline(StandardScaler(), m)
iris_models = {
    "logistic_regression": ({}, scaled(LogisticRegression(C=1.0, max_iter=1000))),
    "decision_tree": ({"max_depth": 3}, DecisionTreeClassifier(max_depth=3, random_state=0)),
    "random_forest": ({"n_estimators": 100}, RandomForestClassifier(n_estimators=100, random_state=0)),
    "gradient_boosting": ({"n_estimators": 50}, GradientBoostingClassifier(n_estimators=50, random_state=0)),
    "naive_bayes": ({}, GaussianNB()),
    "svm": ({"kernel": "rbf"}, scaled(SVC(kernel="rbf", C=1.0, gamma="scale"))),
    "mlp": ({"hidden_layers": [32], "epochs": 300, "learning_rate": 0.01},
            scaled(MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, learning_rate_init=0.01, random_state=0))),
}
for algorithm, (hp, model) in iris_models.items():
    model.fit(xtr, ytr)
    cases.append({"dataset": "iris", "target": "species", "algorithm": algorithm, "hyperparameters": hp,
                  "metric": "accuracy", "sklearn": accuracy_score(yte, model.predict(xte)), "test_rows": len(yte),
                  "labels": [species[c] for c in yte]})

# Breast cancer: binary, 30 features, integer labels.
bc = datasets.load_breast_cancer()
xtr, xte, ytr, yte = train_test_split(bc.data, bc.target, test_size=0.3, random_state=0, stratify=bc.target)
cols = clean(bc.feature_names)
cancer_split, cancer_cols = (xtr, ytr, xte), cols
write("cancer_train", xtr, ytr, cols, "malignant")
write("cancer_test", xte, yte, cols, "malignant")
cancer_models = {
    "logistic_regression": ({}, scaled(LogisticRegression(C=1.0, max_iter=1000))),
    "svm": ({"kernel": "linear"}, scaled(SVC(kernel="linear", C=1.0))),
    "gradient_boosting": ({"n_estimators": 50}, GradientBoostingClassifier(n_estimators=50, random_state=0)),
}
for algorithm, (hp, model) in cancer_models.items():
    model.fit(xtr, ytr)
    cases.append({"dataset": "cancer", "target": "malignant", "algorithm": algorithm, "hyperparameters": hp,
                  "metric": "accuracy", "sklearn": accuracy_score(yte, model.predict(xte)), "test_rows": len(yte),
                  "labels": [int(c) for c in yte]})

# Wine: three integer classes, features on very different scales.
wine = datasets.load_wine()
xtr, xte, ytr, yte = train_test_split(wine.data, wine.target, test_size=0.4, random_state=0, stratify=wine.target)
cols = clean(wine.feature_names)
write("wine_train", xtr, ytr, cols, "cultivar")
write("wine_test", xte, yte, cols, "cultivar")
for algorithm, (hp, model) in {
    "random_forest": ({"n_estimators": 100}, RandomForestClassifier(n_estimators=100, random_state=0)),
    "naive_bayes": ({}, GaussianNB()),
}.items():
    model.fit(xtr, ytr)
    cases.append({"dataset": "wine", "target": "cultivar", "algorithm": algorithm, "hyperparameters": hp,
                  "metric": "accuracy", "sklearn": accuracy_score(yte, model.predict(xte)), "test_rows": len(yte),
                  "labels": [int(c) for c in yte]})

# Diabetes: regression.
dia = datasets.load_diabetes()
xtr, xte, ytr, yte = train_test_split(dia.data, dia.target, test_size=0.3, random_state=0)
cols = clean(dia.feature_names)
diabetes_split, diabetes_cols = (xtr, ytr.astype(float), xte), cols
write("diabetes_train", xtr, ytr.astype(float), cols, "progression")
write("diabetes_test", xte, yte.astype(float), cols, "progression")
for algorithm, (hp, model) in {
    "linear_regression": ({}, LinearRegression()),
    "decision_tree": ({"max_depth": 3}, DecisionTreeRegressor(max_depth=3, random_state=0)),
    "random_forest": ({"n_estimators": 100, "min_samples_leaf": 5},
                      RandomForestRegressor(n_estimators=100, min_samples_leaf=5, random_state=0)),
    "gradient_boosting": ({"n_estimators": 100}, GradientBoostingRegressor(n_estimators=100, random_state=0)),
}.items():
    model.fit(xtr, ytr)
    cases.append({"dataset": "diabetes", "target": "progression", "algorithm": algorithm, "hyperparameters": hp,
                  "metric": "r2", "sklearn": r2_score(yte, model.predict(xte)), "test_rows": len(yte),
                  "values": [float(v) for v in yte]})

# k-means: seeded blobs, inertia on the training rows.
x, _ = datasets.make_blobs(n_samples=600, centers=4, n_features=3, cluster_std=1.5, random_state=7)
write("blobs", x, None, ["x", "y", "z"], None)
km = KMeans(n_clusters=4, n_init=10, random_state=0).fit(x)
out["kmeans"] = {"dataset": "blobs", "k": 4, "inertia": float(km.inertia_)}

(HERE / "reference.json").write_text(json.dumps(out, indent=1) + "\n")
for c in cases:
    print(f"{c['dataset']:9} {c['algorithm']:20} {c['metric']} {c['sklearn']:.4f}")
print("kmeans inertia", out["kmeans"]["inertia"])

# PMML written by nyoka from scikit-learn models: the engine imports each and
# must predict what scikit-learn predicts on the test rows.
from nyoka import skl_to_pmml  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

pmml_cases = []
for name, model, dataset, target, x_train, y_train, x_test, columns in [
    ("tree", DecisionTreeClassifier(max_depth=4, random_state=0), "iris", "species", *iris_split, iris_cols),
    ("forest", RandomForestClassifier(n_estimators=10, max_depth=5, random_state=0), "iris", "species", *iris_split, iris_cols),
    ("logistic", LogisticRegression(max_iter=5000), "cancer", "malignant", *cancer_split, cancer_cols),
    ("linear", LinearRegression(), "diabetes", "progression", *diabetes_split, diabetes_cols),
]:
    pipeline = Pipeline([("model", model)]).fit(x_train, y_train)
    path = HERE / f"{name}.pmml"
    skl_to_pmml(pipeline, columns, target, str(path))
    predicted = pipeline.predict(x_test)
    pmml_cases.append({"file": f"{name}.pmml", "dataset": dataset,
                       "predictions": [p.item() if hasattr(p, "item") else p for p in predicted]})
out["pmml"] = pmml_cases
(HERE / "reference.json").write_text(json.dumps(out, indent=1) + "\n")
print("pmml cases", [c["file"] for c in pmml_cases])
