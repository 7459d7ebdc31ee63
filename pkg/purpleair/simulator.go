package purpleair

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// FaultKind names an injected sensor fault; FaultNone labels a clean reading.
type FaultKind string

const (
	FaultNone FaultKind = "none"
	// FaultSpike: one reading with both laser channels far above the truth.
	FaultSpike FaultKind = "spike"
	// FaultStuckHigh: one laser channel saturates near 5,000 µg/m³ for a while
	// (the averaged pm fields follow, as on real sensors).
	FaultStuckHigh FaultKind = "stuck_high"
	// FaultFlatline: every measurement repeats the last reported value.
	FaultFlatline FaultKind = "flatline"
	// FaultDropout: a group of fields (environment, particles or all) is null.
	FaultDropout FaultKind = "dropout"
	// FaultABDivergence: one laser channel reads a fixed factor off the other.
	FaultABDivergence FaultKind = "ab_divergence"
	// FaultDrift: one laser channel's gain creeps away from 1 over hours.
	FaultDrift FaultKind = "drift"
	// FaultEnvSentinel (realistic profile only): the BME280 read fails and the
	// sensor reports its sentinels, humidity 255 % and temperature −224 °F.
	FaultEnvSentinel FaultKind = "env_sentinel"
	// FaultDisconnect (realistic profile only): the sensor stops reporting;
	// the API keeps serving its last row, last_seen frozen.
	FaultDisconnect FaultKind = "disconnect"
)

// FaultKinds lists the faults of the basic profile, in a fixed order: the
// kinds a fleet draws from when SimulatorConfig.Faults is nil. It never
// grows, since the draw depends on its length.
var FaultKinds = []FaultKind{FaultSpike, FaultStuckHigh, FaultFlatline, FaultDropout, FaultABDivergence, FaultDrift}

// RealisticFaultKinds lists the faults of the realistic profile (every kind),
// in a fixed order: its default draw.
var RealisticFaultKinds = []FaultKind{FaultSpike, FaultStuckHigh, FaultFlatline, FaultDropout, FaultABDivergence, FaultDrift, FaultEnvSentinel, FaultDisconnect}

// faultKindNames lists kinds for an error.
func faultKindNames(kinds []FaultKind) string {
	names := make([]string, len(kinds))
	for i, f := range kinds {
		names[i] = string(f)
	}
	return strings.Join(names, ", ")
}

// SimulatorFields are the API fields a simulated reading carries, under the
// API's names and units (temperature in °F as the sensor reports it — about
// 8 °F above ambient — pressure in hPa, PM in µg/m³, altitude in feet).
var SimulatorFields = []string{
	"sensor_index", "name", "date_created", "last_seen", "location_type",
	"latitude", "longitude", "altitude", "rssi", "uptime",
	"humidity", "temperature", "pressure",
	"pm1.0", "pm1.0_cf_1", "pm1.0_atm",
	"pm2.5", "pm2.5_cf_1", "pm2.5_atm", "pm2.5_alt", "pm2.5_cf_1_a", "pm2.5_cf_1_b",
	"pm10.0", "pm10.0_cf_1", "pm10.0_atm",
}

// Column positions in SimulatorFields.
const (
	sfSensorIndex = iota
	sfName
	sfDateCreated
	sfLastSeen
	sfLocationType
	sfLatitude
	sfLongitude
	sfAltitude
	sfRSSI
	sfUptime
	sfHumidity
	sfTemperature
	sfPressure
	sfPM1
	sfPM1CF1
	sfPM1ATM
	sfPM25
	sfPM25CF1
	sfPM25ATM
	sfPM25ALT
	sfPM25A
	sfPM25B
	sfPM10
	sfPM10CF1
	sfPM10ATM
	sfCount
)

