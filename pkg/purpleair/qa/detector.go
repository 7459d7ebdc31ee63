package qa

import (
	"errors"
	"fmt"
	"math"

	"github.com/hazewatch/hazewatch/pkg/anomaly/hst"
)

// The learned score's features, per sensor: the PM2.5 level as ln(1+µg/m³), its change since the
// last accepted reading, and the channels' log ratio against the sensor's typical ratio. Fixed
// ranges make one set of trees serve every sensor.
const (
	featureChange = "change"
	featureLevel  = "level"
	featureRatio  = "ratio"
)

var learnedFeatures = []string{featureChange, featureLevel, featureRatio}

var learnedLimits = map[string][2]float64{
	featureChange: {-3, 3},
	featureLevel:  {0, 7}, // ln(1+1000) ≈ 6.9: the counter's range
	featureRatio:  {-2, 2},
}

// River's HalfSpaceTrees defaults, as in the reference streaming flow.
const (
	learnedTrees  = 10
	learnedHeight = 8
	learnedSeed   = 42
)

// Detector judges the readings of a fleet, one at a time, in time order. Not safe for concurrent
// use.
type Detector struct {
	opt     Options
	hst     *hst.Model
	sensors map[string]*sensor
	placed  []*sensor
	high    int // sensors whose air is high now, for a fleet without positions
	x, xr   []float64
}

// New returns a Detector; a bad option is an *OptionError.
func New(opt Options) (*Detector, error) {
	if err := opt.validate(); err != nil {
		return nil, err
	}
	model, err := hst.New(learnedFeatures, hst.Options{
		Trees: learnedTrees, Height: learnedHeight, WindowSize: opt.WindowSize, Limits: learnedLimits, Seed: learnedSeed,
	})
	var oe *hst.OptionError
	if errors.As(err, &oe) && oe.Option == "WindowSize" { // the one option passed through; hst checks it
		return nil, &OptionError{"WindowSize", oe.Msg}
	}
	if err != nil {
		return nil, fmt.Errorf("qa: learned model: %w", err)
	}
	return &Detector{opt: opt, hst: model, sensors: make(map[string]*sensor),
		x: make([]float64, len(learnedFeatures)), xr: make([]float64, len(learnedFeatures))}, nil
}

// Options returns the options the Detector was made with.
func (d *Detector) Options() Options { return d.opt }

// Sensors is the number of sensors the Detector holds state for.
func (d *Detector) Sensors() int { return len(d.sensors) }

// Forget drops a sensor's state (a caller bounding memory evicts with it).
func (d *Detector) Forget(key string) {
	s, ok := d.sensors[key]
	if !ok {
		return
	}
	delete(d.sensors, key)
	if s.AirHigh {
		d.high--
	}
	if s.Placed {
		for i, p := range d.placed {
			if p == s {
				d.placed = append(d.placed[:i], d.placed[i+1:]...)
				break
			}
		}
		for _, p := range d.placed {
			for i, q := range p.neighbours {
				if q == s {
					p.neighbours = append(p.neighbours[:i], p.neighbours[i+1:]...)
					break
				}
			}
		}
	}
}

func (d *Detector) sensor(key string, r *Reading) *sensor {
	s, ok := d.sensors[key]
	if !ok {
		s = &sensor{key: key, hst: d.hst.NewState()}
		s.LastLevel, s.LastLogLevel = math.NaN(), math.NaN()
		d.sensors[key] = s
	}
	if !s.Placed && !math.IsNaN(r.Lat) && !math.IsNaN(r.Lon) {
		d.place(s, r.Lat, r.Lon)
	}
	return s
}

