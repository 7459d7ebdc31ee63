package qa

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2024, 7, 1, 0, 0, 0, 0, time.UTC)

const step = 2 * time.Minute

func newDetector(t *testing.T) *Detector {
	t.Helper()
	d, err := New(DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// healthy is a sound reading at step i: both channels near pm with a little noise, the
// environment moving a little, last_seen just before the reading.
func healthy(i int, pm float64, rng *rand.Rand) Reading {
	r := NewReading(t0.Add(time.Duration(i) * step))
	r.A = pm * (1 + 0.03*rng.NormFloat64())
	r.B = pm * (1 + 0.03*rng.NormFloat64())
	r.CF1 = (r.A + r.B) / 2
	r.ATM = r.CF1
	r.Humidity = math.Round(50 + 5*rng.NormFloat64())
	r.Temperature = math.Round(70 + 3*rng.NormFloat64())
	r.Pressure = math.Round((1010+rng.NormFloat64())*100) / 100
	r.LastSeen = r.Time.Add(-20 * time.Second)
	return r
}

// warm feeds n healthy readings at pm and returns the next index.
func warm(t *testing.T, d *Detector, key string, n int, pm float64, rng *rand.Rand) int {
	t.Helper()
	for i := range n {
		if res := d.Observe(key, healthy(i, pm, rng)); res.Kind == KindSensor {
			t.Fatalf("healthy reading %d flagged: %+v", i, res)
		}
	}
	return n
}

func TestEPAAgreementBoundaries(t *testing.T) {
	for _, c := range []struct {
		a, b float64
		ok   bool
	}{
		{15, 10, true},     // |A−B| = 5: not more than 5
		{15.01, 10, true},  // over 5 µg/m³ but 40 % apart
		{6.9, 2, true},     // 4.9 apart
		{7, 1.9, false},    // 5.1 apart and 115 %
		{20.76, 10, true},  // 69.9 % apart
		{20.78, 10, false}, // 70.1 % apart
		{0, 0, true},       // clean air
		{300, 100, false},  // smoke on one channel only
		{300, 290, true},   // smoke on both
	} {
		ok, _, rel := epaAgree(c.a, c.b)
		if ok != c.ok {
			t.Errorf("epaAgree(%v, %v) = %v (rel %.4f), want %v", c.a, c.b, ok, rel, c.ok)
		}
	}
}

func TestDivergentChannelsAreASensorFault(t *testing.T) {
	d := newDetector(t)
	rng := rand.New(rand.NewPCG(1, 2))
	i := warm(t, d, "1", 100, 20, rng)
	r := healthy(i, 20, rng)
	r.A, r.B = 45, 15 // 3× apart, 30 µg/m³: EPA's rule fails
	res := d.Observe("1", r)
	if res.Kind != KindSensor || res.Reason != ReasonABDivergence || !res.Anomaly || res.Score < 0.7 {
		t.Fatalf("got %+v, want sensor/ab_divergence", res)
	}
	if !strings.Contains(res.Detail, "channel A reads 3.0× channel B") {
		t.Errorf("detail %q", res.Detail)
	}
	if !math.IsNaN(res.EPA) {
		t.Errorf("pm2.5_epa %v for channels that fail the A/B rule, want none", res.EPA)
	}
}

func TestFlatlineRunLength(t *testing.T) {
	d := newDetector(t)
	rng := rand.New(rand.NewPCG(3, 4))
	i := warm(t, d, "1", 20, 10, rng)
	frozen := healthy(i, 10, rng)
	for k := range 6 {
		r := frozen
		r.Time = t0.Add(time.Duration(i+k) * step)
		r.LastSeen = r.Time.Add(-20 * time.Second)
		res := d.Observe("1", r)
		// The first of the identical readings is the last real one; three repeats make a flatline.
		want := k >= flatlineRepeats
		if (res.Reason == ReasonFlatline) != want {
			t.Fatalf("reading %d of the frozen run: %+v, flatline want %v", k, res, want)
		}
		if want && !res.Since.Equal(t0.Add(time.Duration(i+1)*step)) {
			t.Errorf("since %v, want the first repeat %v", res.Since, t0.Add(time.Duration(i+1)*step))
		}
	}
}

func TestCleanAirZerosAreNoFlatline(t *testing.T) {
	d := newDetector(t)
	for k := range 30 {
		r := NewReading(t0.Add(time.Duration(k) * step))
		r.A, r.B, r.CF1, r.ATM = 0, 0, 0, 0
		r.Humidity, r.Temperature, r.Pressure = 60, 55, 1012.5
		if res := d.Observe("1", r); res.Anomaly {
			t.Fatalf("clean-air reading %d flagged: %+v", k, res)
		}
	}
}

func TestOneChannelStuck(t *testing.T) {
	d := newDetector(t)
	rng := rand.New(rand.NewPCG(5, 6))
	i := warm(t, d, "1", 20, 12, rng)
	for k := range flatlineRepeatsSingle + 1 {
		r := healthy(i+k, 12, rng)
		r.A = 12.3
		res := d.Observe("1", r)
		want := k >= flatlineRepeatsSingle
		if (res.Reason == ReasonFlatline) != want {
			t.Fatalf("reading %d with channel A stuck: %+v, flatline want %v", k, res, want)
		}
	}
}

func TestOutOfRangeBoundaries(t *testing.T) {
	for _, c := range []struct {
		name string
		set  func(*Reading)
		bad  bool
	}{
		{"humidity 100", func(r *Reading) { r.Humidity = 100 }, false},
		{"humidity 100.1", func(r *Reading) { r.Humidity = 100.1 }, true},
		{"humidity 255 (BME280 read failure)", func(r *Reading) { r.Humidity = 255 }, true},
		{"humidity 0", func(r *Reading) { r.Humidity = 0 }, false},
		{"humidity -1", func(r *Reading) { r.Humidity = -1 }, true},
		{"temperature 185", func(r *Reading) { r.Temperature = 185 }, false},
		{"temperature 185.5", func(r *Reading) { r.Temperature = 185.5 }, true},
		{"temperature -40", func(r *Reading) { r.Temperature = -40 }, false},
		{"temperature -224", func(r *Reading) { r.Temperature = -224 }, true},
		{"pressure 1100", func(r *Reading) { r.Pressure = 1100 }, false},
		{"pressure 1100.5", func(r *Reading) { r.Pressure = 1100.5 }, true},
		{"channel A 1000", func(r *Reading) { r.A, r.B = 1000, 990 }, false},
		{"channel A 1000.1", func(r *Reading) { r.A = 1000.1 }, true},
		{"channel B 4,900 (saturated)", func(r *Reading) { r.B = 4900 }, true},
		{"channel A negative", func(r *Reading) { r.A = -0.5 }, true},
		{"humidity 255, not carried", func(r *Reading) { r.Humidity = 255; r.Carried &^= FieldHumidity }, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newDetector(t)
			rng := rand.New(rand.NewPCG(7, 8))
			r := healthy(0, 10, rng)
			c.set(&r)
			res := d.Observe("1", r)
			if got := res.Reason == ReasonOutOfRange; got != c.bad {
				t.Fatalf("got %+v, out_of_range want %v", res, c.bad)
			}
			if c.bad && (res.Kind != KindSensor || res.Detail == "") {
				t.Errorf("got %+v, want kind sensor with a detail", res)
			}
		})
	}
}

func TestMissingOnlyWhatWasReported(t *testing.T) {
	d := newDetector(t)
	rng := rand.New(rand.NewPCG(9, 10))
	// Sensor 1 has two channels; sensor 2 has only channel A (a single-laser model).
	for k := range 5 {
		d.Observe("1", healthy(k, 10, rng))
		r := healthy(k, 10, rng)
		r.B = math.NaN()
		if res := d.Observe("2", r); res.Reason == ReasonMissing {
			t.Fatalf("single-channel sensor flagged missing: %+v", res)
		}
	}
	r := healthy(5, 10, rng)
	r.B = math.NaN()
	if res := d.Observe("1", r); res.Reason != ReasonMissing || res.Detail != "channel B reports nothing" {
		t.Fatalf("channel B gone: %+v", res)
	}
	r = healthy(6, 10, rng)
	r.Humidity, r.Temperature, r.Pressure = math.NaN(), math.NaN(), math.NaN()
	res := d.Observe("1", r)
	if res.Reason != ReasonMissing || !strings.Contains(res.Detail, "environment sensor") {
		t.Fatalf("environment gone: %+v", res)
	}
	if !math.IsNaN(res.EPA) {
		t.Errorf("pm2.5_epa %v without humidity, want none", res.EPA)
	}
}

func TestStale(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	t.Run("last_seen frozen", func(t *testing.T) {
		d := newDetector(t)
		i := warm(t, d, "1", 10, 10, rng)
		prev := healthy(i-1, 10, rng)
		r := healthy(i, 10, rng)
		r.LastSeen = prev.LastSeen
		if res := d.Observe("1", r); res.Reason != ReasonStale || !strings.Contains(res.Detail, "last_seen not advancing") {
			t.Fatalf("got %+v", res)
		}
	})
	for _, c := range []struct {
		gap   time.Duration
		stale bool
	}{{10 * time.Minute, false}, {15 * time.Minute, false}, {16 * time.Minute, true}, {46 * time.Minute, true}} {
		t.Run("gap "+c.gap.String(), func(t *testing.T) {
			d := newDetector(t)
			i := warm(t, d, "1", 10, 10, rng)
			r := healthy(i, 10, rng)
			r.Time = t0.Add(time.Duration(i-1)*step + c.gap)
			r.LastSeen = r.Time.Add(-20 * time.Second)
			res := d.Observe("1", r)
			if (res.Reason == ReasonStale) != c.stale {
				t.Fatalf("got %+v, stale want %v", res, c.stale)
			}
			if c.stale && !strings.Contains(res.Detail, "without data") {
				t.Errorf("detail %q", res.Detail)
			}
		})
	}
}

func TestEPACorrection(t *testing.T) {
	// By hand from the papers' formulas (Barkjohn et al. 2021; 2022 as the Fire and Smoke Map
	// publishes it).
	for _, c := range []struct {
		name      string
		f         func(pa, rh float64) float64
		pa, rh, v float64
	}{
		{"us_wide 10, 50 %", USWide, 10, 50, 0.524*10 - 0.0862*50 + 5.75},           // 6.68
		{"us_wide 100, 30 %", USWide, 100, 30, 52.4 - 2.586 + 5.75},                 // 55.564
		{"us_wide clamps at 0", USWide, 0, 100, 0},                                  // −2.87 → 0
		{"extended 20 (as us_wide)", Extended, 20, 50, 0.524*20 - 0.0862*50 + 5.75}, // 11.92
		{"extended 40 (blend, w = 0.5)", Extended, 40, 50, 0.655*40 - 4.31 + 5.75},  // 27.64
		{"extended 100", Extended, 100, 50, 78.6 - 4.31 + 5.75},                     // 80.04
		{"extended 235 (blend, w = 0.5)", Extended, 235, 50, 0.738*235 - 2.155 + 1.483 + 2.875 + 8.84e-4*235*235*0.5},
		{"extended 300 (quadratic, no RH)", Extended, 300, math.NaN(), 2.966 + 0.69*300 + 8.84e-4*300*300}, // 289.526
	} {
		if got := c.f(c.pa, c.rh); math.Abs(got-c.v) > 1e-9 {
			t.Errorf("%s: got %.6f, want %.6f", c.name, got, c.v)
		}
	}
	// The blends make the extended correction continuous at its breakpoints.
	for _, pa := range []float64{30, 50, 210, 260} {
		lo, hi := Extended(pa-1e-9, 40), Extended(pa, 40)
		if math.Abs(lo-hi) > 1e-6 {
			t.Errorf("extended correction jumps at %v: %v → %v", pa, lo, hi)
		}
	}
	if !math.IsNaN(USWide(10, math.NaN())) || !math.IsNaN(Extended(100, math.NaN())) {
		t.Error("a correction needing humidity gave a value without it")
	}
}

func TestEPAFieldFollowsOption(t *testing.T) {
	for _, corr := range []Correction{CorrectionUSWide, CorrectionExtended} {
		opt := DefaultOptions()
		opt.Correction = corr
		d, err := New(opt)
		if err != nil {
			t.Fatal(err)
		}
		r := NewReading(t0)
		r.A, r.B, r.CF1, r.ATM, r.Humidity, r.Temperature, r.Pressure = 101, 99, 100, 66.7, 40, 70, 1010
		res := d.Observe("1", r)
		want := USWide(100, 40)
		if corr == CorrectionExtended {
			want = Extended(66.7, 40)
		}
		if math.Abs(res.EPA-want) > 1e-12 {
			t.Errorf("%s: pm2.5_epa %v, want %v", corr, res.EPA, want)
		}
	}
}

// fleet feeds n sensors for steps readings; pm(s, i) gives sensor s's PM at step i and
// chanA its channel-A factor. It returns the results per sensor.
func fleet(t *testing.T, d *Detector, n, steps int, placed bool, pm func(s, i int) float64, chanA func(s, i int) float64) [][]Result {
	t.Helper()
	rng := rand.New(rand.NewPCG(13, 14))
	out := make([][]Result, n)
	for i := range steps {
		for s := range n {
			r := healthy(i, pm(s, i), rng)
			r.A *= chanA(s, i)
			if placed {
				r.Lat, r.Lon = 37.5+0.01*float64(s), -122.2
			}
			out[s] = append(out[s], d.Observe(strconv.Itoa(s), r))
		}
	}
	return out
}

func TestFaultOrAir(t *testing.T) {
	const n, steps, onset = 8, 500, 400
	one := func(int, int) float64 { return 1 }
	for _, placed := range []bool{false, true} {
		name := "fleet without positions"
		if placed {
			name = "neighbours by position"
		}
		t.Run(name+": smoke over everyone is air", func(t *testing.T) {
			d := newDetector(t)
			res := fleet(t, d, n, steps, placed, func(s, i int) float64 {
				// a plume rising smoothly over an hour to 15× the usual 8 µg/m³
				return 8 * (1 + 14*min(1, max(0, float64(i-onset)/30)))
			}, one)
			air := 0
			for s := range n {
				for i, r := range res[s] {
					if r.Kind == KindSensor {
						t.Fatalf("sensor %d step %d in smoke flagged as a fault: %+v", s, i, r)
					}
					if i >= onset+30 && r.Kind == KindAir {
						air++
					}
				}
			}
			if air < n*(steps-onset-30)/2 {
				t.Errorf("%d of %d readings in the plume flagged air, want at least half", air, n*(steps-onset-30))
			}
		})
		t.Run(name+": a jump everyone shares is air", func(t *testing.T) {
			d := newDetector(t)
			res := fleet(t, d, n, steps, placed, func(s, i int) float64 {
				if i >= onset {
					return 90 // a dust front: everyone at once
				}
				return 8
			}, one)
			spikes := 0
			for s := range n {
				if res[s][onset].Reason == ReasonSpike {
					spikes++ // the first sensors of the step see no neighbour high yet
				}
				for _, r := range res[s][onset+1 : onset+4] {
					if r.Kind != KindAir {
						t.Fatalf("sensor %d after the shared jump: %+v, want air", s, r)
					}
				}
			}
			// A third of the neighbours must be high: the first sensors of the step cannot know yet.
			if spikes > n/2 {
				t.Errorf("%d of %d sensors called the shared jump a spike", spikes, n)
			}
		})
		t.Run(name+": a lone both-channel jump is a spike", func(t *testing.T) {
			d := newDetector(t)
			res := fleet(t, d, n, steps, placed, func(s, i int) float64 {
				if s == 3 && i == onset {
					return 120
				}
				return 8
			}, one)
			if r := res[3][onset]; r.Kind != KindSensor || r.Reason != ReasonSpike {
				t.Fatalf("got %+v, want sensor/spike", r)
			}
		})
		t.Run(name+": one channel rising alone is the sensor", func(t *testing.T) {
			d := newDetector(t)
			res := fleet(t, d, n, steps, placed, func(int, int) float64 { return 10 }, func(s, i int) float64 {
				if s == 5 && i >= onset {
					return 2.5
				}
				return 1
			})
			if r := res[5][onset+3]; r.Kind != KindSensor || r.Reason != ReasonABDivergence {
				t.Fatalf("got %+v, want sensor/ab_divergence", r)
			}
		})
	}
}

func TestDriftAndDivergenceAreToldApart(t *testing.T) {
	const steps, onset = 900, 200
	for _, c := range []struct {
		name   string
		factor func(i int) float64
		want   Reason
	}{
		// channel A's gain creeping to 1.8× over 12 hours
		{"drift", func(i int) float64 { return 1 + 0.8*min(1, max(0, float64(i-onset)/360)) }, ReasonDrift},
		// channel A at 1.8× from one reading to the next
		{"divergence", func(i int) float64 {
			if i >= onset {
				return 1.8
			}
			return 1
		}, ReasonABDivergence},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newDetector(t)
			res := fleet(t, d, 1, steps, false, func(int, int) float64 { return 15 }, func(_, i int) float64 { return c.factor(i) })
			first := -1
			for i, r := range res[0] {
				if r.Kind == KindSensor {
					if i < onset {
						t.Fatalf("flagged before the fault, step %d: %+v", i, r)
					}
					if first < 0 {
						first = i
					}
					if r.Reason != c.want {
						t.Fatalf("step %d: %+v, want %s", i, r, c.want)
					}
				}
			}
			if first < 0 {
				t.Fatal("never flagged")
			}
			last := res[0][steps-1]
			if c.want == ReasonDrift && !last.Since.Before(t0.Add(time.Duration(first)*step)) {
				t.Errorf("drift since %v, want before its first flag at %v", last.Since, t0.Add(time.Duration(first)*step))
			}
		})
	}
}

