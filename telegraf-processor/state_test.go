package anomaly

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/config"
	"github.com/influxdata/telegraf/testutil"
)

// feed runs metrics for a few sensors through p, returning the outputs.
func feed(t *testing.T, p *Anomaly, from, to int) []telegraf.Metric {
	t.Helper()
	var out []telegraf.Metric
	for i := from; i < to; i++ {
		for _, s := range []string{"1", "2", "3"} {
			fields := map[string]any{pm1: float64((i*37+len(s)*11)%50) + float64(i%7)*100}
			if i%5 == 0 && s == "2" {
				fields = map[string]any{"rssi": int64(-60)} // imputed
			}
			out = append(out, run(t, p, reading(s, fields, i))...)
		}
	}
	return out
}

func TestStateRoundTrip(t *testing.T) {
	for _, keyed := range []bool{false, true} {
		name := "global"
		if keyed {
			name = "per series"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "anomaly.state")
			mod := func(p *Anomaly) {
				p.StateFile = path
				if keyed {
					p.KeyTags = []string{"sensor_index"}
				}
				p.Impute = map[string]string{pm1: "ewma"}
				p.EWMAAlpha = 0.3
			}
			// Uninterrupted run.
			whole, _ := newTestProcessor(t, func(p *Anomaly) { mod(p); p.StateFile = "" })
			want := feed(t, whole, 0, 30)

			// The same run, stopped after 12 steps and continued by a new processor from the state file.
			first, _ := newTestProcessor(t, mod)
			got := feed(t, first, 0, 12)
			first.Stop()
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("no state file after Stop: %v", err)
			}
			second, log := newTestProcessor(t, mod)
			if len(log.Errors())+len(log.Warnings()) != 0 {
				t.Fatalf("loading the state logged %q %q", log.Errors(), log.Warnings())
			}
			got = append(got, feed(t, second, 12, 30)...)
			testutil.RequireMetricsEqual(t, want, got)
		})
	}
}

func TestStateKeepsRecencyOrderAndMaxSeries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	mod := func(p *Anomaly) {
		p.StateFile = path
		p.KeyTags = []string{"sensor_index"}
		p.WindowSize = 1
	}
	p, _ := newTestProcessor(t, mod)
	for i, s := range []string{"a", "b", "c", "a"} { // recency: a, c, b
		run(t, p, reading(s, map[string]any{pm1: 1.0}, i))
	}
	p.Stop()
	q, log := newTestProcessor(t, func(p *Anomaly) { mod(p); p.MaxSeries = 2 })
	if q.table.len() != 2 {
		t.Fatalf("%d series loaded, want max_series = 2", q.table.len())
	}
	if len(log.Messages()) == 0 {
		t.Error("dropping series beyond max_series was not logged")
	}
	for _, s := range []string{"a", "c"} {
		if out := run(t, q, reading(s, map[string]any{pm1: 1.0}, 9))[0]; out.HasField("anomaly_warmup") {
			t.Errorf("series %s (among the 2 most recent) was not restored", s)
		}
	}
	if out := run(t, q, reading("b", map[string]any{pm1: 1.0}, 9))[0]; !out.HasField("anomaly_warmup") {
		t.Error("series b (least recent) was restored beyond max_series")
	}
}

