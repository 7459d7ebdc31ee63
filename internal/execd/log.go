// Logger is the telegraf.Logger of the commands. Telegraf's execd plugins read a child's stderr line by
// line and re-log a line that starts with a level prefix ("E! ", "W! ", "I! ", "D! ") at that level
// under their own name. The shim's own logger cannot be used: it writes a timestamp before the prefix,
// which execd then cannot map.

package execd

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/influxdata/telegraf"
)

// Logger writes one "E! message" line per message to w. It is safe for concurrent use.
type Logger struct {
	mu    sync.Mutex
	w     io.Writer
	level telegraf.LogLevel
}

// New returns a Logger writing errors, warnings and information to w, and also debug messages when debug
// is set.
func New(w io.Writer, debug bool) *Logger {
	l := &Logger{w: w, level: telegraf.Info}
	if debug {
		l.level = telegraf.Debug
	}
	return l
}

func (l *Logger) print(level telegraf.LogLevel, msg string) {
	if !l.level.Includes(level) {
		return
	}
	// One message, one line: execd would log the rest of a multi-line message without its level.
	msg = strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", " ")
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "%s %s\n", level.Indicator(), msg)
}

// Level is the most verbose level logged.
func (l *Logger) Level() telegraf.LogLevel { return l.level }

// AddAttribute does nothing: execd adds the plugin's name itself.
func (*Logger) AddAttribute(string, any) {}

// The methods below are telegraf.Logger's, one per level.

func (l *Logger) Errorf(f string, a ...any) { l.print(telegraf.Error, fmt.Sprintf(f, a...)) }
func (l *Logger) Error(a ...any)            { l.print(telegraf.Error, fmt.Sprint(a...)) }
func (l *Logger) Warnf(f string, a ...any)  { l.print(telegraf.Warn, fmt.Sprintf(f, a...)) }
func (l *Logger) Warn(a ...any)             { l.print(telegraf.Warn, fmt.Sprint(a...)) }
func (l *Logger) Infof(f string, a ...any)  { l.print(telegraf.Info, fmt.Sprintf(f, a...)) }
func (l *Logger) Info(a ...any)             { l.print(telegraf.Info, fmt.Sprint(a...)) }
func (l *Logger) Debugf(f string, a ...any) { l.print(telegraf.Debug, fmt.Sprintf(f, a...)) }
func (l *Logger) Debug(a ...any)            { l.print(telegraf.Debug, fmt.Sprint(a...)) }
func (l *Logger) Tracef(f string, a ...any) { l.print(telegraf.Trace, fmt.Sprintf(f, a...)) }
func (l *Logger) Trace(a ...any)            { l.print(telegraf.Trace, fmt.Sprint(a...)) }

var _ telegraf.Logger = (*Logger)(nil)

// Writer returns an io.Writer that logs each line written to it at level: for a library that writes
// through the standard logger, whose lines would otherwise reach execd without a level.
func (l *Logger) Writer(level telegraf.LogLevel) io.Writer { return levelWriter{l, level} }

type levelWriter struct {
	l     *Logger
	level telegraf.LogLevel
}

func (w levelWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		w.l.print(w.level, line)
	}
	return len(p), nil
}
