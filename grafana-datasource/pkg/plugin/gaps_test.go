package plugin

import (
	"context"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/internal/promtest"
)

// The lookback experiment behind the README's "Missed readings and
// Prometheus's lookback" section, against the real Prometheus: query_range
// fills a grid point with the most recent sample up to the lookback delta
// (5 minutes) old, so a missed 2-minute reading arrives as the previous value,
// not as a missing cell, and only the part of a longer gap beyond the lookback
// reaches the imputation. last_over_time(metric[$__interval]) yields no
// sample where no reading lies within the step, so every missed reading
// becomes a missing cell that is imputed and flagged.

// gapsGrid is grid point k of the Gaps dataset (reading k-1 is the last
// reading at or before it).
func gapsGrid(k int) time.Time { return promtest.GapsGridStart.Add(time.Duration(k) * 2 * time.Minute) }

// missingCells returns, per sensor, the grid indexes of w without a sample.
func missingCells(t *testing.T, m model.Matrix, w models.Window) map[string][]int {
	t.Helper()
	out := map[string][]int{}
	for _, ss := range m {
		have := map[int]bool{}
		for _, p := range ss.Values {
			have[w.Index(p.Timestamp.Time())] = true
		}
		s := string(ss.Metric["sensor_index"])
		out[s] = []int{}
		for i := 0; i < w.Points(); i++ {
			if !have[i] {
				out[s] = append(out[s], i)
			}
		}
	}
	return out
}

func TestPrometheusLookbackHidesShortGaps(t *testing.T) {
	srv := promtest.Start(t, promtest.Gaps())
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	ds.logger = nopLogger()
	const first, last = 200, 700
	w := models.Window{Start: gapsGrid(first), End: gapsGrid(last), Step: 2 * time.Minute}
	idx := func(k int) int { return k - first } // grid point k's index in w
	sensor := fmt.Sprint(promtest.GapsSensor)
	m := promtest.MetricGapsPM25

	// Grid point k sees reading k-1 (83 s old); reading k-2 is 203 s old,
	// still within the 5-minute lookback; reading k-3 (323 s) is not.
	single := promtest.GapsSingle + 1 // the grid point whose fresh reading is missing
	var runCells []int                // grid points whose fresh reading is missing
	for k := promtest.GapsRun + 1; k <= promtest.GapsRun+promtest.GapsRunLen; k++ {
		runCells = append(runCells, idx(k))
	}
	cases := []struct {
		expr string
		want []int // missing cells of the gappy sensor
	}{
		// The single missed reading is invisible; of the 10-minute run only
		// the 4 grid points more than 5 minutes after the last reading are.
		{m, []int{idx(promtest.GapsRun + 2), idx(promtest.GapsRun + 3), idx(promtest.GapsRun + 4), idx(promtest.GapsRun + 5)}},
		// One cell per missed reading.
		{"last_over_time(" + m + "[2m])", append([]int{idx(single)}, runCells...)},
		{m + " and count_over_time(" + m + "[2m]) > 0", append([]int{idx(single)}, runCells...)},
	}
	results := map[string]model.Matrix{}
	for _, c := range cases {
		mat, _, err := ds.up.queryRange(context.Background(), "pm25", c.expr, w)
		if err != nil {
			t.Fatalf("%s: %v", c.expr, err)
		}
		results[c.expr] = mat
		miss := missingCells(t, mat, w)
		if len(miss) != 6 {
			t.Fatalf("%s: %d series, want 6", c.expr, len(miss))
		}
		for s, cells := range miss {
			want := []int{}
			if s == sensor {
				want = c.want
			}
			if fmt.Sprint(cells) != fmt.Sprint(want) {
				t.Errorf("%s: sensor %s misses cells %v, want %v", c.expr, s, cells, want)
			}
		}
	}
	// Where the raw metric hides the single missed reading, it repeats the
	// previous reading; last_over_time gives the same values elsewhere.
	value := func(expr string, k int) float64 {
		for _, ss := range results[expr] {
			if string(ss.Metric["sensor_index"]) == sensor {
				for _, p := range ss.Values {
					if p.Timestamp.Time().Equal(gapsGrid(k)) {
						return float64(p.Value)
					}
				}
			}
		}
		return math.NaN()
	}
	if a, b := value(m, single), value(m, single-1); a != b {
		t.Errorf("raw metric at the missed reading: %v, want the previous reading %v repeated", a, b)
	}
	lot := "last_over_time(" + m + "[2m])"
	for _, k := range []int{first, single - 1, single + 1, last} {
		if a, b := value(m, k), value(lot, k); a != b || math.IsNaN(a) {
			t.Errorf("grid point %d: raw %v, last_over_time %v", k, a, b)
		}
	}

	// Through the whole query: only missing cells are imputed and flagged.
	for _, c := range []struct {
		expr    string
		imputed int
	}{
		{m, 4},
		{"last_over_time(" + m + "[$__interval])", 1 + promtest.GapsRunLen},
	} {
		dq := dataQuery("G", gapsGrid(first), gapsGrid(last), map[string]any{
			"features":        []map[string]string{{"name": "pm25", "expr": c.expr}, {"name": "rh", "expr": promtest.MetricGapsHumidity}},
			"training":        map[string]any{"step": "2m"},
			"includeFeatures": true,
		})
		r := queryOne(t, ds, dq)
		if r.Error != nil {
			t.Fatalf("%s: %v", c.expr, r.Error)
		}
		got := map[string]int{}
		for _, f := range r.Frames {
			fld, i := f.FieldByName("pm25_imputed")
			if i < 0 {
				t.Fatalf("no pm25_imputed field: %v", f.Fields)
			}
			for j := 0; j < fld.Len(); j++ {
				got[fld.Labels["sensor_index"]] += int(fld.At(j).(float64))
			}
		}
		if got[sensor] != c.imputed || len(got) != 6 {
			t.Errorf("%s: imputed cells per sensor %v, want %d for sensor %s and none elsewhere", c.expr, got, c.imputed, sensor)
		}
		for s, n := range got {
			if s != sensor && n != 0 {
				t.Errorf("%s: sensor %s has %d imputed cells", c.expr, s, n)
			}
		}
	}
}

