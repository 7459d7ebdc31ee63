package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// noiseFetcher serves n sensors of seeded noise per expression on the grid
// of the requested window; it fails expressions listed in errs.
type noiseFetcher struct {
	n    int
	errs map[string]error
}

func (f noiseFetcher) Fetch(ctx context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error) {
	switch err := f.errs[expr]; {
	case errors.Is(err, context.Canceled):
		<-ctx.Done() // a slow feature, stopped by the failure of another
		return nil, nil, fmt.Errorf("feature %q: %w", feature, ctx.Err())
	case err != nil:
		return nil, nil, err
	}
	var m model.Matrix
	for s := 0; s < f.n; s++ {
		ss := &model.SampleStream{Metric: model.Metric{"sensor_index": model.LabelValue(fmt.Sprint(s)), "__name__": model.LabelValue(expr)}}
		for i := 0; i < w.Points(); i++ {
			t := w.At(i)
			r := rand.New(rand.NewPCG(uint64(t.Unix()), uint64(s)+uint64(len(expr))))
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(10 + r.NormFloat64())})
		}
		m = append(m, ss)
	}
	return m, nil, nil
}

// plan parses a query's JSON and resolves it over [from, to] at a 1-minute interval.
func plan(t *testing.T, raw string, from, to time.Time) (*models.Query, *models.Plan) {
	t.Helper()
	q, err := models.ParseQuery([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	p, err := models.Resolve(q, models.TimeContext{From: from, To: to, Interval: time.Minute, MaxDataPoints: 2000}, models.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return q, p
}

func testOptions() Options {
	return Options{MaxSeries: 1000, MaxTrainingRows: 1000000, CacheMaxBytes: 64 << 20, CacheTTL: time.Hour}
}

func TestConcurrentIdenticalQueriesFitOnce(t *testing.T) {
	e := New(noiseFetcher{n: 4}, testOptions())
	var fits atomic.Int64
	inner := e.fit
	e.fit = func(ctx context.Context, x []float64, cols int, p models.IsolationForest, workers int) (detector, error) {
		fits.Add(1)
		time.Sleep(20 * time.Millisecond) // keep the leader busy while the others arrive
		return inner(ctx, x, cols, p, workers)
	}
	q, p := plan(t, `{"features":[{"name":"pm","expr":"pm"},{"name":"rh","expr":"rh"}],"training":{"range":"1d"}}`, t0, t0.Add(2*time.Hour))
	var wg sync.WaitGroup
	results := make([]*Result, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = e.Run(context.Background(), q, p)
		}()
	}
	wg.Wait()
	for i := range results {
		if errs[i] != nil || len(results[i].Entities) != 4 {
			t.Fatalf("query %d: %v, %d entities", i, errs[i], len(results[i].Entities))
		}
	}
	if n := fits.Load(); n != 4 {
		t.Errorf("%d forests fitted for 4 identical queries over 4 sensors, want 4 (one fit shared)", n)
	}
}

// A failing feature cancels the others' fetches; the query reports that
// failure, not the cancellations it caused, whichever feature comes first.
func TestFetchReportsTheFailureNotTheCancellations(t *testing.T) {
	bad := errors.New("upstream rejected the PromQL: parse error")
	e := New(noiseFetcher{n: 2, errs: map[string]error{"slow": context.Canceled, "bad": bad}}, testOptions())
	for _, order := range []string{`"slow"},{"name":"b","expr":"bad"}`, `"bad"},{"name":"b","expr":"slow"}`} {
		q, p := plan(t, `{"features":[{"name":"a","expr":`+order+`]}`, t0, t0.Add(time.Hour))
		start := time.Now()
		_, err := e.Run(context.Background(), q, p)
		if !errors.Is(err, bad) {
			t.Errorf("features %s: err = %v, want the failed feature's error", order, err)
		}
		if el := time.Since(start); el > 5*time.Second {
			t.Errorf("took %s: the failure did not stop the slow fetch", el)
		}
	}
}

func TestResultOutputsAndCache(t *testing.T) {
	e := New(noiseFetcher{n: 3}, testOptions())
	q, p := plan(t, `{"features":[{"name":"pm","expr":"pm"}],"output":["score","decision","anomaly"],"includeFeatures":true,"isolationForest":{"contamination":"0.1"}}`,
		t0, t0.Add(time.Hour))
	r, err := e.Run(context.Background(), q, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Entities) != 3 || r.Numeric || r.CacheHit {
		t.Fatalf("%d entities, numeric %v, cache hit %v", len(r.Entities), r.Numeric, r.CacheHit)
	}
	for i, er := range r.Entities {
		if er.Labels["sensor_index"] != fmt.Sprint(i) || len(er.Labels) != 1 {
			t.Errorf("entity %d labels %v, want only its sensor_index, in order", i, er.Labels)
		}
		n := len(er.Times)
		if n != 61 || len(er.Score) != n || len(er.Decision) != n || len(er.Anomaly) != n || len(er.Features) != 1 || len(er.Features[0]) != n || len(er.Imputed[0]) != n {
			t.Fatalf("entity %d: %d times, %d/%d/%d outputs, features %d", i, n, len(er.Score), len(er.Decision), len(er.Anomaly), len(er.Features))
		}
		flagged := 0
		for k := range er.Times {
			// score = −score_samples, decision = score_samples − offset, anomaly ⇔ decision < 0.
			if (er.Decision[k] < 0) != (er.Anomaly[k] == 1) || er.Score[k] <= 0 || er.Score[k] > 1 {
				t.Fatalf("entity %d row %d: score %v decision %v anomaly %v", i, k, er.Score[k], er.Decision[k], er.Anomaly[k])
			}
			flagged += int(er.Anomaly[k])
		}
		if flagged == 0 || flagged > n/4 {
			t.Errorf("entity %d: %d of %d flagged at contamination 0.1", i, flagged, n)
		}
	}
	again, err := e.Run(context.Background(), q, p)
	if err != nil || !again.CacheHit || again.Entities[1].Score[7] != r.Entities[1].Score[7] {
		t.Errorf("re-evaluation: %v, cache hit %v", err, again != nil && again.CacheHit)
	}

	// A fleet query over more rows than allowed is refused with the setting's name.
	small := testOptions()
	small.MaxTrainingRows = 10
	q, p = plan(t, `{"mode":"fleet","fleetAt":"each","features":[{"name":"pm","expr":"pm"}]}`, t0, t0.Add(time.Hour))
	if _, err := New(noiseFetcher{n: 3}, small).Run(context.Background(), q, p); err == nil || !errors.As(err, new(*models.QueryError)) {
		t.Errorf("fleet over the row limit: err = %v, want a QueryError naming maxTrainingRows", err)
	}
}
