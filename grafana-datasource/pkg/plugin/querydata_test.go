package plugin

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// fakeUpstream serves synthetic query_range answers generated on the grid of
// the requested window, so tests exercise the engine without a server.
type fakeUpstream struct {
	gen   map[string]func(w models.Window) model.Matrix
	errs  map[string]error
	calls atomic.Int64
}

func (f *fakeUpstream) queryRange(ctx context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error) {
	f.calls.Add(1)
	if err := f.errs[expr]; err != nil {
		return nil, nil, err
	}
	g, ok := f.gen[expr]
	if !ok {
		return nil, nil, &UpstreamError{Kind: KindPromQL, Feature: feature, Msg: "upstream rejected the PromQL: unknown metric"}
	}
	return g(w), nil, nil
}

// sensorGen makes n sensors of noisy data; spike(sensor, t) adds an anomaly.
func sensorGen(n int, base float64, spike func(sensor int, t time.Time) float64) func(w models.Window) model.Matrix {
	return func(w models.Window) model.Matrix {
		var m model.Matrix
		for s := 0; s < n; s++ {
			ss := &model.SampleStream{Metric: model.Metric{"sensor_index": model.LabelValue(fmt.Sprint(s))}}
			for i := 0; i < w.Points(); i++ {
				t := w.At(i)
				r := rand.New(rand.NewPCG(uint64(t.Unix()), uint64(s)+uint64(base)))
				v := base + r.NormFloat64() + spike(s, t)
				ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(v)})
			}
			m = append(m, ss)
		}
		return m
	}
}

// testDatasource is a Datasource over up; tweaks adjust the settings before
// the engine is built from them.
func testDatasource(up fetcher, tweaks ...func(*models.Settings)) *Datasource {
	s := &models.Settings{URL: "http://fake", QueryTimeout: 30 * time.Second, MaxSeries: 1000, MaxPointsPerSeries: 11000,
		MaxTrainingRows: 1000000, ScrapeInterval: 15 * time.Second, CacheTTL: time.Hour, CacheMaxBytes: 64 << 20,
		MemoryBudget: models.DefaultMemoryBudgetMiB << 20}
	for _, tweak := range tweaks {
		tweak(s)
	}
	return &Datasource{settings: s, eng: newEngine(up, s, nil), logger: nopLogger()}
}

func dataQuery(refID string, from, to time.Time, q map[string]any) backend.DataQuery {
	b, _ := json.Marshal(q)
	return backend.DataQuery{RefID: refID, TimeRange: backend.TimeRange{From: from, To: to}, Interval: time.Minute, MaxDataPoints: 2000, JSON: b}
}

var spikeAt = t0.Add(5 * time.Hour)

func plantedUpstream() *fakeUpstream {
	return &fakeUpstream{gen: map[string]func(models.Window) model.Matrix{
		"pm": sensorGen(4, 10, func(s int, t time.Time) float64 {
			if s == 2 && t.Equal(spikeAt) {
				return 25
			}
			if s == 3 {
				return 30 // sensor 3 reads far above the fleet at every step
			}
			return 0
		}),
		// The spike moves both features, so that every split direction isolates it.
		"rh": sensorGen(4, 50, func(s int, t time.Time) float64 {
			if s == 2 && t.Equal(spikeAt) {
				return -25
			}
			return 0
		}),
	}}
}

func features() []map[string]string {
	return []map[string]string{{"name": "pm", "expr": "pm"}, {"name": "rh", "expr": "rh"}}
}

