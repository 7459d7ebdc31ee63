package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// The reference workload (100 sensors × 7 days at 2 minutes × 3 features,
// 100 trees per sensor, KNN) is charged by the documented rules at well
// under the default budget; the estimate is recomputed here by hand so
// that a changed constant shows.
func TestBudgetOfTheReferenceWorkload(t *testing.T) {
	const sensors, rows, cols = 100, 7*24*30 + 1, 3
	a := &alignment{Cols: cols}
	for s := 0; s < sensors; s++ {
		a.Entities = append(a.Entities, &entityRows{Key: fmt.Sprint(s), Index: make([]int32, rows)})
	}
	q, err := models.ParseQuery([]byte(`{"features":[{"name":"a","expr":"a"},{"name":"b","expr":"b"},{"name":"c","expr":"c"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b := &queryBudget{limit: models.DefaultMemoryBudgetMiB << 20}
	e := New(nil, Options{MemoryBudget: b.limit})
	ctx := context.WithValue(context.Background(), budgetKey{}, b)
	points := int64(sensors * rows * cols)
	if err := b.charge(ctx, points*BytesPerPoint, "points", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.charge(ctx, points*BytesPerCell, "matrix", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.charge(ctx, knnBytes(a), "knn", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.chargeSeriesForests(ctx, q, a); err != nil {
		t.Fatal(err)
	}
	want := points*(BytesPerPoint+BytesPerCell) + rows*cols*BytesPerKNNCell + sensors*100*256*BytesPerTreeSample
	if got := b.used.Load(); got != want || got > b.limit/2 {
		t.Errorf("charged %d MiB, want %d MiB and under half the default budget", got>>20, want>>20)
	}
}

// A fetcher that does not count as it decodes (the demo's) is charged for
// what it returned, and samples it sent off the grid are reported.
func TestBudgetChargesPlainFetchersAndReportsOffGrid(t *testing.T) {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f := FetchFunc(func(ctx context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error) {
		ss := &model.SampleStream{Metric: model.Metric{"sensor_index": "1"}}
		for i := 0; i < w.Points(); i++ {
			t := w.At(i)
			ss.Values = append(ss.Values,
				model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: 1},
				model.SamplePair{Timestamp: model.TimeFromUnixNano(t.Add(time.Second).UnixNano()), Value: 2}) // off the grid
		}
		return model.Matrix{ss}, nil, nil
	})
	q, p := plan(t, `{"features":[{"name":"pm","expr":"pm"}]}`, from, from.Add(time.Hour))
	res, err := New(f, Options{MemoryBudget: 1 << 30}).Run(context.Background(), q, p)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range res.Notices {
		if n.Severity == SeverityWarning && strings.HasPrefix(n.Text, fmt.Sprintf("%d samples off the step grid", p.Score.Points())) {
			found = true
		}
	}
	if !found {
		t.Errorf("notices %v, want a warning counting the %d off-grid samples", res.Notices, p.Score.Points())
	}

	// 2 × 61 points at 24 bytes: over a 2 KiB budget (the forest of one
	// tree of 2 samples is not).
	q, p = plan(t, `{"features":[{"name":"pm","expr":"pm"}],"isolationForest":{"trees":1,"maxSamples":"2"}}`, from, from.Add(time.Hour))
	_, err = New(f, Options{MemoryBudget: 2 << 10}).Run(context.Background(), q, p)
	var be *BudgetError
	if !errors.As(err, &be) || !strings.Contains(err.Error(), `fetching feature "pm"`) {
		t.Errorf("err = %v, want the fetch over the budget", err)
	}
}
