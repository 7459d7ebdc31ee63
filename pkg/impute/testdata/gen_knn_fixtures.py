#!/usr/bin/python3
"""Generate knn_fixtures.json: scikit-learn's KNNImputer.fit_transform on small matrices.

Run with Debian's interpreter (it carries python3-sklearn 1.2.1):

    /usr/bin/python3 pkg/impute/testdata/gen_knn_fixtures.py > pkg/impute/testdata/knn_fixtures.json

Every case is checked for neighbour-selection ambiguity before it is written: when the k-th and
(k+1)-th candidate donors of a missing cell are at (nearly) equal distances, scikit-learn's
np.argpartition may pick either, while the Go imputer breaks ties by lower row index. Such
cases would test argpartition's internals rather than KNN imputation, so random matrices are
redrawn until no cell is ambiguous, and hand-made ones must be unambiguous as written.

NaN is written as null (JSON has no NaN).
"""

import json
import math
import sys

import numpy as np
import sklearn
from sklearn.impute import KNNImputer

NAN = float("nan")


def direct_distance(a, b):
    """nan_euclidean distance in the direct form: sqrt(m / n_present * sum of squares)."""
    s = 0.0
    n = 0
    for u, v in zip(a, b):
        if math.isnan(u) or math.isnan(v):
            continue
        s += (u - v) ** 2
        n += 1
    if n == 0:
        return NAN
    return math.sqrt(s / n * len(a))


def ambiguous_cells(x, k, weights):
    """List the (row, col) cells whose k nearest donors are not uniquely determined."""
    rows, cols = x.shape
    bad = []
    for i in range(rows):
        for c in range(cols):
            if not math.isnan(x[i, c]):
                continue
            donors = [j for j in range(rows) if not math.isnan(x[j, c])]
            d = sorted(
                (direct_distance(x[i], x[j]) for j in donors),
                key=lambda v: (math.isnan(v), 0.0 if math.isnan(v) else v),
            )
            if len(d) <= k:
                continue  # every donor is used: nothing to choose
            if all(math.isnan(v) for v in d):
                continue  # column mean: nothing to choose
            last, nxt = d[k - 1], d[k]
            if math.isnan(last):
                # Which NaN-distance donors fill k matters for uniform weights only
                # (distance weights give them weight 0).
                if weights == "uniform":
                    bad.append((i, c))
                continue
            if math.isnan(nxt):
                continue
            if abs(nxt - last) <= 1e-9 * max(1.0, abs(nxt)):
                bad.append((i, c))
    return bad


def random_matrix(rng, rows, cols, missing):
    scales = rng.uniform(0.5, 50.0, size=cols)
    offsets = rng.uniform(-20.0, 20.0, size=cols)
    x = rng.normal(size=(rows, cols)) * scales + offsets
    mask = rng.random(size=(rows, cols)) < missing
    x[mask] = NAN
    return x


def usable(x, ks, weights_list):
    if np.isnan(x).all(axis=0).any():
        return False  # an all-missing column is tested separately (EmptyColumnError)
    if not np.isnan(x).any():
        return False
    return all(not ambiguous_cells(x, k, w) for k in ks for w in weights_list)


def draw(seed, rows, cols, missing, ks, weights_list):
    rng = np.random.default_rng(seed)
    while True:
        x = random_matrix(rng, rows, cols, missing)
        if usable(x, ks, weights_list):
            return x


def flat(a):
    return [None if math.isnan(v) else float(v) for v in np.asarray(a, dtype=float).ravel()]


