package operators_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// dcFrame is frame seq of partition p holding n records whose offsets
// start at off.
func dcFrame(p int32, seq int64, off int64, n int) *stages.Frame {
	start := time.Unix(0, seq*50_000_000).UTC()
	f := &stages.Frame{Lane: schemas.LaneCandidate, Partition: p, Seq: seq, FPS: 20, Start: start, End: start.Add(50 * time.Millisecond)}
	for i := 0; i < n; i++ {
		f.Records = append(f.Records, stages.Record{Partition: p, Offset: off + int64(i)})
	}
	return f
}

func newDecimate(t testing.TB, opts ...operators.DecimateOption) *operators.Decimate {
	t.Helper()
	d, err := operators.NewDecimate(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDecimateDropOldest(t *testing.T) {
	d := newDecimate(t, operators.DecimateCapacity(3), operators.DecimatePolicy(operators.PolicyDropOldest))
	ctx := context.Background()
	// Partition 0: seqs 10..13 with 2 records each (offsets 100..107);
	// partition 1: seqs 50..51, the first empty, the second with 3 records.
	in := []*stages.Frame{
		dcFrame(0, 10, 100, 2), dcFrame(1, 50, 0, 0), dcFrame(0, 11, 102, 2),
		dcFrame(0, 12, 104, 2), dcFrame(1, 51, 7, 3), dcFrame(0, 13, 106, 2),
	}
	for _, f := range in {
		if err := d.Push(ctx, f); err != nil {
			t.Fatalf("drop-oldest Push returned %v; it never blocks or fails", err)
		}
		if d.Loaded() > 3 {
			t.Fatalf("%d frames with records waiting, above capacity 3", d.Loaded())
		}
	}
	// Dropped, oldest first: p0/10, p1/50, p0/11. Kept: p0/12, p1/51, p0/13.
	var got []string
	var events []schemas.Event
	for d.Backlog() > 0 {
		f, err := d.Pop(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("p%d/%d", f.Partition, f.Seq))
		events = append(events, f.Events...)
		if len(got) == 1 && len(f.Events) != 3 {
			t.Fatalf("first popped frame carries %d events, want the 3 pending decimations, one per dropped frame", len(f.Events))
		}
	}
	if want := []string{"p0/12", "p1/51", "p0/13"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("popped %v, want %v", got, want)
	}
	want := []operators.Decimation{
		{Lane: schemas.LaneCandidate, Partition: 0, Seq: 10, FPS: 20, End: time.Unix(0, 11*50_000_000).UTC(), Offsets: []int64{100, 101}},
		{Lane: schemas.LaneCandidate, Partition: 1, Seq: 50, FPS: 20, End: time.Unix(0, 51*50_000_000).UTC(), Offsets: []int64{}},
		{Lane: schemas.LaneCandidate, Partition: 0, Seq: 11, FPS: 20, End: time.Unix(0, 12*50_000_000).UTC(), Offsets: []int64{102, 103}},
	}
	for i, ev := range events {
		if ev.Kind != schemas.EventDecimation || ev.Stage != "decimate" || ev.Lane != schemas.LaneCandidate {
			t.Fatalf("event %d header %+v", i, ev)
		}
		wantID := stages.EventID(stages.FrameSubject(schemas.LaneCandidate, want[i].Partition, 20, want[i].Seq), "decimate", schemas.EventDecimation)
		if ev.ID != wantID {
			t.Fatalf("event %d id %s, want %s", i, ev.ID, wantID)
		}
		dec, err := operators.ParseDecimation(ev)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(dec, want[i]) {
			t.Fatalf("decimation %d:\n got %+v\nwant %+v", i, dec, want[i])
		}
	}
	st := d.Stats()
	wantStats := operators.DecimateStats{Pushed: 6, Popped: 3, DroppedFrames: 3, DroppedRecords: 4, Events: 3}
	if st != wantStats {
		t.Fatalf("Stats = %+v, want %+v", st, wantStats)
	}
}

// TestDecimateNothingLostSilently pushes and pops seeded random sequences
// under drop-oldest: every pushed record is either popped or counted in
// exactly one decimation event, and the frames with records waiting never
// exceed k.
func TestDecimateNothingLostSilently(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 42))
		k := 1 + rng.IntN(6)
		d := newDecimate(t, operators.DecimateCapacity(k), operators.DecimatePolicy(operators.PolicyDropOldest))
		next := map[int32]int64{}
		var pushed, popped, reported int64
		seen := map[int64]bool{} // offsets popped or reported, partition*1e6+offset
		mark := func(p int32, offs ...int64) {
			for _, o := range offs {
				key := int64(p)*1e6 + o
				if seen[key] {
					t.Fatalf("seed %d: offset %d of partition %d delivered twice", seed, o, p)
				}
				seen[key] = true
			}
		}
		drain := func(f *stages.Frame) {
			popped += int64(len(f.Records))
			for _, r := range f.Records {
				mark(r.Partition, r.Offset)
			}
			for _, ev := range f.Events {
				dec, err := operators.ParseDecimation(ev)
				if err != nil {
					t.Fatal(err)
				}
				reported += int64(len(dec.Offsets))
				mark(dec.Partition, dec.Offsets...)
			}
		}
		for step := 0; step < 300; step++ {
			if rng.IntN(3) > 0 {
				p := int32(rng.IntN(3))
				n := rng.IntN(4)
				if err := d.Push(context.Background(), dcFrame(p, int64(step), next[p], n)); err != nil {
					t.Fatal(err)
				}
				next[p] += int64(n)
				pushed += int64(n)
			} else if f, ok := d.TryPop(); ok {
				drain(f)
			}
			if d.Loaded() > k {
				t.Fatalf("seed %d: %d frames with records waiting > k %d", seed, d.Loaded(), k)
			}
		}
		for {
			f, ok := d.TryPop()
			if !ok {
				break
			}
			drain(f)
		}
		if popped+reported != pushed {
			t.Fatalf("seed %d: pushed %d records, popped %d + reported dropped %d", seed, pushed, popped, reported)
		}
		if st := d.Stats(); st.DroppedRecords != reported {
			t.Fatalf("seed %d: Stats.DroppedRecords %d, events report %d", seed, st.DroppedRecords, reported)
		}
		if int64(len(seen)) != pushed {
			t.Fatalf("seed %d: %d distinct offsets accounted for, %d pushed", seed, len(seen), pushed)
		}
	}
}

