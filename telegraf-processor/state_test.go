package anomaly

import (
	"bytes"
	"os"
	"path/filepath"
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