// SimulatorConfig configures a simulated fleet. Start from DefaultSimulatorConfig and set what differs:
// NewSimulator refuses a zero where a value is needed rather than reading it as a default.
type SimulatorConfig struct {
	Sensors int   // fleet size, 1..1,000,000
	Seed    int64 // same seed and config → the same readings, bit for bit
	// Start is the time of the first step.
	Start time.Time
	// Step is the simulated time between readings, at least 1 s.
	Step time.Duration
	// FaultRate is the long-run fraction of readings that are faulty, in
	// [0, 1). Episodes start on a healthy sensor with probability
	// FaultRate / (L·(1 − FaultRate)) per step, L being the mean episode
	// length of the enabled kinds (spike 1 step, stuck_high ~32, flatline
	// ~65, dropout ~15, ab_divergence ~50, drift ~210), so that about
	// FaultRate of all readings carry a fault label.
	FaultRate float64
	// Faults restricts the injected kinds; nil: every kind the profile injects (FaultKinds, or
	// RealisticFaultKinds). Empty with a FaultRate is an error.
	Faults []FaultKind
	// FirstSensorIndex numbers the fleet from this index (at least 1).
	FirstSensorIndex int64
	// Region is where sensors are placed. Longitude sets each sensor's local solar time, which
	// drives the daily cycles: moving the region east by 15° moves the day an hour earlier.
	Region BoundingBox

	// Profile chooses how faults and noise look: ProfileBasic (what every
	// earlier release generated, bit for bit) or ProfileRealistic (faults
	// shaped and timed like the documented failures of real sensors, the two
	// extra kinds, smoke episodes; see simulator_realistic.go).
	Profile string
	// SmokeEpisodes (realistic profile only) is the number of smoke episodes
	// placed within the first SmokeWithin of the run; 0 for none.
	SmokeEpisodes int
	// SmokeWithin is the span the smoke episodes fall in, from Start. Set it
	// to the run's length so that a short run still sees its smoke.
	SmokeWithin time.Duration
}

// DefaultSimulatorRegion is the San Francisco Bay Area.
var DefaultSimulatorRegion = BoundingBox{NWLng: -122.55, NWLat: 38.05, SELng: -121.75, SELat: 37.25}

// DefaultSimulatorConfig returns the documented defaults: 50 sensors numbered from 900001 (clear of
// small real indexes) in DefaultSimulatorRegion, seed 0, a reading every 2 minutes (the API's
// real-time cadence) from 2024-04-11T00:00:00Z (fixed, so that output does not depend on when it
// runs), no faults, the basic profile, and no smoke (smoke episodes would fall within 48 hours).
func DefaultSimulatorConfig() SimulatorConfig {
	return SimulatorConfig{
		Sensors:          50,
		Start:            time.Date(2024, 4, 11, 0, 0, 0, 0, time.UTC),
		Step:             2 * time.Minute,
		FirstSensorIndex: 900001,
		Region:           DefaultSimulatorRegion,
		Profile:          ProfileBasic,
		SmokeWithin:      48 * time.Hour,
	}
}

// faults is the kinds to inject: Faults, or nil's every kind of the profile.
func (c SimulatorConfig) faults() []FaultKind {
	switch {
	case c.Faults != nil:
		return c.Faults
	case c.Profile == ProfileRealistic:
		return RealisticFaultKinds
	}
	return FaultKinds
}

