package promtest

import (
	"math"
	"time"
)

// Metric names of the generated datasets (PurpleAir's, as Telegraf writes them).
const (
	MetricPM25        = "purpleair_pm2_5_cf_1"
	MetricHumidity    = "purpleair_humidity"
	MetricTemperature = "purpleair_temperature"
)

// noise is a deterministic standard-normal-ish value for (sensor, t, stream):
// the sum of four uniforms from a SplitMix64 hash, centred and scaled.
func noise(sensor int, t time.Time, stream uint64) float64 {
	z := uint64(t.Unix())*0x9E3779B97F4A7C15 ^ uint64(sensor)*0xBF58476D1CE4E5B9 ^ stream*0x94D049BB133111EB
	var s float64
	for i := 0; i < 4; i++ {
		z += 0x9E3779B97F4A7C15
		x := z
		x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
		x = (x ^ (x >> 27)) * 0x94D049BB133111EB
		x ^= x >> 31
		s += float64(x>>11) / (1 << 53)
	}
	return (s - 2) * math.Sqrt(3) // variance of the sum of 4 U(0,1) is 1/3
}

// diurnal is a daily cycle in [-1, 1], peaking mid-afternoon UTC.
func diurnal(t time.Time) float64 {
	h := float64(t.Unix()%86400) / 3600
	return math.Sin((h - 9) / 24 * 2 * math.Pi)
}

// Planted is the integration dataset: 12 sensors, 21 days at 5 minutes,
// three features with daily cycles, 3% of humidity samples missing, and two
// planted anomalies (see SeriesSpike* and FleetOutlier*).
func Planted() *Dataset {
	end := PlantedEnd
	d := &Dataset{ID: "planted-v1", Sensors: 12, Start: end.Add(-21 * 24 * time.Hour), End: end, Step: 5 * time.Minute}
	spike := func(s int, t time.Time) bool {
		return s == SeriesSpikeSensor && !t.Before(SeriesSpikeAt) && t.Before(SeriesSpikeAt.Add(SeriesSpikeLen))
	}
	fleet := func(s int, t time.Time) bool {
		return s == FleetOutlierSensor && !t.Before(FleetOutlierFrom) && t.Before(FleetOutlierTo)
	}
	d.Families = []Family{
		{Name: MetricPM25, Value: func(s int, t time.Time) (float64, bool) {
			v := 12 + float64(s%4) + 4*diurnal(t) + 1.5*noise(s, t, 1)
			if spike(s, t) {
				v += 90
			}
			if fleet(s, t) {
				v *= 6
			}
			return math.Max(v, 0), true
		}},
		{Name: MetricHumidity, Value: func(s int, t time.Time) (float64, bool) {
			if noise(s, t, 9) > 1.88 { // ≈3% gaps
				return 0, false
			}
			v := 55 - 12*diurnal(t) + 2*noise(s, t, 2)
			if spike(s, t) {
				v -= 35
			}
			return v, true
		}},
		{Name: MetricTemperature, Value: func(s int, t time.Time) (float64, bool) {
			v := 18 + float64(s%3) + 6*diurnal(t) + 0.8*noise(s, t, 3)
			if spike(s, t) {
				v += 20
			}
			return v, true
		}},
	}
	return d
}

// The planted anomalies of Planted.
var (
	PlantedEnd         = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	SeriesSpikeSensor  = 7
	SeriesSpikeAt      = PlantedEnd.Add(-2*24*time.Hour + 13*time.Hour + 5*time.Minute)
	SeriesSpikeLen     = 15 * time.Minute // three 5-minute samples
	FleetOutlierSensor = 4
	FleetOutlierFrom   = PlantedEnd.Add(-24 * time.Hour)
	FleetOutlierTo     = PlantedEnd.Add(-22 * time.Hour)
)

// Bench is the benchmark dataset: 100 sensors × 7 days at a 2-minute step ×
// 3 features = 1,512,000 samples (1% humidity gaps).
func Bench() *Dataset {
	end := PlantedEnd
	d := &Dataset{ID: "bench-v1", Sensors: 100, Start: end.Add(-7 * 24 * time.Hour), End: end, Step: 2 * time.Minute}
	d.Families = []Family{
		{Name: MetricPM25, Value: func(s int, t time.Time) (float64, bool) {
			return math.Max(12+float64(s%7)+4*diurnal(t)+1.5*noise(s, t, 1), 0), true
		}},
		{Name: MetricHumidity, Value: func(s int, t time.Time) (float64, bool) {
			if noise(s, t, 9) > 2.3 {
				return 0, false
			}
			return 55 - 12*diurnal(t) + 2*noise(s, t, 2), true
		}},
		{Name: MetricTemperature, Value: func(s int, t time.Time) (float64, bool) {
			return 18 + float64(s%3) + 6*diurnal(t) + 0.8*noise(s, t, 3), true
		}},
	}
	return d
}

// Metric names of the Gaps dataset.
const (
	MetricGapsPM25     = "gapdemo_pm2_5"
	MetricGapsHumidity = "gapdemo_humidity"
)

// The Gaps dataset's grid and missing readings. Readings are timestamped
// GapsOffset after each point of a 2-minute grid starting at GapsGridStart,
// as a sensor's readings are (they are not aligned to any query's step);
// reading k is at GapsGridStart + k·2m + GapsOffset.
var (
	GapsGridStart = PlantedEnd.Add(-24 * time.Hour)
	GapsOffset    = 37 * time.Second
	GapsSensor    = 0
	// GapsSingle is a single missed reading of GapsSensor's pm2.5.
	GapsSingle = 300
	// GapsRun is the first of GapsRunLen consecutive missed readings (10 minutes).
	GapsRun    = 500
	GapsRunLen = 5
)

// Gaps is the lookback experiment's dataset: 6 sensors, one day of readings
// every 2 minutes (off the query grid), humidity complete, pm2.5 of sensor
// GapsSensor missing reading GapsSingle and readings GapsRun … GapsRun+4.
func Gaps() *Dataset {
	d := &Dataset{ID: "gaps-v1", Sensors: 6, Start: GapsGridStart.Add(GapsOffset), End: PlantedEnd, Step: 2 * time.Minute}
	index := func(t time.Time) int { return int(t.Sub(GapsGridStart) / (2 * time.Minute)) }
	d.Families = []Family{
		{Name: MetricGapsPM25, Value: func(s int, t time.Time) (float64, bool) {
			if k := index(t); s == GapsSensor && (k == GapsSingle || (k >= GapsRun && k < GapsRun+GapsRunLen)) {
				return 0, false
			}
			return 12 + float64(s) + 4*diurnal(t) + 1.5*noise(s, t, 1), true
		}},
		{Name: MetricGapsHumidity, Value: func(s int, t time.Time) (float64, bool) {
			return 55 - 12*diurnal(t) + 2*noise(s, t, 2), true
		}},
	}
	return d
}
