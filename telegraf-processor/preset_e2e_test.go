package anomaly

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/testutil"
)

const presetConf = `[[processors.anomaly]]
  preset = "purpleair"
  epa_correction = "extended"
  window_size = 20
`

// presetReadings is line protocol as the purpleair input writes it for three sensors: sensor 2's
// channel B reads 3× from reading 25 on, sensor 3's humidity read fails at reading 30, sensor 1 loses
// its channels (absent fields, as the input writes nulls) at reading 35; one cpu metric bypasses.
func presetReadings(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		ts := t0.Add(time.Duration(i) * cadence).UnixNano()
		for s := 1; s <= 3; s++ {
			f := cleanFields(i + s)
			a, bb, rh := f["pm2.5_cf_1_a"].(float64), f["pm2.5_cf_1_b"].(float64), f["humidity"].(float64)
			switch {
			case s == 2 && i >= 25:
				bb = 3 * a
			case s == 3 && i == 30:
				rh = 255
			}
			channels := fmt.Sprintf("pm2.5_cf_1_a=%g,pm2.5_cf_1_b=%g,pm2.5_cf_1=%g,pm2.5_atm=%g,", a, bb, (a+bb)/2, f["pm2.5_atm"])
			if s == 1 && i >= 35 {
				channels = ""
			}
			fmt.Fprintf(&b, "purpleair,sensor_index=%d %shumidity=%g,temperature=%g,pressure=%g,latitude=%g,longitude=%g,rssi=-60 %d\n",
				s, channels, rh, f["temperature"], f["pressure"], 37.8+float64(s)/100, f["longitude"], ts)
		}
		if i == 10 {
			fmt.Fprintf(&b, "cpu,host=x usage_idle=99.5 %d\n", ts)
		}
	}
	return b.Bytes()
}

// TestTelegrafEndToEndPreset runs the preset through a real Telegraf and processors.execd: the
// command accepts the preset's options, and its output equals the processor's in-process.
func TestTelegrafEndToEndPreset(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Telegraf; skipped with -short")
	}
	plugin := buildCommand(t, "cmd/telegraf-anomaly", t.TempDir())
	e := newE2E(t, plugin, presetConf)
	input := presetReadings(40)
	out, log := e.run(t, input)
	got := parseLP(t, out)

	inproc, _ := newPresetProcessor(t, func(p *Anomaly) { p.EPACorrection = "extended"; p.WindowSize = 20 })
	var want []telegraf.Metric
	for _, m := range parseLP(t, input) {
		if m.Name() == "purpleair" {
			want = append(want, run(t, inproc, m)...)
		} else {
			want = append(want, m)
		}
	}
	testutil.RequireMetricsEqual(t, want, got, testutil.SortMetrics())

	reasons := map[string]int{}
	for _, m := range got {
		if r, ok := m.GetField(ReasonField); ok {
			reasons[m.Tags()["sensor_index"]+" "+r.(string)]++
		}
	}
	if reasons["2 ab_divergence"] == 0 || reasons["3 out_of_range"] != 1 || reasons["1 missing"] != 5 {
		t.Errorf("flagged (sensor reason: count) %v, want sensor 2 ab_divergence, sensor 3 out_of_range once, sensor 1 missing 5 times", reasons)
	}
	if strings.Contains(log, "E! ") {
		t.Errorf("errors in Telegraf's log:\n%s", log)
	}
}
