package promtest

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// The PurpleAir dataset's planted events: one sensor's channel A reading
// PADivergeFactor× its own value for four hours, and later a smoke-like rise
// of every sensor's particle readings to PASmokeFactor× over one hour, held
// to the end.
var (
	PAEnd           = PlantedEnd
	PASensors       = 12
	PADivergeSensor = 5
	PADivergeFrom   = PAEnd.Add(-20 * time.Hour)
	PADivergeTo     = PAEnd.Add(-16 * time.Hour)
	PADivergeFactor = 3.4
	PASmokeFrom     = PAEnd.Add(-8 * time.Hour)
	PASmokeRise     = time.Hour
	PASmokeFactor   = 12.0
)

// paFields maps the simulator's API fields to the metrics Telegraf stores.
var paFields = [][2]string{
	{"pm2.5_cf_1_a", "purpleair_pm2_5_cf_1_a"}, {"pm2.5_cf_1_b", "purpleair_pm2_5_cf_1_b"},
	{"pm2.5_cf_1", "purpleair_pm2_5_cf_1"}, {"pm2.5_atm", "purpleair_pm2_5_atm"},
	{"humidity", "purpleair_humidity"}, {"temperature", "purpleair_temperature"}, {"pressure", "purpleair_pressure"},
	{"last_seen", "purpleair_last_seen"}, {"latitude", "purpleair_latitude"}, {"longitude", "purpleair_longitude"},
}

// PurpleAir is the preset's integration dataset: PASensors sensors of the
// simulator's realistic profile without faults or smoke of its own, two days
// at its 2-minute cadence, every field the preset reads, with the planted
// divergence and smoke above.
func PurpleAir() *Dataset {
	return SimulatedPurpleAir("purpleair-v1", PASensors, PAEnd.Add(-48*time.Hour), PAEnd, true)
}

// SimulatedPurpleAir is a clean simulated fleet (realistic profile, seed 1,
// no faults, no smoke) of sensors sensors over [start, end) at 2 minutes, as
// Telegraf stores it; planted adds PurpleAir's planted events. Readings are
// generated once and held (10 fields × sensors × steps float64).
func SimulatedPurpleAir(id string, sensors int, start, end time.Time, planted bool) *Dataset {
	const step = 2 * time.Minute
	cfg := purpleair.DefaultSimulatorConfig()
	cfg.Sensors, cfg.Seed, cfg.Start, cfg.Step, cfg.Profile = sensors, 1, start, step, purpleair.ProfileRealistic
	sim, err := purpleair.NewSimulator(cfg)
	if err != nil {
		panic(fmt.Sprintf("promtest: simulator: %v", err))
	}
	steps := int(end.Sub(start) / step)
	vals := make([][]float64, len(paFields)) // [field][step*sensors+sensor]
	cols := make([]int, len(paFields))
	for f, pf := range paFields {
		cols[f] = slices.Index(purpleair.SimulatorFields, pf[0])
		vals[f] = make([]float64, steps*sensors)
	}
	for k := 0; k < steps; k++ {
		t, rs := sim.Next()
		for s, r := range rs {
			for f := range paFields {
				v := r.Values[cols[f]]
				x := math.NaN()
				if v.Kind == purpleair.KindNumber {
					x = v.Num
				}
				if planted && f < 4 { // the particle fields
					x *= plantedFactor(s, f, t)
				}
				vals[f][k*sensors+s] = x
			}
		}
	}
	d := &Dataset{ID: id, Sensors: sensors, Start: start, End: start.Add(time.Duration(steps) * step), Step: step}
	for f, pf := range paFields {
		d.Families = append(d.Families, Family{Name: pf[1], Value: func(s int, t time.Time) (float64, bool) {
			k := int(t.Sub(start) / step)
			if k < 0 || k >= steps {
				return 0, false
			}
			v := vals[f][k*sensors+s]
			return v, !math.IsNaN(v)
		}})
	}
	return d
}

func plantedFactor(sensor, field int, t time.Time) float64 {
	x := 1.0
	if sensor == PADivergeSensor && field == 0 && !t.Before(PADivergeFrom) && t.Before(PADivergeTo) {
		x *= PADivergeFactor
	}
	if !t.Before(PASmokeFrom) {
		p := min(float64(t.Sub(PASmokeFrom))/float64(PASmokeRise), 1)
		x *= 1 + (PASmokeFactor-1)*p*p*(3-2*p)
	}
	return x
}