// Validate reports the first option NewSimulator cannot use, as an *OptionError naming its field.
func (c SimulatorConfig) Validate() error {
	bad := func(option, format string, a ...any) error {
		return &OptionError{"SimulatorConfig", option, fmt.Sprintf(format, a...)}
	}
	switch {
	case c.Sensors < 1 || c.Sensors > 1_000_000:
		return bad("Sensors", "must be in 1..1000000, got %d", c.Sensors)
	case c.Start.IsZero():
		return bad("Start", "must be set: the zero time (0001-01-01) is no start")
	case c.Step < time.Second:
		return bad("Step", "must be at least 1s, got %s", c.Step)
	case !(c.FaultRate >= 0 && c.FaultRate < 1):
		return bad("FaultRate", "must be in [0, 1), got %v", c.FaultRate)
	case !slices.Contains(Profiles, c.Profile):
		return bad("Profile", "must be %s or %s, got %q", ProfileBasic, ProfileRealistic, c.Profile)
	case c.SmokeEpisodes < 0 || c.SmokeEpisodes > 1000:
		return bad("SmokeEpisodes", "must be in 0..1000, got %d", c.SmokeEpisodes)
	case c.SmokeEpisodes > 0 && c.Profile != ProfileRealistic:
		return bad("SmokeEpisodes", "must be 0 without the %s profile, got %d", ProfileRealistic, c.SmokeEpisodes)
	case c.SmokeWithin <= 0:
		return bad("SmokeWithin", "must be positive, got %s", c.SmokeWithin)
	case c.FaultRate > 0 && c.Faults != nil && len(c.Faults) == 0:
		return bad("Faults", "is empty but the fault rate is %v", c.FaultRate)
	case c.FirstSensorIndex < 1:
		return bad("FirstSensorIndex", "must be at least 1, got %d", c.FirstSensorIndex)
	}
	kinds := FaultKinds
	if c.Profile == ProfileRealistic {
		kinds = RealisticFaultKinds
	}
	for _, f := range c.Faults {
		switch {
		case slices.Contains(kinds, f):
		case slices.Contains(RealisticFaultKinds, f):
			return bad("Faults", "has %s, which the %s profile alone injects", f, ProfileRealistic)
		default:
			return bad("Faults", "has unknown fault kind %q (known: %s)", f, faultKindNames(kinds))
		}
	}
	if err := c.Region.Validate(); err != nil {
		return bad("Region", "is not a valid box: %v", err)
	}
	return nil
}

// Reading is one simulated sensor report: cells aligned with
// SimulatorFields, and the ground truth of what was injected.
type Reading struct {
	SensorIndex int64
	Values      []Value
	Fault       FaultKind
	// Smoke is true while a smoke episode raises this sensor's PM2.5 by at
	// least SmokeLabelMin: the air, not a fault (a fault may coincide).
	Smoke bool
}

// Simulator is a deterministic fleet of PurpleAir sensors. Each sensor has
// its own random streams — one for the physical signal, one for faults — so
// injecting faults never changes the clean readings around them: a reading
// labelled FaultNone is identical to the same reading of a fault-free fleet.
// Not safe for concurrent use.
type Simulator struct {
	cfg     SimulatorConfig
	now     time.Time
	step    int64
	fleet   *rand.Rand // shared weather and regional pollution
	sensors []simSensor

	// fleet-wide AR(1) states
	pollution, tempAnom, pressAnom float64
	// onset is the per-step probability that a healthy sensor starts a fault.
	onset float64

	realistic bool
	smoke     []smokeEpisode
}

type simSensor struct {
	sig, flt *rand.Rand
	index    int64
	name     string
	lat, lon float64
	altFeet  float64
	inside   bool
	created  int64

	basePM       float64 // median PM2.5 (CF=1) µg/m³
	gainA, gainB float64 // laser channel calibration
	ratio1, ratio10,
	altRatio float64
	tempOffset, humOffset float64
	rssi                  float64
	uptime                int64 // minutes since boot
	localAR               float64
	lastSeen              int64

	fault      FaultKind
	faultLeft  int
	faultLen   int
	faultChan  int     // 0 = A, 1 = B
	faultParam float64 // kind-specific magnitude
	dropGroup  int

	last []Value // last reported cells, for flatline and disconnect
}

