// Package demo runs a simulated PurpleAir fleet through every Hazewatch detector — the PurpleAir QA
// preset, the Telegraf processor, the Grafana datasource's engine in its series and fleet modes —
// scores each against the faults the simulator injected, and prints and draws what it found.
//
// The detectors are the products' own code, configured as the stack configures them: the demo
// measures the stack, not a copy of it.
package demo

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/pkg/purpleair"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// Result holds the simulated fleet, what each strategy made of it and how that compares with the
// injected faults. Per-reading slices are indexed [sensor*steps + step].
type Result struct {
	opt     Options
	start   time.Time
	steps   int
	sensors []string // sensor_index values, in fleet order
	names   []string
	kinds   []purpleair.FaultKind // the kinds the simulator draws from, in its order

	features [][]float64 // per features column: the reported value, NaN when the API sent null
	chanA    []float64   // pm2.5_cf_1_a, for the charts
	chanB    []float64
	truth    []purpleair.FaultKind
	smoke    []bool // a smoke plume over the sensor (the air, whatever the sensor's fault)

	strategies []*strategy
	evals      []evaluation // one per strategy, in the same order

	// Elapsed is the time the simulation, the strategies and their evaluation took.
	Elapsed time.Duration
}

// strategy is one detector's output: a score per reading (NaN = not scored) and a flag.
type strategy struct {
	name      string // short name, in tables
	title     string // what it is
	scoreName string
	// threshold is the flag boundary on the score, for the charts: one value for the whole run, or
	// NaN with thresholds set per reading (each Isolation Forest has its own offset).
	threshold  float64
	thresholds []float64
	score      []float64
	flag       []bool
	elapsed    time.Duration
	notices    []string // what the datasource's engine would show as notices (data skipped or dropped)

	// The preset's verdicts: flag is kind == sensor; kind and reason are nil for the strategies
	// that say neither.
	kind   []qa.Kind
	reason []qa.Reason
}

// Run simulates the fleet, runs every strategy on it and evaluates them. It refuses options it
// cannot run with an *OptionError, before doing anything.
func Run(ctx context.Context, opt Options) (*Result, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	began := time.Now()
	d, err := runPipelines(ctx, opt)
	if err != nil {
		return nil, err
	}
	d.evals = d.evaluate()
	d.Elapsed = time.Since(began)
	return d, nil
}

func (d *Result) at(s, t int) int { return s*d.steps + t }

func (d *Result) time(t int) time.Time { return d.start.Add(time.Duration(t) * d.opt.Step) }

func (d *Result) readings() int { return d.opt.Sensors * d.steps }

func (d *Result) strategy(name string) *strategy {
	for _, s := range d.strategies {
		if s.name == name {
			return s
		}
	}
	return nil
}

// runPipelines simulates the fleet, streams it through the preset and the Telegraf processor as it
// goes, then runs the batch strategies over the whole history.
func runPipelines(ctx context.Context, opt Options) (*Result, error) {
	sim, err := newSimulator(opt)
	if err != nil {
		return nil, err
	}
	d := newResult(opt, sim)
	if err := d.simulateAndStream(sim); err != nil {
		return nil, err
	}
	for _, b := range []struct{ mode, name, title string }{
		{models.ModeSeries, "batch series", "Isolation Forest, each sensor against its own history (datasource series mode)"},
		{models.ModeFleet, "batch fleet", "Isolation Forest, each sensor against the fleet at each step (datasource fleet mode)"},
	} {
		st, err := d.runBatch(ctx, b.mode, b.name, b.title)
		if err != nil {
			return nil, err
		}
		d.strategies = append(d.strategies, st)
	}
	return d, nil
}