func TestDecimateBackpressurePausesTheSource(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDecimate(t, operators.DecimateCapacity(2)) // backpressure is the default
		if d.Policy() != operators.PolicyBackpressure || d.Capacity() != 2 {
			t.Fatalf("defaults: policy %s capacity %d", d.Policy(), d.Capacity())
		}
		ctx := context.Background()
		for i := 0; i < 2; i++ {
			if err := d.TryPush(dcFrame(0, int64(i), int64(i), 1)); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.TryPush(dcFrame(0, 2, 2, 1)); !errors.Is(err, operators.ErrBacklogFull) {
			t.Fatalf("TryPush on a full ring = %v, want ErrBacklogFull", err)
		}

		// The source goroutine blocks in Push: it is paused.
		pushed := make(chan error, 1)
		go func() { pushed <- d.Push(ctx, dcFrame(0, 2, 2, 1)) }()
		synctest.Wait()
		select {
		case err := <-pushed:
			t.Fatalf("Push returned %v on a full ring; it must wait", err)
		default:
		}

		f, err := d.Pop(ctx)
		if err != nil || f.Seq != 0 {
			t.Fatalf("Pop = %v, %v", f, err)
		}
		synctest.Wait()
		select {
		case err := <-pushed:
			if err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal("Push still blocked after a Pop made room")
		}
		for want := int64(1); want <= 2; want++ {
			f, err := d.Pop(ctx)
			if err != nil || f.Seq != want || len(f.Events) != 0 {
				t.Fatalf("Pop = %+v, %v; want seq %d and no decimation", f, err, want)
			}
		}
		st := d.Stats()
		if st.DroppedFrames != 0 || st.Waits != 1 || st.Fulls != 1 || st.Pushed != 3 || st.Popped != 3 {
			t.Fatalf("Stats = %+v", st)
		}
	})
}

func TestDecimateWaitsEndWithTheContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDecimate(t, operators.DecimateCapacity(1))
		if err := d.Push(context.Background(), dcFrame(0, 1, 0, 1)); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- d.Push(ctx, dcFrame(0, 2, 1, 1)) }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "frame 2 of partition 0") {
			t.Fatalf("Push = %v", err)
		}

		empty := newDecimate(t)
		ctx2, cancel2 := context.WithCancel(context.Background())
		go func() { _, err := empty.Pop(ctx2); errc <- err }()
		synctest.Wait()
		cancel2()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("Pop = %v", err)
		}
	})
}

func TestDecimateClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDecimate(t, operators.DecimateCapacity(1))
		ctx := context.Background()
		if err := d.Push(ctx, dcFrame(0, 1, 0, 1)); err != nil {
			t.Fatal(err)
		}
		blockedPush := make(chan error, 1)
		go func() { blockedPush <- d.Push(ctx, dcFrame(0, 2, 1, 1)) }()
		synctest.Wait()
		d.Close()
		d.Close() // idempotent
		if err := <-blockedPush; !errors.Is(err, operators.ErrDecimateClosed) {
			t.Fatalf("blocked Push after Close = %v", err)
		}
		if err := d.Push(ctx, dcFrame(0, 3, 2, 1)); !errors.Is(err, operators.ErrDecimateClosed) {
			t.Fatalf("Push after Close = %v", err)
		}
		f, err := d.Pop(ctx)
		if err != nil || f.Seq != 1 {
			t.Fatalf("Pop after Close = %v, %v; frames in the ring are still delivered", f, err)
		}
		if _, err := d.Pop(ctx); !errors.Is(err, operators.ErrDecimateClosed) {
			t.Fatalf("Pop on closed empty ring = %v", err)
		}

		// A Pop waiting on an empty ring wakes on Close.
		e := newDecimate(t)
		popped := make(chan error, 1)
		go func() { _, err := e.Pop(ctx); popped <- err }()
		synctest.Wait()
		e.Close()
		if err := <-popped; !errors.Is(err, operators.ErrDecimateClosed) {
			t.Fatalf("waiting Pop after Close = %v", err)
		}
		if _, ok := e.TryPop(); ok {
			t.Fatal("TryPop on an empty ring")
		}
	})
}

func TestDecimateManyWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDecimate(t, operators.DecimateCapacity(2))
		ctx := context.Background()
		const n = 6
		done := make(chan error, n)
		for i := 0; i < n; i++ {
			go func() { done <- d.Push(ctx, dcFrame(int32(i), 0, 0, 1)) }()
		}
		got := map[int32]bool{}
		for i := 0; i < n; i++ {
			f, err := d.Pop(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got[f.Partition] = true
		}
		for i := 0; i < n; i++ {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if len(got) != n {
			t.Fatalf("popped partitions %v, want all %d", got, n)
		}
	})
}

