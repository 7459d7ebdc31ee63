// Package ctxtime waits on the clock the way long-running loops here must: giving up as soon as their
// context is cancelled, so that a stopping plugin or client does not sit out a backoff or a poll interval.
package ctxtime

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx is done, whichever is first, and returns ctx.Err() if ctx ended the
// wait (or had already ended when d ≤ 0).
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