// newSimulator is the fleet of opt, started on the batch queries' grid: timestamps that are
// multiples of the step, where query_range evaluates, or the engine sees none of the readings. The
// simulator's default start (a midnight) is on it for the usual steps; for others, start at the grid
// point before it.
func newSimulator(opt Options) (*purpleair.Simulator, error) {
	cfg := opt.simulatorConfig()
	sim, err := purpleair.NewSimulator(cfg)
	if err != nil {
		return nil, err
	}
	if ms, stepMS := sim.Time().UnixMilli(), opt.Step.Milliseconds(); ms%stepMS != 0 {
		cfg.Start = time.UnixMilli(ms - ms%stepMS).UTC()
		return purpleair.NewSimulator(cfg)
	}
	return sim, nil
}

func newResult(opt Options, sim *purpleair.Simulator) *Result {
	d := &Result{opt: opt, start: sim.Time(), steps: opt.steps(), kinds: sim.Config().Faults}
	n := d.readings()
	d.features = make([][]float64, len(features))
	for c := range d.features {
		d.features[c] = make([]float64, n)
	}
	d.chanA, d.chanB = make([]float64, n), make([]float64, n)
	d.truth = make([]purpleair.FaultKind, n)
	d.smoke = make([]bool, n)
	return d
}

// simulateAndStream draws every step from the simulator, records it and hands it to the streaming
// strategies — the preset and the processor — as it comes, as a live fleet would.
func (d *Result) simulateAndStream(sim *purpleair.Simulator) error {
	preset, err := newPresetStrategy(d)
	if err != nil {
		return err
	}
	stream, err := newStreamStrategy(d)
	if err != nil {
		return err
	}
	for t := 0; t < d.steps; t++ {
		tm, readings := sim.Next()
		resp := purpleair.ReadingsResponse(tm, readings)
		labels := make([]purpleair.FaultKind, len(readings))
		for s, r := range readings {
			labels[s] = r.Fault
			d.smoke[d.at(s, t)] = r.Smoke
		}
		if t == 0 {
			if err := d.initSensors(resp); err != nil {
				return err
			}
		}
		if err := d.record(t, resp, labels); err != nil {
			return err
		}
		if err := timed(&preset.s.elapsed, func() error { return preset.step(t, tm, resp) }); err != nil {
			return err
		}
		if err := timed(&stream.s.elapsed, func() error { return stream.step(t, resp, labels) }); err != nil {
			return err
		}
	}
	d.strategies = append(d.strategies, preset.s, stream.s)
	return nil
}

// timed runs f, adding the time it took to total.
func timed(total *time.Duration, f func() error) error {
	began := time.Now()
	err := f()
	*total += time.Since(began)
	return err
}

func (d *Result) initSensors(resp *purpleair.Response) error {
	si, ni := resp.Column("sensor_index"), resp.Column("name")
	if si < 0 || ni < 0 {
		return fmt.Errorf("simulator response lacks sensor_index or name (fields: %s)", strings.Join(resp.Fields, ", "))
	}
	for _, row := range resp.Data {
		d.sensors = append(d.sensors, formatIndex(row[si].Num))
		d.names = append(d.names, row[ni].Str)
	}
	return nil
}

// record keeps one step's readings of the fields the strategies and charts use.
func (d *Result) record(t int, resp *purpleair.Response, labels []purpleair.FaultKind) error {
	if len(resp.Data) != len(d.sensors) {
		return fmt.Errorf("step %d: %d rows from a fleet of %d sensors", t, len(resp.Data), len(d.sensors))
	}
	x, err := resp.Numeric(features)
	if err != nil {
		return err
	}
	ab, err := resp.Numeric([]string{"pm2.5_cf_1_a", "pm2.5_cf_1_b"})
	if err != nil {
		return err
	}
	cols := len(features)
	for s := range resp.Data {
		i := d.at(s, t)
		for c := range features {
			d.features[c][i] = x[s*cols+c]
		}
		d.chanA[i], d.chanB[i] = ab[2*s], ab[2*s+1]
		d.truth[i] = labels[s]
	}
	return nil
}

// formatIndex prints a sensor_index as the input plugin tags it.
func formatIndex(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}
