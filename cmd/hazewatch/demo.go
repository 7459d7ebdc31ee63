package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/processors"
	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/engine"
	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/pkg/anomaly"
	"github.com/hazewatch/hazewatch/pkg/purpleair"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
	anomalyprocessor "github.com/hazewatch/hazewatch/telegraf-processor"
)

// demoOptions sizes the demo. The defaults finish in a few seconds on one core.
type demoOptions struct {
	sensors   int
	hours     float64
	step      time.Duration
	seed      int64
	faultRate float64
	outDir    string
	workers   int
	profile   string // the simulator's
	smoke     int    // smoke episodes (realistic profile), placed within the run

	contamination float64 // Isolation Forest contamination; 0 = auto
}

// The detectors' settings are the stack's own: the processor as deploy/telegraf/anomaly.conf
// configures it, and the Isolation Forest queries of the provisioned dashboard
// (provisioning/dashboards/hazewatch/purpleair-anomalies.json) and alert rules.
const (
	demoStreamWindow    = 60 // readings: 2 hours at the simulator's 2-minute step
	demoStreamThreshold = 0.7
	demoStreamSeed      = 42
	demoForestTrees     = 100
	demoForestSeed      = 42
	demoKNNNeighbors    = 5

	// The provisioned batch alert rule (provisioning/alerting/rules.yaml): the fleet-mode score above
	// demoRuleThreshold at demoRuleSteps consecutive steps ("for: 2m" on 2-minute readings).
	demoRuleThreshold = 0.88
	demoRuleSteps     = 2

	// demoFaultRate is the simulator's long-run share of faulty readings.
	demoFaultRate = 0.1

	// demoMaxReadings bounds sensors × steps: about 150 bytes per reading are kept for the report.
	demoMaxReadings = 10_000_000
)

