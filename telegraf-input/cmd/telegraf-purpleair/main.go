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
// The command exits when stdin closes (Telegraf stopping) or on SIGTERM.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/models"
	"github.com/influxdata/telegraf/plugins/common/shim"

	_ "github.com/hazewatch/hazewatch/telegraf-input" // registers inputs.purpleair
)

func main() {
	configFile := flag.String("config", "", "path to a configuration file holding one [[inputs.purpleair]] block (default: all defaults)")
	debug := flag.Bool("debug", false, "also log debug messages")
	flag.Parse()
	os.Exit(run(*configFile, *debug, os.Stderr))
}

func run(configFile string, debug bool, stderr io.Writer) int {
	log := &stderrLogger{w: stderr, level: telegraf.Info}
	if debug {
		log.level = telegraf.Debug
	}
	loaded, err := shim.LoadConfig(&configFile)
	if err != nil {
		log.Errorf("loading %q: %v", configFile, err)
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
	// No polling by the shim: the input is a service input with its own
	// loop. A newline on stdin (signal = "STDIN") would only call its no-op
	// Gather.
	if err := s.Run(shim.PollIntervalDisabled); err != nil {
		log.Errorf("%v", err)
		return 1
	}
	return 0
}

// stderrLogger writes "E! message" lines, the form inputs.execd re-logs at
// the matching level.
type stderrLogger struct {
	mu    sync.Mutex
	w     io.Writer
	level telegraf.LogLevel
}

func (l *stderrLogger) print(level telegraf.LogLevel, msg string) {
	if !l.level.Includes(level) {
		return
	}
	msg = strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", " ") // one message, one line
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s\n", level.Indicator(), msg)
}

func (l *stderrLogger) Level() telegraf.LogLevel       { return l.level }
func (*stderrLogger) AddAttribute(string, interface{}) {}
func (l *stderrLogger) Errorf(f string, a ...interface{}) {
	l.print(telegraf.Error, fmt.Sprintf(f, a...))
}
func (l *stderrLogger) Error(a ...interface{}) { l.print(telegraf.Error, fmt.Sprint(a...)) }
func (l *stderrLogger) Warnf(f string, a ...interface{}) {
	l.print(telegraf.Warn, fmt.Sprintf(f, a...))
}
func (l *stderrLogger) Warn(a ...interface{}) { l.print(telegraf.Warn, fmt.Sprint(a...)) }
func (l *stderrLogger) Infof(f string, a ...interface{}) {
	l.print(telegraf.Info, fmt.Sprintf(f, a...))
}
func (l *stderrLogger) Info(a ...interface{}) { l.print(telegraf.Info, fmt.Sprint(a...)) }
func (l *stderrLogger) Debugf(f string, a ...interface{}) {
	l.print(telegraf.Debug, fmt.Sprintf(f, a...))
}
func (l *stderrLogger) Debug(a ...interface{}) { l.print(telegraf.Debug, fmt.Sprint(a...)) }
func (l *stderrLogger) Tracef(f string, a ...interface{}) {
	l.print(telegraf.Trace, fmt.Sprintf(f, a...))
}
func (l *stderrLogger) Trace(a ...interface{}) { l.print(telegraf.Trace, fmt.Sprint(a...)) }
