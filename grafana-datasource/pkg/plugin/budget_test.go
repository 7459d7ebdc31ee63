package plugin

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
)

// The query that took the plugin to 9.6 GB: 10,000 trees on every row
// (maxSamples "1.0") of 30 sensors over two days. It must be refused with the
// options to lower named, before any forest is grown.
func TestMemoryBudgetRefusesHugeForests(t *testing.T) {
	up := &fakeUpstream{gen: map[string]func(models.Window) model.Matrix{
		"pm": sensorGen(30, 10, func(int, time.Time) float64 { return 0 }),
		"rh": sensorGen(30, 50, func(int, time.Time) float64 { return 0 }),
	}}
	ds := testDatasource(up)
	for _, c := range []struct {
		name      string
		interval  time.Duration
		wantCalls int64 // upstream calls before the refusal
		want      string
	}{
		// At a 1-minute step one entity's forest alone is over the budget:
		// refused before fetching.
		{"one forest over the budget", time.Minute, 0, "isolationForest.trees × maxSamples (2881 rows for one entity) needs ~1319 MiB"},
		// At a 3-minute step one forest fits, thirty do not: refused once
		// the entities are known.
		{"thirty forests over the budget", 3 * time.Minute, 2, "isolationForest.trees × maxSamples for 30 forests (one per entity) needs ~13197 MiB"},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := up.calls.Load()
			q := dataQuery("A", t0, t0.Add(48*time.Hour), map[string]any{"features": features(),
				"isolationForest": map[string]any{"trees": 10000, "maxSamples": "1.0"}})
			q.Interval, q.MaxDataPoints = c.interval, 0
			start := time.Now()
			r := queryOne(t, ds, q)
			msg := fmt.Sprint(r.Error)
			if !strings.Contains(msg, c.want) || !strings.Contains(msg, "over the datasource's memory budget of 1024 MiB (setting memoryBudgetMiB); lower isolationForest.trees or isolationForest.maxSamples") {
				t.Errorf("error %q, want it to contain %q and name the setting and the options", msg, c.want)
			}
			if r.Status != backend.StatusBadRequest || r.ErrorSource != backend.ErrorSourceDownstream {
				t.Errorf("status %d, source %s; want 400 downstream (the query asks too much)", r.Status, r.ErrorSource)
			}
			if got := up.calls.Load() - before; got != c.wantCalls {
				t.Errorf("%d upstream calls before the refusal, want %d", got, c.wantCalls)
			}
			if el := time.Since(start); el > 10*time.Second {
				t.Errorf("refusal took %s: forests were grown first", el)
			}
		})
	}

	// The same query with the defaults (100 trees, 256 samples) runs.
	q := dataQuery("A", t0, t0.Add(48*time.Hour), map[string]any{"features": features()})
	q.Interval, q.MaxDataPoints = 3*time.Minute, 0
	if r := queryOne(t, ds, q); r.Error != nil || len(r.Frames) != 30 {
		t.Errorf("the default forest: %v, %d frames, want 30", r.Error, len(r.Frames))
	}
}

// Ordinary queries run under the default budget, and so does the reference
// workload's shape (100 sensors × 7 days at 2 minutes × 3 features), by the
// same estimate, with room to spare.
func TestMemoryBudgetPassesOrdinaryQueries(t *testing.T) {
	ds := testDatasource(plantedUpstream())
	for _, q := range []map[string]any{
		{"features": features()},
		{"features": features(), "forest": "shared", "isolationForest": map[string]any{"trees": 500}},
		{"features": features(), "mode": "fleet", "fleetAt": "each"},
		{"features": features(), "training": map[string]any{"range": "2d"}},
	} {
		if r := queryOne(t, ds, dataQuery("A", t0, t0.Add(6*time.Hour), q)); r.Error != nil {
			t.Errorf("%v: %v", q, r.Error)
		}
	}
}

