package anomaly

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/common/shim"
	"github.com/influxdata/telegraf/testutil"

	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// newPresetProcessor returns an initialised processor with preset = "purpleair"; mod adjusts options
// before Init.
func newPresetProcessor(t testing.TB, mod func(*Anomaly)) (*Anomaly, *testutil.CaptureLogger) {
	t.Helper()
	p := newDefault()
	p.Preset = PresetPurpleAir
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

const cadence = 2 * time.Minute // PurpleAir's

// cleanFields is a healthy sensor's i-th reading as the purpleair input emits it: channels agreeing
// within a few percent, every value moving a little so that nothing repeats.
func cleanFields(i int) map[string]any {
	a := 8 + float64(i%5)*0.3
	b := a*1.04 + float64(i%3)*0.1
	return map[string]any{
		"pm2.5_cf_1_a": a, "pm2.5_cf_1_b": b, "pm2.5_cf_1": (a + b) / 2, "pm2.5_atm": (a + b) / 2 * 0.9,
		"humidity": 40 + float64(i%3), "temperature": 70 + float64(i%4), "pressure": 1010 + float64(i%7)*0.1,
		"latitude": 37.8, "longitude": -122.2, "rssi": -60.0,
	}
}

func paMetric(sensor string, i int, fields map[string]any) telegraf.Metric {
	return metric.New("purpleair", map[string]string{"sensor_index": sensor}, fields, t0.Add(time.Duration(i)*cadence))
}

// with returns a copy of f with the changes; a nil value removes the field (a null API value).
func with(f map[string]any, changes map[string]any) map[string]any {
	out := make(map[string]any, len(f))
	for k, v := range f {
		out[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// warmRun is n clean readings of sensor, from reading 0.
func warmRun(sensor string, n int) []telegraf.Metric {
	var ms []telegraf.Metric
	for i := range n {
		ms = append(ms, paMetric(sensor, i, cleanFields(i)))
	}
	return ms
}

func TestPresetOutputFieldsAndTypes(t *testing.T) {
	p, _ := newPresetProcessor(t, nil)
	out := run(t, p, warmRun("53", 20)...)
	clean := out[len(out)-1]
	bad := run(t, p, paMetric("53", 20, with(cleanFields(20), map[string]any{"humidity": 255.0})))[0]

	tests := []struct {
		name   string
		m      telegraf.Metric
		field  string
		want   any // a value of the wanted type; nil: the field must be absent
		exact  bool
		reason string
	}{
		{"clean score", clean, "anomaly_score", 0.0, false, ""},
		{"clean flag", clean, "anomaly", false, true, ""},
		{"clean warmup", clean, "anomaly_warmup", true, true, ""},
		{"clean epa", clean, "pm2.5_epa", 0.0, false, ""},
		{"clean kind", clean, "anomaly_kind", nil, false, ""},
		{"clean reason", clean, "anomaly_reason", nil, false, ""},
		{"clean detail", clean, "anomaly_detail", nil, false, ""},
		{"clean since", clean, "anomaly_since", nil, false, ""},
		{"flagged score", bad, "anomaly_score", 0.0, false, ""},
		{"flagged flag", bad, "anomaly", true, true, ""},
		{"flagged kind", bad, "anomaly_kind", "sensor", true, ""},
		{"flagged reason", bad, "anomaly_reason", "out_of_range", true, ""},
		{"flagged detail", bad, "anomaly_detail", "", false, ""},
		{"flagged since", bad, "anomaly_since", int64(0), false, ""},
		{"flagged skipped", bad, "anomaly_skipped", nil, false, ""},
	}
	for _, tt := range tests {
		got, ok := tt.m.GetField(tt.field)
		switch {
		case tt.want == nil:
			if ok {
				t.Errorf("%s: %s = %v, want absent", tt.name, tt.field, got)
			}
		case !ok:
			t.Errorf("%s: %s absent", tt.name, tt.field)
		case toString(typeName(got)) != toString(typeName(tt.want)):
			t.Errorf("%s: %s is a %T, want %T", tt.name, tt.field, got, tt.want)
		case tt.exact && got != tt.want:
			t.Errorf("%s: %s = %v, want %v", tt.name, tt.field, got, tt.want)
		}
	}
	if s, _ := bad.GetField("anomaly_score"); s.(float64) < p.Threshold || s.(float64) > 1 {
		t.Errorf("flagged score %v, want in [threshold, 1]", s)
	}
	if s, _ := clean.GetField("anomaly_score"); s.(float64) < 0 || s.(float64) >= p.Threshold {
		t.Errorf("clean score %v, want in [0, threshold)", s)
	}
	if d, _ := bad.GetField("anomaly_detail"); !strings.Contains(d.(string), "humidity") {
		t.Errorf("detail %q does not say humidity", d)
	}
	if since, _ := bad.GetField("anomaly_since"); since.(int64) != bad.Time().Unix() {
		t.Errorf("anomaly_since %v, want the reading's own time %d (a one-reading episode)", since, bad.Time().Unix())
	}
	// The readings pass otherwise unchanged: same tags, same time, input fields kept.
	if v, _ := clean.GetField("rssi"); v != -60.0 || clean.Tags()["sensor_index"] != "53" {
		t.Errorf("metric changed: %v", clean)
	}
}

func TestPresetReasons(t *testing.T) {
	const n = 12 // clean readings before the fault
	c := cleanFields
	tests := []struct {
		name       string
		fault      []map[string]any // readings n, n+1, ...; the last is judged
		kind, why  string
		wantInText string
	}{
		{"A/B divergence", []map[string]any{
			with(c(n), map[string]any{"pm2.5_cf_1_a": 10.0, "pm2.5_cf_1_b": 30.0, "pm2.5_cf_1": 20.0}),
		}, "sensor", "ab_divergence", "channel B"},
		{"flatline", []map[string]any{c(n), c(n), c(n), c(n)}, "sensor", "flatline", "same readings"},
		{"humidity 255", []map[string]any{with(c(n), map[string]any{"humidity": 255.0})}, "sensor", "out_of_range", "humidity"},
		{"channel out of range", []map[string]any{with(c(n), map[string]any{"pm2.5_cf_1_b": 4981.0})}, "sensor", "out_of_range", "channel B"},
		{"channels drop out", []map[string]any{
			with(c(n), map[string]any{"pm2.5_cf_1_a": nil, "pm2.5_cf_1_b": nil, "pm2.5_cf_1": nil, "pm2.5_atm": nil}),
		}, "sensor", "missing", "both laser channels"},
		{"environment null", []map[string]any{
			with(c(n), map[string]any{"humidity": math.NaN(), "temperature": nil, "pressure": nil}),
		}, "sensor", "missing", "environment"},
		{"everything drops out", []map[string]any{
			with(c(n), map[string]any{"pm2.5_cf_1_a": nil, "pm2.5_cf_1_b": nil, "pm2.5_cf_1": nil, "pm2.5_atm": nil,
				"humidity": nil, "temperature": nil, "pressure": nil}),
		}, "sensor", "missing", "both laser channels and the environment sensor"},
		{"one channel spikes", []map[string]any{
			with(c(n), map[string]any{"pm2.5_cf_1_a": 300.0, "pm2.5_cf_1_b": 9.0, "pm2.5_cf_1": 154.5}),
		}, "sensor", "spike", "one channel jumped"},
		// Alone (no neighbours in the stream), a sensor whose channels jump together may be seeing
		// a puff of smoke: air, not a fault.
		{"both channels jump, no neighbours", []map[string]any{
			with(c(n), map[string]any{"pm2.5_cf_1_a": 90.0, "pm2.5_cf_1_b": 92.0, "pm2.5_cf_1": 91.0}),
		}, "air", "air", "this sensor's usual"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := newPresetProcessor(t, nil)
			for _, m := range run(t, p, warmRun("7", n)...) {
				if m.HasField(KindField) {
					t.Fatalf("clean reading flagged: %v", m)
				}
			}
			var last telegraf.Metric
			for k, f := range tt.fault {
				last = run(t, p, paMetric("7", n+k, f))[0]
			}
			kind, _ := last.GetField(KindField)
			why, _ := last.GetField(ReasonField)
			detail, _ := last.GetField(DetailField)
			if kind != tt.kind || why != tt.why {
				t.Fatalf("kind %v, reason %v (%v), want %s, %s", kind, why, detail, tt.kind, tt.why)
			}
			if d, _ := detail.(string); !strings.Contains(d, tt.wantInText) {
				t.Errorf("detail %q does not contain %q", d, tt.wantInText)
			}
			if flag, _ := last.GetField("anomaly"); flag != true {
				t.Errorf("anomaly = %v with a reason", flag)
			}
		})
	}
}

func TestPresetStaleLastSeen(t *testing.T) {
	p, _ := newPresetProcessor(t, nil)
	var last telegraf.Metric
	for i := range 12 {
		f := cleanFields(i)
		seen := t0.Add(time.Duration(i) * cadence).Add(-30 * time.Second)
		if i >= 10 { // the API serves the same report again
			seen = t0.Add(9 * cadence).Add(-30 * time.Second)
		}
		f["last_seen"] = float64(seen.Unix())
		last = run(t, p, paMetric("7", i, f))[0]
		if i < 10 && last.HasField(KindField) {
			t.Fatalf("reading %d flagged: %v", i, last)
		}
	}
	if why, _ := last.GetField(ReasonField); why != "stale" {
		t.Fatalf("reason %v, want stale (last_seen as the input emits it, Unix seconds)", why)
	}
}

// TestPresetIsTheDetector feeds several interleaved sensors through the processor and through a
// qa.Detector directly: every output equals the detector's, so the sensors are keyed apart and the
// readings reach it whole.
func TestPresetIsTheDetector(t *testing.T) {
	p, _ := newPresetProcessor(t, func(p *Anomaly) { p.WindowSize = 8 })
	opt := qa.DefaultOptions()
	opt.WindowSize = 8
	d, err := qa.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	sensors := []string{"1", "2", "3"}
	flagged := map[string]int{}
	for i := range 40 {
		for si, s := range sensors {
			f := cleanFields(i + si)
			f["latitude"] = 37.8 + float64(si)*0.01
			if s == "2" && i >= 25 { // one sensor's channel B reads 3×
				a := f["pm2.5_cf_1_a"].(float64)
				f["pm2.5_cf_1_b"], f["pm2.5_cf_1"] = 3*a, 2*a
			}
			got := run(t, p, paMetric(s, i, f))[0]

			r := qa.NewReading(got.Time())
			r.A, r.B, r.CF1, r.ATM = f["pm2.5_cf_1_a"].(float64), f["pm2.5_cf_1_b"].(float64), f["pm2.5_cf_1"].(float64), f["pm2.5_atm"].(float64)
			r.Humidity, r.Temperature, r.Pressure = f["humidity"].(float64), f["temperature"].(float64), f["pressure"].(float64)
			r.Lat, r.Lon = f["latitude"].(float64), f["longitude"].(float64)
			want := d.Observe(s, r)

			if score, _ := got.GetField("anomaly_score"); score != want.Score {
				t.Fatalf("sensor %s reading %d: score %v, detector %v", s, i, score, want.Score)
			}
			kind, _ := got.GetField(KindField)
			why, _ := got.GetField(ReasonField)
			detail, _ := got.GetField(DetailField)
			if want.Anomaly && (kind != string(want.Kind) || why != string(want.Reason) || detail != want.Detail) ||
				!want.Anomaly && kind != nil {
				t.Fatalf("sensor %s reading %d: %v %v %q, detector %+v", s, i, kind, why, detail, want)
			}
			if epa, ok := got.GetField(EPAField); ok != !math.IsNaN(want.EPA) || ok && epa != want.EPA {
				t.Fatalf("sensor %s reading %d: pm2.5_epa %v, detector %v", s, i, epa, want.EPA)
			}
			if want.Anomaly {
				flagged[s]++
			}
		}
	}
	if flagged["2"] == 0 || flagged["1"] != 0 || flagged["3"] != 0 {
		t.Errorf("flagged per sensor %v, want only sensor 2", flagged)
	}
	if d.Sensors() != 3 || p.qa.Sensors() != 3 {
		t.Errorf("sensors: processor's detector %d, want 3", p.qa.Sensors())
	}
}

func TestPresetEPA(t *testing.T) {
	f := cleanFields(3)
	a, b, atm, rh := f["pm2.5_cf_1_a"].(float64), f["pm2.5_cf_1_b"].(float64), f["pm2.5_atm"].(float64), f["humidity"].(float64)
	cf1Only := with(f, map[string]any{"pm2.5_cf_1_a": nil, "pm2.5_cf_1_b": nil})
	tests := []struct {
		name       string
		correction string
		fields     map[string]any
		want       float64 // NaN: no pm2.5_epa
	}{
		{"us_wide", "us_wide", f, qa.USWide((a+b)/2, rh)},
		{"extended", "extended", f, qa.Extended(atm, rh)},
		// A source without channels (the reference snapshot) is judged on pm2.5_cf_1.
		{"no channels", "us_wide", cf1Only, qa.USWide(f["pm2.5_cf_1"].(float64), rh)},
		{"no humidity", "us_wide", with(f, map[string]any{"humidity": nil}), math.NaN()},
		{"no particles", "us_wide", with(cf1Only, map[string]any{"pm2.5_cf_1": nil, "pm2.5_atm": nil}), math.NaN()},
	}
	for _, tt := range tests {
		p, _ := newPresetProcessor(t, func(p *Anomaly) { p.EPACorrection = tt.correction })
		m := run(t, p, paMetric("1", 0, tt.fields))[0]
		got, ok := m.GetField(EPAField)
		switch {
		case math.IsNaN(tt.want):
			if ok {
				t.Errorf("%s: pm2.5_epa = %v, want absent", tt.name, got)
			}
		case got != tt.want:
			t.Errorf("%s: pm2.5_epa = %v, want %v", tt.name, got, tt.want)
		}
		if m.HasField(KindField) {
			t.Errorf("%s: a sensor's first reading flagged: %v", tt.name, m)
		}
	}
	if us, ext := qa.USWide((a+b)/2, rh), qa.Extended(atm, rh); us == ext {
		t.Fatalf("test readings do not tell the corrections apart (%v)", us)
	}
}

// TestPresetCarriedFields: absent means null once the sensor has sent the field, and "not carried"
// before: a source that never sends the channels is not flagged for lacking them.
func TestPresetCarriedFields(t *testing.T) {
	p, _ := newPresetProcessor(t, nil)
	noChannels := func(i int) map[string]any {
		return with(cleanFields(i), map[string]any{"pm2.5_cf_1_a": nil, "pm2.5_cf_1_b": nil})
	}
	for i := range 15 {
		for _, m := range run(t, p, paMetric("never", i, noChannels(i)), paMetric("had", i, cleanFields(i))) {
			if m.HasField(KindField) {
				t.Fatalf("reading %d flagged: %v", i, m)
			}
		}
	}
	out := run(t, p, paMetric("never", 15, noChannels(15)), paMetric("had", 15, noChannels(15)))
	if out[0].HasField(KindField) {
		t.Errorf("a sensor that never sent channels flagged for lacking them: %v", out[0])
	}
	if why, _ := out[1].GetField(ReasonField); why != "missing" {
		t.Errorf("a sensor whose channels went null: reason %v, want missing", why)
	}
}

func TestPresetUnscorableMetrics(t *testing.T) {
	p, _ := newPresetProcessor(t, nil)
	run(t, p, warmRun("1", 5)...)
	late := paMetric("1", 2, cleanFields(2))
	tests := []struct {
		name string
		m    telegraf.Metric
		want string
	}{
		{"string", paMetric("1", 6, with(cleanFields(6), map[string]any{"humidity": "err"})), `"humidity" is a string`},
		{"inf", paMetric("1", 6, with(cleanFields(6), map[string]any{"pm2.5_cf_1_a": math.Inf(1)})), `"pm2.5_cf_1_a" is +Inf`},
		{"no key", metric.New("purpleair", nil, cleanFields(6), t0), `missing key tag "sensor_index"`},
		{"out of order", late, "older than this sensor's previous reading"},
	}
	for _, tt := range tests {
		out := run(t, p, tt.m)
		if len(out) != 1 {
			t.Fatalf("%s: %d metrics out, want 1 (annotate)", tt.name, len(out))
		}
		why, _ := out[0].GetField("anomaly_skipped")
		if s, _ := why.(string); !strings.Contains(s, tt.want) {
			t.Errorf("%s: anomaly_skipped = %v, want %q", tt.name, why, tt.want)
		}
		if out[0].HasField("anomaly_score") {
			t.Errorf("%s: scored anyway", tt.name)
		}
	}
	// Nothing unscorable reached the detector: the sensor's next reading follows on as if they never came.
	if m := run(t, p, paMetric("1", 5, cleanFields(5)))[0]; m.HasField(KindField) {
		t.Errorf("clean reading after the skipped ones flagged: %v", m)
	}
}

func TestPresetAnomaliesOnlyAndFieldNames(t *testing.T) {
	p, _ := newPresetProcessor(t, func(p *Anomaly) {
		p.Mode = ModeAnomaliesOnly
		p.ScoreField, p.AnomalyField, p.WarmupField = "qa_score", "qa_flag", "qa_warmup"
	})
	in := append(warmRun("1", 6), paMetric("1", 6, with(cleanFields(6), map[string]any{"humidity": 255.0})))
	out := run(t, p, in...)
	if len(out) != 1 {
		t.Fatalf("%d metrics passed, want only the flagged one", len(out))
	}
	for _, f := range []string{"qa_score", "qa_flag", "qa_warmup", KindField} {
		if !out[0].HasField(f) {
			t.Errorf("field %s missing: %v", f, out[0])
		}
	}
	if out[0].HasField("anomaly_score") || out[0].HasField("anomaly") {
		t.Errorf("default names written despite score_field/anomaly_field: %v", out[0])
	}
}

func TestPresetEvictionForgetsTheSensor(t *testing.T) {
	now := t0
	p, log := newPresetProcessor(t, func(p *Anomaly) {
		p.MaxSeries = 2
		p.SeriesTTL = config.Duration(time.Hour)
		p.now = func() time.Time { return now }
	})
	run(t, p, paMetric("a", 0, cleanFields(0)), paMetric("b", 0, cleanFields(0)), paMetric("c", 0, cleanFields(0)))
	if p.qa.Sensors() != 2 || p.table.len() != 2 {
		t.Fatalf("after max_series: detector holds %d sensors, table %d, want 2", p.qa.Sensors(), p.table.len())
	}
	if w := log.Warnings(); len(w) != 1 || !strings.Contains(w[0], "sensor_index=a") {
		t.Errorf("warnings %q, want one naming the evicted sensor_index=a", w)
	}
	now = now.Add(2 * time.Hour)
	run(t, p, paMetric("d", 1, cleanFields(1)))
	if p.qa.Sensors() != 1 || p.table.len() != 1 {
		t.Fatalf("after series_ttl: detector holds %d sensors, table %d, want 1", p.qa.Sensors(), p.table.len())
	}
}

func TestPresetOptionErrors(t *testing.T) {
	tests := []struct {
		mod     func(*Anomaly)
		options []string // each must be named
	}{
		{func(p *Anomaly) { p.Preset = "purple" }, []string{"preset"}},
		{func(p *Anomaly) { p.Fields = []string{pm1} }, []string{"fields"}},
		{func(p *Anomaly) { p.Trees = 20; p.Limits = map[string][]float64{pm1: {0, 1}} }, []string{"limits", "trees"}},
		{func(p *Anomaly) { p.Height = 4 }, []string{"height"}},
		{func(p *Anomaly) { p.Seed = 1 }, []string{"seed"}},
		{func(p *Anomaly) { p.Impute = map[string]string{pm1: "last"} }, []string{"impute"}},
		{func(p *Anomaly) { p.ImputeDefault = "ewma"; p.EWMAAlpha = 0.2 }, []string{"impute_default", "ewma_alpha"}},
		{func(p *Anomaly) { p.EmitImputed = false }, []string{"emit_imputed"}},
		{func(p *Anomaly) { p.ScoreAllMissing = true }, []string{"score_all_missing"}},
		{func(p *Anomaly) { p.ImputedField = "filled" }, []string{"imputed_field"}},
		{func(p *Anomaly) { p.StateFile = "/tmp/x"; p.StateInterval = config.Duration(time.Millisecond) }, []string{"state_interval"}},
		{func(p *Anomaly) { p.Threshold = 0 }, []string{"threshold"}},
		{func(p *Anomaly) { p.WindowSize = 0 }, []string{"window_size"}},
		{func(p *Anomaly) { p.EPACorrection = "barkjohn" }, []string{"epa_correction"}},
		{func(p *Anomaly) { p.KeyTags = []string{"sensor_index", "sensor_index"} }, []string{"key_tags"}},
		{func(p *Anomaly) { p.MaxSeries = 0 }, []string{"max_series"}},
		{func(p *Anomaly) { p.Mode = "filter" }, []string{"mode"}},
		{func(p *Anomaly) { p.ScoreField = "humidity" }, []string{"score_field"}},
		{func(p *Anomaly) { p.AnomalyField = "anomaly_reason" }, []string{"anomaly_field"}},
		{func(p *Anomaly) { p.WarmupField = "pm2.5_epa" }, []string{"warmup_field"}},
		{func(p *Anomaly) { p.SkippedField = "anomaly_score" }, []string{"skipped_field"}},
		// Without the preset, its own option does nothing.
		{func(p *Anomaly) { p.Preset = ""; p.EPACorrection = "extended" }, []string{"epa_correction"}},
	}
	for _, tt := range tests {
		p := newDefault()
		p.Preset = PresetPurpleAir
		tt.mod(p)
		err := p.Init()
		if err == nil {
			t.Errorf("%v: Init accepted a bad combination", tt.options)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.options[0]) {
			t.Errorf("%v: error %q does not start with the option", tt.options, err)
		}
		for _, o := range tt.options {
			if !strings.Contains(err.Error(), o) {
				t.Errorf("%v: error %q does not name %s", tt.options, err, o)
			}
		}
	}
}

// TestPresetConfigLoads: the README's preset configuration loads as the command would load it, gets
// key_tags = ["sensor_index"] and runs.
func TestPresetConfigLoads(t *testing.T) {
	conf := `[[processors.anomaly]]
  preset = "purpleair"
  epa_correction = "extended"
  threshold = 0.8
  window_size = 60
  max_series = 5000
`
	path := filepath.Join(t.TempDir(), "anomaly.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	loaded, err := shim.LoadConfig(&path)
	if err != nil {
		t.Fatal(err)
	}
	p := loaded.Processor.(*Anomaly)
	p.Log = testutil.Logger{}
	if err := p.Init(); err != nil {
		t.Fatalf("Init: %v", err)
	}
	if err := p.Start(&testutil.Accumulator{}); err != nil {
		t.Fatalf("Start: %v", err)
	}
	defer p.Stop()
	opt := p.qa.Options()
	if opt.Threshold != 0.8 || opt.WindowSize != 60 || opt.Correction != qa.CorrectionExtended {
		t.Errorf("detector options %+v, want threshold 0.8, window 60, extended", opt)
	}
	if !equalStrings(p.KeyTags, []string{"sensor_index"}) {
		t.Errorf("key_tags %q, want the preset's default [sensor_index]", p.KeyTags)
	}
	if m := run(t, p, paMetric("1", 0, cleanFields(0)))[0]; !m.HasField("anomaly_score") {
		t.Errorf("not scored: %v", m)
	}
}
