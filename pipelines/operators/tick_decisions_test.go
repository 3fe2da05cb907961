package operators_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// decisionsOf returns the events of kind k on fs.
func decisionsOf(fs []*stages.Frame, k schemas.EventKind) []schemas.Event {
	var out []schemas.Event
	for _, f := range fs {
		for _, e := range f.Events {
			if e.Kind == k {
				out = append(out, e)
			}
		}
	}
	return out
}

// TestTickIdleClosesInEventTime: an idle partition's open frame closes at
// its last event time plus a frame, whatever the wall clock says, the
// advance is logged after the last offset read, a record that still fits
// the next frame is on time, and a second idle notice with nothing open
// does nothing.
func TestTickIdleClosesInEventTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickLateInBand(true))
		t0 := tkT0.Add(-6 * time.Second) // a producer six seconds behind our clock
		a := r.rec(0, t0.Add(5*time.Millisecond))
		r.send(operators.TickInput{Record: a})
		r.clk.Advance(time.Minute) // wall clock moves; nothing may close by it
		r.send(operators.TickIdle{Partition: 0})
		fs, _ := r.take()
		if len(fs) != 1 || len(fs[0].Records) != 1 {
			t.Fatalf("idle closed %d frames, want the one holding the record", len(fs))
		}
		wm := decisionsOf(fs, schemas.EventWatermark)
		if len(wm) != 1 {
			t.Fatalf("%d watermark decisions, want 1", len(wm))
		}
		if off, _ := wm[0].Payload.Int("after_offset"); off != a.Offset {
			t.Fatalf("watermark after offset %d, want %d", off, a.Offset)
		}
		if to, _ := wm[0].Payload.Int("to_ns"); to != fs[0].End.UnixNano()+int64(operators.DefaultTickGrace) {
			t.Fatalf("watermark to %d, want the frame end plus the grace", to)
		}
		r.send(operators.TickIdle{Partition: 0})
		if fs, _ := r.take(); len(fs) != 0 {
			t.Fatalf("idle with nothing open emitted %d frames", len(fs))
		}
		// A record in the next frame (6 s behind the wall clock) is on time.
		b := r.rec(0, fs0End(fs).Add(time.Millisecond))
		r.send(operators.TickInput{Record: b})
		r.close()
		fs, late := r.take()
		for _, f := range fs {
			if f.Seq < 0 {
				t.Fatalf("record %d judged late after an idle advance", f.Records[0].Offset)
			}
		}
		if len(late) != 0 {
			t.Fatalf("%d records on the Late outlet with in-band late on", len(late))
		}
	})
}

func fs0End(fs []*stages.Frame) time.Time {
	if len(fs) == 0 {
		return time.Time{}
	}
	return fs[0].End
}

// TestTickCutAccountsForOpenRecords: a requested cut names the offsets still
// waiting in open frames, Next is one past the last input, and restoring
// the cut's state into a new tick and re-sending the open records gives the
// frames the first tick gives.
func TestTickCutAccountsForOpenRecords(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickLateInBand(true))
		frame := time.Second / 30
		base := tkT0.Truncate(time.Second)
		var recs []*stages.Record
		for i, d := range []time.Duration{1, 40, 35, 80, 2 * frame / time.Millisecond} {
			rec := r.rec(0, base.Add(d*time.Millisecond))
			recs = append(recs, rec)
			if i == 3 {
				r.tick.RequestCut()
			}
			r.send(operators.TickInput{Record: rec})
		}
		fs, _ := r.take()
		var cut *operators.TickCut
		for _, f := range fs {
			if c, ok := f.Cut.(*operators.TickCut); ok {
				cut = c
			}
		}
		if cut == nil {
			t.Fatal("no cut attached to any frame")
		}
		if cut.Next != recs[3].Offset+1 {
			t.Fatalf("cut next %d, want %d", cut.Next, recs[3].Offset+1)
		}
		// The 4th input (80 ms) closes frame 1 (40 and 35 ms) and waits
		// alone in frame 2.
		want := []int64{recs[3].Offset}
		if len(cut.Open) != len(want) {
			t.Fatalf("open %v, want %v", cut.Open, want)
		}
		for i := range want {
			if cut.Open[i] != want[i] {
				t.Fatalf("open %v, want %v", cut.Open, want)
			}
		}
		r.close()
		rest, _ := r.take()
		first := append(fs, rest...)

		r2 := newTkRig(t, operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickLateInBand(true))
		r2.send(operators.TickRestore{Partition: 0, State: cut.State})
		for _, rec := range recs {
			done := rec.Offset < cut.Next
			for _, o := range cut.Open {
				if o == rec.Offset {
					done = false
				}
			}
			if !done {
				r2.send(operators.TickInput{Record: rec})
			}
		}
		r2.close()
		second, _ := r2.take()
		var after []*stages.Frame
		for i, f := range first {
			if f.Cut == cut {
				after = first[i+1:]
			}
		}
		if len(second) != len(after) {
			t.Fatalf("restored tick emitted %d frames, want the %d after the cut", len(second), len(after))
		}
		for i := range after {
			if after[i].Seq != second[i].Seq || len(after[i].Records) != len(second[i].Records) {
				t.Fatalf("frame %d: restored seq %d with %d records, want seq %d with %d", i, second[i].Seq, len(second[i].Records), after[i].Seq, len(after[i].Records))
			}
		}
	})
}

