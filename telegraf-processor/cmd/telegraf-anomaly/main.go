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
// such), and every line on stderr carries a level (see internal/execdrun).
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
	"github.com/influxdata/telegraf/plugins/processors"

	"github.com/hazewatch/hazewatch/internal/execdlog"
	"github.com/hazewatch/hazewatch/internal/execdrun"
	"github.com/hazewatch/hazewatch/internal/pipedrain"
	"github.com/hazewatch/hazewatch/internal/shimconfig"
	_ "github.com/hazewatch/hazewatch/telegraf-processor" // registers processors.anomaly
)

func main() {
	configFile := flag.String("config", "", "path to the configuration file holding one [[processors.anomaly]] block (default: all defaults)")
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

	processor, code := load(configFile, logger)
	if processor == nil {
		return code
	}
	// Our logger, not the shim's: the shim's writes a timestamp before the level, which
	// processors.execd cannot map, and keeps every message in memory until Telegraf's logging is set up.
	models.SetLoggerOnPlugin(processor, logger)
	if p, ok := processor.(telegraf.Initializer); ok {
		if err := p.Init(); err != nil {
			logger.Errorf("configuration %s: %v", configFile, err)
			return 1
		}
	}

	// Telegraf closes stdin to stop us; a signal (Telegraf's last resort, or Ctrl-C when run by hand)
	// must not lose the models either.
	if saver, ok := processor.(interface{ SaveState() error }); ok {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
		defer signal.Stop(signals)
		go func() {
			sig, ok := <-signals
			if !ok {
				return
			}
			if err := saver.SaveState(); err != nil {
				logger.Errorf("on %v: %v", sig, err)
				os.Exit(1)
			}
			logger.Infof("stopped by %v; state saved", sig)
			os.Exit(0)
		}()
	}

	if err := execdrun.Processor(processor, stdin, stdout, logger); err != nil {
		logger.Errorf("%v", err)
		return 1
	}
	return 0
}

// load reads the configuration file; without one, the processor's defaults. A nil processor comes
// with the exit code, its reason already logged.
func load(configFile string, logger telegraf.Logger) (telegraf.StreamingProcessor, int) {
	if configFile == "" {
		// Not through the shim's loader, which announces the defaults on stderr without a level.
		return processors.Processors["anomaly"](), 0
	}
	// The shim's loader alone would ignore options the processor does not have and every block after
	// the first.
	_, processor, err := shimconfig.Load(configFile)
	if err != nil {
		logger.Errorf("%v", err)
		return nil, 1
	}
	if processor == nil {
		logger.Errorf("%q holds no [[processors.anomaly]] block", configFile)
		return nil, 1
	}
	return processor, 0
}
