package e2e

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// The helpers the end-to-end test measures with are tested here on small hand-made cases: a wrong
// helper would make the stack's figures wrong without the stack being at fault.

func TestGrafanaInterval(t *testing.T) {
	for _, c := range []struct {
		rng      time.Duration
		points   int
		lowLimit time.Duration
		want     time.Duration
	}{
		{6 * time.Hour, 940, 0, 20 * time.Second},          // 22.98 s → 20 s
		{24 * time.Hour, 940, 0, 2 * time.Minute},          // 91.9 s → 2 m
		{time.Hour, 940, 0, 5 * time.Second},               // 3.83 s → 5 s
		{time.Hour, 940, 2 * time.Minute, 2 * time.Minute}, // the min interval wins
		{7 * 24 * time.Hour, 940, 0, 10 * time.Minute},     // 643 s → 10 m
		{time.Second, 940, 0, time.Millisecond},            // 1.06 ms → 1 ms
	} {
		if got := grafanaInterval(c.rng, c.points, c.lowLimit); got != c.want {
			t.Errorf("grafanaInterval(%s, %d, %s) = %s, want %s", c.rng, c.points, c.lowLimit, got, c.want)
		}
	}
}

func TestDashboardVariableValue(t *testing.T) {
	for _, c := range []struct {
		name, json, want string
	}{
		{"all with allValue", `{"name":"sensor","multi":true,"includeAll":true,"allValue":".*","current":{"value":["$__all"]}}`, ".*"},
		{"all from options", `{"name":"s","includeAll":true,"current":{"value":"$__all"},"options":[{"value":"$__all"},{"value":"1"},{"value":"2.5"}]}`, `(1|2\.5)`},
		{"multi selection", `{"name":"s","multi":true,"current":{"value":["900001","900002"]}}`, "(900001|900002)"},
		{"single custom", `{"name":"training","current":{"value":"panel"}}`, "panel"},
	} {
		var v dashboardVariable
		if err := json.Unmarshal([]byte(c.json), &v); err != nil {
			t.Fatal(err)
		}
		got, err := v.value()
		if err != nil || got != c.want {
			t.Errorf("%s: %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	var empty dashboardVariable
	if _, err := empty.value(); err == nil {
		t.Error("a variable without a value resolved")
	}
}

func TestInterpolate(t *testing.T) {
	vars := map[string]string{"sensor": ".*", "training": "panel"}
	for in, want := range map[string]string{
		`x{sensor_index=~"$sensor"}`:         `x{sensor_index=~".*"}`,
		`x{sensor_index=~"${sensor}"}`:       `x{sensor_index=~".*"}`,
		`[[training]]`:                       `panel`,
		`rate(x[$__rate_interval]) $unknown`: `rate(x[$__rate_interval]) $unknown`,
	} {
		if got := interpolate(in, vars); got != want {
			t.Errorf("interpolate(%q) = %q, want %q", in, got, want)
		}
	}
	got, err := interpolateJSON(json.RawMessage(`{"features":[{"expr":"a{s=~\"$sensor\"}"}],"training":{"range":"$training"},"n":3}`), vars)
	if err != nil || string(got) != `{"features":[{"expr":"a{s=~\".*\"}"}],"n":3,"training":{"range":"panel"}}` {
		t.Errorf("interpolateJSON: %s, %v", got, err)
	}
}

func TestOverrideSettings(t *testing.T) {
	conf := "[[inputs.purpleair]]\n  ## sensors = 1 in a comment stays\n  sensors = 50\n  start = \"-6h\"\n  # label_faults = false\n"
	got := overrideSettings(conf, map[string]string{"sensors": "30", "start": `"2024-01-01T00:00:00Z"`, "label_faults": "true", "price": `"$5"`})
	for _, want := range []string{"  sensors = 30\n", "  start = \"2024-01-01T00:00:00Z\"\n", "## sensors = 1 in a comment stays", "  label_faults = true\n", `  price = "$5"`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "sensors = 50") || strings.Count(got, "label_faults = true") != 1 {
		t.Errorf("override did not replace exactly:\n%s", got)
	}
}

func TestVarDefaults(t *testing.T) {
	for in, want := range map[string]string{
		"--storage.tsdb.retention.time=${PROMETHEUS_RETENTION:-30d}": "--storage.tsdb.retention.time=30d",
		"${PURPLEAIR_API_KEY:-}":                                     "",
		"${SET_BY_NOBODY}":                                           "",
		"--web.enable-lifecycle":                                     "--web.enable-lifecycle",
	} {
		if got := varDefaults(in); got != want {
			t.Errorf("varDefaults(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPromMetricName(t *testing.T) {
	for _, c := range []struct{ m, f, want string }{
		{"purpleair", "pm2.5_cf_1", "purpleair_pm2_5_cf_1"},
		{"purpleair", "pm10.0_cf_1", "purpleair_pm10_0_cf_1"},
		{"purpleair", "anomaly_score", "purpleair_anomaly_score"},
		{"9lives", "a-b", "_lives_a_b"},
	} {
		if got := promMetricName(c.m, c.f); got != c.want {
			t.Errorf("promMetricName(%q, %q) = %q, want %q", c.m, c.f, got, c.want)
		}
	}
}

func TestDetection(t *testing.T) {
	d := newDetection()
	for _, p := range []struct {
		kind string
		flag bool
	}{
		{"spike", true}, {"spike", false}, {"stuck_high", true},
		{"flatline", true}, {"flatline", false},
		{"none", true}, {"none", false}, {"none", false},
	} {
		d.add(p.kind, p.flag)
	}
	d.finish()
	if d.TP != 3 || d.FN != 2 || d.FP != 1 || d.TN != 2 || d.Points != 8 {
		t.Errorf("counts %+v", d)
	}
	if float64(d.Precision) != 0.75 || float64(d.Recall) != 0.6 {
		t.Errorf("precision %v recall %v, want 0.75 0.6", d.Precision, d.Recall)
	}
	// Flat-lines count neither way for the value-fault figures.
	if got := float64(d.ValueFaultsPrecision); got != 2.0/3 {
		t.Errorf("value-fault precision %v, want 2/3", got)
	}
	if got := float64(d.ValueFaultsRecall); got != 2.0/3 {
		t.Errorf("value-fault recall %v, want 2/3", got)
	}
	if k := d.ByKind["spike"]; k.Faulty != 2 || k.Detected != 1 {
		t.Errorf("spike %+v", k)
	}
	b, err := json.Marshal(newDetection().finish())
	if err != nil || !strings.Contains(string(b), `"precision":null`) {
		t.Errorf("empty detection marshals as %s, %v", b, err)
	}
}

func TestTruthIndex(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := func(min int, fault string, particles bool) reading {
		f := map[string]any{"humidity": 40.0}
		if particles {
			f[particleField] = 10.0
		}
		return reading{Name: "purpleair", Tags: map[string]string{sensorTag: "1", faultTag: fault}, Fields: f, Time: t0.Add(time.Duration(min) * time.Minute)}
	}
	// Readings every 2 minutes; a spike at 4, a particle drop-out at 8 and 10.
	ix := newTruthIndex([]reading{r(0, "none", true), r(2, "none", true), r(4, "spike", true), r(6, "none", true),
		r(8, "dropout", false), r(10, "dropout", false), r(20, "none", true)}, 5*time.Minute)
	for _, c := range []struct {
		min     float64
		kind    string
		visible bool
	}{
		{-1, "none", false},
		{1, "none", true},
		{4, "spike", true},  // the spike itself
		{6, "spike", true},  // still within the lookback of its own series
		{9.5, "none", true}, // the spike (4 min) has left the lookback, the clean reading at 6 has not
		{12, "none", false}, // drop-outs carry no particle reading: nothing within 5 minutes
		{20, "none", true},
	} {
		g := t0.Add(time.Duration(c.min * float64(time.Minute)))
		kind, visible := ix.at("1", g)
		if kind != c.kind || visible != c.visible {
			t.Errorf("at %v min: %q %v, want %q %v", c.min, kind, visible, c.kind, c.visible)
		}
	}
	if _, visible := ix.at("2", t0); visible {
		t.Error("an unknown sensor is visible")
	}
}

func TestExpectedLastOverTimeMax(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := func(sec int, sensor, fault string, score float64) reading {
		return reading{Name: "purpleair", Tags: map[string]string{sensorTag: sensor, faultTag: fault}, Fields: map[string]any{scoreField: score}, Time: t0.Add(time.Duration(sec) * time.Second)}
	}
	rs := []reading{
		r(0, "1", "none", 0.9),    // outside the window
		r(100, "1", "none", 0.2),  // older sample of the same series
		r(200, "1", "none", 0.3),  // latest of series {1, none}
		r(150, "1", "spike", 0.8), // latest of series {1, spike}: the max
		r(250, "2", "none", 0.4),
		r(700, "2", "none", 0.99), // after the evaluation time
	}
	got := expectedLastOverTimeMax(rs, scoreField, t0.Add(600*time.Second), 10*time.Minute)
	if len(got) != 2 || got["1"] != 0.8 || got["2"] != 0.4 {
		t.Errorf("got %v, want map[1:0.8 2:0.4]", got)
	}
	if v, ok := promValue(true); !ok || v != 1 {
		t.Error("bool true is not sample 1")
	}
	if _, ok := promValue("x"); ok {
		t.Error("a string field became a sample")
	}
	if !math.IsNaN(ratio(0, 0)) {
		t.Error("0/0 is not NaN")
	}
}

func TestAUC(t *testing.T) {
	pts := func(clean, faulty []float64) []scoredPoint {
		var out []scoredPoint
		for _, v := range clean {
			out = append(out, scoredPoint{v, noFault})
		}
		for _, v := range faulty {
			out = append(out, scoredPoint{v, "spike"})
		}
		return out
	}
	all := func(string) bool { return true }
	for _, c := range []struct {
		name          string
		clean, faulty []float64
		want          float64
	}{
		{"separated", []float64{0.1, 0.2, 0.3}, []float64{0.8, 0.9}, 1},
		{"reversed", []float64{0.8, 0.9}, []float64{0.1}, 0},
		{"all tied", []float64{0.5, 0.5}, []float64{0.5}, 0.5},
		{"one of two pairs", []float64{0.2, 0.6}, []float64{0.4}, 0.5},
		{"a tie counts half", []float64{0.1, 0.4}, []float64{0.4}, 0.75},
	} {
		if got := auc(pts(c.clean, c.faulty), all); got != c.want {
			t.Errorf("%s: AUC %v, want %v", c.name, got, c.want)
		}
	}
	if !math.IsNaN(auc(pts([]float64{1}, nil), all)) {
		t.Error("AUC without faulty points is not NaN")
	}
}

func TestLogProblems(t *testing.T) {
	log := "2026-11-25T19:40:34Z I! [agent] ok\n" +
		"2026-11-25T19:40:34Z W! [agent] [\"outputs.http\"] did not complete within its flush interval\n" +
		"2026-11-25T19:40:34Z W! [serializers] dropped\n" +
		"2026-11-25T19:40:44Z W! [serializers] dropped\n" +
		"2026-11-25T19:41:26Z E! [outputs.http] Received non-retryable status 400. Metrics are lost.\n"
	got := logProblems(log)
	want := []string{"2× W! [serializers] dropped", "1× E! [outputs.http] Received non-retryable status 400. Metrics are lost."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("logProblems = %q, want %q", got, want)
	}
}
