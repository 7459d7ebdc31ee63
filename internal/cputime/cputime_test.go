package cputime

import (
	"runtime"
	"testing"
)

// Busy work shows as CPU time.
func TestProcessGrows(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no CPU time source here")
	}
	start := Process()
	x := 0.0
	for i := range 50_000_000 {
		x += float64(i & 7)
	}
	if d := Process() - start; d <= 0 || x == 0 {
		t.Errorf("CPU time went from %v by %v over a busy loop", start, d)
	}
}
