package engine

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func series(labels map[string]string, start time.Time, step time.Duration, vals ...float64) *model.SampleStream {
	m := model.Metric{}
	for k, v := range labels {
		m[model.LabelName(k)] = model.LabelValue(v)
	}
	ss := &model.SampleStream{Metric: m}
	for i, v := range vals {
		if math.IsNaN(v) {
			continue // a gap: Prometheus omits the sample
		}
		ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(start.Add(time.Duration(i) * step).UnixNano()), Value: model.SampleValue(v)})
	}
	return ss
}

func TestAlignFeatures(t *testing.T) {
	nan := math.NaN()
	w := models.Window{Start: t0, End: t0.Add(3 * time.Minute), Step: time.Minute}
	pm := model.Matrix{
		series(map[string]string{"sensor_index": "2", "__name__": "pm"}, t0, time.Minute, 1, 2, nan, 4),
		series(map[string]string{"sensor_index": "1"}, t0, time.Minute, 10, 11, 12, 13),
		series(map[string]string{"other": "x"}, t0, time.Minute, 5), // no entity label
	}
	rh := model.Matrix{
		series(map[string]string{"sensor_index": "2"}, t0, time.Minute, nan, 20, nan, 40),
		series(map[string]string{"sensor_index": "1"}, t0.Add(30*time.Second), time.Minute, 7), // off grid
	}
	a, err := alignFeatures(w, []string{"sensor_index"}, []string{"pm", "rh"}, []model.Matrix{pm, rh}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if a.SkippedSeries != 1 || a.OffGrid != 1 {
		t.Errorf("skipped=%d offGrid=%d, want 1, 1", a.SkippedSeries, a.OffGrid)
	}
	if len(a.Entities) != 2 || a.Entities[0].Key != `sensor_index="1"` || a.Entities[1].Labels["sensor_index"] != "2" {
		t.Fatalf("entities = %+v", a.Entities)
	}
	e2 := a.Entities[1]
	// Sensor 2 has no sample at all at t0+2m: that step is absent, not a NaN row.
	wantIdx := []int32{0, 1, 3}
	wantX := []float64{1, nan, 2, 20, 4, 40}
	if len(e2.Index) != len(wantIdx) {
		t.Fatalf("index = %v, want %v", e2.Index, wantIdx)
	}
	for i := range wantIdx {
		if e2.Index[i] != wantIdx[i] {
			t.Errorf("index = %v, want %v", e2.Index, wantIdx)
		}
	}
	for i := range wantX {
		if !(e2.X[i] == wantX[i] || math.IsNaN(e2.X[i]) && math.IsNaN(wantX[i])) {
			t.Errorf("x = %v, want %v", e2.X, wantX)
			break
		}
	}
	if got := e2.dropIncomplete(2); got != 1 || e2.Rows() != 2 || e2.X[0] != 2 || e2.Index[0] != 1 {
		t.Errorf("dropIncomplete = %d, rows %d, x %v", got, e2.Rows(), e2.X)
	}
}

func TestAlignErrors(t *testing.T) {
	w := models.Window{Start: t0, End: t0, Step: time.Minute}
	one := func(id string) *model.SampleStream {
		return series(map[string]string{"sensor_index": id}, t0, time.Minute, 1)
	}
	cases := []struct {
		name   string
		m      []model.Matrix
		target any
	}{
		{"duplicate", []model.Matrix{{one("1"), one("1")}}, new(*DuplicateEntityError)},
		{"too many in one feature", []model.Matrix{{one("1"), one("2"), one("3")}}, new(*TooManySeriesError)},
		{"too many joined", []model.Matrix{{one("1"), one("2")}, {one("3"), one("4")}}, new(*TooManySeriesError)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			names := []string{"a", "b"}[:len(c.m)]
			_, err := alignFeatures(w, []string{"sensor_index"}, names, c.m, 2)
			if err == nil || !errors.As(err, c.target) {
				t.Fatalf("err = %v, want %T", err, c.target)
			}
		})
	}
}
