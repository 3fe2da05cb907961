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

// TestIdleWatermarkCountsInputsPassed: IdleOnInput's func runs once per
// TickInput passed, and before the flow's next check, so a caughtUp that
// compares the count with what its source delivered holds the idle notice
// back while a delivered record is still upstream of the flow.
func TestIdleWatermarkCountsInputsPassed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		const delivered = 3 // by the source; the third is held up in decode
		var passed atomic.Int64
		caughtUp := func() bool { return passed.Load() == delivered }
		w := NewIdleWatermark(5, clk, 100*time.Millisecond, caughtUp, nil, IdleOnInput(func() { passed.Add(1) }))
		out := make(chan any, 16)
		go w.To(extension.NewChanSink(out))
		synctest.Wait()

		w.In() <- TickInput{}
		w.In() <- TickWake{Partition: 5} // not a record: not counted
		w.In() <- TickInput{}
		synctest.Wait()
		if n := passed.Load(); n != 2 {
			t.Fatalf("counted %d inputs, want 2", n)
		}
		for len(out) > 0 {
			<-out
		}
		clk.Advance(time.Second)
		synctest.Wait()
		if len(out) != 0 {
			t.Fatalf("sent %+v with a delivered record not yet passed", <-out)
		}
		w.In() <- TickInput{}
		synctest.Wait()
		if e := <-out; e != (TickInput{}) {
			t.Fatalf("passed %+v, want the record", e)
		}
		clk.Advance(100 * time.Millisecond)
		synctest.Wait()
		if idle, ok := (<-out).(TickIdle); !ok || idle.Partition != 5 {
			t.Fatalf("sent %+v once every delivered record passed, want TickIdle for partition 5", idle)
		}
		close(w.In())
		synctest.Wait()
	})
}