func TestAttribution(t *testing.T) {
	d := newDetector(t)
	rng := rand.New(rand.NewPCG(15, 16))
	warm(t, d, "1", 2*DefaultOptions().WindowSize, 10, rng)
	typical := [3]float64{0, math.Log1p(10), 0}
	for i, name := range learnedFeatures {
		x := typical
		x[i] = [3]float64{2.5, 6, 1.5}[i]
		got, score := d.Attribute("1", x)
		if got != name {
			t.Errorf("planted %s anomaly %v attributed to %q (score %.3f)", name, x, got, score)
		}
		if score < 0.5 {
			t.Errorf("planted %s anomaly scores only %.3f", name, score)
		}
	}
}

func TestOptionsAreCheckedOnce(t *testing.T) {
	for _, c := range []struct {
		option string
		set    func(*Options)
	}{
		{"Threshold", func(o *Options) { o.Threshold = 0 }},
		{"Threshold", func(o *Options) { o.Threshold = math.NaN() }},
		{"WindowSize", func(o *Options) { o.WindowSize = 0 }},
		{"Correction", func(o *Options) { o.Correction = "epa" }},
		{"Neighbours", func(o *Options) { o.Neighbours = 1 }},
	} {
		o := DefaultOptions()
		c.set(&o)
		_, err := New(o)
		var oe *OptionError
		if !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("%+v: error %v, want an OptionError naming %s", o, err, c.option)
		}
	}
	if _, err := New(DefaultOptions()); err != nil {
		t.Fatal(err)
	}
}

