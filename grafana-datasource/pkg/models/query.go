// Package models holds the Hazewatch anomaly datasource's typed settings and
// its versioned query model: what the frontend (and alert rules) send in each
// query's JSON, how it is validated, defaulted and resolved against the
// panel's time range, and how template macros are expanded in the backend.
//
// # Query model, schemaVersion 2
//
// The user-facing reference (with examples) is QUERY_MODEL.md next to this
// file; this comment is the authoritative summary.
//
//	{
//	  "schemaVersion": 2,                       // optional; absent = 1; >2 is refused
//	  "preset": "",                             // "" = Isolation Forest over features | "purpleair" (below)
//	  "calibration": "tail",                    // "tail" (default from version 2) | "none" (raw; version 1's default)
//	  "mode": "series",                         // "series" (default) | "fleet"
//	  "features": [                             // 1..32 named PromQL expressions
//	    {"name": "pm25", "expr": "purpleair_pm2_5_cf_1"},
//	    {"name": "rh",   "expr": "purpleair_humidity"}
//	  ],
//	  "entity": ["sensor_index"],               // label(s) identifying one entity; a string is accepted too
//	  "forest": "per_entity",                   // series mode: "per_entity" (default) | "shared"
//	  "fleetAt": "last",                        // fleet mode: "last" (default) | "each"
//	  "training": {"range": "panel", "step": ""},// range: "panel" (default) or a duration "7d" = the 7 days before the panel
//	                                            // step: "" = from the panel (interval, max data points) or a duration
//	  "isolationForest": {"trees": 100, "maxSamples": "auto", "contamination": "auto", "seed": 42},
//	  "imputation": {"method": "knn", "k": 5},  // "knn" (default) | "none" (drop incomplete points)
//	  "output": ["score"],                      // any of "score", "decision", "anomaly"
//	  "includeFeatures": false,                 // also return the feature values, imputed cells flagged
//	  "variables": {"site": "oakland"}          // $site / ${site} values for alert rules (no browser there)
//	}
//
// Scores: "score" is the Isolation Forest anomaly score of the original paper,
// s = −score_samples ∈ (0, 1], higher = more anomalous; "decision" is
// scikit-learn's decision_function (negative = anomalous); "anomaly" is 1 for
// points predicted anomalous, else 0.
//
// Modes: "series" treats each timestamp of an entity as a sample and learns
// what is normal for that entity over the training range (one forest per entity,
// or one shared forest fitted on every entity's training rows). "fleet"
// compares entities with each other: at each step, one forest is fitted on the
// cross-section of all entities at that step (what the reference batch did on
// one snapshot), and each entity is scored against the fleet; "fleetAt": "last"
// returns only the last step of the panel range.
//
// Calibration "tail" reports score as 1 − its tail probability under the
// training scores (engine/calibrate.go), so that one threshold is one
// false-alarm rate at any fleet size.
//
// The "purpleair" preset runs the PurpleAir QA detector (pkg/purpleair/qa)
// over the channels Telegraf stores, one detector over the whole fleet;
// features, forest, isolationForest and imputation are not read:
//
//	{"schemaVersion": 2, "preset": "purpleair", "mode": "fleet", "fleetAt": "last",
//	 "purpleair": {"selector": "", "sensor": "", "threshold": 0.7, "correction": "us_wide", "detailLabel": false},
//	 "training": {"range": "6d", "step": "2m"},          // range: the detector's warm-up
//	 "output": ["score", "anomaly", "kind", "reason"]}  // also "detail", "since", "pm2.5_epa"
//
// Macros resolved in every expression (also for alert rules): $__interval,
// $__interval_ms (the step), $__rate_interval (max(step + scrape interval,
// 4 × scrape interval)), $__range, $__range_s, $__range_ms, and each entry
// of "variables" as $name, ${name} or [[name]].
package models

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
)

// CurrentSchemaVersion is the query schema this backend reads. Queries without
// schemaVersion are read as version 1 (the first published schema), so that
// a stored version-1 query keeps its meaning: version 2 added "preset" and
// "calibration", and only the default of "calibration" differs between the
// two (version 1: raw scores, as before; version 2: calibrated).
const CurrentSchemaVersion = 2

// Presets.
const (
	PresetNone      = ""
	PresetPurpleAir = "purpleair"
)

