package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hazewatch/hazewatch/internal/demo"
	"github.com/hazewatch/hazewatch/pkg/anomaly/iforest"
)

// demoFlags names the flag behind each demo.Options field, for its errors.
var demoFlags = map[string]string{
	"Sensors": "-sensors", "Hours": "-hours", "Step": "-step", "Seed": "-seed", "FaultRate": "-fault-rate",
	"Profile": "-profile", "SmokeEpisodes": "-smoke-episodes", "Contamination": "-contamination",
}

const demoUsage = `Usage: hazewatch demo [flags]

Simulates a PurpleAir fleet with labelled faults (and, in the realistic profile, a smoke episode
that is the air, not a fault) and runs it through Hazewatch's detectors:
  preset     the PurpleAir QA detector (pkg/purpleair/qa) on every reading in time order, sensors
             interleaved: each flag says whether the sensor or the air is at fault, and why;
  streaming  the Telegraf processor (telegraf-processor, the same code processors.execd runs): running-
             mean imputation and Half-Space Trees per sensor, anomaly = score > 0.7;
  batch      the Grafana datasource's query engine on the dashboard's batch queries (KNN imputation,
             Isolation Forest of 100 trees) in its two modes: each sensor against its own history
             (series) and each sensor against the fleet at each step (fleet); anomaly = scikit-
             learn's predict.
Prints what each flagged against the injected faults (per kind: episodes caught, recall; for the
preset also the reasons it gave and what it made of the smoke), and writes a report with charts to
DIR/index.html. No network, no Docker, no API key.

Flags:`

func runDemo(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opt := demo.DefaultOptions()
	fs.IntVar(&opt.Sensors, "sensors", opt.Sensors, "number of simulated sensors")
	fs.Float64Var(&opt.Hours, "hours", opt.Hours, "simulated hours of history")
	fs.DurationVar(&opt.Step, "step", opt.Step, "simulated time between readings (PurpleAir's real-time cadence is 2m)")
	fs.Int64Var(&opt.Seed, "seed", opt.Seed, "simulator seed: the same seed gives the same fleet, scores and report")
	fs.Float64Var(&opt.FaultRate, "fault-rate", opt.FaultRate, "long-run share of faulty readings the simulator injects, in (0, 1)")
	fs.StringVar(&opt.Profile, "profile", opt.Profile, "simulator profile: realistic (faults shaped like real sensors' documented failures, smoke episodes) or basic (the original simulator)")
	fs.IntVar(&opt.SmokeEpisodes, "smoke-episodes", opt.SmokeEpisodes, "realistic profile: smoke episodes within the run, each over a third of the fleet (0 = none)")
	outDir := fs.String("o", "report", "directory the HTML report is written to (as index.html)")
	contamination := fs.String("contamination", contaminationFlag(opt.Contamination), "Isolation Forest contamination of the batch strategies: a share in (0, 0.5] (0.01: each forest flags about 1% of its rows) or auto (scores above 0.5, as the dashboard's panels; the provisioned alert rule instead pages on scores above 0.88)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), demoUsage)
		fs.PrintDefaults()
	}
	if err := parseNoArgs(fs, args, ""); err != nil {
		return err
	}
	if *outDir == "" {
		return usageError{"-o: want a directory"}
	}
	var err error
	if opt.Contamination, err = iforest.ParseContamination(*contamination); err != nil {
		return forestFlagError(err)
	}

	res, err := demo.Run(context.Background(), opt)
	if oe := (*demo.OptionError)(nil); errors.As(err, &oe) {
		name, ok := demoFlags[oe.Option]
		if !ok {
			name = oe.Option // an option without a flag: the demo's own name for it is all there is
		}
		return usageError{name + ": " + oe.Msg}
	}
	if err != nil {
		return err
	}
	res.Print(stdout)
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*outDir, "index.html")
	if err := writeFileAtomic(path, res.WriteReport); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nReport: %s\n", path)
	return nil
}

// contaminationFlag is a contamination as -contamination takes it (0 is auto).
func contaminationFlag(c float64) string {
	if c == 0 {
		return "auto"
	}
	return fmt.Sprint(c)
}

// writeFileAtomic writes through a temporary file renamed into place, so a failed run leaves no
// half-written report.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".hazewatch-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil { // CreateTemp makes it 0600: a report is for reading
		return err
	}
	return os.Rename(f.Name(), path)
}
