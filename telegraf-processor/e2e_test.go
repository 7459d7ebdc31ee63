package anomaly

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/influxdata/telegraf/testutil"

	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/internal/telegraftest"
)

// buildCommand compiles the Go command in dir (relative to this package) into out.
func buildCommand(t testing.TB, dir, out string) string {
	t.Helper()
	bin := filepath.Join(out, filepath.Base(dir))
	cmd := exec.Command(repotest.GoTool(), "build", "-o", bin, "./"+dir)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, b)
	}
	return bin
}

// syntheticReadings is line protocol for PurpleAir-like metrics of one global stream: a slow daily
// wave with noise, spikes, missing readings, one string reading, and (not purpleair) a cpu metric
// that namepass must keep away from the processor.
func syntheticReadings(from, to int) []byte {
	var b bytes.Buffer
	for i := from; i < to; i++ {
		ts := time.Unix(1712793665, 0).Add(time.Duration(i) * 2 * time.Minute).UnixNano()
		v := 12 + 8*math.Sin(float64(i)/40) + float64((i*7919)%13)/4
		switch {
		case i%97 == 50:
			v = 1100 + float64(i%3) // saturated sensor
		case i%31 == 7:
			fmt.Fprintf(&b, "purpleair,sensor_index=%d rssi=-60i,pm2.5_cf_1=%.2f %d\n", 1000+i%5, v, ts) // pm1.0_cf_1 missing
			continue
		case i == 123:
			fmt.Fprintf(&b, "purpleair,sensor_index=%d pm1.0_cf_1=\"err\" %d\n", 1000+i%5, ts)
			continue
		}
		fmt.Fprintf(&b, "purpleair,sensor_index=%d pm1.0_cf_1=%.2f,pm2.5_cf_1=%.2f,rssi=-55i %d\n", 1000+i%5, v, v*1.3, ts)
		if i%50 == 0 {
			fmt.Fprintf(&b, "cpu,host=x usage_idle=99.5 %d\n", ts)
		}
	}
	return b.Bytes()
}

func parseLP(t testing.TB, b []byte) []telegraf.Metric {
	t.Helper()
	p := &influx.Parser{}
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	ms, err := p.Parse(b)
	if err != nil {
		t.Fatalf("parsing line protocol: %v", err)
	}
	return ms
}

// fileRouteConfig is a Telegraf configuration that reads line protocol from input with inputs.file and
// writes it to output with outputs.file, through processors (TOML blocks starting with a newline; "" for
// none), with a batch and buffer large enough for a --once run of the whole file.
func fileRouteConfig(input, processors, output string) string {
	return fmt.Sprintf(`[agent]
  omit_hostname = true
  skip_processors_after_aggregators = true
  metric_batch_size = 5000
  metric_buffer_limit = 1000000

[[inputs.file]]
  files = [%q]
  data_format = "influx"
%s
[[outputs.file]]
  files = [%q]
  data_format = "influx"
`, input, processors, output)
}

// execdProcessor is the processors.execd block of fileRouteConfig running plugin with the configuration
// file conf on the purpleair measurement.
func execdProcessor(plugin, conf string) string {
	return fmt.Sprintf("\n[[processors.execd]]\n  namepass = [\"purpleair\"]\n  command = [%q, \"-config\", %q]\n", plugin, conf)
}

// e2eSetup writes the Telegraf and plugin configurations, exactly as the README documents them.
type e2eSetup struct {
	dir, telegraf, plugin, input, output, state, conf string
}

