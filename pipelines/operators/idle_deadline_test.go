package operators_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// deadlineRig is a live partition's front: an IdleWatermark with frame
// deadlines feeding a tick that runs on event time and logs its decisions,
// as the runtime wires them, on one fake clock.
type deadlineRig struct {
	*tkRig
	idle     *operators.IdleWatermark
	caughtUp atomic.Bool
	// closedAt is when (our clock) each frame left the tick, by Seq.
	closedAt map[int64]time.Time
	frames   []*stages.Frame
}

const deadlineCheck = 2 * time.Millisecond

var deadlineTickOpts = []operators.TickOption{operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickLateInBand(true)}

func newDeadlineRig(t *testing.T) *deadlineRig {
	r := &deadlineRig{tkRig: newTkRig(t, deadlineTickOpts...), closedAt: map[int64]time.Time{}}
	r.caughtUp.Store(true)
	r.idle = operators.NewIdleWatermark(0, r.clk, 100*time.Millisecond, r.caughtUp.Load, nil, operators.IdleDeadlines(deadlineCheck))
	r.idle.Via(r.tick)
	return r
}

// stop closes the inlet and waits for the tick to finish.
func (r *deadlineRig) stop() {
	close(r.idle.In())
	<-r.done
}

// pass hands rec to the idle watermark and waits until the tick has it.
func (r *deadlineRig) pass(rec *stages.Record) {
	r.idle.In() <- operators.TickInput{Record: rec}
	r.collectFrames()
}

// step moves our clock forward by d in 1 ms steps, noting when each frame
// is emitted.
func (r *deadlineRig) step(d time.Duration) {
	for range d / time.Millisecond {
		r.clk.Advance(time.Millisecond)
		r.collectFrames()
	}
}

func (r *deadlineRig) collectFrames() {
	fs, late := r.take()
	if len(late) != 0 {
		r.t.Fatalf("%d records on the Late outlet with in-band late on", len(late))
	}
	now := r.clk.Now()
	for _, f := range fs {
		if f.Seq < 0 {
			r.t.Fatalf("record(s) %v judged late", offsetsOf(f))
		}
		r.closedAt[f.Seq] = now
		r.frames = append(r.frames, f)
	}
}

func offsetsOf(f *stages.Frame) []int64 {
	var out []int64
	for _, rec := range f.Records {
		out = append(out, rec.Offset)
	}
	return out
}

// TestIdleDeadlineClosesWithinFramePlusGrace: records of a producer six
// seconds behind our clock pass a caught-up partition; then it goes quiet.
// Each frame closes once the partition's event time, reckoned from its
// newest record by our clock, reaches the frame's end plus the grace: not
// before, at most one check after, so within a frame plus the grace of
// the partition's last input — not after the 100 ms of quiet idleAfter
// asks for. A frame whose deadline has not come stays open while an
// earlier one closes, and every close is a watermark decision (why
// "idle") after the last offset read.
func TestIdleDeadlineClosesWithinFramePlusGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newDeadlineRig(t)
		defer r.stop()
		p0 := tkT0.Add(-6 * time.Second) // a frame boundary on the producer's clock
		grace := operators.DefaultTickGrace
		frame := time.Second / 30
		us := func(d time.Duration) time.Time { return tkT0.Add(d) }

		// Frame 0 [0, 33.3 ms): a at 1 ms, b at 21 ms, each passing at
		// its own event time on our clock (six seconds on).
		a, b := r.rec(0, p0.Add(1*time.Millisecond)), r.rec(0, p0.Add(21*time.Millisecond))
		r.step(time.Millisecond)
		r.pass(a)
		r.step(20 * time.Millisecond)
		r.pass(b)
		// Frame 1 [33.3, 66.7) gets c at 50 ms; frame 2 [66.7, 100) gets d
		// at 68 ms, before frame 1's deadline.
		c, d := r.rec(0, p0.Add(50*time.Millisecond)), r.rec(0, p0.Add(68*time.Millisecond))
		r.step(29 * time.Millisecond)
		r.pass(c)
		r.step(18 * time.Millisecond)
		r.pass(d)
		r.step(90 * time.Millisecond)

		// Deadlines on our clock: each frame's end plus the grace, mapped
		// through the newest record when it came due (b for frame 0, d for
		// frames 1 and 2): event time and our clock run six seconds apart.
		type want struct {
			seq      int64
			offsets  []int64
			deadline time.Time // not closed before
			lastIn   time.Time // the partition's last input before the close
		}
		f0 := int64(p0.UnixNano()) / int64(time.Second) * 30
		wants := []want{
			{f0, []int64{a.Offset, b.Offset}, us(frame + grace), us(21 * time.Millisecond)},
			{f0 + 1, []int64{c.Offset}, us(2*frame + grace), us(68 * time.Millisecond)},
			{f0 + 2, []int64{d.Offset}, us(3*frame + grace), us(68 * time.Millisecond)},
		}
		if len(r.frames) != len(wants) {
			t.Fatalf("%d frames closed, want %d: %v", len(r.frames), len(wants), spans(r.frames))
		}
		for i, w := range wants {
			f := r.frames[i]
			if f.Seq != w.seq || fmt.Sprint(offsetsOf(f)) != fmt.Sprint(w.offsets) {
				t.Fatalf("frame %d: seq %d with %v, want seq %d with %v", i, f.Seq, offsetsOf(f), w.seq, w.offsets)
			}
			at := r.closedAt[f.Seq]
			if at.Before(w.deadline) || at.After(w.deadline.Add(deadlineCheck)) {
				t.Fatalf("frame seq %d closed at +%v, want at its deadline +%v (within a %v check)", f.Seq, at.Sub(tkT0), w.deadline.Sub(tkT0), deadlineCheck)
			}
			if limit := w.lastIn.Add(frame + grace + deadlineCheck); at.After(limit) {
				t.Fatalf("frame seq %d closed at +%v, more than a frame plus the grace after the last input at +%v", f.Seq, at.Sub(tkT0), w.lastIn.Sub(tkT0))
			}
			wm := decisionsOf([]*stages.Frame{f}, schemas.EventWatermark)
			if len(wm) != 1 {
				t.Fatalf("frame seq %d carries %d watermark decisions, want 1", f.Seq, len(wm))
			}
			why, _ := wm[0].Payload.String("why")
			after, _ := wm[0].Payload.Int("after_offset")
			if why != operators.WhyIdle || (i == 0 && after != b.Offset) || (i > 0 && after != d.Offset) {
				t.Fatalf("frame seq %d: watermark why %q after offset %d", f.Seq, why, after)
			}
		}
		// Frame 1 closed while frame 2 stayed open: the idle close did not
		// close a frame before its time.
		if !r.closedAt[f0+1].Before(r.closedAt[f0+2]) {
			t.Fatalf("frames 1 and 2 closed together at +%v", r.closedAt[f0+2].Sub(tkT0))
		}
	})
}

