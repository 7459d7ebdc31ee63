//go:build unix

// Package cputime is the CPU time this process has used, which benchmarks report beside wall time: on a
// machine shared with other work, wall time includes waiting for a core, CPU time does not.
package cputime

import (
	"syscall"
	"time"
)

// Process is this process's user + system CPU time so far (0 if unknown).
func Process() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
