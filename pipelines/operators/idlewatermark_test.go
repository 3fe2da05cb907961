package operators

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reugn/go-streams/extension"

	"github.com/matriz/pipelines/clock"
)

// TestIdleWatermarkOnlyWhenCaughtUpAndQuiet: elements pass through; an
// idle notice (never a wall-clock time) follows only once nothing has
// passed for idleAfter and the partition is caught up with its log; input
// closed closes the outlet.
func TestIdleWatermarkOnlyWhenCaughtUpAndQuiet(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		clk := clock.NewFake(t0)
		var caughtUp atomic.Bool
		w := NewIdleWatermark(7, clk, 100*time.Millisecond, caughtUp.Load, nil)
		out := make(chan any, 16)
		go w.To(extension.NewChanSink(out))

		w.In() <- "record"
		synctest.Wait()
		if e := <-out; e != "record" {
			t.Fatalf("passed %v, want the record", e)
		}
		clk.Advance(time.Second) // quiet, but behind the log's end
		synctest.Wait()
		if len(out) != 0 {
			t.Fatalf("a watermark while behind the log: %v", <-out)
		}
		caughtUp.Store(true)
		clk.Advance(100 * time.Millisecond)
		synctest.Wait()
		idle, ok := (<-out).(TickIdle)
		if !ok || idle.Partition != 7 {
			t.Fatalf("sent %+v, want TickIdle for partition 7", idle)
		}
		close(w.In())
		synctest.Wait()
		if _, open := <-out; open {
			t.Fatal("the outlet stayed open after the inlet closed")
		}
	})
}
