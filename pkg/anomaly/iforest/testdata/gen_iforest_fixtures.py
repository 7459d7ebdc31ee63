#!/usr/bin/python3
"""Fixtures for pkg/anomaly's Isolation Forest tests, from scikit-learn.

Run with Debian's python3-sklearn (1.2.1), from this directory:

    /usr/bin/python3 gen_iforest_fixtures.py

Writes:
  iforest_formulas.json    c(n) from sklearn's _average_path_length and
                           numpy.percentile (linear) on assorted arrays.
  iforest_sklearn_trees.json
                           small fitted sklearn forests exported node by node
                           (with their per-tree column subsets), the rows they
                           were fitted on, probe rows (including values equal
                           to split thresholds) and sklearn's score_samples,
                           decision_function, predict and offset_ for them.
                           The Go test loads these trees into its own forest
                           type and must reproduce sklearn's numbers.
  iforest_auc_<set>.csv    one per data set: columns f0..fN, label (1 =
                           anomaly), sk_score (mean of score_samples over the
                           seeds), sk_score_std. Two kinds of set:
                           - breast_cancer, wine, digits_0_vs_rest,
                             blobs_uniform_outliers, correlated_t_shifted:
                             data sets scikit-learn ships or generates;
                           - breastw, ionosphere, pima, satellite, shuttle:
                             five of the ODDS sets of the Isolation Forest
                             paper (see below), written compactly (features
                             in shortest form, scores to 5 decimals).
  iforest_auc_summary.csv  per set: rows, cols, anomalies, seeds, sklearn's
                           ROC AUC mean and std over the seeds.

The ODDS sets (https://odds.cs.stonybrook.edu) cannot be downloaded here, so
they are rebuilt from the UCI data that R's mlbench package ships (Debian's
r-cran-mlbench, 2.1.3; `apt-get install r-cran-mlbench`, which brings
Rscript) by odds_mlbench.R, which this script runs; its construction follows
ODDS:

  breastw     UCI Breast Cancer Wisconsin (Original), mlbench BreastCancer:
              rows with a missing value dropped, Id dropped, malignant =
              anomaly: 683 x 9, 239 anomalies (ODDS: the same).
  ionosphere  UCI Ionosphere, mlbench Ionosphere: the constant 2nd attribute
              dropped, the 0/1 1st kept, "bad" = anomaly: 351 x 33, 126
              (ODDS: the same).
  pima        UCI Pima Indians Diabetes, mlbench PimaIndiansDiabetes (zeros
              for missing values kept, as in UCI and ODDS), diabetes = anomaly:
              768 x 8, 268 (ODDS: the same).
  satellite   UCI Statlog (Landsat Satellite), train + test, mlbench
              Satellite: the three smallest classes (cotton crop, damp grey
              soil, vegetation stubble = UCI 2, 4, 5) = anomaly: 6435 x 36,
              2036 (ODDS: the same).
  shuttle     UCI Statlog (Shuttle), train + test, mlbench Shuttle: class 4
              (High) dropped, classes 2, 3, 5, 6, 7 = anomaly, class 1 normal:
              49097 x 9, 3511 (ODDS: the same).

Row order is mlbench's (UCI file order, train before test); ODDS's .mat
files may order rows differently, which changes which rows a given seed
subsamples but not the AUC averaged over seeds.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import sklearn
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_blobs
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length
from sklearn.metrics import roc_auc_score

# sklearn random_state values averaged over. One seed's AUC varies by up to
# ±0.035 (sd) on the small sets, so 200 seeds: the mean's standard error is
# then ≤ 0.0025, small against the ±0.01 the Go test allows. Scores of all
# rows also move together from seed to seed (sd ≈ 0.004 of the mean score),
# which 200 seeds bring down to ≈ 0.0003 for the per-row comparison.
SEEDS = list(range(200))


def formulas():
    ns = [0, 1, 2, 3, 4, 5, 7, 10, 31, 100, 255, 256, 257, 1000, 4096, 567000]
    c = _average_path_length(np.array(ns, dtype=float))
    rng = np.random.RandomState(3)
    arrays = {
        "one": [0.25],
        "two": [-0.6, -0.4],
        "ties": [-0.5, -0.5, -0.45, -0.45, -0.45, -0.7, -0.3, -0.5],
        "uniform_1001": (-rng.uniform(0.3, 0.8, size=1001)).tolist(),
        "scores_like_2000": (-np.round(rng.uniform(0.35, 0.75, size=2000), 3)).tolist(),
    }
    qs = [0.0, 1.0, 1.5, 5.0, 10.0, 25.0, 50.0, 75.0, 99.9, 100.0]
    qs += [100.0 * c_ for c_ in (0.001, 0.01, 0.05, 0.1, 0.3, 0.5)]
    percentiles = []
    for name, a in arrays.items():
        for q in qs:
            percentiles.append({"array": name, "q": q, "want": float(np.percentile(np.array(a), q))})
    return {
        "c": [{"n": n, "c": float(v)} for n, v in zip(ns, c)],
        "arrays": arrays,
        "percentiles": percentiles,
    }


def export(model, X_train, X_probe):
    trees = []
    for est, feats in zip(model.estimators_, model.estimators_features_):
        t = est.tree_
        trees.append({
            "features": [int(f) for f in feats],
            "children_left": t.children_left.tolist(),
            "children_right": t.children_right.tolist(),
            "feature": t.feature.tolist(),
            "threshold": t.threshold.tolist(),
            "n_node_samples": t.n_node_samples.tolist(),
        })
    return {
        "params": {k: (v if not isinstance(v, np.generic) else v.item())
                   for k, v in model.get_params().items() if k in
                   ("n_estimators", "max_samples", "contamination", "max_features", "bootstrap", "random_state")},
        "max_samples_": int(model.max_samples_),
        "offset_": float(model.offset_),
        "trees": trees,
        "x_train": X_train.tolist(),
        "x_probe": X_probe.tolist(),
        "score_samples": model.score_samples(X_probe).tolist(),
        "decision_function": model.decision_function(X_probe).tolist(),
        "predict": model.predict(X_probe).tolist(),
        "train_score_samples": model.score_samples(X_train).tolist(),
    }


def probes(model, X_train, rng):
    """Training rows, fresh rows, far outliers, and rows sitting exactly on
    split thresholds (as float32, which is what sklearn compares), so the
    `<=` rule is exercised both ways."""
    rows = [X_train[:20], rng.normal(0, 1.5, size=(20, X_train.shape[1])), rng.normal(0, 8, size=(5, X_train.shape[1]))]
    on = []
    for est, feats in zip(model.estimators_[:4], model.estimators_features_[:4]):
        t = est.tree_
        for node in range(t.node_count):
            if t.children_left[node] == -1:
                continue
            row = X_train[node % len(X_train)].copy()
            col = feats[t.feature[node]]
            row[col] = float(np.float32(t.threshold[node]))
            on.append(row)
            row2 = row.copy()
            row2[col] = float(np.nextafter(np.float32(t.threshold[node]), np.float32(np.inf)))
            on.append(row2)
            if len(on) >= 40:
                break
    rows.append(np.array(on))
    return np.vstack(rows)


def sklearn_trees():
    rng = np.random.RandomState(7)
    X = np.vstack([rng.normal(0, 1, size=(120, 3)), rng.uniform(-6, 6, size=(8, 3))])
    # A column with ties and a constant stretch, so constant-feature handling matters.
    X[:, 2] = np.round(X[:, 2])
    X[:60, 1] = 0.5
    models = {
        "default_contamination": IsolationForest(n_estimators=12, max_samples=64, contamination=0.05, random_state=1),
        "auto_bootstrap_maxfeatures": IsolationForest(n_estimators=9, max_samples=48, max_features=2, bootstrap=True, random_state=2),
        "float_max_samples": IsolationForest(n_estimators=7, max_samples=0.3, contamination=0.2, random_state=3),
    }
    out = {}
    for name, m in models.items():
        m.fit(X)
        out[name] = export(m, X, probes(m, X, rng))
    return out


def datasets():
    rng = np.random.RandomState(0)
    sets = {}

    bc = load_breast_cancer()
    sets["breast_cancer"] = (bc.data, (bc.target == 0).astype(int))  # malignant = anomaly

    # ODDS "Wine" recipe: classes 2 and 3 are inliers, class 1 down-sampled to 10 outliers.
    w = load_wine()
    inl = np.where(w.target != 0)[0]
    out = rng.choice(np.where(w.target == 0)[0], size=10, replace=False)
    idx = np.concatenate([inl, out])
    sets["wine"] = (w.data[idx], (w.target[idx] == 0).astype(int))

    # Digits, one class against the rest: all 0s, plus 10% other digits as anomalies.
    d = load_digits()
    inl = np.where(d.target == 0)[0]
    out = rng.choice(np.where(d.target != 0)[0], size=len(inl) // 10, replace=False)
    idx = np.concatenate([inl, out])
    sets["digits_0_vs_rest"] = (d.data[idx], (d.target[idx] != 0).astype(int))

    # Gaussian blobs with uniform background outliers.
    Xb, _ = make_blobs(n_samples=1000, centers=3, n_features=2, cluster_std=1.0, random_state=0)
    lo, hi = Xb.min(axis=0) - 3, Xb.max(axis=0) + 3
    Xo = rng.uniform(lo, hi, size=(50, 2))
    # Rounded so the CSV holds the exact values sklearn saw.
    sets["blobs_uniform_outliers"] = (np.round(np.vstack([Xb, Xo]), 4), np.r_[np.zeros(1000, int), np.ones(50, int)])

    # Overlapping, heavier-tailed: 6 correlated features, 3% shifted anomalies.
    n, k = 1500, 6
    A = rng.normal(size=(k, k))
    Xs = rng.standard_t(df=5, size=(n, k)) @ A
    lab = np.zeros(n, int)
    lab[: n * 3 // 100] = 1
    Xs[lab == 1] += rng.normal(0, 2.5, size=(lab.sum(), k))
    sets["correlated_t_shifted"] = (np.round(Xs, 4), lab)
    return sets


ODDS_SETS = ["breastw", "ionosphere", "pima", "satellite", "shuttle"]


def odds_datasets():
    """The ODDS sets, built by odds_mlbench.R from mlbench's UCI data."""
    here = os.path.dirname(os.path.abspath(__file__))
    sets = {}
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["Rscript", os.path.join(here, "odds_mlbench.R"), tmp], check=True)
        for name in ODDS_SETS:
            with open(os.path.join(tmp, name + ".csv")) as fh:
                rows = list(csv.reader(fh))
            assert rows[0][-1] == "label"
            a = np.array([[float(v) for v in r] for r in rows[1:]])
            sets[name] = (a[:, :-1], a[:, -1].astype(int))
    return sets


