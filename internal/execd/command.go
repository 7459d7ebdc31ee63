package execd

import (
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/influxdata/telegraf"
)

// drainWithin bounds how long a command waits, when it exits, for Telegraf to read its last output.
const drainWithin = 2 * time.Second

// Setup prepares a command's process: its Logger on stderr (debug messages only when debug is set),
// and the standard logger routed through it at warning level, so that a library writing there never
// produces a line without a level. The returned function is to be deferred: it waits until Telegraf has
// read what the command wrote last to stdout (see the package's doc).
func Setup(stdout, stderr io.Writer, debug bool) (*Logger, func()) {
	logger := New(stderr, debug)
	log.SetFlags(0)
	log.SetOutput(logger.Writer(telegraf.Warn))
	done := func() {
		if f, ok := stdout.(*os.File); ok {
			WaitDrained(f, drainWithin)
		}
	}
	return logger, done
}

// OnSignal calls f in a goroutine of its own on the first SIGINT or SIGTERM (Telegraf's last resort
// after closing stdin, or Ctrl-C when a command runs by hand). The returned function stops listening.
func OnSignal(f func(os.Signal)) (stop func()) {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		if sig, ok := <-signals; ok {
			f(sig)
		}
	}()
	return func() { signal.Stop(signals) }
}
