package engine

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/pkg/purpleair"

	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
)

func TestTailCalibExponential(t *testing.T) {
	// Scores with a known exponential tail: the calibrated tail probability
	// must follow it beyond every training score, where an empirical share
	// has nothing to say.
	r := rand.New(rand.NewPCG(1, 2))
	scores := make([]float64, 20000)
	for i := range scores {
		scores[i] = r.ExpFloat64()
	}
	c := newTailCalib(scores, 0)
	for _, s := range []float64{3, 6, 9, 12} {
		got, want := c.tail(s), math.Exp(-s)
		if math.Abs(math.Log(got/want)) > 0.25 {
			t.Errorf("tail(%g) = %.3g, want ≈ %.3g", s, got, want)
		}
	}
	// Monotone, within [0, 1], and the body is the empirical share.
	prev := -1.0
	for s := 0.0; s < 15; s += 0.01 {
		v := c.calibrate(s)
		if v < prev || v < 0 || v > 1 {
			t.Fatalf("calibrate(%g) = %g after %g: not monotone in [0, 1]", s, v, prev)
		}
		prev = v
	}
	if got := c.tail(math.Log(2)); math.Abs(got-0.5) > 0.02 {
		t.Errorf("tail at the median = %.3f, want 0.5", got)
	}
}

func TestTailCalibBounded(t *testing.T) {
	// Scores bounded by the forest's ceiling: beyond the training scores the
	// tail reaches 0 at the ceiling instead of trailing off past it.
	r := rand.New(rand.NewPCG(3, 4))
	top := scoreCeiling(256)
	scores := make([]float64, 5000)
	for i := range scores {
		scores[i] = top - (top-0.4)*math.Sqrt(r.Float64()) // P(S ≥ s) = ((top−s)/(top−0.4))²
	}
	c := newTailCalib(scores, 256)
	if c.top != top || c.k <= 0 {
		t.Fatalf("ceiling %g, exponent %g: want the forest's ceiling %g and a positive exponent", c.top, c.k, top)
	}
	if c.tail(top) != 0 || c.calibrate(top) != 1 {
		t.Errorf("at the ceiling: tail %g, want 0", c.tail(top))
	}
	// The true tail is ((top−s)/(top−0.4))²: the fit follows it within a factor 2.
	for _, s := range []float64{top - 0.02, top - 0.005} {
		want := math.Pow((top-s)/(top-0.4), 2)
		if got := c.tail(s); got > 2*want || got < want/2 {
			t.Errorf("tail(%.4f) = %.3g, want ≈ %.3g", s, got, want)
		}
	}
	if math.Abs(scoreCeiling(2)-0.5) > 1e-12 || math.Abs(iforest.AveragePathLength(256)-10.244) > 1e-3 {
		t.Errorf("c(2) = %g, c(256) = %g: want 1 and 10.244 (Liu et al.)", iforest.AveragePathLength(2), iforest.AveragePathLength(256))
	}
}

func TestTailCalibSmall(t *testing.T) {
	c := newTailCalib([]float64{0.4, 0.5, 0.6, math.NaN()}, 256)
	if c.n != 3 || c.tau != 0 {
		t.Fatalf("n %d, tau %g: want 3 scores, empirical only", c.n, c.tau)
	}
	if got := c.tail(0.9); got != 0.25 {
		t.Errorf("beyond every training score: %g, want 1/(n+1)", got)
	}
	if newTailCalib(nil, 256) != nil || newTailCalib([]float64{math.NaN()}, 256) != nil {
		t.Error("no scores should give no calibration")
	}
	var none *tailCalib
	v := []float64{0.7}
	none.calibrateScores(v)
	if v[0] != 0.7 {
		t.Error("a nil calibration must leave raw scores")
	}
}

