package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/influxdata/telegraf/plugins/parsers/influx"

	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

func TestSimulateIsDeterministic(t *testing.T) {
	for _, format := range [][]string{{"-format", "json"}, {"-format", "json", "-merge"}, {"-format", "lp", "-label-faults"}} {
		t.Run(strings.Join(format, " "), func(t *testing.T) {
			args := append([]string{"simulate", "-sensors", "20", "-steps", "30", "-fault-rate", "0.1"}, format...)
			a, stderr, code := runCmd(t, append(args, "-seed", "5")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			b, _, _ := runCmd(t, append(args, "-seed", "5")...)
			c, _, _ := runCmd(t, append(args, "-seed", "6")...)
			if a != b {
				t.Error("the same seed wrote different bytes")
			}
			if a == c {
				t.Error("different seeds wrote the same bytes")
			}
			if len(a) < 1000 {
				t.Errorf("output is only %d bytes", len(a))
			}
		})
	}
}

// TestSimulateLineProtocolParsesWithTelegraf reads the output with Telegraf's own influx parser and
// checks it against a simulator run in-process: one metric per sensor and step, at the step's time,
// with the simulator's fault label as the `fault` tag.
func TestSimulateLineProtocolParsesWithTelegraf(t *testing.T) {
	const sensors, steps = 15, 40
	out, stderr, code := runCmd(t, "simulate", "-format", "lp", "-label-faults", "-sensors", strconv.Itoa(sensors), "-steps", strconv.Itoa(steps),
		"-seed", "9", "-fault-rate", "0.2", "-step", "5m", "-start", "2025-01-02T03:04:00Z")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	parser := &influx.Parser{}
	if err := parser.Init(); err != nil {
		t.Fatal(err)
	}
	metrics, err := parser.Parse([]byte(out))
	if err != nil {
		t.Fatalf("Telegraf's influx parser rejects the output: %v", err)
	}
	if len(metrics) != sensors*steps {
		t.Fatalf("%d metrics, want %d", len(metrics), sensors*steps)
	}

	cfg := purpleair.DefaultSimulatorConfig()
	cfg.Sensors, cfg.Seed, cfg.FaultRate, cfg.Step, cfg.Start = sensors, 9, 0.2, 5*time.Minute, time.Date(2025, 1, 2, 3, 4, 0, 0, time.UTC)
	sim, err := purpleair.NewSimulator(cfg)
	if err != nil {
		t.Fatal(err)
	}
	faulty := 0
	for step := 0; step < steps; step++ {
		resp, labels := sim.NextResponse()
		for s := 0; s < sensors; s++ {
			m := metrics[step*sensors+s]
			if m.Name() != "purpleair" {
				t.Fatalf("measurement %q", m.Name())
			}
			if got, want := m.Time().Unix(), resp.DataTimeStamp; got != want {
				t.Fatalf("step %d sensor %d: time %d, want %d", step, s, got, want)
			}
			if got, want := m.Tags()["sensor_index"], strconv.Itoa(900001+s); got != want {
				t.Fatalf("sensor_index %q, want %q", got, want)
			}
			fault, ok := m.GetTag("fault")
			if !ok || fault != string(labels[s]) {
				t.Fatalf("step %d sensor %d: fault tag %q (present %v), want %q", step, s, fault, ok, labels[s])
			}
			if labels[s] != purpleair.FaultNone {
				faulty++
			}
			// Every non-null numeric cell is a field with its exact value.
			for c, name := range resp.Fields {
				v := resp.Data[s][c]
				if v.Kind != purpleair.KindNumber || name == "sensor_index" {
					continue
				}
				got, ok := m.GetField(name)
				if !ok || got != v.Num {
					t.Fatalf("step %d sensor %d field %s: %v (present %v), want %v", step, s, name, got, ok, v.Num)
				}
			}
		}
	}
	if faulty == 0 {
		t.Error("no faulty reading at fault rate 0.2: the labels were not exercised")
	}

	// Without -label-faults there is no ground truth in the output.
	out, _, _ = runCmd(t, "simulate", "-format", "lp", "-sensors", "3", "-steps", "2", "-fault-rate", "0.5")
	if strings.Contains(out, "fault=") {
		t.Errorf("unlabelled output carries fault tags:\n%s", out)
	}
}

// TestSimulateJSONReadsBack: a merged document is what `hazewatch stream` and `batch` read (the fault
// label, a text field, is left out of their features); a per-step stream is what purpleair.Decoder and
// the Telegraf input's file source read.
func TestSimulateJSONReadsBack(t *testing.T) {
	const sensors, steps = 12, 25
	dir := t.TempDir()
	merged := filepath.Join(dir, "fleet.json")
	if _, stderr, code := runCmd(t, "simulate", "-merge", "-label-faults", "-sensors", strconv.Itoa(sensors), "-steps", strconv.Itoa(steps), "-o", merged); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	tb, err := readFrame(merged, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tb.rows != sensors*steps {
		t.Fatalf("%d rows, want %d", tb.rows, sensors*steps)
	}
	if tb.column("fault") >= 0 || tb.column("pm2.5_cf_1") < 0 {
		t.Errorf("columns %v: want pm2.5_cf_1 and no fault", tb.names)
	}
	stdout, stderr, code := runCmd(t, "stream", "-fields", "pm2.5_cf_1", "-window-size", "10", merged)
	if code != 0 {
		t.Fatalf("stream: exit %d: %s", code, stderr)
	}
	if recs := readCSV(t, stdout); len(recs) != sensors*steps+1 || recs[0][0] != "sensor_index" {
		t.Errorf("stream: %d records, header %v", len(recs), recs[0])
	}
	stdout, stderr, code = runCmd(t, "batch", "-features", "pm1.0_cf_1,pm2.5_cf_1,pm10.0_cf_1,humidity", merged)
	if code != 0 {
		t.Fatalf("batch: exit %d: %s", code, stderr)
	}
	if recs := readCSV(t, stdout); len(recs) != sensors*steps+1 {
		t.Errorf("batch: %d records, want %d", len(recs), sensors*steps+1)
	}

	perStep := filepath.Join(dir, "steps.json")
	if _, stderr, code := runCmd(t, "simulate", "-label-faults", "-sensors", strconv.Itoa(sensors), "-steps", strconv.Itoa(steps), "-step", "10m", "-o", perStep); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := os.Open(perStep)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := purpleair.NewDecoder(f)
	var prev int64
	docs := 0
	for {
		r, err := dec.Decode()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("document %d: %v", docs, err)
		}
		if len(r.Data) != sensors || r.Column("fault") != len(r.Fields)-1 {
			t.Fatalf("document %d: %d rows, fault column %d of %d", docs, len(r.Data), r.Column("fault"), len(r.Fields))
		}
		if docs > 0 && r.DataTimeStamp-prev != 600 {
			t.Errorf("document %d is %ds after the previous, want 600", docs, r.DataTimeStamp-prev)
		}
		prev = r.DataTimeStamp
		docs++
	}
	if docs != steps {
		t.Errorf("%d documents, want %d", docs, steps)
	}
}

func TestSimulateDurationIsSteps(t *testing.T) {
	a, _, code := runCmd(t, "simulate", "-sensors", "4", "-duration", "1h", "-step", "10m", "-format", "lp")
	b, _, _ := runCmd(t, "simulate", "-sensors", "4", "-steps", "6", "-step", "10m", "-format", "lp")
	if code != 0 || a != b || strings.Count(a, "\n") != 24 {
		t.Errorf("-duration 1h at -step 10m: exit %d, %d lines, same as -steps 6: %v", code, strings.Count(a, "\n"), a == b)
	}
}

func TestSimulateBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-format", "csv"}, "-format: want json or lp"},
		{[]string{"-steps", "3", "-duration", "1h"}, "mutually exclusive"},
		{[]string{"-duration", "1m", "-step", "2m"}, "shorter than one -step"},
		{[]string{"-fault-rate", "1.5"}, "-fault-rate: must be in [0, 1), got 1.5"},
		{[]string{"-faults", "spike,meteor"}, `-faults: has unknown fault kind "meteor"`},
		{[]string{"-start", "yesterday"}, "-start: want an RFC 3339 time"},
		{[]string{"-sensors", "0"}, "-sensors: must be in 1..1000000, got 0"},
		{[]string{"-step", "10ms"}, "-step: must be at least 1s, got 10ms"},
		{[]string{"-format", "lp", "-merge"}, "-merge applies to -format json only"},
		{[]string{"-tags", "colour"}, `-tags: unknown tag "colour"`},
		{[]string{"-timestamp", "now"}, "-timestamp"},
		{[]string{"out.json"}, "takes no positional arguments"},
		{[]string{"-profile", "gritty"}, `-profile: must be basic or realistic, got "gritty"`},
		{[]string{"-smoke-episodes", "2"}, "-smoke-episodes applies to -profile realistic only"},
		{[]string{"-profile", "realistic", "-smoke-episodes", "-1"}, "-smoke-episodes: must be in 0..1000, got -1"},
		{[]string{"-faults", "disconnect", "-fault-rate", "0.1"}, "-faults: has disconnect, which the realistic profile alone injects"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			stdout, stderr, code := runCmd(t, append([]string{"simulate"}, c.args...)...)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, c.want)
			}
			if stdout != "" {
				t.Errorf("a refused run wrote %d bytes", len(stdout))
			}
		})
	}
}

