//go:build !unix

package purpleair

import (
	"testing"
	"time"
)

// cpuNow has no portable source here: benchmarks report wall time only.
func cpuNow() time.Duration { return 0 }

func reportCPU(*testing.B, time.Duration) {}