func TestIncompatibleStateStartsFresh(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	p, _ := newTestProcessor(t, func(p *Anomaly) { p.StateFile = path })
	feed(t, p, 0, 5)
	p.Stop()
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	changes := map[string]func(*Anomaly){
		"seed":        func(p *Anomaly) { p.Seed = 12 },
		"window_size": func(p *Anomaly) { p.WindowSize = 5 },
		"limits":      func(p *Anomaly) { p.Limits = map[string][]float64{pm1: {0, 1000}} },
		"impute":      func(p *Anomaly) { p.ImputeDefault = "last" },
		"key_tags":    func(p *Anomaly) { p.KeyTags = []string{"sensor_index"} },
	}
	for option, change := range changes {
		t.Run(option, func(t *testing.T) {
			if err := os.WriteFile(path, saved, 0o600); err != nil {
				t.Fatal(err)
			}
			q, log := newTestProcessor(t, func(p *Anomaly) { p.StateFile = path; change(p) })
			if w := log.Warnings(); len(w) != 1 || !strings.Contains(w[0], "another configuration") {
				t.Errorf("warnings %q, want one about another configuration", w)
			}
			if len(log.Errors()) != 0 {
				t.Errorf("errors %q for a merely incompatible state", log.Errors())
			}
			if q.table.global != nil || q.table.len() != 0 {
				t.Error("incompatible state was loaded")
			}
			if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
				t.Errorf("directory holds %d files, want the state file only (not moved aside)", len(entries))
			}
		})
	}
}

func TestCorruptStateIsMovedAside(t *testing.T) {
	good := func(t *testing.T, path string) []byte {
		p, _ := newTestProcessor(t, func(p *Anomaly) { p.StateFile = path; p.KeyTags = []string{"sensor_index"} })
		feed(t, p, 0, 5)
		p.Stop()
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	damage := map[string]func([]byte) []byte{
		"garbage":     func([]byte) []byte { return []byte("not a state file at all") },
		"empty":       func([]byte) []byte { return nil },
		"flipped bit": func(b []byte) []byte { b[len(b)/2] ^= 0x10; return b },
		"truncated":   func(b []byte) []byte { return b[:len(b)-9] },
	}
	for name, f := range damage {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "anomaly.state")
			bad := f(good(t, path))
			if err := os.WriteFile(path, bad, 0o600); err != nil {
				t.Fatal(err)
			}
			p, log := newTestProcessor(t, func(p *Anomaly) { p.StateFile = path; p.KeyTags = []string{"sensor_index"} })
			if e := log.Errors(); len(e) != 1 || !strings.Contains(e[0], "corrupt") {
				t.Fatalf("errors %q, want one saying the state is corrupt", e)
			}
			if p.table.len() != 0 {
				t.Error("corrupt state was loaded")
			}
			aside, _ := filepath.Glob(path + ".corrupt-*")
			if len(aside) != 1 {
				t.Fatalf("moved-aside files %q, want one", aside)
			}
			if b, _ := os.ReadFile(aside[0]); !bytes.Equal(b, bad) {
				t.Error("moved-aside file differs from the corrupt state")
			}
			// Still works, and writes a fresh state.
			if out := feed(t, p, 0, 2); len(out) != 6 {
				t.Fatalf("%d metrics out of 6 after a corrupt state", len(out))
			}
			p.Stop()
			if _, err := os.Stat(path); err != nil {
				t.Errorf("no fresh state written: %v", err)
			}
		})
	}
}

// A state file that cannot be written is a configuration error found at start, naming state_file: found
// at the first write (or at stop), the models learnt until then would be lost.
func TestUnusableStateFileFailsStart(t *testing.T) {
	dir := t.TempDir()
	notADir := filepath.Join(dir, "plain-file")
	if err := os.WriteFile(notADir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"a directory":             dir,
		"under a regular file":    filepath.Join(notADir, "anomaly.state"),
		"a missing dir under one": filepath.Join(notADir, "sub", "anomaly.state"),
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(dir, "read-only")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		cases["in a read-only directory"] = filepath.Join(ro, "anomaly.state")
	}
	for name, path := range cases {
		t.Run(name, func(t *testing.T) {
			p := newDefault()
			p.Fields = []string{pm1}
			p.StateFile = path
			p.Log = &testutil.CaptureLogger{}
			if err := p.Init(); err != nil {
				t.Fatal(err)
			}
			err := p.Start(&testutil.Accumulator{})
			if err == nil {
				p.Stop()
				t.Fatalf("Start with state_file = %s succeeded", path)
			}
			if !strings.Contains(err.Error(), "state_file "+path) {
				t.Errorf("error %q does not name state_file", err)
			}
		})
	}
}

