package purpleair

import (
	"testing"
	"time"

	"github.com/hazewatch/hazewatch/internal/cputime"
)

// reportCPU reports the CPU time per operation since start (a cputime.Process reading): on two cores
// shared with other work, wall time per operation varies by a factor of two from run to run; the CPU
// time a benchmark loop uses varies far less, so the comparisons in lexer.go and lineprotocol.go report
// it as well (cpu-ns/op). Nothing where CPU time is unknown.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 {
		b.ReportMetric(float64(cputime.Process()-start)/float64(b.N), "cpu-ns/op")
	}
}
