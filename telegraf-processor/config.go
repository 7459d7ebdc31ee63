package anomaly

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/influxdata/telegraf/config"

	anomalycore "github.com/hazewatch/hazewatch/pkg/anomaly"
	"github.com/hazewatch/hazewatch/pkg/impute"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// Modes of operation.
const (
	ModeAnnotate      = "annotate"       // every metric passes, scored
	ModeAnomaliesOnly = "anomalies_only" // only metrics scoring above the threshold pass
)

// DefaultFields are the PurpleAir particle readings scored by default: the factory-calibrated ("CF=1")
// mass concentrations, one per size class. pm1.0_cf_1 is the field of the reference flow.
var DefaultFields = []string{"pm1.0_cf_1", "pm2.5_cf_1", "pm10.0_cf_1"}

// particleLimits is the range assumed for PurpleAir particle fields when `limits` does not name them:
// the Plantower PMS5003/PMS6003 sensors inside PurpleAir units specify a maximum range of at least
// 1000 µg/m³ (effective range 0–500), so 0..1000 covers every reading a healthy sensor can give.
// Readings above it (saturated counters) fall in the outermost half-space and score as anomalous.
var particleLimits = [2]float64{0, 1000}

// builtinLimits returns the default Half-Space Trees range of a PurpleAir field, if it has one.
func builtinLimits(field string) ([2]float64, bool) {
	switch field {
	case "humidity": // percent relative humidity (BME280/BME680)
		return [2]float64{0, 100}, true
	case "temperature": // °F as PurpleAir reports it; BME280 range −40..85 °C
		return [2]float64{-40, 185}, true
	case "pressure": // hPa; BME280 range 300..1100 hPa
		return [2]float64{300, 1100}, true
	}
	if strings.HasPrefix(field, "pm1.0") || strings.HasPrefix(field, "pm2.5") || strings.HasPrefix(field, "pm10.0") {
		return particleLimits, true
	}
	return [2]float64{}, false
}

// newDefault returns the plugin with every option at its documented default (see sample.conf).
func newDefault() *Anomaly {
	return &Anomaly{
		Fields:        append([]string(nil), DefaultFields...),
		Trees:         10,
		Height:        8,
		WindowSize:    250,
		Seed:          42,
		Threshold:     0.7,
		ImputeDefault: "mean",
		EWMAAlpha:     0.5,
		EmitImputed:   true,
		KeyTags:       nil,
		MaxSeries:     1000,
		SeriesTTL:     config.Duration(24 * time.Hour),
		Mode:          ModeAnnotate,
		ScoreField:    "anomaly_score",
		AnomalyField:  "anomaly",
		WarmupField:   "anomaly_warmup",
		SkippedField:  "anomaly_skipped",
		ImputedField:  "imputed",
		StateInterval: config.Duration(time.Minute),
		Preset:        "",
		EPACorrection: string(qa.CorrectionUSWide),
	}
}

// settings is the validated configuration Init derives from the options.
type settings struct {
	hstOptions anomalycore.HalfSpaceTreesOptions
	imputers   []string // per field: "mean" | "ewma" | "last" | "none"
	qaOptions  qa.Options
}