func TestSeriesModePlantedSpikeScoresHighest(t *testing.T) {
	up := plantedUpstream()
	ds := testDatasource(up)
	q := dataQuery("A", t0, t0.Add(10*time.Hour), map[string]any{"features": features(), "output": []string{"score", "anomaly"},
		"isolationForest": map[string]any{"seed": 7, "contamination": "0.01"}})
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Responses["A"]
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	if len(r.Frames) != 4 {
		t.Fatalf("%d frames, want one per sensor (4)", len(r.Frames))
	}
	var best float64
	var bestAt time.Time
	var bestSensor string
	for _, f := range r.Frames {
		if f.Meta.Type != data.FrameTypeTimeSeriesMulti || f.Meta.TypeVersion != (data.FrameTypeVersion{0, 1}) {
			t.Fatalf("frame type %s %v", f.Meta.Type, f.Meta.TypeVersion)
		}
		if f.Fields[1].Name != "score" || f.Fields[2].Name != "anomaly" {
			t.Fatalf("fields %s, %s", f.Fields[1].Name, f.Fields[2].Name)
		}
		for i := 0; i < f.Rows(); i++ {
			if v := f.Fields[1].At(i).(float64); v > best {
				best, bestAt, bestSensor = v, f.Fields[0].At(i).(time.Time), f.Fields[1].Labels["sensor_index"]
			}
		}
	}
	if bestSensor != "2" || !bestAt.Equal(spikeAt) {
		t.Errorf("highest score %.3f at sensor %s %s, want the planted spike (sensor 2 at %s)", best, bestSensor, bestAt, spikeAt)
	}
	if !strings.Contains(r.Frames[0].Meta.ExecutedQueryString, "pm: pm") {
		t.Errorf("executed query string = %q", r.Frames[0].Meta.ExecutedQueryString)
	}

	// Same inputs, same scores (seeded), and the second run reuses the cached forests.
	calls := up.calls.Load()
	resp2, _ := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	if up.calls.Load()-calls != 2 {
		t.Errorf("re-evaluation made %d upstream calls, want 2 (score range only)", up.calls.Load()-calls)
	}
	if c := resp2.Responses["A"].Frames[0].Meta.Custom.(map[string]any); c["forestCacheHit"] != true {
		t.Errorf("meta.custom = %v, want forestCacheHit true", c)
	}
	_, _, hits, _ := ds.eng.CacheStats()
	if hits != 1 {
		t.Errorf("cache hits = %d, want 1", hits)
	}
	// A fresh instance (no cache) refits and must produce the very same scores.
	resp3, _ := testDatasource(plantedUpstream()).QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	for _, again := range []backend.DataResponse{resp2.Responses["A"], resp3.Responses["A"]} {
		for i, f := range again.Frames {
			for j := 0; j < f.Rows(); j++ {
				if a, b := f.Fields[1].At(j).(float64), r.Frames[i].Fields[1].At(j).(float64); a != b {
					t.Fatalf("frame %d row %d: score %v, then %v", i, j, b, a)
				}
			}
		}
	}
}

func TestTimeoutStopsFitting(t *testing.T) {
	up := &fakeUpstream{gen: map[string]func(models.Window) model.Matrix{
		"pm": sensorGen(50, 10, func(int, time.Time) float64 { return 0 }),
		"rh": sensorGen(50, 50, func(int, time.Time) float64 { return 0 }),
	}}
	// Without a memory budget: the budget would refuse these forests before
	// they start, and this test is about stopping them once they have.
	ds := testDatasource(up, func(s *models.Settings) { s.MemoryBudget = 0 })
	ds.settings.QueryTimeout = 300 * time.Millisecond
	// 50 forests of 5000 trees on 2000 rows: far longer than the timeout.
	q := dataQuery("A", t0, t0.Add(2000*time.Minute), map[string]any{"features": features(), "isolationForest": map[string]any{"trees": 5000, "maxSamples": "1.0"}})
	start := time.Now()
	resp, _ := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	r := resp.Responses["A"]
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s: cancellation did not stop fitting promptly", el)
	}
	if r.Status != backend.StatusTimeout || r.ErrorSource != backend.ErrorSourcePlugin || !strings.Contains(fmt.Sprint(r.Error), "timed out after 300ms") {
		t.Errorf("status %d source %s error %v", r.Status, r.ErrorSource, r.Error)
	}
}

