package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// simulateOptions is what `hazewatch simulate` writes: the fleet, how many steps, and the format.
type simulateOptions struct {
	sim         purpleair.SimulatorConfig
	steps       int
	format      string // "json" | "lp"
	merge       bool   // json: all steps in one document
	labelFaults bool
	points      purpleair.PointOptions // lp: tags and timestamp, as the Telegraf input's options
}

func runSimulate(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sensors := fs.Int("sensors", 50, "number of simulated sensors")
	seed := fs.Int64("seed", 1, "random seed: the same seed and flags write the same bytes")
	faultRate := fs.Float64("fault-rate", 0.01, "long-run share of faulty readings, in [0, 1)")
	faults := fs.String("faults", "", "comma-separated fault kinds to inject (default all of the profile's: basic "+faultKindList(purpleair.FaultKinds)+"; realistic adds "+faultKindList(purpleair.RealisticFaultKinds[len(purpleair.FaultKinds):])+")")
	profile := fs.String("profile", purpleair.ProfileBasic, "basic (the simulator's original faults, bit for bit) or realistic (faults shaped and timed like real sensors' documented failures, env_sentinel and disconnect, and smoke episodes over a third of the fleet; see pkg/purpleair/simulator_realistic.go)")
	smoke := fs.Int("smoke-episodes", 1, "realistic profile: smoke episodes placed within the run (0 = none)")
	label := fs.Bool("label-faults", false, "mark each reading with its ground truth: a fault tag in line protocol, a \"fault\" text field in JSON\n(realistic profile, JSON only: also a \"smoke\" text field, \"smoke\" under a plume, else empty)")
	start := fs.String("start", "2024-04-11T00:00:00Z", "simulated time of the first step (RFC 3339)")
	step := fs.Duration("step", 2*time.Minute, "simulated time between readings")
	steps := fs.Int("steps", 0, "number of steps to write (default 1; mutually exclusive with -duration)")
	duration := fs.Duration("duration", 0, "simulated time span to write: steps = duration / step")
	format := fs.String("format", "json", "json (API-format /v1/sensors documents) or lp (InfluxDB line protocol, as the Telegraf input emits it)")
	merge := fs.Bool("merge", false, "json: write every step into one document instead of one document per step, for readers that take a single\nresponse (hazewatch stream and batch read either). The document's data_time_stamp is the last step's; each row\nkeeps its own time in its last_seen field, so replay it with the Telegraf input's timestamp = \"last_seen\"\n(by data_time_stamp all of a sensor's readings would get one time and overwrite each other; so do the\nrows of a realistic disconnect, which repeat the last report, last_seen and all, as the API does)")
	tags := fs.String("tags", "", "lp: extra tags, as the Telegraf input's tags option: name, location_type")
	timestamp := fs.String("timestamp", "data_time_stamp", "lp: time of a point, as the Telegraf input's timestamp option: data_time_stamp or last_seen")
	out := fs.String("o", "-", "output file; - is standard output")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: hazewatch simulate [flags]\n\nWrites a simulated PurpleAir fleet (pkg/purpleair's simulator: diurnal PM2.5, humidity and\ntemperature, A and B laser channels, injected faults; -profile realistic for faults shaped like\nreal sensors' and smoke episodes) as API-format JSON or line protocol.\nJSON is one /v1/sensors document per step, one per line (what the Telegraf input's file source\nreplays); -merge makes it one document, each row timed by its last_seen. Deterministic: the\nsame flags write the same bytes.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := parseNoArgs(fs, args, " (write to a file with -o)"); err != nil {
		return err
	}

	opt := simulateOptions{format: *format, merge: *merge, labelFaults: *label}
	t0, err := time.Parse(time.RFC3339, *start)
	if err != nil {
		return usageError{fmt.Sprintf("-start: want an RFC 3339 time like 2024-04-11T00:00:00Z, got %q", *start)}
	}
	opt.sim = purpleair.DefaultSimulatorConfig()
	opt.sim.Sensors, opt.sim.Seed, opt.sim.Start, opt.sim.Step, opt.sim.FaultRate = *sensors, *seed, t0, *step, *faultRate
	opt.sim.Profile = *profile
	switch {
	case opt.sim.Profile != purpleair.ProfileRealistic && isFlagSet(fs, "smoke-episodes"):
		return usageError{"-smoke-episodes applies to -profile realistic only"}
	case opt.sim.Profile == purpleair.ProfileRealistic:
		opt.sim.SmokeEpisodes = *smoke
	}
	for _, name := range splitList(*faults) {
		opt.sim.Faults = append(opt.sim.Faults, purpleair.FaultKind(name))
	}
	// The simulator checks its options; the flags only name them.
	if err := opt.sim.Validate(); err != nil {
		return simulatorFlagError(err)
	}
	switch {
	case *steps != 0 && *duration != 0:
		return usageError{"-steps and -duration are mutually exclusive"}
	case *steps < 0:
		return usageError{fmt.Sprintf("-steps: want at least 1, got %d", *steps)}
	case *duration < 0:
		return usageError{fmt.Sprintf("-duration: want a positive duration, got %s", *duration)}
	case *duration > 0:
		opt.steps = int(*duration / *step)
		if opt.steps < 1 {
			return usageError{fmt.Sprintf("-duration %s is shorter than one -step %s", *duration, *step)}
		}
	case *steps > 0:
		opt.steps = *steps
	default:
		opt.steps = 1
	}
	if opt.sim.Profile == purpleair.ProfileRealistic {
		// The smoke falls within what is written, however short.
		opt.sim.SmokeWithin = time.Duration(opt.steps) * *step
	}
	switch opt.format {
	case "json":
	case "lp":
		if opt.merge {
			return usageError{"-merge applies to -format json only"}
		}
	default:
		return usageError{fmt.Sprintf("-format: want json or lp, got %q", opt.format)}
	}
	for _, t := range splitList(*tags) {
		switch t {
		case "name":
			opt.points.TagName = true
		case "location_type":
			opt.points.TagLocationType = true
		default:
			return usageError{fmt.Sprintf("-tags: unknown tag %q (allowed: name, location_type)", t)}
		}
	}
	switch *timestamp {
	case "data_time_stamp":
	case "last_seen":
		opt.points.UseLastSeen = true
	default:
		return usageError{fmt.Sprintf("-timestamp: want data_time_stamp or last_seen, got %q", *timestamp)}
	}

	if *out == "-" {
		return writeSimulation(stdout, opt)
	}
	// Written to a temporary file and renamed, so a failed run never leaves a truncated file that
	// looks like a complete one.
	f, err := os.CreateTemp(dirOf(*out), ".hazewatch-simulate-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := writeSimulation(f, opt); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil { // CreateTemp makes it 0600
		return err
	}
	return os.Rename(f.Name(), *out)
}

