package operators_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/stages"
)

// TestDecimateRecordBudgetDropsOldest: under drop-oldest, a ring whose
// frames would pass the record budget drops its oldest frames until the
// new one fits, well before k frames, and lists every dropped offset; the
// frames it keeps never hold more than the budget together.
func TestDecimateRecordBudgetDropsOldest(t *testing.T) {
	var dropped []int64
	d := newDecimate(t, operators.DecimateCapacity(8), operators.DecimateMaxRecords(10), operators.DecimatePolicy(operators.PolicyDropOldest),
		operators.DecimateOnDrop(func(f *stages.Frame) {
			for _, r := range f.Records {
				dropped = append(dropped, r.Offset)
			}
		}))
	ctx := context.Background()
	// Frames of 4 records: two fit (8), the third drops the first, the
	// fourth the second.
	for i := int64(0); i < 4; i++ {
		if err := d.Push(ctx, dcFrame(0, 10+i, 100+4*i, 4)); err != nil {
			t.Fatal(err)
		}
		if d.Backlog() > 2 {
			t.Fatalf("after frame %d: backlog %d frames of 4 records, want at most 2 under a budget of 10 records", i, d.Backlog())
		}
	}
	if want := []int64{100, 101, 102, 103, 104, 105, 106, 107}; !reflect.DeepEqual(dropped, want) {
		t.Fatalf("dropped offsets %v, want %v", dropped, want)
	}
	f, err := d.Pop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Seq != 12 {
		t.Fatalf("popped frame %d, want 12 (10 and 11 dropped)", f.Seq)
	}
	var listed []int64
	for _, ev := range f.Events {
		dec, err := operators.ParseDecimation(ev)
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, dec.Offsets...)
	}
	if !reflect.DeepEqual(listed, dropped) {
		t.Fatalf("decimation events list %v, want the dropped %v", listed, dropped)
	}
	if st := d.Stats(); st.DroppedFrames != 2 || st.DroppedRecords != 8 {
		t.Fatalf("Stats %+v: want 2 frames, 8 records dropped", st)
	}
}

// TestDecimateRecordBudgetBackpressure: under backpressure a frame that
// would pass the budget is refused (ErrBacklogFull) and fits once a pop
// makes room; a frame larger than the whole budget still enters an empty
// ring, so no frame is stuck.
func TestDecimateRecordBudgetBackpressure(t *testing.T) {
	d := newDecimate(t, operators.DecimateCapacity(8), operators.DecimateMaxRecords(10))
	if err := d.TryPush(dcFrame(0, 1, 0, 6)); err != nil {
		t.Fatal(err)
	}
	if err := d.TryPush(dcFrame(0, 2, 6, 5)); !errors.Is(err, operators.ErrBacklogFull) {
		t.Fatalf("6 + 5 records under a budget of 10: TryPush = %v, want ErrBacklogFull", err)
	}
	if err := d.TryPush(dcFrame(0, 2, 6, 0)); err != nil {
		t.Fatalf("an empty frame within the budget: %v", err)
	}
	for range 2 {
		if _, ok := d.TryPop(); !ok {
			t.Fatal("nothing to pop")
		}
	}
	if err := d.TryPush(dcFrame(0, 3, 6, 25)); err != nil {
		t.Fatalf("a frame of 25 records into an empty ring with a budget of 10: %v, want it taken", err)
	}
	if err := d.TryPush(dcFrame(0, 4, 31, 1)); !errors.Is(err, operators.ErrBacklogFull) {
		t.Fatalf("behind a frame over the budget: TryPush = %v, want ErrBacklogFull", err)
	}
	if st := d.Stats(); st.DroppedFrames != 0 || st.Fulls != 2 {
		t.Fatalf("Stats %+v: want nothing dropped and 2 refusals", st)
	}
}

// TestDecimateKeepsCutFrames: drop-oldest passes over a frame carrying a
// cut (the partition's next commit point) and drops the next oldest.
func TestDecimateKeepsCutFrames(t *testing.T) {
	d := newDecimate(t, operators.DecimateCapacity(2), operators.DecimatePolicy(operators.PolicyDropOldest))
	ctx := context.Background()
	cut := dcFrame(0, 1, 0, 2)
	cut.Cut = "cut"
	for _, f := range []*stages.Frame{cut, dcFrame(0, 2, 2, 2), dcFrame(0, 3, 4, 2)} {
		if err := d.Push(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	var got []int64
	for d.Backlog() > 0 {
		f, err := d.Pop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f.Seq)
	}
	if want := []int64{1, 3}; !reflect.DeepEqual(got, want) {
		t.Fatalf("popped frames %v, want %v: the cut's frame kept, frame 2 dropped", got, want)
	}
}

// TestDecimateMaxRecordsRange: the budget is at least 1 record.
func TestDecimateMaxRecordsRange(t *testing.T) {
	for _, n := range []int{0, -1, operators.MaxDecimateMaxRecords + 1} {
		if _, err := operators.NewDecimate(operators.DecimateMaxRecords(n)); !errors.Is(err, operators.ErrDecimate) {
			t.Errorf("DecimateMaxRecords(%d): err %v, want ErrDecimate", n, err)
		}
	}
	d := newDecimate(t)
	if d.MaxRecords() != operators.DefaultDecimateMaxRecords {
		t.Fatalf("default budget %d, want %d", d.MaxRecords(), operators.DefaultDecimateMaxRecords)
	}
}

// TestDecimateEmptyFramesDoNotPushOutRecords: a burst of frames without
// records (a partition catching up over a quiet spell) does not count
// towards k, so the frame of a record before it is not dropped; past
// k + MaxDecimateEmpty frames in all, the oldest go.
func TestDecimateEmptyFramesDoNotPushOutRecords(t *testing.T) {
	d := newDecimate(t, operators.DecimateCapacity(2), operators.DecimatePolicy(operators.PolicyDropOldest))
	ctx := context.Background()
	if err := d.Push(ctx, dcFrame(0, 0, 100, 1)); err != nil {
		t.Fatal(err)
	}
	for seq := int64(1); seq <= 60; seq++ {
		if err := d.Push(ctx, dcFrame(0, seq, 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Push(ctx, dcFrame(0, 61, 101, 1)); err != nil {
		t.Fatal(err)
	}
	if st := d.Stats(); st.DroppedFrames != 0 || d.Backlog() != 62 || d.Loaded() != 2 {
		t.Fatalf("after 2 records 60 empty frames apart with k = 2: %d dropped, backlog %d, %d with records; want none dropped, 62, 2", st.DroppedFrames, d.Backlog(), d.Loaded())
	}
	for seq := int64(62); seq < 62+operators.MaxDecimateEmpty; seq++ {
		if err := d.Push(ctx, dcFrame(0, seq, 0, 0)); err != nil {
			t.Fatal(err)
		}
	}
	if d.Backlog() != 2+operators.MaxDecimateEmpty {
		t.Fatalf("backlog %d, want k + MaxDecimateEmpty = %d", d.Backlog(), 2+operators.MaxDecimateEmpty)
	}
	f, err := d.Pop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f.Seq == 0 || len(f.Events) == 0 {
		t.Fatalf("popped frame %d with %d events: want the oldest frames dropped past the bound, their events on the next popped", f.Seq, len(f.Events))
	}
	dec, err := operators.ParseDecimation(f.Events[0])
	if err != nil || dec.Seq != 0 || !reflect.DeepEqual(dec.Offsets, []int64{100}) {
		t.Fatalf("first decimation %+v, %v: want frame 0 and its offset 100", dec, err)
	}
}
