// Command telegraf-anomaly runs the `anomaly` processor as a Telegraf external plugin: Telegraf's
// processors.execd starts it, writes metrics to its stdin in line protocol and reads the processed
// metrics from its stdout. Its log goes to stderr with Telegraf's level prefixes (E!, W!, I!, D!),
// which processors.execd maps onto Telegraf's own log levels.
//
//	[[processors.execd]]
//	  namepass = ["purpleair"]
//	  command = ["/usr/local/bin/telegraf-anomaly", "-config", "/etc/telegraf/anomaly.conf"]
//
// The configuration file holds one [[processors.anomaly]] block (see the plugin's README). When stdin
// closes the processor saves its state and the command exits.
package main

import (
	"flag"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/common/shim"

	"github.com/hazewatch/hazewatch/internal/execdlog"
	"github.com/hazewatch/hazewatch/internal/pipedrain"
	"github.com/hazewatch/hazewatch/internal/shimconfig"
	_ "github.com/hazewatch/hazewatch/telegraf-processor" // registers processors.anomaly
)

func main() {
	configFile := flag.String("config", "", "path to the configuration file holding one [[processors.anomaly]] block (default: all defaults)")
	debug := flag.Bool("debug", false, "also log debug messages")
	flag.Parse()
	os.Exit(run(*configFile, *debug, os.Stderr))
}

func run(configFile string, debug bool, stderr io.Writer) int {
	log := execdlog.New(stderr, debug)

	loaded, err := shim.LoadConfig(&configFile)
	if err != nil {
		log.Errorf("loading %s: %v", configFile, err)
		return 1
	}
	// Telegraf refuses options a plugin does not have; the shim's loader ignores them.
	if err := shimconfig.CheckUnused(configFile); err != nil {
		log.Errorf("configuration %s: %v", configFile, err)
		return 1
	}
	processor := loaded.Processor
	if processor == nil {
		log.Errorf("%s holds no [[processors.anomaly]] block", configFile)
		return 1
	}
	// Our logger, not the shim's: the shim's writes a timestamp before the level, which
	// processors.execd cannot map, and keeps every message in memory until Telegraf's logging is set up.
	models.SetLoggerOnPlugin(processor, log)
	if p, ok := processor.(telegraf.Initializer); ok {
		if err := p.Init(); err != nil {
			log.Errorf("configuration %s: %v", configFile, err)
			return 1
		}
	}

	// Telegraf closes stdin to stop us; a signal (Telegraf's last resort, or Ctrl-C when run by hand)
	// must not lose the models either.
	if saver, ok := processor.(interface{ SaveState() error }); ok {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
		go func() {
			sig := <-signals
			if err := saver.SaveState(); err != nil {
				log.Errorf("on %v: %v", sig, err)
				os.Exit(1)
			}
			log.Infof("stopped by %v; state saved", sig)
			os.Exit(0)
		}()
	}

	s := shim.New()
	s.Processor = processor
	err = s.Run(shim.PollIntervalDisabled)
	pipedrain.Wait(os.Stdout, 2*time.Second) // let Telegraf read our last metrics before we exit
	if err != nil {
		log.Errorf("%v", err)
		return 1
	}
	return 0
}
