package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/influxdata/telegraf"
)

// stderrLogger is a telegraf.Logger writing one line per message as "E! message", the form
// processors.execd reads from a plugin's stderr and re-logs at the matching level under its own name.
type stderrLogger struct {
	mu    sync.Mutex
	w     io.Writer
	level telegraf.LogLevel
}

func newStderrLogger(w io.Writer, debug bool) *stderrLogger {
	l := &stderrLogger{w: w, level: telegraf.Info}
	if debug {
		l.level = telegraf.Debug
	}
	return l
}

func (l *stderrLogger) print(level telegraf.LogLevel, msg string) {
	if !l.level.Includes(level) {
		return
	}
	// One message, one line: processors.execd reads stderr line by line.
	msg = strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", " ")
	l.mu.Lock()
	fmt.Fprintf(l.w, "%s %s\n", level.Indicator(), msg)
	l.mu.Unlock()
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