// NewSimulator builds the fleet.
func NewSimulator(cfg SimulatorConfig) (*Simulator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Faults = cfg.faults()
	seed := uint64(cfg.Seed)
	s := &Simulator{
		cfg:     cfg,
		now:     cfg.Start,
		fleet:   rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		sensors: make([]simSensor, cfg.Sensors),

		realistic: cfg.Profile == ProfileRealistic,
	}
	if cfg.FaultRate > 0 {
		meanLen := 0.0
		for _, k := range cfg.Faults {
			if s.realistic {
				lo, hi := realisticFaultLen(k, cfg.Step)
				meanLen += float64(lo+hi) / 2
			} else {
				meanLen += meanFaultLen[k]
			}
		}
		meanLen /= float64(len(cfg.Faults))
		s.onset = min(1, cfg.FaultRate/(meanLen*(1-cfg.FaultRate)))
	}
	box := cfg.Region
	for i := range s.sensors {
		ss := &s.sensors[i]
		ss.sig = rand.New(rand.NewPCG(seed, uint64(2*i+1)))
		ss.flt = rand.New(rand.NewPCG(seed^0x5bd1e995, uint64(2*i+2)))
		r := ss.sig
		ss.index = cfg.FirstSensorIndex + int64(i)
		ss.name = fmt.Sprintf("hazewatch-sim-%04d", i+1)
		ss.lat = round(box.SELat+r.Float64()*(box.NWLat-box.SELat), 5)
		ss.lon = round(box.NWLng+r.Float64()*(box.SELng-box.NWLng), 5)
		ss.altFeet = math.Round(20 + r.ExpFloat64()*250)
		ss.inside = r.Float64() < 0.1
		ss.created = cfg.Start.Unix() - int64(30+r.IntN(2000))*86400 - int64(r.IntN(86400))
		ss.basePM = 3 + 9*math.Exp(r.NormFloat64()*0.5)
		ss.gainA = 1 + r.NormFloat64()*0.04
		ss.gainB = 1 + r.NormFloat64()*0.04
		ss.ratio1 = 0.62 + r.Float64()*0.12
		ss.ratio10 = 1.08 + r.Float64()*0.3
		ss.altRatio = 0.7 + r.Float64()*0.2
		ss.tempOffset = r.NormFloat64() * 2
		ss.humOffset = r.NormFloat64() * 4
		ss.rssi = -45 - r.Float64()*35
		ss.uptime = int64(r.IntN(40000))
		ss.fault = FaultNone
	}
	if s.realistic {
		s.smoke = planSmoke(cfg, s.sensors)
	}
	return s, nil
}

// Fields returns SimulatorFields (the column header of every reading).
func (s *Simulator) Fields() []string { return SimulatorFields }

// Config returns the effective configuration, defaults filled in.
func (s *Simulator) Config() SimulatorConfig { return s.cfg }

// Time is the simulated time of the next step.
func (s *Simulator) Time() time.Time { return s.now }

// Next advances the fleet by one step and returns its time and one reading
// per sensor, in sensor order. The returned slices are new on every call.
func (s *Simulator) Next() (time.Time, []Reading) {
	t := s.now
	dt := s.cfg.Step.Seconds()
	// Fleet-wide state: regional pollution (log scale, τ = 6 h), weather
	// temperature (τ = 24 h) and pressure (τ = 48 h) anomalies.
	s.pollution = ar1(s.pollution, dt, 6*3600, 0.45, s.fleet)
	s.tempAnom = ar1(s.tempAnom, dt, 24*3600, 4, s.fleet)
	s.pressAnom = ar1(s.pressAnom, dt, 48*3600, 5, s.fleet)

	out := make([]Reading, len(s.sensors))
	cells := make([]Value, len(s.sensors)*sfCount)
	for i := range s.sensors {
		v := cells[i*sfCount : (i+1)*sfCount : (i+1)*sfCount]
		out[i] = s.sensors[i].read(s, t, v)
	}
	s.now = s.now.Add(s.cfg.Step)
	s.step++
	return t, out
}

// NextResponse is Next as an API response (data_time_stamp = the step time)
// plus the per-row fault labels.
func (s *Simulator) NextResponse() (*Response, []FaultKind) {
	t, readings := s.Next()
	labels := make([]FaultKind, len(readings))
	for i, r := range readings {
		labels[i] = r.Fault
	}
	return ReadingsResponse(t, readings), labels
}

