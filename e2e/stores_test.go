package e2e

// The stack on the stores users scale out to (issue 16): VictoriaMetrics single node and a Thanos
// receive hashring, in place of Prometheus, with the same Telegraf and the same datasource binary.
// This file holds what both share; stores_vm_test.go and stores_thanos_test.go the tests.

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/hazewatch/hazewatch/internal/plugintest"
	"github.com/hazewatch/hazewatch/internal/promtest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/hazewatch/hazewatch/internal/repotest"
)

// The fleet the stores' tests replay: smaller than TestStackEndToEnd's day (the point here is the
// store, not detection), long enough for the batch alert rule's hour and a series query over it.
const (
	storesSensors = 30
	storesHistory = 6 * time.Hour
)

// Environment variables naming store binaries to use instead of bin/<name> (where `go tool mage
// stores` puts them).
const (
	envVictoriaMetrics = "HAZEWATCH_VICTORIA_METRICS"
	envThanos          = "HAZEWATCH_THANOS"
)

// storeBinary returns the store's binary: $env when set, else bin/<name> in the repository. Missing,
// the test skips saying how to build it — or fails under CI, where .ci/run builds the stores first.
func storeBinary(t testing.TB, name, env string) string {
	t.Helper()
	p := os.Getenv(env)
	if p == "" {
		p = filepath.Join(repotest.Root(t), "bin", name)
	}
	if fi, err := os.Stat(p); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		repotest.SkipOrFailInCI(t, fmt.Sprintf("%s is missing (%s): build it with `go tool mage stores` (a cold build takes a few minutes), or set $%s", name, p, env))
	}
	return p
}

