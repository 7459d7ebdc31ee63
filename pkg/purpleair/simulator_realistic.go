package purpleair

import (
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// The realistic profile shapes faults after the failures documented for real PurpleAir sensors
// (Mazama Science's "PurpleAir Failure Modes" among them) rather than after what is easy to
// detect, and adds smoke: air that is really bad, over several sensors at once, which a detector
// must not call a fault.
//
//	kind           what the sensor reports                                    lasts
//	spike          one channel at 200–3,000 µg/m³, the other normal            1–3 readings
//	stuck_high     one channel saturated at 4,850–5,000 µg/m³                  10 min – 2 h
//	flatline       every measurement repeats the last report                    20 min – 4 h
//	dropout        environment, particle or all fields null                     2 min – 1 h
//	ab_divergence  one channel noisy (×e^N(0, 0.3)) and 1.5–4× or 0.2–0.6× the   2 – 12 h
//	               other
//	drift          one channel's gain moving linearly to 1.6–3× or 0.3–0.6×     6 – 24 h
//	env_sentinel   humidity 255 %, temperature −224 °F (the BME280's failed      30 min – 6 h
//	               read); particles normal
//	disconnect     the API serves the last row again, last_seen frozen          20 min – 4 h
//
// Lengths are drawn uniformly in steps between the bounds (at least one step). A fault ends
// where it ends: a drifted channel is back to its gain on the next reading, as if recalibrated,
// because the label must end somewhere.
//
// The clean signal differs from the basic profile's in two cheap ways: channel noise grows with
// the concentration (sd 0.2 µg/m³ + 7 %), and at night in clean air (local 0–6 h, PM2.5 below
// 5 µg/m³) both counters now and then read 0 (the cleaner, the likelier: up to 40 %), as Plantower
// counters do when they count nothing.
//
// What it cannot show: real faults come and go (a failing laser is intermittent over weeks), a
// channel's noise is not Gaussian, humidity affects the counters, sensors differ in firmware and
// in how the API rounds; the smoke is one smooth plume, not the patchy, wind-driven thing it is;
// and every label is exact, which no real data set has.

// Profiles of SimulatorConfig.Profile.
const (
	ProfileBasic     = "basic"
	ProfileRealistic = "realistic"
)

// Profiles lists the profiles, default first.
var Profiles = []string{ProfileBasic, ProfileRealistic}

// The BME280's failed-read values as the API reports them: humidity 255 %, and a temperature
// near the −142 °C (−224 °F) a zeroed raw reading converts to.
const (
	envSentinelHumidity    = 255
	envSentinelTemperature = -224
)

// SmokeLabelMin is the PM2.5 (CF=1, µg/m³) a smoke plume must add to a reading for it to be
// labelled smoke: below it the plume's edge is within the ordinary variation.
const SmokeLabelMin = 5.0

// realisticFaultLen is the range of an episode's length in steps of step.
func realisticFaultLen(k FaultKind, step time.Duration) (lo, hi int) {
	steps := func(d time.Duration) int { return max(1, int(d/step)) }
	switch k {
	case FaultSpike:
		return 1, 3
	case FaultStuckHigh:
		return steps(10 * time.Minute), steps(2 * time.Hour)
	case FaultFlatline, FaultDisconnect:
		return steps(20 * time.Minute), steps(4 * time.Hour)
	case FaultDropout:
		return steps(2 * time.Minute), steps(time.Hour)
	case FaultABDivergence:
		return steps(2 * time.Hour), steps(12 * time.Hour)
	case FaultDrift:
		return steps(6 * time.Hour), steps(24 * time.Hour)
	case FaultEnvSentinel:
		return steps(30 * time.Minute), steps(6 * time.Hour)
	}
	return 1, 1
}

func (ss *simSensor) startRealisticFault(k FaultKind, step time.Duration) {
	f := ss.flt
	ss.fault = k
	ss.faultChan = f.IntN(2)
	lo, hi := realisticFaultLen(k, step)
	ss.faultLen = lo + f.IntN(hi-lo+1)
	switch k {
	case FaultDropout:
		ss.dropGroup = f.IntN(3)
	case FaultABDivergence:
		if f.IntN(2) == 0 {
			ss.faultParam = 0.2 + 0.4*f.Float64()
		} else {
			ss.faultParam = 1.5 + 2.5*f.Float64()
		}
	case FaultDrift: // the gain's final value
		if f.IntN(2) == 0 {
			ss.faultParam = 0.3 + 0.3*f.Float64()
		} else {
			ss.faultParam = 1.6 + 1.4*f.Float64()
		}
	}
	ss.faultLeft = ss.faultLen
}

// realisticChannelFault applies the laser-channel faults; the others act on the reported cells.
func (ss *simSensor) realisticChannelFault(k FaultKind, progress float64, chans [2]*float64) {
	f := ss.flt
	c := chans[ss.faultChan]
	switch k {
	case FaultSpike:
		*c = 200 * math.Pow(15, f.Float64())
	case FaultStuckHigh:
		*c = 4850 + 150*f.Float64()
	case FaultABDivergence:
		*c *= ss.faultParam * math.Exp(0.3*f.NormFloat64())
	case FaultDrift:
		*c *= 1 + (ss.faultParam-1)*progress
	}
}

// realisticChannels draws the two laser channels from the true PM2.5: noise proportional to the
// concentration, and clean-air zeros at night. It draws the same numbers from r whatever the
// outcome, so the signal stream stays aligned.
func realisticChannels(ss *simSensor, pm, hour float64, r *rand.Rand) (a, b float64) {
	a = math.Max(0, pm*ss.gainA+r.NormFloat64()*(0.2+0.07*pm))
	b = math.Max(0, pm*ss.gainB+r.NormFloat64()*(0.2+0.07*pm))
	if u := r.Float64(); hour < 6 && pm < 5 && u < 0.4*(1-pm/5) {
		return 0, 0
	}
	return a, b
}

// smokeEpisode is one plume: a centre, the sensors it reaches with their share of its peak and
// the delay of its arrival, and its time course.
type smokeEpisode struct {
	start    time.Time
	duration time.Duration // at the centre; each sensor's is shortened by its delay
	peak     float64       // µg/m³ added at the centre at the plateau
	reach    map[int]smokeReach
}

type smokeReach struct {
	share float64       // of the peak, 0.4 at the plume's edge to 1 at its centre
	delay time.Duration // the front's arrival after the start
}

// planSmoke places cfg.SmokeEpisodes plumes from their own random stream, so smoke never moves a
// fault or a clean reading's noise. Episode k falls in the k-th equal slot of SmokeWithin and
// lasts 4–10 h (at most 90 % of its slot); it covers the third of the fleet nearest its centre (at
// least 3 sensors when the fleet has them), rising smoothly to 50–300 µg/m³ at the centre.
func planSmoke(cfg SimulatorConfig, sensors []simSensor) []smokeEpisode {
	if cfg.SmokeEpisodes <= 0 || len(sensors) == 0 {
		return nil
	}
	r := rand.New(rand.NewPCG(uint64(cfg.Seed)^0x736d6f6b65, 0x706c756d65))
	slot := cfg.SmokeWithin / time.Duration(cfg.SmokeEpisodes)
	box := cfg.Region
	out := make([]smokeEpisode, cfg.SmokeEpisodes)
	for k := range out {
		e := &out[k]
		e.duration = min(time.Duration(float64(4*time.Hour)+r.Float64()*float64(6*time.Hour)), slot*9/10)
		e.start = cfg.Start.Add(time.Duration(k)*slot + time.Duration(r.Float64()*float64(slot-e.duration)))
		e.peak = 50 + 250*r.Float64()
		clat := box.SELat + r.Float64()*(box.NWLat-box.SELat)
		clon := box.NWLng + r.Float64()*(box.SELng-box.NWLng)
		dist := make([]float64, len(sensors))
		order := make([]int, len(sensors))
		for i := range sensors {
			dist[i] = haversineKm(clat, clon, sensors[i].lat, sensors[i].lon)
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int {
			switch {
			case dist[a] < dist[b]:
				return -1
			case dist[a] > dist[b]:
				return 1
			}
			return 0
		})
		n := min(len(sensors), max(3, (len(sensors)+2)/3))
		radius := max(dist[order[n-1]], 1e-9)
		e.reach = make(map[int]smokeReach, n)
		for _, i := range order[:n] {
			x := dist[i] / radius
			e.reach[i] = smokeReach{share: 1 - 0.6*x*x, delay: time.Duration(x * 0.15 * float64(e.duration))}
		}
	}
	return out
}

// smokeAt is the PM2.5 the plumes add at sensor ss at t (before an indoor sensor's attenuation),
// and the humidity (percentage points) the drier smoky air takes away.
func (s *Simulator) smokeAt(ss *simSensor, t time.Time) (pm, dry float64) {
	i := int(ss.index - s.cfg.FirstSensorIndex)
	for _, e := range s.smoke {
		rc, ok := e.reach[i]
		if !ok {
			continue
		}
		// Each sensor sees the plume from its front's arrival until the plume clears everywhere
		// at once (the wind turns).
		from := e.start.Add(rc.delay)
		span := e.duration - rc.delay
		if t.Before(from) || !t.Before(from.Add(span)) {
			continue
		}
		p := float64(t.Sub(from)) / float64(span)
		shape := smoothstep(p/0.25) * smoothstep((1-p)/0.35)
		// The sensor's own fluctuation (localAR) makes the plume patchy in the same way on both
		// channels.
		pm += e.peak * rc.share * shape * math.Exp(ss.localAR)
		dry += 6 * rc.share * shape
	}
	return pm, dry
}

func smoothstep(x float64) float64 {
	x = math.Min(1, math.Max(0, x))
	return x * x * (3 - 2*x)
}

// haversineKm is the great-circle distance between two points in degrees.
func haversineKm(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	dlat, dlon := (lat2-lat1)*rad, (lon2-lon1)*rad
	a := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(lat1*rad)*math.Cos(lat2*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * 6371 * math.Asin(math.Min(1, math.Sqrt(a)))
}