func newE2E(t testing.TB, plugin string, pluginConf string) *e2eSetup {
	dir := t.TempDir()
	e := &e2eSetup{
		dir:      dir,
		telegraf: telegraftest.Binary(t),
		plugin:   plugin,
		input:    filepath.Join(dir, "in.lp"),
		output:   filepath.Join(dir, "out.lp"),
		state:    filepath.Join(dir, "anomaly.state"),
		conf:     filepath.Join(dir, "telegraf.conf"),
	}
	anomalyConf := filepath.Join(dir, "anomaly.conf")
	if err := os.WriteFile(anomalyConf, []byte(strings.ReplaceAll(pluginConf, "STATE", e.state)), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := fileRouteConfig(e.input, execdProcessor(plugin, anomalyConf), e.output)
	if err := os.WriteFile(e.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// run feeds input through Telegraf once and returns what outputs.file wrote and Telegraf's log.
func (e *e2eSetup) run(t testing.TB, input []byte) ([]byte, string) {
	t.Helper()
	out, res := e.runTimed(t, input)
	return out, string(res.Stderr)
}

// runTimed is run, also returning Telegraf's timing.
func (e *e2eSetup) runTimed(t testing.TB, input []byte) ([]byte, telegraftest.Result) {
	t.Helper()
	if err := os.WriteFile(e.input, input, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(e.output)
	res := telegraftest.RunOnce(t, e.telegraf, e.conf, 120*time.Second)
	out, err := os.ReadFile(e.output)
	if err != nil {
		t.Fatalf("no Telegraf output: %v\nlog:\n%s", err, res.Stderr)
	}
	return out, res
}

const referenceConf = `[[processors.anomaly]]
  fields = ["pm1.0_cf_1"]
  key_tags = []            # one global model, as the reference
  trees = 10
  height = 8
  window_size = 72
  seed = 11
  threshold = 0.7
  score_all_missing = true # the reference imputes a null reading and scores it
  state_file = "STATE"
  [processors.anomaly.limits]
    "pm1.0_cf_1" = [0.0, 1200.0]
  [processors.anomaly.impute]
    "pm1.0_cf_1" = "mean"
`

// TestTelegrafEndToEnd runs a real Telegraf: inputs.file → processors.execd running telegraf-anomaly →
// outputs.file, twice, and checks the scores are those of the processor in-process and that the second
// run continues from the saved state.
func TestTelegrafEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs Telegraf; skipped with -short")
	}
	plugin := buildCommand(t, "cmd/telegraf-anomaly", t.TempDir())
	e := newE2E(t, plugin, referenceConf)

	// The same configuration in-process, fed the same metrics in the same order.
	inproc := referenceProcessor(t, ModeAnnotate)
	expect := func(input []byte) (want []telegraf.Metric, bypass int) {
		for _, m := range parseLP(t, input) {
			if m.Name() == "purpleair" {
				want = append(want, run(t, inproc, m)...)
			} else {
				want = append(want, m)
				bypass++
			}
		}
		return want, bypass
	}

	for round, span := range [][2]int{{0, 300}, {300, 420}} {
		input := syntheticReadings(span[0], span[1])
		out, log := e.run(t, input)
		got := parseLP(t, out)
		want, bypass := expect(input)
		// outputs.file keeps the order within a stream, but the cpu metrics bypass the process.
		testutil.RequireMetricsEqual(t, want, got, testutil.SortMetrics())

		var warmup, scored, skipped, imputed int
		for _, m := range got {
			switch {
			case m.HasField("anomaly_warmup"):
				warmup++
			case m.HasField("anomaly_score"):
				scored++
			case m.HasField("anomaly_skipped"):
				skipped++
			}
			if m.HasField("imputed") {
				imputed++
			}
		}
		t.Logf("round %d: %d metrics out (%d warmup, %d scored, %d skipped, %d imputed, %d bypassed)", round, len(got), warmup, scored, skipped, imputed, bypass)
		if bypass == 0 || scored == 0 {
			t.Fatalf("round %d: test input lacks bypassed (%d) or scored (%d) metrics", round, bypass, scored)
		}
		if _, err := os.Stat(e.state); err != nil {
			t.Fatalf("round %d: no state file after Telegraf stopped: %v\nlog:\n%s", round, err, log)
		}
		switch round {
		case 0:
			if warmup != 72 || skipped != 1 || imputed == 0 {
				t.Errorf("first run: %d warmup (want 72), %d skipped (want 1), %d imputed (want > 0)", warmup, skipped, imputed)
			}
			// Our stderr line "I! ..." arrives as an info message of processors.execd.
			if !strings.Contains(log, "I! [processors.execd] no state file") {
				t.Errorf("plugin's info log not mapped by processors.execd:\n%s", log)
			}
			if !strings.Contains(log, `W! [processors.execd] not scored: purpleair,sensor_index=1003: "pm1.0_cf_1" is a string`) {
				t.Errorf("plugin's warning about the string reading not logged as a Telegraf warning:\n%s", log)
			}
		case 1:
			if warmup != 0 {
				t.Errorf("second run: %d warmup metrics; the state of the first run was not kept", warmup)
			}
			if strings.Contains(log, "no state file") || strings.Contains(log, "corrupt") {
				t.Errorf("second run did not load the state:\n%s", log)
			}
		}
		for _, line := range strings.Split(log, "\n") {
			// processors.execd logs a stderr line without a level prefix as `stderr: "<line>"`.
			if strings.Contains(line, "[processors.execd] stderr: ") {
				t.Errorf("plugin wrote an unprefixed stderr line: %s", line)
			}
		}
	}
}
