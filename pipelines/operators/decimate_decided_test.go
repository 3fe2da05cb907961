package operators_test

// A ring handed a record of earlier drops (DecimateDecided), as a replay or
// a restart redoing decided frames builds it: it drops exactly the frames
// the record names, whatever room it has; it never drops a decided or a
// late frame by policy (a full ring of them refuses, or waits); it still
// drops frames the record does not cover by policy; and a drop after the
// last frame is reported when the ring closes.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

func TestDecimateDecided(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const p = 3
		// The record covers seqs 1..4 and 7: 2, 4 and 7 were dropped.
		record := map[int64]bool{1: false, 2: true, 3: false, 4: true, 7: true}
		d := newDecimate(t, operators.DecimateCapacity(2), operators.DecimatePolicy(operators.PolicyDropOldest),
			operators.DecimateDecided(func(f *stages.Frame) (decided, drop bool) {
				drop, decided = record[f.Seq]
				return decided, drop
			}))
		ctx := context.Background()

		// own is an event a frame carries from the tick: it must travel with
		// the frame's decimation event when the frame is dropped.
		own := func(f *stages.Frame) *stages.Frame {
			f.Events = append(f.Events, schemas.Event{ID: fmt.Sprintf("own-%d", f.Seq), Kind: schemas.EventWatermark, Lane: f.Lane,
				Payload: schemas.Payload{"partition": int64(f.Partition)}})
			return f
		}
		f1, f2, f3, f4 := dcFrame(p, 1, 10, 2), own(dcFrame(p, 2, 12, 2)), dcFrame(p, 3, 14, 2), dcFrame(p, 4, 16, 1)
		f5, f6, f7 := dcFrame(p, 5, 17, 3), dcFrame(p, 6, 20, 1), own(dcFrame(p, 7, 21, 1))
		late := &stages.Frame{Lane: schemas.LaneCandidate, Partition: p, Seq: -1, FPS: 20, Through: 5,
			Records: []stages.Record{{Partition: p, Offset: 5, Late: true}}}

		pushed := map[int64]int{} // offset → times pushed
		for _, f := range []*stages.Frame{f1, f2, f3, f4, f5, f6, f7, late} {
			for _, r := range f.Records {
				pushed[r.Offset]++
			}
		}
		seen := map[int64]string{} // offset → "popped" or "dropped"
		account := func(f *stages.Frame) (drops []operators.Decimation) {
			for _, r := range f.Records {
				if how, ok := seen[r.Offset]; ok {
					t.Fatalf("offset %d popped, already %s", r.Offset, how)
				}
				seen[r.Offset] = "popped"
			}
			for _, ev := range f.Events {
				if ev.Kind != schemas.EventDecimation {
					continue
				}
				dec, err := operators.ParseDecimation(ev)
				if err != nil {
					t.Fatal(err)
				}
				for _, o := range dec.Offsets {
					if how, ok := seen[o]; ok {
						t.Fatalf("offset %d listed as dropped by frame %d, already %s", o, dec.Seq, how)
					}
					seen[o] = "dropped"
				}
				drops = append(drops, dec)
			}
			return drops
		}
		mustPush := func(f *stages.Frame) {
			t.Helper()
			if err := d.TryPush(f); err != nil {
				t.Fatalf("TryPush frame %d: %v", f.Seq, err)
			}
		}
		mustPop := func(wantSeq int64) *stages.Frame {
			t.Helper()
			f, err := d.Pop(ctx)
			if err != nil || f.Seq != wantSeq {
				t.Fatalf("Pop = %+v, %v; want frame %d", f, err, wantSeq)
			}
			return f
		}

		// A recorded drop is dropped even with room in the ring.
		mustPush(f1)
		mustPush(f2)
		if d.Backlog() != 1 {
			t.Fatalf("backlog %d after pushing kept frame 1 and recorded drop 2, want 1", d.Backlog())
		}
		mustPush(f3)
		// Full of decided frames: the late frame finds nothing droppable.
		if err := d.TryPush(late); !errors.Is(err, operators.ErrBacklogFull) {
			t.Fatalf("TryPush of a late frame into a ring of decided frames = %v, want ErrBacklogFull", err)
		}
		// A recorded drop needs no room.
		mustPush(f4)

		f := mustPop(1)
		drops := account(f)
		if got := dropSeqs(drops); !slices.Equal(got, []int64{2, 4}) {
			t.Fatalf("frame 1 carries drops of frames %v, want [2 4]", got)
		}
		if !slices.Equal(drops[0].Offsets, []int64{12, 13}) || !slices.Equal(drops[1].Offsets, []int64{16}) {
			t.Fatalf("dropped offsets %v and %v, want [12 13] and [16]", drops[0].Offsets, drops[1].Offsets)
		}
		if len(f.Events) != 3 || f.Events[1].ID != "own-2" || f.Events[0].Kind != schemas.EventDecimation || f.Events[2].Kind != schemas.EventDecimation {
			t.Fatalf("frame 1's events %v: want frame 2's decimation, frame 2's own event, frame 4's decimation", eventIDs(f.Events))
		}

		// A decided frame and a late frame fill the ring: an undecided frame
		// is refused, and Push waits for a Pop rather than drop either.
		mustPush(late)
		if err := d.TryPush(f5); !errors.Is(err, operators.ErrBacklogFull) {
			t.Fatalf("TryPush over a decided and a late frame = %v, want ErrBacklogFull", err)
		}
		done := make(chan error, 1)
		go func() { done <- d.Push(ctx, f5) }()
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Push returned %v over a decided and a late frame; it must wait", err)
		default:
		}
		if f := mustPop(3); len(account(f)) != 0 {
			t.Fatalf("frame 3 carries decimations %v, want none", f.Events)
		}
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		// A frame the record does not cover is still the policy's to drop;
		// the late frame before it is kept.
		mustPush(f6)
		if got := dropSeqs(account(mustPop(-1))); !slices.Equal(got, []int64{5}) {
			t.Fatalf("the late frame carries drops of frames %v, want [5]", got)
		}
		if f := mustPop(6); len(account(f)) != 0 {
			t.Fatalf("frame 6 carries decimations %v, want none", f.Events)
		}

		// A recorded drop after the last frame: nothing carries it until the
		// ring closes, then a frame of its own does.
		mustPush(f7)
		if f, ok := d.TryPop(); ok {
			t.Fatalf("TryPop on a ring holding only a drop = %+v", f)
		}
		d.Close()
		carrier, err := d.Pop(ctx)
		if err != nil {
			t.Fatalf("Pop after Close with a drop pending = %v", err)
		}
		if carrier.Seq != -1 || carrier.Partition != p || len(carrier.Records) != 0 {
			t.Fatalf("carrier frame seq %d partition %d with %d records, want seq -1 of partition %d with none", carrier.Seq, carrier.Partition, len(carrier.Records), p)
		}
		if got := dropSeqs(account(carrier)); !slices.Equal(got, []int64{7}) || !slices.Contains(eventIDs(carrier.Events), "own-7") {
			t.Fatalf("carrier frame reports drops %v with events %v, want frame 7's decimation and its own event", got, eventIDs(carrier.Events))
		}
		if _, err := d.Pop(ctx); !errors.Is(err, operators.ErrDecimateClosed) {
			t.Fatalf("Pop on a closed, empty ring with nothing pending = %v", err)
		}

		for o, n := range pushed {
			if n != 1 {
				t.Fatalf("offset %d pushed %d times: the test's frames overlap", o, n)
			}
			if _, ok := seen[o]; !ok {
				t.Fatalf("offset %d neither popped nor listed as dropped", o)
			}
		}
		st := d.Stats()
		want := operators.DecimateStats{Pushed: 8, Popped: 4, DroppedFrames: 4, DroppedRecords: 7, Events: 6, Waits: 1, Fulls: 2}
		if st != want {
			t.Fatalf("Stats = %+v, want %+v", st, want)
		}
	})
}

func dropSeqs(ds []operators.Decimation) []int64 {
	out := make([]int64, len(ds))
	for i, d := range ds {
		out[i] = d.Seq
	}
	return out
}

func eventIDs(evs []schemas.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}
