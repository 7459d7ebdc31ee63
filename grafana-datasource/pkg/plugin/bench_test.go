package plugin

import (
	"context"
	"runtime"
	"runtime/debug"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/hazewatch/hazewatch/internal/cputime"
	"github.com/hazewatch/hazewatch/internal/proctest"
	"github.com/hazewatch/hazewatch/internal/promtest"
)

var (
	benchOnce sync.Once
	benchSrv  *promtest.Server
)

func benchServer(b *testing.B) *promtest.Server {
	promtest.SkipIfAbsent(b)
	benchOnce.Do(func() { benchSrv = promtest.Start(sharedB{b}, promtest.Bench()) })
	if benchSrv == nil {
		b.Fatal("the benchmark Prometheus failed to start earlier")
	}
	return benchSrv
}

type sharedB struct{ *testing.B }

func (s sharedB) Cleanup(f func()) { sharedCleanups = append(sharedCleanups, f) }
func (s sharedB) TempDir() string {
	d, err := osMkdirTemp()
	if err != nil {
		s.B.Fatal(err)
	}
	sharedCleanups = append(sharedCleanups, func() { osRemoveAll(d) })
	return d
}

var benchFeatures = []map[string]string{
	{"name": "pm25", "expr": promtest.MetricPM25},
	{"name": "rh", "expr": promtest.MetricHumidity},
	{"name": "temp", "expr": promtest.MetricTemperature},
}

// phaseTimer sums the engine's phase durations.
type phaseTimer struct {
	mu sync.Mutex
	d  map[string]time.Duration
}

func (p *phaseTimer) observe(phase string, d time.Duration) {
	p.mu.Lock()
	p.d[phase] += d
	p.mu.Unlock()
}

func benchInstance(b *testing.B, url string, pt *phaseTimer) *Datasource {
	inst, err := NewDatasource(context.Background(), backend.DataSourceInstanceSettings{UID: "bench", URL: url, JSONData: []byte(`{"queryTimeout":"120s"}`)})
	if err != nil {
		b.Fatal(err)
	}
	ds := inst.(*Datasource)
	if ds.settingsErr != nil {
		b.Fatal(ds.settingsErr)
	}
	ds.logger = nopLogger()
	ds.eng = newEngine(ds.up, ds.settings, pt.observe)
	return ds
}

