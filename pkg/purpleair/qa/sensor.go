package qa

import (
	"fmt"
	"math"
	"time"

	"github.com/hazewatch/hazewatch/pkg/anomaly/hst"
)

// sensor is one sensor's state: a few dozen numbers and its learned model's masses.
type sensor struct {
	sensorState
	key        string
	neighbours []*sensor
	hst        *hst.State
	alpha      alphas
}

// sensorState is the part of a sensor's state that is saved (MarshalBinary) as it is.
type sensorState struct {
	N        int    // readings seen
	Reported Fields // fields this sensor has reported a value for at least once

	// time
	PrevTime     time.Time
	PrevLastSeen time.Time
	Cadence      float64 // usual seconds between reports; 0 until known

	// flatline
	Prev                Reading
	RunAll, RunA, RunB  int
	RunStart, RunAStart time.Time
	RunBStart           time.Time
	PrevValid           bool

	// channel ratio
	RatioBase          float64
	RatioLearned       int // readings that set the typical ratio, up to ratioLearn
	CusumUp, CusumDown float64
	ZFast, ZSlow       float64
	RatioReadings      int       // readings that updated the ratio statistics
	RatioOn            bool      // a divergence or drift episode is open
	RatioQuiet         int       // readings in agreement since the last flagged one
	RatioStart         time.Time // the episode's first flagged reading
	RatioDrift         bool      // the open episode is a drift
	RatioCalm          time.Time // last reading whose smoothed ratio sat at the typical one
	RatioEnd           time.Time // when the last episode ended
	RatioFrom          float64   // typical A/B ratio when the episode began

	// level
	LevelBase, LevelN float64 // ln(1+PM) smoothed over baselineTau
	LastLevel         float64 // last accepted PM2.5, NaN when none
	LastLogLevel      float64 // ln(1 + LastLevel)
	SpikeRun          int
	SpikeStart        time.Time
	AirHigh           bool // this sensor's air is high now (for its neighbours)
	AirAt             time.Time

	// episode: the reason of the last flagged reading and when it began
	EpReason Reason
	EpSince  time.Time
	EpLast   time.Time

	// position
	Lat, Lon float64
	Placed   bool
}

// finding is one check's verdict on a reading.
type finding struct {
	reason Reason
	score  float64
	since  time.Time
	detail func() string // built only for a flagged reading
}

// alphas caches the smoothing weights of the last report interval: a sensor reports at a steady
// cadence, so the exponentials are computed once, not at every reading.
type alphas struct {
	dt, slowA, baseA float64
}

func (a *alphas) at(dt float64) {
	if dt != a.dt {
		a.dt, a.slowA, a.baseA = dt, alphaFor(dt, slowTau, 0), alphaFor(dt, baselineTau, 0)
	}
}

func (a *alphas) slow(dt float64) float64 { a.at(dt); return a.slowA }
func (a *alphas) base(dt float64) float64 { a.at(dt); return a.baseA }

// alphaFor is the smoothing weight of a reading dt after the previous one for time constant tau,
// never less than 1/n so that the first readings set the level.
func alphaFor(dt float64, tau time.Duration, n float64) float64 {
	a := 1 - math.Exp(-dt/tau.Seconds())
	if n > 0 && 1/n > a {
		a = 1 / n
	}
	return a
}

// channels reads the particle fields, returning an out_of_range finding for a channel beyond the
// counter's range (and leaving it out of the level).
func (s *sensor) channels(r *Reading) (c chans, bad *finding) {
	c.a, c.b = math.NaN(), math.NaN()
	c.level, c.epaInput = math.NaN(), math.NaN()
	c.agree = true
	for i, v := range [2]float64{r.A, r.B} {
		f, name := FieldA, "A"
		if i == 1 {
			f, name = FieldB, "B"
		}
		if !valid(r.Carried, f, v) {
			continue
		}
		if v < 0 || v > channelMax {
			if bad == nil {
				v := v
				bad = &finding{reason: ReasonOutOfRange, score: 1, detail: func() string {
					return fmt.Sprintf("channel %s reads %.0f µg/m³, outside the counter's range 0–1,000", name, v)
				}}
			}
			continue
		}
		if i == 0 {
			c.a = v
		} else {
			c.b = v
		}
	}
	switch {
	case !math.IsNaN(c.a) && !math.IsNaN(c.b):
		c.haveAB = true
		c.level = (c.a + c.b) / 2
		c.logRatio = math.Log((c.a + ratioOffset) / (c.b + ratioOffset))
		c.agree, c.absDiff, c.relDiff = epaAgree(c.a, c.b)
		if c.agree {
			c.epaInput = c.level
		}
	case !math.IsNaN(c.a):
		c.level = c.a
	case !math.IsNaN(c.b):
		c.level = c.b
	case valid(r.Carried, FieldCF1, r.CF1) && r.Carried&(FieldA|FieldB) == 0:
		if r.CF1 < 0 || r.CF1 > channelMax {
			if bad == nil {
				v := r.CF1
				bad = &finding{reason: ReasonOutOfRange, score: 1, detail: func() string {
					return fmt.Sprintf("pm2.5_cf_1 reads %.0f µg/m³, outside the counter's range 0–1,000", v)
				}}
			}
		} else {
			c.level, c.epaInput = r.CF1, r.CF1
		}
	}
	c.logLevel = math.Log1p(c.level) // NaN stays NaN
	return c, bad
}

