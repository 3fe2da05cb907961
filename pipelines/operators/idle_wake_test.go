package operators

import (
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reugn/go-streams/extension"

	"github.com/matriz/pipelines/clock"
)

// TestIdleWatermarkWakesThenCutsThenIdles pins what a quiet, caught-up
// partition's check sends, in order: TickWake when IdleWake's func asks for
// it (before the cut, so the cut covers the woken frame), TickCutNow when a
// cut is wanted, then TickIdle; with neither asked for, only TickIdle.
func TestIdleWatermarkWakesThenCutsThenIdles(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
		var wake, cut atomic.Bool
		caughtUp := func() bool { return true }
		w := NewIdleWatermark(4, clk, 100*time.Millisecond, caughtUp, cut.Load, IdleWake(wake.Load))
		out := make(chan any, 16)
		go w.To(extension.NewChanSink(out))
		synctest.Wait() // the flow's ticker starts before the clock moves
		drain := func() []any {
			synctest.Wait()
			var got []any
			for len(out) > 0 {
				got = append(got, <-out)
			}
			return got
		}

		wake.Store(true)
		cut.Store(true)
		clk.Advance(100 * time.Millisecond)
		if got, want := drain(), []any{TickWake{Partition: 4}, TickCutNow{Partition: 4}, TickIdle{Partition: 4}}; !equalAny(got, want) {
			t.Fatalf("quiet check sent %+v, want %+v", got, want)
		}
		wake.Store(false)
		cut.Store(false)
		clk.Advance(100 * time.Millisecond)
		if got, want := drain(), []any{TickIdle{Partition: 4}}; !equalAny(got, want) {
			t.Fatalf("quiet check with nothing asked sent %+v, want %+v", got, want)
		}
		close(w.In())
		synctest.Wait()
	})
}

// TestIdleWatermarkInputDuringAQuietCheckGoesFirst pins the check's last
// look at the inlet: a record that arrives while the flow is handing the
// tick a cut request is passed on instead of an idle notice, since a
// partition with a record in hand is not idle; and an inlet closed at that
// point ends the flow without a last idle notice.
func TestIdleWatermarkInputDuringAQuietCheckGoesFirst(t *testing.T) {
	for _, closeInlet := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			clk := clock.NewFake(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
			caughtUp, cutWanted := func() bool { return true }, func() bool { return true }
			w := NewIdleWatermark(2, clk, 100*time.Millisecond, caughtUp, cutWanted)
			synctest.Wait() // the flow's ticker starts before the clock moves
			clk.Advance(100 * time.Millisecond)
			synctest.Wait() // the flow now blocks handing on TickCutNow
			if closeInlet {
				close(w.In())
			} else {
				go func() { w.In() <- "record" }()
			}
			synctest.Wait()
			if e := <-w.Out(); e != (TickCutNow{Partition: 2}) {
				t.Fatalf("the quiet check sent %+v first, want TickCutNow", e)
			}
			e, open := <-w.Out()
			switch {
			case closeInlet && open:
				t.Fatalf("after the inlet closed the flow sent %+v, want its outlet closed", e)
			case !closeInlet && e != "record":
				t.Fatalf("after the cut request the flow sent %+v (open %v), want the record that was waiting", e, open)
			}
			if !closeInlet {
				close(w.In())
				if e, open := <-w.Out(); open {
					t.Fatalf("sent %+v after the inlet closed", e)
				}
			}
		})
	}
}

func equalAny(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
