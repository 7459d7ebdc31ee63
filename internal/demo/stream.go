package demo

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/processors"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
	"github.com/hazewatch/hazewatch/telegraf-processor"
)

// streamStrategy feeds the processor the metrics the Telegraf input plugin would emit.
type streamStrategy struct {
	d      *Result
	proc   telegraf.StreamingProcessor
	acc    collector
	s      *strategy
	sensor map[string]int
}

// newProcessor builds the `anomaly` processor from Telegraf's registry — exactly what Telegraf
// (or the execd shim) instantiates for [[processors.anomaly]] — with its documented defaults and the
// options of deploy/telegraf/anomaly.conf.
func newProcessor() (telegraf.StreamingProcessor, error) {
	create, ok := processors.Processors["anomaly"]
	if !ok {
		return nil, errors.New("the anomaly processor is not registered with Telegraf")
	}
	proc := create()
	p, ok := proc.(*anomaly.Anomaly)
	if !ok {
		return nil, fmt.Errorf("processors.anomaly is a %T, not the Hazewatch processor", proc)
	}
	p.Fields = append([]string(nil), features...)
	p.KeyTags = []string{"sensor_index"}
	p.WindowSize = streamWindow
	p.Threshold = streamThreshold
	p.Seed = streamSeed
	p.ImputeDefault = "mean"
	p.EmitImputed = false
	p.ScoreAllMissing = true
	p.Mode = anomaly.ModeAnnotate
	if err := p.Init(); err != nil {
		return nil, fmt.Errorf("processors.anomaly: %w", err)
	}
	if err := p.Start(&collector{}); err != nil {
		return nil, fmt.Errorf("processors.anomaly: %w", err)
	}
	return p, nil
}

func newStreamStrategy(d *Result) (*streamStrategy, error) {
	proc, err := newProcessor()
	if err != nil {
		return nil, err
	}
	n := d.readings()
	s := &strategy{
		name:      "streaming",
		title:     fmt.Sprintf("Telegraf processor: Half-Space Trees per sensor (window %d, threshold %g)", streamWindow, streamThreshold),
		scoreName: "anomaly_score",
		threshold: streamThreshold,
		score:     make([]float64, n),
		flag:      make([]bool, n),
	}
	return &streamStrategy{d: d, proc: proc, s: s, sensor: map[string]int{}}, nil
}

// step turns every row of a response into a metric the way the input plugin does, and reads the
// processor's verdict back from the metric it passes on.
func (ss *streamStrategy) step(t int, resp *purpleair.Response, labels []purpleair.FaultKind) error {
	if t == 0 {
		for s, idx := range ss.d.sensors {
			ss.sensor[idx] = s
		}
	}
	for r := range resp.Data {
		p, err := resp.Point(r, purpleair.PointOptions{Faults: labels})
		if err != nil {
			return fmt.Errorf("step %d: %w", t, err)
		}
		s, ok := ss.sensor[p.Tags["sensor_index"]]
		if !ok {
			return fmt.Errorf("step %d: unknown sensor %q", t, p.Tags["sensor_index"])
		}
		ss.acc.metrics = ss.acc.metrics[:0]
		if err := ss.proc.Add(metric.New(p.Measurement, p.Tags, p.Fields, p.Time), &ss.acc); err != nil {
			return fmt.Errorf("processors.anomaly: %w", err)
		}
		i := ss.d.at(s, t)
		ss.s.score[i] = math.NaN()
		for _, m := range ss.acc.metrics {
			if v, ok := m.GetField("anomaly_score"); ok {
				ss.s.score[i], _ = v.(float64)
			}
			if v, ok := m.GetField("anomaly"); ok {
				ss.s.flag[i], _ = v.(bool)
			}
		}
	}
	return nil
}

// collector is the accumulator the processor passes metrics on to.
type collector struct{ metrics []telegraf.Metric }

func (c *collector) AddFields(name string, f map[string]any, tags map[string]string, t ...time.Time) {
	c.add(name, f, tags, t)
}
func (c *collector) AddGauge(name string, f map[string]any, tags map[string]string, t ...time.Time) {
	c.add(name, f, tags, t)
}
func (c *collector) AddCounter(name string, f map[string]any, tags map[string]string, t ...time.Time) {
	c.add(name, f, tags, t)
}
func (c *collector) AddSummary(name string, f map[string]any, tags map[string]string, t ...time.Time) {
	c.add(name, f, tags, t)
}
func (c *collector) AddHistogram(name string, f map[string]any, tags map[string]string, t ...time.Time) {
	c.add(name, f, tags, t)
}
func (c *collector) add(name string, f map[string]any, tags map[string]string, t []time.Time) {
	tm := time.Time{}
	if len(t) > 0 {
		tm = t[0]
	}
	c.metrics = append(c.metrics, metric.New(name, tags, f, tm))
}
func (c *collector) AddMetric(m telegraf.Metric) { c.metrics = append(c.metrics, m) }
func (c *collector) SetPrecision(time.Duration)  {}
func (c *collector) AddError(error)              {}
func (c *collector) WithTracking(int) telegraf.TrackingAccumulator {
	panic("collector: tracking is not used by the demo")
}