// Observe judges one reading of the sensor named key and learns from it (score, then learn, as
// the reference streaming flow). Readings of each sensor must come in time order.
func (d *Detector) Observe(key string, r Reading) Result {
	s := d.sensor(key, &r)
	res := Result{EPA: math.NaN()}

	dt := 0.0
	if !r.Time.IsZero() && !s.PrevTime.IsZero() {
		dt = r.Time.Sub(s.PrevTime).Seconds()
	}
	c, sensorFinding := s.check(&r, dt)

	// The learned score, on the sensor's features. Score, then learn from what is sound, in one
	// walk of the trees (the checks above do not read the learned score).
	level := d.features(s, &c)
	res.Warmup = !s.hst.Warm()
	var learned float64
	if sensorFinding == nil {
		learned = d.hst.ScoreLearn(s.hst, d.x)
	} else {
		learned = d.hst.Score(s.hst, d.x)
	}

	var air *finding
	if sensorFinding == nil {
		air = d.air(s, &r, &c, learned)
		if air != nil && air.reason == ReasonSpike {
			sensorFinding, air = air, nil
		}
	}

	switch {
	case sensorFinding != nil:
		res.Kind, res.Reason, res.Score = KindSensor, sensorFinding.reason, max(sensorFinding.score, d.opt.Threshold)
		d.episode(s, &r, &res, sensorFinding)
	case air != nil:
		res.Kind, res.Reason, res.Score = KindAir, ReasonAir, max(air.score, d.opt.Threshold)
		res.Feature = d.attribute(s, learned)
		d.episode(s, &r, &res, air)
	default:
		// A learned score that no check backs stays below the threshold, so that anomaly means
		// score ≥ threshold everywhere.
		res.Score = min(learned, math.Nextafter(d.opt.Threshold, 0))
		s.EpReason = ReasonNone
	}
	res.Anomaly = res.Kind != KindNone

	// EPA-corrected PM2.5 of a reading whose channels are sound (in range and agreeing) and new.
	if sensorFinding == nil || sensorFinding.reason == ReasonMissing || sensorFinding.reason == ReasonOutOfRange {
		res.EPA = d.epa(&r, &c)
	}
	if sensorFinding == nil {
		s.learnBaseline(&c, level, dt)
	}
	// A both-channel jump counts as high air for the neighbours even while it is called a spike:
	// it is theirs to confirm.
	d.setHigh(s, &r, &c, c.agree && (sensorFinding == nil || sensorFinding.reason == ReasonSpike))
	s.remember(&r, dt)
	return res
}

// check runs the sensor checks on r and returns its channels and the finding that speaks for the
// reading (nil if none). Every check runs so that each keeps its own count; the first in Reasons'
// order speaks.
func (s *sensor) check(r *Reading, dt float64) (chans, *finding) {
	c, outOfRange := s.channels(r)
	if outOfRange == nil {
		outOfRange = environment(r)
	}
	stale := s.stale(r)
	flat := s.flatline(r)
	missing := s.missing(r)
	spike := s.spike(r, &c)
	var ratio *finding
	if c.haveAB && stale == nil && flat == nil && spike == nil {
		// A spike's channels say nothing of their usual ratio.
		ratio = s.ratio(r, &c, dt)
	}
	for _, f := range [...]*finding{outOfRange, missing, stale, flat, spike, ratio} {
		if f != nil {
			return c, f
		}
	}
	return c, nil
}

// features fills d.x with the learned model's features of this reading (change of log level,
// log level, log ratio against the typical one; NaN where unknown) and returns the log level.
func (d *Detector) features(s *sensor, c *chans) (level float64) {
	level = math.NaN()
	if !math.IsNaN(c.level) {
		level = c.logLevel
	}
	d.x[0], d.x[1], d.x[2] = math.NaN(), level, math.NaN()
	if !math.IsNaN(level) && !math.IsNaN(s.LastLevel) {
		d.x[0] = level - s.LastLogLevel
	}
	if c.haveAB {
		d.x[2] = c.logRatio - s.RatioBase
	}
	return level
}

// epa is the reading's EPA-corrected PM2.5 (NaN without a particle level), with humidity only
// when the environment sensor reads in range.
func (d *Detector) epa(r *Reading, c *chans) float64 {
	if math.IsNaN(c.epaInput) {
		return math.NaN()
	}
	rh := math.NaN()
	if valid(r.Carried, FieldHumidity, r.Humidity) && environment(r) == nil {
		rh = r.Humidity
	}
	atm := math.NaN()
	if valid(r.Carried, FieldATM, r.ATM) {
		atm = r.ATM
	}
	return d.opt.Correction.apply(c.epaInput, atm, rh)
}

// learnBaseline learns the typical ratio and level from a sound reading (the learned model has
// learned it already).
func (s *sensor) learnBaseline(c *chans, level, dt float64) {
	s.learnRatio(c, dt)
	if math.IsNaN(level) {
		return
	}
	s.LevelN++
	a := s.alpha.base(dt)
	if 1/s.LevelN > a {
		a = 1 / s.LevelN // the first readings set the level
	}
	s.LevelBase += a * (level - s.LevelBase)
	s.LastLevel, s.LastLogLevel = c.level, c.logLevel
}

