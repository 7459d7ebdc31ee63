// Package engine is the Hazewatch anomaly datasource's batch query engine,
// without Grafana: given a parsed query (models.Query, resolved into a
// models.Plan) and a way to fetch one feature's series over a window, it
// joins the features' series into (entity, timestamp) rows, imputes missing
// cells (scikit-learn's KNNImputer) or drops incomplete rows, fits Isolation
// Forests (series mode: one per entity or one shared; fleet mode: one per
// step over the fleet's cross-section), scores every row, and returns plain
// Go results — per entity its labels, timestamps, scores, decisions, anomaly
// flags and optionally the features with their imputed cells marked — plus
// notices as plain text.
//
// The Grafana backend (package plugin) runs it with a Prometheus query_range
// fetcher and turns its results into data frames; `hazewatch demo` runs it on
// the simulator's readings held in memory. Both therefore compute the same
// scores from the same readings. Fitted forests (and fleet scores) are cached
// per Engine, keyed by everything that determines a fit.
package engine
