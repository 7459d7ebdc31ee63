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
		closePipes(stdout, stderr)
	}
	return logger, done
}

// eofWithin is how long a command, having closed its pipes, stays alive before exiting. Telegraf reads
// each pipe until EOF while it waits for the process, and closes its ends once the process has exited:
// a reader still blocked in read then fails with "file already closed", which Telegraf logs as an error
// of the plugin at every stop. Closing our ends first hands each reader its EOF; the pause lets Telegraf's
// reader goroutines take it before the exit closes the pipes under them.
const eofWithin = 250 * time.Millisecond

// closePipes closes those of the writers that are pipes (what Telegraf's execd plugins give a command;
// nothing is closed when it runs in a terminal or writes to files), then pauses for eofWithin.
func closePipes(writers ...io.Writer) {
	closed := false
	for _, w := range writers {
		f, ok := w.(*os.File)
		if !ok {
			continue
		}
		if fi, err := f.Stat(); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
			continue
		}
		f.Close()
		closed = true
	}
	if closed {
		time.Sleep(eofWithin)
	}
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