// simFleet serves a clean simulated fleet (realistic profile, no faults, no
// smoke) held in memory: the features of the provisioned batch rule, one
// series per sensor on the simulator's 2-minute grid.
type simFleet struct {
	start   time.Time
	sensors int
	steps   int
	cols    map[string]int     // expr → column in vals
	vals    [][]float64        // [col][step*sensors+sensor], NaN = null
	index   []model.LabelValue // sensor_index per sensor
}

const simStep = 2 * time.Minute

func newSimFleet(t testing.TB, sensors int, days int) *simFleet {
	t.Helper()
	start := time.Date(2024, 4, 11, 0, 0, 0, 0, time.UTC)
	cfg := purpleair.DefaultSimulatorConfig()
	cfg.Sensors, cfg.Seed, cfg.Start, cfg.Step, cfg.Profile = sensors, 1, start, simStep, purpleair.ProfileRealistic
	sim, err := purpleair.NewSimulator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &simFleet{start: start, sensors: sensors, steps: days * 720, cols: map[string]int{}}
	fields := []string{"pm1.0_cf_1", "pm2.5_cf_1", "pm10.0_cf_1"}
	idx := make([]int, len(fields))
	for i, name := range fields {
		idx[i] = slices.Index(purpleair.SimulatorFields, name)
		f.cols[name] = i
		f.vals = append(f.vals, make([]float64, f.steps*sensors))
	}
	for k := 0; k < f.steps; k++ {
		_, rs := sim.Next()
		for s, r := range rs {
			if k == 0 {
				f.index = append(f.index, model.LabelValue(fmt.Sprint(r.SensorIndex)))
			}
			for i := range fields {
				v := r.Values[idx[i]]
				x := math.NaN()
				if v.Kind == purpleair.KindNumber {
					x = v.Num
				}
				f.vals[i][k*sensors+s] = x
			}
		}
	}
	return f
}

func (f *simFleet) Fetch(ctx context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error) {
	col, ok := f.cols[expr]
	if !ok {
		return nil, nil, fmt.Errorf("unknown expression %q", expr)
	}
	m := make(model.Matrix, 0, f.sensors)
	for s := 0; s < f.sensors; s++ {
		ss := &model.SampleStream{Metric: model.Metric{"sensor_index": f.index[s]}}
		for i := 0; i < w.Points(); i++ {
			t := w.At(i)
			k := int(t.Sub(f.start) / simStep)
			if k < 0 || k >= f.steps || t.Sub(f.start)%simStep != 0 {
				continue
			}
			if v := f.vals[col][k*f.sensors+s]; !math.IsNaN(v) {
				ss.Values = append(ss.Values, model.SamplePair{Timestamp: model.TimeFromUnixNano(t.UnixNano()), Value: model.SampleValue(v)})
			}
		}
		if len(ss.Values) > 0 {
			m = append(m, ss)
		}
	}
	return m, nil, nil
}

// CalibratedThreshold is the one alert threshold of a calibrated fleet score
// (calibration "tail"): a tail probability of 10⁻⁵ under the fleet's scores
// over the training range.
const CalibratedThreshold = 0.99999

// fleetFiring scores the second day of a clean fleet, sensor against fleet at
// every step, calibrated against the first day, and counts the readings at
// or above CalibratedThreshold, and the highest score.
func fleetFiring(t testing.TB, f *simFleet, calibration string) (fired, readings int, maxScore float64) {
	t.Helper()
	_, res := fleetRun(t, f, calibration)
	for _, er := range res.Entities {
		for _, s := range er.Score {
			readings++
			maxScore = max(maxScore, s)
			if s >= CalibratedThreshold {
				fired++
			}
		}
	}
	return fired, readings, maxScore
}

