//go:build !unix

// Package cputime is the CPU time this process has used, which benchmarks report beside wall time: on a
// machine shared with other work, wall time includes waiting for a core, CPU time does not.
package cputime

import "time"

// Process is unknown here: 0, and benchmarks report wall time only.
func Process() time.Duration { return 0 }