func runBench(b *testing.B, dq backend.DataQuery, warm bool) {
	srv := benchServer(b)
	pt := &phaseTimer{d: map[string]time.Duration{}}
	ds := benchInstance(b, srv.URL, pt)
	run := func() backend.DataResponse {
		resp, _ := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dq}})
		return resp.Responses[dq.RefID]
	}
	if warm {
		if r := run(); r.Error != nil {
			b.Fatal(r.Error)
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	_ = proctest.ResetPeakRSS()
	pt.d = map[string]time.Duration{}
	cpu0, promCPU0 := cputime.Process(), srv.CPUTime()
	b.ResetTimer()
	var points int
	for i := 0; i < b.N; i++ {
		if !warm {
			ds.eng = newEngine(ds.up, ds.settings, pt.observe) // a cold cache each time
		}
		r := run()
		if r.Error != nil {
			b.Fatal(r.Error)
		}
		points = 0
		for _, f := range r.Frames {
			points += f.Rows()
		}
	}
	b.StopTimer()
	total := b.Elapsed()
	// CPU time is reported besides wall time because this host's two cores
	// are shared: wall time there measures the neighbours as much as us.
	b.ReportMetric(float64((cputime.Process()-cpu0).Milliseconds())/float64(b.N), "plugin-cpu-ms/op")
	b.ReportMetric(float64((srv.CPUTime()-promCPU0).Milliseconds())/float64(b.N), "prometheus-cpu-ms/op")
	for phase, d := range pt.d {
		b.ReportMetric(float64(d.Milliseconds())/float64(b.N), phase+"-ms/op")
	}
	b.ReportMetric(100*float64(pt.d["fetch"])/float64(total), "fetch-%")
	b.ReportMetric(float64(points), "scored-points")
	_, cacheBytes, _, _ := ds.eng.CacheStats()
	b.ReportMetric(float64(cacheBytes)/(1<<20), "cache-MiB")
	b.ReportMetric(float64(proctest.PeakRSS(0))/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(srv.PeakRSSBytes())/(1<<20), "prometheus-peak-RSS-MiB")
}

// benchWindow is the benchmark dataset's full week on its 2-minute grid.
func benchWindow() (time.Time, time.Time) {
	return promtest.PlantedEnd.Add(-7 * 24 * time.Hour), promtest.PlantedEnd.Add(-2 * time.Minute)
}

// BenchmarkQuerySeriesWeek is the figure: 100 sensors × 7 days at a
// 2-minute step × 3 features (1.5M values) fetched from the local Prometheus,
// KNN-imputed, 100 forests fitted (one per sensor) and every point scored,
// with a cold forest cache. Targets: ≤ 2 s/op, ≤ 500 MiB peak RSS.
// Measured figures and the command: ../../src/README.md, "Performance".
func BenchmarkQuerySeriesWeek(b *testing.B) {
	from, to := benchWindow()
	runBench(b, benchQuery(from, to, map[string]any{"features": benchFeatures, "training": map[string]any{"step": "2m"}}), false)
}

// BenchmarkQuerySeriesWeekCached re-evaluates the same query with the forests
// cached: fetch, impute and score only (a dashboard refresh within a step).
func BenchmarkQuerySeriesWeekCached(b *testing.B) {
	from, to := benchWindow()
	runBench(b, benchQuery(from, to, map[string]any{"features": benchFeatures, "training": map[string]any{"step": "2m"}}), true)
}

// BenchmarkAlertRuleCached is an alert rule's evaluation: the last hour scored
// against forests trained on the 7 days before it, forests cached.
func BenchmarkAlertRuleCached(b *testing.B) {
	_, to := benchWindow()
	runBench(b, benchQuery(to.Add(-time.Hour), to, map[string]any{"features": benchFeatures, "training": map[string]any{"range": "6d", "step": "2m"}}), true)
}

// BenchmarkAlertRuleNewStep is the same evaluation when the step has moved
// on: the training window (the 6 days before the scored hour, aligned to
// the step) is a new one, so its forests are not in the cache and the 6 days
// are fetched and fitted again. This is what an alert rule pays once per
// step, or per cacheTTL if that is shorter.
func BenchmarkAlertRuleNewStep(b *testing.B) {
	_, to := benchWindow()
	runBench(b, benchQuery(to.Add(-time.Hour), to, map[string]any{"features": benchFeatures, "training": map[string]any{"range": "6d", "step": "2m"}}), false)
}

func benchQuery(from, to time.Time, q map[string]any) backend.DataQuery {
	dq := dataQuery("A", from, to, q)
	dq.Interval = 2 * time.Minute
	dq.MaxDataPoints = 11000
	return dq
}

// BenchmarkFleetDayEachStep compares the 100 sensors with each other at every
// 2-minute step of a day: 720 forests of 100 rows, cold cache.
func BenchmarkFleetDayEachStep(b *testing.B) {
	_, to := benchWindow()
	runBench(b, benchQuery(to.Add(-24*time.Hour), to, map[string]any{"mode": "fleet", "fleetAt": "each", "features": benchFeatures, "training": map[string]any{"step": "2m"}}), false)
}

// BenchmarkFleetLast is the "most anomalous sensors now" table or alert rule:
// the fleet at the last step only, cold cache.
func BenchmarkFleetLast(b *testing.B) {
	_, to := benchWindow()
	runBench(b, benchQuery(to.Add(-time.Hour), to, map[string]any{"mode": "fleet", "features": benchFeatures, "training": map[string]any{"step": "2m"}}), false)
}