// Calibrations of the Isolation Forest score.
const (
	// CalibrationNone is the raw score of the paper (version 1's only score).
	CalibrationNone = "none"
	// CalibrationTail is 1 − the score's tail probability under the training
	// scores: a threshold 1 − p fires on about a share p of readings like the
	// training data, whatever the fleet size or window.
	CalibrationTail = "tail"
)

// Values of purpleair.kind (and of the preset's kind output): who a verdict is about.
const (
	PurpleAirKindSensor = "sensor"
	PurpleAirKindAir    = "air"
)

// DefaultPurpleAirThreshold is the PurpleAir preset's anomaly threshold: the
// detector's (and the processor's) 0.7.
const DefaultPurpleAirThreshold = 0.7

// Modes.
const (
	ModeSeries = "series"
	ModeFleet  = "fleet"
)

// Forest scopes for series mode.
const (
	ForestPerEntity = "per_entity"
	ForestShared    = "shared"
)

// Fleet outputs.
const (
	FleetAtLast = "last"
	FleetAtEach = "each"
)

// Imputation methods.
const (
	ImputeKNN  = "knn"
	ImputeNone = "none"
)

// Outputs.
const (
	OutputScore    = "score"
	OutputDecision = "decision"
	OutputAnomaly  = "anomaly"
	// The PurpleAir preset's outputs besides score and anomaly.
	OutputKind   = "kind"
	OutputReason = "reason"
	OutputDetail = "detail"
	OutputSince  = "since"
	OutputEPA    = "pm2.5_epa"
)

// presetOutputs are the outputs only the PurpleAir preset has; decision is
// the forest's alone.
var presetOutputs = map[string]bool{OutputKind: true, OutputReason: true, OutputDetail: true, OutputSince: true, OutputEPA: true}

// TrainingPanel selects the panel's own time range as the training range.
const TrainingPanel = "panel"

// Limits on the query itself (independent of datasource settings).
const (
	MaxFeatures     = 32
	MaxTrees        = 10000
	MaxKNNNeighbors = 100
	DefaultTrees    = 100
	DefaultK        = 5
	DefaultEntity   = "sensor_index"
)

// Query is the decoded, validated and defaulted query JSON.
type Query struct {
	SchemaVersion   int               `json:"schemaVersion"`
	Preset          string            `json:"preset"`
	PurpleAir       PurpleAir         `json:"purpleair"`
	Calibration     string            `json:"calibration"`
	Mode            string            `json:"mode"`
	Features        []Feature         `json:"features"`
	Entity          EntityLabels      `json:"entity"`
	Forest          string            `json:"forest"`
	FleetAt         string            `json:"fleetAt"`
	Training        Training          `json:"training"`
	IsolationForest IsolationForest   `json:"isolationForest"`
	Imputation      Imputation        `json:"imputation"`
	Output          []string          `json:"output"`
	IncludeFeatures bool              `json:"includeFeatures"`
	Variables       map[string]string `json:"variables,omitempty"`
}

// PurpleAir configures the "purpleair" preset: the PurpleAir QA detector
// (pkg/purpleair/qa) over the channels Telegraf stores, one detector over
// the whole fleet.
type PurpleAir struct {
	// Selector is label matchers added to every metric the preset reads
	// (`location_type="outside"`), without braces; "" = every sensor.
	Selector string `json:"selector"`
	// Sensor restricts what series mode returns to the sensor_index values
	// matching this regular expression (anchored, as PromQL's =~); "" = all.
	// The detector still sees the whole fleet: neighbours decide sensor or air.
	Sensor string `json:"sensor"`
	// Threshold is the score at which a reading is an anomaly, in (0, 1]; 0 → 0.7.
	Threshold float64 `json:"threshold"`
	// Correction is the EPA correction of pm2.5_epa: "us_wide" (default) or "extended".
	Correction string `json:"correction"`
	// DetailLabel adds the detail text as a label on the numeric (fleetAt
	// "last") frames. Off by default: the text changes as an episode goes on
	// ("for 46 min", "for 48 min"), and a label that changes makes Grafana
	// alerting start a new alert instance at each evaluation.
	DetailLabel bool `json:"detailLabel"`
	// Kind keeps the verdicts of one kind: "sensor" (faults: send someone)
	// or "air" (tell the public); "" keeps both. A verdict of the other kind
	// reads as no verdict, so that an alert rule on anomaly or on score
	// pages for one audience only.
	Kind string `json:"kind"`

	SensorRE *regexp.Regexp `json:"-"`
}

