package purpleair

import (
	"slices"
	"strings"
)

// The ranges of the PurpleAir API's sensor readings, for a model that must know a field's span before
// it has seen any reading (Half-Space Trees' limits): one table, used by `hazewatch stream` and meant
// for the Telegraf processor's defaults. A reading outside its range is one a healthy sensor cannot
// give (a saturated counter, a sensor's sentinel such as humidity 255 % or temperature −224 °F); it
// falls in the outermost half-space and scores as anomalous, which is what it should do.
//
// Units are the API's: µg/m³ for particle mass, percent relative humidity, °F for temperature as
// the sensor reports it (inside the case, about 8 °F above ambient), hPa for pressure.
const (
	// ParticleMin and ParticleMax bound every particle mass concentration (pm1.0…, pm2.5…, pm10.0…,
	// both channels and their average, CF=1, ATM, ALT and the API's averages of pm2.5). A PurpleAir
	// unit counts particles with two Plantower PMS5003 (PA-II) or PMS6003 (Flex) laser counters, whose
	// datasheets give an effective range of 0–500 µg/m³ and a maximum range of at least 1000 µg/m³:
	// 0..1000 covers every reading a working counter gives. Wildfire smoke can pass 500; a counter
	// reading above 1000 is saturated or broken.
	ParticleMin, ParticleMax = 0.0, 1000.0

	// HumidityMin and HumidityMax are relative humidity's own range, 0–100 %, which the unit's Bosch
	// BME280 (BME688 on the Flex) measures in full. 255 is the sensor's sentinel for a failed read.
	HumidityMin, HumidityMax = 0.0, 100.0

	// TemperatureMin and TemperatureMax are the BME280's operating range, −40 to +85 °C, in °F as the
	// API reports temperature (−40 to 185 °F). −224 °F is the sensor's sentinel for a failed read.
	TemperatureMin, TemperatureMax = -40.0, 185.0

	// PressureMin and PressureMax are the BME280's operating pressure range, 300 to 1100 hPa (sea
	// level is about 1013; 300 hPa is some 9 km up).
	PressureMin, PressureMax = 300.0, 1100.0
)

// fieldLimits is the table: every API field name with a known range.
var fieldLimits = func() map[string][2]float64 {
	m := map[string][2]float64{}
	// Each field also comes per channel, _a and _b (the two particle counters; on units with two
	// environmental sensors, those two).
	add := func(name string, lo, hi float64) {
		for _, ch := range []string{"", "_a", "_b"} {
			m[name+ch] = [2]float64{lo, hi}
		}
	}
	for _, size := range []string{"pm1.0", "pm2.5", "pm10.0"} {
		for _, kind := range []string{"", "_atm", "_cf_1"} {
			add(size+kind, ParticleMin, ParticleMax)
		}
	}
	add("pm2.5_alt", ParticleMin, ParticleMax)
	for _, avg := range []string{"10minute", "30minute", "60minute", "6hour", "24hour", "1week"} {
		add("pm2.5_"+avg, ParticleMin, ParticleMax)
	}
	add("humidity", HumidityMin, HumidityMax)
	add("temperature", TemperatureMin, TemperatureMax)
	add("pressure", PressureMin, PressureMax)
	return m
}()

// FieldLimits returns the range [lo, hi] of the PurpleAir API field name (the API's own spelling,
// e.g. "pm2.5_cf_1", "humidity", "pressure_b") and ok = true, or ok = false for a field without a
// known range: a name the API does not have, or one whose span has no physical bound worth
// assuming (particle counts, sensor_index, rssi, latitude…). Its caller should then ask for a range
// rather than assume one. Any other name beginning pm1.0, pm2.5 or pm10.0 is a mass concentration
// too (a derived field such as the preset's pm2.5_epa, or a user's pm2.5_cf_1_avg) and gets the
// particle range, as the processor has always given it.
func FieldLimits(name string) (lo, hi float64, ok bool) {
	if r, ok := fieldLimits[name]; ok {
		return r[0], r[1], true
	}
	for _, size := range []string{"pm1.0", "pm2.5", "pm10.0"} {
		if strings.HasPrefix(name, size) {
			return ParticleMin, ParticleMax, true
		}
	}
	return 0, 0, false
}

// LimitedFields returns the names FieldLimits knows, sorted.
func LimitedFields() []string {
	names := make([]string, 0, len(fieldLimits))
	for n := range fieldLimits {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
