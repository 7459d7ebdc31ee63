package qa

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

// BenchmarkObserve judges readings of a 1,000-sensor fleet with positions, interleaved as an API
// poll delivers them; a few percent of them with one channel off.
func BenchmarkObserve(b *testing.B) {
	const sensors = 1000
	d, err := New(DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	keys := make([]string, sensors)
	readings := make([]Reading, 64*sensors)
	for i := range readings {
		s := i % sensors
		keys[s] = strconv.Itoa(s)
		r := healthy(i/sensors, 5+20*rng.Float64(), rng)
		if rng.IntN(50) == 0 {
			r.A *= 3
		}
		r.Lat, r.Lon = 37+float64(s%40)*0.02, -122+float64(s/40)*0.02
		readings[i] = r
	}
	// Each pass over the readings moves on in time, as the next polls would.
	observe := func(i int) {
		k := i % len(readings)
		r := readings[k]
		shift := time.Duration(i/len(readings)) * 64 * step
		r.Time, r.LastSeen = r.Time.Add(shift), r.LastSeen.Add(shift)
		d.Observe(keys[k%sensors], r)
	}
	for i := range 4 * len(readings) { // warm every sensor's model
		observe(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		observe(4*len(readings) + i)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}

// BenchmarkObserveOneSensor is the per-reading cost without the memory traffic of a fleet.
func BenchmarkObserveOneSensor(b *testing.B) {
	d, err := New(DefaultOptions())
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	readings := make([]Reading, 4096)
	for i := range readings {
		readings[i] = healthy(i, 5+20*rng.Float64(), rng)
	}
	observe := func(i int) {
		r := readings[i%len(readings)]
		shift := time.Duration(i/len(readings)) * time.Duration(len(readings)) * step
		r.Time, r.LastSeen = r.Time.Add(shift), r.LastSeen.Add(shift)
		d.Observe("1", r)
	}
	for i := range 2 * len(readings) {
		observe(i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		observe(2*len(readings) + i)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "readings/s")
}
