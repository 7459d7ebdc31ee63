#!/usr/bin/python3
"""Generate the Half-Space Trees fixtures of pkg/anomaly (hst_cases.json, hst_purpleair.json).

Run from this directory with Debian's interpreter, standard library only:

    /usr/bin/python3 gen_hst.py [path/to/purpleair-sensors-snapshot.json]

River cannot be installed on the build machine, so this script is a plain re-statement of River's
published Half-Space Trees algorithm (river/anomaly/hst.py: make_padded_tree, HSTBranch.next,
HalfSpaceTrees.learn_one/score_one; river/tree/base.py: Branch.walk, which yields the leaf too)
and of river.stats.Mean, written for fixture generation. It follows current River, whose
learn_one builds the trees over sorted(x) (older releases used the record's key order) and whose
Mean updates with mean += (w / n) * (x - mean) (older releases: mean += w * (x - mean) / n). It draws from CPython's own
random.Random, so tree structures come from the real CPython stream, and it reproduces River's
arithmetic order. As a check that the re-statement is faithful, it asserts River's documented
example (the HalfSpaceTrees docstring) before writing anything.

The PurpleAir snapshot is read from the shared data directory and never copied: only scores derived
from it (a SHA-256 over all of them plus a few values) are written.
"""
import hashlib
import json
import os
import random
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SNAPSHOT = os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "purpleair-sensors-snapshot.json")

PADDING = 0.15  # River's make_padded_tree padding


class Node:
    """A branch (feature is not None) or a leaf of a half-space tree, with River's two masses."""

    def __init__(self, feature=None, threshold=None, left=None, right=None):
        self.feature = feature
        self.threshold = threshold
        self.left = left
        self.right = right
        self.l_mass = 0
        self.r_mass = 0

    def child_for(self, x):
        # River: a missing feature goes to the child with more l_mass (left on ties);
        # otherwise value < threshold goes left.
        if self.feature not in x:
            return self.right if self.left.l_mass < self.right.l_mass else self.left
        return self.left if x[self.feature] < self.threshold else self.right

    def path(self, x):
        """The nodes from the root to the leaf x falls in, leaf included (River's Branch.walk)."""
        node = self
        while node.feature is not None:
            yield node
            node = node.child_for(x)
        yield node

    def all_nodes(self):
        yield self
        if self.feature is not None:
            yield from self.left.all_nodes()
            yield from self.right.all_nodes()


def padded_tree(limits, height, rng):
    """River's make_padded_tree: same random calls, same order, same arithmetic."""
    if height == 0:
        return Node()
    names = list(limits.keys())
    feature = rng.choices(population=names, weights=[limits[n][1] - limits[n][0] for n in names])[0]
    lo, hi = limits[feature]
    threshold = rng.uniform(lo + PADDING * (hi - lo), hi - PADDING * (hi - lo))
    saved = limits[feature]
    limits[feature] = (saved[0], threshold)
    left = padded_tree(limits, height - 1, rng)
    limits[feature] = saved
    limits[feature] = (threshold, saved[1])
    right = padded_tree(limits, height - 1, rng)
    limits[feature] = saved
    return Node(feature, threshold, left, right)


class HST:
    """River's HalfSpaceTrees(n_trees, height, window_size, limits, seed), re-stated."""

    def __init__(self, n_trees, height, window_size, limits=None, seed=None):
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.limits = dict(limits or {})
        self.rng = random.Random(seed)
        self.trees = []
        self.counter = 0
        self.first_window = True

    def learn_one(self, x):
        if not self.trees:  # built lazily over the first record's features, sorted by name
            for _ in range(self.n_trees):
                lim = {name: self.limits.get(name, (0.0, 1.0)) for name in sorted(x)}
                self.trees.append(padded_tree(lim, self.height, self.rng))
        for tree in self.trees:
            for node in tree.path(x):
                node.l_mass += 1
        self.counter += 1
        if self.counter == self.window_size:
            for tree in self.trees:
                for node in tree.all_nodes():
                    node.r_mass = node.l_mass
                    node.l_mass = 0
            self.first_window = False
            self.counter = 0

    def score_one(self, x):
        if self.first_window:
            return 0
        size_limit = 0.1 * self.window_size
        score = 0.0
        for tree in self.trees:
            for depth, node in enumerate(tree.path(x)):
                score += node.r_mass * 2**depth
                if node.r_mass < size_limit:
                    break
        score /= self.n_trees * self.window_size * (2 ** (self.height + 1) - 1)
        return 1 - score


class Mean:
    """river.stats.Mean as in current River: n += w; mean += (w / n) * (x - mean)."""

    def __init__(self):
        self.n = 0
        self.mean = 0.0

    def update(self, x, w=1.0):
        self.n += w
        self.mean += (w / self.n) * (x - self.mean)


def implicit(tree, features):
    """Branches in implicit layout (node i has children 2i+1, 2i+2): [feature index, repr(threshold)]."""
    out = {}

    def visit(node, i):
        if node.feature is None:
            return
        out[i] = [features.index(node.feature), repr(node.threshold)]
        visit(node.left, 2 * i + 1)
        visit(node.right, 2 * i + 2)

    visit(tree, 0)
    return [out[i] for i in range(len(out))]


def structure_sha256(model, features):
    h = hashlib.sha256()
    for tree in model.trees:
        for on, at in implicit(tree, features):
            h.update(struct.pack("<Hd", on, float(at)))
    return h.hexdigest()


def f64_sha256(values):
    return hashlib.sha256(b"".join(struct.pack("<d", float(v)) for v in values)).hexdigest()