// remember keeps what the next reading is compared with.
func (s *sensor) remember(r *Reading, dt float64) {
	s.N++
	for _, f := range [...]struct {
		f Fields
		v float64
	}{{FieldA, r.A}, {FieldB, r.B}, {FieldCF1, r.CF1}, {FieldHumidity, r.Humidity}, {FieldTemperature, r.Temperature}, {FieldPressure, r.Pressure}, {FieldATM, r.ATM}} {
		if valid(r.Carried, f.f, f.v) {
			s.Reported |= f.f
		}
	}
	if dt > 0 {
		// The usual cadence ignores gaps: a report interval more than 3× the usual one is a gap.
		if s.Cadence == 0 {
			s.Cadence = dt
		} else if dt < 3*s.Cadence {
			s.Cadence += 0.1 * (dt - s.Cadence)
		}
	}
	if !r.Time.IsZero() {
		s.PrevTime = r.Time
	}
	if !r.LastSeen.IsZero() {
		s.PrevLastSeen = r.LastSeen
	}
	s.Prev, s.PrevValid = *r, true
}

// spike counts the readings of a sudden jump of one or both channels, and reports one that rests
// on one channel; a jump of both is the air check's to call, as the neighbours may share it.
func (s *sensor) spike(r *Reading, c *chans) *finding {
	if math.IsNaN(s.LastLevel) || math.IsNaN(c.level) {
		s.SpikeRun = 0
		return nil
	}
	one := c.haveAB && !c.agree
	peak := c.level
	if one {
		peak = max(c.a, c.b)
	}
	if !(peak >= spikeFactor*s.LastLevel && peak-s.LastLevel >= spikeRise) {
		s.SpikeRun = 0
		return nil
	}
	if s.SpikeRun == 0 {
		s.SpikeStart = r.Time
	}
	s.SpikeRun++
	if !one || s.SpikeRun > spikeReadings || s.RatioOn {
		// Both channels: air or spike by the neighbours; a long one: a new level; inside an open
		// divergence: more of it.
		return nil
	}
	from, to := s.LastLevel, peak
	return &finding{reason: ReasonSpike, score: 0.9, since: s.SpikeStart, detail: func() string {
		return fmt.Sprintf("one channel jumped to %.0f µg/m³ from %.1f", to, from)
	}}
}

// air decides a reading whose channels agree and that no sensor check flags: unusual air when its
// level is well above the sensor's usual and the learned score (or the size of the rise) says so;
// a sudden both-channel jump that the neighbours do not share is a spike.
func (d *Detector) air(s *sensor, r *Reading, c *chans, learned float64) *finding {
	if math.IsNaN(c.level) || s.LevelN == 0 {
		return nil
	}
	rise := c.logLevel - s.LevelBase
	high := c.level >= airMin && rise >= logAirFactor
	if !high {
		return nil
	}
	usual := math.Expm1(s.LevelBase)
	shared, of, neighbours := d.shared(s, r)
	// A sudden jump of both channels is the sensor's only where neighbours are seen and do not
	// share it; alone, a sensor cannot tell a puff of smoke from a glitch, and its channels agree.
	visible := of[1] >= sharedMin
	if s.SpikeRun > 0 && s.SpikeRun <= spikeReadings && !shared && visible {
		from, to := s.LastLevel, c.level
		return &finding{reason: ReasonSpike, score: 0.9, since: s.SpikeStart, detail: func() string {
			return fmt.Sprintf("PM2.5 jumped to %.0f µg/m³ from %.1f; neighbours did not", to, from)
		}}
	}
	if !(learned >= d.opt.Threshold && s.hst.Warm()) && rise < logAirFactorAlone {
		return nil
	}
	level := c.level
	score := max(learned, d.opt.Threshold)
	return &finding{reason: ReasonAir, score: score, detail: func() string {
		t := fmt.Sprintf("PM2.5 %.0f µg/m³, %.1f× this sensor's usual %.1f", level, (level+1)/(usual+1), usual)
		switch {
		case neighbours && shared:
			return t + fmt.Sprintf("; %d of %d neighbours also high", of[0], of[1])
		case shared:
			return t + fmt.Sprintf("; %d other sensors also high", of[0])
		}
		return t + "; channels agree"
	}}
}