// ReadingsResponse wraps simulated readings as a /v1/sensors response.
func ReadingsResponse(t time.Time, readings []Reading) *Response {
	data := make([][]Value, len(readings))
	for i, r := range readings {
		data[i] = r.Values
	}
	return &Response{
		APIVersion:             "hazewatch-simulator",
		TimeStamp:              t.Unix(),
		DataTimeStamp:          t.Unix(),
		MaxAge:                 604800,
		FirmwareDefaultVersion: "7.04",
		LocationTypes:          []string{"outside", "inside"},
		Fields:                 SimulatorFields,
		Data:                   data,
	}
}

// ar1 steps an Ornstein–Uhlenbeck process with time constant tau and
// stationary standard deviation sd.
func ar1(x, dt, tau, sd float64, r *rand.Rand) float64 {
	phi := math.Exp(-dt / tau)
	return phi*x + sd*math.Sqrt(1-phi*phi)*r.NormFloat64()
}

func round(x float64, decimals int) float64 {
	p := math.Pow10(decimals)
	return math.Round(x*p) / p
}

// bump is a Gaussian bump in circular hour-of-day distance.
func bump(h, centre, width float64) float64 {
	d := math.Abs(h - centre)
	if d > 12 {
		d = 24 - d
	}
	return math.Exp(-d * d / (2 * width * width))
}

// cf1ToATM follows the Plantower CF=1 → ATM relation: equal at low
// concentrations, ATM ≈ 2/3 of CF=1 above ~100 µg/m³.
func cf1ToATM(cf1 float64) float64 {
	switch {
	case cf1 <= 30:
		return cf1
	case cf1 >= 100:
		return cf1 * 2 / 3
	}
	return cf1 * (1 - (cf1-30)/70/3)
}

func (ss *simSensor) read(s *Simulator, t time.Time, v []Value) Reading {
	dt := s.cfg.Step.Seconds()
	c := ss.physical(s, t, dt)
	fault := ss.faultStep(s, &c)
	ss.lastSeen = t.Unix() - c.seenLag
	ss.values(&c, v)
	switch fault {
	case FaultFlatline:
		if ss.last != nil {
			copy(v[sfHumidity:], ss.last[sfHumidity:])
		}
	case FaultDropout:
		lo, hi := dropoutGroup(ss.dropGroup)
		for c := lo; c < hi; c++ {
			v[c] = Null
		}
	case FaultEnvSentinel:
		v[sfHumidity] = Number(envSentinelHumidity)
		v[sfTemperature] = Number(envSentinelTemperature)
	case FaultDisconnect:
		copy(v, ss.last)
		ss.lastSeen = int64(v[sfLastSeen].Num)
	}
	if ss.last == nil {
		ss.last = make([]Value, sfCount)
	}
	copy(ss.last, v)
	return Reading{SensorIndex: ss.index, Values: v, Fault: fault, Smoke: c.smokePM >= SmokeLabelMin}
}

// simReading is one reading's physical signal before rounding: what the air and the unit give.
type simReading struct {
	hum, tempF, press, chanA, chanB float64
	smokePM, rssi, altNoise         float64
	seenLag                         int64
}

