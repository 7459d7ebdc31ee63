package execd

import (
	"bytes"
	"testing"
)

func TestLoggerWritesTelegrafPrefixes(t *testing.T) {
	tests := []struct {
		name  string
		debug bool
		log   func(*Logger)
		want  string
	}{
		{"one line per level", false, func(l *Logger) {
			l.Errorf("state %s", "corrupt")
			l.Error("bad ", 1)
			l.Warnf("careful")
			l.Info("hello")
			l.Infof("x=%d", 2)
		}, "E! state corrupt\nE! bad 1\nW! careful\nI! hello\nI! x=2\n"},
		{"multi-line message on one line", false, func(l *Logger) { l.Warn("two\nlines\n") }, "W! two lines\n"},
		{"debug hidden without -debug", false, func(l *Logger) { l.Debug("hidden"); l.Debugf("hidden %d", 1); l.Trace("hidden") }, ""},
		{"debug shown with -debug", true, func(l *Logger) { l.Debugf("x=%d", 1); l.Trace("hidden") }, "D! x=1\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			tt.log(New(&buf, tt.debug))
			if buf.String() != tt.want {
				t.Errorf("logged %q, want %q", buf.String(), tt.want)
			}
		})
	}
}
