// Package anomaly is the Telegraf processor plugin `anomaly`: it fills gaps in PurpleAir readings with
// streaming imputers and attaches a Half-Space Trees anomaly score to every metric as it passes through
// the collection pipeline, keeping one model per series (or one for the whole stream) and persisting the
// models across restarts; with preset = "purpleair" it runs the PurpleAir quality checks of package
// qa instead (see preset.go). It runs inside Telegraf as a compiled-in plugin or, more usually, as an external
// plugin through processors.execd (see cmd/telegraf-anomaly).
package anomaly

import (
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/plugins/processors"

	"github.com/hazewatch/hazewatch/pkg/anomaly/hst"
	"github.com/hazewatch/hazewatch/pkg/impute"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

//go:embed sample.conf
var sampleConfig string

// Anomaly is the processor. Options are documented in sample.conf and README.md.
type Anomaly struct {
	Fields          []string             `toml:"fields"`
	Limits          map[string][]float64 `toml:"limits"`
	Trees           int                  `toml:"trees"`
	Height          int                  `toml:"height"`
	WindowSize      int                  `toml:"window_size"`
	Seed            int64                `toml:"seed"`
	Threshold       float64              `toml:"threshold"`
	Impute          map[string]string    `toml:"impute"`
	ImputeDefault   string               `toml:"impute_default"`
	EWMAAlpha       float64              `toml:"ewma_alpha"`
	EmitImputed     bool                 `toml:"emit_imputed"`
	ScoreAllMissing bool                 `toml:"score_all_missing"`
	KeyTags         []string             `toml:"key_tags"`
	MaxSeries       int                  `toml:"max_series"`
	SeriesTTL       config.Duration      `toml:"series_ttl"`
	Mode            string               `toml:"mode"`
	ScoreField      string               `toml:"score_field"`
	AnomalyField    string               `toml:"anomaly_field"`
	WarmupField     string               `toml:"warmup_field"`
	SkippedField    string               `toml:"skipped_field"`
	ImputedField    string               `toml:"imputed_field"`
	StateFile       string               `toml:"state_file"`
	StateInterval   config.Duration      `toml:"state_interval"`
	Preset          string               `toml:"preset"`
	EPACorrection   string               `toml:"epa_correction"`

	Log telegraf.Logger `toml:"-"`

	now func() time.Time // wall clock for series_ttl; replaced in tests

	settings settings
	hst      *hst.Model
	qa       *qa.Detector // preset = "purpleair"; hst is nil then
	stateFP  uint64       // fingerprint of everything a saved state depends on (see stateFingerprint)

	// mu guards the models: Add runs on Telegraf's goroutine, the periodic state writer on its own.
	mu       sync.Mutex
	table    seriesTable
	x        []float64 // feature vector scratch
	observed []bool    // scratch: which features came from the metric (vs. imputed)
	keyBuf   []byte    // scratch: series key
	dirty    bool      // models changed since the last state write
	// restoredAt is when the installed saved state was written (Unix ns), 0 if none was: with both
	// Telegraf's statefile and state_file, the newer wins.
	restoredAt int64
	limiter    rateLimiter

	saveMu     sync.Mutex // serialises SaveState
	stopWriter chan struct{}
	writerDone chan struct{}
	started    bool
}

// SampleConfig returns the embedded sample configuration.
func (*Anomaly) SampleConfig() string { return sampleConfig }

// Init validates the options and builds the shared tree structure. It touches no file: the state is
// loaded in Start.
func (p *Anomaly) Init() error {
	s, err := p.validate()
	if err != nil {
		return err
	}
	p.settings = s
	if p.Preset == PresetPurpleAir {
		return p.initPreset()
	}
	p.hst = s.model
	p.stateFP = p.stateFingerprint()
	if p.now == nil {
		p.now = time.Now
	}
	if p.Log == nil {
		p.Log = discardLogger{}
	}
	p.x = make([]float64, len(p.Fields))
	p.observed = make([]bool, len(p.Fields))
	p.table.init(p.MaxSeries)
	p.limiter.init(p.Log, p.now, 10*time.Second)
	return nil
}

// Start checks that state_file can be written, loads the saved state (if state_file is set) and starts
// the periodic state writer.
func (p *Anomaly) Start(telegraf.Accumulator) error {
	if p.hst == nil && p.qa == nil {
		return errors.New("processor not initialised: Init must run before Start")
	}
	if p.StateFile != "" {
		// Fail now rather than lose the models at the first write or at stop.
		if err := prepareStateFile(p.StateFile); err != nil {
			return err
		}
		p.mu.Lock()
		p.loadState()
		p.mu.Unlock()
		p.stopWriter = make(chan struct{})
		p.writerDone = make(chan struct{})
		go p.writeLoop(time.Duration(p.StateInterval))
	}
	p.started = true
	return nil
}

// Stop writes the state one last time. It never emits metrics: by the time the shim calls Stop (stdin
// closed) the output channel is already closed.
func (p *Anomaly) Stop() {
	if !p.started {
		return
	}
	p.started = false
	if p.stopWriter != nil {
		close(p.stopWriter)
		<-p.writerDone
	}
	if p.StateFile != "" {
		if err := p.SaveState(); err != nil {
			p.Log.Errorf("writing state file on stop: %v", err)
		}
	}
}

// Add imputes, scores and learns one metric, then passes it on (or drops it in anomalies_only mode).
func (p *Anomaly) Add(m telegraf.Metric, acc telegraf.Accumulator) error {
	p.mu.Lock()
	var keep bool
	if p.qa != nil {
		keep = p.processPreset(m)
	} else {
		keep = p.process(m)
	}
	p.mu.Unlock()
	if keep {
		acc.AddMetric(m)
	} else {
		m.Drop()
	}
	return nil
}

// skip reasons, as written into skipped_field.
const (
	reasonNoField = "no scorable field"
)

// process annotates m and reports whether it passes.
func (p *Anomaly) process(m telegraf.Metric) bool {
	// Read the features. Absent and NaN are missing; anything else that is not a finite number makes the
	// metric unscorable, and then nothing is learned from it.
	present := 0
	for i, name := range p.Fields {
		p.observed[i] = false
		p.x[i] = math.NaN()
		v, ok := m.GetField(name)
		if !ok {
			continue
		}
		var f float64
		switch v := v.(type) {
		case float64:
			f = v
		case int64:
			f = float64(v)
		case uint64:
			f = float64(v)
		default:
			return p.skip(m, kindBadValue, fmt.Sprintf("%q is a %s, not a number", name, typeName(v)))
		}
		if math.IsInf(f, 0) {
			return p.skip(m, kindBadValue, fmt.Sprintf("%q is %v", name, f))
		}
		if !math.IsNaN(f) {
			p.x[i] = f
			p.observed[i] = true
			present++
		}
	}
	// A metric with none of the fields is most likely another measurement that slipped past namepass:
	// scoring it would teach the model the imputed means. A source whose readings can lack every field
	// (a PurpleAir unit whose particle counters dropped out) opts in with score_all_missing.
	if present == 0 && !p.ScoreAllMissing {
		return p.skip(m, kindNoField, reasonNoField)
	}
	for i, name := range p.Fields {
		if !p.observed[i] && p.settings.imputers[i] == "none" {
			if present == 0 {
				return p.skip(m, kindNoField, reasonNoField)
			}
			return p.skip(m, kindMissing, fmt.Sprintf("missing %q (impute = none)", name))
		}
	}

	s := p.table.global
	if len(p.KeyTags) > 0 {
		var missingTag string
		if s, missingTag = p.keyedSeries(m); s == nil {
			return p.skip(m, kindNoKey, fmt.Sprintf("missing key tag %q", missingTag))
		}
	} else if s == nil {
		s = p.newSeries("")
		p.table.global = s
	}

	// Every missing field has an imputer here: "none" with a missing value was skipped above.
	imputed := s.imputers.Fill(p.x)

	warm := s.state.Warm()
	score := p.hst.ScoreLearn(s.state, p.x)
	p.dirty = true

	if imputed > 0 {
		var list strings.Builder
		for i, name := range p.Fields {
			if p.observed[i] {
				continue
			}
			if p.EmitImputed {
				m.AddField(name, p.x[i])
			}
			if list.Len() > 0 {
				list.WriteByte(',')
			}
			list.WriteString(name)
		}
		m.AddField(p.ImputedField, list.String())
	}
	if !warm {
		m.AddField(p.WarmupField, true)
		return p.Mode == ModeAnnotate
	}
	isAnomaly := score > p.Threshold
	m.AddField(p.ScoreField, score)
	m.AddField(p.AnomalyField, isAnomaly)
	return p.Mode == ModeAnnotate || isAnomaly
}

// skip marks m as unscored with a reason and logs it (rate-limited). In annotate mode the metric still
// passes; in anomalies_only mode it is dropped, as it cannot be shown to be an anomaly.
func (p *Anomaly) skip(m telegraf.Metric, kind logKind, reason string) bool {
	m.AddField(p.SkippedField, reason)
	p.limiter.log(kind, m, reason)
	return p.Mode == ModeAnnotate
}

func typeName(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	default:
		return fmt.Sprintf("%T", v)
	}
}