// physical draws the clean signal of a reading from the sensor's own stream, always in the same
// order, so that faults (drawn from another stream) leave it unchanged.
func (ss *simSensor) physical(s *Simulator, t time.Time, dt float64) simReading {
	r := ss.sig
	// Local solar hour from longitude drives the daily cycles.
	h := math.Mod(float64(t.Unix()%86400)/3600+ss.lon/15+48, 24)
	ss.localAR = ar1(ss.localAR, dt, 1800, 0.25, r)
	diurnal := 1 + 0.55*bump(h, 8, 1.5) + 0.7*bump(h, 21, 2.5) - 0.3*bump(h, 15, 3)
	pm := ss.basePM * diurnal * math.Exp(s.pollution+ss.localAR)
	tempAmbF := 58 + 10*math.Sin(2*math.Pi*(h-9)/24) + s.tempAnom + ss.tempOffset
	var c simReading
	c.hum = 62 - 2.0*(tempAmbF-58) + ss.humOffset + r.NormFloat64()*1.5
	c.tempF = tempAmbF + 8 + r.NormFloat64()*0.7
	if s.smoke != nil {
		var dry float64
		c.smokePM, dry = s.smokeAt(ss, t)
		pm += c.smokePM
		c.hum -= dry
	}
	if ss.inside {
		c.smokePM *= 0.45
		pm = 0.45*pm + 1.5
		c.tempF = 74 + 1.5*math.Sin(2*math.Pi*(h-16)/24) + ss.tempOffset/2 + r.NormFloat64()*0.4
		c.hum = 42 + ss.humOffset/2 + 3*math.Sin(2*math.Pi*(h-6)/24) + r.NormFloat64()
	}
	c.hum = math.Min(100, math.Max(5, c.hum))
	c.press = 1013.25*math.Exp(-ss.altFeet*0.3048/8434) + s.pressAnom + 0.8*math.Cos(4*math.Pi*(h-10)/24) + r.NormFloat64()*0.08
	if s.realistic {
		c.chanA, c.chanB = realisticChannels(ss, pm, h, r)
	} else {
		c.chanA = math.Max(0, pm*ss.gainA+r.NormFloat64()*(0.3+0.04*pm))
		c.chanB = math.Max(0, pm*ss.gainB+r.NormFloat64()*(0.3+0.04*pm))
	}
	c.rssi = math.Round(ss.rssi + r.NormFloat64()*2)
	c.seenLag = r.Int64N(int64(max(1, dt/2)))
	c.altNoise = r.NormFloat64() * 0.2
	ss.uptime += int64(dt / 60)
	if r.Float64() < 1.0/20000 { // an occasional reboot
		ss.uptime = 0
	}
	return c
}

// faultStep starts, continues or ends the sensor's fault (from its own stream) and applies it to
// the channels; the faults that act on the reported values are applied in read.
func (ss *simSensor) faultStep(s *Simulator, c *simReading) FaultKind {
	f := ss.flt
	if ss.faultLeft == 0 {
		ss.fault = FaultNone
		// No fault on a sensor's first reading: a flatline needs a previous one.
		if s.onset > 0 && ss.last != nil && f.Float64() < s.onset {
			k := s.cfg.Faults[f.IntN(len(s.cfg.Faults))]
			if s.realistic {
				ss.startRealisticFault(k, s.cfg.Step)
			} else {
				ss.startFault(k)
			}
		}
	}
	fault := ss.fault
	progress := 0.0
	if fault != FaultNone {
		progress = float64(ss.faultLen-ss.faultLeft+1) / float64(ss.faultLen)
		ss.faultLeft--
	}
	chans := [2]*float64{&c.chanA, &c.chanB}
	switch {
	case s.realistic:
		ss.realisticChannelFault(fault, progress, chans)
	case fault == FaultSpike:
		c.chanA = c.chanA*ss.faultParam + 40 + 60*f.Float64()
		c.chanB = c.chanB*ss.faultParam + 40 + 60*f.Float64()
	case fault == FaultStuckHigh:
		*chans[ss.faultChan] = 4850 + 150*f.Float64()
	case fault == FaultABDivergence:
		*chans[ss.faultChan] *= ss.faultParam
	case fault == FaultDrift:
		*chans[ss.faultChan] *= 1 + ss.faultParam*progress
	}
	return fault
}

