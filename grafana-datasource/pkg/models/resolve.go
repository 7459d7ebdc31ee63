package models

import (
	"fmt"
	"regexp"
	"strconv"
	"time"

	"github.com/prometheus/common/model"
)

// Window is an inclusive grid Start, Start+Step, …, End, aligned to Step
// the way Prometheus evaluates query_range (every timestamp a multiple of
// the step), so that the same wall-clock range always yields the same grid
// and a fitted forest can be reused until the grid moves by a step.
type Window struct {
	Start, End time.Time
	Step       time.Duration
}

// Points is the number of grid timestamps in the window.
func (w Window) Points() int {
	if w.End.Before(w.Start) || w.Step <= 0 {
		return 0
	}
	return int(w.End.Sub(w.Start)/w.Step) + 1
}

// Index returns the grid index of t, or -1 when t is off the grid or outside.
func (w Window) Index(t time.Time) int {
	d := t.Sub(w.Start)
	if d < 0 || t.After(w.End) || d%w.Step != 0 {
		return -1
	}
	return int(d / w.Step)
}

// At returns the i-th grid timestamp.
func (w Window) At(i int) time.Time { return w.Start.Add(time.Duration(i) * w.Step) }

func (w Window) String() string {
	return fmt.Sprintf("[%s, %s] step %s", w.Start.UTC().Format(time.RFC3339), w.End.UTC().Format(time.RFC3339), model.Duration(w.Step))
}

// Limits are the settings that bound one query.
type Limits struct {
	MaxPointsPerSeries int
	ScrapeInterval     time.Duration
}

// TimeContext is what Grafana sends along with each query.
type TimeContext struct {
	From, To      time.Time
	Interval      time.Duration // the panel's suggested interval (0 if unknown)
	MaxDataPoints int64
}

// Plan is a query resolved against its time context: the step, the aligned
// training and scoring windows, and the PromQL to run, macros expanded.
type Plan struct {
	Step time.Duration
	// Score is the range whose points are scored and returned.
	Score Window
	// Train is the range the forest learns from; equal to Score when the
	// training range is the panel (and always in fleet mode).
	Train        Window
	TrainIsScore bool
	// Exprs[i] is Features[i].Expr with macros expanded.
	Exprs []string
	// Notices explain adjustments (e.g. a step raised to respect limits).
	Notices []string
}