// A missing directory is created at start; a write that fails later (the directory removed under the
// running process) is logged at stop and does not panic.
func TestStateDirectoryCreatedAtStart(t *testing.T) {
	stateDir := filepath.Join(t.TempDir(), "missing-dir", "sub")
	path := filepath.Join(stateDir, "anomaly.state")
	p, log := newTestProcessor(t, func(p *Anomaly) { p.StateFile = path })
	if fi, err := os.Stat(stateDir); err != nil || !fi.IsDir() {
		t.Fatalf("state directory not created at start: %v", err)
	}
	if left, _ := os.ReadDir(stateDir); len(left) != 0 {
		t.Errorf("the start check left files behind: %v", left)
	}
	feed(t, p, 0, 3)
	if err := os.RemoveAll(filepath.Dir(stateDir)); err != nil {
		t.Fatal(err)
	}
	if err := p.SaveState(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("SaveState into a removed directory: %v, want an error naming the file", err)
	}
	p.Stop()
	if len(log.Errors()) == 0 {
		t.Error("failed state write on Stop was not logged")
	}
}

// Temporaries that a kill -9 during a write left behind are removed at start; files that merely look
// alike (another state file's, or not made by os.CreateTemp) are not.
func TestStaleStateTemporariesRemovedAtStart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.bin")
	stale := []string{"state.bin.tmp-123456789", "state.bin.tmp-1"}
	kept := []string{"state.bin.tmp-notes", "state.bin.tmp-", "other.bin.tmp-123456", "state.bin.corrupt-20240101T000000.000Z", "xstate.bin.tmp-42"}
	for _, name := range append(append([]string{}, stale...), kept...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	newTestProcessor(t, func(p *Anomaly) { p.StateFile = path })
	for _, name := range stale {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("stale temporary %s still there (%v)", name, err)
		}
	}
	for _, name := range kept {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s removed: %v", name, err)
		}
	}
}

func TestStateWrittenPeriodically(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	p, _ := newTestProcessor(t, func(p *Anomaly) {
		p.StateFile = path
		p.StateInterval = config.Duration(time.Second)
	})
	feed(t, p, 0, 3)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("state file not written within 10 state intervals")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if tmp, _ := filepath.Glob(path + ".tmp-*"); len(tmp) != 0 {
		t.Errorf("temporary files left behind: %q", tmp)
	}
}

// panicAccumulator fails the test if anything is emitted: Stop must never emit.
type panicAccumulator struct {
	testutil.NopAccumulator
	t *testing.T
}

func (a *panicAccumulator) AddMetric(telegraf.Metric) { a.t.Error("metric emitted") }

func TestStopNeverEmits(t *testing.T) {
	p := newDefault()
	p.Fields = []string{pm1}
	p.StateFile = filepath.Join(t.TempDir(), "s")
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	// The shim closes the channel behind this accumulator before calling Stop.
	if err := p.Start(&panicAccumulator{t: t}); err != nil {
		t.Fatal(err)
	}
	feed(t, p, 0, 3)
	p.Stop()
	if _, err := os.Stat(p.StateFile); err != nil {
		t.Errorf("Stop did not write the state: %v", err)
	}
}

func TestDowntimeDoesNotCountTowardsTTL(t *testing.T) {
	now := t0
	path := filepath.Join(t.TempDir(), "anomaly.state")
	mod := func(p *Anomaly) {
		p.StateFile = path
		p.KeyTags = []string{"sensor_index"}
		p.SeriesTTL = config.Duration(time.Hour)
		p.WindowSize = 1
		p.now = func() time.Time { return now }
	}
	p, _ := newTestProcessor(t, mod)
	run(t, p, reading("a", map[string]any{pm1: 1.0}, 0))
	now = now.Add(50 * time.Minute)
	run(t, p, reading("b", map[string]any{pm1: 1.0}, 0))
	p.Stop()

	now = now.Add(48 * time.Hour) // down for two days
	q, _ := newTestProcessor(t, mod)
	now = now.Add(20 * time.Minute) // a: 70 min seen-while-running ago, b: 20 min
	if out := run(t, q, reading("b", map[string]any{pm1: 1.0}, 1))[0]; out.HasField("anomaly_warmup") {
		t.Error("series b forgotten: the downtime counted towards series_ttl")
	}
	if out := run(t, q, reading("a", map[string]any{pm1: 1.0}, 1))[0]; !out.HasField("anomaly_warmup") {
		t.Error("series a kept although unseen for 70 running minutes (ttl 1h)")
	}
}

