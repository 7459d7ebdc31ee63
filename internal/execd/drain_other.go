//go:build !linux

package execd

import (
	"os"
	"time"
)

// WaitDrained gives the reader of f a moment to take the last bytes: elsewhere a pipe's fill level is not
// portably known.
func WaitDrained(_ *os.File, max time.Duration) { time.Sleep(min(max, 200*time.Millisecond)) }