// environment checks humidity, temperature and pressure against what the BME280 can report.
func environment(r *Reading) *finding {
	type check struct {
		f        Fields
		v        float64
		lo, hi   float64
		name, fm string
	}
	for _, c := range [...]check{
		{FieldHumidity, r.Humidity, humidityMin, humidityMax, "humidity", "humidity reads %g %%, outside 0–100 %% (the environment sensor's read failed)"},
		{FieldTemperature, r.Temperature, tempMin, tempMax, "temperature", "temperature reads %g °F, outside −40–185 °F"},
		{FieldPressure, r.Pressure, pressMin, pressMax, "pressure", "pressure reads %g hPa, outside 300–1,100 hPa"},
	} {
		if valid(r.Carried, c.f, c.v) && (c.v < c.lo || c.v > c.hi) {
			c := c
			return &finding{reason: ReasonOutOfRange, score: 1, detail: func() string { return fmt.Sprintf(c.fm, c.v) }}
		}
	}
	return nil
}

// missing reports a field group that this sensor has reported before and is null now.
func (s *sensor) missing(r *Reading) *finding {
	var gone []string
	null := func(f Fields, v float64) bool { return r.Carried&f != 0 && s.Reported&f != 0 && math.IsNaN(v) }
	nullA, nullB := null(FieldA, r.A), null(FieldB, r.B)
	switch {
	case nullA && nullB:
		gone = append(gone, "both laser channels")
	case nullA:
		gone = append(gone, "channel A")
	case nullB:
		gone = append(gone, "channel B")
	case r.Carried&(FieldA|FieldB) == 0 && null(FieldCF1, r.CF1):
		gone = append(gone, "pm2.5_cf_1")
	}
	nullH, nullT, nullP := null(FieldHumidity, r.Humidity), null(FieldTemperature, r.Temperature), null(FieldPressure, r.Pressure)
	if nullH || nullT || nullP {
		gone = append(gone, "the environment sensor")
	}
	if len(gone) == 0 {
		return nil
	}
	score := 0.9
	return &finding{reason: ReasonMissing, score: score, detail: func() string {
		if len(gone) == 2 {
			return fmt.Sprintf("%s and %s report nothing", gone[0], gone[1])
		}
		return gone[0] + " reports nothing"
	}}
}

// stale reports a reading that brings no new data, or the first after a gap.
func (s *sensor) stale(r *Reading) *finding {
	if r.Time.IsZero() || s.PrevTime.IsZero() {
		return nil
	}
	cad := time.Duration(s.Cadence * float64(time.Second))
	if !r.LastSeen.IsZero() {
		if !s.PrevLastSeen.IsZero() && !r.LastSeen.After(s.PrevLastSeen) && r.Time.After(s.PrevTime) {
			seen := r.LastSeen
			return &finding{reason: ReasonStale, score: 0.9, detail: func() string {
				return fmt.Sprintf("no new data since %s (last_seen not advancing)", seen.UTC().Format("2006-01-02 15:04 MST"))
			}}
		}
		if lag := r.Time.Sub(r.LastSeen); lag > max(lagCadences*cad, lagMin) {
			return &finding{reason: ReasonStale, score: 0.9, detail: func() string {
				return fmt.Sprintf("last report %s before this reading", roundDur(lag))
			}}
		}
	}
	if r.LastSeen.IsZero() && r.Time.Equal(s.PrevTime) {
		return &finding{reason: ReasonStale, score: 0.9, detail: func() string {
			return "the same reading time again (no new report)"
		}}
	}
	if gap := r.Time.Sub(s.PrevTime); s.Cadence > 0 && gap > max(gapCadences*cad, gapMin) {
		return &finding{reason: ReasonStale, score: 0.9, detail: func() string {
			return fmt.Sprintf("first reading after %s without data", roundDur(gap))
		}}
	}
	return nil
}

