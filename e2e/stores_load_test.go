package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/promtest"
)

// The load the scaling figures are measured with (README, Scaling): a fleet of loadSensors sensors
// replaying loadHistory (the batch alert rule's hour and a little more) into each store through the
// shipped Telegraf pipeline, then the rule's fleet query evaluated loadEvals times at successive
// steps through a fresh datasource process.
const (
	loadSensors   = 1000
	loadHistory   = 70 * time.Minute
	loadEvals     = 5
	envStoresLoad = "HAZEWATCH_STORES_LOAD"
)

// loadResult is one store's figures.
type loadResult struct {
	Store   string `json:"store"`
	Sensors int    `json:"sensors"`
	Metrics int    `json:"metrics_written"`
	Samples int    `json:"samples_compared"`
	// IngestSeconds runs from Telegraf's start to its exit after the last flush: every metric
	// written and acknowledged by the store; the samples are then counted in it.
	IngestSeconds    float64 `json:"ingest_seconds"`
	MetricsPerSecond float64 `json:"metrics_per_second"`
	// Alert query latencies, ms: the first evaluation after the plugin started, then each at a new
	// step (no cached forest to reuse).
	AlertMs          []float64 `json:"alert_ms"`
	PluginPeakRSSMiB float64   `json:"plugin_peak_rss_mib"`
	SeriesPerSensor  float64   `json:"series_per_sensor"`
	// StoreBytes is the store's data directory after ingestion (Prometheus and Thanos receive: the
	// head's WAL, not yet compacted into blocks; VictoriaMetrics: its parts after a forced flush;
	// Thanos: all three receivers, so each sample twice).
	StoreBytes     int64   `json:"store_bytes"`
	BytesPerSample float64 `json:"bytes_per_sample"`
}

// TestStoresLoad measures the scaling figures for one Prometheus, VictoriaMetrics and the Thanos
// receive hashring: Telegraf's remote-write rate with nothing lost, and the batch alert rule over
// 1,000 sensors through the datasource (latency, plugin peak RSS). Opt-in (HAZEWATCH_STORES_LOAD=1,
// `go tool mage storesload`): it takes several minutes and its figures belong in the README, not in
// an assertion; what it asserts is that nothing is lost and every sensor is scored.
func TestStoresLoad(t *testing.T) {
	if os.Getenv(envStoresLoad) == "" {
		t.Skip("set " + envStoresLoad + "=1 (go tool mage storesload) to measure the scaling figures")
	}
	promBin := promtest.Binary(t)
	vmBin := storeBinary(t, "victoria-metrics", envVictoriaMetrics)
	thBin := storeBinary(t, "thanos", envThanos)
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	dir := storesTempDir(t)
	stack := newTelegrafStack(t, dir, false, nil)

	type target struct {
		name   string
		start  func(dir string) (remote string, query *promtest.Server, size func() int64)
		ignore []string
	}
	targets := []target{
		{name: "prometheus", start: func(d string) (string, *promtest.Server, func() int64) {
			p := startPrometheus(t, promBin, d, time.Minute)
			return p.URL + "/api/v1/write", p, func() int64 { return dirBytes(filepath.Join(d, "tsdb")) }
		}},
		{name: "victoria-metrics", start: func(d string) (string, *promtest.Server, func() int64) {
			vm, data := startVictoriaMetrics(t, vmBin, d, "vm")
			return vm.URL + "/api/v1/write", vm, func() int64 {
				// Parts are written from memory every few seconds; measure what is on disk for all of it.
				if resp, err := http.Get(vm.URL + "/internal/force_flush"); err == nil {
					resp.Body.Close()
				}
				return dirBytes(data)
			}
		}},
		{name: "thanos", ignore: []string{thanosTenantLabel}, start: func(d string) (string, *promtest.Server, func() int64) {
			th := startThanos(t, thBin, d)
			return th.remoteWriteURL(0), th.querier, func() int64 {
				var n int64
				for _, r := range th.receivers {
					n += dirBytes(r.tsdb)
				}
				return n
			}
		}},
	}
	var results []loadResult
	for _, tg := range targets {
		// HAZEWATCH_STORES_LOAD=1 measures every store; a comma-separated list of names, only those.
		if v := os.Getenv(envStoresLoad); v != "1" && !slices.Contains(strings.Split(v, ","), tg.name) {
			continue
		}
		d := filepath.Join(dir, tg.name)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		remote, store, size := tg.start(d)
		began := time.Now()
		fleet := replay(t, stack, "load-"+tg.name, remote, loadSensors, loadHistory, 10*time.Minute, nil)
		ingest := time.Since(began)
		if tg.name == "victoria-metrics" {
			// As README, Scaling says to after a backfill (see vmAfterBackfill).
			waitUntil(fleet.newest().Add(vmLatencyOffset + 2*time.Second))
			vmAfterBackfill(t, store)
		}
		n := compareCounts(t, ctx, store, fleet.readings, tg.ignore...)
		r := loadResult{Store: tg.name, Sensors: len(sensorsOf(fleet.readings)), Metrics: len(fleet.readings), Samples: n,
			IngestSeconds: round1(ingest.Seconds()), MetricsPerSecond: math.Round(float64(len(fleet.readings)) / ingest.Seconds()),
			SeriesPerSensor: seriesPerSensor(fleet.readings)}
		if r.Sensors != loadSensors {
			t.Errorf("%s: %d sensors written, want %d", tg.name, r.Sensors, loadSensors)
		}

		host := startDatasource(t, ctx, stack.binDir, store.URL, d)
		step := shippedStep(t)
		for k := 0; k < loadEvals; k++ {
			eval := fleet.last.Add(5*time.Second - time.Duration(k)*step)
			_, q := batchRuleQuery(t, eval)
			t0 := time.Now()
			out, err := host.Query(ctx, q)
			if err != nil {
				t.Fatalf("%s: QueryData: %v", tg.name, err)
			}
			r.AlertMs = append(r.AlertMs, round1(float64(time.Since(t0).Microseconds())/1000))
			if a := readFleetAnswer(t, tg.name+" alert rule", out[q.RefID]); len(a.Scores) != loadSensors {
				t.Errorf("%s: alert rule evaluated at %s (the last reading's step − %d steps, %s ago) scored %d sensors, want %d",
					tg.name, eval.UTC().Format(time.TimeOnly), k, time.Since(eval).Round(time.Second), len(a.Scores), loadSensors)
			}
		}
		r.PluginPeakRSSMiB = round1(float64(host.PeakRSS()) / (1 << 20))
		host.Client.Kill()
		r.StoreBytes = size()
		r.BytesPerSample = round1(float64(r.StoreBytes) / float64(n))
		t.Logf("%s: %+v", tg.name, r)
		results = append(results, r)
		if store.Proc != nil {
			_ = store.Proc.Stop(30 * time.Second)
		}
	}
	out := os.Getenv(resultsEnv)
	if out == "" {
		out = dir
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(results, "", "  ")
	if err := os.WriteFile(filepath.Join(out, "stores-load.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		ms := slices.Clone(r.AlertMs[1:])
		slices.Sort(ms)
		fmt.Printf("%-17s %6d metrics in %6.1f s = %5.0f metrics/s; alert over %d sensors: first %.0f ms, later median %.0f ms; plugin peak RSS %.0f MiB; %.1f B/sample on disk\n",
			r.Store, r.Metrics, r.IngestSeconds, r.MetricsPerSecond, r.Sensors, r.AlertMs[0], ms[len(ms)/2], r.PluginPeakRSSMiB, r.BytesPerSample)
	}
}

func round1(x float64) float64 { return math.Round(x*10) / 10 }
