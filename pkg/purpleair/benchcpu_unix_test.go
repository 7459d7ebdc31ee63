//go:build unix

package purpleair

import (
	"syscall"
	"testing"
	"time"
)

// cpuNow is the CPU time the process has used. On two cores shared with other work, wall time per
// operation varies by a factor of two from run to run; the CPU time a benchmark loop uses varies far
// less, so the comparisons in lexer.go and lineprotocol.go report it as well (cpu-ns/op).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU reports the CPU time per operation since start.
func reportCPU(b *testing.B, start time.Duration) {
	if start > 0 {
		b.ReportMetric(float64(cpuNow()-start)/float64(b.N), "cpu-ns/op")
	}
}
