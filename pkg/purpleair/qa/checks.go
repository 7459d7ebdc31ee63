package qa

import (
	"math"
	"time"
)

// The checks' constants, each from where it is documented.
const (
	// EPA's A/B agreement rule (Barkjohn et al. 2021; USEPA sensortoolkit; the AirNow Fire and
	// Smoke Map's cleaning): invalid when |A−B| > 5 µg/m³ and |A−B| / ((A+B)/2) > 0.70.
	epaAbsDiff = 5.0
	epaRelDiff = 0.70

	// Valid ranges of Mazama Science's pat_qc: PM2.5 channels 0–1,000 µg/m³ (the Plantower
	// counter's range), humidity 0–100 %, temperature −40–185 °F; pressure 300–1,100 hPa is the
	// BME280's own range.
	channelMax               = 1000.0
	humidityMin, humidityMax = 0.0, 100.0
	tempMin, tempMax         = -40.0, 185.0
	pressMin, pressMax       = 300.0, 1100.0

	// Flatline: every measured field equal to the previous reading's, this many times running
	// (sensortoolkit's persistent-value check uses 3 consecutive repeats), over at least two
	// fields; one channel alone must repeat longer, as a single rounded value repeats by chance.
	flatlineRepeats       = 3
	flatlineRepeatsSingle = 10

	// Stale: a gap in a sensor's reports longer than max(gapCadences × its usual cadence,
	// gapMin) — PurpleAir sensors report every 2 minutes and the Fire and Smoke Map wants 90 % of
	// an hour's reports — or last_seen lagging the reading's time by more than
	// max(lagCadences × cadence, lagMin).
	gapCadences = 4
	gapMin      = 15 * time.Minute
	lagCadences = 3
	lagMin      = 10 * time.Minute

	// Channel ratio: r = ln((A+c)/(B+c)), c damping the noise of clean air. A two-sided CUSUM of
	// r against the sensor's typical ratio, with allowance cusumK (a 16 % departure accumulates
	// nothing) and decision level cusumH, flags persistent departures; a reading is flagged only
	// while its own departure exceeds 2·cusumK (35 %), so an episode ends with the fault.
	ratioOffset = 2.0
	// Below ratioMinLevel µg/m³ (channel average) the ratio statistics do not move.
	ratioMinLevel = 3.0
	cusumK        = 0.15
	cusumH        = 1.0
	cusumCap      = 2 * cusumH
	ratioQuiet    = 3
	// A drift: the smoothed ratio left the typical one at least driftLead before the episode
	// opened; a jump gets there within minutes.
	driftLead = 20 * time.Minute
	// The slow way: the hour-smoothed departure beyond slowK (10.5 %).
	slowK = 0.1
	// The first ratioLearn sound readings set a sensor's typical ratio (two hours at the API's
	// 2-minute cadence); the slow way speaks only after them.
	ratioLearn = 60
	// The typical ratio is held within ±ln 1.5: a sensor that starts with one channel half as
	// high again as the other is not taken as normal.
	ratioBaseMax = 0.405
	// Typical ratio and PM level follow the sensor over a day; the drift/divergence call compares
	// the fast departure with one smoothed over an hour.
	baselineTau = 24 * time.Hour
	slowTau     = time.Hour
	fastAlpha   = 0.5

	// Spike: one reading jumping to spikeFactor× the sensor's last accepted level and at least
	// spikeRise µg/m³ above it; after spikeReadings readings at the new level it is a level, not
	// a spike.
	spikeFactor   = 3.0
	spikeRise     = 30.0
	spikeReadings = 3

	// Air: PM2.5 at least airFactor× the sensor's usual level and at least airMin µg/m³ (the
	// 24-hour AQI's "Moderate" begins at 9.1; 12 leaves room for the CF=1 overestimate).
	// airFactorAlone marks it unusual without the learned score.
	airFactor      = 3.0
	airFactorAlone = 4.0
	airMin         = 12.0
	// Shared: at least sharedMin neighbours (and a third of those that reported within
	// sharedWithin) are themselves high; without positions, sharedFleetShare of the fleet.
	sharedMin        = 2
	sharedWithin     = 30 * time.Minute
	sharedFleetShare = 0.1
)

// Logarithms of the factors above, computed once.
var (
	logAirFactor      = math.Log(airFactor)
	logAirFactorAlone = math.Log(airFactorAlone)
)

// chans is a reading's particle channels after the range checks.
type chans struct {
	a, b     float64 // NaN when missing, not carried or out of range
	haveAB   bool    // both channels valid
	level    float64 // PM2.5 (CF=1) the reading stands for: channel average, one valid channel, or pm2.5_cf_1
	logLevel float64 // ln(1 + level)
	logRatio float64 // ln((A+c)/(B+c)) when haveAB
	agree    bool    // EPA's A/B rule passes (true when the channels are not carried)
	absDiff  float64
	relDiff  float64
	epaInput float64 // CF=1 average for the EPA correction, NaN when the channels are not valid
}

func valid(carried, f Fields, v float64) bool { return carried&f != 0 && !math.IsNaN(v) }

// epaAgree is EPA's A/B agreement rule; it also returns the absolute and relative differences.
func epaAgree(a, b float64) (ok bool, abs, rel float64) {
	abs = math.Abs(a - b)
	mean := (a + b) / 2
	if mean > 0 {
		rel = abs / mean
	}
	return !(abs > epaAbsDiff && rel > epaRelDiff), abs, rel
}