func TestScoreAndAnomalyAgree(t *testing.T) {
	d := newDetector(t)
	rng := rand.New(rand.NewPCG(17, 18))
	for i := range 2000 {
		pm := 10 * math.Exp(0.8*rng.NormFloat64())
		r := healthy(i, pm, rng)
		if i%97 == 0 {
			r.A *= 4
		}
		res := d.Observe("1", r)
		if res.Score < 0 || res.Score > 1 || res.Anomaly != (res.Score >= d.opt.Threshold) {
			t.Fatalf("reading %d: %+v: score must be in [0, 1] and anomaly = score ≥ threshold", i, res)
		}
		if res.Anomaly != (res.Reason != ReasonNone) || res.Anomaly != (res.Kind != KindNone) {
			t.Fatalf("reading %d: %+v: an anomaly has a kind and a reason, nothing else has", i, res)
		}
	}
}

func TestForget(t *testing.T) {
	d := newDetector(t)
	rng := rand.New(rand.NewPCG(19, 20))
	for s := range 3 {
		r := healthy(0, 10, rng)
		r.Lat, r.Lon = 37.5+0.01*float64(s), -122.2
		d.Observe(strconv.Itoa(s), r)
	}
	d.Forget("1")
	if d.Sensors() != 2 {
		t.Fatalf("%d sensors after Forget, want 2", d.Sensors())
	}
	for _, s := range d.sensors {
		for _, n := range s.neighbours {
			if n.key == "1" {
				t.Fatalf("sensor %s still has the forgotten sensor as a neighbour", s.key)
			}
		}
	}
}

