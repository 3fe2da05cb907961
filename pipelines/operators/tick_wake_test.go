package operators_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
)

// TestTickWakeClosesOneFrameAReplayRepeats: a quiet partition whose frames
// are all closed, past the idle bound of empty frames, is woken: the tick
// emits exactly one empty regular frame right after the last one closed,
// with a watermark decision (why "approval") after the last offset read.
// A replay that sends the recorded watermark after the same record cuts
// the same frame.
func TestTickWakeClosesOneFrameAReplayRepeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		opts := []operators.TickOption{operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickLateInBand(true), operators.TickIdleFrames(1)}
		live := newTkRig(t, opts...)
		t0 := tkT0.Add(-time.Hour)
		a := live.rec(0, t0.Add(5*time.Millisecond))
		b := live.rec(0, t0.Add(2*time.Second)) // far past the idle bound of one empty frame
		live.send(operators.TickInput{Record: a})
		live.send(operators.TickInput{Record: b})
		live.send(operators.TickIdle{Partition: 0})
		before, _ := live.take()
		last := before[len(before)-1]
		live.send(operators.TickWake{Partition: 7}) // a partition never seen: nothing
		live.send(operators.TickWake{Partition: 0})
		fs, _ := live.take()
		if len(fs) != 1 || len(fs[0].Records) != 0 || fs[0].Seq != last.Seq+1 || !fs[0].Start.Equal(last.End) {
			t.Fatalf("wake emitted %d frames (%+v), want one empty frame right after seq %d", len(fs), fs, last.Seq)
		}
		wm := decisionsOf(fs, schemas.EventWatermark)
		if len(wm) != 1 {
			t.Fatalf("%d watermark decisions on the wake frame, want 1", len(wm))
		}
		why, _ := wm[0].Payload.String("why")
		off, _ := wm[0].Payload.Int("after_offset")
		to, _ := wm[0].Payload.Int("to_ns")
		if why != operators.WhyApproval || off != b.Offset {
			t.Fatalf("watermark why %q after %d, want %q after %d", why, off, operators.WhyApproval, b.Offset)
		}
		live.close()

		// The replay: the same records, the recorded watermarks after b.
		idleTo, _ := decisionsOf(before, schemas.EventWatermark)[0].Payload.Int("to_ns")
		re := newTkRig(t, opts...)
		re.nextO = a.Offset - 1
		re.send(operators.TickInput{Record: re.rec(0, a.Msg.TS)})
		re.send(operators.TickInput{Record: re.rec(0, b.Msg.TS)})
		re.send(operators.TickWatermark{Partition: 0, Time: time.Unix(0, idleTo), Why: "idle"})
		re.send(operators.TickWatermark{Partition: 0, Time: time.Unix(0, to), Why: operators.WhyApproval})
		rfs, _ := re.take()
		got := rfs[len(rfs)-1]
		if got.Seq != fs[0].Seq || !got.Start.Equal(fs[0].Start) || len(got.Records) != 0 || len(rfs) != len(before)+1 {
			t.Fatalf("replay's last frame seq %d at %v of %d frames, want the wake frame seq %d at %v of %d", got.Seq, got.Start, len(rfs), fs[0].Seq, fs[0].Start, len(before)+1)
		}
		re.close()
	})
}