// TestIdleDeadlineNotOnABusyPartition: a partition behind the log's end is
// never closed by the clock, however long it is quiet on our side; once it
// is caught up its frame closes at the next check.
func TestIdleDeadlineNotOnABusyPartition(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newDeadlineRig(t)
		defer r.stop()
		r.caughtUp.Store(false)
		r.pass(r.rec(0, tkT0.Add(-6*time.Second+time.Millisecond)))
		r.step(time.Second)
		if len(r.frames) != 0 {
			t.Fatalf("a partition with lag closed %d frames by the clock: %v", len(r.frames), spans(r.frames))
		}
		r.caughtUp.Store(true)
		r.step(deadlineCheck)
		if len(r.frames) != 1 || len(r.frames[0].Records) != 1 {
			t.Fatalf("caught up: %d frames closed (%v), want the one holding the record", len(r.frames), spans(r.frames))
		}
	})
}

// TestIdleDeadlineReplayReproducesFrames: a replay that sends the recorded
// watermark decisions after the same offsets, with no clock, cuts the
// frames the deadline closes cut, with the same decisions on them.
func TestIdleDeadlineReplayReproducesFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live := newDeadlineRig(t)
		p0 := tkT0.Add(-6 * time.Second)
		var recs []*stages.Record
		// Irregular gaps: some frames close by the next record's event
		// time, some by their deadline.
		for _, gap := range []int{1, 3, 40, 2, 90, 15, 15, 60, 1, 200} {
			live.step(time.Duration(gap) * time.Millisecond)
			rec := live.rec(0, p0.Add(live.clk.Now().Sub(tkT0)))
			recs = append(recs, rec)
			live.pass(rec)
		}
		live.step(200 * time.Millisecond)
		liveFrames := live.frames
		idle := 0
		after := map[int64][]schemas.Event{}
		for _, f := range liveFrames {
			for _, e := range f.Events {
				if e.Kind != schemas.EventWatermark {
					continue
				}
				idle++
				off, _ := e.Payload.Int("after_offset")
				after[off] = append(after[off], e)
			}
		}
		if idle < 3 {
			t.Fatalf("%d idle closes in the live run, want several to replay", idle)
		}
		live.stop()

		re := newTkRig(t, deadlineTickOpts...)
		for _, rec := range recs {
			re.send(operators.TickInput{Record: re.rec(0, rec.Msg.TS)})
			for _, e := range after[rec.Offset] {
				to, _ := e.Payload.Int("to_ns")
				why, _ := e.Payload.String("why")
				re.send(operators.TickWatermark{Partition: 0, Time: time.Unix(0, to), Why: why})
			}
		}
		replayed, _ := re.take()
		if got, want := frameDigest(replayed), frameDigest(liveFrames); got != want {
			t.Fatalf("replay cut\n%s\nthe live run cut\n%s", got, want)
		}
		re.close()
	})
}

