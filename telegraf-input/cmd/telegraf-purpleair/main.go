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
// Telegraf has read the metrics it wrote last (see internal/execd).
package main

import (
	"flag"
	"io"
	"os"

	"github.com/hazewatch/hazewatch/internal/execd"
	_ "github.com/hazewatch/hazewatch/telegraf-input" // registers inputs.purpleair
)

func main() {
	configFile := flag.String("config", "", "path to a configuration file holding one [[inputs.purpleair]] block (default: all defaults)")
	debug := flag.Bool("debug", false, "also log debug messages")
	flag.Parse()
	os.Exit(run(*configFile, *debug, os.Stdin, os.Stdout, os.Stderr))
}

// run has the same steps as telegraf-anomaly's (internal/execd holds what they share); the two differ in the
// plugin's kind and in what a signal does.
func run(configFile string, debug bool, stdin io.Reader, stdout, stderr io.Writer) int {
	logger, drained := execd.Setup(stdout, stderr, debug)
	defer drained()
	input, err := execd.LoadInput("purpleair", configFile, logger)
	if err != nil {
		logger.Errorf("%v", err)
		return 1
	}
	stop := make(chan struct{})
	defer execd.OnSignal(func(os.Signal) { close(stop) })()
	// The input keeps its own schedule: stdin only tells when Telegraf stops us.
	if err := execd.Input(input, stdin, stdout, logger, stop); err != nil {
		logger.Errorf("%v", err)
		return 1
	}
	return 0
}