// fleetRun scores the second day of f at every step, trained on the first.
func fleetRun(t testing.TB, f *simFleet, calibration string) (*Engine, *Result) {
	t.Helper()
	raw := fmt.Sprintf(`{"schemaVersion":2,"mode":"fleet","fleetAt":"each","calibration":%q,
		"features":[{"name":"pm1","expr":"pm1.0_cf_1"},{"name":"pm25","expr":"pm2.5_cf_1"},{"name":"pm10","expr":"pm10.0_cf_1"}],
		"training":{"range":"1d","step":"2m"}}`, calibration)
	q, err := models.ParseQuery([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	day2 := f.start.Add(24 * time.Hour)
	p, err := models.Resolve(q, models.TimeContext{From: day2, To: day2.Add(24*time.Hour - simStep), Interval: simStep, MaxDataPoints: 11000}, models.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	e := New(f, Options{CacheMaxBytes: 64 << 20, CacheTTL: time.Hour})
	res, err := e.Run(context.Background(), q, p)
	if err != nil {
		t.Fatal(err)
	}
	return e, res
}

// TestCalibratedFleetFiringRate is issue 13's "one alert threshold for any
// fleet size": on clean readings, the calibrated fleet score reaches
// CalibratedThreshold on at most 1 reading in 10,000 at 20, 50 and 200
// sensors (1,000: BenchmarkCalibratedFleetFiring1000).
func TestCalibratedFleetFiringRate(t *testing.T) {
	if testing.Short() {
		t.Skip("fits 784 fleet forests per fleet size")
	}
	for _, n := range []int{20, 50, 200} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			f := newSimFleet(t, n, 2)
			fired, readings, top := fleetFiring(t, f, models.CalibrationTail)
			rate := float64(fired) / float64(readings)
			t.Logf("%d sensors: %d of %d clean readings at or above %g (%.2g per 10,000), highest %.6f",
				n, fired, readings, CalibratedThreshold, rate*1e4, top)
			if readings < 720*n*9/10 {
				t.Fatalf("only %d readings scored", readings)
			}
			if rate > 1e-4 {
				t.Errorf("clean firing rate %.2g per 10,000 readings, want ≤ 1", rate*1e4)
			}
			if top < 0.99 {
				// The scores must still reach the tail: a calibration that
				// squashed everything would pass the rate trivially.
				t.Errorf("highest calibrated clean score %.4f: the tail is not used", top)
			}
		})
	}
}

// TestCalibrationKeepsRawScores: calibration "none" (every version-1 query)
// gives the paper's raw score, as before.
func TestCalibrationKeepsRawScores(t *testing.T) {
	f := newSimFleet(t, 20, 2)
	_, _, top := fleetFiring(t, f, models.CalibrationNone)
	if top <= 0.5 || top >= 0.95 {
		t.Errorf("highest raw score %.3f, want a raw Isolation Forest score of a 20-sensor fleet", top)
	}
}

// TestCalibratedFleetStuckChannelFires: the threshold that stays silent on
// clean readings still pages on what the batch rule exists for, a stuck-high
// laser channel (pm2.5_cf_1 the average of a saturated channel and a sound one).
func TestCalibratedFleetStuckChannelFires(t *testing.T) {
	for _, n := range []int{20, 200} {
		f := newSimFleet(t, n, 2)
		const sensor, from, steps = 7, 720 + 300, 30
		for k := from; k < from+steps; k++ {
			// A saturated channel (~5,000) averaged with a sound one, in
			// every size bin the counter reports.
			for name, v := range map[string]float64{"pm1.0_cf_1": 1700, "pm2.5_cf_1": 2500, "pm10.0_cf_1": 2700} {
				f.vals[f.cols[name]][k*f.sensors+sensor] = v
			}
		}
		_, res := fleetRun(t, f, models.CalibrationTail)
		fired := 0
		for _, er := range res.Entities {
			if er.Labels["sensor_index"] != string(f.index[sensor]) {
				continue
			}
			for i, s := range er.Score {
				k := int(er.Times[i].Sub(f.start) / simStep)
				if k >= from && k < from+steps && s >= CalibratedThreshold {
					fired++
				}
			}
		}
		t.Logf("%d sensors: %d of %d stuck readings at or above %g", n, fired, steps, CalibratedThreshold)
		if fired < steps*9/10 {
			t.Errorf("%d sensors: a stuck channel fired on %d of %d readings", n, fired, steps)
		}
	}
}