// TestTickFPSChangesAreRecordedAndReplayed: a tick adapting its rate under
// slow frames records each change on the first frame at the new rate; a
// replay tick that does not adapt but follows those records cuts exactly
// the same frames, late records' frames included, and records the same
// changes.
func TestTickFPSChangesAreRecordedAndReplayed(t *testing.T) {
	base := tkT0.Truncate(time.Second)
	type frame struct {
		seq     int64
		fps     int
		records int
	}
	run := func(t *testing.T, opts []operators.TickOption, adapt bool) ([]frame, []schemas.Event) {
		var frames []frame
		var changes []schemas.Event
		synctest.Test(t, func(t *testing.T) {
			r := newTkRig(t, append([]operators.TickOption{operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickLateInBand(true), operators.TickIdleFrames(0)}, opts...)...)
			slow := true
			for i := range 1500 {
				r.send(operators.TickInput{Record: r.rec(0, base.Add(time.Duration(i)*10*time.Millisecond))})
				if i%50 == 49 {
					// A late record: its frame of its own carries a rate
					// too, and the replay must give it the same one.
					r.send(operators.TickInput{Record: r.rec(0, base)})
				}
				fs, _ := r.take()
				for _, f := range fs {
					frames = append(frames, frame{f.Seq, f.FPS, len(f.Records)})
					changes = append(changes, decisionsOf([]*stages.Frame{f}, schemas.EventFPSChange)...)
					if adapt {
						d := 5 * time.Millisecond
						if slow {
							d = 40 * time.Millisecond
						}
						r.tick.ObserveFrameDuration(d)
					}
				}
				if r.tick.FPS() == 15 {
					slow = false
				}
			}
			r.close()
			fs, _ := r.take()
			for _, f := range fs {
				frames = append(frames, frame{f.Seq, f.FPS, len(f.Records)})
				changes = append(changes, decisionsOf([]*stages.Frame{f}, schemas.EventFPSChange)...)
			}
		})
		return frames, changes
	}
	live, changes := run(t, []operators.TickOption{operators.TickAdaptive(true)}, true)
	if len(changes) < 4 {
		t.Fatalf("%d rate changes recorded, want the way down to 15 and back up to 30", len(changes))
	}
	var schedule []operators.GridSwitch
	for _, ev := range changes {
		fps, _ := ev.Payload.Int("fps")
		from, _ := ev.Payload.Int("from_ns")
		schedule = append(schedule, operators.GridSwitch{From: from, FPS: int(fps)})
	}
	replayed, again := run(t, []operators.TickOption{operators.TickAdaptive(false),
		operators.TickFPSSchedule(func(int32) []operators.GridSwitch { return schedule })}, false)
	if len(replayed) != len(live) {
		t.Fatalf("replay cut %d frames, live %d", len(replayed), len(live))
	}
	for i := range live {
		if live[i] != replayed[i] {
			t.Fatalf("frame %d: live %+v, replay %+v", i, live[i], replayed[i])
		}
	}
	if len(again) != len(changes) {
		t.Fatalf("replay recorded %d rate changes, live %d", len(again), len(changes))
	}
	for i := range changes {
		if again[i].ID != changes[i].ID {
			t.Fatalf("change %d: replay id %s, live %s", i, again[i].ID, changes[i].ID)
		}
	}
	t.Logf("%d frames, %d rate changes, identical in the replay", len(live), len(changes))
}