// frameDigest renders frames with their records and decisions.
func frameDigest(fs []*stages.Frame) string {
	var s string
	for _, f := range fs {
		s += fmt.Sprintf("seq %d %s %v", f.Seq, frameSpan(f), offsetsOf(f))
		for _, e := range f.Events {
			s += fmt.Sprintf(" %s %s %v", e.ID, e.Kind, e.Payload)
		}
		s += "\n"
	}
	return s
}

// TestTickIdleUptoBeforeTheDeadlineChangesNothing: an idle notice whose
// reckoned event time reaches no open frame's end plus the grace closes
// nothing, logs nothing and leaves the window state a checkpoint would
// take as it was: only logged advances may move it, or a replay's state
// would differ from the live run's.
func TestTickIdleUptoBeforeTheDeadlineChangesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := tkT0.Add(-6*time.Second + time.Millisecond)
		due := ts.Add(-time.Millisecond).Add(time.Second/30 + operators.DefaultTickGrace) // frame end plus the grace
		var cuts []operators.TickState
		for _, notices := range [][]operators.TickIdle{nil, {{Partition: 0, Upto: ts.Add(10 * time.Millisecond)}, {Partition: 0, Upto: due.Add(-time.Nanosecond)}}} {
			r := newTkRig(t, deadlineTickOpts...)
			r.send(operators.TickInput{Record: r.rec(0, ts)})
			for _, n := range notices {
				r.send(n)
			}
			r.tick.RequestCut()
			r.send(operators.TickCutNow{Partition: 0})
			fs, _ := r.take()
			if len(fs) != 1 || fs[0].Seq != -1 || len(fs[0].Events) != 0 {
				t.Fatalf("after %d early notices: frames %v, want only the carrier of the cut, with no decision", len(notices), frameDigest(fs))
			}
			cuts = append(cuts, fs[0].Cut.(*operators.TickCut).State)
			r.close()
		}
		if fmt.Sprint(cuts[0]) != fmt.Sprint(cuts[1]) {
			t.Fatalf("early idle notices moved the window state: %+v, without them %+v", cuts[1], cuts[0])
		}
	})
}

// TestIdleDeadlineWaitsOutUnevenDeliveries: a record delivered 25 ms after
// its event time, then one delivered at once: the partition's event time
// is reckoned from the slower delivery, so a third record delivered as
// late as the first still finds its frame open, and the frame closes 25 ms
// after its end plus the grace — still within a frame plus the grace of
// the last input.
func TestIdleDeadlineWaitsOutUnevenDeliveries(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newDeadlineRig(t)
		defer r.stop()
		p0 := tkT0.Add(-6 * time.Second)
		frame, grace, spread := time.Second/30, operators.DefaultTickGrace, 25*time.Millisecond
		a, b, c := r.rec(0, p0.Add(time.Millisecond)), r.rec(0, p0.Add(30*time.Millisecond)), r.rec(0, p0.Add(20*time.Millisecond))
		r.step(26 * time.Millisecond)
		r.pass(a) // 25 ms after its event time
		r.step(4 * time.Millisecond)
		r.pass(b) // at once
		r.step(15 * time.Millisecond)
		lastIn := r.clk.Now()
		r.pass(c) // 25 ms after, like a
		r.step(60 * time.Millisecond)
		if len(r.frames) != 1 || fmt.Sprint(offsetsOf(r.frames[0])) != fmt.Sprint([]int64{a.Offset, b.Offset, c.Offset}) {
			t.Fatalf("frames %v, want one holding a, b and c", frameDigest(r.frames))
		}
		deadline := tkT0.Add(frame + grace + spread)
		at := r.closedAt[r.frames[0].Seq]
		if at.Before(deadline) || at.After(deadline.Add(deadlineCheck)) {
			t.Fatalf("frame closed at +%v, want +%v: its end plus the grace plus the 25 ms deliveries took", at.Sub(tkT0), deadline.Sub(tkT0))
		}
		if at.After(lastIn.Add(frame + grace + deadlineCheck)) {
			t.Fatalf("frame closed at +%v, more than a frame plus the grace after the last input at +%v", at.Sub(tkT0), lastIn.Sub(tkT0))
		}
	})
}
