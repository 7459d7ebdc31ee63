// Command telegraf-anomaly runs the `anomaly` processor as a Telegraf external plugin: Telegraf's
// processors.execd starts it, writes metrics to its stdin in line protocol and reads the processed
// metrics from its stdout. Its log goes to stderr with Telegraf's level prefixes (E!, W!, I!, D!),
// which processors.execd maps onto Telegraf's own log levels.
//
//	[[processors.execd]]
//	  namepass = ["purpleair"]
//	  command = ["/usr/local/bin/telegraf-anomaly", "-config", "/etc/telegraf/anomaly.conf"]
//
// The configuration file holds one [[processors.anomaly]] block (see the plugin's README); a second
// one is refused. When stdin closes the processor saves its state and the command exits. Unsigned
// fields pass unchanged (with influx_uint_support = true on processors.execd, Telegraf sends them as
// such), and every line on stderr carries a level (see internal/execd).
package main

import (
	"flag"
	"io"
	"os"

	"github.com/hazewatch/hazewatch/internal/execd"
	_ "github.com/hazewatch/hazewatch/telegraf-processor" // registers processors.anomaly
)

func main() {
	configFile := flag.String("config", "", "path to the configuration file holding one [[processors.anomaly]] block (default: all defaults)")
	debug := flag.Bool("debug", false, "also log debug messages")
	flag.Parse()
	os.Exit(run(*configFile, *debug, os.Stdin, os.Stdout, os.Stderr))
}

// run has the same steps as telegraf-purpleair's (internal/execd holds what they share); the two differ in the
// plugin's kind and in what a signal does.
func run(configFile string, debug bool, stdin io.Reader, stdout, stderr io.Writer) int {
	logger, drained := execd.Setup(stdout, stderr, debug)
	defer drained()
	processor, err := execd.LoadProcessor("anomaly", configFile, logger)
	if err != nil {
		logger.Errorf("%v", err)
		return 1
	}
	// Telegraf closes stdin to stop us; a signal must not lose the models either.
	if saver, ok := processor.(interface{ SaveState() error }); ok {
		defer execd.OnSignal(func(sig os.Signal) {
			if err := saver.SaveState(); err != nil {
				logger.Errorf("on %v: %v", sig, err)
				os.Exit(1)
			}
			logger.Infof("stopped by %v; state saved", sig)
			os.Exit(0)
		})()
	}
	if err := execd.Processor(processor, stdin, stdout, logger); err != nil {
		logger.Errorf("%v", err)
		return 1
	}
	return 0
}