// Resolve computes the plan of q for one query's time context.
func Resolve(q *Query, tc TimeContext, lim Limits) (*Plan, error) {
	if !tc.To.After(tc.From) {
		return nil, queryErrorf("time range is empty (from %s, to %s)", tc.From.UTC().Format(time.RFC3339), tc.To.UTC().Format(time.RFC3339))
	}
	if lim.MaxPointsPerSeries <= 1 {
		lim.MaxPointsPerSeries = DefaultMaxPointsPerSeries
	}
	if lim.ScrapeInterval <= 0 {
		lim.ScrapeInterval = DefaultScrapeInterval
	}
	p := &Plan{}
	span := tc.To.Sub(tc.From)

	step := q.Training.FixedStep
	if step == 0 {
		step = tc.Interval
		if tc.MaxDataPoints > 0 {
			if byPoints := span / time.Duration(tc.MaxDataPoints); byPoints > step {
				step = byPoints
			}
		}
	}
	step = roundUpSecond(step)

	// The longest window fetched decides whether the step must grow.
	longest := span
	if q.Training.Lookback > 0 && (q.Mode == ModeSeries || q.Preset != PresetNone || q.Calibration == CalibrationTail) {
		longest = max(longest, q.Training.Lookback)
	}
	if pts := int(longest/step) + 1; pts > lim.MaxPointsPerSeries {
		newStep := roundUpSecond(time.Duration(int64(longest)/int64(lim.MaxPointsPerSeries-1) + 1))
		p.Notices = append(p.Notices, fmt.Sprintf("step raised from %s to %s: %d points per series exceed the limit of %d (datasource setting maxPointsPerSeries)",
			model.Duration(step), model.Duration(newStep), pts, lim.MaxPointsPerSeries))
		step = newStep
	}
	p.Step = step

	p.Score = Window{Start: alignDown(tc.From, step), End: alignDown(tc.To, step), Step: step}
	if p.Score.Start.Before(tc.From) {
		// The first aligned point precedes the panel; start inside it.
		p.Score.Start = p.Score.Start.Add(step)
	}
	if p.Score.End.Before(p.Score.Start) {
		// Range shorter than one step: score the one aligned point at its end.
		p.Score.Start = p.Score.End
	}
	// The preset scores the whole panel range even for the last step: its
	// episodes are marked back over it (qa.Backfill) before the last is taken.
	if q.Mode == ModeFleet && q.FleetAt == FleetAtLast && q.Preset == PresetNone {
		p.Score.Start = p.Score.End
	}

	// The preset's training range is the detector's warm-up: the readings it
	// observes before the scored range. A calibrated fleet forest takes its
	// null distribution from the fleet over the training range.
	usesTrain := q.Preset != PresetNone || q.Mode == ModeSeries || q.Calibration == CalibrationTail
	switch {
	case q.Mode == ModeFleet && !usesTrain:
		if q.Training.Lookback > 0 {
			p.Notices = append(p.Notices, "training.range is ignored in fleet mode with calibration \"none\": each step's forest is fitted on the fleet at that step")
		}
		p.Train, p.TrainIsScore = p.Score, true
	case q.Training.Lookback == 0:
		p.Train, p.TrainIsScore = p.Score, true
	default:
		end := p.Score.Start.Add(-step)
		p.Train = Window{Start: alignDown(p.Score.Start.Add(-q.Training.Lookback), step), End: end, Step: step}
		if p.Train.Start.Before(p.Score.Start.Add(-q.Training.Lookback)) {
			p.Train.Start = p.Train.Start.Add(step)
		}
	}

	vars := Macros(step, lim.ScrapeInterval, span, q.Variables)
	p.Exprs = make([]string, len(q.Features))
	for i, f := range q.Features {
		p.Exprs[i] = Interpolate(f.Expr, vars)
	}
	return p, nil
}

func roundUpSecond(d time.Duration) time.Duration {
	if d < time.Second {
		return time.Second
	}
	if r := d % time.Second; r != 0 {
		d += time.Second - r
	}
	return d
}

func alignDown(t time.Time, step time.Duration) time.Time {
	ms := t.UnixMilli()
	s := step.Milliseconds()
	return time.UnixMilli(ms - ((ms%s)+s)%s).UTC()
}

// Macros returns the built-in macro values for a step and range, merged with
// user variables (built-ins win, their names start with __).
func Macros(step, scrape, rng time.Duration, user map[string]string) map[string]string {
	rate := max(step+scrape, 4*scrape)
	m := make(map[string]string, len(user)+6)
	for k, v := range user {
		m[k] = v
	}
	m["__interval"] = model.Duration(step).String()
	m["__interval_ms"] = strconv.FormatInt(step.Milliseconds(), 10)
	m["__rate_interval"] = model.Duration(rate).String()
	m["__range"] = strconv.FormatInt(int64(rng/time.Second), 10) + "s"
	m["__range_s"] = strconv.FormatInt(int64(rng/time.Second), 10)
	m["__range_ms"] = strconv.FormatInt(rng.Milliseconds(), 10)
	return m
}

var macroRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]|\$([A-Za-z_][A-Za-z0-9_]*)`)

// Interpolate replaces $name, ${name} and [[name]] with vars[name]. Unknown
// names are left as written (PromQL's own "$1" in label_replace and regex
// anchors are not variables), so upstream reports them if they are wrong.
func Interpolate(expr string, vars map[string]string) string {
	return macroRE.ReplaceAllStringFunc(expr, func(m string) string {
		sub := macroRE.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		if v, ok := vars[name]; ok {
			return v
		}
		return m
	})
}
