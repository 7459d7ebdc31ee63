package e2e

import (
	"context"
	"fmt"
	"github.com/hazewatch/hazewatch/internal/plugintest"
	"github.com/hazewatch/hazewatch/internal/proctest"
	"github.com/hazewatch/hazewatch/internal/promtest"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// vmLatencyOffset is VictoriaMetrics's default -search.latencyOffset: an instant query does not see
// samples newer than 30 s before now (they may still be in flight from its own scrapers).
const vmLatencyOffset = 30 * time.Second

// startVictoriaMetrics starts a VictoriaMetrics single node with its data under dir/name on a free
// loopback port (its only listener: the Graphite, OpenTSDB and Influx-over-TCP listeners are off
// unless asked for), with the given extra flags, and returns once /health answers.
func startVictoriaMetrics(t testing.TB, bin, dir, name string, flags ...string) (*promtest.Server, string) {
	t.Helper()
	addr := proctest.FreeLoopbackAddr(t)
	data := filepath.Join(dir, name)
	args := append([]string{"-httpListenAddr=" + addr, "-storageDataPath=" + data}, flags...)
	p := proctest.Start(t, name, bin, args, proctest.MinimalEnv(nil), filepath.Join(dir, name+".log"))
	srv := &promtest.Server{URL: "http://" + addr, Proc: p}
	proctest.WaitHTTP(t, p, srv.URL+"/health", time.Minute)
	return srv, data
}

// TestStoresVictoriaMetrics runs the stack on VictoriaMetrics single node: the shipped Telegraf
// pipeline remote-writes a simulated fleet into it; the same metrics go once more through its Influx
// line-protocol endpoint (/write) into two more, one with -usePromCompatibleNaming; the datasource
// binary then answers health, a series-mode query, the batch alert rule's fleet query and the query
// editor's completion resources against it, over Grafana's plugin protocol.
func TestStoresVictoriaMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the stores' end-to-end tests start Telegraf, VictoriaMetrics and the plugin")
	}
	bin := storeBinary(t, "victoria-metrics", envVictoriaMetrics)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := storesTempDir(t)
	stack := newTelegrafStack(t, dir, false, nil)

	vm, _ := startVictoriaMetrics(t, bin, dir, "vm-remote-write")
	// Line protocol names a sample <measurement>_<field> as written: "purpleair_pm2.5_cf_1", which
	// PromQL can only reach as {__name__="…"}. -usePromCompatibleNaming makes it what Telegraf's
	// remote-write serializer (and so the dashboard and the alert rules) call it.
	vmInflux, _ := startVictoriaMetrics(t, bin, dir, "vm-influx", "-usePromCompatibleNaming")
	vmInfluxRaw, _ := startVictoriaMetrics(t, bin, dir, "vm-influx-raw")

	fleet := replay(t, stack, "vm", vm.URL+"/api/v1/write", storesSensors, storesHistory, 3*time.Minute, nil)
	t.Logf("Telegraf wrote %d metrics (%d sensors × %d steps) to VictoriaMetrics by remote write", len(fleet.readings), fleet.sensors, fleet.steps)
	replayInflux(t, stack, fleet, "vm-influx", vmInflux.URL+"/write", vmInfluxRaw.URL+"/write")

	// The newest samples reach an instant query only after the latency offset.
	waitUntil(fleet.newest().Add(vmLatencyOffset + 2*time.Second))
	for _, s := range []*promtest.Server{vm, vmInflux, vmInfluxRaw} {
		vmAfterBackfill(t, s)
	}

	// Remote write: every sample; the streaming score sample by sample, to VictoriaMetrics's
	// precision (it keeps about 12 significant digits, Prometheus all of a float64's).
	n := compareCounts(t, ctx, vm, fleet.readings)
	compareScores(t, ctx, vm, fleet.readings, 1e-11)
	// Line protocol with -usePromCompatibleNaming: the same series under the same names.
	if m := compareCounts(t, ctx, vmInflux, fleet.readings); m != n {
		t.Errorf("line protocol: %d samples compared, remote write %d", m, n)
	}
	t.Logf("VictoriaMetrics holds all %d samples, by remote write and by line protocol", n)
	// Without it, names keep the field's dots.
	raw, err := vmInfluxRaw.MetricNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(raw, "purpleair_pm2.5_cf_1") || slices.Contains(raw, "purpleair_pm2_5_cf_1") {
		t.Errorf("VictoriaMetrics without -usePromCompatibleNaming: metric names %q; want the line protocol's purpleair_pm2.5_cf_1 and not the sanitised one", raw)
	}

	// --- the datasource over the plugin protocol -----------------------------------------------------
	host := startDatasource(t, ctx, stack.binDir, vm.URL, dir)
	checkCompletion(t, ctx, host, fleet)
	checkSeriesQuery(t, ctx, host, fleet)

	rule, q := batchRuleQuery(t, time.Now())
	out, err := host.Query(ctx, q)
	if err != nil {
		t.Fatalf("QueryData (alert rule %s): %v", rule.RuleUID, err)
	}
	a := readFleetAnswer(t, "alert rule "+rule.RuleUID, out[q.RefID])
	if len(a.Scores) != storesSensors {
		t.Errorf("alert rule %s: %d sensors scored, want %d", rule.RuleUID, len(a.Scores), storesSensors)
	}
	for _, n := range a.Notices {
		if n.Severity == data.NoticeSeverityWarning {
			t.Errorf("alert rule %s: warning notice %q", rule.RuleUID, n.Text)
		}
	}
}

