package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/hazewatch/hazewatch/internal/proctest"
	"github.com/hazewatch/hazewatch/internal/promtest"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"
)

// The Thanos layout under test: three receivers in one hashring, each series written to two of them,
// a querier over all three that merges the replicas back into one series.
const (
	thanosReceivers   = 3
	thanosReplication = 2
	// thanosReplicaLabel is the external label each receiver adds (its own value), which the querier
	// deduplicates on (--query.replica-label).
	thanosReplicaLabel = "receive_replica"
	// thanosTenantLabel is the label receive adds to every series (the default tenant's).
	thanosTenantLabel = "tenant_id"
)

// thanosReceiver is one `thanos receive`: its listeners (all on loopback) and its TSDB.
type thanosReceiver struct {
	i                                  int
	grpc, http, remoteWrite, replicate string
	tsdb                               string
	proc                               *proctest.Process
}

// thanosCluster is the receive hashring and the querier over it.
type thanosCluster struct {
	bin, dir  string
	hashring  string
	receivers []*thanosReceiver
	querier   *promtest.Server
}

// startThanos starts thanosReceivers receivers in one hashring with replication factor
// thanosReplication, and a querier over them, and returns once the querier sees every receiver.
func startThanos(t testing.TB, bin, dir string) *thanosCluster {
	t.Helper()
	c := &thanosCluster{bin: bin, dir: dir}
	var endpoints []string
	for i := 0; i < thanosReceivers; i++ {
		// Every listener on its own free loopback port: receive's defaults are 0.0.0.0, and the
		// replication listener (capnproto) clashes between receivers on one host unless set apart.
		r := &thanosReceiver{i: i, grpc: proctest.FreeLoopbackAddr(t), http: proctest.FreeLoopbackAddr(t), remoteWrite: proctest.FreeLoopbackAddr(t),
			replicate: proctest.FreeLoopbackAddr(t), tsdb: filepath.Join(dir, fmt.Sprintf("receive-%d", i))}
		c.receivers = append(c.receivers, r)
		endpoints = append(endpoints, r.grpc)
	}
	hr, err := json.Marshal([]map[string]any{{"hashring": "default", "endpoints": endpoints}})
	if err != nil {
		t.Fatal(err)
	}
	c.hashring = string(hr)
	for _, r := range c.receivers {
		c.startReceiver(t, r)
	}
	for _, r := range c.receivers {
		proctest.WaitHTTP(t, r.proc, "http://"+r.http+"/-/ready", time.Minute)
	}
	addr := proctest.FreeLoopbackAddr(t)
	args := []string{"query", "--http-address=" + addr, "--grpc-address=" + proctest.FreeLoopbackAddr(t),
		"--query.replica-label=" + thanosReplicaLabel,
		// Receivers hold replicas of the same samples at the same timestamps, and one that was down
		// lacks what was written meanwhile: chain merges the replicas sample by sample. The default,
		// penalty (made for two Prometheus scraping at their own offsets), skips up to two intervals
		// of the other replica where it switches over: the querier lost 2–4 samples of 180 per series
		// after an outage here with every receiver back up.
		"--deduplication.func=chain"}
	// Strict endpoints: a receiver that stops answering stays in the querier's set, so a query while
	// it is down says so (a partial-response warning) instead of silently asking only the others.
	sd := "endpoints:\n"
	for _, r := range c.receivers {
		sd += fmt.Sprintf("  - address: %q\n    strict: true\n", r.grpc)
	}
	args = append(args, "--endpoint.sd-config="+sd)
	p := proctest.Start(t, "thanos query", bin, args, proctest.MinimalEnv(nil), filepath.Join(dir, "query.log"))
	c.querier = &promtest.Server{URL: "http://" + addr, Proc: p}
	proctest.WaitHTTP(t, p, c.querier.URL+"/-/ready", time.Minute)
	c.waitEndpoints(t, thanosReceivers, time.Minute)
	return c
}

// startReceiver starts (or restarts, on the same ports and TSDB) receiver r.
func (c *thanosCluster) startReceiver(t testing.TB, r *thanosReceiver) {
	t.Helper()
	args := []string{"receive",
		"--tsdb.path=" + r.tsdb,
		"--grpc-address=" + r.grpc,
		"--http-address=" + r.http,
		"--remote-write.address=" + r.remoteWrite,
		"--receive.capnproto-address=" + r.replicate,
		"--receive.local-endpoint=" + r.grpc,
		"--receive.hashrings=" + c.hashring,
		"--receive.replication-factor=" + strconv.Itoa(thanosReplication),
		fmt.Sprintf("--label=%s=\"%d\"", thanosReplicaLabel, r.i),
		// Telegraf's replay back-dates a day at most, as Prometheus's out-of-order window allows
		// (deploy/prometheus/prometheus.yml).
		"--tsdb.out-of-order.time-window=1d",
	}
	r.proc = proctest.Start(t, fmt.Sprintf("thanos receive %d", r.i), c.bin, args, proctest.MinimalEnv(nil),
		filepath.Join(c.dir, fmt.Sprintf("receive-%d-%d.log", r.i, time.Now().UnixNano())))
}

