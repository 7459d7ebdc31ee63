// Package iforest is an Isolation Forest with scikit-learn's semantics
// (sklearn.ensemble.IsolationForest), for batch jobs: IsolationForest(n_estimators=100,
// max_samples='auto', contamination=0.01, random_state=42) is DefaultOptions() with
// Contamination 0.01 and Seed 42.
//
// Fit grows the forest on a dense row-major matrix
// ([]float64 plus a column count); ScoreSamples, DecisionFunction and
// Predict score such matrices in parallel. The model follows
// sklearn.ensemble.IsolationForest (1.x) point by point: max_samples,
// the depth limit, how split columns and thresholds are drawn, the `<=`
// rule, the path length with its c(n) correction, the score
// −2^(−E[h]/c(max_samples)), and the offset (−0.5, or the contamination
// percentile of the training scores, interpolated as numpy does).
// Inputs are taken as float32, as scikit-learn's trees take them, which is
// why values beyond float32 range are rejected.
//
// What is not reproduced is numpy's random stream: the same Seed always
// gives the same forest here (whatever the number of cores), but not the
// forest scikit-learn grows for random_state=Seed. Results therefore agree
// with scikit-learn in distribution — the tests compare ROC AUC averaged
// over seeds and score forests scikit-learn itself fitted — not tree by
// tree.
//
// A fitted forest is immutable, safe for concurrent use, and serializes
// (MarshalBinary) to a versioned, checksummed form for caching.
//
// # Errors
//
// Bad input is reported, never patched over: NaN, ±Inf and other values a
// model cannot take are an *InputError naming the row and column, so
// callers impute missing values first (package impute) and can point at
// the exact record otherwise.
package iforest
