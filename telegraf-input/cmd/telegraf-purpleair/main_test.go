package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/parsers/influx"
	"github.com/influxdata/telegraf/testutil"

	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/internal/telegraftest"
	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// A configuration the plugin refuses (a bad value, a misspelt option) stops it at start with exit code 1
// and one "E! configuration" line naming the problem.
func TestRunRejectsBadConfig(t *testing.T) {
	for _, c := range []struct{ name, option, want string }{
		{"bad value", "fault_rate = 2.0", "fault_rate must be in [0, 1), got 2"},
		{"unknown option", "sensor_count = 5", `unknown option "inputs.purpleair.sensor_count"`},
		// The shim would run the first block and ignore the second without a word.
		{"second block", "sensors = 5\n[[inputs.purpleair]]\n  sensors = 9", "2 plugin blocks ([[inputs.purpleair]], [[inputs.purpleair]])"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conf := filepath.Join(t.TempDir(), "bad.conf")
			if err := os.WriteFile(conf, []byte("[[inputs.purpleair]]\n  source = \"simulate\"\n  "+c.option+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			if code := run(conf, false, strings.NewReader(""), io.Discard, &stderr); code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.HasPrefix(stderr.String(), "E! configuration") || !strings.Contains(stderr.String(), c.want) {
				t.Errorf("stderr %q, want it to start with \"E! configuration\" and name %q", stderr.String(), c.want)
			}
		})
	}
}

// runAsPluginEnv, when set in the environment of this test binary, makes it run the command on the
// configuration file it names instead of the tests: a real plugin process without a go build.
const runAsPluginEnv = "TELEGRAF_PURPLEAIR_TEST_RUN"

func TestMain(m *testing.M) {
	if conf, ok := os.LookupEnv(runAsPluginEnv); ok {
		os.Exit(run(conf, false, os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// Telegraf's execd supervisor calls exec.Cmd.Wait as soon as the plugin process exits, and Wait closes
// Telegraf's end of the stdout pipe: metrics the plugin wrote that Telegraf had not read yet are lost.
// Here the plugin is stopped as Telegraf stops it (stdin closed) with metrics still unread, the test
// waits for it as Telegraf does, and reads the rest only later, as a busy Telegraf might: every metric
// must still arrive.
func TestLastMetricsOutliveTheProcess(t *testing.T) {
	const sensors = 3
	conf := filepath.Join(t.TempDir(), "purpleair.conf")
	// One step of history, then (speedup 1, step 2m) two minutes of pause: what is written is all there
	// will be.
	body := fmt.Sprintf("[[inputs.purpleair]]\n  source = \"simulate\"\n  sensors = %d\n  fault_rate = 0.0\n  start = \"2024-04-11T00:00:00Z\"\n  step = \"2m\"\n  speedup = 1.0\n", sensors)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, stdin, stdout, stderr := startPlugin(t, conf)
	// The first metric, byte by byte so that nothing after it leaves the pipe.
	var first []byte
	for b := make([]byte, 1); len(first) == 0 || first[len(first)-1] != '\n'; {
		if _, err := stdout.Read(b); err != nil {
			cmd.Process.Kill()
			t.Fatalf("reading the first metric: %v (read %q)\n%s", err, first, stderr.String())
		}
		first = append(first, b[0])
	}
	stdin.Close()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	time.Sleep(500 * time.Millisecond)
	rest, err := io.ReadAll(stdout)
	if err != nil && !errors.Is(err, os.ErrClosed) {
		t.Errorf("reading the last metrics: %v", err)
	}
	if err := <-waited; err != nil {
		t.Errorf("plugin exited with %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSuffix(string(first)+string(rest), "\n"), "\n")
	if len(lines) != sensors {
		t.Fatalf("read %d metrics after the plugin exited, want %d:\n%s\nstderr:\n%s", len(lines), sensors, strings.Join(lines, "\n"), stderr.String())
	}
	for _, l := range lines {
		if !strings.HasPrefix(l, "purpleair,") {
			t.Errorf("not a purpleair metric: %q", l)
		}
	}
}

// TestRunErrorsCarryTheLevel: an error the input reports while running (here a file that is not JSON)
// reaches stderr as an "E! " line, which inputs.execd logs as an error of the plugin.
func TestRunErrorsCarryTheLevel(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "broken.json")
	if err := os.WriteFile(data, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "purpleair.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[[inputs.purpleair]]\n  source = \"file\"\n  path = %q\n", data)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, stdin, _, stderr := startPlugin(t, conf)
	defer cmd.Process.Kill()
	var line string
	for deadline := time.Now().Add(20 * time.Second); line == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, l := range strings.Split(stderr.String(), "\n") {
			if strings.Contains(l, "document 0") {
				line = l
			}
		}
	}
	stdin.Close()
	cmd.Wait()
	if line == "" {
		t.Fatalf("no error about the broken document on stderr:\n%s", stderr.String())
	}
	if !strings.HasPrefix(line, "E! ") || !strings.Contains(line, data) {
		t.Errorf("error line %q, want it to start with \"E! \" and name the file", line)
	}
}

// startPlugin runs this test binary as the plugin on conf (see TestMain), as processors.execd runs it:
// stdin and stdout piped, stderr collected.
func startPlugin(t *testing.T, conf string) (*exec.Cmd, io.WriteCloser, io.ReadCloser, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runAsPluginEnv+"="+conf)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin, stdout, stderr
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec.Cmd
// and a reading test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// buildPlugin builds this command, as a user would, into dir.
func buildPlugin(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "telegraf-purpleair")
	cmd := exec.Command(repotest.GoTool(), "build", "-o", bin, ".")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// End to end through a real Telegraf: inputs.execd runs telegraf-purpleair
// twice — the shared snapshot from a file, and a labelled simulated fleet —
// and outputs.file writes line protocol. Everything documented must arrive.
func TestTelegrafEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test builds and runs Telegraf")
	}
	snapshot := repotest.SharedData(t, repotest.SharedSnapshot)
	telegrafBin := telegraftest.Binary(t)
	dir := t.TempDir()
	plugin := buildPlugin(t, dir)

	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const sensors, seed, backSteps = 5, 7, 30
	fileConf := write("file.conf", fmt.Sprintf("[[inputs.purpleair]]\n  source = \"file\"\n  path = %q\n", snapshot))
	simConf := write("sim.conf", fmt.Sprintf(`[[inputs.purpleair]]
  source = "simulate"
  sensors = %d
  seed = %d
  fault_rate = 0.3
  label_faults = true
  tags = ["name", "location_type"]
  timestamp = "last_seen"
  start = "-%dm"
  speedup = 0
`, sensors, seed, 2*backSteps))
	out := filepath.Join(dir, "metrics.out")
	tgConf := write("telegraf.conf", fmt.Sprintf(`[agent]
  interval = "1s"
  flush_interval = "1s"
  metric_batch_size = 10000
  metric_buffer_limit = 60000
  omit_hostname = true

[[inputs.execd]]
  command = [%q, "-config", %q]
  signal = "none"
  data_format = "influx"

[[inputs.execd]]
  command = [%q, "-config", %q]
  signal = "none"
  data_format = "influx"

[[outputs.file]]
  files = [%q]
  data_format = "influx"
`, plugin, fileConf, plugin, simConf, out))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, telegrafBin, "--config", tgConf)
	tgLog := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = tgLog, tgLog
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			_ = cmd.Process.Signal(syscall.SIGTERM)
			_ = cmd.Wait()
		}
	}
	defer stop()

	// The snapshot's rows plus the simulated back-fill (start -60m at 2m
	// steps is 31 steps, or 30 if the clock ticks over a step boundary).
	wantFile, wantSim := 25552, sensors*backSteps
	var lines [][]byte
	deadline := time.Now().Add(45 * time.Second)
	for {
		b, _ := os.ReadFile(out)
		lines = bytes.SplitAfter(b, []byte("\n"))
		if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
			lines = lines[:len(lines)-1]
		}
		if len(lines) >= wantFile+wantSim {
			break
		}
		if strings.Contains(tgLog.String(), "E! [inputs.execd") {
			break // reported below
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("%d lines after 45 s, want %d\nTelegraf log:\n%s", len(lines), wantFile+wantSim, tgLog)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// Errors while running (not Telegraf's own shutdown noise, which follows
	// the SIGTERM) would be the plugin's; its info line must come through
	// at the info level.
	runLog := tgLog.String()
	stop()
	if strings.Contains(runLog, "E! [inputs.execd") {
		t.Errorf("Telegraf logged errors from the plugin:\n%s", runLog)
	}
	if !strings.Contains(runLog, "I! [inputs.execd] replayed 25552 metrics from ") {
		t.Errorf("the plugin's log did not reach Telegraf's at info level:\n%s", runLog)
	}

	parser := &influx.Parser{}
	if err := parser.Init(); err != nil {
		t.Fatal(err)
	}
	var fileMetrics, simMetrics []telegraf.Metric
	for _, l := range lines {
		ms, err := parser.Parse(l)
		if err != nil || len(ms) != 1 {
			t.Fatalf("output line %q: %v", l, err)
		}
		m := ms[0]
		if m.Name() != "purpleair" {
			t.Fatalf("measurement %q", m.Name())
		}
		if _, ok := m.GetTag("fault"); ok {
			simMetrics = append(simMetrics, m)
		} else {
			fileMetrics = append(fileMetrics, m)
		}
	}

	// The snapshot: every row once, nulls absent, values exact, floats only,
	// time = data_time_stamp.
	if len(fileMetrics) != wantFile {
		t.Errorf("%d snapshot metrics, want %d", len(fileMetrics), wantFile)
	}
	bySensor := map[string]telegraf.Metric{}
	withoutPressure := 0
	for _, m := range fileMetrics {
		bySensor[m.Tags()["sensor_index"]] = m
		if len(m.Tags()) != 1 || m.Time().Unix() != 1712793665 {
			t.Fatalf("snapshot metric %v", m)
		}
		if _, ok := m.GetField("pressure"); !ok {
			withoutPressure++
		}
		for _, f := range m.FieldList() {
			if _, ok := f.Value.(float64); !ok {
				t.Fatalf("field %s is %T, want float64", f.Key, f.Value)
			}
		}
	}
	if len(bySensor) != wantFile || withoutPressure != 1023 {
		t.Errorf("%d sensors, %d without pressure; want %d, 1023", len(bySensor), withoutPressure, wantFile)
	}
	testutil.RequireMetricsEqual(t, []telegraf.Metric{
		metric.New("purpleair", map[string]string{"sensor_index": "182"}, map[string]any{
			"date_created": 1470082168.0, "rssi": -67.0, "uptime": 18173.0, "latitude": 49.160076, "longitude": -123.74227,
			"humidity": 43.0, "temperature": 63.0, "pressure": 1021.33,
			"pm1.0": 0.9, "pm2.5_alt": 1.9, "pm10.0": 1.7, "pm1.0_cf_1": 0.9, "pm2.5_atm": 1.4, "pm2.5_cf_1": 1.4, "pm10.0_cf_1": 1.7,
		}, time.Unix(1712793665, 0)),
		metric.New("purpleair", map[string]string{"sensor_index": "221283"}, map[string]any{
			"date_created": 1712696182.0, "rssi": -66.0, "uptime": 133.0, "latitude": 28.017763, "longitude": -82.65457,
			"humidity": 47.0, "temperature": 90.0, "pressure": 1011.4,
			"pm1.0": 5.9, "pm2.5_alt": 4.8, "pm10.0": 10.7, "pm1.0_cf_1": 5.9, "pm2.5_atm": 8.2, "pm2.5_cf_1": 8.2, "pm10.0_cf_1": 10.7,
		}, time.Unix(1712793665, 0)),
	}, []telegraf.Metric{bySensor["182"], bySensor["221283"]})

	// The simulated fleet: exactly the simulator's readings for the same
	// seed and start, tagged and timed as configured.
	if len(simMetrics) < wantSim {
		t.Fatalf("%d simulated metrics, want at least %d", len(simMetrics), wantSim)
	}
	first := simMetrics[0].Time()
	for _, m := range simMetrics {
		if m.Time().Before(first) {
			first = m.Time()
		}
	}
	// last_seen lags the step time by under a minute; steps are on 2 min boundaries.
	start := first.Add(time.Minute).Truncate(2 * time.Minute)
	cfg := purpleair.DefaultSimulatorConfig()
	cfg.Sensors, cfg.Seed, cfg.FaultRate, cfg.Start = sensors, seed, 0.3, start
	sim, err := purpleair.NewSimulator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var want []telegraf.Metric
	for len(want) < len(simMetrics) {
		r, labels := sim.NextResponse()
		for i := range r.Data {
			p, err := r.Point(i, purpleair.PointOptions{TagName: true, TagLocationType: true, UseLastSeen: true, Faults: labels})
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, metric.New(p.Measurement, p.Tags, p.Fields, p.Time))
		}
	}
	want = want[:len(simMetrics)]
	key := func(m telegraf.Metric) string { return m.Tags()["sensor_index"] + "@" + fmt.Sprint(m.Time().Unix()) }
	sort.SliceStable(simMetrics, func(i, j int) bool { return key(simMetrics[i]) < key(simMetrics[j]) })
	sort.SliceStable(want, func(i, j int) bool { return key(want[i]) < key(want[j]) })
	testutil.RequireMetricsEqual(t, want, simMetrics)
	for _, m := range simMetrics {
		if !strings.HasPrefix(m.Tags()["name"], "hazewatch-sim-") || m.Tags()["location_type"] == "" {
			t.Fatalf("simulated metric tags %v", m.Tags())
		}
	}
	t.Logf("%d snapshot and %d simulated metrics through Telegraf", len(fileMetrics), len(simMetrics))
}

// Every line the command writes to stderr carries a level, also without -config, where the shim's loader
// announced the defaults through the standard logger ("2026/01/02 15:04:05 No config found...").
func TestStderrLinesCarryALevel(t *testing.T) {
	cmd, stdin, stdout, stderr := startPlugin(t, "")
	go io.Copy(io.Discard, stdout)
	time.Sleep(300 * time.Millisecond)
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, stderr.String())
	}
	text := stderr.String()
	if text != "" && (!strings.HasSuffix(text, "\n") || strings.Contains(text, "\b")) {
		t.Fatalf("stderr %q: want whole lines", text)
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line != "" && (len(line) < 3 || !strings.Contains("EWID", line[:1]) || line[1:3] != "! ") {
			t.Errorf("line without a level: %q", line)
		}
	}
}
