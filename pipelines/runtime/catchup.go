package runtime

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/matriz/pipelines/clock"
)

// awaitCaughtUp waits until caughtUp closes, as long as the read is making
// progress: it gives up only when read (the records seen so far) has not
// moved for a whole quiet period. A restore reads whole topics (the state
// changelog, the event log); on a loaded broker a long log can take longer
// than any fixed deadline while still advancing, and abandoning such a read
// only starts it again from the beginning. It returns false when the read
// stalled, with ctx's error when ctx ended.
func awaitCaughtUp(ctx context.Context, cl clock.Clock, caughtUp <-chan struct{}, read *atomic.Int64, quiet time.Duration) (bool, error) {
	t := cl.NewTicker(quiet)
	defer t.Stop()
	last := read.Load()
	for {
		select {
		case <-caughtUp:
			return true, nil
		case <-ctx.Done():
			return false, ctx.Err()
		case <-t.C():
			now := read.Load()
			if now == last {
				return false, nil
			}
			last = now
		}
	}
}
