package engine

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// The preset's results keep anomaly ⇔ score ≥ threshold at the threshold's own
// edge (float32(0.8) is above 0.8 and float32(0.7) below 0.7: the marks are made
// by qa.MarkOf, which narrows each score towards its verdict's side).
// purpleair.kind keeps one audience's verdicts: a verdict of the other kind
// reads as none, its score below the threshold; verdicts of the kind kept,
// and readings without one, are as the detector gave them.
func TestPurpleAirResultsKindAndThreshold(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, threshold := range []float64{0.7, 0.8} {
		// Just under the threshold is where the detector caps a score no check backs; at it, an anomaly.
		below := math.Nextafter(threshold, 0)
		mark := func(sensor int64, minute int, since time.Time, res qa.Result, detail string) qa.Mark {
			r := qa.NewReading(at.Add(time.Duration(minute) * time.Minute))
			res.Since = since
			m := qa.MarkOf(sensor, &r, &res, true)
			m.Detail = detail
			return m
		}
		marks := []qa.Mark{
			mark(0, 0, time.Time{}, qa.Result{Score: 0.2}, ""),
			mark(0, 1, at, qa.Result{Score: 0.95, Kind: qa.KindSensor, Reason: qa.ReasonFlatline, Anomaly: true}, "flat"),
			mark(0, 2, time.Time{}, qa.Result{Score: below}, ""),
			mark(1, 0, at, qa.Result{Score: 0.9, Kind: qa.KindAir, Reason: qa.ReasonAir, Anomaly: true}, "smoke"),
			mark(1, 1, at, qa.Result{Score: threshold, Kind: qa.KindAir, Reason: qa.ReasonAir, Anomaly: true}, "smoke"),
			mark(1, 2, time.Time{}, qa.Result{Score: 0.3}, ""),
		}
		for _, kind := range []string{"", models.PurpleAirKindSensor, models.PurpleAirKindAir} {
			t.Run(fmt.Sprintf("threshold=%v/kind=%s", threshold, kind), func(t *testing.T) {
				q := &models.Query{Mode: models.ModeFleet, PurpleAir: models.PurpleAir{Threshold: threshold, Kind: kind}}
				got := paResults(q, append([]qa.Mark(nil), marks...), []string{"10", "11"})
				if len(got) != 2 || len(got[0].Times) != 3 || len(got[1].Times) != 3 {
					t.Fatalf("%d sensors, want 2 of 3 readings each", len(got))
				}
				for s, er := range got {
					for i := range er.Times {
						m := marks[3*s+i]
						where := fmt.Sprintf("sensor %s reading %d (%+v)", er.Labels["sensor_index"], i, m)
						if (er.Anomaly[i] == 1) != (er.Score[i] >= threshold) {
							t.Errorf("%s: anomaly %v but score %v against %v", where, er.Anomaly[i], er.Score[i], threshold)
						}
						kept := m.Anomaly && (kind == "" || string(m.Kind) == kind)
						want := float64(m.Score)
						if m.Anomaly && !kept {
							want = min(want, threshold) // then just below it
						}
						if d := er.Score[i] - want; d > 1e-6 || d < -1e-6 {
							t.Errorf("%s: score %v, want %v", where, er.Score[i], want)
						}
						if kept && (er.Anomaly[i] != 1 || er.Kind[i] != string(m.Kind) || er.Reason[i] != string(m.Reason) || er.Detail[i] != m.Detail ||
							!er.Since[i].Equal(time.Unix(0, m.Since))) {
							t.Errorf("%s: %v %q %q %q %v, want the verdict untouched", where, er.Anomaly[i], er.Kind[i], er.Reason[i], er.Detail[i], er.Since[i])
						}
						if !kept && (er.Anomaly[i] != 0 || er.Kind[i] != "" || er.Reason[i] != "" || er.Detail[i] != "" || !er.Since[i].IsZero()) {
							t.Errorf("%s: %v %q %q %q %v, want no verdict", where, er.Anomaly[i], er.Kind[i], er.Reason[i], er.Detail[i], er.Since[i])
						}
					}
				}
			})
		}
	}
}
