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
// plugin's README); without -config the plugin runs with its defaults (a
// simulated 50-sensor fleet). Its log goes to stderr with Telegraf's level
// prefixes (E!, W!, I!, D!), which inputs.execd maps onto its own log levels.
// The command exits when stdin closes (Telegraf stopping) or on SIGTERM, once
// Telegraf has read the metrics it wrote last (see internal/pipedrain).
package main

import (
	"flag"
	"io"
	"os"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/hazewatch/hazewatch/internal/execdlog"
	"github.com/hazewatch/hazewatch/internal/pipedrain"
	"github.com/hazewatch/hazewatch/internal/shimconfig"
	_ "github.com/hazewatch/hazewatch/telegraf-input" // registers inputs.purpleair
)

func main() {
	configFile := flag.String("config", "", "path to a configuration file holding one [[inputs.purpleair]] block (default: all defaults)")
	debug := flag.Bool("debug", false, "also log debug messages")
	flag.Parse()
	os.Exit(run(*configFile, *debug, os.Stderr))
}

func run(configFile string, debug bool, stderr io.Writer) int {
	log := execdlog.New(stderr, debug)
	loaded, err := shim.LoadConfig(&configFile)
	if err != nil {
		log.Errorf("loading %q: %v", configFile, err)
		return 1
	}
	// Telegraf refuses options a plugin does not have; the shim's loader ignores them.
	if err := shimconfig.CheckUnused(configFile); err != nil {
		log.Errorf("configuration %q: %v", configFile, err)
		return 1
	}
	input := loaded.Input
	if input == nil {
		log.Errorf("%q holds no [[inputs.purpleair]] block", configFile)
		return 1
	}
	// Our logger rather than the shim's: the shim's puts a timestamp before
	// the level prefix, which inputs.execd then cannot map to a level.
	models.SetLoggerOnPlugin(input, log)
	if p, ok := input.(telegraf.Initializer); ok {
		if err := p.Init(); err != nil {
			log.Errorf("configuration %q: inputs.purpleair: %v", configFile, err)
			return 1
		}
	}
	s := shim.New()
	s.Input = input
	if si, ok := input.(telegraf.ServiceInput); ok {
		s.Input = errorsToLog{ServiceInput: si, log: log}
	}
	// No polling by the shim: the input is a service input with its own
	// loop. A newline on stdin (signal = "STDIN") would only call its no-op
	// Gather.
	err = s.Run(shim.PollIntervalDisabled)
	pipedrain.Wait(os.Stdout, 2*time.Second) // let Telegraf read our last metrics before we exit
	if err != nil {
		log.Errorf("%v", err)
		return 1
	}
	return 0
}

// errorsToLog starts the input with an accumulator whose AddError writes through our logger. The
// shim's accumulator logs errors through the shim's own logger, which puts a timestamp before the level
// prefix (inputs.execd then cannot map it) and keeps every message in memory for a logging setup that
// never comes in an external plugin.
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
