package operators_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TestTickCutLeavesOutARateSwitchNotYetTaken: the controller asks for a
// lower rate, the grid schedules the switch at the next boundary both rates
// share, a cut is taken, and the controller changes its mind before any
// frame reaches that boundary, so the switch never happens and nothing
// records it. A tick restored from the cut (following the recorded
// switches, of which there are none) must cut the frames the first tick
// cut after the cut, not switch at the abandoned boundary.
func TestTickCutLeavesOutARateSwitchNotYetTaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := []operators.TickOption{operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickLateInBand(true)}
		r := newTkRig(t, append(opts, operators.TickAdaptive(true), operators.TickP95Window(1), operators.TickBudget(schemas.LaneCandidate, 10*time.Millisecond))...)
		base := tkT0.Truncate(time.Second)
		a := r.rec(0, base.Add(time.Millisecond))
		b := r.rec(0, base.Add(40*time.Millisecond))
		c := r.rec(0, base.Add(70*time.Millisecond))
		d := r.rec(0, base.Add(120*time.Millisecond))
		r.send(operators.TickInput{Record: a})
		r.tick.ObserveFrameDuration(50 * time.Millisecond) // slow: 30 → 20, from the 100 ms boundary
		r.tick.RequestCut()
		r.send(operators.TickInput{Record: b})        // closes [0, 33.3 ms): the cut rides on it
		r.tick.ObserveFrameDuration(time.Millisecond) // fast again: back to 30 before 100 ms
		r.send(operators.TickInput{Record: c})
		r.send(operators.TickInput{Record: d})
		r.close()
		first, _ := r.take()
		var cut *operators.TickCut
		var after []*stages.Frame
		for i, f := range first {
			if tc, ok := f.Cut.(*operators.TickCut); ok && cut == nil {
				cut, after = tc, first[i+1:]
			}
		}
		if cut == nil {
			t.Fatal("no cut attached to any frame")
		}
		if n := len(decisionsOf(first, schemas.EventFPSChange)); n != 0 {
			t.Fatalf("%d rate changes recorded, want none: the switch was abandoned", n)
		}

		r2 := newTkRig(t, append(opts, operators.TickFPSSchedule(func(int32) []operators.GridSwitch { return nil }))...)
		r2.send(operators.TickRestore{Partition: 0, State: cut.State})
		for _, rec := range []*stages.Record{a, b, c, d} {
			if rec.Offset >= cut.Next || slices.Contains(cut.Open, rec.Offset) {
				r2.send(operators.TickInput{Record: rec})
			}
		}
		r2.close()
		second, _ := r2.take()
		if got, want := spans(second), spans(after); !slices.Equal(got, want) {
			t.Fatalf("restored from the cut (grid %+v), the tick cut\n  %v\nwant the first tick's frames after the cut\n  %v", cut.State.Grid, got, want)
		}
	})
}