def river_example():
    """River's HalfSpaceTrees docstring example, asserted against its printed 3-place scores."""
    xs = [0.5, 0.45, 0.43, 0.44, 0.445, 0.45, 0.0]
    documented = ["0.107", "0.071", "0.107", "0.107", "0.107", "0.071", "0.853"]
    hst = HST(n_trees=5, height=3, window_size=3, seed=42)
    for x in xs[:3]:
        hst.learn_one({"x": x})
    scores = []
    for x in xs:
        hst.learn_one({"x": x})
        scores.append(hst.score_one({"x": x}))
    got = [f"{s:.3f}" for s in scores]
    assert got == documented, (got, documented)
    return {
        "name": "river_docstring",
        "features": ["x"], "limits": {}, "trees": 5, "height": 3, "window": 3, "seed": 42,
        "warmup": xs[:3], "xs": xs, "documented": documented,
        "learn_then_score": [repr(float(s)) for s in scores],
        "branches": [implicit(t, ["x"]) for t in hst.trees],
        "structure_sha256": structure_sha256(hst, ["x"]),
    }


def structure_case(name, features, limits, trees, height, window, seed, full_trees):
    hst = HST(trees, height, window, limits, seed)
    hst.learn_one({f: limits.get(f, (0, 1))[0] for f in features})  # builds the trees
    return {
        "name": name, "features": features, "limits": {k: list(v) for k, v in limits.items()},
        "trees": trees, "height": height, "window": window, "seed": seed,
        "branches": [implicit(t, features) for t in hst.trees[:full_trees]],
        "structure_sha256": structure_sha256(hst, features),
    }


def missing_case():
    """Three features with unequal ranges (weighted feature choice) and missing values (None below,
    an absent key for River, NaN in Go), scored then learned record by record."""
    features = ["a", "b", "c"]
    limits = {"b": (-5.0, 20.0), "c": (0.0, 10.0)}  # "a" keeps River's default (0, 1)
    trees, height, window, seed = 4, 5, 7, 7
    hst = HST(trees, height, window, limits, seed)
    data_rng = random.Random(123)
    records, scores = [], []
    for i in range(80):
        rec = []
        for f in features:
            lo, hi = limits.get(f, (0, 1))
            v = data_rng.uniform(lo, hi)
            if i > 0 and data_rng.random() < 0.25:
                v = None
            rec.append(v)
        x = {f: v for f, v in zip(features, rec) if v is not None}
        scores.append(hst.score_one(x))
        hst.learn_one(x)
        records.append([None if v is None else repr(v) for v in rec])
    return {
        "name": "three_features_missing",
        "features": features, "limits": {k: list(v) for k, v in limits.items()},
        "trees": trees, "height": height, "window": window, "seed": seed,
        "branches": [implicit(t, features) for t in hst.trees],
        "structure_sha256": structure_sha256(hst, features),
        "records": records,
        "score_then_learn": [repr(float(s)) for s in scores],
    }


def purpleair(path):
    """The reference streaming flow on pm1.0_cf_1: StatImputer(Mean) then score_one, learn_one."""
    with open(path, "rb") as fh:
        raw = fh.read()
    snap = json.loads(raw)
    col = snap["fields"].index("pm1.0_cf_1")
    mean = Mean()
    hst = HST(n_trees=10, height=8, window_size=72, limits={"pm1.0_cf_1": (0.0, 1200)}, seed=11)
    values, scores = [], []
    imputed = 0
    for row in snap["data"]:
        v = row[col]
        if v is not None:  # StatImputer.learn_one updates on observed values only
            mean.update(v)
        else:  # ... and transform_one fills None with the running mean
            v = mean.mean
            imputed += 1
        x = {"pm1.0_cf_1": float(v)}
        scores.append(hst.score_one(x))
        hst.learn_one(x)
        values.append(float(v))
    picks = sorted({0, 71, 72, 73, 100, 1000, 5000, 10000, 20000, len(scores) - 1,
                    max(range(len(scores)), key=lambda i: scores[i])})
    return {
        "snapshot_sha256": hashlib.sha256(raw).hexdigest(),
        "field": "pm1.0_cf_1", "trees": 10, "height": 8, "window": 72, "limits": [0.0, 1200.0], "seed": 11,
        "rows": len(scores), "imputed": imputed,
        "imputed_values_sha256": f64_sha256(values),
        "scores_sha256": f64_sha256(scores),
        "above_0_7": sum(1 for s in scores if s > 0.7),
        "samples": [[i, repr(float(values[i])), repr(float(scores[i]))] for i in picks],
    }


def dump(name, obj):
    with open(os.path.join(HERE, name), "w") as fh:
        json.dump(obj, fh, indent=1)
        fh.write("\n")


def main():
    cases = [
        river_example(),
        structure_case("reference_seed11", ["pm1.0_cf_1"], {"pm1.0_cf_1": (0.0, 1200.0)}, 10, 8, 72, 11, 1),
        structure_case("negative_seed", ["x", "y"], {"y": (-1.0, 3.0)}, 3, 4, 10, -12345, 3),
        structure_case("seed_above_32_bits", ["x"], {}, 2, 3, 10, 2**40 + 17, 2),
        # Record order differs from name order: River draws over sorted names.
        structure_case("unsorted_features", ["zeta", "alpha", "Mid"],
                       {"zeta": (0.0, 50.0), "alpha": (-2.0, 2.0), "Mid": (10.0, 30.0)}, 3, 4, 10, 99, 3),
        missing_case(),
    ]
    dump("hst_cases.json", {"python": sys.version.split()[0], "cases": cases})

    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_SNAPSHOT
    if not os.path.exists(path):
        sys.exit(f"snapshot not found at {path}; hst_cases.json written, hst_purpleair.json not")
    dump("hst_purpleair.json", purpleair(path))


if __name__ == "__main__":
    main()
