package operators_test

import (
	"testing"
	"testing/synctest"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/stages"
)

// TestTickInBandUnplaceableRecordOfAnUnseenPartition pins TickLateInBand
// for a record that cannot be placed and whose partition the tick has no
// state for: it goes out on Out as a Seq -1 frame of its own, stamped with
// the tick's rate and through its offset, carrying the tick's failure; the
// Late outlet stays empty, and no partition state is made for it (its
// first placeable record decides where its frames start).
func TestTickInBandUnplaceableRecordOfAnUnseenPartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickLateInBand(true), operators.TickFPS(15))
		r.send(operators.TickInput{Record: &stages.Record{Partition: 3, Offset: 42}})
		r.close()
		fs, late := r.take()
		if len(late) != 0 || len(fs) != 1 {
			t.Fatalf("frames %v and %d late records, want one in-band frame", spans(fs), len(late))
		}
		f := fs[0]
		if f.Seq != -1 || f.Partition != 3 || f.FPS != 15 || f.Through != 42 || !f.Start.IsZero() || len(f.Records) != 1 {
			t.Fatalf("in-band frame seq %d partition %d fps %d through %d start %v with %d records, want seq -1 of partition 3 at 15 FPS through 42, no time",
				f.Seq, f.Partition, f.FPS, f.Through, f.Start, len(f.Records))
		}
		if fail := f.Records[0].Failure; fail == nil || fail.Stage != operators.StageTick {
			t.Fatalf("in-band record failure %+v, want one from the tick", fail)
		}
		if st := r.tick.Stats(); st.Partitions != 0 || st.Invalid != 1 {
			t.Fatalf("stats %+v, want no partition state and one invalid input", st)
		}
	})
}