// divergenceRun is sensor's readings from..to: clean until reading 12, then channel B reading three
// times channel A, an A/B divergence episode that begins at reading 12.
func divergenceRun(sensor string, from, to int) []telegraf.Metric {
	var ms []telegraf.Metric
	for i := from; i < to; i++ {
		f := cleanFields(i)
		if i >= 12 {
			f = with(f, map[string]any{"pm2.5_cf_1_a": 10.0 + float64(i%3)*0.2, "pm2.5_cf_1_b": 30.0 + float64(i%4)*0.3, "pm2.5_cf_1": 20.0})
		}
		ms = append(ms, paMetric(sensor, i, f))
	}
	return ms
}

// presetFeed runs readings from..to of two sensors, interleaved, through p.
func presetFeed(t *testing.T, p *Anomaly, from, to int) []telegraf.Metric {
	t.Helper()
	a, b := divergenceRun("7", from, to), warmRun("8", to)[from:]
	var out []telegraf.Metric
	for i := range a {
		out = append(out, run(t, p, a[i], b[i])...)
	}
	return out
}

// The preset's per-sensor state survives a restart through state_file: the run goes on exactly as an
// uninterrupted one, and a divergence episode that began before the stop continues after it with the
// same anomaly_since.
func TestPresetStateRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	whole, _ := newPresetProcessor(t, nil)
	want := presetFeed(t, whole, 0, 20)

	first, _ := newPresetProcessor(t, func(p *Anomaly) { p.StateFile = path })
	got := presetFeed(t, first, 0, 15)
	first.Stop()
	second, log := newPresetProcessor(t, func(p *Anomaly) { p.StateFile = path })
	if len(log.Errors())+len(log.Warnings()) != 0 {
		t.Fatalf("loading the state logged %q %q", log.Errors(), log.Warnings())
	}
	if second.table.len() != 2 || second.qa.Sensors() != 2 {
		t.Fatalf("restored %d series and %d detector sensors, want 2 and 2", second.table.len(), second.qa.Sensors())
	}
	after := presetFeed(t, second, 15, 20)
	got = append(got, after...)
	testutil.RequireMetricsEqual(t, want, got)

	// The assertion above holds only if the episode is there; check it is, and that it goes on.
	last := after[len(after)-2] // sensor 7's last reading
	if why, _ := last.GetField(ReasonField); why != "ab_divergence" {
		t.Fatalf("reason after the restart %v, want ab_divergence (%v)", why, last)
	}
	if since, _ := last.GetField(SinceField); since != t0.Add(12*cadence).Unix() {
		t.Errorf("anomaly_since after the restart %v, want the episode's first reading %d", since, t0.Add(12*cadence).Unix())
	}
}

// A restart without the state starts the episode afresh: what the round trip above preserves is not
// preserved anyway.
func TestPresetWithoutStateForgetsTheEpisode(t *testing.T) {
	p, _ := newPresetProcessor(t, nil)
	presetFeed(t, p, 0, 15)
	q, _ := newPresetProcessor(t, nil)
	out := presetFeed(t, q, 15, 20)
	last := out[len(out)-2]
	if since, ok := last.GetField(SinceField); ok && since == t0.Add(12*cadence).Unix() {
		t.Errorf("a fresh processor reports the earlier episode's start %v", since)
	}
}

