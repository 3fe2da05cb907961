package runtime

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestRestoredCutStillTakesTheWatermarkDecidedAfterIt: an idle partition
// takes its cut first (records 5 and 7 still in open frames, next 10) and
// closes those frames at their deadline after, with a watermark recorded
// after its last record, 9. The run dies before its next cut. A restart
// from the cut re-reads 5..9 and skips 6, 8 and 9 as done; it must still
// send the watermark recorded after 9, or it keeps the frames open and
// places the next records in them where a replay, which sends it, judges
// them late. A watermark recorded after a done record that the cut's
// window already passed is sent too: the tick ignores one behind it.
func TestRestoredCutStillTakesTheWatermarkDecidedAfterIt(t *testing.T) {
	now := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	lr := &laneRuntime{lane: schemas.LaneProd, clock: clock.NewFake(now)}
	w := newWorker(lr, 1)
	passed, after := now.Add(-2*time.Second), now.Add(-time.Second)
	tick, err := json.Marshal(operators.TickState{Closed: passed.UnixNano(), MaxTS: passed.UnixNano(), LastOffset: 9})
	if err != nil {
		t.Fatal(err)
	}
	w.restored = &Checkpoint{Lane: string(lr.lane), Partition: 1, Resume: 5, Next: 10, Open: []int64{5, 7}, Tick: tick}
	w.decisions = NewDecisions(12)
	for _, wm := range []struct {
		after int64
		to    time.Time
	}{{6, passed}, {9, after}} {
		ev := schemas.Event{ID: "wm", Kind: schemas.EventWatermark, Payload: schemas.Payload{"after_offset": wm.after, "to_ns": wm.to.UnixNano(), "why": operators.WhyIdle}}
		if err := w.decisions.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	watermarks := func(offset int64, items []any) []time.Time {
		var out []time.Time
		for _, it := range items {
			if wm, ok := it.(operators.TickWatermark); ok {
				out = append(out, wm.Time)
				// The tick never saw the done record: the decision it
				// logs again must name it, not the tick's last offset.
				if wm.After == nil || *wm.After != offset {
					t.Errorf("done record %d: watermark sent with after %v, want the record's offset", offset, wm.After)
				}
			}
		}
		return out
	}
	for _, c := range []struct {
		offset int64
		want   []time.Time
	}{{6, []time.Time{passed}}, {8, nil}, {9, []time.Time{after}}} {
		ack := topics.NewAck()
		got := watermarks(c.offset, w.decode(topics.Message{Topic: "matriz.prod.messages", Partition: 1, Offset: c.offset, Ack: ack}))
		if len(got) != len(c.want) || (len(got) == 1 && !got[0].Equal(c.want[0])) {
			t.Errorf("done record %d: watermarks %v, want %v", c.offset, got, c.want)
		}
		if !ack.Resolved() {
			t.Errorf("done record %d: its ack is not resolved", c.offset)
		}
	}
}

// TestRestoredCutWithNothingOpenTakesTheWakeDecidedAfterIt: an idle
// partition's cut has no open frame (resume = next = 10), so a restart
// from it never reads record 9 again. An approval woke the partition after
// that cut, closing a frame with a watermark recorded after 9, and the run
// died before its next cut. The restart must send that watermark before
// its first record, or it places the records of the woken frame in it
// where a replay, which sends the watermark after 9, judges them late. A
// cut with open frames re-reads record 9 and sends it there instead.
func TestRestoredCutWithNothingOpenTakesTheWakeDecidedAfterIt(t *testing.T) {
	now := time.Date(2026, 12, 7, 7, 0, 0, 0, time.UTC)
	closed, wake := now.Add(-2*time.Second), now.Add(-2*time.Second+38*time.Millisecond)
	tick, err := json.Marshal(operators.TickState{Closed: closed.UnixNano(), MaxTS: closed.UnixNano(), LastOffset: 9})
	if err != nil {
		t.Fatal(err)
	}
	decisions := func(t *testing.T) *Decisions {
		d := NewDecisions(12)
		for _, wm := range []struct {
			after int64
			to    time.Time
			why   string
		}{{8, closed, operators.WhyIdle}, {9, wake, operators.WhyApproval}} {
			ev := schemas.Event{ID: "wm", Kind: schemas.EventWatermark, Payload: schemas.Payload{"after_offset": wm.after, "to_ns": wm.to.UnixNano(), "why": wm.why}}
			if err := d.Add(ev); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	lr := &laneRuntime{lane: schemas.LaneProd, clock: clock.NewFake(now)}

	t.Run("nothing open", func(t *testing.T) {
		w := newWorker(lr, 1)
		w.restored = &Checkpoint{Lane: string(lr.lane), Partition: 1, Resume: 10, Next: 10, Tick: tick}
		w.decisions = decisions(t)
		items := w.restoredItems(nil)
		if len(items) != 2 {
			t.Fatalf("items before the first record: %#v, want the restore and the wake's watermark", items)
		}
		if r, ok := items[0].(operators.TickRestore); !ok || r.State.LastOffset != 9 {
			t.Errorf("first item %#v, want the cut's window state", items[0])
		}
		wm, ok := items[1].(operators.TickWatermark)
		if !ok {
			t.Fatalf("second item %#v, want the watermark recorded after 9", items[1])
		}
		if !wm.Time.Equal(wake) || wm.Why != operators.WhyApproval || wm.After == nil || *wm.After != 9 || wm.Partition != 1 {
			t.Errorf("watermark %+v (after %v), want partition 1 to %v, why %q, after 9", wm, wm.After, wake, operators.WhyApproval)
		}
	})
	t.Run("open frames re-read the last record", func(t *testing.T) {
		w := newWorker(lr, 1)
		w.restored = &Checkpoint{Lane: string(lr.lane), Partition: 1, Resume: 7, Next: 10, Open: []int64{7}, Tick: tick}
		w.decisions = decisions(t)
		if items := w.restoredItems(nil); len(items) != 1 {
			t.Errorf("items before the first record: %#v, want the restore only (record 9 is read again and brings its watermark)", items)
		}
	})
	t.Run("no decisions", func(t *testing.T) {
		w := newWorker(lr, 1)
		w.restored = &Checkpoint{Lane: string(lr.lane), Partition: 1, Resume: 10, Next: 10, Tick: tick}
		if items := w.restoredItems(nil); len(items) != 1 {
			t.Errorf("items before the first record: %#v, want the restore only", items)
		}
	})
}
