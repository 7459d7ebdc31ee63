package stacktest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/internal/promtest"
	"github.com/hazewatch/hazewatch/internal/repotest"
)

// firstStartBudget is how long a newcomer waits, from Telegraf's start, for a filled dashboard after a
// plain `docker compose up` (issue 15: "shows nothing for two hours").
const firstStartBudget = 60 * time.Second

// TestFirstStartFillsDashboard starts Prometheus and Telegraf with compose's defaults and nothing else
// (no PURPLEAIR_* variable set: what `docker compose up` on a fresh clone does) and holds the first
// start to a filled dashboard within firstStartBudget: within that time, counted from Telegraf's start,
//   - every metric the dashboard and the alert rules read is in Prometheus,
//   - every PromQL panel and rule answers, with every sensor where it charts per sensor,
//   - the streaming score (anomaly_score from the processor) is there for every sensor,
//   - the dashboard's default time range is covered: each sensor has readings spanning it,
//   - and the batch score (the datasource's preset and Isolation Forest queries, as provisioned)
//     answers for every sensor.
//
// TestStackIntoPrometheus asks for the replay explicitly and allows minutes; this one asks for nothing.
func TestFirstStartFillsDashboard(t *testing.T) {
	plugins := buildPlugins(t)
	st := startStack(t, plugins, t.TempDir(), nil)
	started := time.Now()
	deadline := started.Add(firstStartBudget)
	sensors := sensorCount(t)
	span := dashboardDefaultRange(t)
	step := simStep(t)

	// A reading's last_seen is its own time, so the oldest one left in the dashboard's range tells how
	// much of the range the history covers. Two steps of slack: the range's edges fall between readings.
	covered := fmt.Sprintf(`time() - min_over_time(purpleair_last_seen[%s])`, model.Duration(span))
	wantCovered := (span - 2*step).Seconds()

	var missing []string
	for {
		missing = firstStartGaps(t, st.prom, sensors, covered, wantCovered)
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(missing) > 0 {
		st.stop()
		t.Fatalf("%v after Telegraf started (compose defaults), the dashboard is not filled:\n  %s\ntelegraf log:\n%s",
			firstStartBudget, strings.Join(missing, "\n  "), st.log)
	}
	promReady := time.Since(started)

	// The batch opinion: every provisioned datasource query answers for every sensor over the history.
	checkBatchQueries(t, st.prom.URL, sensors)
	total := time.Since(started)
	t.Logf("first start with compose defaults: Prometheus filled in %v, batch queries answered by %v (budget %v)",
		promReady.Round(100*time.Millisecond), total.Round(100*time.Millisecond), firstStartBudget)
	if total > firstStartBudget {
		t.Errorf("the dashboard took %v to fill, more than %v", total.Round(time.Second), firstStartBudget)
	}
}

// firstStartGaps lists what the dashboard would still show empty; nil when it is filled.
func firstStartGaps(t *testing.T, prom *promtest.Server, sensors int, covered string, wantCovered float64) []string {
	t.Helper()
	var gaps []string
	// Without failing the test: the first polls may find Prometheus starting. These are the names of
	// every stored series, however old its samples, as Grafana's metric browser lists them.
	names, _ := prom.MetricNames(context.Background())
	for _, n := range referencedMetrics(t) {
		if !slices.Contains(names, n) {
			gaps = append(gaps, "no "+n+" in Prometheus")
		}
	}
	for _, n := range []string{"purpleair_anomaly_score", "purpleair_anomaly"} {
		if got := seriesCount(prom, fmt.Sprintf(`count by (sensor_index) (%s)`, n)); got < sensors {
			gaps = append(gaps, fmt.Sprintf("%s for %d of %d sensors", n, got, sensors))
		}
	}
	for _, q := range provisionedPromQL(t) {
		res, err := prom.Query(context.Background(), q.expr, time.Time{})
		switch {
		case err != nil:
			gaps = append(gaps, fmt.Sprintf("%s: %v", q.where, err))
		case len(res) < q.wantSeries:
			gaps = append(gaps, fmt.Sprintf("%s: %d series, want %d", q.where, len(res), q.wantSeries))
		}
	}
	res, err := prom.Query(context.Background(), covered, time.Time{})
	if err != nil || len(res) < sensors {
		return append(gaps, fmt.Sprintf("history: %d sensors answer %s (%v)", len(res), covered, err))
	}
	for _, s := range res {
		if v := s.Samples[0].V; v < wantCovered {
			gaps = append(gaps, fmt.Sprintf("sensor %s: history spans %.0f s of the dashboard's %.0f s", s.Labels["sensor_index"], v, wantCovered))
			break
		}
	}
	return gaps
}

func seriesCount(prom *promtest.Server, expr string) int {
	res, err := prom.Query(context.Background(), expr, time.Time{})
	if err != nil {
		return 0
	}
	return len(res)
}

// dashboardDefaultRange is the provisioned dashboard's default time range ("now-6h" to "now").
func dashboardDefaultRange(t testing.TB) time.Duration {
	t.Helper()
	var d struct {
		Time struct{ From, To string } `json:"time"`
	}
	if err := json.Unmarshal(repotest.ReadFile(t, dashboardFile), &d); err != nil {
		t.Fatal(err)
	}
	from, ok := strings.CutPrefix(d.Time.From, "now-")
	span, err := model.ParseDuration(from)
	if !ok || err != nil || d.Time.To != "now" {
		t.Fatalf("%s: time %+v is not now-<duration> to now", dashboardFile, d.Time)
	}
	return time.Duration(span)
}