// remoteWriteURL is receiver i's remote-write endpoint.
func (c *thanosCluster) remoteWriteURL(i int) string {
	return "http://" + c.receivers[i].remoteWrite + "/api/v1/receive"
}

// kill ends receiver i with SIGKILL (no flush, no goodbye to the querier) and waits for it.
func (c *thanosCluster) kill(t testing.TB, i int) {
	t.Helper()
	r := c.receivers[i]
	r.proc.Kill()
}

// waitEndpoints waits until the querier has n healthy store endpoints.
func (c *thanosCluster) waitEndpoints(t testing.TB, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		healthy, err := c.healthyEndpoints()
		if err == nil && healthy >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("thanos query: %d of %d endpoints healthy after %s (%v):\n%s", healthy, n, within, err, c.querier.Log())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

func (c *thanosCluster) healthyEndpoints() (int, error) {
	resp, err := http.Get(c.querier.URL + "/api/v1/stores")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Data map[string][]struct {
			Name      string  `json:"name"`
			LastError *string `json:"lastError"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	n := 0
	for _, eps := range r.Data {
		for _, e := range eps {
			if e.LastError == nil || *e.LastError == "" {
				n++
			}
		}
	}
	return n, nil
}

// thanosScalar evaluates expr (which must return one sample) through the querier at at, with
// deduplication on or off, and returns it with the querier's warnings.
func (c *thanosCluster) thanosScalar(ctx context.Context, expr string, at time.Time, dedup bool) (float64, []string, error) {
	form := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)},
		"dedup": {strconv.FormatBool(dedup)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.querier.URL+"/api/v1/query?"+form.Encode(), nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status   string   `json:"status"`
		Error    string   `json:"error"`
		Warnings []string `json:"warnings"`
		Data     struct {
			Result []struct {
				Value [2]any `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, nil, err
	}
	if r.Status != "success" || len(r.Data.Result) != 1 {
		return 0, r.Warnings, fmt.Errorf("%s: %s %s (%d results)", expr, r.Status, r.Error, len(r.Data.Result))
	}
	s, err := promtest.ParsePair(r.Data.Result[0].Value)
	return s.V, r.Warnings, err
}

// TestStoresThanos runs the stack on a Thanos receive hashring: three receivers, replication factor
// 2, a querier deduplicating the replicas. The shipped Telegraf pipeline remote-writes a simulated
// fleet to one receiver; a third of the way through, another receiver is killed and stays down while
// Telegraf writes the rest. With a receiver down, the batch alert rule must answer over every sensor
// with Thanos's partial-response warning as a notice, and the querier must return every sample
// Telegraf sent, once. Back up, the receiver changes nothing in what the querier returns.
func TestStoresThanos(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the stores' end-to-end tests start Telegraf, Thanos and the plugin")
	}
	bin := storeBinary(t, "thanos", envThanos)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	dir := storesTempDir(t)
	stack := newTelegrafStack(t, dir, false, nil)
	th := startThanos(t, bin, dir)
	host := startDatasource(t, ctx, stack.binDir, th.querier.URL, dir)

	const victim = 2 // Telegraf writes to receiver 0
	pm25 := promMetricName("purpleair", particleField)
	var evalAt time.Time
	var atKill float64 // samples of pm25 the querier held when the receiver died
	fleet := replay(t, stack, "thanos", th.remoteWriteURL(0), storesSensors, storesHistory, 5*time.Minute, func(start time.Time) {
		// Telegraf's file copy runs ahead of its remote write: wait for the hashring to hold the
		// first 90 simulated minutes, so that the alert rule has an hour to evaluate.
		evalAt = start.Add(80 * time.Minute)
		deadline := time.Now().Add(2 * time.Minute)
		for {
			n, _, err := th.thanosScalar(ctx, fmt.Sprintf("count(max by (sensor_index) (%s))", pm25), start.Add(90*time.Minute), true)
			if err == nil && n == storesSensors {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the querier has not seen %d sensors at the 90th simulated minute within 2 minutes (%v, %v)", storesSensors, n, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
		th.kill(t, victim)
		var err error
		if atKill, _, err = th.thanosScalar(ctx, fmt.Sprintf("sum(count_over_time(%s[%s]))", pm25, promtest.Duration(storesHistory+time.Hour)), time.Now(), true); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("Telegraf wrote %d metrics (%d sensors × %d steps) to receiver 0, receiver %d down from a third of the way on", len(fleet.readings), fleet.sensors, fleet.steps, victim)
	if p := logProblems(fleet.log); len(p) > 0 {
		// With replication factor 2 the write quorum is 1: a dead receiver's share goes to its
		// replica without an error.
		t.Errorf("Telegraf logged problems with one receiver down:\n%s", strings.Join(p, "\n"))
	}

	// With the receiver still down: every sample, once.
	n := compareCounts(t, ctx, th.querier, fleet.readings, thanosTenantLabel)
	want := 0
	for _, r := range fleet.readings {
		if _, ok := promValue(r.Fields[particleField]); ok {
			want++
		}
	}
	if atKill >= float64(want) {
		t.Errorf("the hashring held %v of %d %s samples when receiver %d died: nothing was written during the outage", atKill, want, pm25, victim)
	}
	t.Logf("receiver %d down: the querier returns the %d samples compared; %v of %d %s samples were in before it died", victim, n, atKill, want, pm25)

	// The batch alert rule, with the receiver down, over the first simulated hours and now.
	rule, q := batchRuleQuery(t, evalAt)
	out, err := host.Query(ctx, q)
	if err != nil {
		t.Fatalf("QueryData (alert rule %s, receiver %d down): %v", rule.RuleUID, victim, err)
	}
	during := readFleetAnswer(t, "alert rule with a receiver down", out[q.RefID])
	_, qNow := batchRuleQuery(t, time.Now())
	out, err = host.Query(ctx, qNow)
	if err != nil {
		t.Fatal(err)
	}
	duringNow := readFleetAnswer(t, "alert rule now with a receiver down", out[qNow.RefID])
	for name, a := range map[string]fleetAnswer{"at " + evalAt.UTC().Format(time.TimeOnly): during, "now": duringNow} {
		if len(a.Scores) != storesSensors {
			t.Errorf("alert rule %s %s, receiver %d down: %d sensors scored, want %d", rule.RuleUID, name, victim, len(a.Scores), storesSensors)
		}
		if !hasNoticeContaining(a.Notices, data.NoticeSeverityWarning, "upstream warning") {
			t.Errorf("alert rule %s %s, receiver %d down: no upstream warning notice; Thanos's partial-response warning was lost (notices %v)", rule.RuleUID, name, victim, a.Notices)
		}
		for _, l := range a.Labels {
			if _, ok := l[thanosReplicaLabel]; ok {
				t.Errorf("alert rule: a frame labelled with the replica label (%v); the querier should deduplicate it away", l)
			}
		}
	}
	t.Logf("receiver %d down: the datasource's notices %v", victim, during.Notices)

	// Back up: the same answers, no warning, and the replicas visible without deduplication.
	th.startReceiver(t, th.receivers[victim])
	proctest.WaitHTTP(t, th.receivers[victim].proc, "http://"+th.receivers[victim].http+"/-/ready", time.Minute)
	th.waitEndpoints(t, thanosReceivers, time.Minute)
	if m := compareCounts(t, ctx, th.querier, fleet.readings, thanosTenantLabel); m != n {
		t.Errorf("every receiver up: %d samples compared, %d with one down", m, n)
	}
	out, err = host.Query(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	full := readFleetAnswer(t, "alert rule, every receiver up", out[q.RefID])
	for s, v := range during.Scores {
		if full.Scores[s] != v {
			t.Errorf("alert rule %s: sensor %s scored %v with receiver %d down, %v with all up", rule.RuleUID, s, v, victim, full.Scores[s])
		}
	}
	if hasNoticeContaining(full.Notices, data.NoticeSeverityWarning, "") {
		t.Errorf("alert rule with every receiver up: warning notices %v", full.Notices)
	}
	// The query editor's completion and a series-mode query, through the querier as through
	// VictoriaMetrics (stores_vm_test.go).
	checkCompletion(t, ctx, host, fleet)
	checkSeriesQuery(t, ctx, host, fleet)

	// The first simulated hour was written before the outage: each sensor's series there is on
	// thanosReplication receivers, which the querier shows apart without deduplication.
	expr := fmt.Sprintf("count(count by (sensor_index, %s) (count_over_time(%s[1h])))", thanosReplicaLabel, pm25)
	first := fleet.start.Add(time.Hour - time.Second)
	dd, _, err := th.thanosScalar(ctx, expr, first, true)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := th.thanosScalar(ctx, expr, first, false)
	if err != nil {
		t.Fatal(err)
	}
	if dd != storesSensors || raw != thanosReplication*storesSensors {
		t.Errorf("%s: %v sensor series with deduplication, %v without; want %d and %d", expr, dd, raw, storesSensors, thanosReplication*storesSensors)
	}
}

// hasNoticeContaining reports whether a notice of severity sev contains text.
func hasNoticeContaining(ns []data.Notice, sev data.NoticeSeverity, text string) bool {
	for _, n := range ns {
		if n.Severity == sev && strings.Contains(n.Text, text) {
			return true
		}
	}
	return false
}
