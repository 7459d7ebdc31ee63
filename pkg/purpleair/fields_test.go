package purpleair

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFieldLimits(t *testing.T) {
	cases := []struct {
		name   string
		lo, hi float64
	}{
		// What the Telegraf processor's defaults were before this table (telegraf-processor/config.go).
		{"pm1.0_cf_1", 0, 1000}, {"pm2.5_cf_1", 0, 1000}, {"pm10.0_cf_1", 0, 1000},
		{"pm2.5_cf_1_a", 0, 1000}, {"pm2.5_cf_1_b", 0, 1000}, {"pm2.5_atm", 0, 1000},
		{"pm2.5_alt", 0, 1000}, {"pm1.0", 0, 1000}, {"pm10.0_atm_b", 0, 1000}, {"pm2.5_60minute", 0, 1000},
		{"humidity", 0, 100}, {"humidity_a", 0, 100},
		{"temperature", -40, 185}, {"temperature_b", -40, 185},
		{"pressure", 300, 1100},
		// Any other pm1.0…, pm2.5…, pm10.0… name is a mass concentration, as the processor's
		// documentation has always promised: the preset's pm2.5_epa, a user's derived average.
		{"pm2.5_epa", 0, 1000}, {"pm2.5_cf_1_avg", 0, 1000}, {"pm10.0_x", 0, 1000},
	}
	for _, c := range cases {
		lo, hi, ok := FieldLimits(c.name)
		if !ok || lo != c.lo || hi != c.hi {
			t.Errorf("FieldLimits(%q) = %v, %v, %v; want %v, %v, true", c.name, lo, hi, ok, c.lo, c.hi)
		}
	}
	for _, name := range []string{"", "sensor_index", "latitude", "rssi", "uptime", "last_seen", "0.3_um_count",
		"pm9", "PM2.5_cf_1", " pm2.5_cf_1", "humidity_a_b", "humidity_c", "pm", "pm3.0"} {
		if lo, hi, ok := FieldLimits(name); ok {
			t.Errorf("FieldLimits(%q) = %v, %v, true; want no range", name, lo, hi)
		}
	}
}

// TestFieldLimitsCoverTheReadings: every reading the simulator writes has a range (°F and hPa: the
// simulator's units), and each range holds the simulator's clean values and is well formed.
func TestFieldLimitsCoverTheReadings(t *testing.T) {
	for _, name := range SimulatorFields {
		reading := strings.HasPrefix(name, "pm") || name == "humidity" || name == "temperature" || name == "pressure"
		if _, _, ok := FieldLimits(name); ok != reading {
			t.Errorf("FieldLimits(%q): ok = %v, want %v", name, ok, reading)
		}
	}
	// A clean fleet (realistic profile, smoke included, a day at the API's cadence) stays in range.
	sim, err := NewSimulator(simConfig(func(c *SimulatorConfig) {
		c.Sensors, c.Seed, c.Profile, c.SmokeWithin, c.SmokeEpisodes = 20, 7, ProfileRealistic, 24*time.Hour, 1
	}))
	if err != nil {
		t.Fatal(err)
	}
	for range 720 {
		r, _ := sim.NextResponse()
		for _, row := range r.Data {
			for c, v := range row {
				lo, hi, ok := FieldLimits(r.Fields[c])
				if ok && v.Kind == KindNumber && !(v.Num >= lo && v.Num <= hi) {
					t.Fatalf("%s = %v, outside %v..%v, in a clean fleet", r.Fields[c], v.Num, lo, hi)
				}
			}
		}
	}
	names := LimitedFields()
	if !slices.IsSorted(names) || len(names) != len(fieldLimits) {
		t.Fatalf("LimitedFields: %d names, sorted %v", len(names), slices.IsSorted(names))
	}
	for _, name := range names {
		lo, hi, _ := FieldLimits(name)
		if !(lo < hi) {
			t.Errorf("%s: range %v..%v", name, lo, hi)
		}
	}
}