// Feature is one named PromQL expression; its name becomes the column (and
// the field name when features are returned).
type Feature struct {
	Name string `json:"name"`
	Expr string `json:"expr"`
}

// EntityLabels accepts either "sensor_index" or ["site", "sensor_index"].
type EntityLabels []string

// UnmarshalJSON accepts a string or an array of strings.
func (e *EntityLabels) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*e = splitNonEmpty(s)
		return nil
	}
	var l []string
	if err := json.Unmarshal(b, &l); err != nil {
		return fmt.Errorf("entity must be a label name or a list of label names")
	}
	*e = l
	return nil
}

// Training selects the data the forest learns from.
type Training struct {
	// Range is "panel" (default: learn from the panel's range) or a duration
	// ("7d") meaning that long immediately before the panel's start.
	Range string `json:"range"`
	// Step is the resolution ("2m"); empty = from the panel's interval and
	// max data points. Training and scoring always share one step.
	Step string `json:"step"`

	// Lookback is Range parsed (0 = panel).
	Lookback time.Duration `json:"-"`
	// FixedStep is Step parsed (0 = from the panel).
	FixedStep time.Duration `json:"-"`
}

// DefaultSeed is the seed of a query that names none: the reference batch's random_state=42, which is
// also what the query editor writes.
const DefaultSeed = 42

// IsolationForest holds the forest parameters, with scikit-learn's names and
// semantics.
type IsolationForest struct {
	Trees         int    `json:"trees"`         // n_estimators; 0 → 100
	MaxSamples    string `json:"maxSamples"`    // "auto" | count "256" | fraction "0.5"
	Contamination string `json:"contamination"` // "auto" | fraction in (0, 0.5]
	MaxFeatures   string `json:"maxFeatures"`   // "" = all | count "2" | fraction "0.5"
	Seed          int64  `json:"seed"`          // random_state; absent → DefaultSeed; same seed, same data → same scores
}

// Imputation configures how missing cells are filled before fitting.
type Imputation struct {
	Method string `json:"method"` // "knn" (default) | "none"
	K      int    `json:"k"`      // neighbours for knn; 0 → 5
}

// QueryError is an invalid query: the message says which field and why.
type QueryError struct{ Msg string }

func (e *QueryError) Error() string { return "invalid query: " + e.Msg }

func queryErrorf(format string, args ...any) error {
	return &QueryError{Msg: fmt.Sprintf(format, args...)}
}

var featureNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
var labelNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ParseQuery decodes a query's JSON, applies defaults and validates it.
// Unknown keys are ignored (Grafana adds refId, datasource, intervalMs …).
func ParseQuery(raw []byte) (*Query, error) {
	// Defaults that a zero cannot stand for are set before decoding, which keeps them where the JSON
	// is silent (seed 0 is a seed like any other).
	q := Query{IsolationForest: IsolationForest{Seed: DefaultSeed}}
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, queryErrorf("empty query JSON")
	}
	if err := json.Unmarshal(raw, &q); err != nil {
		return nil, queryErrorf("JSON does not decode: %v", jsonErrorText(err))
	}
	if err := q.normalize(); err != nil {
		return nil, err
	}
	return &q, nil
}

