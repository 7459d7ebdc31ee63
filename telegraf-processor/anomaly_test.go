package anomaly

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/common/shim"
	"github.com/influxdata/telegraf/testutil"

	"github.com/hazewatch/hazewatch/pkg/anomaly/hst"
	"github.com/hazewatch/hazewatch/pkg/impute"
)

const pm1 = "pm1.0_cf_1"

var t0 = time.Unix(1712793665, 0)

// newTestProcessor returns an initialised processor with the reference flow's settings except a short
// window (4), so warmup ends quickly; mod adjusts options before Init.
func newTestProcessor(t testing.TB, mod func(*Anomaly)) (*Anomaly, *testutil.CaptureLogger) {
	t.Helper()
	p := newDefault()
	p.Fields = []string{pm1}
	p.Limits = map[string][]float64{pm1: {0, 1200}}
	p.WindowSize = 4
	p.Seed = 11
	log := &testutil.CaptureLogger{}
	p.Log = log
	if mod != nil {
		mod(p)
	}
	if err := p.Init(); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if err := p.Start(&testutil.Accumulator{}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(p.Stop)
	return p, log
}

// run passes metrics through p and returns what came out.
func run(t testing.TB, p *Anomaly, in ...telegraf.Metric) []telegraf.Metric {
	t.Helper()
	acc := &testutil.Accumulator{}
	for _, m := range in {
		if err := p.Add(m, acc); err != nil {
			t.Fatalf("Add: %v", err)
		}
	}
	return acc.GetTelegrafMetrics()
}

func reading(sensor string, fields map[string]any, i int) telegraf.Metric {
	tags := map[string]string{}
	if sensor != "" {
		tags["sensor_index"] = sensor
	}
	return metric.New("purpleair", tags, fields, t0.Add(time.Duration(i)*time.Minute))
}

// reference drives the core packages the way the reference flow drives River: per field, the running
// mean learns an observed value and then fills a missing one; then score_one, then learn_one.
type reference struct {
	h   *hst.Model
	s   *hst.State
	imp []impute.Streaming
	x   []float64
}

func newReference(t testing.TB, fields []string, limits map[string][2]float64, trees, height, window int, seed int64) *reference {
	t.Helper()
	h, err := hst.New(fields, hst.Options{
		Trees: trees, Height: height, WindowSize: window, Limits: limits, Seed: seed,
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &reference{h: h, s: h.NewState(), x: make([]float64, len(fields))}
	for range fields {
		imp, err := impute.NewStreaming("mean", 0)
		if err != nil {
			t.Fatal(err)
		}
		r.imp = append(r.imp, imp)
	}
	return r
}

// step takes one record (NaN = missing) and returns the imputed record, the score and whether the
// model was past its first window when scoring.
func (r *reference) step(values ...float64) (x []float64, score float64, warm bool) {
	for i, v := range values {
		if !math.IsNaN(v) {
			r.imp[i].Update(v)
			r.x[i] = v
		} else {
			r.x[i] = r.imp[i].Value()
		}
	}
	warm = r.s.Warm()
	score = r.h.Score(r.s, r.x)
	r.h.Learn(r.s, r.x)
	return r.x, score, warm
}

func TestAnnotateScoresLikeTheCore(t *testing.T) {
	values := []float64{3, 5, 4, 6, 5, 900, 4, 5, 6, 1100, 5}
	p, _ := newTestProcessor(t, func(p *Anomaly) { p.Threshold = 0.5 })
	ref := newReference(t, []string{pm1}, map[string][2]float64{pm1: {0, 1200}}, 10, 8, 4, 11)

	var in, want []telegraf.Metric
	scored := 0
	for i, v := range values {
		in = append(in, reading("53", map[string]any{pm1: v, "rssi": int64(-50)}, i))
		_, score, warm := ref.step(v)
		fields := map[string]any{pm1: v, "rssi": int64(-50)}
		if warm {
			fields["anomaly_score"] = score
			fields["anomaly"] = score > 0.5
			scored++
		} else {
			if score != 0 {
				t.Fatalf("core scored %v during warmup", score)
			}
			fields["anomaly_warmup"] = true
		}
		want = append(want, reading("53", fields, i))
	}
	if scored != len(values)-4 {
		t.Fatalf("reference scored %d records, want %d after a window of 4", scored, len(values)-4)
	}
	testutil.RequireMetricsEqual(t, want, run(t, p, in...))
}

func TestIntegerFieldsAreNumbers(t *testing.T) {
	pi, _ := newTestProcessor(t, nil)
	pf, _ := newTestProcessor(t, nil)
	for i := range 12 {
		gotI := run(t, pi, reading("", map[string]any{pm1: int64(i * 7)}, i))[0]
		gotF := run(t, pf, reading("", map[string]any{pm1: float64(i * 7)}, i))[0]
		si, _ := gotI.GetField("anomaly_score")
		sf, _ := gotF.GetField("anomaly_score")
		if si != sf {
			t.Fatalf("record %d: int64 input scored %v, float64 input %v", i, si, sf)
		}
	}
	u, _ := newTestProcessor(t, nil)
	if got := run(t, u, reading("", map[string]any{pm1: uint64(3)}, 0))[0]; got.HasField("anomaly_skipped") {
		t.Errorf("uint64 field not scored: %v", got)
	}
}

func TestImputation(t *testing.T) {
	two := []string{pm1, "pm2.5_cf_1"}
	tests := []struct {
		name        string
		emitImputed bool
		allMissing  bool // score_all_missing
		impute      map[string]string
		in          []map[string]any
		want        []map[string]any // fields added or changed by the processor, besides score fields
	}{
		{
			name:        "running mean fills absent and NaN, listed and emitted",
			emitImputed: true,
			allMissing:  true,
			in: []map[string]any{
				{pm1: 2.0, "pm2.5_cf_1": 10.0},
				{pm1: 4.0},
				{"pm2.5_cf_1": math.NaN(), pm1: 6.0},
				{"rssi": int64(-40)},
			},
			want: []map[string]any{
				{},
				{"pm2.5_cf_1": 10.0, "imputed": "pm2.5_cf_1"},
				{"pm2.5_cf_1": 10.0, "imputed": "pm2.5_cf_1"},
				{pm1: 4.0, "pm2.5_cf_1": 10.0, "imputed": "pm1.0_cf_1,pm2.5_cf_1"},
			},
		},
		{
			name:        "emit_imputed = false lists but does not write values",
			emitImputed: false,
			in: []map[string]any{
				{pm1: 2.0, "pm2.5_cf_1": 10.0},
				{pm1: 4.0},
			},
			want: []map[string]any{
				{},
				{"imputed": "pm2.5_cf_1"},
			},
		},
		{
			name:        "last observation carried forward",
			emitImputed: true,
			impute:      map[string]string{"pm2.5_cf_1": "last"},
			in: []map[string]any{
				{pm1: 2.0, "pm2.5_cf_1": 10.0},
				{pm1: 4.0, "pm2.5_cf_1": 30.0},
				{pm1: 4.0},
			},
			want: []map[string]any{
				{},
				{},
				{"pm2.5_cf_1": 30.0, "imputed": "pm2.5_cf_1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newTestProcessor(t, func(p *Anomaly) {
				p.Fields = two
				p.Limits = nil // built-in particle limits
				p.EmitImputed = tt.emitImputed
				p.ScoreAllMissing = tt.allMissing
				p.Impute = tt.impute
			})
			for i, fields := range tt.in {
				in := map[string]any{}
				for k, v := range fields {
					in[k] = v
				}
				out := run(t, p, reading("", fields, i))
				if len(out) != 1 {
					t.Fatalf("record %d: %d metrics out", i, len(out))
				}
				got := out[0].Fields()
				for _, k := range []string{"anomaly_warmup", "anomaly_score", "anomaly"} {
					delete(got, k)
				}
				want := map[string]any{}
				for k, v := range in {
					if f, ok := v.(float64); ok && math.IsNaN(f) {
						continue // the metric's NaN is replaced or, unemitted, left; compare below
					}
					want[k] = v
				}
				for k, v := range tt.want[i] {
					want[k] = v
				}
				for k, v := range got {
					if f, ok := v.(float64); ok && math.IsNaN(f) {
						if tt.emitImputed {
							t.Errorf("record %d: field %s still NaN with emit_imputed", i, k)
						}
						delete(got, k)
					}
				}
				if !equalFields(got, want) {
					t.Errorf("record %d: fields %v, want %v", i, got, want)
				}
			}
		})
	}
}

func equalFields(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestUnscorableMetricsPassWithReason(t *testing.T) {
	tests := []struct {
		name   string
		mod    func(*Anomaly)
		fields map[string]any
		tags   map[string]string
		reason string
	}{
		{"string", nil, map[string]any{pm1: "12"}, nil, `"pm1.0_cf_1" is a string, not a number`},
		{"boolean", nil, map[string]any{pm1: true}, nil, `"pm1.0_cf_1" is a boolean, not a number`},
		{"+Inf", nil, map[string]any{pm1: math.Inf(1)}, nil, `"pm1.0_cf_1" is +Inf`},
		{"-Inf", nil, map[string]any{pm1: math.Inf(-1)}, nil, `"pm1.0_cf_1" is -Inf`},
		{"no field", nil, map[string]any{"rssi": int64(-3)}, nil, "no scorable field"},
		{"only NaN", nil, map[string]any{pm1: math.NaN()}, nil, "no scorable field"},
		{"no field, impute none", func(p *Anomaly) { p.ImputeDefault = "none" }, map[string]any{"rssi": int64(-3)}, nil, "no scorable field"},
		{"no field, impute none, score_all_missing", func(p *Anomaly) { p.ImputeDefault = "none"; p.ScoreAllMissing = true }, map[string]any{"rssi": int64(-3)}, nil, "no scorable field"},
		{"NaN, impute none", func(p *Anomaly) { p.ImputeDefault = "none" }, map[string]any{pm1: math.NaN(), "rssi": int64(-3)}, nil, "no scorable field"},
		{
			"one field missing, impute none",
			func(p *Anomaly) {
				p.Fields = []string{pm1, "pm2.5_cf_1"}
				p.Limits = nil
				p.Impute = map[string]string{"pm2.5_cf_1": "none"}
			},
			map[string]any{pm1: 3.0}, nil, `missing "pm2.5_cf_1" (impute = none)`,
		},
		{"missing key tag", func(p *Anomaly) { p.KeyTags = []string{"sensor_index"} }, map[string]any{pm1: 3.0}, map[string]string{"other": "x"}, `missing key tag "sensor_index"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, log := newTestProcessor(t, tt.mod)
			clean, _ := newTestProcessor(t, tt.mod) // never sees the bad metric
			good := func(i int) telegraf.Metric {
				return metric.New("purpleair", map[string]string{"sensor_index": "1"}, map[string]any{pm1: float64(i), "pm2.5_cf_1": 1.0}, t0)
			}
			// Interleave: if the bad metric changed any model, later scores would differ from clean's.
			for i := range 10 {
				if i == 5 {
					bad := metric.New("purpleair", tt.tags, tt.fields, t0)
					out := run(t, p, bad)
					if len(out) != 1 {
						t.Fatalf("bad metric: %d metrics out, want it passed through", len(out))
					}
					if got, _ := out[0].GetField("anomaly_skipped"); got != tt.reason {
						t.Errorf("anomaly_skipped = %q, want %q", got, tt.reason)
					}
					for _, f := range []string{"anomaly_score", "anomaly", "anomaly_warmup", "imputed"} {
						if out[0].HasField(f) {
							t.Errorf("unscored metric has field %s", f)
						}
					}
					if w := log.Warnings(); len(w) != 1 || !strings.Contains(w[0], tt.reason) {
						t.Errorf("warnings %q, want one naming %q", w, tt.reason)
					}
				}
				got := run(t, p, good(i))[0]
				want := run(t, clean, good(i))[0]
				testutil.RequireMetricEqual(t, want, got)
			}
		})
	}
}

func TestSkipWarningsAreRateLimited(t *testing.T) {
	now := t0
	p, log := newTestProcessor(t, func(p *Anomaly) { p.now = func() time.Time { return now } })
	bad := func() telegraf.Metric { return reading("", map[string]any{pm1: "x"}, 0) }
	for range 100 {
		run(t, p, bad())
	}
	if n := len(log.Warnings()); n != 1 {
		t.Fatalf("%d warnings for 100 bad metrics within the interval, want 1", n)
	}
	now = now.Add(11 * time.Second)
	run(t, p, bad())
	w := log.Warnings()
	if len(w) != 2 || !strings.Contains(w[1], "and 99 more like this") {
		t.Fatalf("warnings after the interval: %q, want a second one counting 99 suppressed", w)
	}
}

func TestAnomaliesOnlyDropsWithTracking(t *testing.T) {
	values := []float64{5, 5, 5, 5, 5, 5, 1100, 5, 1150}
	var mu sync.Mutex
	var delivered []telegraf.DeliveryInfo
	notify := func(di telegraf.DeliveryInfo) {
		mu.Lock()
		delivered = append(delivered, di)
		mu.Unlock()
	}
	p, _ := newTestProcessor(t, func(p *Anomaly) { p.Mode = ModeAnomaliesOnly })
	ref := newReference(t, []string{pm1}, map[string][2]float64{pm1: {0, 1200}}, 10, 8, 4, 11)

	var in, want []telegraf.Metric
	for i, v := range append(values, math.NaN()) {
		fields := map[string]any{pm1: v}
		if math.IsNaN(v) {
			fields = map[string]any{pm1: "bad"} // unscorable: dropped in this mode
		} else {
			_, score, warm := ref.step(v)
			if warm && score > 0.7 {
				want = append(want, reading("", map[string]any{pm1: v, "anomaly_score": score, "anomaly": true}, i))
			}
		}
		m, _ := metric.WithTracking(reading("", fields, i), notify)
		in = append(in, m)
	}
	if len(want) == 0 {
		t.Fatal("test data has no anomaly above 0.7; choose other values")
	}
	out := run(t, p, in...)
	testutil.RequireMetricsEqual(t, want, out)

	mu.Lock()
	if len(delivered) != len(in)-len(out) {
		t.Errorf("%d deliveries before output, want the %d dropped metrics", len(delivered), len(in)-len(out))
	}
	mu.Unlock()
	for _, m := range out {
		m.Accept()
	}
	mu.Lock()
	defer mu.Unlock()
	if len(delivered) != len(in) {
		t.Fatalf("%d of %d tracking metrics delivered", len(delivered), len(in))
	}
	for _, d := range delivered {
		if !d.Delivered() {
			t.Errorf("tracking id %v rejected", d.ID())
		}
	}
}

func TestAnnotateAcceptsTracking(t *testing.T) {
	p, _ := newTestProcessor(t, nil)
	done := 0
	for i := range 8 {
		fields := map[string]any{pm1: float64(i)}
		if i == 3 {
			fields = map[string]any{pm1: "bad"}
		}
		m, _ := metric.WithTracking(reading("", fields, i), func(di telegraf.DeliveryInfo) {
			if di.Delivered() {
				done++
			}
		})
		out := run(t, p, m)
		if len(out) != 1 {
			t.Fatalf("record %d: %d metrics out, want 1 (annotate passes everything)", i, len(out))
		}
		out[0].Accept()
	}
	if done != 8 {
		t.Errorf("%d of 8 tracking metrics delivered", done)
	}
}

func TestPerSeriesModelsAreIndependent(t *testing.T) {
	keyed, _ := newTestProcessor(t, func(p *Anomaly) { p.KeyTags = []string{"sensor_index"} })
	alone := map[string]*Anomaly{}
	for _, s := range []string{"1", "2"} {
		alone[s], _ = newTestProcessor(t, nil)
	}
	for i := range 20 {
		for _, s := range []string{"1", "2"} {
			v := float64(i)
			if s == "2" {
				v = float64(1000 - 40*i)
			}
			got := run(t, keyed, reading(s, map[string]any{pm1: v}, i))[0]
			want := run(t, alone[s], reading(s, map[string]any{pm1: v}, i))[0]
			testutil.RequireMetricEqual(t, want, got)
		}
	}
}

func TestMaxSeriesEvictsLeastRecentlySeen(t *testing.T) {
	p, log := newTestProcessor(t, func(p *Anomaly) {
		p.KeyTags = []string{"sensor_index"}
		p.MaxSeries = 2
		p.WindowSize = 1
	})
	warmup := func(sensor string, i int) bool {
		return run(t, p, reading(sensor, map[string]any{pm1: 5.0}, i))[0].HasField("anomaly_warmup")
	}
	// window 1: a series' first metric is warmup, later ones are scored.
	steps := []struct {
		sensor     string
		wantWarmup bool
	}{
		{"a", true}, {"b", true}, {"a", false}, // a is now more recent than b
		{"c", true},  // evicts b
		{"a", false}, // a kept
		{"b", true},  // b was forgotten; evicts c
		{"c", true},  // c was forgotten
	}
	for i, st := range steps {
		if got := warmup(st.sensor, i); got != st.wantWarmup {
			t.Fatalf("step %d (%s): warmup %v, want %v", i, st.sensor, got, st.wantWarmup)
		}
	}
	if p.table.len() != 2 {
		t.Errorf("%d series kept, want max_series = 2", p.table.len())
	}
	if w := log.Warnings(); len(w) != 1 || !strings.Contains(w[0], "max_series = 2") || !strings.Contains(w[0], "(sensor_index=b)") {
		t.Errorf("warnings %q, want one (rate-limited) about max_series", w)
	}
}

func TestSeriesTTLForgetsSilentSeries(t *testing.T) {
	now := t0
	p, _ := newTestProcessor(t, func(p *Anomaly) {
		p.KeyTags = []string{"sensor_index"}
		p.SeriesTTL = config.Duration(time.Hour)
		p.WindowSize = 1
		p.now = func() time.Time { return now }
	})
	warmup := func(sensor string) bool {
		return run(t, p, reading(sensor, map[string]any{pm1: 5.0}, 0))[0].HasField("anomaly_warmup")
	}
	warmup("a")
	warmup("b")
	now = now.Add(50 * time.Minute)
	if warmup("a") {
		t.Fatal("a forgotten within the ttl")
	}
	now = now.Add(20 * time.Minute) // b silent 70 min, a 20 min
	if warmup("a") {
		t.Fatal("a forgotten within the ttl")
	}
	if p.table.len() != 1 {
		t.Fatalf("%d series kept, want b expired", p.table.len())
	}
	if !warmup("b") {
		t.Fatal("b kept past the ttl")
	}
}

func TestInitErrorsNameTheOption(t *testing.T) {
	tests := []struct {
		mod    func(*Anomaly)
		option string
	}{
		{func(p *Anomaly) { p.Fields = nil }, "fields"},
		{func(p *Anomaly) { p.Fields = []string{pm1, pm1} }, "fields"},
		{func(p *Anomaly) { p.Trees = 0 }, "trees"},
		{func(p *Anomaly) { p.Height = 0 }, "height"},
		{func(p *Anomaly) { p.Height = 40 }, "height"},
		{func(p *Anomaly) { p.WindowSize = 70000 }, "window_size"},
		{func(p *Anomaly) { p.Threshold = 1.5 }, "threshold"},
		{func(p *Anomaly) { p.Limits = map[string][]float64{pm1: {5}} }, "limits"},
		{func(p *Anomaly) { p.Limits = map[string][]float64{pm1: {5, 1}} }, "limits"},
		{func(p *Anomaly) { p.Limits = map[string][]float64{"nope": {0, 1}} }, "limits"},
		{func(p *Anomaly) { p.Fields = []string{"rssi"}; p.Limits = nil }, "limits"},
		{func(p *Anomaly) { p.ImputeDefault = "median" }, "impute_default"},
		{func(p *Anomaly) { p.Impute = map[string]string{pm1: "zero"} }, "impute"},
		{func(p *Anomaly) { p.Impute = map[string]string{"nope": "mean"} }, "impute"},
		{func(p *Anomaly) { p.ImputeDefault = "ewma"; p.EWMAAlpha = 1.5 }, "ewma_alpha"},
		{func(p *Anomaly) { p.ImputeDefault = "ewma"; p.EWMAAlpha = 0 }, "ewma_alpha"},
		{func(p *Anomaly) { p.KeyTags = []string{""} }, "key_tags"},
		{func(p *Anomaly) { p.MaxSeries = 0 }, "max_series"},
		{func(p *Anomaly) { p.SeriesTTL = -1 }, "series_ttl"},
		{func(p *Anomaly) { p.Mode = "filter" }, "mode"},
		{func(p *Anomaly) { p.ScoreField = "" }, "score_field"},
		{func(p *Anomaly) { p.AnomalyField = "anomaly_score" }, "anomaly_field"},
		{func(p *Anomaly) { p.ImputedField = pm1 }, "imputed_field"},
		{func(p *Anomaly) { p.StateFile = "x"; p.StateInterval = 0 }, "state_interval"},
	}
	for _, tt := range tests {
		p := newDefault()
		p.Fields = []string{pm1}
		tt.mod(p)
		err := p.Init()
		if err == nil {
			t.Errorf("%s: Init accepted a bad value", tt.option)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.option) && !strings.Contains(err.Error(), "("+tt.option) && !strings.Contains(err.Error(), " "+tt.option+",") {
			t.Errorf("%s: error %q does not name the option", tt.option, err)
		}
	}
}

// TestSampleConfigIsTheDefault uncomments every option of sample.conf, loads it as the external plugin
// would, and checks the result equals the built-in defaults: the sample documents what the code does.
func TestSampleConfigIsTheDefault(t *testing.T) {
	var lines []string
	inBlock := false // the line before [[processors.anomaly]] is the plugin's description
	for _, line := range strings.Split(sampleConfig, "\n") {
		trimmed := strings.TrimLeft(line, " ")
		inBlock = inBlock || strings.HasPrefix(trimmed, "[[processors.anomaly]]")
		if inBlock && strings.HasPrefix(trimmed, "# ") && !strings.HasPrefix(trimmed, "##") {
			line = strings.Replace(line, "# ", "", 1)
		}
		// keep only the option part of "x = 1 ## comment"
		if i := strings.Index(line, " ##"); i > 0 && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			line = line[:i]
		}
		lines = append(lines, line)
	}
	path := filepath.Join(t.TempDir(), "anomaly.conf")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := shim.LoadConfig(&path)
	if err != nil {
		t.Fatalf("uncommented sample.conf does not load: %v\n%s", err, strings.Join(lines, "\n"))
	}
	got, ok := loaded.Processor.(*Anomaly)
	if !ok {
		t.Fatalf("loaded %T, want *Anomaly", loaded.Processor)
	}
	want := newDefault()
	want.Limits = map[string][]float64{pm1: {0, 1000}}
	want.Impute = map[string]string{pm1: "mean"}
	want.KeyTags = []string{}
	if diff := compareOptions(got, want); diff != "" {
		t.Fatalf("sample.conf differs from the defaults: %s", diff)
	}
	if err := got.Init(); err != nil {
		t.Fatalf("sample config: Init: %v", err)
	}
}

func compareOptions(a, b *Anomaly) string {
	var diffs []string
	check := func(name string, x, y any) {
		if !equalAny(x, y) {
			diffs = append(diffs, name+": sample "+toString(x)+", default "+toString(y))
		}
	}
	check("fields", a.Fields, b.Fields)
	check("limits", a.Limits, b.Limits)
	check("trees", a.Trees, b.Trees)
	check("height", a.Height, b.Height)
	check("window_size", a.WindowSize, b.WindowSize)
	check("seed", a.Seed, b.Seed)
	check("threshold", a.Threshold, b.Threshold)
	check("impute", a.Impute, b.Impute)
	check("impute_default", a.ImputeDefault, b.ImputeDefault)
	check("ewma_alpha", a.EWMAAlpha, b.EWMAAlpha)
	check("emit_imputed", a.EmitImputed, b.EmitImputed)
	check("key_tags", a.KeyTags, b.KeyTags)
	check("max_series", a.MaxSeries, b.MaxSeries)
	check("series_ttl", a.SeriesTTL, b.SeriesTTL)
	check("mode", a.Mode, b.Mode)
	check("score_field", a.ScoreField, b.ScoreField)
	check("anomaly_field", a.AnomalyField, b.AnomalyField)
	check("warmup_field", a.WarmupField, b.WarmupField)
	check("skipped_field", a.SkippedField, b.SkippedField)
	check("imputed_field", a.ImputedField, b.ImputedField)
	check("state_file", a.StateFile, b.StateFile)
	check("state_interval", a.StateInterval, b.StateInterval)
	check("preset", a.Preset, b.Preset)
	check("epa_correction", a.EPACorrection, b.EPACorrection)
	return strings.Join(diffs, "; ")
}

func equalAny(x, y any) bool { return toString(x) == toString(y) }

func toString(x any) string { return fmt.Sprintf("%#v", x) }

// TestReadmeIncludesSampleConfig keeps README.md's configuration section identical to sample.conf, as
// Telegraf's readme_config_includer does for in-tree plugins.
func TestReadmeIncludesSampleConfig(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	const open = "```toml @sample.conf\n"
	readme := string(b)
	i := strings.Index(readme, open)
	if i < 0 {
		t.Fatal("README.md has no ```toml @sample.conf block")
	}
	block := readme[i+len(open):]
	block = block[:strings.Index(block, "```")]
	if block != sampleConfig {
		t.Errorf("README.md's sample configuration differs from sample.conf")
	}
}

// TestCheckOutputs: each way an added field's name can clash is refused with the option named and
// the clash said, in the reference flow's and the preset's terms alike.
func TestCheckOutputs(t *testing.T) {
	read := []string{"pm2.5_cf_1"}
	for _, c := range []struct {
		outputs []outputOption
		fixed   []string
		want    string
	}{
		{[]outputOption{{"score_field", ""}}, nil, "score_field must not be empty"},
		{[]outputOption{{"score_field", "pm2.5_cf_1"}}, nil, `score_field: "pm2.5_cf_1" is a field it reads`},
		{[]outputOption{{"score_field", "s"}, {"anomaly_field", "s"}}, nil, `anomaly_field: "s" is also used by score_field`},
		{[]outputOption{{"score_field", "anomaly_kind"}}, []string{"anomaly_kind"}, `score_field: "anomaly_kind" is a field the preset adds`},
		{[]outputOption{{"score_field", "s"}, {"anomaly_field", "a"}}, []string{"anomaly_kind"}, ""},
	} {
		err := checkOutputs(c.outputs, read, "a field it reads", c.fixed...)
		if (err == nil) != (c.want == "") || (err != nil && err.Error() != c.want) {
			t.Errorf("%v: err = %v, want %q", c.outputs, err, c.want)
		}
	}
}