func TestDecimateOptionsAndPolicies(t *testing.T) {
	bad := []struct {
		name string
		opts []operators.DecimateOption
		want string
	}{
		{"zero capacity", []operators.DecimateOption{operators.DecimateCapacity(0)}, "DecimateCapacity"},
		{"unknown policy", []operators.DecimateOption{operators.DecimatePolicy("drop-newest")}, "DecimatePolicy"},
	}
	for _, tc := range bad {
		_, err := operators.NewDecimate(tc.opts...)
		var oe *stages.OptionError
		if !errors.Is(err, operators.ErrDecimate) || !errors.As(err, &oe) || oe.Option != tc.want {
			t.Fatalf("%s: err = %v, want an OptionError for %s", tc.name, err, tc.want)
		}
	}
	d := newDecimate(t)
	if d.Capacity() != operators.DefaultDecimateCapacity || d.Policy() != operators.PolicyBackpressure {
		t.Fatalf("defaults %d %s", d.Capacity(), d.Policy())
	}
	if err := d.TryPush(nil); !errors.Is(err, operators.ErrDecimate) {
		t.Fatalf("TryPush(nil) = %v", err)
	}
	for _, s := range []string{"backpressure", "drop-oldest"} {
		if p, err := operators.ParsePolicy(s); err != nil || string(p) != s {
			t.Fatalf("ParseDecimatePolicy(%q) = %q, %v", s, p, err)
		}
	}
	wantDefault := map[schemas.Lane]operators.Policy{
		schemas.LaneExperimental: operators.PolicyDropOldest, schemas.LaneCandidate: operators.PolicyDropOldest, schemas.LaneProd: operators.PolicyBackpressure,
	}
	for l, want := range wantDefault {
		if got := operators.DefaultPolicy(l); got != want {
			t.Fatalf("DefaultDecimatePolicy(%s) = %s, want %s", l, got, want)
		}
	}
}

func TestParseDecimationRejects(t *testing.T) {
	good := operators.Decimation{Lane: schemas.LaneProd, Partition: 2, Seq: 3, FPS: 30, Offsets: []int64{1, 4, 9}}.Event()
	if _, err := operators.ParseDecimation(good); err != nil {
		t.Fatal(err)
	}
	wrongKind := good
	wrongKind.Kind = schemas.EventRouting
	if _, err := operators.ParseDecimation(wrongKind); !errors.Is(err, operators.ErrDecimate) || !strings.Contains(err.Error(), "not a decimation") {
		t.Fatalf("wrong kind: %v", err)
	}
	missing := good
	missing.Payload = good.Payload.Clone()
	missing.Payload["records"] = "nine"
	if _, err := operators.ParseDecimation(missing); !errors.Is(err, operators.ErrDecimate) || !strings.Contains(err.Error(), `"records"`) {
		t.Fatalf("bad records: %v", err)
	}
	// Records without the offsets they were: the runtime could not tell
	// which offsets to mark done.
	noOffsets := good
	noOffsets.Payload = good.Payload.Clone()
	delete(noOffsets.Payload, "offsets")
	if _, err := operators.ParseDecimation(noOffsets); !errors.Is(err, operators.ErrDecimate) || !strings.Contains(err.Error(), `"offsets" missing`) {
		t.Fatalf("offsets missing: %v", err)
	}
	short := good
	short.Payload = good.Payload.Clone()
	short.Payload["offsets"] = []float64{1, 4}
	if _, err := operators.ParseDecimation(short); !errors.Is(err, operators.ErrDecimate) || !strings.Contains(err.Error(), "lists 2 offsets for 3 records") {
		t.Fatalf("offsets short of records: %v", err)
	}
}

func BenchmarkDecimate(b *testing.B) {
	for _, policy := range []operators.Policy{operators.PolicyBackpressure, operators.PolicyDropOldest} {
		b.Run(string(policy), func(b *testing.B) {
			d := newDecimate(b, operators.DecimateCapacity(4), operators.DecimatePolicy(policy))
			frames := make([]*stages.Frame, 8)
			for i := range frames {
				frames[i] = dcFrame(int32(i%2), int64(i), int64(i*1000), 1000)
			}
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				// Push two frames per pop so drop-oldest decimates half of them.
				f := frames[i%len(frames)]
				f.Events = f.Events[:0]
				if err := d.Push(ctx, f); err != nil {
					b.Fatal(err)
				}
				if policy == operators.PolicyDropOldest {
					g := frames[(i+3)%len(frames)]
					g.Events = g.Events[:0]
					if err := d.Push(ctx, g); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := d.Pop(ctx); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/msg")
		})
	}
}