// demoFeatures are the fields both paths score: the factory-calibrated particle readings, one per
// size class — the processor's default fields and the dashboard's batch features.
var demoFeatures = []string{"pm1.0_cf_1", "pm2.5_cf_1", "pm10.0_cf_1"}

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opt := demoOptions{}
	fs.IntVar(&opt.sensors, "sensors", 50, "number of simulated sensors")
	fs.Float64Var(&opt.hours, "hours", 48, "simulated hours of history")
	fs.DurationVar(&opt.step, "step", 2*time.Minute, "simulated time between readings (PurpleAir's real-time cadence is 2m)")
	fs.Int64Var(&opt.seed, "seed", 1, "simulator seed: the same seed gives the same fleet, scores and report")
	fs.Float64Var(&opt.faultRate, "fault-rate", demoFaultRate, "long-run share of faulty readings the simulator injects, in (0, 1)")
	fs.StringVar(&opt.profile, "profile", purpleair.ProfileRealistic, "simulator profile: realistic (faults shaped like real sensors' documented failures, smoke episodes) or basic (the original simulator)")
	fs.IntVar(&opt.smoke, "smoke-episodes", 1, "realistic profile: smoke episodes within the run, each over a third of the fleet (0 = none)")
	fs.StringVar(&opt.outDir, "o", "report", "directory the HTML report is written to (as index.html)")
	contamination := fs.String("contamination", "0.01", "Isolation Forest contamination of the batch strategies: a share in (0, 0.5] (0.01: each forest flags about 1% of its rows) or auto (scores above 0.5, as the dashboard's panels; the provisioned alert rule instead pages on scores above 0.88)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), `Usage: hazewatch demo [flags]

Simulates a PurpleAir fleet with labelled faults (and, in the realistic profile, a smoke episode
that is the air, not a fault) and runs it through Hazewatch's detectors:
  preset     the PurpleAir QA detector (pkg/purpleair/qa) on every reading in time order, sensors
             interleaved: each flag says whether the sensor or the air is at fault, and why;
  streaming  the Telegraf processor (telegraf-processor, the same code processors.execd runs): running-
             mean imputation and Half-Space Trees per sensor, anomaly = score > 0.7;
  batch      the Grafana datasource's query engine on the dashboard's batch queries (KNN imputation,
             Isolation Forest of 100 trees) in its two modes: each sensor against its own history
             (series) and each sensor against the fleet at each step (fleet); anomaly = scikit-
             learn's predict.
Prints what each flagged against the injected faults (per kind: episodes caught, recall; for the
preset also the reasons it gave and what it made of the smoke), and writes a report with charts to
DIR/index.html. No network, no Docker, no API key.

Flags:`)
		fs.PrintDefaults()
	}
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	switch {
	case opt.sensors < 2:
		return usageError{fmt.Sprintf("-sensors: want at least 2 (fleet mode compares sensors), got %d", opt.sensors)}
	case opt.step < time.Second:
		return usageError{fmt.Sprintf("-step: want at least 1s, got %s", opt.step)}
	case opt.step%time.Second != 0:
		return usageError{fmt.Sprintf("-step: want whole seconds (the datasource's query step), got %s", opt.step)}
	case !(opt.hours > 0) || math.IsInf(opt.hours, 0):
		return usageError{fmt.Sprintf("-hours: want a positive number, got %v", opt.hours)}
	case !(opt.faultRate > 0 && opt.faultRate < 1):
		return usageError{fmt.Sprintf("-fault-rate: want a share in (0, 1), got %v", opt.faultRate)}
	case opt.outDir == "":
		return usageError{"-o: want a directory"}
	case opt.smoke < 0:
		return usageError{fmt.Sprintf("-smoke-episodes: want 0 or more, got %d", opt.smoke)}
	}
	if _, err := purpleair.ParseProfile(opt.profile); err != nil {
		return usageError{"-profile: " + err.Error()}
	}
	var err error
	if opt.contamination, err = anomaly.ParseContamination(*contamination); err != nil {
		return usageError{"-contamination: " + err.Error()}
	}
	if steps := opt.steps(); steps < 2*demoStreamWindow {
		return usageError{fmt.Sprintf("-hours %v at -step %s is %d readings per sensor; the streaming detector needs at least %d (its first %d are warm-up)",
			opt.hours, opt.step, steps, 2*demoStreamWindow, demoStreamWindow)}
	}
	if n := opt.steps() * opt.sensors; n > demoMaxReadings {
		return usageError{fmt.Sprintf("-sensors %d × -hours %v at -step %s is %d readings; the demo keeps them all in memory and takes at most %d",
			opt.sensors, opt.hours, opt.step, n, demoMaxReadings)}
	}
	opt.workers = runtime.GOMAXPROCS(0)

	began := time.Now()
	d, err := runDemoPipelines(context.Background(), opt)
	if err != nil {
		return err
	}
	evals := d.evaluate()
	elapsed := time.Since(began)
	printDemo(stdout, d, evals, elapsed)

	if err := os.MkdirAll(opt.outDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(opt.outDir, "index.html")
	if err := writeFileAtomic(path, func(w io.Writer) error { return writeReport(w, d, evals) }); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nReport: %s\n", path)
	return nil
}

func (o demoOptions) steps() int {
	return int(time.Duration(o.hours*float64(time.Hour)) / o.step)
}

// simulatorConfig is the fleet the demo runs.
func (o demoOptions) simulatorConfig() purpleair.SimulatorConfig {
	cfg := purpleair.SimulatorConfig{Sensors: o.sensors, Seed: o.seed, Step: o.step, FaultRate: o.faultRate, Profile: o.profile}
	if o.profile == purpleair.ProfileRealistic {
		cfg.SmokeEpisodes, cfg.SmokeWithin = o.smoke, time.Duration(o.steps())*o.step
		if o.smoke == 0 {
			cfg.SmokeEpisodes = -1 // the simulator's 0 is its default, one
		}
	}
	return cfg
}

// demoRun holds the simulated fleet and what each strategy made of it. Per-reading slices are
// indexed [sensor*steps + step].
type demoRun struct {
	opt     demoOptions
	start   time.Time
	steps   int
	sensors []string // sensor_index values, in fleet order
	names   []string
	kinds   []purpleair.FaultKind // the kinds the simulator draws from, in its order

	features [][]float64 // per demoFeatures column: the reported value, NaN when the API sent null
	chanA    []float64   // pm2.5_cf_1_a, for the charts
	chanB    []float64
	truth    []purpleair.FaultKind
	smoke    []bool // a smoke plume over the sensor (the air, whatever the sensor's fault)

	strategies []*strategy
}

// strategy is one detector's output: a score per reading (NaN = not scored) and a flag.
type strategy struct {
	name      string // short name, in tables
	title     string // what it is
	scoreName string
	threshold float64 // flag boundary on the score, for the charts
	score     []float64
	flag      []bool
	elapsed   time.Duration
	notices   []string // what the datasource's engine would show as notices (data skipped or dropped)

	// The preset's verdicts: flag is kind == sensor; kind and reason are nil for the strategies
	// that say neither.
	kind   []qa.Kind
	reason []qa.Reason
}

func (d *demoRun) at(s, t int) int { return s*d.steps + t }

func (d *demoRun) time(t int) time.Time { return d.start.Add(time.Duration(t) * d.opt.step) }

// runDemoPipelines simulates the fleet, streams it through the Telegraf processor as it goes, then
// runs the batch strategies over the whole history.
func runDemoPipelines(ctx context.Context, opt demoOptions) (*demoRun, error) {
	cfg := opt.simulatorConfig()
	sim, err := purpleair.NewSimulator(cfg)
	if err != nil {
		return nil, err
	}
	// The readings must sit on the batch queries' grid — timestamps that are multiples of the step,
	// where query_range evaluates — or the engine sees none of them. The simulator's default start
	// (a midnight) is on it for the usual steps; for others, start at the grid point before it.
	if ms, stepMS := sim.Time().UnixMilli(), opt.step.Milliseconds(); ms%stepMS != 0 {
		cfg.Start = time.UnixMilli(ms - ms%stepMS).UTC()
		if sim, err = purpleair.NewSimulator(cfg); err != nil {
			return nil, err
		}
	}
	d := &demoRun{opt: opt, start: sim.Time(), steps: opt.steps(), kinds: sim.Config().Faults}
	n := opt.sensors * d.steps
	d.features = make([][]float64, len(demoFeatures))
	for c := range d.features {
		d.features[c] = make([]float64, n)
	}
	d.chanA, d.chanB = make([]float64, n), make([]float64, n)
	d.truth = make([]purpleair.FaultKind, n)
	d.smoke = make([]bool, n)

	preset, err := newPresetStrategy(d)
	if err != nil {
		return nil, err
	}
	stream, err := newStreamStrategy(d)
	if err != nil {
		return nil, err
	}
	var presetTime, streamTime time.Duration
	for t := 0; t < d.steps; t++ {
		tm, readings := sim.Next()
		resp := purpleair.ReadingsResponse(tm, readings)
		labels := make([]purpleair.FaultKind, len(readings))
		for s, r := range readings {
			labels[s] = r.Fault
		}
		if t == 0 {
			if err := d.initSensors(resp); err != nil {
				return nil, err
			}
		}
		if err := d.record(t, resp, labels); err != nil {
			return nil, err
		}
		for s, r := range readings {
			d.smoke[d.at(s, t)] = r.Smoke
		}
		st := time.Now()
		if err := preset.step(t, tm, resp); err != nil {
			return nil, err
		}
		presetTime += time.Since(st)
		st = time.Now()
		if err := stream.step(t, resp, labels); err != nil {
			return nil, err
		}
		streamTime += time.Since(st)
	}
	preset.s.elapsed, stream.s.elapsed = presetTime, streamTime
	d.strategies = append(d.strategies, preset.s, stream.s)

	series, err := d.runBatch(ctx, models.ModeSeries, "batch series", "Isolation Forest, each sensor against its own history (datasource series mode)")
	if err != nil {
		return nil, err
	}
	fleet, err := d.runBatch(ctx, models.ModeFleet, "batch fleet", "Isolation Forest, each sensor against the fleet at each step (datasource fleet mode)")
	if err != nil {
		return nil, err
	}
	d.strategies = append(d.strategies, series, fleet)
	return d, nil
}

func (d *demoRun) initSensors(resp *purpleair.Response) error {
	si, ni := resp.Column("sensor_index"), resp.Column("name")
	if si < 0 || ni < 0 {
		return fmt.Errorf("simulator response lacks sensor_index or name (fields: %s)", strings.Join(resp.Fields, ", "))
	}
	for _, row := range resp.Data {
		d.sensors = append(d.sensors, formatFloat(row[si].Num))
		d.names = append(d.names, row[ni].Str)
	}
	return nil
}

// record keeps one step's readings of the fields the strategies and charts use.
func (d *demoRun) record(t int, resp *purpleair.Response, labels []purpleair.FaultKind) error {
	if len(resp.Data) != len(d.sensors) {
		return fmt.Errorf("step %d: %d rows from a fleet of %d sensors", t, len(resp.Data), len(d.sensors))
	}
	x, err := resp.Numeric(demoFeatures)
	if err != nil {
		return err
	}
	ab, err := resp.Numeric([]string{"pm2.5_cf_1_a", "pm2.5_cf_1_b"})
	if err != nil {
		return err
	}
	cols := len(demoFeatures)
	for s := range resp.Data {
		i := d.at(s, t)
		for c := range demoFeatures {
			d.features[c][i] = x[s*cols+c]
		}
		d.chanA[i], d.chanB[i] = ab[2*s], ab[2*s+1]
		d.truth[i] = labels[s]
	}
	return nil
}

// ---- the PurpleAir preset: the QA detector on every reading ----

// presetStrategy feeds qa.Detector every reading in time order, sensors interleaved, keyed by
// sensor_index: what a processor keyed by sensor sees.
type presetStrategy struct {
	d   *demoRun
	det *qa.Detector
	s   *strategy
	col map[string]int // API field → column of the simulator's responses
}

// presetFields are the API fields a qa.Reading is filled from.
var presetFields = []string{"pm2.5_cf_1_a", "pm2.5_cf_1_b", "pm2.5_cf_1", "pm2.5_atm", "humidity", "temperature", "pressure", "last_seen", "latitude", "longitude"}

func newPresetStrategy(d *demoRun) (*presetStrategy, error) {
	opt := qa.DefaultOptions()
	det, err := qa.New(opt)
	if err != nil {
		return nil, err
	}
	n := d.opt.sensors * d.steps
	s := &strategy{
		name:      "purpleair preset",
		title:     fmt.Sprintf("PurpleAir QA detector (pkg/purpleair/qa, default options), streaming: every reading judged sensor or air fault with a reason; flag = sensor (threshold %g)", opt.Threshold),
		scoreName: "score",
		threshold: opt.Threshold,
		score:     nanSlice(n),
		flag:      make([]bool, n),
		kind:      make([]qa.Kind, n),
		reason:    make([]qa.Reason, n),
	}
	return &presetStrategy{d: d, det: det, s: s}, nil
}

func (p *presetStrategy) step(t int, tm time.Time, resp *purpleair.Response) error {
	if p.col == nil {
		p.col = make(map[string]int, len(presetFields))
		for _, f := range presetFields {
			c := resp.Column(f)
			if c < 0 {
				return fmt.Errorf("simulator response lacks %s", f)
			}
			p.col[f] = c
		}
	}
	num := func(row []purpleair.Value, f string) float64 {
		if v := row[p.col[f]]; v.Kind == purpleair.KindNumber {
			return v.Num
		}
		return math.NaN()
	}
	for s, row := range resp.Data {
		r := qa.NewReading(tm)
		r.A, r.B, r.CF1, r.ATM = num(row, "pm2.5_cf_1_a"), num(row, "pm2.5_cf_1_b"), num(row, "pm2.5_cf_1"), num(row, "pm2.5_atm")
		r.Humidity, r.Temperature, r.Pressure = num(row, "humidity"), num(row, "temperature"), num(row, "pressure")
		r.Lat, r.Lon = num(row, "latitude"), num(row, "longitude")
		if ls := num(row, "last_seen"); !math.IsNaN(ls) {
			r.LastSeen = time.Unix(int64(ls), 0).UTC()
		}
		res := p.det.Observe(p.d.sensors[s], r)
		i := p.d.at(s, t)
		p.s.score[i] = res.Score
		p.s.kind[i], p.s.reason[i] = res.Kind, res.Reason
		p.s.flag[i] = res.Kind == qa.KindSensor
	}
	return nil
}

// ---- streaming: the Telegraf processor itself ----

// streamStrategy feeds the processor the metrics the Telegraf input plugin would emit.
type streamStrategy struct {
	d      *demoRun
	proc   telegraf.StreamingProcessor
	acc    collector
	s      *strategy
	sensor map[string]int
}

// newDemoProcessor builds the `anomaly` processor from Telegraf's registry — exactly what Telegraf
// (or the execd shim) instantiates for [[processors.anomaly]] — with its documented defaults and the
// options of deploy/telegraf/anomaly.conf.
func newDemoProcessor() (telegraf.StreamingProcessor, error) {
	create, ok := processors.Processors["anomaly"]
	if !ok {
		return nil, errors.New("the anomaly processor is not registered with Telegraf")
	}
	proc := create()
	p, ok := proc.(*anomalyprocessor.Anomaly)
	if !ok {
		return nil, fmt.Errorf("processors.anomaly is a %T, not the Hazewatch processor", proc)
	}
	p.Fields = append([]string(nil), demoFeatures...)
	p.KeyTags = []string{"sensor_index"}
	p.WindowSize = demoStreamWindow
	p.Threshold = demoStreamThreshold
	p.Seed = demoStreamSeed
	p.ImputeDefault = "mean"
	p.EmitImputed = false
	p.ScoreAllMissing = true
	p.Mode = anomalyprocessor.ModeAnnotate
	if err := p.Init(); err != nil {
		return nil, fmt.Errorf("processors.anomaly: %w", err)
	}
	if err := p.Start(&collector{}); err != nil {
		return nil, fmt.Errorf("processors.anomaly: %w", err)
	}
	return p, nil
}

func newStreamStrategy(d *demoRun) (*streamStrategy, error) {
	proc, err := newDemoProcessor()
	if err != nil {
		return nil, err
	}
	n := d.opt.sensors * d.steps
	s := &strategy{
		name:      "streaming",
		title:     fmt.Sprintf("Telegraf processor: Half-Space Trees per sensor (window %d, threshold %g)", demoStreamWindow, demoStreamThreshold),
		scoreName: "anomaly_score",
		threshold: demoStreamThreshold,
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

// ---- batch: the datasource's query engine ----

// The batch strategies are the Grafana datasource's query engine itself (grafana-datasource/pkg/engine,
// what the backend runs for QueryData) evaluating the dashboard's batch queries at the demo's settings.
// It fetches from the simulated history held in memory the way Prometheus holds it after Telegraf
// wrote it: one series per sensor and field, a sample at each step the sensor reported the field,
// none where the API sent null. TestBatchStrategiesAreTheDatasource serves the same readings through
// a Prometheus API to the datasource plugin and requires the same scores and flags.

// demoMetrics are demoFeatures as Telegraf names them in Prometheus, the batch queries' expressions;
// demoFeatureNames are the names the dashboard's queries give them.
var (
	demoMetrics      = []string{"purpleair_pm1_0_cf_1", "purpleair_pm2_5_cf_1", "purpleair_pm10_0_cf_1"}
	demoFeatureNames = []string{"pm1", "pm25", "pm10"}
)

// batchQuery is the JSON of the dashboard's batch query in mode: "series" with one forest per
// sensor, or "fleet" at each step. The forest settings are the dashboard's (100 trees, max_samples
// auto, seed 42, KNN imputation with k = 5) with the demo's contamination (0.01 by default: each
// forest flags about 1% of the rows it was fitted on; "auto" flags scores above 0.5, as the panels
// do); the step is the simulator's and the training range the scored one, the whole history.
func (d *demoRun) batchQuery(mode string) ([]byte, error) {
	features := make([]map[string]string, len(demoFeatures))
	for c := range demoFeatures {
		features[c] = map[string]string{"name": demoFeatureNames[c], "expr": demoMetrics[c]}
	}
	q := map[string]any{
		"schemaVersion": 1, "mode": mode, "features": features, "entity": []string{"sensor_index"},
		"training":        map[string]any{"range": models.TrainingPanel, "step": model.Duration(d.opt.step).String()},
		"isolationForest": map[string]any{"trees": demoForestTrees, "maxSamples": "auto", "contamination": contaminationString(d.opt.contamination), "seed": demoForestSeed},
		"imputation":      map[string]any{"method": models.ImputeKNN, "k": demoKNNNeighbors},
		"output":          []string{models.OutputScore, models.OutputAnomaly},
	}
	if mode == models.ModeFleet {
		q["fleetAt"] = models.FleetAtEach
	} else {
		q["forest"] = models.ForestPerEntity
	}
	return json.Marshal(q)
}

// runBatch evaluates the batch query of mode with the datasource's engine over the whole history, as
// a panel spanning it with the simulator's step as its interval.
func (d *demoRun) runBatch(ctx context.Context, mode, name, title string) (*strategy, error) {
	began := time.Now()
	raw, err := d.batchQuery(mode)
	if err != nil {
		return nil, err
	}
	q, err := models.ParseQuery(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// The in-memory history has no query_range point limit, and a demo run is one query: the
	// datasource's limits (Prometheus's 11,000 points per series, the training rows, the series)
	// are raised to the whole history so that nothing is subsampled.
	plan, err := models.Resolve(q, models.TimeContext{From: d.start, To: d.time(d.steps - 1), Interval: d.opt.step, MaxDataPoints: int64(d.steps)},
		models.Limits{MaxPointsPerSeries: max(models.DefaultMaxPointsPerSeries, d.steps+1)})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if g := plan.Score; !g.Start.Equal(d.start) || g.Step != d.opt.step || g.Points() != d.steps {
		return nil, fmt.Errorf("%s: the query's grid %s is not the simulator's (%d steps of %s from %s)",
			name, g, d.steps, d.opt.step, d.start.Format(time.RFC3339))
	}
	eng := engine.New(engine.FetchFunc(d.fetch), engine.Options{
		MaxSeries:       max(models.DefaultMaxSeries, d.opt.sensors),
		MaxTrainingRows: max(models.DefaultMaxTrainingRows, d.opt.sensors*d.steps),
		Workers:         d.opt.workers,
	})
	res, err := eng.Run(ctx, q, plan)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	st := d.newBatchStrategy(name, title)
	for _, n := range res.Notices {
		st.notices = append(st.notices, n.Text)
	}
	for _, er := range res.Entities {
		s := slices.Index(d.sensors, er.Labels["sensor_index"])
		if s < 0 {
			return nil, fmt.Errorf("%s: a result for sensor %q, not in the fleet", name, er.Labels["sensor_index"])
		}
		for k, tm := range er.Times {
			i := d.at(s, int(tm.Sub(d.start)/d.opt.step))
			st.score[i] = er.Score[k]
			st.flag[i] = er.Anomaly[k] == 1
		}
	}
	st.elapsed = time.Since(began)
	return st, nil
}

// fetch answers the engine's query for one feature over w from the recorded readings: expr is one
// of demoMetrics; one series per sensor that reported the field in w, labelled with its
// sensor_index, a sample at each step it did.
func (d *demoRun) fetch(_ context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error) {
	c := slices.Index(demoMetrics, expr)
	if c < 0 {
		return nil, nil, fmt.Errorf("feature %q: the demo holds no metric %q (it holds %s)", feature, expr, strings.Join(demoMetrics, ", "))
	}
	m := make(model.Matrix, 0, len(d.sensors))
	for s, id := range d.sensors {
		ss := &model.SampleStream{Metric: model.Metric{"sensor_index": model.LabelValue(id)}}
		for t := 0; t < d.steps; t++ {
			tm := d.time(t)
			v := d.features[c][d.at(s, t)]
			if math.IsNaN(v) || tm.Before(w.Start) || tm.After(w.End) {
				continue
			}
			ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(tm.UnixNano()), Value: model.SampleValue(v)})
		}
		if len(ss.Values) > 0 {
			m = append(m, ss)
		}
	}
	return m, nil, nil
}

func (d *demoRun) newBatchStrategy(name, title string) *strategy {
	n := d.opt.sensors * d.steps
	return &strategy{
		name:      name,
		title:     title,
		scoreName: "score",
		threshold: math.NaN(), // each forest has its own offset: the charts mark flagged readings instead
		score:     nanSlice(n),
		flag:      make([]bool, n),
	}
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}

// ---- evaluation ----

// expectedReasons are the reasons a sensor flag on each fault kind should give. A drift called
// ab_divergence is counted wrong: the reason tells the technician what to look for, and a channel
// that crept away over hours is not one that jumped.
var expectedReasons = map[purpleair.FaultKind][]qa.Reason{
	purpleair.FaultSpike:        {qa.ReasonSpike, qa.ReasonOutOfRange},
	purpleair.FaultStuckHigh:    {qa.ReasonOutOfRange},
	purpleair.FaultFlatline:     {qa.ReasonFlatline},
	purpleair.FaultDropout:      {qa.ReasonMissing},
	purpleair.FaultEnvSentinel:  {qa.ReasonOutOfRange},
	purpleair.FaultABDivergence: {qa.ReasonABDivergence},
	purpleair.FaultDrift:        {qa.ReasonDrift},
	purpleair.FaultDisconnect:   {qa.ReasonStale},
}

// kindScore is one strategy's detection of one fault kind (or of all kinds together).
type kindScore struct {
	kind       purpleair.FaultKind // "" = all faults
	readings   int                 // faulty readings of this kind
	caught     int                 // of them, flagged (true positives)
	episodes   int                 // fault episodes of this kind
	detected   int                 // episodes with at least one flagged reading
	falseFlags int                 // flagged clean readings (the strategy's false positives)
	flagged    int                 // all flagged readings (all kinds line only)

	// For a strategy that gives reasons (the preset); zero otherwise.
	reasons     map[qa.Reason]int // caught readings by the reason given
	rightReason int               // caught readings whose reason is one of expectedReasons
	named       int               // flags anywhere giving one of this kind's expected reasons
	namedFaulty int               // of them, on a faulty reading (of any kind)
}

// recall is the share of faulty readings flagged.
func (k kindScore) recall() float64 { return ratio(k.caught, k.readings) }

// precision is the share of all flags that fell on faulty readings (all kinds line only).
func (k kindScore) precision() float64 { return ratio(k.caught, k.caught+k.falseFlags) }

// episodeRecall is the share of fault episodes with at least one flagged reading.
func (k kindScore) episodeRecall() float64 { return ratio(k.detected, k.episodes) }

// reasonShare is the share of this kind's flagged readings that gave a right reason.
func (k kindScore) reasonShare() float64 { return ratio(k.rightReason, k.caught) }

// reasonPrecision is the share of the flags naming one of this kind's reasons that were on a
// faulty reading: when the detector says "stale", how often something was wrong.
func (k kindScore) reasonPrecision() float64 { return ratio(k.namedFaulty, k.named) }

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

// smokeScore is what a strategy made of the smoke: readings under a plume on sensors without a
// fault at the time.
type smokeScore struct {
	readings int
	flagged  int // flagged (the preset: as a sensor fault)
	air      int // the preset: flagged as the air
	reasons  map[qa.Reason]int
}

// evaluation is one strategy scored against the ground truth.
type evaluation struct {
	s      *strategy
	all    kindScore
	kinds  []kindScore // one per demoRun.kinds, in that order
	clean  int         // clean readings
	sensor int         // sensors with at least one flag
	smoke  smokeScore
	// The preset's flags as the air, and its false alarms by reason.
	airFlags     int
	falseReasons map[qa.Reason]int
}

// confusion scores flags against labels: truth[i] is the fault of reading i (FaultNone = clean),
// episode boundaries are where the label changes along one sensor's readings (series of length
// steps each). reason, when not nil, is the reason of each flag. It scores every kind of
// purpleair.RealisticFaultKinds; a kind that never occurred has no episodes.
func confusion(truth []purpleair.FaultKind, flag []bool, reason []qa.Reason, steps int) (all kindScore, kinds []kindScore, clean int) {
	idx := map[purpleair.FaultKind]int{}
	kinds = make([]kindScore, len(purpleair.RealisticFaultKinds))
	for k, kind := range purpleair.RealisticFaultKinds {
		kinds[k].kind = kind
		idx[kind] = k
		if reason != nil {
			kinds[k].reasons = map[qa.Reason]int{}
		}
	}
	falseFlags := 0
	for start := 0; start < len(truth); start += steps {
		end := min(start+steps, len(truth))
		for i := start; i < end; i++ {
			f := truth[i]
			if reason != nil && flag[i] {
				for k := range kinds {
					if slices.Contains(expectedReasons[kinds[k].kind], reason[i]) {
						kinds[k].named++
						if f != purpleair.FaultNone && f != "" {
							kinds[k].namedFaulty++
						}
					}
				}
			}
			if f == purpleair.FaultNone || f == "" {
				clean++
				if flag[i] {
					falseFlags++
				}
				continue
			}
			k := &kinds[idx[f]]
			k.readings++
			if flag[i] {
				k.caught++
				if reason != nil {
					k.reasons[reason[i]]++
					if slices.Contains(expectedReasons[f], reason[i]) {
						k.rightReason++
					}
				}
			}
			if i == start || truth[i-1] != f {
				// A new episode; a flag anywhere in it detects it.
				k.episodes++
				for j := i; j < end && truth[j] == f; j++ {
					if flag[j] {
						k.detected++
						break
					}
				}
			}
		}
	}
	if reason != nil {
		all.reasons = map[qa.Reason]int{}
	}
	for k := range kinds {
		kinds[k].falseFlags = falseFlags
		all.readings += kinds[k].readings
		all.caught += kinds[k].caught
		all.episodes += kinds[k].episodes
		all.detected += kinds[k].detected
		all.rightReason += kinds[k].rightReason
		for r, n := range kinds[k].reasons {
			all.reasons[r] += n
		}
	}
	all.falseFlags = falseFlags
	all.flagged = all.caught + falseFlags
	return all, kinds, clean
}

func (d *demoRun) evaluate() []evaluation {
	out := make([]evaluation, len(d.strategies))
	for i, s := range d.strategies {
		e := evaluation{s: s}
		var every []kindScore
		e.all, every, e.clean = confusion(d.truth, s.flag, s.reason, d.steps)
		for _, k := range d.kinds {
			e.kinds = append(e.kinds, every[slices.Index(purpleair.RealisticFaultKinds, k)])
		}
		for sn := 0; sn < d.opt.sensors; sn++ {
			for t := 0; t < d.steps; t++ {
				if s.flag[d.at(sn, t)] {
					e.sensor++
					break
				}
			}
		}
		if s.kind != nil {
			e.smoke.reasons, e.falseReasons = map[qa.Reason]int{}, map[qa.Reason]int{}
		}
		for j, f := range d.truth {
			if s.kind != nil && s.kind[j] == qa.KindAir {
				e.airFlags++
			}
			if f != purpleair.FaultNone {
				continue
			}
			if s.flag[j] && s.reason != nil {
				e.falseReasons[s.reason[j]]++
			}
			if !d.smoke[j] {
				continue
			}
			e.smoke.readings++
			if s.flag[j] {
				e.smoke.flagged++
				if s.reason != nil {
					e.smoke.reasons[s.reason[j]]++
				}
			}
			if s.kind != nil && s.kind[j] == qa.KindAir {
				e.smoke.air++
			}
		}
		out[i] = e
	}
	return out
}

// smokeSensors counts the sensors a plume reached.
func (d *demoRun) smokeSensors() int {
	n := 0
	for s := 0; s < d.opt.sensors; s++ {
		for t := 0; t < d.steps; t++ {
			if d.smoke[d.at(s, t)] {
				n++
				break
			}
		}
	}
	return n
}

// reasonList prints reason counts, most frequent first (ties in Reasons' order).
func reasonList(m map[qa.Reason]int) string {
	type rc struct {
		r qa.Reason
		n int
	}
	var l []rc
	for _, r := range qa.Reasons {
		if m[r] > 0 {
			l = append(l, rc{r, m[r]})
		}
	}
	slices.SortStableFunc(l, func(a, b rc) int { return b.n - a.n })
	parts := make([]string, len(l))
	for i, x := range l {
		parts[i] = fmt.Sprintf("%s %d", x.r, x.n)
	}
	return strings.Join(parts, ", ")
}

func expectedList(k purpleair.FaultKind) string {
	rs := expectedReasons[k]
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = string(r)
	}
	return strings.Join(parts, " or ")
}

// ---- terminal output ----

func pct(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f%%", 100*v)
}

// presetNote, precisionNote and reasonNote explain the preset table's columns, in the terminal and
// in the report.
const (
	precisionNote = "precision*: of all the preset's sensor flags that give one of the reasons this kind expects, the share that fell on a faulty reading (of any kind) — when it says \"stale\", how often something was wrong."
	reasonNote    = "right reason: of this kind's readings flagged sensor, the share whose reason is one the kind expects (spike: spike or out_of_range; stuck_high and env_sentinel: out_of_range; flatline: flatline; dropout: missing; ab_divergence: ab_divergence; drift: drift — ab_divergence counts as wrong; disconnect: stale)."
)

func printDemo(w io.Writer, d *demoRun, evals []evaluation, elapsed time.Duration) {
	o := d.opt
	faulty := evals[0].all.readings
	fmt.Fprintf(w, "Hazewatch demo: %d simulated sensors × %s at a %s step (seed %d) = %d readings, %d faulty (%.1f%%) in %d episodes\n",
		o.sensors, fmtHours(o.hours), o.step, o.seed, o.sensors*d.steps, faulty, 100*float64(faulty)/float64(o.sensors*d.steps), evals[0].all.episodes)
	fmt.Fprintf(w, "%s profile; %s\n", o.profile, smokeSummary(d, evals[0]))
	fmt.Fprintf(w, "finished in %s\n\n", elapsed.Round(10*time.Millisecond))
	for _, e := range evals {
		fmt.Fprintf(w, "%-16s %s: flagged %d readings on %d sensors in %s\n", e.s.name, e.s.title, e.all.flagged, e.sensor, e.s.elapsed.Round(time.Millisecond))
		if e.s.kind != nil {
			fmt.Fprintf(w, "%-16s and %d readings as the air\n", "", e.airFlags)
		}
		for _, n := range e.s.notices {
			fmt.Fprintf(w, "%-16s note: %s\n", "", n)
		}
	}
	if p := presetEval(evals); p != nil {
		fmt.Fprintf(w, "\nThe %s, per fault kind (sensor flags against the injected faults):\n\n", p.s.name)
		writePresetText(w, *p)
		fmt.Fprintf(w, "\n  %s\n  %s\n", precisionNote, reasonNote)
		fmt.Fprintf(w, "  False alarms (sensor flags on clean readings) by reason: %s\n", orNone(reasonList(p.falseReasons)))
	}
	if evals[0].smoke.readings > 0 {
		fmt.Fprintf(w, "\nSmoke: %d readings under a plume on sensors without a fault at the time:\n", evals[0].smoke.readings)
		for _, e := range evals {
			fmt.Fprintf(w, "  %-16s %s flagged", e.s.name, pct(ratio(e.smoke.flagged, e.smoke.readings)))
			if e.s.kind != nil {
				fmt.Fprintf(w, " as a sensor fault (%s), %s as the air", orNone(reasonList(e.smoke.reasons)), pct(ratio(e.smoke.air, e.smoke.readings)))
			}
			fmt.Fprintln(w)
		}
	}
	fmt.Fprintln(w, "\nEvery strategy, per fault kind: episodes with at least one flag, and the share of faulty readings flagged:")
	fmt.Fprintln(w)
	writeScoreText(w, d, evals)
	fmt.Fprintln(w, "\nSummary lines (precision: the share of flags on faulty readings, smoke counting as clean; the preset's flags are its sensor flags):")
	for _, e := range evals {
		fmt.Fprintf(w, "%s: precision %s recall %s (%d of %d faulty readings; %d false alarms among %d clean readings)\n",
			e.s.name, pct(e.all.precision()), pct(e.all.recall()), e.all.caught, e.all.readings, e.all.falseFlags, e.clean)
	}
	if fleet := d.strategy("batch fleet"); fleet != nil {
		firing := d.ruleFiring(fleet.score)
		all, kinds, _ := confusion(d.truth, firing, nil, d.steps)
		stuck := kinds[slices.Index(purpleair.RealisticFaultKinds, purpleair.FaultStuckHigh)]
		fmt.Fprintf(w, "\nThe batch alert rule (fleet score > %g at %d steps running, provisioning/alerting/rules.yaml) would be\n", demoRuleThreshold, demoRuleSteps)
		fmt.Fprintf(w, "firing at %d readings: %d on faulty readings, %d on clean ones; it caught %d of %d stuck_high episodes\n",
			all.flagged, all.caught, all.falseFlags, stuck.detected, stuck.episodes)
		fmt.Fprintln(w, "(it pages on gross faults only, and a threshold measured for this fleet size: see the README).")
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// smokeSummary says how much smoke the run had.
func smokeSummary(d *demoRun, e evaluation) string {
	n := 0
	for _, s := range d.smoke {
		if s {
			n++
		}
	}
	if n == 0 {
		return "no smoke"
	}
	return fmt.Sprintf("smoke over %d sensors (%d readings, %d of them on sensors without a fault)", d.smokeSensors(), n, e.smoke.readings)
}

// presetEval is the evaluation of the strategy that gives reasons, nil when none does.
func presetEval(evals []evaluation) *evaluation {
	for i := range evals {
		if evals[i].s.reason != nil {
			return &evals[i]
		}
	}
	return nil
}

func writePresetText(w io.Writer, e evaluation) {
	const row = "%-14s %8s %8s %16s %7s %11s %13s  %s\n"
	fmt.Fprintf(w, row, "fault", "episodes", "readings", "episodes flagged", "recall", "precision*", "right reason", "reasons given")
	for _, k := range e.kinds {
		fmt.Fprintf(w, row, k.kind, fmt.Sprint(k.episodes), fmt.Sprint(k.readings), fmt.Sprintf("%d/%d", k.detected, k.episodes),
			pct(k.recall()), pct(k.reasonPrecision()), pct(k.reasonShare()), reasonList(k.reasons))
	}
	a := e.all
	fmt.Fprintf(w, row, "all faults", fmt.Sprint(a.episodes), fmt.Sprint(a.readings), fmt.Sprintf("%d/%d", a.detected, a.episodes),
		pct(a.recall()), pct(a.precision()), pct(a.reasonShare()), reasonList(a.reasons))
}

func (d *demoRun) strategy(name string) *strategy {
	for _, s := range d.strategies {
		if s.name == name {
			return s
		}
	}
	return nil
}

// ruleFiring marks the readings at which the batch alert rule fires: the sensor's score was above
// demoRuleThreshold at this step and the demoRuleSteps−1 before it.
func (d *demoRun) ruleFiring(score []float64) []bool {
	firing := make([]bool, len(score))
	for s := 0; s < d.opt.sensors; s++ {
		run := 0
		for t := 0; t < d.steps; t++ {
			if v := score[d.at(s, t)]; v > demoRuleThreshold { // NaN (not scored) breaks the run
				run++
			} else {
				run = 0
			}
			firing[d.at(s, t)] = run >= demoRuleSteps
		}
	}
	return firing
}

// writeScoreText prints the per-kind comparison with a header line naming each strategy above its
// two columns.
func writeScoreText(w io.Writer, d *demoRun, evals []evaluation) {
	const cell = "%9s %7s"
	group := len(fmt.Sprintf(cell, "", ""))
	var h1, h2 strings.Builder
	fmt.Fprintf(&h1, "%-14s %8s %8s", "", "", "")
	fmt.Fprintf(&h2, "%-14s %8s %8s", "fault", "episodes", "readings")
	for _, e := range evals {
		name := e.s.name
		pad := max(0, group-len(name))
		fmt.Fprintf(&h1, " | %s%s%s", strings.Repeat("─", pad/2), name, strings.Repeat("─", pad-pad/2))
		fmt.Fprintf(&h2, " | "+cell, "episodes", "recall")
	}
	fmt.Fprintln(w, h1.String())
	fmt.Fprintln(w, h2.String())
	row := func(label string, get func(e evaluation) kindScore) {
		k0 := get(evals[0])
		fmt.Fprintf(w, "%-14s %8d %8d", label, k0.episodes, k0.readings)
		for _, e := range evals {
			k := get(e)
			fmt.Fprintf(w, " | "+cell, fmt.Sprintf("%d/%d", k.detected, k.episodes), pct(k.recall()))
		}
		fmt.Fprintln(w)
	}
	for k := range d.kinds {
		row(string(d.kinds[k]), func(e evaluation) kindScore { return e.kinds[k] })
	}
	row("all faults", func(e evaluation) kindScore { return e.all })
}

func fmtHours(h float64) string {
	if h >= 24 && h == math.Trunc(h) && int(h)%24 == 0 {
		if h == 24 {
			return "1 day"
		}
		return fmt.Sprintf("%d days", int(h)/24)
	}
	return fmt.Sprintf("%g h", h)
}

// writeFileAtomic writes through a temporary file renamed into place, so a failed run leaves no
// half-written report.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".hazewatch-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil { // CreateTemp makes it 0600: a report is for reading
		return err
	}
	return os.Rename(f.Name(), path)
}