// storesTempDir is the test's directory: t.TempDir(), or with HAZEWATCH_E2E_KEEP set a directory
// that outlives the test, to read the stores' and Telegraf's logs after a failure.
func storesTempDir(t testing.TB) string {
	t.Helper()
	if os.Getenv("HAZEWATCH_E2E_KEEP") == "" {
		return t.TempDir()
	}
	d, err := os.MkdirTemp("", "hazewatch-stores-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("keeping %s (HAZEWATCH_E2E_KEEP)", d)
	return d
}

// storeFleet is one replay of the simulated fleet through the shipped Telegraf pipeline.
type storeFleet struct {
	stack    *telegrafStack
	start    time.Time // first simulated step
	last     time.Time // last replayed step
	steps    int
	sensors  int
	out      string    // Telegraf's outputs.file copy of what it sent
	readings []reading // parsed from out
	log      string    // Telegraf's whole log
}

// newest is the time of the newest reading Telegraf sent: after the replay the simulator goes on in real
// time, so a step past last can reach the store before Telegraf stops.
func (f *storeFleet) newest() time.Time {
	t := f.last
	for _, r := range f.readings {
		t = maxTime(t, r.Time)
	}
	return t
}

// replay runs Telegraf with the shipped configs, remote-writing to remoteURL a fleet of sensors whose
// history of the given length ends at the last step before now, and waits until every reading has
// been written (and the output flushed: Telegraf is stopped). during, when set, runs once half of the
// readings are out, while Telegraf goes on writing, with the first simulated step; replay returns
// once during has returned and everything is written.
func replay(t testing.TB, stack *telegrafStack, name, remoteURL string, sensors int, history time.Duration, within time.Duration, during func(start time.Time)) *storeFleet {
	t.Helper()
	step := shippedStep(t)
	steps := int(history / step)
	last := time.Now().Add(-5 * time.Second).Truncate(step)
	start := last.Add(-time.Duration(steps-1) * step)
	box, ok := fleetBoxAt(start)
	if !ok {
		last, start = last.Add(-4*time.Minute), start.Add(-4*time.Minute)
		box, _ = fleetBoxAt(start)
	}
	stack.remote = remoteURL
	stack.writeInputConfig(t, map[string]string{
		"sensors":      strconv.Itoa(sensors),
		"fault_rate":   simFaultRate,
		"label_faults": "true",
		"start":        strconv.Quote(start.UTC().Format(time.RFC3339)),
		"speedup":      "0.0",
		"bounding_box": boundingBoxTOML(box),
	})
	// A fresh processor state: every replay starts the processor as new, so two replays of the same
	// fleet into two stores write the same scores.
	_ = os.Remove(stack.stateFile())
	out := filepath.Join(stack.dir, name+".influx")
	tg := stack.run(t, name, out)
	if during != nil {
		waitForLines(t, tg, out, steps*sensors/2, within)
		during(start)
	}
	waitForLines(t, tg, out, steps*sensors, within)
	// Telegraf sends what its remote write still holds before it exits (its file copy runs ahead);
	// at one request per metric a slow store needs a while for a large fleet.
	if err := tg.Stop(max(90*time.Second, within)); err != nil {
		t.Errorf("%v\n%s", err, tg.Log())
	}
	logText, err := os.ReadFile(tg.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	if p := logProblems(string(logText)); len(p) > 0 && during == nil {
		t.Errorf("Telegraf logged problems:\n%s", strings.Join(p, "\n"))
	}
	rs, err := readReadings(out)
	if err != nil {
		t.Fatal(err)
	}
	return &storeFleet{stack: stack, start: start, last: last, steps: steps, sensors: sensors, out: out, readings: rs, log: string(logText)}
}

// compareCounts checks that the store returns, for every metric name and series Telegraf wrote, as
// many samples as were sent, and no other series: comparePrometheus's check, with labels a store adds
// of its own (Thanos receive's tenant) left out of the comparison. It returns the samples compared.
func compareCounts(t testing.TB, ctx context.Context, store *promtest.Server, rs []reading, ignore ...string) int {
	t.Helper()
	want, _ := expectedSamples(rs)
	lo, hi := rs[0].Time, rs[0].Time
	for _, r := range rs {
		lo, hi = minTime(lo, r.Time), maxTime(hi, r.Time)
	}
	at := hi.Add(time.Second)
	rng := promtest.Duration(at.Sub(lo) + time.Second)
	total, bad := 0, 0
	for name, series := range want {
		got, err := store.Query(ctx, fmt.Sprintf("count_over_time(%s[%s])", name, rng), at)
		if err != nil {
			t.Fatal(err)
		}
		gotBySeries := map[string]int{}
		for _, s := range got {
			l := map[string]string{}
			for k, v := range s.Labels {
				if !slices.Contains(ignore, k) {
					l[k] = v
				}
			}
			gotBySeries[labelKey(l)] += int(s.Samples[0].V)
		}
		for key, samples := range series {
			total += len(samples)
			if g := gotBySeries[key]; g != len(samples) {
				if bad++; bad <= 10 {
					t.Errorf("%s{%s}: the store returns %d samples, Telegraf sent %d", name, key, g, len(samples))
				}
			}
			delete(gotBySeries, key)
		}
		for key, n := range gotBySeries {
			if bad++; bad <= 10 {
				t.Errorf("%s{%s}: the store returns %d samples of a series Telegraf never sent", name, key, n)
			}
		}
	}
	if bad > 10 {
		t.Errorf("… %d series differ in all", bad)
	}
	return total
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// batchRuleUID is the provisioned batch alert rule: the Isolation Forest fleet score over every
// sensor at the last step, the alert query the stores are measured with.
const batchRuleUID = "hazewatch-batch-fleet-anomaly"

// batchRuleQuery is the batch alert rule's datasource query as Grafana's alerting sends it when it
// evaluates the rule at eval (its relative range, model, interval and max data points).
func batchRuleQuery(t testing.TB, eval time.Time) (alertQuery, plugintest.Query) {
	t.Helper()
	for _, q := range loadAlertQueries(t) {
		if q.RuleUID != batchRuleUID || q.DatasourceUID != "hazewatch" {
			continue
		}
		raw, err := json.Marshal(q.Model)
		if err != nil {
			t.Fatal(err)
		}
		iv, mdp := alertingRequest(q.Model)
		return q, plugintest.Query{RefID: q.RefID, JSON: raw, From: eval.Add(-q.From), To: eval.Add(-q.To), Interval: iv, MaxDataPoints: mdp}
	}
	t.Fatalf("%s: no rule %s querying the hazewatch datasource", alertRulesFile, batchRuleUID)
	return alertQuery{}, plugintest.Query{}
}

// fleetAnswer is one fleet-mode (fleetAt last) answer read the way alerting reads it.
type fleetAnswer struct {
	Scores  map[string]float64 // sensor → score
	Labels  []map[string]string
	Notices []data.Notice
}

// readFleetAnswer checks the answer is what alerting takes (numeric frames, one score per sensor in
// [0, 1], labelled with the sensor) and returns it.
func readFleetAnswer(t testing.TB, what string, qr plugintest.Result) fleetAnswer {
	t.Helper()
	a := fleetAnswer{Scores: map[string]float64{}}
	if qr.Error != "" {
		t.Errorf("%s: %s", what, qr.Error)
		return a
	}
	for _, f := range qr.Frames {
		if f.Meta != nil {
			a.Notices = append(a.Notices, f.Meta.Notices...)
		}
		if f.Meta == nil || f.Meta.Type != data.FrameTypeNumericMulti {
			t.Errorf("%s: frame type %v, not the numeric frames alerting takes", what, f.Meta)
			continue
		}
		for _, fl := range f.Fields {
			if fl.Name != "score" || fl.Len() != 1 {
				continue
			}
			v, _ := fl.At(0).(float64)
			if !(v > 0 && v <= 1) {
				t.Errorf("%s: sensor %s scores %v, outside (0, 1]", what, fl.Labels[sensorTag], v)
			}
			if _, dup := a.Scores[fl.Labels[sensorTag]]; dup {
				t.Errorf("%s: sensor %s scored twice", what, fl.Labels[sensorTag])
			}
			a.Scores[fl.Labels[sensorTag]] = v
			a.Labels = append(a.Labels, fl.Labels)
		}
	}
	return a
}

// dirBytes is the size of the files under dir.
func dirBytes(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// sensorsOf is the set of sensors in the readings.
func sensorsOf(rs []reading) map[string]bool {
	out := map[string]bool{}
	for _, r := range rs {
		out[r.sensor()] = true
	}
	return out
}

// seriesPerSensor is how many series one sensor makes in a Prometheus-compatible store in
// production: one per numeric field (the simulator's fault label, which splits a sensor's series
// at every fault here, is not there in production).
func seriesPerSensor(rs []reading) float64 {
	names := map[string]map[string]bool{}
	for _, r := range rs {
		if names[r.sensor()] == nil {
			names[r.sensor()] = map[string]bool{}
		}
		for f, v := range r.Fields {
			if _, ok := promValue(v); ok {
				names[r.sensor()][f] = true
			}
		}
	}
	n := 0
	for _, fs := range names {
		n += len(fs)
	}
	return float64(n) / float64(len(names))
}
