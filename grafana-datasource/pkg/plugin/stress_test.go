package plugin

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/internal/proctest"
	"github.com/hazewatch/hazewatch/internal/promtest"
)

// TestStress runs 20 dashboard panels and 5 alert rules against one
// datasource instance and a real Prometheus, concurrently, for a minute
// (HAZEWATCH_STRESS_DURATION to change it), and requires that no query fails
// but those built to (a forest over the memory budget, every third refresh of
// one panel) and that the process's peak RSS stays under the
// datasource's memory budget. It reports the peak RSS and the latencies.
// It is opt-in (HAZEWATCH_STRESS=1): a minute of two saturated cores is not
// for every `go test` run. Run it with -race:
//
//	HAZEWATCH_STRESS=1 go test -race -run TestStress -v ./grafana-datasource/pkg/plugin/
func TestStress(t *testing.T) {
	if os.Getenv("HAZEWATCH_STRESS") != "1" {
		t.Skip("stress run: set HAZEWATCH_STRESS=1 (a minute of 25 concurrent queries against a real Prometheus)")
	}
	duration := time.Minute
	if v := os.Getenv("HAZEWATCH_STRESS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("HAZEWATCH_STRESS_DURATION: %v", err)
		}
		duration = d
	}
	srv := plantedServer(t)
	// HAZEWATCH_STRESS_BUDGET_MIB runs the same load under a tighter budget,
	// where queries wait for each other and the cache gives way.
	budgetMiB := models.DefaultMemoryBudgetMiB
	if v := os.Getenv("HAZEWATCH_STRESS_BUDGET_MIB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("HAZEWATCH_STRESS_BUDGET_MIB %q: want a positive number", v)
		}
		budgetMiB = n
	}
	// Under the race detector the same work takes several times the CPU:
	// the query timeout is scaled with it, so that what is measured is the
	// plugin's behaviour, not the instrumentation's cost.
	timeout := models.DefaultQueryTimeout
	if raceEnabled {
		timeout *= 5
	}
	ds := newTestInstance(t, srv.URL, fmt.Sprintf(`{"memoryBudgetMiB":%d,"queryTimeout":"%s"}`, budgetMiB, timeout), nil)

	end := promtest.PlantedEnd
	// Panels: a mix of what dashboards ask, each panel its own query.
	panel := func(p int) map[string]any {
		switch p % 5 {
		case 0:
			return map[string]any{"features": plantedFeatures, "output": []string{"score", "anomaly"}}
		case 1:
			return map[string]any{"features": plantedFeatures, "forest": "shared", "training": map[string]any{"range": "7d"}}
		case 2:
			return map[string]any{"features": plantedFeatures, "mode": "fleet", "fleetAt": "each", "includeFeatures": true}
		case 3:
			return map[string]any{"features": plantedFeatures, "isolationForest": map[string]any{"trees": 300, "maxSamples": "0.5"}}
		default:
			return map[string]any{"features": plantedFeatures, "imputation": map[string]any{"method": "none"}, "output": []string{"decision"}}
		}
	}
	// Alert rules: the last 10 minutes against a week before, and the fleet now.
	alert := func(i int) map[string]any {
		if i%2 == 0 {
			return map[string]any{"features": plantedFeatures, "output": []string{"anomaly"}, "training": map[string]any{"range": "7d", "step": "5m"}}
		}
		return map[string]any{"features": plantedFeatures, "mode": "fleet", "fleetAt": "last", "output": []string{"score"}}
	}
	// What is asked to fail: the query that once took 9.6 GB.
	tooBig := map[string]any{"features": plantedFeatures, "isolationForest": map[string]any{"trees": 10000, "maxSamples": "1.0"}}

	type sample struct {
		kind string
		d    time.Duration
	}
	var (
		mu       sync.Mutex
		samples  []sample
		failures []string
		refused  atomic.Int64
		deadline = time.Now().Add(duration)
		wg       sync.WaitGroup
		peakRSS  atomic.Int64
		// The budget's own account and the Go heap, to tell what RSS is made of.
		peakCharged, peakHeap atomic.Int64
		stopWatch             = make(chan struct{})
	)
	if err := proctest.ResetPeakRSS(); err != nil {
		t.Logf("cannot reset VmHWM (%v); the peak includes the setup", err)
	}
	go func() { // VmHWM is the kernel's own peak; sampling VmRSS as well shows the curve is not a single spike
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopWatch:
				return
			case <-tick.C:
				if rss := currentRSS(); rss > peakRSS.Load() {
					peakRSS.Store(rss)
				}
				if used, _, _ := ds.eng.BudgetStats(); used > peakCharged.Load() {
					peakCharged.Store(used)
				}
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				if int64(ms.HeapAlloc) > peakHeap.Load() {
					peakHeap.Store(int64(ms.HeapAlloc))
				}
			}
		}
	}()
	run := func(kind string, refID string, from, to time.Time, q map[string]any, wantRefused bool) {
		dq := dataQuery(refID, from, to, q)
		dq.MaxDataPoints = 1000 // a panel about 1000 pixels wide
		start := time.Now()
		resp, err := ds.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dq}})
		el := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		switch r := resp.Responses[refID]; {
		case err != nil:
			failures = append(failures, fmt.Sprintf("%s: QueryData: %v", kind, err))
		case wantRefused:
			if r.Error == nil || !strings.Contains(r.Error.Error(), "setting memoryBudgetMiB") {
				failures = append(failures, fmt.Sprintf("%s: the oversized query was not refused by the budget: %v", kind, r.Error))
			} else {
				refused.Add(1)
			}
		case r.Error != nil:
			failures = append(failures, fmt.Sprintf("%s %v [%s, %s]: %v", kind, q, from.Format(time.RFC3339), to.Format(time.RFC3339), r.Error))
		default:
			samples = append(samples, sample{kind, el})
		}
	}
	// Each panel shows the last 6 hours, day or two days up to "now" and
	// refreshes every refresh (a dashboard's auto-refresh), or as soon as its
	// last answer came if that took longer; alert rules evaluate at Grafana's
	// shortest interval. "Now" runs simSpeed times faster than the wall clock
	// through the planted history, so that the panels' grids move at nearly
	// every refresh and forests are fitted, not only reused: the worst case
	// for memory and latency.
	refresh, evalInterval, simSpeed := 10*time.Second, 10*time.Second, 10
	if v := os.Getenv("HAZEWATCH_STRESS_REFRESH"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("HAZEWATCH_STRESS_REFRESH: %v", err)
		}
		refresh = d
	}
	began, simStart := time.Now(), end.Add(-4*24*time.Hour)
	now := func() time.Time { return simStart.Add(time.Since(began) * time.Duration(simSpeed)) }
	pace := func(started time.Time, every time.Duration) {
		if wait := every - time.Since(started); wait > 0 && time.Now().Add(wait).Before(deadline) {
			time.Sleep(wait)
		}
	}
	for p := 0; p < 20; p++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			span := []time.Duration{6 * time.Hour, 24 * time.Hour, 48 * time.Hour}[p%3]
			time.Sleep(time.Duration(p) * refresh / 20) // panels do not all load at the same instant
			for i := 0; time.Now().Before(deadline); i++ {
				started, to := time.Now(), now()
				if p == 0 && i%3 == 0 {
					run("panel", fmt.Sprintf("P%d", p), to.Add(-48*time.Hour), to, tooBig, true)
				} else {
					run("panel", fmt.Sprintf("P%d", p), to.Add(-span), to, panel(p), false)
				}
				pace(started, refresh)
			}
		}()
	}
	for a := 0; a < 5; a++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				started := time.Now()
				run("alert", fmt.Sprintf("R%d", a), end.Add(-10*time.Minute), end, alert(a), false)
				pace(started, evalInterval)
			}
		}()
	}
	wg.Wait()
	close(stopWatch)
	hwm := proctest.PeakRSS(0)

	if refused.Load() == 0 {
		t.Error("the oversized query was never sent; the run did not test the refusal")
	}
	_, _, overcommits := ds.eng.BudgetStats()
	_, cacheBytes, _, _ := ds.eng.CacheStats()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("shared budget: peak charged %d MiB, %d waits broken by going over it, %d charges waited; peak Go heap %d MiB (%d collections, %.1f%% of CPU in GC); forest cache %d MiB at the end",
		peakCharged.Load()>>20, overcommits, ds.eng.BudgetWaits(), peakHeap.Load()>>20, ms.NumGC, 100*ms.GCCPUFraction, cacheBytes>>20)
	budget := int64(budgetMiB) << 20
	peak := max(hwm, peakRSS.Load())
	t.Logf("%s, 20 panels + 5 alert rules: peak RSS %d MiB (VmHWM %d MiB, sampled VmRSS %d MiB), budget %d MiB; %d oversized queries refused",
		duration, peak>>20, hwm>>20, peakRSS.Load()>>20, budgetMiB, refused.Load())
	for _, kind := range []string{"panel", "alert"} {
		var ds []time.Duration
		for _, s := range samples {
			if s.kind == kind {
				ds = append(ds, s.d)
			}
		}
		if len(ds) == 0 {
			t.Errorf("no %s query completed", kind)
			continue
		}
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		q := func(p float64) time.Duration { return ds[min(len(ds)-1, int(p*float64(len(ds))))] }
		t.Logf("%s: %d queries, p50 %s, p99 %s, max %s", kind, len(ds), q(0.50).Round(time.Millisecond), q(0.99).Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond))
	}
	for _, f := range failures {
		t.Error(f)
	}
	// The race detector's shadow memory (about twice what it watches) is in
	// the RSS but not the plugin's: with it, the Go heap — all the plugin
	// allocates, garbage included — is what must stay under the budget.
	switch {
	case raceEnabled && peakHeap.Load() >= budget:
		t.Errorf("peak Go heap %d MiB is not below the memory budget of %d MiB", peakHeap.Load()>>20, budgetMiB)
	case !raceEnabled && peak >= budget:
		t.Errorf("peak RSS %d MiB is not below the memory budget of %d MiB", peak>>20, budgetMiB)
	}
}

// currentRSS is this process's resident memory now (VmRSS), 0 if unknown.
func currentRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}