def num(v):
    """Shortest repr that reads back as the same double; integers without '.0'."""
    r = repr(float(v))
    return r[:-2] if r.endswith(".0") else r


def auc_fixtures():
    summary = []
    sets = {name: (X, y, False) for name, (X, y) in datasets().items()}
    sets.update({name: (X, y, True) for name, (X, y) in odds_datasets().items()})
    for name, (X, y, compact) in sets.items():
        seeds = SEEDS
        scores, aucs = [], []
        for s in seeds:
            m = IsolationForest(n_estimators=100, max_samples="auto", random_state=s).fit(X)
            sc = m.score_samples(X)
            scores.append(sc)
            aucs.append(roc_auc_score(y, -sc))
        scores = np.array(scores)
        with open(f"iforest_auc_{name}.csv", "w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow([f"f{j}" for j in range(X.shape[1])] + ["label", "sk_score", "sk_score_std"])
            for i in range(X.shape[0]):
                mean, std = float(scores[:, i].mean()), float(scores[:, i].std())
                if compact:
                    # Scores to 5 decimals: ≤ 5e-6 off, against a seed noise of ~5e-4.
                    wr.writerow([num(v) for v in X[i]] + [int(y[i]), f"{mean:.5f}", f"{std:.5f}"])
                else:
                    wr.writerow([repr(float(v)) for v in X[i]] + [int(y[i]), repr(mean), repr(std)])
        summary.append([name, X.shape[0], X.shape[1], int(y.sum()), len(seeds), repr(float(np.mean(aucs))), repr(float(np.std(aucs)))])
        print(f"{name}: {X.shape} anomalies={int(y.sum())} sklearn AUC {np.mean(aucs):.4f} ± {np.std(aucs):.4f}")
    with open("iforest_auc_summary.csv", "w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(["set", "rows", "cols", "anomalies", "seeds", "sk_auc_mean", "sk_auc_std"])
        wr.writerows(summary)


def main():
    if sklearn.__version__ != "1.2.1":
        print(f"warning: fixtures were made with scikit-learn 1.2.1, this is {sklearn.__version__}", file=sys.stderr)
    with open("iforest_formulas.json", "w") as fh:
        json.dump({"sklearn": sklearn.__version__, "numpy": np.__version__, **formulas()}, fh)
    with open("iforest_sklearn_trees.json", "w") as fh:
        json.dump({"sklearn": sklearn.__version__, "models": sklearn_trees()}, fh)
    auc_fixtures()


if __name__ == "__main__":
    main()