// vmAfterBackfill makes a VictoriaMetrics answer with everything written so far: /internal/force_flush
// makes the rows still buffered in memory searchable, and /internal/resetRollupResultCache drops
// results it cached while they were not (it caches query results older than
// -search.cacheTimestampOffset, 5 minutes, and a back-dated write lands exactly there). In a run
// without them, counts queried 30 s after Telegraf's replay came out short (13 of 180 samples per
// series by remote write, whole series by line protocol); restarted on the same data, the same
// VictoriaMetrics counted every sample.
func vmAfterBackfill(t testing.TB, s *promtest.Server) {
	t.Helper()
	for _, path := range []string{"/internal/force_flush", "/internal/resetRollupResultCache"} {
		resp, err := http.Get(s.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s%s: HTTP %d", s.URL, path, resp.StatusCode)
		}
	}
}

// compareScores compares the streaming score sample by sample with what Telegraf sent, each within
// relTol of it (relative).
func compareScores(t testing.TB, ctx context.Context, store *promtest.Server, rs []reading, relTol float64) {
	t.Helper()
	want, _ := expectedSamples(rs)
	name := promMetricName("purpleair", scoreField)
	lo, hi := rs[0].Time, rs[0].Time
	for _, r := range rs {
		lo, hi = minTime(lo, r.Time), maxTime(hi, r.Time)
	}
	at := hi.Add(time.Second)
	got, err := store.Query(ctx, fmt.Sprintf("%s[%s]", name, promtest.Duration(at.Sub(lo)+time.Second)), at)
	if err != nil {
		t.Fatal(err)
	}
	compared, exact, bad := 0, 0, 0
	for _, s := range got {
		exp := want[name][labelKey(s.Labels)]
		for _, sp := range s.Samples {
			v, ok := exp[sp.T]
			compared++
			if ok && v == sp.V {
				exact++
				continue
			}
			if !ok || math.Abs(sp.V-v) > relTol*math.Abs(v) {
				if bad++; bad <= 5 {
					t.Errorf("%s%v at %d: the store has %v, Telegraf sent %v (sent: %t)", name, s.Labels, sp.T, sp.V, v, ok)
				}
			}
		}
	}
	total := 0
	for _, series := range want[name] {
		total += len(series)
	}
	if compared != total || bad > 0 {
		t.Errorf("%s: %d samples returned, %d sent, %d beyond %g of what was sent", name, compared, total, bad, relTol)
	}
	t.Logf("%s: %d samples, %d bit for bit, the others within %g", name, compared, exact, relTol)
}

