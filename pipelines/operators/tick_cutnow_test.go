package operators_test

import (
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
)

// TestTickCutNowCommitsAQuietPartition pins TickCutNow and CutPending: a
// quiet partition with a cut requested gets an empty carrier frame (Seq -1)
// holding its cut, which names the offsets still waiting in open frames;
// without a request, or for a partition the tick never saw, nothing is
// emitted (and an unanswered request stays pending); asked again with
// nothing read since, the request is answered without a frame; once a
// record is read, the next cut covers it.
func TestTickCutNowCommitsAQuietPartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickLateInBand(true), operators.TickFPS(20))
		a := r.rec(0, tkAt(time.Millisecond))
		r.send(operators.TickInput{Record: a})
		r.send(operators.TickCutNow{Partition: 0})
		if fs, _ := r.take(); len(fs) != 0 || r.tick.CutPending() {
			t.Fatalf("TickCutNow without a request emitted %v (pending %v)", spans(fs), r.tick.CutPending())
		}

		r.tick.RequestCut()
		if !r.tick.CutPending() {
			t.Fatal("a requested cut is not pending")
		}
		r.send(operators.TickCutNow{Partition: 9})
		if fs, _ := r.take(); len(fs) != 0 || !r.tick.CutPending() {
			t.Fatalf("TickCutNow for an unseen partition emitted %v (pending %v)", spans(fs), r.tick.CutPending())
		}
		r.send(operators.TickCutNow{Partition: 0})
		cut := carriedCut(t, r, a.Offset)
		if cut.Next != a.Offset+1 || !slices.Equal(cut.Open, []int64{a.Offset}) || cut.Checkpoint || cut.Final {
			t.Fatalf("cut %+v, want next %d, open [%d], neither checkpoint nor final", cut, a.Offset+1, a.Offset)
		}
		if r.tick.CutPending() {
			t.Fatal("the cut was taken but is still pending")
		}

		r.tick.RequestCut()
		r.send(operators.TickCutNow{Partition: 0})
		if fs, _ := r.take(); len(fs) != 0 || r.tick.CutPending() {
			t.Fatalf("nothing read since the last cut, yet TickCutNow emitted %v (pending %v)", spans(fs), r.tick.CutPending())
		}

		b := r.rec(0, tkAt(2*time.Millisecond))
		r.send(operators.TickInput{Record: b})
		r.tick.RequestCut()
		r.send(operators.TickCutNow{Partition: 0})
		if cut := carriedCut(t, r, b.Offset); cut.Next != b.Offset+1 || !slices.Equal(cut.Open, []int64{a.Offset, b.Offset}) {
			t.Fatalf("cut after a new record: next %d open %v, want next %d open [%d %d]", cut.Next, cut.Open, b.Offset+1, a.Offset, b.Offset)
		}
		r.close()
	})
}

// carriedCut takes what the tick emitted, which must be one empty carrier
// frame of partition 0 at the grid's rate, through offset through, and
// returns its cut.
func carriedCut(t *testing.T, r *tkRig, through int64) *operators.TickCut {
	t.Helper()
	fs, _ := r.take()
	if len(fs) != 1 {
		t.Fatalf("emitted %v, want one carrier frame", spans(fs))
	}
	f := fs[0]
	cut, ok := f.Cut.(*operators.TickCut)
	if f.Seq != -1 || len(f.Records) != 0 || f.Partition != 0 || f.FPS != 20 || f.Through != through || !ok {
		t.Fatalf("carrier frame seq %d partition %d fps %d through %d with %d records and cut %T, want an empty seq -1 frame of partition 0 at 20 FPS through %d with a *TickCut",
			f.Seq, f.Partition, f.FPS, f.Through, len(f.Records), f.Cut, through)
	}
	return cut
}
