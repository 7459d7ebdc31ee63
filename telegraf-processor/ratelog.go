package anomaly

import (
	"strconv"
	"time"

	"github.com/influxdata/telegraf"
)

// logKind groups log messages for rate limiting: a stream of bad metrics must not flood Telegraf's log,
// but each kind of problem must still be reported.
type logKind int

const (
	kindBadValue   logKind = iota // a field that is not a finite number
	kindMissing                   // a field missing with impute = none
	kindNoField                   // none of the fields present
	kindNoKey                     // a key tag missing
	kindEvicted                   // max_series reached
	kindStateWrite                // the state file could not be written
	numKinds
)

// rateLimiter logs the first message of a kind at once, then at most one per interval with the number
// suppressed in between.
type rateLimiter struct {
	logger     telegraf.Logger
	now        func() time.Time
	interval   time.Duration
	last       [numKinds]time.Time
	suppressed [numKinds]int
}

func (r *rateLimiter) init(log telegraf.Logger, now func() time.Time, interval time.Duration) {
	*r = rateLimiter{logger: log, now: now, interval: interval}
}

// log reports msg about metric m (nil when not about a metric).
func (r *rateLimiter) log(kind logKind, m telegraf.Metric, msg string) {
	now := r.now()
	if !r.last[kind].IsZero() && now.Sub(r.last[kind]) < r.interval {
		r.suppressed[kind]++
		return
	}
	r.last[kind] = now
	more := ""
	if n := r.suppressed[kind]; n > 0 {
		more = " (and " + strconv.Itoa(n) + " more like this since the last report)"
		r.suppressed[kind] = 0
	}
	about := ""
	if m != nil {
		about = describe(m) + ": "
	}
	switch kind {
	case kindStateWrite:
		r.logger.Error(about + msg + more)
	case kindEvicted:
		r.logger.Warn(about + msg + more)
	default:
		r.logger.Warn("not scored: " + about + msg + more)
	}
}

// describe names a metric by measurement and tags, enough to find the sensor.
func describe(m telegraf.Metric) string {
	s := m.Name()
	for _, t := range m.TagList() {
		s += "," + t.Key + "=" + t.Value
	}
	return s
}

// discardLogger is used when the plugin is built without a logger (direct use in Go code).
type discardLogger struct{}

func (discardLogger) Level() telegraf.LogLevel         { return telegraf.Error }
func (discardLogger) AddAttribute(string, interface{}) {}
func (discardLogger) Errorf(string, ...interface{})    {}
func (discardLogger) Error(...interface{})             {}
func (discardLogger) Warnf(string, ...interface{})     {}
func (discardLogger) Warn(...interface{})              {}
func (discardLogger) Infof(string, ...interface{})     {}
func (discardLogger) Info(...interface{})              {}
func (discardLogger) Debugf(string, ...interface{})    {}
func (discardLogger) Debug(...interface{})             {}
func (discardLogger) Tracef(string, ...interface{})    {}
func (discardLogger) Trace(...interface{})             {}
