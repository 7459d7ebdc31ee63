package execd

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// WaitDrained returns once the reader of f (a pipe) has taken every byte written to it, f is not a pipe, or
// max has passed.
func WaitDrained(f *os.File, max time.Duration) {
	deadline := time.Now().Add(max)
	for time.Now().Before(deadline) {
		// TIOCINQ is FIONREAD: the bytes in the pipe not yet read. It fails on non-pipes.
		n, err := unix.IoctlGetInt(int(f.Fd()), unix.TIOCINQ)
		if err != nil || n == 0 {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}