// keyedSeries finds (or makes) the series of m by its key tags, marking it the most recently seen;
// when m lacks a key tag it returns nil and the tag's name.
func (p *Anomaly) keyedSeries(m telegraf.Metric) (*series, string) {
	p.keyBuf = p.keyBuf[:0]
	for i, tag := range p.KeyTags {
		v, ok := m.GetTag(tag)
		if !ok {
			return nil, tag
		}
		if i > 0 {
			p.keyBuf = append(p.keyBuf, 0)
		}
		p.keyBuf = append(p.keyBuf, v...)
	}
	now := p.now().UnixNano()
	p.expire(now)
	s := p.table.get(p.keyBuf)
	if s == nil {
		if p.qa != nil {
			s = &series{key: string(p.keyBuf)} // the detector keeps the sensor's state
		} else {
			s = p.newSeries(string(p.keyBuf))
		}
		if evicted := p.table.insert(s); evicted != nil {
			p.forget(evicted)
			p.limiter.log(kindEvicted, nil, fmt.Sprintf("max_series = %d reached: forgot the least recently seen series (%s); raise max_series to keep more", p.MaxSeries, p.describeKey(evicted.key)))
		}
	} else {
		p.table.touch(s)
	}
	s.lastSeen = now
	return s, ""
}

// forget drops what is kept outside the table for a series the table has just dropped.
func (p *Anomaly) forget(s *series) {
	if p.qa != nil {
		p.qa.Forget(s.key)
	}
}

