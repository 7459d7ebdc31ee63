package hst

import (
	"fmt"
	"runtime"
	"testing"
)

// benchSeries is the per-sensor scale of issue 14: one state per series, records arriving
// round-robin, so every record's state is cold (10,000 states do not fit in any cache) and a
// record costs what its memory accesses cost.
const benchSeries = 10000

// BenchmarkScoreLearnSeries: ScoreLearn over 10,000 series (10 trees, height 8), one state per
// series, records round-robin over the series. Window 250 is the processor's and the PurpleAir
// preset's default; window 1000 is one that needs 16-bit masses. Reports ns/op per record and
// B/series, the heap that 10,000 NewState calls hold divided by 10,000 (allocator rounding
// included), next to SizeBytes.
func BenchmarkScoreLearnSeries(b *testing.B) {
	for _, bc := range []struct{ features, window int }{
		{1, 250}, {2, 250}, {3, 250}, {1, 1000},
	} {
		b.Run(fmt.Sprintf("features=%d/window=%d", bc.features, bc.window), func(b *testing.B) {
			features := []string{"pm1.0_cf_1", "pm2.5_cf_1", "pm10.0_cf_1"}[:bc.features]
			limits := map[string][2]float64{}
			for _, f := range features {
				limits[f] = [2]float64{0, 1200}
			}
			h := newHST(b, features, Options{Trees: 10, Height: 8, WindowSize: bc.window, Limits: limits, Seed: 11})

			xs := make([][]float64, 4096)
			v := uint64(88172645463325252)
			for i := range xs {
				xs[i] = make([]float64, bc.features)
				for j := range xs[i] {
					v ^= v << 13
					v ^= v >> 7
					v ^= v << 17
					xs[i][j] = float64(v%3000) / 10 // mostly 0..300, like PM values, some beyond
				}
			}
			// Every series past its first window, as in a long-running processor. Learning a
			// window for each of 10,000 series would dominate the run, so one state is warmed and
			// cloned; the records that follow still take each series down its own paths.
			warm := h.NewState()
			for i := 0; i <= bc.window; i++ {
				h.Learn(warm, xs[i&4095])
			}
			states := make([]*State, benchSeries)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for i := range states {
				states[i] = h.NewState()
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			heapPerSeries := float64(after.HeapAlloc-before.HeapAlloc) / benchSeries
			for i := range states {
				states[i] = warm.Clone()
			}
			runtime.GC()

			var sink float64
			i, s := 0, 0
			b.ReportAllocs()
			cpu := startThreadCPU()
			for b.Loop() {
				sink += h.ScoreLearn(states[s], xs[i&4095])
				i++
				if s++; s == benchSeries {
					s = 0
				}
			}
			reportRecordRates(b, cpu)
			b.ReportMetric(heapPerSeries, "B/series")
			b.ReportMetric(float64(warm.SizeBytes()), "sizeB/series")
			_ = sink
		})
	}
}

// BenchmarkMarshalState: saving and loading one warm state at the defaults (10 trees, height 8,
// window 250), what a state file costs per series (records/… here count states).
func BenchmarkMarshalState(b *testing.B) {
	h := newHST(b, []string{"pm1.0_cf_1"}, withDefaults(Options{Limits: map[string][2]float64{"pm1.0_cf_1": {0, 1200}}, Seed: 11}))
	s := h.NewState()
	x := []float64{0}
	v := uint64(88172645463325252)
	for range 400 {
		v ^= v << 13
		v ^= v >> 7
		v ^= v << 17
		x[0] = float64(v%3000) / 10
		h.Learn(s, x)
	}
	b.Run("marshal", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startThreadCPU()
		for b.Loop() {
			if _, err := h.MarshalState(s); err != nil {
				b.Fatal(err)
			}
		}
		reportRecordRates(b, cpu)
	})
	saved, err := h.MarshalState(s)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		cpu := startThreadCPU()
		for b.Loop() {
			if _, err := h.UnmarshalState(saved); err != nil {
				b.Fatal(err)
			}
		}
		reportRecordRates(b, cpu)
	})
}
