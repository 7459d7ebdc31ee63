package anomaly

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/testutil"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// snapshot is the shared PurpleAir /v1/sensors response the reference flow streams.
type snapshot struct {
	DataTimeStamp int64    `json:"data_time_stamp"`
	Fields        []string `json:"fields"`
	Data          [][]any  `json:"data"`
}

// loadSnapshot reads ../shared/data/purpleair-sensors-snapshot.json relative to the repository root,
// skipping the test when the shared data is not there.
func loadSnapshot(t testing.TB) *snapshot {
	t.Helper()
	path := repotest.SharedData(t, repotest.SharedSnapshot)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s snapshot
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &s
}

// metrics turns each row into the metric the PurpleAir input emits: sensor_index as tag, every non-null
// number as a float field (null readings are absent), timestamped with the data time.
func (s *snapshot) metrics() []telegraf.Metric {
	ts := time.Unix(s.DataTimeStamp, 0)
	out := make([]telegraf.Metric, 0, len(s.Data))
	for _, row := range s.Data {
		tags := map[string]string{}
		fields := map[string]any{}
		for i, name := range s.Fields {
			v, ok := row[i].(float64)
			if !ok {
				continue
			}
			if name == "sensor_index" {
				tags[name] = strconv.FormatInt(int64(v), 10)
				continue
			}
			fields[name] = v
		}
		out = append(out, metric.New("purpleair", tags, fields, ts))
	}
	return out
}

// referenceProcessor is the reference flow's configuration, written as a user would (issue 3).
func referenceProcessor(t testing.TB, mode string) *Anomaly {
	t.Helper()
	p := newDefault()
	p.Fields = []string{pm1}
	p.KeyTags = []string{}
	p.Trees, p.Height, p.WindowSize, p.Seed = 10, 8, 72, 11
	p.Threshold = 0.7
	p.Limits = map[string][]float64{pm1: {0.0, 1200.0}}
	p.Impute = map[string]string{pm1: "mean"}
	p.ScoreAllMissing = true // the reference imputes a null pm1.0_cf_1 and scores it
	p.Mode = mode
	p.Log = testutil.Logger{}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	if err := p.Start(&testutil.Accumulator{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// TestReferenceFlowScores checks that the processor, configured as the reference flow, gives exactly the
// scores of driving pkg/impute's running mean and pkg/anomaly's Half-Space Trees the way the reference
// (bytewax/ml-iot dataflow.py) drives River: StatImputer(Mean) learn_one then transform_one, then
// score_one then learn_one on {'pm1.0_cf_1': value}, one global model, over the snapshot in API order.
// (The core packages' own tests prove those equal River.)
func TestReferenceFlowScores(t *testing.T) {
	snap := loadSnapshot(t)
	col := -1
	for i, f := range snap.Fields {
		if f == pm1 {
			col = i
		}
	}
	if col < 0 {
		t.Fatalf("snapshot has no %s column", pm1)
	}
	p := referenceProcessor(t, ModeAnnotate)
	ref := newReference(t, []string{pm1}, map[string][2]float64{pm1: {0, 1200}}, 10, 8, 72, 11)

	in := snap.metrics()
	out := run(t, p, in...)
	if len(out) != len(in) {
		t.Fatalf("%d metrics out of %d in annotate mode", len(out), len(in))
	}
	var nulls, warmups, anomalies int
	for i, row := range snap.Data {
		v, ok := row[col].(float64)
		if !ok {
			v = math.NaN()
			nulls++
		}
		x, score, warm := ref.step(v)
		m := out[i]
		if !ok {
			got, _ := m.GetField(pm1)
			imp, _ := m.GetField("imputed")
			if got != x[0] || imp != pm1 {
				t.Fatalf("row %d: null %s became %v (imputed=%v), want the running mean %v", i, pm1, got, imp, x[0])
			}
		}
		if !warm {
			warmups++
			if score != 0 || !m.HasField("anomaly_warmup") || m.HasField("anomaly_score") {
				t.Fatalf("row %d: warmup: core score %v, metric %v", i, score, m)
			}
			continue
		}
		got, _ := m.GetField("anomaly_score")
		if got != score {
			t.Fatalf("row %d (sensor %s): score %v, reference %v", i, m.Tags()["sensor_index"], got, score)
		}
		flag, _ := m.GetField("anomaly")
		if flag != (score > 0.7) {
			t.Fatalf("row %d: anomaly = %v for score %v", i, flag, score)
		}
		if score > 0.7 {
			anomalies++
		}
	}
	if nulls == 0 || warmups != 72 {
		t.Fatalf("%d null readings and %d warmup rows; the test is meant to cover imputation and a 72-row window", nulls, warmups)
	}
	t.Logf("%d rows: %d warmup, %d imputed, %d above 0.7", len(in), warmups, nulls, anomalies)

	// anomalies_only passes exactly the rows above the threshold.
	only := run(t, referenceProcessor(t, ModeAnomaliesOnly), snap.metrics()...)
	if len(only) != anomalies {
		t.Fatalf("anomalies_only passed %d metrics, want the %d scoring above 0.7", len(only), anomalies)
	}
}
