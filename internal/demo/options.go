package demo

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// The detectors' settings are the stack's own: the processor as deploy/telegraf/anomaly.conf
// configures it, and the Isolation Forest queries of the provisioned dashboard
// (provisioning/dashboards/hazewatch/purpleair-anomalies.json) and alert rules.
const (
	streamWindow    = 60 // readings: 2 hours at the simulator's 2-minute step
	streamThreshold = 0.7
	streamSeed      = 42
	forestTrees     = 100
	forestSeed      = 42
	knnNeighbors    = 5

	// The provisioned batch alert rule (provisioning/alerting/rules.yaml): the fleet-mode score above
	// ruleThreshold at ruleSteps consecutive steps ("for: 2m" on 2-minute readings).
	ruleThreshold = 0.88
	ruleSteps     = 2

	// maxReadings bounds sensors × steps: about 150 bytes per reading are kept for the report.
	maxReadings = 10_000_000
)

// features are the fields both paths score: the factory-calibrated particle readings, one per
// size class — the processor's default fields and the dashboard's batch features.
var features = []string{"pm1.0_cf_1", "pm2.5_cf_1", "pm10.0_cf_1"}

// Options sizes the demo. The defaults finish in a few seconds on one core.
type Options struct {
	Sensors       int
	Hours         float64
	Step          time.Duration
	Seed          int64
	FaultRate     float64 // the simulator's long-run share of faulty readings
	Profile       string  // the simulator's
	SmokeEpisodes int     // realistic profile: smoke episodes placed within the run; 0 = none
	Contamination float64 // Isolation Forest contamination of the batch strategies; 0 = auto
	Workers       int     // the batch engine's; 0 = GOMAXPROCS
}

// DefaultOptions is the demo as the README runs it.
func DefaultOptions() Options {
	return Options{Sensors: 50, Hours: 48, Step: 2 * time.Minute, Seed: 1, FaultRate: 0.1,
		Profile: purpleair.ProfileRealistic, SmokeEpisodes: 1, Contamination: 0.01}
}

// OptionError is an option Run refuses; Option is the Options field's name.
type OptionError struct {
	Option string
	Msg    string
}

func (e *OptionError) Error() string { return e.Option + ": " + e.Msg }

func (o Options) validate() error {
	bad := func(option, format string, args ...any) error {
		return &OptionError{option, fmt.Sprintf(format, args...)}
	}
	switch {
	case o.Sensors < 2:
		return bad("Sensors", "want at least 2 (fleet mode compares sensors), got %d", o.Sensors)
	case o.Step < time.Second:
		return bad("Step", "want at least 1s, got %s", o.Step)
	case o.Step%time.Second != 0:
		return bad("Step", "want whole seconds (the datasource's query step), got %s", o.Step)
	case !(o.Hours > 0) || math.IsInf(o.Hours, 0):
		return bad("Hours", "want a positive number, got %v", o.Hours)
	case !(o.FaultRate > 0 && o.FaultRate < 1):
		return bad("FaultRate", "want a share in (0, 1), got %v", o.FaultRate)
	}
	if steps := o.steps(); steps < 2*streamWindow {
		return bad("Hours", "%v at a %s step is %d readings per sensor; the streaming detector needs at least %d (its first %d are warm-up)",
			o.Hours, o.Step, steps, 2*streamWindow, streamWindow)
	}
	if n := o.steps() * o.Sensors; n > maxReadings {
		return bad("Sensors", "%d sensors × %v h at a %s step is %d readings; the demo keeps them all in memory and takes at most %d",
			o.Sensors, o.Hours, o.Step, n, maxReadings)
	}
	// The simulator and the forest check the options they take (Profile, SmokeEpisodes,
	// Contamination); Options names those fields as they do.
	if err := o.simulatorConfig().Validate(); err != nil {
		var oe *purpleair.OptionError
		if errors.As(err, &oe) {
			return &OptionError{oe.Option, oe.Reason}
		}
		return err
	}
	forest := iforest.DefaultOptions()
	forest.Contamination = o.Contamination
	if err := forest.Check(); err != nil {
		var oe *iforest.OptionError
		if errors.As(err, &oe) {
			return &OptionError{oe.Option, oe.Msg}
		}
		return err
	}
	return nil
}

func (o Options) steps() int {
	return int(time.Duration(o.Hours*float64(time.Hour)) / o.Step)
}

func (o Options) workers() int {
	if o.Workers > 0 {
		return o.Workers
	}
	return runtime.GOMAXPROCS(0)
}

// simulatorConfig is the fleet the demo runs.
func (o Options) simulatorConfig() purpleair.SimulatorConfig {
	cfg := purpleair.DefaultSimulatorConfig()
	cfg.Sensors, cfg.Seed, cfg.Step, cfg.FaultRate, cfg.Profile = o.Sensors, o.Seed, o.Step, o.FaultRate, o.Profile
	if o.Profile == purpleair.ProfileRealistic {
		cfg.SmokeEpisodes, cfg.SmokeWithin = o.SmokeEpisodes, time.Duration(o.steps())*o.Step
	}
	return cfg
}

// contaminationString is the contamination as the query and the command line spell it.
func contaminationString(c float64) string {
	if c == 0 {
		return "auto"
	}
	return fmt.Sprintf("%g", c)
}