// Readings timestamped exactly on the step grid (the Planted dataset's
// humidity, every 5 minutes, ≈3% missing): a window one second shorter
// than the step turns exactly the missed readings into missing cells, on
// Prometheus 2.x (whose range selectors include their left end) and 3.x
// (whose do not) alike.
func TestPrometheusOnGridGapsWithShortWindow(t *testing.T) {
	srv := plantedServer(t)
	ds := newTestInstance(t, srv.URL, `{}`, nil)
	w := models.Window{Start: promtest.PlantedEnd.Add(-2 * 24 * time.Hour), End: promtest.PlantedEnd.Add(-5 * time.Minute), Step: 5 * time.Minute}
	d := promtest.Planted()
	var humidity promtest.Family
	for _, f := range d.Families {
		if f.Name == promtest.MetricHumidity {
			humidity = f
		}
	}
	want := 0
	for s := 0; s < d.Sensors; s++ {
		for i := 0; i < w.Points(); i++ {
			if _, ok := humidity.Value(s, w.At(i)); !ok {
				want++
			}
		}
	}
	if want == 0 {
		t.Fatal("the dataset has no missing humidity reading in the window")
	}
	count := func(expr string) int {
		mat, _, err := ds.up.queryRange(context.Background(), "rh", expr, w)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		n := 0
		for _, cells := range missingCells(t, mat, w) {
			n += len(cells)
		}
		return n
	}
	if got := count("last_over_time(" + promtest.MetricHumidity + "[4m59s])"); got != want {
		t.Errorf("last_over_time(…[4m59s]): %d missing cells, want the %d missed readings", got, want)
	}
	// Version-dependent, logged for the README: the raw metric and a window
	// of exactly the step.
	t.Logf("missed readings %d; missing cells: raw %d, last_over_time[5m] %d", want,
		count(promtest.MetricHumidity), count("last_over_time("+promtest.MetricHumidity+"[5m])"))
}