// An upstream that answers without end is stopped by the budget as the
// points are decoded, not after the answer is held in full.
func TestMemoryBudgetStopsFetching(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"status":"success","data":{"resultType":"matrix","result":[`)
		var b strings.Builder
		for s := 0; r.Context().Err() == nil; s++ {
			b.Reset()
			if s > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"metric":{"sensor_index":"%d"},"values":[`, s)
			for i := 0; i < 1000; i++ {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `[%d,"1"]`, 1700000040+60*i)
			}
			b.WriteString(`]}`)
			if _, err := w.Write([]byte(b.String())); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ds := newTestInstance(t, srv.URL, `{"memoryBudgetMiB":2,"maxSeries":1000000}`, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	from := time.Unix(1700000040, 0) // on the minute grid
	q := dataQuery("A", from, from.Add(999*time.Minute), map[string]any{"features": []map[string]string{{"name": "pm", "expr": "pm"}}})
	resp, err := ds.QueryData(ctx, &backend.QueryDataRequest{Queries: []backend.DataQuery{q}})
	if err != nil {
		t.Fatal(err)
	}
	r := resp.Responses["A"]
	msg := fmt.Sprint(r.Error)
	if !strings.Contains(msg, `fetching feature "pm" needs`) || !strings.Contains(msg, "memory budget of 2.0 MiB (setting memoryBudgetMiB)") {
		t.Errorf("error %q, want the fetch refused by the budget", msg)
	}
	if r.Status != backend.StatusBadRequest {
		t.Errorf("status %d, want 400", r.Status)
	}
}

// An upstream that ignores the step (every raw sample) or repeats points
// cannot make a series hold more than the range has steps; both are said in
// warning notices with their counts.
func TestPointsCapAndOffGridNotices(t *testing.T) {
	from := time.Unix(1700000040, 0) // on the minute grid
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		b.WriteString(`{"status":"success","data":{"resultType":"matrix","result":[`)
		for s := 0; s < 3; s++ {
			if s > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"metric":{"sensor_index":"%d"},"values":[`, s)
			for i := 0; i <= 60; i++ { // the hour's 61 steps
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, `[%d,"%d"]`, from.Unix()+60*int64(i), i%7)
				// Off the minute grid: 6 raw samples per step (360 in all).
				for j := 1; j <= 6 && i < 60; j++ {
					fmt.Fprintf(&b, `,[%d,"1"]`, from.Unix()+60*int64(i)+int64(j)*9)
				}
			}
			if s == 0 { // 10,000 repeats of the last step: over the cap
				for k := 0; k < 10000; k++ {
					fmt.Fprintf(&b, `,[%d,"1"]`, from.Unix()+3600)
				}
			}
			b.WriteString(`]}`)
		}
		b.WriteString(`]}}`)
		w.Write([]byte(b.String()))
	}))
	defer srv.Close()
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	q := dataQuery("A", from, from.Add(time.Hour), map[string]any{"features": []map[string]string{{"name": "pm", "expr": "pm"}}})
	q.Interval, q.MaxDataPoints = time.Minute, 0
	r := queryOne(t, ds, q)
	if r.Error != nil {
		t.Fatal(r.Error)
	}
	var offGrid, capped *data.Notice
	for i, n := range r.Frames[0].Meta.Notices {
		switch {
		case strings.Contains(n.Text, "off the query's step grid"):
			offGrid = &r.Frames[0].Meta.Notices[i]
		case strings.Contains(n.Text, "points beyond that were ignored"):
			capped = &r.Frames[0].Meta.Notices[i]
		}
	}
	if offGrid == nil || offGrid.Severity != data.NoticeSeverityWarning || !strings.Contains(offGrid.Text, `feature "pm": 1080 samples off`) {
		t.Errorf("off-grid notice %+v, want a warning counting 3 × 360 samples", offGrid)
	}
	if capped == nil || capped.Severity != data.NoticeSeverityWarning || !strings.Contains(capped.Text, `feature "pm": 1 series sent more than 61 points`) ||
		!strings.Contains(capped.Text, "maxPointsPerSeries 11000); 10000 points beyond") {
		t.Errorf("cap notice %+v, want a warning naming the one series and its 10000 extra points", capped)
	}
	for _, f := range r.Frames {
		if f.Rows() != 61 {
			t.Errorf("%s: %d rows, want the 61 steps", f.Fields[1].Labels, f.Rows())
		}
	}
}

// Each instance's budget is added to the process's soft memory limit while
// it lives, so that the collector keeps garbage within the budgets too.
func TestInstanceBudgetSetsTheMemoryLimit(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Skip("GOMEMLIMIT is set: the operator's limit wins")
	}
	before := debug.SetMemoryLimit(-1)
	ds := newTestInstance(t, "http://127.0.0.1:1", `{"memoryBudgetMiB":300}`, nil)
	during := debug.SetMemoryLimit(-1)
	ds.Dispose()
	ds.Dispose() // idempotent
	after := debug.SetMemoryLimit(-1)
	wantDuring := int64(300 << 20)
	if before != math.MaxInt64 {
		wantDuring += before // instances of earlier tests still count
	}
	if during != wantDuring || after != before {
		t.Errorf("memory limit %d before, %d with the instance, %d after it; want %d with it and %d after", before, during, after, wantDuring, before)
	}
}