func TestPresetIncompatibleAndCorruptState(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "anomaly.state")
	p, _ := newPresetProcessor(t, func(p *Anomaly) { p.StateFile = path })
	presetFeed(t, p, 0, 5)
	p.Stop()
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// Another window_size: another learned model, a warning and fresh models; the file stays.
	q, log := newPresetProcessor(t, func(p *Anomaly) { p.StateFile = path; p.WindowSize = 50 })
	if w := log.Warnings(); len(w) != 1 || !strings.Contains(w[0], "another configuration") {
		t.Errorf("warnings %q, want one about another configuration", w)
	}
	if q.table.len() != 0 || q.qa.Sensors() != 0 {
		t.Error("incompatible state was loaded")
	}
	q.Stop()

	// A Half-Space Trees processor does not take the preset's state either.
	if err := os.WriteFile(path, saved, 0o600); err != nil {
		t.Fatal(err)
	}
	_, log = newTestProcessor(t, func(p *Anomaly) { p.StateFile = path; p.KeyTags = []string{"sensor_index"} })
	if w := log.Warnings(); len(w) != 1 {
		t.Errorf("the trees flow loading the preset's state: warnings %q, want one", w)
	}

	// A damaged detector (a bit flipped inside it, the outer checksum made to match) is corrupt, and
	// moved aside.
	bad := append([]byte(nil), saved...)
	bad[len(bad)-20] ^= 0x04
	bad = binary.LittleEndian.AppendUint32(bad[:len(bad)-4:len(bad)-4], crc32.Checksum(bad[:len(bad)-4], crcTable))
	if err := os.WriteFile(path, bad, 0o600); err != nil {
		t.Fatal(err)
	}
	r, log := newPresetProcessor(t, func(p *Anomaly) { p.StateFile = path })
	if e := log.Errors(); len(e) != 1 || !strings.Contains(e[0], "corrupt") || !strings.Contains(e[0], "detector") {
		t.Fatalf("errors %q, want one saying the detector is corrupt", e)
	}
	if r.table.len() != 0 || r.qa.Sensors() != 0 {
		t.Error("corrupt state was loaded")
	}
	if aside, _ := filepath.Glob(path + ".corrupt-*"); len(aside) != 1 {
		t.Errorf("moved-aside files %q, want one", aside)
	}
}

// persisterRoundTrip does what Telegraf's persister does with a StatefulPlugin's state: JSON of
// GetState's value, then SetState with a value of the same type decoded from it.
func persisterRoundTrip(t *testing.T, from, to telegraf.StatefulPlugin) {
	t.Helper()
	b, err := json.Marshal(from.GetState())
	if err != nil {
		t.Fatal(err)
	}
	nstate := reflect.New(reflect.TypeOf(to.GetState())).Interface()
	if err := json.Unmarshal(b, &nstate); err != nil {
		t.Fatal(err)
	}
	if err := to.SetState(reflect.ValueOf(nstate).Elem().Interface()); err != nil {
		t.Fatalf("SetState: %v", err)
	}
}

// newUnstarted returns a processor after Init and before Start, where Telegraf's agent calls SetState.
func newUnstarted(t *testing.T, p *Anomaly) (*Anomaly, *testutil.CaptureLogger) {
	t.Helper()
	log := &testutil.CaptureLogger{}
	p.Log = log
	if err := p.Init(); err != nil {
		t.Fatal(err)
	}
	return p, log
}

