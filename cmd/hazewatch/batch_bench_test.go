//go:build unix

package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/hazewatch/hazewatch/internal/cputime"
)

// writeBenchCSV writes rows readings of three PM channels keyed by sensor_index, the shape of the
// issue's measurement (1 M rows × 3 fields): values with one decimal as the API gives them, a
// share of rows with a hole for the imputer when holes > 0.
func writeBenchCSV(tb testing.TB, rows int, holes float64) string {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "batch.csv")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	rng := rand.New(rand.NewPCG(14, uint64(rows)))
	fmt.Fprintln(w, "sensor_index,pm1.0_cf_1,pm2.5_cf_1,pm10.0_cf_1")
	for r := range rows {
		pm := rng.ExpFloat64() * 8
		v := [3]float64{pm * 0.7, pm, pm * 1.3}
		fmt.Fprintf(w, "%d", r%5000)
		for c := range v {
			if rng.Float64() < holes {
				w.WriteString(",")
				continue
			}
			fmt.Fprintf(w, ",%.1f", v[c]*(1+0.1*rng.NormFloat64()))
		}
		w.WriteString("\n")
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return path
}

// BenchmarkBatch1M is `hazewatch batch FILE` end to end on 1 M rows × 3 fields: reading, imputing
// (nothing is missing), fitting and scoring, writing. Besides wall time it reports cpu-ns/op, the
// process's user + system time per run, the figure to compare on a machine shared with other work
// (wall time there measures the others too).
func BenchmarkBatch1M(b *testing.B) {
	path := writeBenchCSV(b, 1_000_000, 0)
	b.ResetTimer()
	start := cputime.Process()
	for range b.N {
		if err := runBatch([]string{path}, io.Discard, io.Discard); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cputime.Process()-start)/float64(b.N), "cpu-ns/op")
}
