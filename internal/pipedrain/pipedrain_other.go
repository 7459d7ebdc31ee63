//go:build !linux

package pipedrain

import (
	"os"
	"time"
)

// Wait gives the reader of f a moment to take the last bytes: elsewhere a pipe's fill level is not
// portably known.
func Wait(_ *os.File, max time.Duration) { time.Sleep(min(max, 200*time.Millisecond)) }