// episode fills Since and Detail, continuing the sensor's episode while the reason stays.
func (d *Detector) episode(s *sensor, r *Reading, res *Result, f *finding) {
	since := f.since
	if s.EpReason == f.reason && !s.EpSince.IsZero() && (since.IsZero() || s.EpSince.Before(since)) {
		since = s.EpSince
	}
	if since.IsZero() {
		since = r.Time
	}
	s.EpReason, s.EpSince, s.EpLast = f.reason, since, r.Time
	res.Since = since
	res.Detail = f.detail()
}

// attribute names the feature the learned score rests on: the one whose replacement by its typical
// value (level: the sensor's usual; change and ratio: none) lowers the score most.
func (d *Detector) attribute(s *sensor, learned float64) string {
	if !s.hst.Warm() {
		return ""
	}
	best, drop := "", 0.0
	typical := [...]float64{0, s.LevelBase, 0}
	for i, name := range learnedFeatures {
		if math.IsNaN(d.x[i]) {
			continue
		}
		copy(d.xr, d.x)
		d.xr[i] = typical[i]
		if dl := learned - d.hst.Score(s.hst, d.xr); dl > drop {
			best, drop = name, dl
		}
	}
	return best
}

// Attribute returns, for a sensor's current model, the feature whose replacement by its typical
// value lowers the learned score of x (change, level, ratio) most, and that score.
func (d *Detector) Attribute(key string, x [3]float64) (string, float64) {
	s, ok := d.sensors[key]
	if !ok {
		return "", 0
	}
	copy(d.x, x[:])
	learned := d.hst.Score(s.hst, d.x)
	return d.attribute(s, learned), learned
}

// setHigh records whether this sensor's air is high now, for its neighbours.
func (d *Detector) setHigh(s *sensor, r *Reading, c *chans, sound bool) {
	high := false
	if sound && !math.IsNaN(c.level) && s.LevelN > 0 {
		high = c.level >= airMin && c.logLevel-s.LevelBase >= logAirFactor
	}
	if high != s.AirHigh {
		if high {
			d.high++
		} else {
			d.high--
		}
		s.AirHigh = high
	}
	if high {
		s.AirAt = r.Time
	}
}

// shared reports whether the sensor's neighbours (or, without positions, the fleet) are high too;
// of is (high, counted) and neighbours whether positions were used.
func (d *Detector) shared(s *sensor, r *Reading) (shared bool, of [2]int, neighbours bool) {
	if s.Placed && len(s.neighbours) >= sharedMin {
		high, recent := 0, 0
		for _, n := range s.neighbours {
			if r.Time.Sub(n.PrevTime) > sharedWithin {
				continue
			}
			recent++
			if n.AirHigh && r.Time.Sub(n.AirAt) <= sharedWithin {
				high++
			}
		}
		return high >= sharedMin && 3*high >= recent, [2]int{high, recent}, true
	}
	others := len(d.sensors) - 1
	high := d.high
	if s.AirHigh {
		high--
	}
	return high >= sharedMin && float64(high) >= sharedFleetShare*float64(others), [2]int{high, others}, false
}

// place gives a sensor its position and neighbours, and makes it a neighbour of those it is
// among the nearest of.
func (d *Detector) place(s *sensor, lat, lon float64) {
	s.Lat, s.Lon, s.Placed = lat, lon, true
	k := d.opt.Neighbours
	for _, p := range d.placed {
		dist := distanceKm(s, p)
		s.neighbours = insertNearest(s, s.neighbours, p, dist, k)
		p.neighbours = insertNearest(p, p.neighbours, s, dist, k)
	}
	d.placed = append(d.placed, s)
}

// insertNearest keeps list the k nearest sensors to s, nearest first.
func insertNearest(s *sensor, list []*sensor, p *sensor, dist float64, k int) []*sensor {
	i := len(list)
	for i > 0 && distanceKm(s, list[i-1]) > dist {
		i--
	}
	if i >= k {
		return list
	}
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = p
	if len(list) > k {
		list = list[:k]
	}
	return list
}

// distanceKm is the equirectangular distance, ample at the scale of neighbours.
func distanceKm(a, b *sensor) float64 {
	const earthKm = 6371.0
	rad := math.Pi / 180
	x := (b.Lon - a.Lon) * rad * math.Cos((a.Lat+b.Lat)/2*rad)
	y := (b.Lat - a.Lat) * rad
	return earthKm * math.Hypot(x, y)
}
