// Package impute fills missing values (NaN) before anomaly detection: scikit-learn's
// KNNImputer for whole matrices (the batch pipeline) and River-style streaming imputers —
// running mean, exponentially weighted mean, last observation carried forward — for one
// value stream each (the streaming pipeline).
//
// # KNN imputation
//
// [KNNImputer.Impute] is scikit-learn's KNNImputer(n_neighbors=k, weights=...).fit_transform(X)
// on the same matrix:
//
//   - Distance is nan_euclidean: sqrt(cols / n_present · Σ (a_c − b_c)²) over the n_present
//     coordinates present in both rows; no shared coordinate gives a NaN distance. It is
//     computed directly (columns summed in order of decreasing variance, the same order for
//     every pair). scikit-learn expands it as ‖a‖² + ‖b‖² − 2a·b, so the two agree to
//     rounding, not bit for bit; on data with large values the direct form is the more
//     accurate one. On the PurpleAir snapshot (sensor_index ≈ 2e5) scikit-learn's distances
//     carry relative errors up to ≈4e-8, so 12 of its 3,280 distance-weighted cells differ
//     from ours by up to 1.5e-8 (relative); all 3,280 uniform cells agree to 3e-16.
//   - Donors for a missing cell (r, c) are the rows where column c is present, so row r
//     itself never donates to a column it lacks. The k donors with the smallest distances are
//     used (all of them when there are fewer than k).
//   - Uniform weights average the k chosen donors. A donor at NaN distance can be among them
//     when fewer than k donors are at a finite distance, and then its value is averaged in.
//     This is scikit-learn up to 1.5 — the test fixtures come from 1.2.1, Debian's
//     python3-sklearn (testdata/gen_knn_fixtures.py) — where np.argpartition orders NaN last
//     and nothing removes it. scikit-learn 1.6 and later give such donors weight 0 with uniform
//     weights too (scikit-learn PR #29135), so on such cells they average only the
//     finite-distance donors and the two differ. Distance weights are 1/d; when a chosen
//     donor is at distance 0, the zero-distance donors get weight 1 and the others 0;
//     NaN-distance donors get weight 0.
//   - A cell whose distances to every donor are NaN gets the column's mean.
//   - A column with no value at all is reported as *[EmptyColumnError]; scikit-learn drops
//     such a column from its output silently.
//   - ±Inf is rejected (scikit-learn's check_array rejects it too); only NaN means missing.
//
// Ties: donors at exactly equal distances are ordered by lower row index (equality is
// judged on the squared distance, before the square root). scikit-learn picks the k nearest
// with np.argpartition (introselect), which may keep either of two tied donors at the k-th
// place, so on data with exact ties at the boundary the two can choose different donors. The
// same holds for which NaN-distance donors fill up k with uniform weights: here the lowest
// row indices.
//
// Speed and memory: only rows with a missing cell are receivers, and no rows×rows matrix is
// ever formed. Each receiver keeps bounded heaps of its k best donors: one over the complete
// rows (they donate to every column) and one per missing column over the incomplete rows that
// have it; the two are merged at the end. Complete rows are searched outward from the
// receiver along its lead column (its present column of largest variance), using a sorted
// index of that column, and the search stops as soon as the lead-column difference alone
// puts a row beyond the current k-th best distance — an exact bound, since every other term
// only adds. Memory is O(rows·cols) for the output plus O(complete rows) per lead column in
// use; [KNNImputer.ImputeInPlace] writes into the input instead of an output, and holds
// nothing of the matrix's size when no cell is missing. Receivers are processed in parallel
// in chunks (ctx is checked between chunks), and the result does not depend on the number of
// workers or on the order rows are visited in.
//
// # Streaming imputers
//
// River's preprocessing.StatImputer keeps one statistic per feature: learn_one updates the
// statistic with every value that is present (not None); transform_one returns a copy of the
// record with each None replaced by the statistic's current get(), and learns nothing. The
// reference flow calls learn_one and then transform_one on each record, so a present value is
// learned before the record is passed on, and a missing value is filled with the statistic of
// the values of the earlier records — 0.0 before any value has been seen (stats.Mean and
// stats.EWMean start at 0). The [Streaming] interface has the same two halves: Update (learn
// a present value; NaN is ignored, being a missing value) and Value (the fill value).
//
//   - [Mean] is River's stats.Mean. Its update, in River releases since 0.15
//     (river/stats/mean.py), is n += w; mean += (w / n) · (x − mean) with w = 1. Older
//     releases wrote mean += w · (x − mean) / n, which rounds differently in the last bit;
//     the reference application installs River unpinned, so Mean follows the current form,
//     and its test fixture proves the bits (testdata/gen_streaming_fixtures.py).
//   - [EWMA] is River's stats.EWMean: mean = x while mean == 0 (the start, and again
//     whenever the mean lands on exactly 0), else alpha·x + (1 − alpha)·mean.
//   - [Last] carries the last present value forward, like River's PreviousImputer, except
//     that it gives 0 instead of None before any value.
//
// All three marshal to a small versioned binary form with a CRC-32 that restores the exact
// float bits, for state files.
package impute