func dirOf(path string) string {
	if i := strings.LastIndexByte(path, os.PathSeparator); i >= 0 {
		return path[:i+1]
	}
	return "."
}

func faultKindList(kinds []purpleair.FaultKind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}

// isFlagSet reports whether the command line set the flag, whatever its value.
func isFlagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// writeSimulation runs the simulator for opt.steps steps and writes every reading.
func writeSimulation(w io.Writer, opt simulateOptions) error {
	sim, err := purpleair.NewSimulator(opt.sim)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	var merged *purpleair.Response
	for i := 0; i < opt.steps; i++ {
		tm, readings := sim.Next()
		resp := purpleair.ReadingsResponse(tm, readings)
		labels := make([]purpleair.FaultKind, len(readings))
		var smoke []bool
		if opt.sim.Profile == purpleair.ProfileRealistic {
			smoke = make([]bool, len(readings))
		}
		for i, r := range readings {
			labels[i] = r.Fault
			if smoke != nil {
				smoke[i] = r.Smoke
			}
		}
		switch {
		case opt.format == "lp":
			po := opt.points
			if opt.labelFaults {
				po.Faults = labels
			}
			err = purpleair.WriteLineProtocol(bw, resp, po)
		case opt.merge:
			if opt.labelFaults {
				labelResponse(resp, labels, smoke)
			}
			// One document has one data_time_stamp: the last step's, the time the data is
			// current to, as in a real response. A row's own time is its last_seen (the
			// simulator's, within half a step before the row's step), which is what a reader
			// timing points by last_seen (PointOptions.UseLastSeen, the Telegraf input's
			// timestamp = "last_seen") goes by; TestSimulateMergeKeepsEachRowsTime holds it.
			if merged == nil {
				merged = resp
			} else {
				merged.Data = append(merged.Data, resp.Data...)
				merged.TimeStamp, merged.DataTimeStamp = resp.TimeStamp, resp.DataTimeStamp
			}
		default:
			if opt.labelFaults {
				labelResponse(resp, labels, smoke)
			}
			err = purpleair.WriteAPIJSON(bw, resp)
		}
		if err != nil {
			return err
		}
	}
	if merged != nil {
		if err := purpleair.WriteAPIJSON(bw, merged); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// faultField is the JSON column carrying the ground truth. It is text, so readers that score numeric
// fields (hazewatch stream and batch, the Telegraf input) leave it out of the features.
const faultField = "fault"

// smokeField is the JSON column saying a realistic fleet's reading is under a smoke plume: "smoke"
// or "" (text, as faultField). Smoke is the air, not a fault, so it has its own column.
const smokeField = "smoke"

// labelResponse appends the fault column to every row, and the smoke column when smoke is not nil
// (the realistic profile).
func labelResponse(r *purpleair.Response, labels []purpleair.FaultKind, smoke []bool) {
	fields := make([]string, len(r.Fields), len(r.Fields)+2)
	copy(fields, r.Fields) // r.Fields is the simulator's shared header: never append to it in place
	r.Fields = append(fields, faultField)
	if smoke != nil {
		r.Fields = append(r.Fields, smokeField)
	}
	for i, row := range r.Data {
		row = append(row[:len(row):len(row)], purpleair.String(string(labels[i])))
		if smoke != nil {
			s := ""
			if smoke[i] {
				s = smokeField
			}
			row = append(row, purpleair.String(s))
		}
		r.Data[i] = row
	}
}

// simulatorFlags are the flags of simulate that set a field of the simulator's configuration.
var simulatorFlags = map[string]string{
	"Sensors": "-sensors", "Step": "-step", "FaultRate": "-fault-rate", "Faults": "-faults",
	"Profile": "-profile", "SmokeEpisodes": "-smoke-episodes", "Start": "-start",
}

// simulatorFlagError names an option the simulator refuses as the flag that sets it.
func simulatorFlagError(err error) error {
	var oe *purpleair.OptionError
	if errors.As(err, &oe) {
		if flag, ok := simulatorFlags[oe.Option]; ok {
			return usageError{flag + ": " + oe.Reason}
		}
	}
	return usageError{err.Error()}
}
