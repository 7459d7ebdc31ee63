package qa

import (
	"math"
	"testing"
)

func TestBackfill(t *testing.T) {
	m := func(sensor, t int64, reason Reason, since int64) Mark {
		k := KindNone
		if reason != ReasonNone {
			k = KindSensor
		}
		score := float32(0.1)
		if reason != ReasonNone {
			score = 0.9
		}
		return Mark{Sensor: sensor, Time: t, Since: since, Score: score, Kind: k, Reason: reason, Anomaly: reason != ReasonNone}
	}
	marks := []Mark{
		m(1, 1, "", 0), m(2, 1, "", 0),
		m(1, 2, "", 0), m(2, 2, ReasonSpike, 2), // sensor 1's flatline began at 2; 2's jump at 2
		m(1, 3, "", 0), m(2, 3, ReasonABDivergence, 2),
		m(1, 4, ReasonFlatline, 2), m(2, 4, ReasonABDivergence, 2),
		m(1, 5, "", 0), m(2, 5, "", 0),
		m(1, 6, "", 0), m(2, 6, ReasonStale, 6), // the first reading after a gap: the one before it is sound
	}
	Backfill(marks, 0.7)
	want := []Reason{
		"", "",
		ReasonFlatline, ReasonABDivergence,
		ReasonFlatline, ReasonABDivergence,
		ReasonFlatline, ReasonABDivergence,
		"", "",
		"", ReasonStale,
	}
	for i, w := range want {
		got := marks[i]
		if got.Reason != w || got.Anomaly != (w != "") {
			t.Errorf("mark %d (sensor %d, t %d): %s, want %q", i, got.Sensor, got.Time, got.Reason, w)
		}
		if got.Anomaly && (got.Score < 0.7 || got.Kind != KindSensor) {
			t.Errorf("mark %d: marked back with score %v kind %q", i, got.Score, got.Kind)
		}
	}
}

// TestMarkScoreKeepsItsSide: a mark's float32 score stays on its verdict's side of any float64
// threshold it was judged against, where plain rounding crosses it (0.7 rounds down, 0.8 up).
func TestMarkScoreKeepsItsSide(t *testing.T) {
	for _, th := range []float64{0.7, 0.8, 0.9, 0.99999, 1} {
		r := Reading{}
		above := MarkOf(1, &r, &Result{Score: th, Anomaly: true}, false)
		if !(float64(above.Score) >= th) {
			t.Errorf("anomaly at threshold %v: mark score %v < threshold", th, above.Score)
		}
		below := MarkOf(1, &r, &Result{Score: math.Nextafter(th, 0)}, false)
		if !(float64(below.Score) < th) {
			t.Errorf("no anomaly just under %v: mark score %v ≥ threshold", th, below.Score)
		}
	}
}

// TestBackfillScoreKeepsItsSide: a reading marked back into an episode scores at least the float64
// threshold, where float32(threshold) alone falls under it (0.7).
func TestBackfillScoreKeepsItsSide(t *testing.T) {
	const th = 0.7
	marks := []Mark{
		{Sensor: 1, Time: 1, Score: 0.1},
		{Sensor: 1, Time: 2, Score: float32(th), Anomaly: true, Kind: KindSensor, Reason: ReasonFlatline, Since: 1}, // as a hand-made mark could hold it: under th
	}
	Backfill(marks, th)
	if m := marks[0]; !m.Anomaly || !(float64(m.Score) >= th) {
		t.Errorf("backfilled mark: anomaly %v, score %v; want an anomaly scoring ≥ %v", m.Anomaly, m.Score, th)
	}
}