// TestSimulateFaultsOption: -faults restricts the injected kinds.
func TestSimulateFaultsOption(t *testing.T) {
	out, stderr, code := runCmd(t, "simulate", "-format", "lp", "-label-faults", "-faults", "spike", "-fault-rate", "0.3", "-sensors", "10", "-steps", "50")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(out, "fault=spike") {
		t.Error("no spike injected at fault rate 0.3")
	}
	for _, k := range purpleair.FaultKinds {
		if k != purpleair.FaultSpike && strings.Contains(out, "fault="+string(k)) {
			t.Errorf("-faults spike injected %s", k)
		}
	}
}

// TestSimulateMergeKeepsEachRowsTime: a merged document has one data_time_stamp (the last step's), so
// each row's own time is its last_seen — what a reader timing points by last_seen (the Telegraf
// input's timestamp = "last_seen", PointOptions.UseLastSeen) goes by. Every row must keep the
// last_seen of its own step: the same as in the per-step stream, strictly increasing for each sensor,
// and within half a step before its step, so that no two readings of a sensor share a time.
func TestSimulateMergeKeepsEachRowsTime(t *testing.T) {
	const sensors, steps = 7, 30
	cases := []struct {
		name  string
		step  time.Duration
		extra []string
	}{
		{"default step", 2 * time.Minute, nil},
		{"one second", time.Second, nil},
		{"odd step, labelled", 7 * time.Second, []string{"-label-faults", "-fault-rate", "0.2"}},
		{"ten minutes", 10 * time.Minute, []string{"-faults", "dropout", "-fault-rate", "0.5"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"simulate", "-sensors", strconv.Itoa(sensors), "-steps", strconv.Itoa(steps),
				"-step", c.step.String(), "-start", "2025-01-02T03:04:05Z"}, c.extra...)
			mergedOut, stderr, code := runCmd(t, append(args, "-merge")...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			perStepOut, _, _ := runCmd(t, args...)

			merged, err := purpleair.DecodeBytes([]byte(mergedOut), false)
			if err != nil {
				t.Fatal(err)
			}
			if len(merged.Data) != sensors*steps {
				t.Fatalf("%d rows, want %d", len(merged.Data), sensors*steps)
			}
			start := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
			if want := start.Add(time.Duration(steps-1) * c.step).Unix(); merged.DataTimeStamp != want {
				t.Errorf("data_time_stamp %d, want the last step's %d", merged.DataTimeStamp, want)
			}
			dec := purpleair.NewDecoder(strings.NewReader(perStepOut))
			last := map[string]time.Time{}
			for s := 0; s < steps; s++ {
				doc, err := dec.Decode()
				if err != nil {
					t.Fatalf("per-step document %d: %v", s, err)
				}
				stepTime := time.Unix(doc.DataTimeStamp, 0).UTC()
				for i := range doc.Data {
					want, err := doc.Point(i, purpleair.PointOptions{UseLastSeen: true})
					if err != nil {
						t.Fatal(err)
					}
					got, err := merged.Point(s*sensors+i, purpleair.PointOptions{UseLastSeen: true})
					if err != nil {
						t.Fatal(err)
					}
					id := got.Tags["sensor_index"]
					if id != want.Tags["sensor_index"] || !got.Time.Equal(want.Time) {
						t.Fatalf("merged row %d: sensor %s at %v, want sensor %s at %v (its own step's last_seen)",
							s*sensors+i, id, got.Time, want.Tags["sensor_index"], want.Time)
					}
					if got.Time.After(stepTime) || !got.Time.After(stepTime.Add(-c.step/2-time.Second)) {
						t.Errorf("sensor %s, step %d: last_seen %v is not within half a step before %v", id, s, got.Time, stepTime)
					}
					if prev, ok := last[id]; ok && !got.Time.After(prev) {
						t.Fatalf("sensor %s: step %d at %v, not after step %d at %v: readings would overwrite each other", id, s, got.Time, s-1, prev)
					}
					last[id] = got.Time
				}
			}
		})
	}
}

