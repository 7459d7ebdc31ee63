package anomaly

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/influxdata/telegraf"

	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// PresetPurpleAir replaces the Half-Space Trees flow with PurpleAir quality assurance (package qa):
// one detector for the whole fleet, one state per sensor, so that neighbours can tell unusual air
// from a broken sensor.
const PresetPurpleAir = "purpleair"

// Fields the preset adds besides score_field, anomaly_field and warmup_field. Their names are fixed:
// the datasource, the dashboard and the CLI use the same words.
const (
	KindField   = "anomaly_kind"   // "sensor" or "air", flagged readings only
	ReasonField = "anomaly_reason" // one of qa.Reasons, flagged readings only
	DetailField = "anomaly_detail" // short human text, flagged readings only
	SinceField  = "anomaly_since"  // Unix seconds the episode began, flagged readings only
	EPAField    = "pm2.5_epa"      // EPA-corrected PM2.5, when computable
)

// presetKeyTags is key_tags' default with the preset: one detector state per sensor.
var presetKeyTags = []string{"sensor_index"}

// presetReads are the fields the preset reads, as the purpleair input names them.
var presetReads = []string{"pm2.5_cf_1_a", "pm2.5_cf_1_b", "pm2.5_cf_1", "pm2.5_atm", "humidity",
	"temperature", "pressure", "latitude", "longitude", "last_seen"}

// qaOptionNames spells qa.Options' fields as the TOML options that set them.
var qaOptionNames = map[string]string{
	"Threshold":  "threshold",
	"WindowSize": "window_size",
	"Correction": "epa_correction",
}

// validatePreset checks the options with preset = "purpleair". Options of the Half-Space Trees flow
// that the detector has no use for are refused rather than ignored: a configuration that sets them
// expects them to do something.
func (p *Anomaly) validatePreset() (settings, error) {
	var s settings
	def := newDefault()
	var unused []string
	for _, o := range []struct {
		name string
		set  bool
	}{
		{"fields", !equalStrings(p.Fields, def.Fields)},
		{"limits", len(p.Limits) > 0},
		{"trees", p.Trees != def.Trees},
		{"height", p.Height != def.Height},
		{"seed", p.Seed != def.Seed},
		{"impute", len(p.Impute) > 0},
		{"impute_default", p.ImputeDefault != def.ImputeDefault},
		{"ewma_alpha", p.EWMAAlpha != def.EWMAAlpha},
		{"emit_imputed", p.EmitImputed != def.EmitImputed},
		{"score_all_missing", p.ScoreAllMissing != def.ScoreAllMissing},
		{"imputed_field", p.ImputedField != def.ImputedField},
	} {
		if o.set {
			unused = append(unused, o.name)
		}
	}
	if len(unused) > 0 {
		return s, fmt.Errorf("%s: not used with preset = %q (its detector reads fixed PurpleAir fields, has its own learned model and imputes nothing); remove %s",
			strings.Join(unused, ", "), PresetPurpleAir, itOrThem(unused))
	}
	if p.StateFile != "" && time.Duration(p.StateInterval) < time.Second {
		return s, fmt.Errorf("state_interval must be at least 1s, got %s", time.Duration(p.StateInterval))
	}

	if err := p.validateSeriesAndMode(); err != nil {
		return s, err
	}
	outputs := []outputOption{
		{"score_field", p.ScoreField}, {"anomaly_field", p.AnomalyField}, {"warmup_field", p.WarmupField},
		{"skipped_field", p.SkippedField},
	}
	if err := checkOutputs(outputs, presetReads, "a field the preset reads", KindField, ReasonField, DetailField, SinceField, EPAField); err != nil {
		return s, err
	}

	s.qaOptions = qa.DefaultOptions()
	s.qaOptions.Threshold = p.Threshold
	s.qaOptions.WindowSize = p.WindowSize
	s.qaOptions.Correction = qa.Correction(p.EPACorrection)
	// Built here, where the options are checked, so that an error names the TOML option; Init installs it.
	var err error
	if s.detector, err = qa.New(s.qaOptions); err != nil {
		return s, presetOptionError(err)
	}
	return s, nil
}

