package runtime

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/clock"
)

const quiet = time.Second

type awaitResult struct {
	ok  bool
	err error
}

// startAwait runs awaitCaughtUp in a synctest bubble's goroutine (its
// ticker on the bubble's fake time) and returns once it waits.
func startAwait(ctx context.Context, caughtUp chan struct{}, read *atomic.Int64) chan awaitResult {
	done := make(chan awaitResult, 1)
	go func() {
		ok, err := awaitCaughtUp(ctx, clock.Real{}, caughtUp, read, quiet)
		done <- awaitResult{ok, err}
	}()
	synctest.Wait()
	return done
}

// TestAwaitCaughtUpWaitsWhileTheReadAdvances: a read that keeps advancing
// is waited for over many quiet periods, and its end is taken.
func TestAwaitCaughtUpWaitsWhileTheReadAdvances(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var read atomic.Int64
		caughtUp := make(chan struct{})
		done := startAwait(context.Background(), caughtUp, &read)
		for i := range 10 {
			read.Add(100)
			time.Sleep(quiet) // one quiet period, on the bubble's clock
			synctest.Wait()
			select {
			case r := <-done:
				t.Fatalf("gave up after %d periods that each advanced: %+v", i+1, r)
			default:
			}
		}
		close(caughtUp)
		if r := <-done; !r.ok || r.err != nil {
			t.Fatalf("a read that advanced every period and then caught up: ok=%v err=%v", r.ok, r.err)
		}
	})
}

// TestAwaitCaughtUpGivesUpOnAStalledRead: a read that did not move for a
// whole quiet period is given up, after that period and not before.
func TestAwaitCaughtUpGivesUpOnAStalledRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var read atomic.Int64
		start := time.Now()
		done := startAwait(context.Background(), make(chan struct{}), &read)
		read.Add(5)
		r := <-done
		if r.ok || r.err != nil {
			t.Fatalf("a stalled read: ok=%v err=%v, want given up without an error", r.ok, r.err)
		}
		if took := time.Since(start); took != 2*quiet {
			t.Fatalf("given up after %v, want %v: one period that moved, one that did not", took, 2*quiet)
		}
	})
}

// TestAwaitCaughtUpEndsWithItsContext: the claim's end stops the wait.
func TestAwaitCaughtUpEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var read atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		done := startAwait(ctx, make(chan struct{}), &read)
		cancel()
		if r := <-done; r.ok || r.err != context.Canceled {
			t.Fatalf("ctx cancelled: ok=%v err=%v", r.ok, r.err)
		}
	})
}
