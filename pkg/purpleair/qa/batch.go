package qa

import "math"

// Mark is what batch use keeps of one reading's Result: a few dozen bytes, so that millions of
// readings fit.
type Mark struct {
	Sensor  int64 // any number naming the sensor
	Time    int64 // the reading's time, Unix nanoseconds
	Since   int64 // Result.Since in Unix nanoseconds, when Anomaly
	Score   float32
	EPA     float32
	Kind    Kind
	Reason  Reason
	Anomaly bool
	Detail  string
}

// MarkOf keeps r's result for Backfill.
func MarkOf(sensor int64, r *Reading, res *Result, detail bool) Mark {
	m := Mark{Sensor: sensor, Time: r.Time.UnixNano(), Score: scoreFloat32(res.Score, res.Anomaly), EPA: float32(res.EPA),
		Kind: res.Kind, Reason: res.Reason, Anomaly: res.Anomaly}
	if res.Anomaly {
		m.Since = res.Since.UnixNano()
		if detail {
			m.Detail = res.Detail
		}
	}
	return m
}

// Backfill is what batch use adds to the streaming pass, which can only flag an episode once it
// shows: each flagged episode is marked back to where it began — a reading of the same sensor
// after the episode's Since and before its first flag takes the episode's kind, reason and score
// (a flatline from its first repeat, a drift from when the ratio began to leave) — and a spike that the sensor's
// next flagged readings show to be a lasting divergence becomes ab_divergence. marks are in time
// order, sensors interleaved, as Detector.Observe took them.
func Backfill(marks []Mark, threshold float64) {
	type open struct {
		since  int64
		kind   Kind
		reason Reason
		score  float32
		detail string
	}
	episodes := make(map[int64]*open)
	for i := len(marks) - 1; i >= 0; i-- {
		m := &marks[i]
		ep := episodes[m.Sensor]
		switch {
		case m.Anomaly && m.Reason == ReasonSpike && ep != nil && ep.reason == ReasonABDivergence:
			m.Reason = ReasonABDivergence
		case m.Anomaly:
			if ep == nil || m.Since < ep.since || m.Reason != ep.reason {
				episodes[m.Sensor] = &open{since: m.Since, kind: m.Kind, reason: m.Reason,
					score: max(m.Score, scoreFloat32(threshold, true)), detail: m.Detail}
			}
		case ep != nil && m.Time >= ep.since:
			m.Anomaly, m.Kind, m.Reason, m.Score = true, ep.kind, ep.reason, max(m.Score, ep.score)
			m.Since, m.Detail = ep.since, ep.detail
		default:
			delete(episodes, m.Sensor)
		}
	}
}

// scoreFloat32 narrows a score towards its verdict's side: up for an anomaly, down otherwise, so that
// "anomaly ⇔ score ≥ threshold" still holds when the float32 is compared with a float64 threshold
// (float32(0.7) < 0.7 and float32(0.8) > 0.8 would each cross it).
func scoreFloat32(score float64, anomaly bool) float32 {
	f := float32(score)
	switch {
	case anomaly && float64(f) < score:
		f = math.Nextafter32(f, float32(math.Inf(1)))
	case !anomaly && float64(f) > score:
		f = math.Nextafter32(f, float32(math.Inf(-1)))
	}
	return f
}
