package anomaly

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/influxdata/telegraf"
	"github.com/influxdata/telegraf/metric"
	"github.com/influxdata/telegraf/plugins/serializers/influx"
	"github.com/influxdata/telegraf/testutil"

	"github.com/hazewatch/hazewatch/internal/cputime"
	"github.com/hazewatch/hazewatch/internal/repotest"
	"github.com/hazewatch/hazewatch/pkg/purpleair"
)

// benchMetrics makes n reusable metrics spread over `series` sensors, with fields as the PurpleAir input
// emits them. Reusing them is fair: after the first Add the output fields exist and are replaced.
func benchMetrics(n, series int, fields []string) []telegraf.Metric {
	out := make([]telegraf.Metric, n)
	for i := range out {
		f := map[string]any{"rssi": int64(-50)}
		for j, name := range fields {
			f[name] = float64((i*7919+j*104729)%997) / 3
		}
		out[i] = metric.New("purpleair", map[string]string{"sensor_index": strconv.Itoa(i % series)}, f, time.Unix(1712793665, 0))
	}
	return out
}

func benchProcessor(b *testing.B, mod func(*Anomaly)) *Anomaly {
	p := newDefault()
	p.Log = testutil.Logger{}
	mod(p)
	if err := p.Init(); err != nil {
		b.Fatal(err)
	}
	if err := p.Start(&testutil.NopAccumulator{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(p.Stop)
	return p
}

func benchAdd(b *testing.B, p *Anomaly, ms []telegraf.Metric) {
	acc := &testutil.NopAccumulator{}
	// Warm up: every series exists and is past its first window, as in a long-running Telegraf.
	// Learning 250 metrics for each of 10,000 series would take most of the benchmark's time, so one
	// series is warmed and its state copied to the others.
	for range p.WindowSize + 1 {
		_ = p.Add(ms[0], acc)
	}
	warm := p.table.global
	if warm == nil {
		warm = p.table.head
	}
	for _, m := range ms {
		_ = p.Add(m, acc)
	}
	p.table.each(func(s *series) { s.state = warm.state.Clone() })
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cputime.Process()
	for i := 0; i < b.N; i++ {
		_ = p.Add(ms[i%len(ms)], acc)
	}
	cpu = cputime.Process() - cpu
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "metrics/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "metrics/cpu-s")
	}
}

// BenchmarkAddGlobal: one field, one global model (goal ≥ 500,000 metrics/s on one core).
func BenchmarkAddGlobal(b *testing.B) {
	p := benchProcessor(b, func(p *Anomaly) { p.Fields = []string{pm1} })
	benchAdd(b, p, benchMetrics(4096, 1, []string{pm1}))
}

// BenchmarkAddPerSeries: one field, a model per sensor, 10,000 sensors in turn (goal ≥ 300,000 metrics/s).
func BenchmarkAddPerSeries(b *testing.B) {
	for _, fields := range [][]string{{pm1}, DefaultFields} {
		b.Run(fmt.Sprintf("fields=%d", len(fields)), func(b *testing.B) {
			p := benchProcessor(b, func(p *Anomaly) {
				p.Fields = fields
				p.KeyTags = []string{"sensor_index"}
				p.MaxSeries = 10000
			})
			benchAdd(b, p, benchMetrics(10000, 10000, fields))
		})
	}
}

// BenchmarkMemoryPerSeries reports the heap held per series at the defaults (3 fields, 10 trees,
// height 8, mean imputation) with 10,000 series. One iteration is enough: -benchtime=1x.
func BenchmarkMemoryPerSeries(b *testing.B) {
	const n = 10000
	ms := benchMetrics(n, n, DefaultFields)
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		p := benchProcessor(b, func(p *Anomaly) { p.KeyTags = []string{"sensor_index"}; p.MaxSeries = n })
		acc := &testutil.NopAccumulator{}
		for _, m := range ms {
			_ = p.Add(m, acc)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/series")
		b.ReportMetric(float64(p.table.head.state.SizeBytes()), "treeB/series")
		runtime.KeepAlive(p)
	}
}

// BenchmarkTelegrafExecd measures throughput through a real Telegraf (inputs.file → processors.execd →
// outputs.file, one --once run of 200,000 metrics) with telegraf-anomaly (reference configuration,
// global model) against a no-op processor on the same shim. Each iteration runs both, alternately, so
// that load from elsewhere on the machine hits both alike; the best run of each is reported. The goal:
// the processor costs at most 15% of the no-op throughput. Run with -benchtime=3x.
//
// Two inputs: "synthetic", small metrics of four fields (the worst case: the two fields the processor
// adds are a third of each output line), and "snapshot", the real API snapshot's rows as the PurpleAir
// input emits them (up to 15 fields), repeated with advancing timestamps.
func BenchmarkTelegrafExecd(b *testing.B) {
	if testing.Short() {
		b.Skip("builds and runs Telegraf")
	}
	const n = 200000
	bins := b.TempDir()
	noop := buildCommand(b, "testdata/noop-processor", bins)
	anomaly := buildCommand(b, "cmd/telegraf-anomaly", bins)
	b.Run("synthetic", func(b *testing.B) {
		var input bytes.Buffer
		for i := range n {
			fmt.Fprintf(&input, "purpleair,sensor_index=%d pm1.0_cf_1=%.2f,pm2.5_cf_1=%.2f,pm10.0_cf_1=%.2f,rssi=-55i %d\n",
				i%25000, float64(i%997)/3, float64(i%991)/2.5, float64(i%983)/2, 1712793665000000000+int64(i)*1000)
		}
		benchExecd(b, noop, anomaly, input.Bytes(), n)
	})
	b.Run("snapshot", func(b *testing.B) {
		benchExecd(b, noop, anomaly, snapshotLines(b, n), n)
	})
}

// snapshotLines is n metrics in line protocol: the snapshot's rows as the PurpleAir input makes them,
// over and over, each pass two minutes (PurpleAir's update interval) after the one before.
func snapshotLines(b *testing.B, n int) []byte {
	f, err := os.Open(repotest.SharedData(b, repotest.SharedSnapshot))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := purpleair.Decode(f)
	if err != nil {
		b.Fatal(err)
	}
	var points []purpleair.Point
	for i := range r.Data {
		if pt, err := r.Point(i, purpleair.PointOptions{}); err == nil {
			points = append(points, pt)
		}
	}
	ser := &influx.Serializer{}
	if err := ser.Init(); err != nil {
		b.Fatal(err)
	}
	var out bytes.Buffer
	for i := range n {
		pt := points[i%len(points)]
		at := pt.Time.Add(time.Duration(i/len(points)) * 2 * time.Minute)
		line, err := ser.Serialize(metric.New(pt.Measurement, pt.Tags, pt.Fields, at))
		if err != nil {
			b.Fatal(err)
		}
		out.Write(line)
	}
	return out.Bytes()
}

func benchExecd(b *testing.B, noopBin, anomalyBin string, input []byte, n int) {
	setups := []struct {
		name      string
		e         *e2eSetup
		best, cpu time.Duration // best wall time; CPU time (Telegraf + plugin) of that run
	}{
		{name: "noop", e: newE2E(b, noopBin, referenceConf)},
		{name: "anomaly", e: newE2E(b, anomalyBin, referenceConf)},
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range setups {
			s := &setups[j]
			os.Remove(s.e.state)
			out, res := s.e.runTimed(b, input)
			if lines := bytes.Count(out, []byte("\n")); lines != n {
				b.Fatalf("%s: %d metrics out of %d", s.name, lines, n)
			}
			if s.best == 0 || res.Wall < s.best {
				s.best, s.cpu = res.Wall, res.CPU
			}
		}
	}
	noop, anomaly := float64(n)/setups[0].best.Seconds(), float64(n)/setups[1].best.Seconds()
	b.ReportMetric(noop, "noop-metrics/s")
	b.ReportMetric(anomaly, "anomaly-metrics/s")
	b.ReportMetric(100*(1-anomaly/noop), "cost-%")
	// CPU per metric (Telegraf and plugin together) is steadier than throughput on a busy machine.
	if setups[0].cpu > 0 {
		b.ReportMetric(float64(setups[0].cpu.Microseconds())/float64(n), "noop-cpu-µs/metric")
		b.ReportMetric(float64(setups[1].cpu.Microseconds())/float64(n), "anomaly-cpu-µs/metric")
		b.ReportMetric(100*(setups[1].cpu.Seconds()/setups[0].cpu.Seconds()-1), "cpu-cost-%")
	}
}

// presetBenchMetrics makes perSensor clean readings for each of `sensors` sensors, with the fields the
// PurpleAir input emits by default: channels agreeing, levels 5–10 µg/m³, every value moving, so that
// the checks run their usual path (a flagged reading costs a detail text, and is rare).
func presetBenchMetrics(sensors, perSensor int) []telegraf.Metric {
	out := make([]telegraf.Metric, sensors*perSensor)
	for i := range out {
		u := float64((i*7919)%997) / 997
		a := 5 + 5*u
		b := a * 1.03
		f := map[string]any{
			"rssi": -50.0, "uptime": 10183.0, "latitude": 37.3 + float64(i%sensors)*1e-3, "longitude": -122.0,
			"humidity": 40 + 10*u, "temperature": 70 + 5*u, "pressure": 1010 + u,
			"pm1.0": a * 0.7, "pm2.5_alt": a * 0.5, "pm10.0": a * 1.2, "pm1.0_cf_1": a * 0.7, "pm2.5_atm": a * 0.95,
			"pm2.5_cf_1": (a + b) / 2, "pm10.0_cf_1": a * 1.2, "pm2.5_cf_1_a": a, "pm2.5_cf_1_b": b,
		}
		out[i] = metric.New("purpleair", map[string]string{"sensor_index": strconv.Itoa(i % sensors)}, f, time.Unix(1712793665, 0))
	}
	return out
}

// BenchmarkAddPreset is Add with preset = "purpleair" (goal: within 2× of BenchmarkAddGlobal's and
// BenchmarkAddPerSeries' per-metric time). Readings advance two minutes per sensor per pass, as the
// checks need; every sensor is past its learned model's window before timing.
func BenchmarkAddPreset(b *testing.B) {
	for _, sensors := range []int{1, 10000} {
		b.Run(fmt.Sprintf("sensors=%d", sensors), func(b *testing.B) {
			p := benchProcessor(b, func(p *Anomaly) { p.Preset = PresetPurpleAir; p.MaxSeries = sensors })
			perSensor := max(2, 4096/sensors) // two at least: one reading repeated is a flatline
			ms := presetBenchMetrics(sensors, perSensor)
			acc := &testutil.NopAccumulator{}
			at := func(i int) time.Time { return time.Unix(1712793665, 0).Add(time.Duration(i/sensors) * 2 * time.Minute) }
			warm := (p.WindowSize + 1) * sensors
			flagged := 0
			for i := range warm {
				m := ms[i%len(ms)]
				m.SetTime(at(i))
				_ = p.Add(m, acc)
				if i >= warm-len(ms) && m.HasField(KindField) {
					m.RemoveField(KindField)
					flagged++
				}
			}
			if flagged > len(ms)/100 {
				b.Fatalf("%d of %d warm readings flagged: not the clean path", flagged, len(ms))
			}
			if p.qa.Sensors() != sensors {
				b.Fatalf("%d sensors, want %d", p.qa.Sensors(), sensors)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cputime.Process()
			for i := 0; i < b.N; i++ {
				m := ms[i%len(ms)]
				m.SetTime(at(warm + i))
				_ = p.Add(m, acc)
			}
			cpu = cputime.Process() - cpu
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "metrics/s")
			if cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "metrics/cpu-s")
			}
		})
	}
}