// Alone, a sensor whose channels jump together is not called broken: it may be a puff of smoke.
func TestLoneSensorJumpIsAir(t *testing.T) {
	d := newDetector(t)
	res := fleet(t, d, 1, 500, false, func(_, i int) float64 {
		if i == 400 {
			return 120
		}
		return 8
	}, func(int, int) float64 { return 1 })
	if r := res[0][400]; r.Kind != KindAir {
		t.Fatalf("got %+v, want air", r)
	}
}

func TestFieldNames(t *testing.T) {
	r := NewReading(t0)
	for i, name := range FieldNames() {
		f, ok := FieldByName(name)
		if !ok || r.Value(f) == nil {
			t.Fatalf("%s: field %v, %v", name, f, ok)
		}
		*r.Value(f) = float64(i)
	}
	want := Reading{A: 0, B: 1, CF1: 2, ATM: 3, Humidity: 4, Temperature: 5, Pressure: 6}
	if r.A != want.A || r.B != want.B || r.CF1 != want.CF1 || r.ATM != want.ATM || r.Humidity != want.Humidity ||
		r.Temperature != want.Temperature || r.Pressure != want.Pressure {
		t.Fatalf("%+v", r)
	}
	for _, m := range measured {
		if f, _ := FieldByName(m.name); f != m.field {
			t.Errorf("FieldByName(%q) = %v, want %v", m.name, f, m.field)
		}
	}
	if _, ok := FieldByName("pm2.5"); ok || r.Value(AllFields) != nil {
		t.Fatal("a name or set that is not one measurement field was taken for one")
	}
}
