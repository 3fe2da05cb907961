package operators_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TestTickWakeClosesOneFrameAReplayRepeats: a quiet partition whose frames
// are all closed is woken twice, the second time past the idle bound of
// empty frames: each time the tick emits exactly one empty regular frame
// right after the last one closed, with a watermark decision (why
// "approval") after the last offset read. A replay that sends the recorded
// watermarks after the same record cuts the same frames.
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
		var woken []*stages.Frame
		var tos []int64
		for i := range 2 {
			live.send(operators.TickWake{Partition: 0})
			fs, _ := live.take()
			if len(fs) != 1 || len(fs[0].Records) != 0 || fs[0].Seq != last.Seq+1 || !fs[0].Start.Equal(last.End) {
				t.Fatalf("wake %d emitted %d frames (%+v), want one empty frame right after seq %d", i, len(fs), fs, last.Seq)
			}
			wm := decisionsOf(fs, schemas.EventWatermark)
			if len(wm) != 1 {
				t.Fatalf("wake %d: %d watermark decisions on the frame, want 1", i, len(wm))
			}
			why, _ := wm[0].Payload.String("why")
			off, _ := wm[0].Payload.Int("after_offset")
			to, _ := wm[0].Payload.Int("to_ns")
			if why != operators.WhyApproval || off != b.Offset {
				t.Fatalf("wake %d: watermark why %q after %d, want %q after %d", i, why, off, operators.WhyApproval, b.Offset)
			}
			last = fs[0]
			woken, tos = append(woken, fs[0]), append(tos, to)
		}
		live.close()

		// The replay: the same records, the recorded watermarks after b.
		idleTo, _ := decisionsOf(before, schemas.EventWatermark)[0].Payload.Int("to_ns")
		re := newTkRig(t, opts...)
		re.nextO = a.Offset - 1
		re.send(operators.TickInput{Record: re.rec(0, a.Msg.TS)})
		re.send(operators.TickInput{Record: re.rec(0, b.Msg.TS)})
		re.send(operators.TickWatermark{Partition: 0, Time: time.Unix(0, idleTo), Why: "idle"})
		for _, to := range tos {
			re.send(operators.TickWatermark{Partition: 0, Time: time.Unix(0, to), Why: operators.WhyApproval})
		}
		rfs, _ := re.take()
		if len(rfs) != len(before)+len(woken) {
			t.Fatalf("replay emitted %d frames, want %d", len(rfs), len(before)+len(woken))
		}
		for i, w := range woken {
			got := rfs[len(before)+i]
			if got.Seq != w.Seq || !got.Start.Equal(w.Start) || len(got.Records) != 0 {
				t.Fatalf("replay's frame seq %d at %v, want the wake frame seq %d at %v", got.Seq, got.Start, w.Seq, w.Start)
			}
		}
		re.close()
	})
}
