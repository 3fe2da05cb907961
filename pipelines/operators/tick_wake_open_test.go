package operators_test

import (
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
)

// TestTickWakeClosesEveryOpenFrame pins TickWake on a partition with open
// frames: they all close at once, in order, with one watermark decision
// (why "approval") on the first, moving to the last one's end plus the
// grace; nothing past them is cut.
func TestTickWakeClosesEveryOpenFrame(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickDecisions(true))
		r.send(operators.TickInput{Record: r.rec(0, tkAt(time.Millisecond))})
		b := r.rec(0, tkAt(36*time.Millisecond)) // within the grace of frame 0's end: both stay open
		r.send(operators.TickInput{Record: b})
		if fs, _ := r.take(); len(fs) != 0 {
			t.Fatalf("frames %v closed before the wake", spans(fs))
		}
		r.send(operators.TickWake{Partition: 0})
		fs, _ := r.take()
		if got, want := spans(fs), []string{"p0@30 [0.000,33.333) n=1", "p0@30 [33.333,66.667) n=1"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("wake closed %v, want %v", got, want)
		}
		wm := decisionsOf(fs, schemas.EventWatermark)
		if len(wm) != 1 || len(fs[0].Events) != 1 {
			t.Fatalf("%d watermark decisions, want one on the first frame", len(wm))
		}
		why, _ := wm[0].Payload.String("why")
		to, _ := wm[0].Payload.Int("to_ns")
		after, _ := wm[0].Payload.Int("after_offset")
		if why != operators.WhyApproval || to != fs[1].End.UnixNano()+int64(operators.DefaultTickGrace) || after != b.Offset {
			t.Fatalf("watermark why %q to %d after %d, want %q to the last frame's end plus the grace after %d", why, to, after, operators.WhyApproval, b.Offset)
		}
		r.close()
	})
}

// TestTickReplayedApprovalAppliesOnce pins the replay side of an approval
// watermark: the recorded watermark cuts its frame, and the same watermark
// sent again (or one behind it) cuts nothing more, so a replay that sees
// a decision twice still cuts the live run's frames.
func TestTickReplayedApprovalAppliesOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickLateInBand(true))
		r.send(operators.TickInput{Record: r.rec(0, tkAt(time.Millisecond))})
		at := tkAt(33_333_333 + operators.DefaultTickGrace)
		approval := operators.TickWatermark{Partition: 0, Time: at, Why: operators.WhyApproval}
		r.send(approval)
		if fs, _ := r.take(); len(fs) != 1 || len(fs[0].Records) != 1 {
			t.Fatalf("the approval watermark closed %v, want the record's frame", spans(fs))
		}
		r.send(approval)
		r.send(operators.TickWatermark{Partition: 0, Time: at.Add(-time.Millisecond), Why: operators.WhyApproval})
		if fs, _ := r.take(); len(fs) != 0 {
			t.Fatalf("a repeated approval cut %v", spans(fs))
		}
		r.close()
	})
}

// TestTickStaleApprovalKeepsTheIdleBound pins that an approval watermark at
// or behind the partition's watermark changes nothing at all, not even the
// count of empty frames emitted in a row: were it reset, the partition
// would emit an empty frame past the idle bound that the live run skipped.
func TestTickStaleApprovalKeepsTheIdleBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickIdleFrames(1))
		r.send(operators.TickInput{Record: r.rec(0, tkAt(time.Millisecond))})
		// Two seconds on: frame 0 closes, then one empty frame (the
		// bound), then the quiet frames are skipped.
		r.send(operators.TickInput{Record: r.rec(0, tkAt(2*time.Second))})
		fs, _ := r.take()
		if got, want := spans(fs), []string{"p0@30 [0.000,33.333) n=1", "p0@30 [33.333,66.667) n=0"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("frames %v, want %v", got, want)
		}
		r.send(operators.TickWatermark{Partition: 0, Time: tkAt(time.Second), Why: operators.WhyApproval})
		r.send(operators.TickIdle{Partition: 0})
		fs, _ = r.take()
		if got, want := spans(fs), []string{"p0@30 [2000.000,2033.333) n=1"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("after a stale approval the idle close emitted %v, want only %v", got, want)
		}
		r.close()
	})
}
