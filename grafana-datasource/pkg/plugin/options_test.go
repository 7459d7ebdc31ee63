package plugin

import (
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
)

// A forest option the core refuses reaches the user under the query's JSON
// name, as a 400 of the query (downstream), whichever layer finds it: the
// parse (a value out of range) or the fit (more features per tree than the
// query has, which only the data tells).
func TestBadForestOptionNamesTheJSONField(t *testing.T) {
	cases := []struct {
		name   string
		forest map[string]any
		mode   string
		want   string
	}{
		{"trees", map[string]any{"trees": -1}, "series", "isolationForest.trees"},
		{"contamination", map[string]any{"contamination": "0.7"}, "series", "isolationForest.contamination"},
		{"maxSamples", map[string]any{"maxSamples": "0"}, "series", "isolationForest.maxSamples"},
		{"maxFeatures fraction", map[string]any{"maxFeatures": "1.5"}, "series", "isolationForest.maxFeatures"},
		{"maxFeatures over the columns, series", map[string]any{"maxFeatures": "3"}, "series", "isolationForest.maxFeatures"},
		{"maxFeatures over the columns, fleet", map[string]any{"maxFeatures": "3"}, "fleet", "isolationForest.maxFeatures"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ds := testDatasource(plantedUpstream())
			r := queryOne(t, ds, dataQuery("A", t0, t0.Add(2*time.Hour), map[string]any{"features": features(), "mode": c.mode, "isolationForest": c.forest}))
			if r.Error == nil {
				t.Fatalf("no error; frames %d", len(r.Frames))
			}
			msg := r.Error.Error()
			if !strings.Contains(msg, c.want) || r.Status != backend.StatusBadRequest || r.ErrorSource != backend.ErrorSourceDownstream {
				t.Errorf("status %d source %s error %q, want a 400 (downstream) naming %s", r.Status, r.ErrorSource, msg, c.want)
			}
			// The core's own spelling of the option stays inside.
			for _, core := range []string{"NEstimators", "MaxSamples", "MaxFeatures", "Contamination"} {
				if strings.Contains(msg, core) {
					t.Errorf("error %q names the core's option %s", msg, core)
				}
			}
		})
	}
}