func start(t *testing.T, p *Anomaly) {
	t.Helper()
	if err := p.Start(&testutil.Accumulator{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
}

// Telegraf's statefile ([agent] statefile, the StatefulPlugin interface) keeps the models as state_file
// does, for both flows.
func TestTelegrafStatefileRoundTrip(t *testing.T) {
	t.Run("trees", func(t *testing.T) {
		conf := func() *Anomaly {
			p := newDefault()
			p.Fields, p.Limits, p.WindowSize, p.Seed = []string{pm1}, map[string][]float64{pm1: {0, 1200}}, 4, 11
			p.KeyTags = []string{"sensor_index"}
			return p
		}
		whole, _ := newUnstarted(t, conf())
		start(t, whole)
		want := feed(t, whole, 0, 30)

		first, _ := newUnstarted(t, conf())
		start(t, first)
		got := feed(t, first, 0, 12)
		first.Stop() // the agent stops the processors, then asks for their states
		second, log := newUnstarted(t, conf())
		persisterRoundTrip(t, first, second)
		start(t, second)
		if len(log.Errors())+len(log.Warnings()) != 0 {
			t.Fatalf("restoring logged %q %q", log.Errors(), log.Warnings())
		}
		got = append(got, feed(t, second, 12, 30)...)
		testutil.RequireMetricsEqual(t, want, got)
	})
	t.Run("preset", func(t *testing.T) {
		conf := func() *Anomaly { p := newDefault(); p.Preset = PresetPurpleAir; return p }
		whole, _ := newUnstarted(t, conf())
		start(t, whole)
		want := presetFeed(t, whole, 0, 20)

		first, _ := newUnstarted(t, conf())
		start(t, first)
		got := presetFeed(t, first, 0, 15)
		first.Stop()
		second, _ := newUnstarted(t, conf())
		persisterRoundTrip(t, first, second)
		start(t, second)
		after := presetFeed(t, second, 15, 20)
		testutil.RequireMetricsEqual(t, want, append(got, after...))
		if since, _ := after[len(after)-2].GetField(SinceField); since != t0.Add(12*cadence).Unix() {
			t.Errorf("anomaly_since after the restart %v, want %d", since, t0.Add(12*cadence).Unix())
		}
	})
}

// Telegraf calls GetState right after Init for the type of the state (persister.Load); a fresh
// processor's state restores to nothing, and a damaged or foreign one never stops Telegraf.
func TestSetStateNeverFailsOnBadState(t *testing.T) {
	p, _ := newUnstarted(t, newDefault())
	if _, ok := p.GetState().([]byte); !ok {
		t.Fatalf("GetState after Init returned %T, want []byte", p.GetState())
	}
	for name, state := range map[string][]byte{
		"garbage":   []byte("not a state"),
		"truncated": p.GetState().([]byte)[:20],
	} {
		q, log := newUnstarted(t, newDefault())
		if err := q.SetState(state); err != nil {
			t.Errorf("%s: SetState returned %v, which would stop Telegraf", name, err)
		}
		if e := log.Errors(); len(e) != 1 || !strings.Contains(e[0], "corrupt") {
			t.Errorf("%s: errors %q, want one saying the state is corrupt", name, e)
		}
	}
	q, log := newUnstarted(t, func() *Anomaly { p := newDefault(); p.Seed = 7; return p }())
	if err := q.SetState(p.GetState()); err != nil {
		t.Errorf("incompatible: SetState returned %v", err)
	}
	if w := log.Warnings(); len(w) != 1 || !strings.Contains(w[0], "another configuration") {
		t.Errorf("incompatible: warnings %q, want one about another configuration", w)
	}
	if err := q.SetState("a string"); err == nil {
		t.Error("SetState took a state of the wrong type")
	}
}

// With both Telegraf's statefile and state_file, the newer state wins: state_file after a crash (the
// statefile is written only on a clean stop), the statefile when state_file is older.
func TestNewerOfStatefileAndStateFileWins(t *testing.T) {
	now := t0
	path := filepath.Join(t.TempDir(), "anomaly.state")
	conf := func() *Anomaly {
		p := newDefault()
		p.Fields, p.Limits, p.WindowSize, p.Seed = []string{pm1}, map[string][]float64{pm1: {0, 1200}}, 4, 11
		p.KeyTags = []string{"sensor_index"}
		p.StateFile = path
		p.now = func() time.Time { return now }
		return p
	}
	p, _ := newUnstarted(t, conf())
	start(t, p)
	run(t, p, reading("old", map[string]any{pm1: 1.0}, 0))
	statefile := p.GetState() // as of a clean stop an hour before the crash
	now = now.Add(time.Hour)
	run(t, p, reading("new", map[string]any{pm1: 1.0}, 1))
	if err := p.SaveState(); err != nil { // state_file's periodic write
		t.Fatal(err)
	}
	p.Stop()

	now = now.Add(time.Minute)
	q, _ := newUnstarted(t, conf())
	if err := q.SetState(statefile); err != nil {
		t.Fatal(err)
	}
	start(t, q)
	if q.table.len() != 2 {
		t.Errorf("state_file (newer, 2 series) lost to the statefile: %d series", q.table.len())
	}
	newer := q.GetState()
	q.Stop()

	// Now the statefile is the newer one; an older state_file must not replace it.
	if err := os.WriteFile(path, statefile.([]byte), 0o600); err != nil {
		t.Fatal(err)
	}
	r, log := newUnstarted(t, conf())
	if err := r.SetState(newer); err != nil {
		t.Fatal(err)
	}
	start(t, r)
	if r.table.len() != 2 {
		t.Errorf("an older state_file (1 series) replaced the statefile's: %d series", r.table.len())
	}
	if len(log.Messages()) == 0 {
		t.Error("keeping the statefile's state over state_file was not logged")
	}
}

// A state file of format version 1 (before the preset could be saved: no flow byte) still loads, so
// an upgrade keeps the models. The version 1 file is made from a version 2 one by the layout's rules.
func TestStateVersion1Loads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "anomaly.state")
	mod := func(p *Anomaly) { p.StateFile = path; p.KeyTags = []string{"sensor_index"} }
	p, _ := newTestProcessor(t, mod)
	feed(t, p, 0, 8)
	p.Stop()
	v2, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const header = len(stateMagic) + 2 + 8 + 8
	if v2[header] != flowTrees {
		t.Fatalf("flow byte %d, want %d", v2[header], flowTrees)
	}
	v1 := append(append([]byte(nil), v2[:header]...), v2[header+1:len(v2)-4]...)
	binary.LittleEndian.PutUint16(v1[len(stateMagic):], 1)
	v1 = binary.LittleEndian.AppendUint32(v1, crc32.Checksum(v1, crcTable))
	if err := os.WriteFile(path, v1, 0o600); err != nil {
		t.Fatal(err)
	}
	q, log := newTestProcessor(t, mod)
	if len(log.Errors())+len(log.Warnings()) != 0 {
		t.Fatalf("loading a version 1 state logged %q %q", log.Errors(), log.Warnings())
	}
	if q.table.len() != 3 {
		t.Errorf("%d series loaded from version 1, want 3", q.table.len())
	}
}

// Telegraf's agent registers with its persister the copy of each processor kept for after the
// aggregators, and never initialises it when skip_processors_after_aggregators is set (as our configs
// do): asking that copy for its state must not crash Telegraf at stop, nor giving it one at start.
func TestStateOfAnUninitialisedCopy(t *testing.T) {
	p := newDefault()
	b, ok := p.GetState().([]byte)
	if !ok || len(b) != 0 {
		t.Fatalf("GetState of an uninitialised processor: %T of %d bytes, want empty []byte", p.GetState(), len(b))
	}
	q, _ := newUnstarted(t, newDefault())
	if err := newDefault().SetState(q.GetState()); err != nil {
		t.Errorf("SetState on an uninitialised processor: %v (Telegraf would not start)", err)
	}
	// Through Telegraf's persister's own JSON steps, both ways: a JSON null here made Telegraf panic
	// at its next start.
	persisterRoundTrip(t, newDefault(), newDefault())
	r, _ := newUnstarted(t, newDefault())
	persisterRoundTrip(t, newDefault(), r)
	persisterRoundTrip(t, r, newDefault())
}