def main():
    cases = []

    def add(name, x, k, weights, note=""):
        x = np.asarray(x, dtype=float)
        bad = ambiguous_cells(x, k, weights)
        if bad:
            sys.exit(f"{name}: ambiguous neighbour choice at cells {bad}")
        got = KNNImputer(n_neighbors=k, weights=weights).fit_transform(x)
        if got.shape != x.shape:
            sys.exit(f"{name}: scikit-learn dropped columns ({x.shape} -> {got.shape})")
        cases.append(
            {
                "name": f"{name}/k={k}/{weights}",
                "note": note,
                "k": k,
                "weights": weights,
                "cols": x.shape[1],
                "x": flat(x),
                "want": flat(got),
            }
        )

    # scikit-learn's documented example.
    add("sklearn_doc_example", [[1, 2, NAN], [3, 4, 3], [NAN, 6, 5], [8, 8, 7]], 2, "uniform")

    ks = [1, 2, 5]
    both = ["uniform", "distance"]
    small = draw(11, 12, 4, 0.2, ks, both)
    for k in ks:
        for w in both:
            add("random_12x4", small, k, w)

    wide = draw(23, 30, 8, 0.35, ks, both)
    for k in ks:
        for w in both:
            add("random_30x8", wide, k, w)

    tall = draw(37, 60, 3, 0.15, [5], both)
    for w in both:
        add("random_60x3", tall, 5, w)

    # Column 2 has only two values, so with k=5 every cell in it uses both donors.
    few = [
        [1.0, 2.0, NAN],
        [1.5, 2.5, 10.0],
        [3.0, 0.5, NAN],
        [4.2, 7.0, NAN],
        [0.3, 1.1, 20.0],
        [2.2, 3.3, NAN],
    ]
    for w in both:
        add("fewer_donors_than_k", few, 5, w, "column 2 has 2 donors, k=5")

    # Rows 0 and 3 share no present coordinate with the rows holding columns 1-2, and the
    # reverse: every distance a missing cell could use is NaN, so scikit-learn fills in the
    # column mean.
    no_donor = [
        [1.0, NAN, NAN],
        [NAN, 2.0, 3.0],
        [NAN, 4.0, 5.5],
        [2.5, NAN, NAN],
        [NAN, 7.0, 1.25],
    ]
    for w in both:
        add("no_usable_donor_column_mean", no_donor, 2, w, "all donor distances NaN -> column mean")

    # Row 0 reaches rows 2 and 3 (finite distances) but row 1 only through a NaN distance,
    # and column 1 has exactly k=3 donors, so all three are used. Uniform weights average the
    # NaN-distance donor in (np.argpartition orders NaN last, and nothing excludes it);
    # distance weights give it weight 0.
    nan_fill = [
        [1.0, NAN, 4.0],
        [NAN, 2.0, NAN],
        [2.5, 9.0, 3.0],
        [3.0, 1.0, 2.0],
    ]
    add("nan_distance_donor_fills_k", nan_fill, 3, "uniform", "NaN-distance donor averaged in")
    add("nan_distance_donor_fills_k", nan_fill, 3, "distance", "NaN-distance donor weighs 0")

    # Column 1 has a single value.
    single = [
        [1.0, NAN, 3.0],
        [2.0, 5.0, 1.0],
        [0.5, NAN, 2.5],
        [4.0, NAN, 0.25],
    ]
    for k in [1, 2]:
        for w in both:
            add("single_value_column", single, k, w)

    # Duplicate rows: distance 0 makes scikit-learn weight the zero-distance donors 1 and
    # the others 0. Small integers keep its dot-product expansion exact, so its zeros are
    # true zeros.
    dup = [
        [1, 2, NAN, 4],
        [1, 2, 7, 4],
        [1, 2, 9, 4],
        [2, 3, 1, 5],
        [6, 1, 2, 8],
        [1, NAN, 5, 4.5],
    ]
    add("duplicate_rows_distance_zero", dup, 3, "distance", "two donors at distance 0")
    add("duplicate_rows_distance_zero", dup, 3, "uniform")

    # A row with nothing present: every distance is NaN -> column means.
    all_nan = [
        [NAN, NAN, NAN],
        [1.0, 2.0, 3.0],
        [4.0, 6.0, 5.0],
        [2.0, NAN, 9.5],
    ]
    for w in both:
        add("all_nan_row", all_nan, 2, w)

    json.dump(
        {
            "generator": "gen_knn_fixtures.py",
            "sklearn_version": sklearn.__version__,
            "numpy_version": np.__version__,
            "cases": cases,
        },
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