// BenchmarkCalibratedFleetFiring1000 is TestCalibratedFleetFiringRate at
// 1,000 sensors (784 fleet forests of 1,000 rows: a benchmark, not a test):
// it reports the clean readings at or above CalibratedThreshold per 10,000.
// go test -run '^$' -bench CalibratedFleetFiring1000 -benchtime 1x ./grafana-datasource/pkg/engine/
func BenchmarkCalibratedFleetFiring1000(b *testing.B) {
	f := newSimFleet(b, 1000, 2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fired, readings, top := fleetFiring(b, f, models.CalibrationTail)
		b.ReportMetric(1e4*float64(fired)/float64(readings), "fired/10k-readings")
		b.ReportMetric(float64(readings), "readings")
		b.ReportMetric(top, "highest-score")
	}
}

// TestSeriesCalibration: series mode calibrates each sensor's scores against
// its own training rows — the same raw order, mapped into [0, 1] with
// ordinary points spread over it and a planted outlier in the far tail —
// and calibration "none" keeps the raw scores of version 1.
func TestSeriesCalibration(t *testing.T) {
	spike := t0.Add(90 * time.Minute)
	up := FetchFunc(func(ctx context.Context, feature, expr string, w models.Window) (model.Matrix, []string, error) {
		m, ws, err := noiseFetcher{n: 3}.Fetch(ctx, feature, expr, w)
		for _, ss := range m {
			for i := range ss.Values {
				if ss.Metric["sensor_index"] == "1" && ss.Values[i].Timestamp.Time().Equal(spike) {
					ss.Values[i].Value += 40 // in both features: isolated by any split
				}
			}
		}
		return m, ws, err
	})
	run := func(calibration string) map[string]*EntityResult {
		q, p := plan(t, fmt.Sprintf(`{"schemaVersion":2,"calibration":%q,"features":[{"name":"pm","expr":"pm"},{"name":"rh","expr":"rh"}],"training":{"range":"1d"}}`, calibration),
			t0, t0.Add(2*time.Hour))
		res, err := New(up, testOptions()).Run(context.Background(), q, p)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*EntityResult{}
		for _, er := range res.Entities {
			out[er.Labels["sensor_index"]] = er
		}
		return out
	}
	raw, cal := run(models.CalibrationNone), run(models.CalibrationTail)
	for s, er := range cal {
		below := 0
		for i, v := range er.Score {
			if v < 0 || v > 1 {
				t.Fatalf("sensor %s: calibrated score %g outside [0, 1]", s, v)
			}
			if v < 0.5 {
				below++
			}
			for j := range er.Score {
				if (raw[s].Score[i] < raw[s].Score[j]) != (er.Score[i] < er.Score[j]) && er.Score[i] != er.Score[j] {
					t.Fatalf("sensor %s: calibration changed the order of points %d and %d", s, i, j)
				}
			}
			// A point beyond every training row scores about as the most
			// extreme training rows do (a forest isolates an unseen extreme
			// no faster than the training point nearest it): in series mode
			// the calibrated score saturates near 1 − 1/(training rows).
			if s == "1" && er.Times[i].Equal(spike) && v < 0.99 {
				t.Errorf("the planted outlier scores %g calibrated (raw %g), want ≥ 0.99", v, raw[s].Score[i])
			}
		}
		// Points like the training rows spread over [0, 1]: about half below 0.5.
		if share := float64(below) / float64(len(er.Score)); share < 0.25 || share > 0.75 {
			t.Errorf("sensor %s: %.0f%% of calibrated scores below 0.5, want about half", s, 100*share)
		}
	}
	if r := raw["0"].Score[0]; r < 0.3 || r > 0.8 {
		t.Errorf("raw score %g is not the paper's score of an ordinary point", r)
	}
}
