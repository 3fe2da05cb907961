package runtime

import (
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TestCutCarriesTheDecisionScanOfItsRun: a run that resumed from a cut
// re-decides, up to the partition's end when it started, frames runs
// before it decided, possibly long before it took any cut of its own. A
// cut it takes inside that region keeps the run's scan bound, so a restart
// from it finds those decisions too; a cut past the region starts a fresh
// bound at its own time; a restart scans from the restored cut's bound,
// the whole log for a cut without one.
func TestCutCarriesTheDecisionScanOfItsRun(t *testing.T) {
	now := time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC)
	early := now.Add(-3 * time.Hour) // an earlier run decided then, then died
	chain, err := stages.NewChain()
	if err != nil {
		t.Fatal(err)
	}
	lr := &laneRuntime{lane: schemas.LaneExperimental, clock: clock.NewFake(now)}
	w := newWorker(lr, 2)
	w.chain = chain
	w.decisions, w.scannedSince = NewDecisions(100), early
	cut := func(next int64, open ...int64) *Checkpoint {
		w.takeCut(&stages.Frame{Partition: 2, Cut: &operators.TickCut{Partition: 2, Next: next, Open: open}})
		cp, _ := w.cuts.takeDurable(&w.acks)
		if cp == nil || cp.Next != next {
			t.Fatalf("cut at %d: got %+v", next, cp)
		}
		return cp
	}
	for _, c := range []struct {
		next int64
		want time.Time
	}{
		{40, early},  // inside the re-decided region
		{100, early}, // at its end: a run before may have closed frames past it after reading 99
		{101, now.Add(-decisionSlack)},
	} {
		cp := cut(c.next)
		if !cp.DecisionsSince.Equal(c.want) {
			t.Errorf("cut at %d (re-decided below 100): decisions since %v, want %v", c.next, cp.DecisionsSince, c.want)
		}
		b, err := EncodeCheckpoint(cp)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeCheckpoint(b)
		if err != nil {
			t.Fatal(err)
		}
		if got := restartScanSince(back); !got.Equal(c.want) {
			t.Errorf("restart from the cut at %d scans since %v, want %v", c.next, got, c.want)
		}
	}
	// Past the region by its next, inside it by an open frame's first
	// offset, from which a restart resumes: inside.
	if cp := cut(120, 90); !cp.DecisionsSince.Equal(early) {
		t.Errorf("cut at 120 resuming at 90 (re-decided below 100): decisions since %v, want %v", cp.DecisionsSince, early)
	}
	w.decisions = nil // nothing re-decided: every decision past a cut is made after it
	if cp := cut(150); !cp.DecisionsSince.Equal(now.Add(-decisionSlack)) {
		t.Errorf("cut of a run that re-decided nothing: decisions since %v, want %v", cp.DecisionsSince, now.Add(-decisionSlack))
	}
	legacy, err := DecodeCheckpoint([]byte(`{"lane":"experimental","partition":2,"resume":5,"next":5,"written":"2026-12-05T21:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := restartScanSince(legacy); !got.IsZero() {
		t.Errorf("a cut without a bound scans since %v, want the whole log", got)
	}
}
