//go:build unix

package anomaly

import (
	"syscall"
	"time"
)

// processCPUTime is the CPU time (user + system) this process has used: benchmarks report throughput
// per CPU-second besides per wall-second, since on a shared machine wall time includes waiting for a core.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
