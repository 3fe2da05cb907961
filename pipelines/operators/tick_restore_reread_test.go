package operators_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/stages"
)

// TestTickRestoredReadsAgainNeverMoveItsLastOffsetBack pins a tick
// restored from a cut at Next 10 whose open frame held offset 5 (records 6
// to 9 are done: a late record, or one of a frame closed before the cut).
// The worker sends record 5 again and skips 6 to 9. The tick's last input
// is still 9: a cut taken now must be at Next 10, not 6, and a watermark
// decided now goes after 9. A cut at 6 would count 6 to 9 as not done
// while its stage state holds them, and the restart after it would apply
// them a second time.
func TestTickRestoredReadsAgainNeverMoveItsLastOffsetBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickFPS(20), operators.TickDecisions(true), operators.TickLateInBand(true))
		closed := tkAt(100 * time.Millisecond).UnixNano()
		r.send(operators.TickRestore{Partition: 0, State: operators.TickState{Closed: closed, MaxTS: tkAt(120 * time.Millisecond).UnixNano(), LastOffset: 9, LastFPS: 20}})
		open := &stages.Record{Partition: 0, Offset: 5, Msg: r.rec(0, tkAt(110*time.Millisecond)).Msg}
		r.send(operators.TickInput{Record: open})
		r.tick.RequestCut()
		r.send(operators.TickCutNow{Partition: 0})
		r.send(operators.TickIdle{Partition: 0})
		fs, _ := r.take()
		var cut *operators.TickCut
		watermark := int64(-1)
		for _, f := range fs {
			if c, ok := f.Cut.(*operators.TickCut); ok {
				cut = c
			}
			for _, ev := range f.Events {
				if after, ok := ev.Payload.Int("after_offset"); ok {
					watermark = after
				}
			}
		}
		if cut == nil {
			t.Fatalf("no cut in %d frames", len(fs))
		}
		if cut.Next != 10 || len(cut.Open) != 1 || cut.Open[0] != 5 {
			t.Errorf("cut at Next %d with open %v, want Next 10 with 5 open: the restored last input is 9", cut.Next, cut.Open)
		}
		if watermark != 9 {
			t.Errorf("idle watermark after offset %d (-1: none), want after 9", watermark)
		}
		r.close()
	})
}