// replayInflux sends what Telegraf sent (its outputs.file copy) once more, in InfluxDB line protocol
// through Telegraf's outputs.http to each of urls, with the shipped output's fieldexclude, and checks
// that Telegraf delivered all of it.
func replayInflux(t testing.TB, stack *telegrafStack, fleet *storeFleet, name string, urls ...string) {
	t.Helper()
	conf := fmt.Sprintf(`[agent]
  metric_batch_size = 5000
  metric_buffer_limit = %d
  flush_interval = "1s"
  precision = "0s"
  omit_hostname = true
  skip_processors_after_aggregators = true

[[inputs.file]]
  files = [%q]
  data_format = "influx"
`, len(fleet.readings)+1000, fleet.out)
	for _, u := range urls {
		conf += fmt.Sprintf(`
[[outputs.http]]
  ## VictoriaMetrics's InfluxDB v1 write API. outputs.influxdb speaks the same protocol; the test
  ## Telegraf (internal/telegraftest) has outputs.http compiled in.
  url = %q
  method = "POST"
  data_format = "influx"
  fieldexclude = ["imputed", "anomaly_skipped"]
`, u)
	}
	path := filepath.Join(stack.dir, name+".conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p := proctest.Start(t, "telegraf ("+name+")", stack.bin, []string{"--once", "--strict-env-handling", "--config", path}, proctest.MinimalEnv(nil), filepath.Join(stack.dir, name+"-telegraf.log"))
	select {
	case <-p.Done():
	case <-time.After(2 * time.Minute):
		t.Fatalf("telegraf --once did not finish within 2 minutes:\n%s", p.Log())
	}
	if p.Err() != nil {
		t.Fatalf("telegraf --once: %v\n%s", p.Err(), p.Log())
	}
	if pr := logProblems(p.Log()); len(pr) > 0 {
		t.Errorf("Telegraf (line protocol) logged problems:\n%s", strings.Join(pr, "\n"))
	}
}

// waitUntil sleeps until t.
func waitUntil(at time.Time) {
	if d := time.Until(at); d > 0 {
		time.Sleep(d)
	}
}

// checkCompletion runs the query editor's three resources and compares them with what was written.
func checkCompletion(t testing.TB, ctx context.Context, host *plugintest.Host, fleet *storeFleet) {
	t.Helper()
	names, err := host.Strings(ctx, "metrics?match=pm2_5")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(names, "purpleair_pm2_5_cf_1") {
		t.Errorf("metrics?match=pm2_5: %q lacks purpleair_pm2_5_cf_1", names)
	}
	for _, n := range names {
		if !strings.Contains(strings.ToLower(n), "pm2_5") {
			t.Errorf("metrics?match=pm2_5: %q does not match", n)
		}
	}
	labels, err := host.Strings(ctx, "labels?match[]="+url.QueryEscape("purpleair_pm2_5_cf_1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"__name__", sensorTag, faultTag} {
		if !slices.Contains(labels, l) {
			t.Errorf("labels: %q lacks %s", labels, l)
		}
	}
	values, err := host.Strings(ctx, "label-values?label="+sensorTag)
	if err != nil {
		t.Fatal(err)
	}
	want := sensorsOf(fleet.readings)
	if len(values) != len(want) {
		t.Errorf("label-values of %s: %d values, want the %d sensors written", sensorTag, len(values), len(want))
	}
	for _, v := range values {
		if !want[v] {
			t.Errorf("label-values of %s: %q was never written", sensorTag, v)
		}
	}
}

// checkSeriesQuery runs a series-mode query over the last two hours with the features returned, and
// checks every value the store gave the datasource at a step where a sensor has a reading against
// that reading: the store's lookback, step alignment and number encoding all show up here.
func checkSeriesQuery(t testing.TB, ctx context.Context, host *plugintest.Host, fleet *storeFleet) {
	t.Helper()
	const pm25 = "max by (sensor_index) (purpleair_pm2_5_cf_1)"
	q := plugintest.Query{RefID: "S", From: fleet.last.Add(-2 * time.Hour), To: fleet.last, Interval: 2 * time.Minute, MaxDataPoints: panelMaxDataPoints,
		JSON: []byte(`{"schemaVersion":1,"mode":"series","features":[{"name":"pm25","expr":"` + pm25 + `"},{"name":"rh","expr":"max by (sensor_index) (purpleair_humidity)"}],` +
			`"entity":["sensor_index"],"training":{"range":"panel","step":"2m"},"output":["score"],"includeFeatures":true}`)}
	out, err := host.Query(ctx, q)
	if err != nil {
		t.Fatalf("QueryData (series): %v", err)
	}
	qr := out["S"]
	if qr.Error != "" {
		t.Fatalf("series query: %s", qr.Error)
	}
	// The truth: each sensor's pm2.5_cf_1 readings. Readings carry the sensor's last_seen, off the
	// step grid, so a value at a step is one of the readings before it within the lookback: the
	// store's own (Prometheus 5 minutes; VictoriaMetrics the step, or the series' interval if longer).
	type obs struct {
		at int64
		v  float64
	}
	truth := map[string][]obs{}
	for _, r := range fleet.readings {
		if v, ok := promValue(r.Fields[particleField]); ok {
			truth[r.sensor()] = append(truth[r.sensor()], obs{r.Time.UnixMilli(), v})
		}
	}
	sensors, checked, mismatched := 0, 0, 0
	for _, f := range qr.Frames {
		if f.Meta == nil || f.Meta.Type != data.FrameTypeTimeSeriesMulti {
			t.Errorf("series query: frame type %v", f.Meta)
			continue
		}
		var tf, vf, imp *data.Field
		for _, fl := range f.Fields {
			switch fl.Name {
			case "Time", "time":
				tf = fl
			case "pm25":
				vf = fl
			case "pm25_imputed":
				imp = fl
			}
		}
		if tf == nil || vf == nil || imp == nil {
			t.Errorf("series query: frame without Time, pm25 and pm25_imputed fields: %v", f.Fields)
			continue
		}
		sensors++
		s := vf.Labels[sensorTag]
		for i := 0; i < tf.Len(); i++ {
			if iv, _ := imp.At(i).(float64); iv != 0 {
				continue
			}
			at, _ := tf.At(i).(time.Time)
			got, _ := vf.At(i).(float64)
			ms := at.UnixMilli()
			checked++
			found := false
			for _, o := range truth[s] {
				if o.at <= ms && o.at > ms-promLookback.Milliseconds() && o.v == got {
					found = true
					break
				}
			}
			if !found {
				if mismatched++; mismatched <= 5 {
					t.Errorf("series query: sensor %s at %s: pm25 %v, which no reading of the 5 minutes before has", s, at.UTC().Format(time.RFC3339), got)
				}
			}
		}
	}
	if sensors != len(truth) {
		t.Errorf("series query: %d sensors' frames, want %d", sensors, len(truth))
	}
	if checked < sensors*50 {
		t.Errorf("series query: only %d values checked against readings over %d sensors' 2 hours", checked, sensors)
	}
	t.Logf("series query: %d sensors, %d feature values equal to the readings (%d differ)", sensors, checked-mismatched, mismatched)
}