// validate checks every option and returns the derived settings. Errors name the option as it is
// spelled in the TOML configuration.
func (p *Anomaly) validate() (settings, error) {
	var s settings
	switch p.Preset {
	case "":
	case PresetPurpleAir:
		return p.validatePreset()
	default:
		return s, fmt.Errorf("preset must be %q or empty, got %q", PresetPurpleAir, p.Preset)
	}
	if p.EPACorrection != string(qa.CorrectionUSWide) {
		return s, fmt.Errorf("epa_correction is only used with preset = %q; remove it", PresetPurpleAir)
	}
	if len(p.Fields) == 0 {
		return s, errors.New("fields: at least one field is required")
	}
	seen := make(map[string]bool, len(p.Fields))
	for _, f := range p.Fields {
		if f == "" {
			return s, errors.New("fields: empty field name")
		}
		if seen[f] {
			return s, fmt.Errorf("fields: %q listed twice", f)
		}
		seen[f] = true
	}
	if p.Trees < 1 {
		return s, fmt.Errorf("trees must be at least 1, got %d", p.Trees)
	}
	if p.Height < 1 {
		return s, fmt.Errorf("height must be at least 1, got %d", p.Height)
	}
	if p.WindowSize < 1 || p.WindowSize > 65535 {
		return s, fmt.Errorf("window_size must be in 1..65535, got %d", p.WindowSize)
	}
	if math.IsNaN(p.Threshold) || p.Threshold < 0 || p.Threshold > 1 {
		return s, fmt.Errorf("threshold must be in [0, 1] (scores are), got %v", p.Threshold)
	}

	limits := make(map[string][2]float64, len(p.Fields))
	for name, lim := range p.Limits {
		if !seen[name] {
			return s, fmt.Errorf("limits: %q is not one of fields %q", name, p.Fields)
		}
		if len(lim) != 2 {
			return s, fmt.Errorf("limits: %q must be [min, max], got %d numbers", name, len(lim))
		}
		lo, hi := lim[0], lim[1]
		if math.IsNaN(lo) || math.IsNaN(hi) || math.IsInf(lo, 0) || math.IsInf(hi, 0) || !(lo < hi) {
			return s, fmt.Errorf("limits: %q must be finite with min < max, got [%v, %v]", name, lo, hi)
		}
		limits[name] = [2]float64{lo, hi}
	}
	for _, f := range p.Fields {
		if _, ok := limits[f]; ok {
			continue
		}
		lim, ok := builtinLimits(f)
		if !ok {
			return s, fmt.Errorf("limits: no range for field %q (not a PurpleAir field with a known range); add %q = [min, max]", f, f)
		}
		limits[f] = lim
	}

	if !validImputer(p.ImputeDefault) {
		return s, fmt.Errorf("impute_default must be one of mean, ewma, last, none; got %q", p.ImputeDefault)
	}
	for name, kind := range p.Impute {
		if !seen[name] {
			return s, fmt.Errorf("impute: %q is not one of fields %q", name, p.Fields)
		}
		if !validImputer(kind) {
			return s, fmt.Errorf("impute: %q must be one of mean, ewma, last, none; got %q", name, kind)
		}
	}
	s.imputers = make([]string, len(p.Fields))
	usesEWMA := false
	for i, f := range p.Fields {
		kind, ok := p.Impute[f]
		if !ok {
			kind = p.ImputeDefault
		}
		s.imputers[i] = kind
		usesEWMA = usesEWMA || kind == "ewma"
	}
	if usesEWMA && !(p.EWMAAlpha > 0 && p.EWMAAlpha <= 1) {
		return s, fmt.Errorf("ewma_alpha must be in (0, 1], got %v", p.EWMAAlpha)
	}

	if err := p.validateSeriesAndMode(); err != nil {
		return s, err
	}
	outputs := []struct{ option, name string }{
		{"score_field", p.ScoreField}, {"anomaly_field", p.AnomalyField}, {"warmup_field", p.WarmupField},
		{"skipped_field", p.SkippedField}, {"imputed_field", p.ImputedField},
	}
	outSeen := make(map[string]string, len(outputs))
	for _, o := range outputs {
		if o.name == "" {
			return s, fmt.Errorf("%s must not be empty", o.option)
		}
		if seen[o.name] {
			return s, fmt.Errorf("%s: %q is also one of fields", o.option, o.name)
		}
		if other, dup := outSeen[o.name]; dup {
			return s, fmt.Errorf("%s: %q is also used by %s", o.option, o.name, other)
		}
		outSeen[o.name] = o.option
	}
	if p.StateFile != "" && time.Duration(p.StateInterval) < time.Second {
		return s, fmt.Errorf("state_interval must be at least 1s, got %s", time.Duration(p.StateInterval))
	}

	s.hstOptions = anomalycore.HalfSpaceTreesOptions{
		Trees:      p.Trees,
		Height:     p.Height,
		WindowSize: p.WindowSize,
		Limits:     limits,
		Seed:       p.Seed,
	}
	if err := s.hstOptions.Validate(); err != nil {
		return s, fmt.Errorf("half-space trees options (trees, height, window_size, limits, seed): %w", err)
	}
	return s, nil
}

// validateSeriesAndMode checks the options the reference flow and the preset share: key_tags,
// max_series, series_ttl and mode.
func (p *Anomaly) validateSeriesAndMode() error {
	tagSeen := make(map[string]bool, len(p.KeyTags))
	for _, k := range p.KeyTags {
		if k == "" || tagSeen[k] {
			return fmt.Errorf("key_tags: empty or repeated tag %q", k)
		}
		tagSeen[k] = true
	}
	if p.MaxSeries < 1 {
		return fmt.Errorf("max_series must be at least 1, got %d", p.MaxSeries)
	}
	if p.SeriesTTL < 0 {
		return fmt.Errorf("series_ttl must not be negative, got %s", time.Duration(p.SeriesTTL))
	}
	switch p.Mode {
	case ModeAnnotate, ModeAnomaliesOnly:
	default:
		return fmt.Errorf("mode must be %q or %q, got %q", ModeAnnotate, ModeAnomaliesOnly, p.Mode)
	}
	return nil
}

func validImputer(kind string) bool {
	switch kind {
	case "mean", "ewma", "last", "none":
		return true
	}
	return false
}

// newImputer makes a field's imputer; nil means "none".
func newImputer(kind string, alpha float64) (impute.Streaming, error) {
	if kind == "none" {
		return nil, nil
	}
	return impute.NewStreaming(kind, alpha)
}