// flatline counts repeats of the previous reading's values and reports a run long enough.
func (s *sensor) flatline(r *Reading) *finding {
	if !s.PrevValid {
		return nil
	}
	p := &s.Prev
	compared, equal := 0, true
	pmZero := true
	for _, fv := range [...]struct {
		f    Fields
		v, w float64
		pm   bool
	}{
		{FieldA, r.A, p.A, true}, {FieldB, r.B, p.B, true}, {FieldCF1, r.CF1, p.CF1, true},
		{FieldHumidity, r.Humidity, p.Humidity, false}, {FieldTemperature, r.Temperature, p.Temperature, false},
		{FieldPressure, r.Pressure, p.Pressure, false},
	} {
		if !valid(r.Carried, fv.f, fv.v) || !valid(p.Carried, fv.f, fv.w) {
			continue
		}
		compared++
		equal = equal && fv.v == fv.w
		if fv.pm && fv.v != 0 {
			pmZero = false
		}
	}
	// Clean air: both channels at 0.0 stay there, and so may everything else on a still night.
	if compared >= 2 && equal && !pmZero {
		if s.RunAll == 0 {
			s.RunStart = r.Time
		}
		s.RunAll++
	} else {
		s.RunAll = 0
	}
	// One channel stuck while the other moves (Mazama's "magic number" and "channel is zero").
	single := func(f Fields, v, w, other, otherPrev float64, run *int, start *time.Time) {
		moving := !math.IsNaN(other) && !math.IsNaN(otherPrev) && other != otherPrev && other > 1
		if valid(r.Carried, f, v) && valid(p.Carried, f, w) && v == w && moving {
			if *run == 0 {
				*start = r.Time
			}
			*run++
		} else {
			*run = 0
		}
	}
	single(FieldA, r.A, p.A, r.B, p.B, &s.RunA, &s.RunAStart)
	single(FieldB, r.B, p.B, r.A, p.A, &s.RunB, &s.RunBStart)

	switch {
	case s.RunAll >= flatlineRepeats:
		n, since, now := s.RunAll, s.RunStart, r.Time
		return &finding{reason: ReasonFlatline, score: 0.95, since: since, detail: func() string {
			return fmt.Sprintf("the same readings %d times in a row for %s", n+1, roundDur(now.Sub(since)))
		}}
	case s.RunA >= flatlineRepeatsSingle || s.RunB >= flatlineRepeatsSingle:
		name, n, since, v := "A", s.RunA, s.RunAStart, r.A
		if s.RunB > s.RunA {
			name, n, since, v = "B", s.RunB, s.RunBStart, r.B
		}
		return &finding{reason: ReasonFlatline, score: 0.9, since: since, detail: func() string {
			return fmt.Sprintf("channel %s stuck at %g µg/m³, %d readings in a row", name, v, n+1)
		}}
	}
	return nil
}