// newSeries makes the per-series models: fresh tree masses on the shared structure and one imputer per
// field.
func (p *Anomaly) newSeries(key string) *series {
	imputers, err := impute.NewRecord(p.settings.imputers, p.EWMAAlpha)
	if err != nil { // checked in Init; reaching this is a bug in the imputer package
		panic(fmt.Sprintf("anomaly: imputers %q: %v", p.settings.imputers, err))
	}
	return &series{key: key, state: p.hst.NewState(), imputers: imputers}
}

// describeKey renders a series key as its tags, e.g. "sensor_index=53".
func (p *Anomaly) describeKey(key string) string {
	values := strings.Split(key, "\x00")
	parts := make([]string, len(p.KeyTags))
	for i, tag := range p.KeyTags {
		v := ""
		if i < len(values) {
			v = values[i]
		}
		parts[i] = tag + "=" + v
	}
	return strings.Join(parts, ",")
}

// expire forgets series not seen within series_ttl.
func (p *Anomaly) expire(now int64) {
	if p.SeriesTTL <= 0 {
		return
	}
	cutoff := now - int64(time.Duration(p.SeriesTTL))
	for tail := p.table.oldest(); tail != nil && tail.lastSeen < cutoff; tail = p.table.oldest() {
		p.table.remove(tail)
		p.forget(tail)
		p.dirty = true
	}
}

func init() {
	processors.AddStreaming("anomaly", func() telegraf.StreamingProcessor { return newDefault() })
}
