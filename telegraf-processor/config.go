package anomaly

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/influxdata/telegraf/config"

	"github.com/hazewatch/hazewatch/pkg/anomaly/hst"
	"github.com/hazewatch/hazewatch/pkg/impute"
	"github.com/hazewatch/hazewatch/pkg/purpleair"
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
	model     *hst.Model   // the reference flow's shared trees
	imputers  []string     // per field: "mean" | "ewma" | "last" | "none"
	qaOptions qa.Options   // preset: what a restored detector is made with
	detector  *qa.Detector // preset: the detector Init installs
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
	if math.IsNaN(p.Threshold) || p.Threshold < 0 || p.Threshold > 1 {
		return s, fmt.Errorf("threshold must be in [0, 1] (scores are), got %v", p.Threshold)
	}
	var err error
	if s.model, err = p.newModel(); err != nil {
		return s, err
	}
	if s.imputers, err = p.imputerKinds(); err != nil {
		return s, err
	}
	if err := p.validateSeriesAndMode(); err != nil {
		return s, err
	}
	outputs := []outputOption{
		{"score_field", p.ScoreField}, {"anomaly_field", p.AnomalyField}, {"warmup_field", p.WarmupField},
		{"skipped_field", p.SkippedField}, {"imputed_field", p.ImputedField},
	}
	if err := checkOutputs(outputs, p.Fields, "also one of fields"); err != nil {
		return s, err
	}
	if p.StateFile != "" && time.Duration(p.StateInterval) < time.Second {
		return s, fmt.Errorf("state_interval must be at least 1s, got %s", time.Duration(p.StateInterval))
	}
	return s, nil
}

// newModel builds the shared trees over fields, each with its limits or, for a PurpleAir field, its
// known range. The core checks the options (fields, limits, trees, height, window_size).
func (p *Anomaly) newModel() (*hst.Model, error) {
	if len(p.Fields) == 0 {
		return nil, errors.New("fields: at least one field is required")
	}
	limits := make(map[string][2]float64, len(p.Fields))
	for name, lim := range p.Limits {
		if len(lim) != 2 {
			return nil, fmt.Errorf("limits: %q must be [min, max], got %d numbers", name, len(lim))
		}
		limits[name] = [2]float64{lim[0], lim[1]}
	}
	for _, f := range p.Fields {
		if f == "" {
			return nil, errors.New("fields: empty field name")
		}
		if _, ok := limits[f]; ok {
			continue
		}
		lo, hi, ok := purpleair.FieldLimits(f)
		if !ok {
			return nil, fmt.Errorf("limits: no range for field %q (not a PurpleAir field with a known range); add %q = [min, max]", f, f)
		}
		limits[f] = [2]float64{lo, hi}
	}
	opt := hst.DefaultOptions()
	opt.Trees, opt.Height, opt.WindowSize, opt.Limits, opt.Seed = p.Trees, p.Height, p.WindowSize, limits, p.Seed
	model, err := hst.New(p.Fields, opt)
	if err != nil {
		return nil, hstOptionError(err)
	}
	return model, nil
}

// imputerKinds is each field's imputer: its impute entry, else impute_default.
func (p *Anomaly) imputerKinds() ([]string, error) {
	for name := range p.Impute {
		if !slices.Contains(p.Fields, name) {
			return nil, fmt.Errorf("impute: %q is not one of fields %q", name, p.Fields)
		}
	}
	kinds := make([]string, len(p.Fields))
	for i, f := range p.Fields {
		kind, ok := p.Impute[f]
		option := "impute." + f
		if !ok {
			kind, option = p.ImputeDefault, "impute_default"
		}
		if _, err := impute.NewStreaming(kind, p.EWMAAlpha); err != nil {
			return nil, imputeOptionError(err, option)
		}
		kinds[i] = kind
	}
	return kinds, nil
}

// outputOption is an option naming a field the processor adds.
type outputOption struct{ option, name string }

// checkOutputs checks that the fields the processor adds are named, are not fields it reads (read,
// described as readAs in the error), are not fields it always adds (fixed), and are apart from each
// other. The reference flow and the preset share it.
func checkOutputs(outputs []outputOption, read []string, readAs string, fixed ...string) error {
	seen := make(map[string]string, len(outputs)+len(fixed))
	for _, f := range fixed {
		seen[f] = ""
	}
	for _, o := range outputs {
		if o.name == "" {
			return fmt.Errorf("%s must not be empty", o.option)
		}
		if slices.Contains(read, o.name) {
			return fmt.Errorf("%s: %q is %s", o.option, o.name, readAs)
		}
		if other, dup := seen[o.name]; dup {
			if other == "" {
				return fmt.Errorf("%s: %q is a field the preset adds", o.option, o.name)
			}
			return fmt.Errorf("%s: %q is also used by %s", o.option, o.name, other)
		}
		seen[o.name] = o.option
	}
	return nil
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

// hstOptions are the TOML names of the core's options.
var hstOptions = map[string]string{
	"Trees":      "trees",
	"Height":     "height",
	"WindowSize": "window_size",
	"Limits":     "limits",
	"features":   "fields",
}

// hstOptionError restates an option the core rejected (*hst.OptionError) with its TOML name.
func hstOptionError(err error) error {
	var oe *hst.OptionError
	if errors.As(err, &oe) {
		if name, ok := hstOptions[oe.Option]; ok {
			if oe.Key != "" {
				return fmt.Errorf("%s: %q %s", name, oe.Key, oe.Msg)
			}
			return fmt.Errorf("%s %s", name, oe.Msg)
		}
	}
	return err
}

// imputeOptionError restates an imputer the core rejected with its TOML name: the kind under
// option (impute_default or impute.<field>), the smoothing factor under ewma_alpha.
func imputeOptionError(err error, option string) error {
	var oe *impute.OptionError
	if errors.As(err, &oe) && oe.Option == "alpha" {
		option = "ewma_alpha"
	}
	if oe != nil {
		return fmt.Errorf("%s %s", option, oe.Msg)
	}
	return err
}
