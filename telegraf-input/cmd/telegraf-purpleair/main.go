// Command telegraf-purpleair runs the `purpleair` input as a Telegraf
// external plugin: Telegraf's inputs.execd starts it and reads metrics in
// line protocol from its stdout. The plugin keeps its own schedule (API
// polling with backoff, file replay pace, simulated time), so Telegraf must
// not signal it:
//
//	[[inputs.execd]]
//	  command = ["/usr/local/bin/telegraf-purpleair", "-config", "/etc/telegraf/purpleair.conf"]
//	  signal = "none"
//	  data_format = "influx"
//
// The configuration file holds one [[inputs.purpleair]] block (see the
// plugin's README; a second one is refused); without -config the plugin runs
// with its defaults (a simulated 50-sensor fleet). Its log goes to stderr with Telegraf's level
// prefixes (E!, W!, I!, D!), which inputs.execd maps onto its own log levels.
// The command exits when stdin closes (Telegraf stopping) or on SIGTERM, once
// Telegraf has read the metrics it wrote last (see internal/pipedrain).
package main

import (
	"flag"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/inputs"

	"github.com/hazewatch/hazewatch/internal/execdlog"
	"github.com/hazewatch/hazewatch/internal/execdrun"
	"github.com/hazewatch/hazewatch/internal/pipedrain"
	"github.com/hazewatch/hazewatch/internal/shimconfig"
	_ "github.com/hazewatch/hazewatch/telegraf-input" // registers inputs.purpleair
)

func main() {
	configFile := flag.String("config", "", "path to a configuration file holding one [[inputs.purpleair]] block (default: all defaults)")
	debug := flag.Bool("debug", false, "also log debug messages")
	flag.Parse()
	os.Exit(run(*configFile, *debug, os.Stdin, os.Stdout, os.Stderr))
}

func run(configFile string, debug bool, stdin io.Reader, stdout, stderr io.Writer) int {
	if f, ok := stdout.(*os.File); ok {
		defer pipedrain.Wait(f, 2*time.Second) // let Telegraf read our last metrics before we exit
	}
	logger := execdlog.New(stderr, debug)
	// A library writing through the standard logger must not produce a line without a level.
	log.SetFlags(0)
	log.SetOutput(logger.Writer(telegraf.Warn))

	input, code := load(configFile, logger)
	if input == nil {
		return code
	}
	// Our logger rather than the shim's: the shim's puts a timestamp before
	// the level prefix, which inputs.execd then cannot map to a level.
	models.SetLoggerOnPlugin(input, logger)
	if p, ok := input.(telegraf.Initializer); ok {
		if err := p.Init(); err != nil {
			logger.Errorf("configuration %q: inputs.purpleair: %v", configFile, err)
			return 1
		}
	}
	si, ok := input.(telegraf.ServiceInput)
	if !ok {
		logger.Errorf("inputs.purpleair is not a service input")
		return 1
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	stop := make(chan struct{})
	go func() {
		if _, ok := <-signals; ok {
			close(stop)
		}
	}()
	// The input keeps its own schedule: stdin only tells when Telegraf stops us.
	if err := execdrun.Input(errorsToLog{ServiceInput: si, log: logger}, stdin, stdout, logger, stop); err != nil {
		logger.Errorf("%v", err)
		return 1
	}
	return 0
}

// load reads the configuration file; without one, the input's defaults. A nil input comes with the
// exit code, its reason already logged.
func load(configFile string, logger telegraf.Logger) (telegraf.Input, int) {
	if configFile == "" {
		// Not through the shim's loader, which announces the defaults on stderr without a level.
		return inputs.Inputs["purpleair"](), 0
	}
	// The shim's loader alone would ignore options the input does not have (Telegraf refuses them)
	// and every block after the first.
	input, _, err := shimconfig.Load(configFile)
	if err != nil {
		logger.Errorf("%v", err)
		return nil, 1
	}
	if input == nil {
		logger.Errorf("%q holds no [[inputs.purpleair]] block", configFile)
		return nil, 1
	}
	return input, 0
}

// errorsToLog starts the input with an accumulator whose AddError writes the error alone through our
// logger (the agent's accumulator would put "Error in plugin: " before it).
type errorsToLog struct {
	telegraf.ServiceInput
	log telegraf.Logger
}

func (e errorsToLog) Start(acc telegraf.Accumulator) error {
	return e.ServiceInput.Start(errorLoggingAccumulator{Accumulator: acc, log: e.log})
}

type errorLoggingAccumulator struct {
	telegraf.Accumulator
	log telegraf.Logger
}

func (a errorLoggingAccumulator) AddError(err error) {
	if err != nil {
		a.log.Errorf("%v", err)
	}
}
