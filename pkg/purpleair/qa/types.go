package qa

import (
	"math"
	"time"
)

// Kind says who an anomaly is about: the sensor (send someone) or the air (tell the public).
type Kind string

const (
	KindNone   Kind = ""
	KindSensor Kind = "sensor"
	KindAir    Kind = "air"
)

// Reason is the main reason a reading was flagged: one word of a fixed list, the same in the CLI,
// the processor, the datasource and the dashboard.
type Reason string

const (
	ReasonNone Reason = ""
	// ReasonOutOfRange: a value no working sensor gives — a laser channel beyond the counter's range
	// (above 1,000 µg/m³ or negative), humidity outside 0–100 % (the BME280 reports 255 when its read
	// fails), temperature outside −40–185 °F.
	ReasonOutOfRange Reason = "out_of_range"
	// ReasonMissing: a field group the sensor normally reports is null (one or both laser channels,
	// the environment sensor).
	ReasonMissing Reason = "missing"
	// ReasonStale: no new data — last_seen stopped advancing or lags the reading's time, or this is the
	// first reading after a gap in the sensor's reports.
	ReasonStale Reason = "stale"
	// ReasonFlatline: the same values repeated reading after reading.
	ReasonFlatline Reason = "flatline"
	// ReasonSpike: a sudden jump of the particle readings that the neighbours do not share.
	ReasonSpike Reason = "spike"
	// ReasonABDivergence: the two laser channels disagree (EPA's rule) or left their usual ratio
	// abruptly.
	ReasonABDivergence Reason = "ab_divergence"
	// ReasonDrift: the channels' ratio crept away from its usual value over hours.
	ReasonDrift Reason = "drift"
	// ReasonAir: the air itself is unusual here — the channels agree and, where the fleet is visible,
	// neighbours see the change too.
	ReasonAir Reason = "air"
)

// Reasons lists every reason, in the order of precedence when several apply.
var Reasons = []Reason{ReasonOutOfRange, ReasonMissing, ReasonStale, ReasonFlatline, ReasonSpike,
	ReasonABDivergence, ReasonDrift, ReasonAir}

// Fields is a set of the measurement fields a reading's source carries at all. A field the source
// does not carry is unknown, not missing: a CSV without a humidity column is no dropout.
type Fields uint8

const (
	FieldA           Fields = 1 << iota // pm2.5_cf_1_a, µg/m³
	FieldB                              // pm2.5_cf_1_b, µg/m³
	FieldCF1                            // pm2.5_cf_1, µg/m³ (the channels' average as the API reports it)
	FieldHumidity                       // humidity, %
	FieldTemperature                    // temperature, °F as the sensor reports it
	FieldPressure                       // pressure, hPa
	FieldATM                            // pm2.5_atm, µg/m³ (input of the extended EPA correction)
	AllFields        = FieldA | FieldB | FieldCF1 | FieldHumidity | FieldTemperature | FieldPressure | FieldATM
)

// Reading is one report of one sensor. Missing (null) values are NaN.
type Reading struct {
	Time     time.Time // when it was measured: the row's time
	LastSeen time.Time // the API's last_seen, when the source has it; zero otherwise

	A, B        float64 // pm2.5_cf_1_a, pm2.5_cf_1_b
	CF1         float64 // pm2.5_cf_1
	ATM         float64 // pm2.5_atm
	Humidity    float64
	Temperature float64
	Pressure    float64

	// Carried names the fields the source carries; the others are ignored, whatever their value.
	Carried Fields

	// Lat, Lon place the sensor (NaN: unknown); with them, "neighbours" are the nearest sensors,
	// without them the whole fleet seen by the Detector.
	Lat, Lon float64
}

// NewReading returns a reading at t with every value missing and every field carried; set the
// values the source has and clear the fields it lacks.
func NewReading(t time.Time) Reading {
	nan := math.NaN()
	return Reading{Time: t, A: nan, B: nan, CF1: nan, ATM: nan, Humidity: nan, Temperature: nan, Pressure: nan,
		Carried: AllFields, Lat: nan, Lon: nan}
}

// Result is what the Detector concluded about one reading.
type Result struct {
	// Score in [0, 1], higher is more anomalous: a rule that fires scores its confidence (≥ the
	// threshold); otherwise the learned score (Half-Space Trees on the sensor's own QA features).
	Score   float64
	Anomaly bool
	Kind    Kind
	Reason  Reason
	// Detail is a short human text for a flagged reading ("channel A reads 3.4× channel B for 46 min");
	// empty otherwise.
	Detail string
	// Since is when the episode this reading belongs to began: the time of its first faulty
	// reading (the first repeat of a flatline, the onset of a drift), which may be before the
	// first flagged one; zero when not flagged. Batch use marks the episode back to it.
	Since time.Time
	// Feature is the learned score's main feature, by attribution, when the learned score flagged
	// the reading; empty otherwise.
	Feature string
	// EPA is the EPA-corrected PM2.5 (pm2.5_epa), NaN when it cannot be computed (channels invalid,
	// humidity missing).
	EPA float64
	// Warmup is true while the sensor's learned model has seen fewer readings than its window.
	Warmup bool
}

// measured pairs each measurement field with its name in the PurpleAir API.
var measured = []struct {
	field Fields
	name  string
}{
	{FieldA, "pm2.5_cf_1_a"}, {FieldB, "pm2.5_cf_1_b"}, {FieldCF1, "pm2.5_cf_1"}, {FieldATM, "pm2.5_atm"},
	{FieldHumidity, "humidity"}, {FieldTemperature, "temperature"}, {FieldPressure, "pressure"},
}

// FieldByName returns the measurement field an API field name stands for. A switch, not a loop
// over measured: the processor asks for every field of every metric.
func FieldByName(name string) (Fields, bool) {
	switch name {
	case "pm2.5_cf_1_a":
		return FieldA, true
	case "pm2.5_cf_1_b":
		return FieldB, true
	case "pm2.5_cf_1":
		return FieldCF1, true
	case "pm2.5_atm":
		return FieldATM, true
	case "humidity":
		return FieldHumidity, true
	case "temperature":
		return FieldTemperature, true
	case "pressure":
		return FieldPressure, true
	}
	return 0, false
}

// FieldNames returns the API names of the measurement fields, one per field.
func FieldNames() []string {
	names := make([]string, len(measured))
	for i, m := range measured {
		names[i] = m.name
	}
	return names
}

// Value points at the value of one measurement field f in r (nil for anything else), so that a
// source can fill a reading from its named fields.
func (r *Reading) Value(f Fields) *float64 {
	switch f {
	case FieldA:
		return &r.A
	case FieldB:
		return &r.B
	case FieldCF1:
		return &r.CF1
	case FieldATM:
		return &r.ATM
	case FieldHumidity:
		return &r.Humidity
	case FieldTemperature:
		return &r.Temperature
	case FieldPressure:
		return &r.Pressure
	}
	return nil
}