func TestFleetModeOutlierSensor(t *testing.T) {
	ds := testDatasource(plantedUpstream())
	for _, at := range []string{"last", "each"} {
		t.Run(at, func(t *testing.T) {
			q := dataQuery("B", t0, t0.Add(time.Hour), map[string]any{"mode": "fleet", "fleetAt": at, "features": features()})
			resp, _ := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
			r := resp.Responses["B"]
			if r.Error != nil {
				t.Fatal(r.Error)
			}
			want := data.FrameTypeNumericMulti
			if at == "each" {
				want = data.FrameTypeTimeSeriesMulti
			}
			// The outlier sensor must score highest at every step.
			scores := map[string][]float64{}
			for _, f := range r.Frames {
				if f.Meta.Type != want {
					t.Fatalf("type %s, want %s", f.Meta.Type, want)
				}
				fld, _ := f.FieldByName("score")
				if fld == nil {
					t.Fatal("no score field")
				}
				for i := 0; i < fld.Len(); i++ {
					scores[fld.Labels["sensor_index"]] = append(scores[fld.Labels["sensor_index"]], fld.At(i).(float64))
				}
			}
			if at == "last" && len(scores["3"]) != 1 {
				t.Fatalf("fleet at last: %d values for sensor 3, want 1", len(scores["3"]))
			}
			for i := range scores["3"] {
				for s, v := range scores {
					if s != "3" && v[i] >= scores["3"][i] {
						t.Fatalf("step %d: sensor %s scores %.3f ≥ outlier sensor 3 %.3f", i, s, v[i], scores["3"][i])
					}
				}
			}
			// Re-evaluation: every step's scores come from the cache, unchanged.
			_, _, hits0, _ := ds.eng.CacheStats()
			resp2, _ := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
			_, _, hits1, _ := ds.eng.CacheStats()
			steps := len(scores["3"])
			if int(hits1-hits0) != steps {
				t.Errorf("re-evaluation: %d cache hits, want one per step (%d)", hits1-hits0, steps)
			}
			for i, f := range resp2.Responses["B"].Frames {
				a, _ := f.FieldByName("score")
				b, _ := r.Frames[i].FieldByName("score")
				for j := 0; j < a.Len(); j++ {
					if a.At(j) != b.At(j) {
						t.Fatalf("frame %d row %d: %v then %v", i, j, b.At(j), a.At(j))
					}
				}
			}
		})
	}
}

func TestImputedCellsAreMarked(t *testing.T) {
	up := plantedUpstream()
	gapAt := t0.Add(30 * time.Minute)
	inner := up.gen["rh"]
	up.gen["rh"] = func(w models.Window) model.Matrix {
		m := inner(w)
		for _, ss := range m {
			var kept []model.SamplePair
			for _, sp := range ss.Values {
				if !sp.Timestamp.Time().Equal(gapAt) {
					kept = append(kept, sp)
				}
			}
			ss.Values = kept
		}
		return m
	}
	ds := testDatasource(up)
	q := dataQuery("C", t0, t0.Add(time.Hour), map[string]any{"features": features(), "includeFeatures": true})
	resp, _ := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	r := resp.Responses["C"]
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	f := r.Frames[0]
	flags, _ := f.FieldByName("rh_imputed")
	rh, _ := f.FieldByName("rh")
	pmFlags, _ := f.FieldByName("pm_imputed")
	if flags == nil || rh == nil || pmFlags == nil {
		t.Fatalf("fields: %v", f.Fields)
	}
	marked := 0
	for i := 0; i < f.Rows(); i++ {
		isGap := f.Fields[0].At(i).(time.Time).Equal(gapAt)
		if (flags.At(i).(float64) == 1) != isGap {
			t.Errorf("row %d: rh_imputed=%v, gap=%v", i, flags.At(i), isGap)
		}
		if isGap {
			marked++
			if v := rh.At(i).(float64); math.IsNaN(v) || v < 45 || v > 55 {
				t.Errorf("imputed rh = %v, want a value near the sensor's others (~50)", v)
			}
		}
		if pmFlags.At(i).(float64) != 0 {
			t.Errorf("row %d: pm marked imputed", i)
		}
	}
	if marked != 1 {
		t.Errorf("%d imputed rows, want 1", marked)
	}

	// With imputation "none" the incomplete point is dropped instead, with a notice.
	q = dataQuery("D", t0, t0.Add(time.Hour), map[string]any{"features": features(), "imputation": map[string]any{"method": "none"}})
	resp, _ = ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	f = resp.Responses["D"].Frames[0]
	if f.Rows() != 60 { // 61 grid points, the gap dropped (in each of the 4 sensors)
		t.Errorf("rows = %d, want 60", f.Rows())
	}
	if len(f.Meta.Notices) == 0 || !strings.Contains(f.Meta.Notices[0].Text, "4 incomplete points dropped") {
		t.Errorf("notices = %+v", f.Meta.Notices)
	}
}