// presetOptionError renames a qa option in err as the TOML option.
func presetOptionError(err error) error {
	var oe *qa.OptionError
	if errors.As(err, &oe) {
		if name, ok := qaOptionNames[oe.Option]; ok {
			return fmt.Errorf("%s %s", name, oe.Reason)
		}
	}
	return fmt.Errorf("preset = %q: %w", PresetPurpleAir, err)
}

func itOrThem(names []string) string {
	if len(names) == 1 {
		return "it"
	}
	return "them"
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// initPreset finishes Init for the preset; the options are valid.
func (p *Anomaly) initPreset() error {
	p.qa = p.settings.detector
	if len(p.KeyTags) == 0 {
		// A fleet-wide key would make one "sensor" of every reading: meaningless for the checks.
		p.KeyTags = append([]string(nil), presetKeyTags...)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.Log == nil {
		p.Log = discardLogger{}
	}
	p.stateFP = p.stateFingerprint()
	p.table.init(p.MaxSeries)
	p.limiter.init(p.Log, p.now, 10*time.Second)
	return nil
}

// processPreset judges m with the qa detector, annotates it and reports whether it passes.
//
// What a sensor carries: the purpleair input writes a null API value as an absent field, so absence
// cannot mean "this source has no such field" for every metric. A field counts as carried by a sensor
// once any of its metrics has had it (present, or NaN); absent after that, it is null. So a sensor
// whose channels drop out is flagged missing, while a source that never sends channels (the reference
// snapshot has pm2.5_cf_1 only) is judged on what it has, and gets pm2.5_epa from pm2.5_cf_1.
func (p *Anomaly) processPreset(m telegraf.Metric) bool {
	r := qa.NewReading(m.Time())
	lastSeen := math.NaN()
	var present qa.Fields
	for _, f := range m.FieldList() {
		var dst *float64
		bit, measured := qa.FieldByName(f.Key)
		switch {
		case measured:
			dst = r.Value(bit)
		case f.Key == "latitude":
			dst = &r.Lat
		case f.Key == "longitude":
			dst = &r.Lon
		case f.Key == "last_seen":
			dst = &lastSeen
		default:
			continue
		}
		var v float64
		switch x := f.Value.(type) {
		case float64:
			v = x
		case int64:
			v = float64(x)
		case uint64:
			v = float64(x)
		default:
			return p.skip(m, kindBadValue, fmt.Sprintf("%q is a %s, not a number", f.Key, typeName(x)))
		}
		if math.IsInf(v, 0) {
			return p.skip(m, kindBadValue, fmt.Sprintf("%q is %v", f.Key, v))
		}
		*dst = v
		present |= bit
	}

	s, missingTag := p.keyedSeries(m)
	if s == nil {
		return p.skip(m, kindNoKey, fmt.Sprintf("missing key tag %q", missingTag))
	}
	t := m.Time().UnixNano()
	if s.lastTime != 0 && t < s.lastTime {
		// The detector's baselines and runs assume time order; one late metric would bend them.
		return p.skip(m, kindBadValue, fmt.Sprintf("older than this sensor's previous reading (%s)",
			time.Unix(0, s.lastTime).UTC().Format(time.RFC3339)))
	}
	s.lastTime = t
	s.carried |= present
	r.Carried = s.carried
	if lastSeen > 0 {
		sec, frac := math.Modf(lastSeen)
		r.LastSeen = time.Unix(int64(sec), int64(frac*1e9))
	}

	res := p.qa.Observe(s.key, r)
	p.dirty = true

	m.AddField(p.ScoreField, res.Score)
	m.AddField(p.AnomalyField, res.Anomaly)
	if res.Warmup {
		m.AddField(p.WarmupField, true)
	}
	if res.Anomaly {
		m.AddField(KindField, string(res.Kind))
		m.AddField(ReasonField, string(res.Reason))
		if res.Detail != "" {
			m.AddField(DetailField, res.Detail)
		}
		if !res.Since.IsZero() {
			m.AddField(SinceField, res.Since.Unix())
		}
	}
	if !math.IsNaN(res.EPA) {
		m.AddField(EPAField, res.EPA)
	}
	return p.Mode == ModeAnnotate || res.Anomaly
}
