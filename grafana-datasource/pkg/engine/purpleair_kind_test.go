package engine

import (
	"fmt"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/grafana-datasource/pkg/models"
	"github.com/hazewatch/hazewatch/pkg/purpleair/qa"
)

// The preset's results keep anomaly ⇔ score ≥ threshold, which marks (float32
// scores) alone do not: float32(0.8) is above 0.8 and float32(0.7) below 0.7.
// purpleair.kind keeps one audience's verdicts: a verdict of the other kind
// reads as none, its score below the threshold; verdicts of the kind kept,
// and readings without one, are as the detector gave them.
func TestPurpleAirResultsKindAndThreshold(t *testing.T) {
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, threshold := range []float64{0.7, 0.8} {
		edge := float32(threshold) // the threshold as a mark holds it: above or below it
		marks := []qa.Mark{
			{Sensor: 0, Time: at.UnixNano(), Score: 0.2},
			{Sensor: 0, Time: at.Add(time.Minute).UnixNano(), Since: at.UnixNano(), Score: 0.95, Kind: qa.KindSensor, Reason: qa.ReasonFlatline, Anomaly: true, Detail: "flat"},
			{Sensor: 0, Time: at.Add(2 * time.Minute).UnixNano(), Score: edge},
			{Sensor: 1, Time: at.UnixNano(), Since: at.UnixNano(), Score: 0.9, Kind: qa.KindAir, Reason: qa.ReasonAir, Anomaly: true, Detail: "smoke"},
			{Sensor: 1, Time: at.Add(time.Minute).UnixNano(), Since: at.UnixNano(), Score: edge, Kind: qa.KindAir, Reason: qa.ReasonAir, Anomaly: true, Detail: "smoke"},
			{Sensor: 1, Time: at.Add(2 * time.Minute).UnixNano(), Score: 0.3},
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