func TestPerQueryErrors(t *testing.T) {
	up := plantedUpstream()
	up.errs = map[string]error{"down": &UpstreamError{Kind: KindUnreachable, Feature: "x", Msg: "upstream http://fake is unreachable: dial: connection refused"}}
	up.gen["dup"] = func(w models.Window) model.Matrix { m := up.gen["pm"](w); return append(m, m[0]) }
	ds := testDatasource(up, func(s *models.Settings) { s.MaxSeries = 5 })
	up.gen["many"] = sensorGen(6, 1, func(int, time.Time) float64 { return 0 })
	from, to := t0, t0.Add(time.Hour)
	queries := []backend.DataQuery{
		dataQuery("ok", from, to, map[string]any{"features": features()}),
		{RefID: "badjson", TimeRange: backend.TimeRange{From: from, To: to}, JSON: []byte(`{"features":[`)},
		dataQuery("mode", from, to, map[string]any{"mode": "stream", "features": features()}),
		dataQuery("promql", from, to, map[string]any{"features": []map[string]string{{"name": "a", "expr": "nope("}}}),
		dataQuery("down", from, to, map[string]any{"features": []map[string]string{{"name": "a", "expr": "down"}}}),
		dataQuery("many", from, to, map[string]any{"features": []map[string]string{{"name": "a", "expr": "many"}}}),
		dataQuery("dup", from, to, map[string]any{"features": []map[string]string{{"name": "a", "expr": "dup"}}}),
		dataQuery("empty", from, to, map[string]any{"features": []map[string]string{{"name": "a", "expr": "none"}}}),
	}
	up.gen["none"] = func(models.Window) model.Matrix { return model.Matrix{} }
	resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: queries})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		ref    string
		status backend.Status
		src    backend.ErrorSource
		msg    string
	}{
		{"badjson", backend.StatusBadRequest, backend.ErrorSourceDownstream, "invalid query: JSON does not decode"},
		{"mode", backend.StatusBadRequest, backend.ErrorSourceDownstream, `unknown mode "stream"`},
		{"promql", backend.StatusBadRequest, backend.ErrorSourceDownstream, "upstream rejected the PromQL"},
		{"down", backend.StatusBadGateway, backend.ErrorSourceDownstream, "connection refused"},
		{"many", backend.StatusBadRequest, backend.ErrorSourceDownstream, "too many series"},
		{"dup", backend.StatusBadRequest, backend.ErrorSourceDownstream, "more than one series for entity"},
	}
	for _, c := range cases {
		r := resp.Responses[c.ref]
		if r.Error == nil {
			t.Errorf("%s: no error", c.ref)
			continue
		}
		if r.Status != c.status || r.ErrorSource != c.src || !strings.Contains(r.Error.Error(), c.msg) {
			t.Errorf("%s: status %d source %s error %q; want %d %s %q", c.ref, r.Status, r.ErrorSource, r.Error, c.status, c.src, c.msg)
		}
	}
	if r := resp.Responses["ok"]; r.Error != nil || len(r.Frames) != 4 {
		t.Errorf("the good query failed alongside the bad ones: %v, %d frames", r.Error, len(r.Frames))
	}
	// No data: one typed frame without fields, not an error.
	if r := resp.Responses["empty"]; r.Error != nil || len(r.Frames) != 1 || len(r.Frames[0].Fields) != 0 || r.Frames[0].Meta.Type != data.FrameTypeTimeSeriesMulti {
		t.Errorf("empty result: %v %+v", r.Error, r.Frames)
	}
}

// slowFetcher blocks until the context ends.
type slowFetcher struct{}

func (slowFetcher) queryRange(ctx context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error) {
	<-ctx.Done()
	return nil, nil, &UpstreamError{Kind: KindTimeout, Feature: feature, Msg: "upstream did not answer before the query timeout"}
}

func TestQueryTimeout(t *testing.T) {
	ds := testDatasource(slowFetcher{})
	ds.settings.QueryTimeout = 200 * time.Millisecond
	start := time.Now()
	resp, _ := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery("A", t0, t0.Add(time.Hour), map[string]any{"features": features()})}})
	r := resp.Responses["A"]
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("took %s, want the 200ms timeout to stop it", el)
	}
	if r.Status != backend.StatusTimeout || !strings.Contains(r.Error.Error(), "timed out after 200ms") || r.ErrorSource != backend.ErrorSourceDownstream {
		t.Errorf("status %d source %s error %v", r.Status, r.ErrorSource, r.Error)
	}
}
