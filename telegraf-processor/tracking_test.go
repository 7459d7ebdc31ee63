package anomaly

import (
	"testing"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
)

// Compiled into Telegraf, the processor sees tracking metrics (an input with delivery guarantees):
// with the preset too, a metric that passes must stay undelivered until the output accepts it (no
// early Accept), and one that anomalies_only drops must be delivered at once (Drop), never lost.
func TestPresetTrackingMetrics(t *testing.T) {
	for _, mode := range []string{ModeAnnotate, ModeAnomaliesOnly} {
		t.Run(mode, func(t *testing.T) {
			p, _ := newPresetProcessor(t, func(p *Anomaly) { p.Mode = mode })
			delivered := map[int]bool{}
			var out []telegraf.Metric
			var passed []int
			ms := divergenceRun("7", 0, 16) // clean until 12, then an A/B divergence
			for i, m := range ms {
				tm, _ := metric.WithTracking(m, func(di telegraf.DeliveryInfo) {
					if !di.Delivered() {
						t.Errorf("reading %d rejected", i)
					}
					delivered[i] = true
				})
				got := run(t, p, tm)
				if len(got) == 1 {
					passed = append(passed, i)
					out = append(out, got[0])
				}
			}
			for _, i := range passed {
				if delivered[i] {
					t.Errorf("reading %d passed on but is already delivered (accepted early)", i)
				}
			}
			if mode == ModeAnnotate && len(passed) != len(ms) {
				t.Fatalf("annotate passed %d of %d", len(passed), len(ms))
			}
			if mode == ModeAnomaliesOnly {
				if len(passed) == 0 || len(passed) == len(ms) {
					t.Fatalf("anomalies_only passed %d of %d: the data should hold both kinds", len(passed), len(ms))
				}
				if len(delivered) != len(ms)-len(passed) {
					t.Errorf("%d delivered before the output, want the %d dropped", len(delivered), len(ms)-len(passed))
				}
			}
			for _, m := range out {
				m.Accept()
			}
			if len(delivered) != len(ms) {
				t.Errorf("%d of %d tracking metrics delivered", len(delivered), len(ms))
			}
		})
	}
}
