// Package clock is the one place the project reads time. Every component
// that needs "now" or a periodic wake-up takes a Clock, so tests drive time
// with Fake and never sleep, and replay runs on event time alone.
package clock

import (
	"context"
	"time"
)

// Clock tells the time and makes tickers.
type Clock interface {
	Now() time.Time
	NewTicker(d time.Duration) Ticker
}

// Ticker delivers ticks on C, like time.Ticker: a slow reader misses ticks
// rather than queueing them.
type Ticker interface {
	C() <-chan time.Time
	Stop()
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now.
func (Real) Now() time.Time { return time.Now() }

// NewTicker returns a time.Ticker.
func (Real) NewTicker(d time.Duration) Ticker { return realTicker{time.NewTicker(d)} }

type realTicker struct{ t *time.Ticker }

func (r realTicker) C() <-chan time.Time { return r.t.C }
func (r realTicker) Stop()               { r.t.Stop() }

// Sleep waits d on c, or returns false as soon as ctx ends.
func Sleep(ctx context.Context, c Clock, d time.Duration) bool {
	t := c.NewTicker(d)
	defer t.Stop()
	select {
	case <-t.C():
		return true
	case <-ctx.Done():
		return false
	}
}