// TestSimulateProfile: -profile basic is the default, byte for byte; -profile realistic injects its
// own kinds and places its smoke within the run, and -smoke-episodes 0 removes it.
func TestSimulateProfile(t *testing.T) {
	run := func(args ...string) string {
		t.Helper()
		out, stderr, code := runCmd(t, append([]string{"simulate", "-format", "lp", "-label-faults", "-sensors", "30", "-duration", "6h", "-fault-rate", "0.2"}, args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	basic := run()
	if run("-profile", "basic") != basic {
		t.Error("-profile basic differs from the default")
	}
	realistic := run("-profile", "realistic")
	if realistic == basic {
		t.Fatal("-profile realistic writes the basic profile")
	}
	for _, k := range []string{"env_sentinel", "disconnect"} {
		if !strings.Contains(realistic, "fault="+k) {
			t.Errorf("no %s in 6 h of a 30-sensor realistic fleet at fault rate 0.2", k)
		}
		if strings.Contains(basic, "fault="+k) {
			t.Errorf("the basic profile injected %s", k)
		}
	}
	// Smoke moves PM2.5 only: without it, the same faults at the same places.
	noSmoke := run("-profile", "realistic", "-smoke-episodes", "0")
	if noSmoke == realistic {
		t.Error("-smoke-episodes 0 changed nothing: the run's smoke was not within its 6 hours")
	}
	faults := func(lp string) (tags []string) {
		for line := range strings.Lines(lp) {
			if i := strings.Index(line, "fault="); i >= 0 {
				tags = append(tags, line[i:i+strings.IndexAny(line[i:], ", ")])
			}
		}
		return tags
	}
	if a, b := faults(realistic), faults(noSmoke); strings.Join(a, "|") != strings.Join(b, "|") || len(a) == 0 {
		t.Errorf("fault labels differ with and without smoke (%d and %d labels)", len(a), len(b))
	}
}

// TestSimulateSmokeLabel: a labelled realistic JSON fleet says which readings are under smoke in a
// text column of its own, which the scoring readers leave out of the features as they do fault.
func TestSimulateSmokeLabel(t *testing.T) {
	const sensors, steps = 30, 180 // 6 h: the run's one smoke episode falls within it
	path := filepath.Join(t.TempDir(), "fleet.json")
	if _, stderr, code := runCmd(t, "simulate", "-profile", "realistic", "-merge", "-label-faults", "-sensors", strconv.Itoa(sensors), "-steps", strconv.Itoa(steps), "-o", path); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := purpleair.NewDecoder(f).Decode()
	if err != nil {
		t.Fatal(err)
	}
	sc, fc, pc := r.Column("smoke"), r.Column("fault"), r.Column("pm2.5_cf_1")
	if sc < 0 || fc < 0 || pc < 0 || len(r.Data) != sensors*steps {
		t.Fatalf("columns %v, %d rows", r.Fields, len(r.Data))
	}
	smoky := map[string]bool{}
	var inSmoke, outside []float64
	for _, row := range r.Data {
		switch row[sc].Str {
		case "smoke":
			smoky[string(appendFloat(nil, row[0].Num))] = true
			if row[fc].Str == string(purpleair.FaultNone) {
				inSmoke = append(inSmoke, row[pc].Num)
			}
		case "":
			if row[fc].Str == string(purpleair.FaultNone) {
				outside = append(outside, row[pc].Num)
			}
		default:
			t.Fatalf("smoke label %q", row[sc].Str)
		}
	}
	if len(smoky) < sensors/4 || len(smoky) > sensors/2 {
		t.Errorf("%d of %d sensors labelled smoke, want about a third", len(smoky), sensors)
	}
	if m, o := simulateTestMedian(inSmoke), simulateTestMedian(outside); !(m > 2*o) {
		t.Errorf("median PM2.5 %.1f under smoke, %.1f elsewhere: smoke should stand out", m, o)
	}
	tb, err := readFrame(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tb.column("smoke") >= 0 || tb.column("fault") >= 0 {
		t.Errorf("columns %v: the labels are not features", tb.names)
	}
}

func simulateTestMedian(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(x))
	return s[len(s)/2]
}