// ratio updates the channel-ratio statistics and reports a divergence or drift; c has both
// channels valid.
func (s *sensor) ratio(r *Reading, c *chans, dt float64) *finding {
	z := c.logRatio - s.RatioBase
	if c.level < ratioMinLevel {
		// In clean air the channels' counts are a few particles: their ratio is noise. EPA's rule
		// (5 µg/m³ apart at least) still speaks.
		if c.agree {
			return nil
		}
	} else {
		s.CusumUp = min(cusumCap, max(0, s.CusumUp+z-cusumK))
		s.CusumDown = min(cusumCap, max(0, s.CusumDown-z-cusumK))
		if s.RatioReadings == 0 {
			s.ZFast, s.ZSlow = z, z
		} else {
			s.ZFast += fastAlpha * (z - s.ZFast)
			s.ZSlow += s.alpha.slow(dt) * (z - s.ZSlow)
		}
		s.RatioReadings++
	}
	// Two ways to depart: an abrupt one (the CUSUM over the allowance, and this reading well off
	// the typical ratio) and a slow one (the hour-smoothed departure beyond the allowance, the
	// last readings too, on the same side), which finds a drift before it is large.
	// Either way only while the channels disagree with each other too: a sensor whose channels
	// came back together after it began broken is sound, whatever ratio it first taught us.
	apart := math.Abs(z+s.RatioBase) > cusumK
	abrupt := apart && (s.CusumUp >= cusumH || s.CusumDown >= cusumH) && math.Abs(z) > 2*cusumK
	slow := apart && s.RatioLearned >= ratioLearn && math.Abs(s.ZSlow) > slowK && math.Abs(s.ZFast) > slowK &&
		s.ZSlow*s.ZFast > 0 && s.ZSlow*z > 0
	if c.agree && !abrupt && !slow {
		// An episode ends after ratioQuiet readings in agreement, so that one reading of noise
		// inside it does not start a new one.
		if s.RatioQuiet++; s.RatioQuiet >= ratioQuiet && s.RatioOn {
			s.RatioOn, s.RatioEnd = false, r.Time
		}
		if math.Abs(s.ZSlow) < cusumK/3 {
			s.RatioCalm = r.Time
		}
		return nil
	}
	if !s.RatioOn {
		// One episode, one call. A drift crept up: the hour-smoothed ratio had been leaving the
		// typical one for a while (driftLead) before the episode opened, while the channels still
		// passed EPA's rule; a divergence jumped. An episode that reopens within slowTau of its end
		// is the same one (noise dips in and out of it).
		s.RatioOn = true
		if s.RatioEnd.IsZero() || r.Time.Sub(s.RatioEnd) > slowTau {
			s.RatioStart = r.Time
			s.RatioDrift = c.agree && !s.RatioCalm.IsZero() && r.Time.Sub(s.RatioCalm) >= driftLead
			if s.RatioDrift {
				s.RatioStart = s.RatioCalm
			}
			s.RatioFrom = math.Exp(s.RatioBase)
		}
	}
	s.RatioQuiet = 0
	reason, score := ReasonABDivergence, 0.75+0.2*min(1, math.Abs(z))
	if !c.agree {
		score = 0.95
	}
	if s.RatioDrift {
		reason = ReasonDrift
	}
	since := s.RatioStart
	a, b, from, now := c.a, c.b, s.RatioFrom, r.Time
	return &finding{reason: reason, score: score, since: since, detail: func() string {
		hi, lo, k := "A", "B", a/b
		if b > a {
			hi, lo, k = "B", "A", b/a
		}
		if reason == ReasonDrift {
			return fmt.Sprintf("channel A/B ratio drifted from %.2f to %.2f%s", from, a/b, lasting(" over ", now.Sub(since)))
		}
		if math.IsInf(k, 0) {
			return fmt.Sprintf("channel %s reads %.1f µg/m³, channel %s 0%s", hi, max(a, b), lo, lasting(", for ", now.Sub(since)))
		}
		return fmt.Sprintf("channel %s reads %.1f× channel %s%s", hi, k, lo, lasting(" for ", now.Sub(since)))
	}}
}

// learnRatio moves the typical ratio towards an accepted reading's. The first ratioLearn readings
// set it (a sensor's two counters can differ by a fixed factor from the start: that is its normal);
// after them it moves only as a day of readings insists, and not while the smoothed ratio is away
// from it, so that a drift never becomes the norm.
func (s *sensor) learnRatio(c *chans, dt float64) {
	if !c.haveAB || !c.agree || c.level < ratioMinLevel {
		return
	}
	z := c.logRatio - s.RatioBase
	if s.RatioLearned < ratioLearn {
		s.RatioLearned++
		s.RatioBase += z / float64(s.RatioLearned)
	} else if math.Abs(z) <= 2*cusumK && math.Abs(s.ZSlow) <= cusumK || math.Abs(z+s.RatioBase) <= cusumK {
		// (or, whatever the smoothed ratio, when the channels agree with each other)
		s.RatioBase += s.alpha.base(dt) * z
	}
	s.RatioBase = max(-ratioBaseMax, min(ratioBaseMax, s.RatioBase))
}

// lasting is how long an episode has lasted, after sep, or nothing on its first reading.
func lasting(sep string, d time.Duration) string {
	if d < time.Minute {
		return ""
	}
	return sep + roundDur(d)
}

func roundDur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < 2*time.Hour:
		return fmt.Sprintf("%d min", int(d.Round(time.Minute)/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
	return fmt.Sprintf("%.1f days", d.Hours()/24)
}
