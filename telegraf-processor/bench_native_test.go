package anomaly

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/internal/teldist"
	"github.com/hazewatch/hazewatch/internal/telegraftest"
)

// nativeRoute is one Telegraf pipeline of BenchmarkTelegrafNative.
type nativeRoute struct {
	name     string
	conf     string          // Telegraf's configuration file
	out      string          // what outputs.file writes
	state    string          // the processor's state file, removed before each run ("" for none)
	cpuPerM  []time.Duration // CPU per metric of each run (Telegraf and the processes it waited for)
	wallPerM []time.Duration
	telegraf string
}

// BenchmarkTelegrafNative measures what compiling the processor into Telegraf buys, through the real
// binaries on the real snapshot's metrics: inputs.file → [processor] → outputs.file, one --once run of
// 200,000 metrics, in three pipelines of our distribution hazewatch-telegraf:
//
//   - alone:  no processor (Telegraf's own cost of reading, passing and writing the metrics);
//   - native: processors.anomaly compiled in, the reference configuration;
//   - execd:  processors.execd running telegraf-anomaly with the same configuration.
//
// Each iteration runs the three in turn, so that load from elsewhere on a shared machine hits them alike,
// and the ratios are taken within an iteration (paired); the medians over the iterations are reported.
// CPU time (user + system of Telegraf and of telegraf-anomaly, which it waits for) is steadier than wall
// time on a busy machine. Goals (issue 14): native ≤ 1.3× alone per metric, and ≥ 2× the execd route's
// throughput (execd/native CPU ≥ 2). Run with -benchtime=5x.
func BenchmarkTelegrafNative(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs Telegraf")
	}
	const n = 200000
	dist := teldist.Binary(b, repotest.Root(b))
	plugin := buildCommand(b, "cmd/telegraf-anomaly", b.TempDir())
	input := filepath.Join(b.TempDir(), "in.lp")
	if err := os.WriteFile(input, snapshotLines(b, n), 0o644); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	route := func(name, processor string) *nativeRoute {
		r := &nativeRoute{name: name, conf: filepath.Join(dir, name+".conf"), out: filepath.Join(dir, name+".out"), telegraf: dist}
		if processor != "" {
			r.state = filepath.Join(dir, name+".state")
			processor = strings.ReplaceAll(processor, "STATE", r.state)
		}
		conf := fileRouteConfig(input, processor, r.out)
		if err := os.WriteFile(r.conf, []byte(conf), 0o644); err != nil {
			b.Fatal(err)
		}
		return r
	}
	execdConf := filepath.Join(dir, "anomaly.conf")
	if err := os.WriteFile(execdConf, []byte(strings.ReplaceAll(referenceConf, "STATE", filepath.Join(dir, "execd.state"))), 0o644); err != nil {
		b.Fatal(err)
	}
	routes := []*nativeRoute{
		route("alone", ""),
		route("native", "\n"+strings.Replace(referenceConf, "[[processors.anomaly]]", "[[processors.anomaly]]\n  namepass = [\"purpleair\"]", 1)),
		route("execd", execdProcessor(plugin, execdConf)),
	}
	routes[2].state = filepath.Join(dir, "execd.state")

	var nativeOverAlone, execdOverNative []float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var cpu [3]time.Duration
		for j, r := range routes {
			if r.state != "" {
				os.Remove(r.state)
			}
			os.Remove(r.out)
			res := telegraftest.RunOnce(b, r.telegraf, r.conf, 5*time.Minute)
			out, err := os.ReadFile(r.out)
			if err != nil {
				b.Fatalf("%s: %v\n%s", r.name, err, res.Stderr)
			}
			if lines := bytes.Count(out, []byte("\n")); lines != n {
				b.Fatalf("%s: %d metrics out of %d\n%s", r.name, lines, n, res.Stderr)
			}
			// The processor ran: every metric carries its score or its warm-up mark.
			if r.name != "alone" && bytes.Count(out, []byte("anomaly_score="))+bytes.Count(out, []byte("anomaly_warmup=true")) != n {
				b.Fatalf("%s: not every metric went through the processor", r.name)
			}
			if res.CPU == 0 {
				b.Skip("this platform does not report the CPU time of a child process")
			}
			cpu[j] = res.CPU
			r.cpuPerM = append(r.cpuPerM, res.CPU/n)
			r.wallPerM = append(r.wallPerM, res.Wall/n)
		}
		nativeOverAlone = append(nativeOverAlone, cpu[1].Seconds()/cpu[0].Seconds())
		execdOverNative = append(execdOverNative, cpu[2].Seconds()/cpu[1].Seconds())
	}
	for _, r := range routes {
		b.ReportMetric(float64(medianDuration(r.cpuPerM).Nanoseconds())/1000, r.name+"-cpu-µs/metric")
		b.ReportMetric(float64(medianDuration(r.wallPerM).Nanoseconds())/1000, r.name+"-wall-µs/metric")
	}
	b.ReportMetric(median(nativeOverAlone), "native/alone-cpu")
	b.ReportMetric(median(execdOverNative), "execd/native-cpu")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func medianDuration(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	return time.Duration(median(xs))
}