func jsonErrorText(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("field %q: expected %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return err.Error()
}

// normalize applies the defaults and checks every key in the order a reader
// of the query would; the first problem found is the error.
func (q *Query) normalize() error {
	if err := runChecks(q.normalizeVersion, q.normalizeMode, q.normalizeCalibration); err != nil {
		return err
	}
	switch q.Preset = strings.TrimSpace(q.Preset); q.Preset {
	case PresetNone:
		return runChecks(q.normalizeFeatures, q.normalizeEntity, q.normalizeForest, q.normalizeFleetAt, q.normalizeTraining,
			q.IsolationForest.normalize, q.Imputation.normalize, q.normalizeOutputs, q.checkVariables)
	case PresetPurpleAir:
		return q.normalizePurpleAir()
	default:
		return queryErrorf("preset %q is unknown (want %q, or none)", q.Preset, PresetPurpleAir)
	}
}

// normalizePurpleAir checks a query of the PurpleAir preset: the detector
// builds its own features, so features, forest, isolationForest, imputation
// and includeFeatures are not read (the editor keeps them for a switch back).
func (q *Query) normalizePurpleAir() error {
	return runChecks(q.normalizeFleetAt, q.normalizePresetEntity, q.checkVariables, q.normalizeTraining,
		func() error { return q.PurpleAir.normalize(q.Variables) }, q.normalizePresetOutputs)
}

// runChecks runs each check in turn and stops at the first error.
func runChecks(checks ...func() error) error {
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func (q *Query) normalizeVersion() error {
	switch {
	case q.SchemaVersion == 0:
		q.SchemaVersion = 1
	case q.SchemaVersion > CurrentSchemaVersion:
		return queryErrorf("schemaVersion %d is newer than this plugin understands (%d); upgrade the plugin", q.SchemaVersion, CurrentSchemaVersion)
	case q.SchemaVersion < 0:
		return queryErrorf("schemaVersion %d is invalid", q.SchemaVersion)
	}
	return nil
}

func (q *Query) normalizeMode() error {
	switch q.Mode {
	case "":
		q.Mode = ModeSeries
	case ModeSeries, ModeFleet:
	default:
		return queryErrorf("unknown mode %q (want %q or %q)", q.Mode, ModeSeries, ModeFleet)
	}
	return nil
}

// normalizeCalibration defaults calibration by schema version: version 1
// queries keep the raw score they always had.
func (q *Query) normalizeCalibration() error {
	switch q.Calibration = strings.TrimSpace(q.Calibration); q.Calibration {
	case "":
		q.Calibration = CalibrationNone
		if q.SchemaVersion >= 2 {
			q.Calibration = CalibrationTail
		}
	case CalibrationNone, CalibrationTail:
	default:
		return queryErrorf("calibration %q is unknown (want %q or %q)", q.Calibration, CalibrationTail, CalibrationNone)
	}
	return nil
}

func (q *Query) normalizeFeatures() error {
	if len(q.Features) == 0 {
		return queryErrorf("no features: add at least one named PromQL expression, e.g. {\"name\":\"pm25\",\"expr\":\"purpleair_pm2_5_cf_1\"}")
	}
	if len(q.Features) > MaxFeatures {
		return queryErrorf("%d features, at most %d are allowed", len(q.Features), MaxFeatures)
	}
	seen := map[string]bool{}
	for i := range q.Features {
		f := &q.Features[i]
		f.Name = strings.TrimSpace(f.Name)
		f.Expr = strings.TrimSpace(f.Expr)
		if f.Name == "" {
			f.Name = fmt.Sprintf("f%d", i+1)
		}
		if !featureNameRE.MatchString(f.Name) {
			return queryErrorf("feature %d: name %q must be letters, digits and _ (not starting with a digit)", i+1, f.Name)
		}
		if seen[f.Name] {
			return queryErrorf("feature name %q is used twice", f.Name)
		}
		seen[f.Name] = true
		if f.Expr == "" {
			return queryErrorf("feature %q has an empty PromQL expression", f.Name)
		}
	}
	return nil
}

func (q *Query) normalizeEntity() error {
	if len(q.Entity) == 0 {
		q.Entity = EntityLabels{DefaultEntity}
	}
	for _, l := range q.Entity {
		if !labelNameRE.MatchString(l) {
			return queryErrorf("entity label %q is not a valid label name", l)
		}
	}
	return nil
}

// normalizePresetEntity allows sensor_index only: the detector keeps one
// state per sensor.
func (q *Query) normalizePresetEntity() error {
	if len(q.Entity) == 0 {
		q.Entity = EntityLabels{DefaultEntity}
	}
	if len(q.Entity) != 1 || q.Entity[0] != DefaultEntity {
		return queryErrorf("entity must be %q with preset %q (the detector keeps one state per sensor), got %q", DefaultEntity, PresetPurpleAir, strings.Join(q.Entity, ","))
	}
	return nil
}

func (q *Query) normalizeForest() error {
	switch q.Forest {
	case "":
		q.Forest = ForestPerEntity
	case ForestPerEntity, ForestShared:
	default:
		return queryErrorf("forest %q is unknown (want %q or %q)", q.Forest, ForestPerEntity, ForestShared)
	}
	return nil
}

func (q *Query) normalizeFleetAt() error {
	switch q.FleetAt {
	case "":
		q.FleetAt = FleetAtLast
	case FleetAtLast, FleetAtEach:
	default:
		return queryErrorf("fleetAt %q is unknown (want %q or %q)", q.FleetAt, FleetAtLast, FleetAtEach)
	}
	return nil
}

// normalizeTraining resolves variables in the training durations first:
// alert rules carry their values in "variables", and $__interval as the step
// means the panel's own interval.
func (q *Query) normalizeTraining() error {
	for _, d := range []*string{&q.Training.Range, &q.Training.Step} {
		switch v := strings.TrimSpace(*d); v {
		case "$__interval", "${__interval}", "[[__interval]]":
			*d = ""
		default:
			*d = Interpolate(v, q.Variables)
		}
	}
	return q.Training.normalize()
}

func (m *Imputation) normalize() error {
	switch m.Method {
	case "":
		m.Method = ImputeKNN
	case ImputeKNN, ImputeNone:
	default:
		return queryErrorf("imputation.method %q is unknown (want %q or %q)", m.Method, ImputeKNN, ImputeNone)
	}
	if m.K == 0 {
		m.K = DefaultK
	}
	if m.K < 1 || m.K > MaxKNNNeighbors {
		return queryErrorf("imputation.k must be in 1..%d, got %d", MaxKNNNeighbors, m.K)
	}
	return nil
}

// normalizeOutputs checks the Isolation Forest's outputs; the preset's own
// are refused by name, so that the error says what would allow them.
func (q *Query) normalizeOutputs() error {
	if len(q.Output) == 0 {
		q.Output = []string{OutputScore}
	}
	return checkOutputs(q.Output, func(o string) error {
		switch {
		case o == OutputScore, o == OutputDecision, o == OutputAnomaly:
			return nil
		case presetOutputs[o]:
			return queryErrorf("output %q needs preset %q", o, PresetPurpleAir)
		}
		return queryErrorf("output %q is unknown (want score, decision or anomaly)", o)
	})
}

func (q *Query) normalizePresetOutputs() error {
	if len(q.Output) == 0 {
		q.Output = []string{OutputScore, OutputAnomaly, OutputKind, OutputReason}
	}
	return checkOutputs(q.Output, func(o string) error {
		switch {
		case o == OutputScore, o == OutputAnomaly, presetOutputs[o]:
			return nil
		case o == OutputDecision:
			return queryErrorf("output %q is the Isolation Forest's; preset %q has score, anomaly, kind, reason, detail, since and pm2.5_epa", o, PresetPurpleAir)
		}
		return queryErrorf("output %q is unknown (want score, anomaly, kind, reason, detail, since or pm2.5_epa)", o)
	})
}

// checkOutputs refuses an output that known refuses, or one listed twice.
func checkOutputs(outputs []string, known func(string) error) error {
	seen := map[string]bool{}
	for _, o := range outputs {
		if err := known(o); err != nil {
			return err
		}
		if seen[o] {
			return queryErrorf("output %q is listed twice", o)
		}
		seen[o] = true
	}
	return nil
}

func (q *Query) checkVariables() error {
	for name := range q.Variables {
		if !featureNameRE.MatchString(name) || strings.HasPrefix(name, "__") {
			return queryErrorf("variable name %q must be letters, digits and _ and must not start with __", name)
		}
	}
	return nil
}

// normalize checks the preset's own keys; vars resolve $name in the
// selector and the sensor expression.
func (p *PurpleAir) normalize(vars map[string]string) error {
	p.Selector = strings.TrimSpace(Interpolate(p.Selector, vars))
	if strings.ContainsAny(p.Selector, "{}") {
		return queryErrorf("purpleair.selector %q: give label matchers without braces, e.g. location_type=\"outside\"", p.Selector)
	}
	p.Sensor = strings.TrimSpace(Interpolate(p.Sensor, vars))
	if p.Sensor != "" {
		re, err := regexp.Compile("^(?:" + p.Sensor + ")$")
		if err != nil {
			return queryErrorf("purpleair.sensor %q is not a regular expression: %v", p.Sensor, err)
		}
		p.SensorRE = re
	}
	if p.Threshold == 0 {
		p.Threshold = DefaultPurpleAirThreshold
	}
	if !(p.Threshold > 0 && p.Threshold <= 1) {
		return queryErrorf("purpleair.threshold must be in (0, 1], got %v", p.Threshold)
	}
	switch p.Correction = strings.TrimSpace(p.Correction); p.Correction {
	case "":
		p.Correction = "us_wide"
	case "us_wide", "extended":
	default:
		return queryErrorf("purpleair.correction %q is unknown (want \"us_wide\" or \"extended\")", p.Correction)
	}
	switch p.Kind = strings.TrimSpace(p.Kind); p.Kind {
	case "", PurpleAirKindSensor, PurpleAirKindAir:
	default:
		return queryErrorf("purpleair.kind %q is unknown (want %q, %q, or empty for both)", p.Kind, PurpleAirKindSensor, PurpleAirKindAir)
	}
	return nil
}

func (t *Training) normalize() error {
	t.Range = strings.TrimSpace(t.Range)
	t.Step = strings.TrimSpace(t.Step)
	if t.Range != "" && t.Range != TrainingPanel {
		d, err := model.ParseDuration(t.Range)
		if err != nil || d <= 0 {
			return queryErrorf("training.range %q: want \"panel\" or a duration like \"7d\"", t.Range)
		}
		t.Lookback = time.Duration(d)
	} else {
		t.Range = TrainingPanel
	}
	if t.Step != "" && t.Step != "auto" {
		d, err := model.ParseDuration(t.Step)
		if err != nil || d <= 0 {
			return queryErrorf("training.step %q: want a duration like \"2m\" (or empty for the panel's interval)", t.Step)
		}
		if time.Duration(d) < time.Second {
			return queryErrorf("training.step %q is below one second", t.Step)
		}
		t.FixedStep = time.Duration(d)
	}
	return nil
}

func (p *IsolationForest) normalize() error {
	if p.Trees == 0 {
		p.Trees = DefaultTrees
	}
	// The core refuses fewer than one tree; the upper bound is this
	// datasource's, a guard on what one query may ask of the server.
	if p.Trees > MaxTrees {
		return queryErrorf("isolationForest.trees must be at most %d (the datasource's limit), got %d", MaxTrees, p.Trees)
	}
	// Empty means the default, as it does in the editor; otherwise the
	// scikit-learn spellings the command line reads too.
	if strings.TrimSpace(p.MaxSamples) == "" {
		p.MaxSamples = "auto"
	}
	if c := strings.TrimSpace(p.Contamination); c == "" || c == "auto" {
		p.Contamination = "auto"
	}
	opt, err := p.Options(1)
	if err != nil {
		return err
	}
	return ForestError(opt.Check())
}

// Options are the core's options for these parameters. A value that does not parse is a
// *QueryError naming its JSON field; ranges are the core's to check when it fits (see
// ForestError). workers is the caller's: it never changes a result.
func (p IsolationForest) Options(workers int) (iforest.Options, error) {
	o := iforest.DefaultOptions()
	o.NEstimators, o.Seed, o.Workers = p.Trees, p.Seed, workers
	var err error
	if o.MaxSamples, err = iforest.ParseMaxSamples(p.MaxSamples); err != nil {
		return o, queryErrorf("isolationForest.maxSamples %q: want \"auto\", a count like \"256\" or a fraction in (0, 1] like \"0.5\"", p.MaxSamples)
	}
	if strings.TrimSpace(p.MaxFeatures) != "" {
		if o.MaxFeatures, err = iforest.ParseMaxFeatures(p.MaxFeatures); err != nil {
			return o, queryErrorf("isolationForest.maxFeatures %q: want empty (all), a count like \"2\" or a fraction in (0, 1]", p.MaxFeatures)
		}
	}
	if o.Contamination, err = iforest.ParseContamination(p.Contamination); err != nil {
		return o, queryErrorf("isolationForest.contamination %q: want \"auto\" or a fraction in (0, 0.5] like \"0.01\"", p.Contamination)
	}
	return o, nil
}

// forestFields are the query's names of the core's options.
var forestFields = map[string]string{
	"NEstimators":   "isolationForest.trees",
	"MaxSamples":    "isolationForest.maxSamples",
	"Contamination": "isolationForest.contamination",
	"MaxFeatures":   "isolationForest.maxFeatures",
}

// ForestError restates an option the core rejected (*iforest.OptionError) as a *QueryError
// naming the query's field; other errors pass unchanged.
func ForestError(err error) error {
	var oe *iforest.OptionError
	if errors.As(err, &oe) {
		if field, ok := forestFields[oe.Option]; ok {
			return &QueryError{Msg: field + " " + oe.Msg}
		}
	}
	return err
}

func splitNonEmpty(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
