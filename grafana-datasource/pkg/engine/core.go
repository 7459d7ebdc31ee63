package engine

import (
	"context"
	"errors"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
	"github.com/hazewatch/hazewatch/pkg/impute"
)

// detector is a fitted model; *iforest.Forest is the only one. The
// engine codes against this interface so that its plumbing (alignment,
// caching, results) is tested on exactly the calls it makes.
type detector interface {
	ScoreSamples(x []float64, cols int, out []float64) error
	Offset() float64
	SizeBytes() int
}

// fitForest fits an Isolation Forest on rows×cols x. workers = 1 because the engine already runs
// one fit per entity in parallel.
func fitForest(ctx context.Context, x []float64, cols int, p models.IsolationForest, workers int) (detector, error) {
	opt, err := p.Options(workers)
	if err != nil {
		return nil, err
	}
	f, err := iforest.Fit(ctx, x, cols, opt)
	if err != nil {
		return nil, models.ForestError(err)
	}
	return f, nil
}

// imputeKNN fills NaN cells with scikit-learn's KNNImputer (uniform weights).
// A column without any value comes back as *impute.EmptyColumnError, which
// the engine reports as "this entity lacks that feature" rather than failing.
func imputeKNN(ctx context.Context, x []float64, cols, k, workers int) ([]float64, []bool, error) {
	imp := impute.DefaultKNNImputer()
	imp.NNeighbors, imp.Workers = k, workers
	return imp.Impute(ctx, x, cols)
}

// emptyColumn reports whether err says column c had no value at all.
func emptyColumn(err error) (int, bool) {
	var e *impute.EmptyColumnError
	if errors.As(err, &e) {
		return e.Col, true
	}
	return 0, false
}