// values writes the reading's fields into v, derived and rounded as the API reports them.
func (ss *simSensor) values(c *simReading, v []Value) {
	cf1 := (c.chanA + c.chanB) / 2
	atm := cf1ToATM(cf1)
	atmRatio := 1.0
	if cf1 > 0 {
		atmRatio = atm / cf1
	}
	pm1cf, pm10cf := cf1*ss.ratio1, cf1*ss.ratio10
	loc := LocationOutside
	if ss.inside {
		loc = LocationInside
	}
	v[sfSensorIndex] = Number(float64(ss.index))
	v[sfName] = String(ss.name)
	v[sfDateCreated] = Number(float64(ss.created))
	v[sfLastSeen] = Number(float64(ss.lastSeen))
	v[sfLocationType] = Number(float64(loc))
	v[sfLatitude] = Number(ss.lat)
	v[sfLongitude] = Number(ss.lon)
	v[sfAltitude] = Number(ss.altFeet)
	v[sfRSSI] = Number(c.rssi)
	v[sfUptime] = Number(float64(ss.uptime))
	v[sfHumidity] = Number(math.Round(c.hum))
	v[sfTemperature] = Number(math.Round(c.tempF))
	v[sfPressure] = Number(round(c.press, 2))
	v[sfPM1CF1] = Number(round(pm1cf, 1))
	v[sfPM1ATM] = Number(round(pm1cf*atmRatio, 1))
	v[sfPM25CF1] = Number(round(cf1, 1))
	v[sfPM25ATM] = Number(round(atm, 1))
	v[sfPM25ALT] = Number(round(math.Max(0, cf1*ss.altRatio+c.altNoise), 1))
	v[sfPM25A] = Number(round(c.chanA, 3))
	v[sfPM25B] = Number(round(c.chanB, 3))
	v[sfPM10CF1] = Number(round(pm10cf, 1))
	v[sfPM10ATM] = Number(round(pm10cf*atmRatio, 1))
	// pm1.0 / pm2.5 / pm10.0 are ATM outside and CF=1 inside, as the API defines them.
	if ss.inside {
		v[sfPM1], v[sfPM25], v[sfPM10] = v[sfPM1CF1], v[sfPM25CF1], v[sfPM10CF1]
	} else {
		v[sfPM1], v[sfPM25], v[sfPM10] = v[sfPM1ATM], v[sfPM25ATM], v[sfPM10ATM]
	}
}

// dropoutGroup returns the column range a dropout blanks: the environment
// sensor (BME280), the particle counters, or every measurement.
func dropoutGroup(g int) (lo, hi int) {
	switch g {
	case 0:
		return sfHumidity, sfPM1
	case 1:
		return sfPM1, sfCount
	}
	return sfHumidity, sfCount
}

// meanFaultLen is the mean episode length in steps of each kind, matching
// the ranges drawn in startFault.
var meanFaultLen = map[FaultKind]float64{
	FaultSpike: 1, FaultStuckHigh: 5 + 55/2.0, FaultFlatline: 10 + 110/2.0,
	FaultDropout: 1 + 29/2.0, FaultABDivergence: 10 + 80/2.0, FaultDrift: 60 + 300/2.0,
}

func (ss *simSensor) startFault(k FaultKind) {
	f := ss.flt
	ss.fault = k
	ss.faultChan = f.IntN(2)
	switch k {
	case FaultSpike:
		ss.faultLen = 1
		ss.faultParam = 5 + 15*f.Float64()
	case FaultStuckHigh:
		ss.faultLen = 5 + f.IntN(56)
	case FaultFlatline:
		ss.faultLen = 10 + f.IntN(111)
	case FaultDropout:
		ss.faultLen = 1 + f.IntN(30)
		ss.dropGroup = f.IntN(3)
	case FaultABDivergence:
		ss.faultLen = 10 + f.IntN(81)
		if f.IntN(2) == 0 {
			ss.faultParam = 0.2 + 0.3*f.Float64()
		} else {
			ss.faultParam = 2.5 + 2.5*f.Float64()
		}
	case FaultDrift:
		ss.faultLen = 60 + f.IntN(301)
		ss.faultParam = 1 + 2*f.Float64()
		if f.IntN(2) == 0 {
			ss.faultParam = -0.5 - 0.4*f.Float64() // drifting low
		}
	}
	ss.faultLeft = ss.faultLen
}
