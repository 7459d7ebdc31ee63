// Package hst is Half-Space Trees with River's semantics (river.anomaly.HalfSpaceTrees), for
// streams: HalfSpaceTrees(n_trees=10, height=8, window_size=72, ...) is DefaultOptions() with
// WindowSize 72.
//
// Model reproduces River's anomaly.HalfSpaceTrees bit for bit,
// including its random stream (CPython's random.Random), so the same seed
// builds the same trees and yields the same scores. The tree structure is
// immutable and shared; the per-series masses live in a State, so one
// model per sensor costs only its state, which serializes compactly.
package hst
