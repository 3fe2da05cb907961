package runtime

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TestDecisionsAddRefusesDecisionsItCannotPlace: a decision whose payload
// does not say where it applies (no frame, no offset, a decimation that
// does not parse) is an error naming the event, and is not counted: a
// replay that applied it somewhere else would decide differently.
func TestDecisionsAddRefusesDecisionsItCannotPlace(t *testing.T) {
	for _, tc := range []struct {
		name string
		ev   schemas.Event
		is   error
		want string
	}{
		{"watermark without its place", schemas.Event{ID: "w1", Kind: schemas.EventWatermark, Payload: schemas.Payload{"to_ns": int64(5)}}, nil,
			"watermark decision w1 without after_offset and to_ns"},
		{"watermark without its time", schemas.Event{ID: "w2", Kind: schemas.EventWatermark, Payload: schemas.Payload{"after_offset": int64(5)}}, nil,
			"watermark decision w2 without after_offset and to_ns"},
		{"decimation without offsets", schemas.Event{ID: "d1", Kind: schemas.EventDecimation,
			Payload: schemas.Payload{"partition": int64(0), "seq": int64(1), "fps": int64(30), "records": int64(2)}}, operators.ErrDecimate, "decimation event d1"},
		{"fps change without a frame", schemas.Event{ID: "f1", Kind: schemas.EventFPSChange, Payload: schemas.Payload{"fps": int64(30)}}, nil,
			"decision f1 (fps_change) names no frame"},
		{"flag change without a frame", schemas.Event{ID: "g1", Kind: schemas.EventFlagChange, Payload: schemas.Payload{"seq": int64(3)}}, nil,
			"decision g1 (flag_change) names no frame"},
		{"approval applied without a frame", schemas.Event{ID: "a1", Kind: schemas.EventApprovalApplied, Payload: schemas.Payload{"fps": "30", "seq": int64(3)}}, nil,
			"decision a1 (approval_applied) names no frame"},
	} {
		d := NewDecisions(100)
		err := d.Add(tc.ev)
		if err == nil || !strings.Contains(err.Error(), tc.want) || (tc.is != nil && !errors.Is(err, tc.is)) {
			t.Errorf("%s: Add = %v, want an error containing %q", tc.name, err, tc.want)
		}
		if d.Len() != 0 || d.Reached != -1 {
			t.Errorf("%s: a refused decision was recorded: %d decisions, reached %d", tc.name, d.Len(), d.Reached)
		}
	}
}

// TestDecisionsAddKeepsEachDecisionOnce: the event log may hold a decision
// twice (a run that died before committing wrote it again): a watermark or
// an approval read twice is applied once, a flag change read twice at one
// start keeps one entry, and an event that is no decision is ignored.
func TestDecisionsAddKeepsEachDecisionOnce(t *testing.T) {
	d := NewDecisions(100)
	add := func(ev schemas.Event) {
		t.Helper()
		if err := d.Add(ev); err != nil {
			t.Fatal(err)
		}
	}
	wm := func(after, to int64) schemas.Event {
		return schemas.Event{Kind: schemas.EventWatermark, Payload: schemas.Payload{"after_offset": after, "to_ns": to, "why": "idle"}}
	}
	add(wm(7, 300))
	add(wm(7, 100))
	add(wm(7, 300)) // again
	add(wm(4, 50))
	if got := d.watermarks[7]; len(got) != 2 || got[0].to != 100 || got[1].to != 300 || got[0].why != "idle" {
		t.Errorf("watermarks after 7: %+v, want 100 then 300, once each", got)
	}
	if d.Reached != 7 {
		t.Errorf("reached %d, want 7 (the furthest watermark's place)", d.Reached)
	}

	approval := schemas.Event{Kind: schemas.EventApprovalApplied, Payload: schemas.Payload{"fps": int64(30), "seq": int64(9), stages.ApprovalActionKey: "act-1"}}
	add(approval)
	add(approval)
	if got := d.approvals[frameKey{30, 9}]; len(got) != 1 || got[0] != "act-1" {
		t.Errorf("approvals of frame 30/9: %v, want [act-1]", got)
	}

	start := time.Unix(0, 1_000)
	flags := func(dispatch bool) schemas.Event {
		p := flagsPayload(stages.Flags{Dispatch: dispatch})
		p["fps"], p["seq"], p["start_ns"] = int64(30), int64(10), start.UnixNano()
		return schemas.Event{Kind: schemas.EventFlagChange, Payload: p}
	}
	add(flags(true))
	add(flags(false)) // the same frame decided again: the later record stands
	if len(d.flags) != 1 {
		t.Fatalf("flag decisions: %+v, want one at the frame's start", d.flags)
	}
	if got, ok := d.flagsAt(start.Add(time.Second)); !ok || got.Dispatch {
		t.Errorf("flags after the frame: %+v (%v), want dispatch off", got, ok)
	}
	if _, ok := d.flagsAt(start.Add(-time.Nanosecond)); ok {
		t.Errorf("flags before any recorded frame were found")
	}

	before := d.Len()
	add(schemas.Event{Kind: schemas.EventRouting, Payload: schemas.Payload{"fps": int64(30), "seq": int64(9)}})
	if d.Len() != before {
		t.Errorf("a routing event counted as a decision: %d, want %d", d.Len(), before)
	}
	if want := 4 + 2 + 2; before != want {
		t.Errorf("decisions counted: %d, want %d (every Add that recorded, repeats included)", before, want)
	}
}

// TestLoadDecisionsWithNothingAskedReadsNothing: a replay whose ranges are
// all empty asks for no partition; loading then returns an empty record at
// once, without dialling a broker.
func TestLoadDecisionsWithNothingAskedReadsNothing(t *testing.T) {
	decode := func([]byte, *schemas.Event) error {
		t.Error("decode called with nothing asked")
		return nil
	}
	got, err := loadDecisions(context.Background(), clock.NewFake(time.Unix(0, 0)), []string{"127.0.0.1:1"}, "matriz.prod.events", nil, decode, time.Second)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("loadDecisions(no asks) = %v, %v; want an empty map and no error", got, err)
	}
}

// TestDecisionsFPSScheduleInTimeOrder: the rate switches a live run
// recorded are replayed in event-time order whatever order the log gave
// them in, each at the rate its frame names, so a replay cuts the same
// frames.
func TestDecisionsFPSScheduleInTimeOrder(t *testing.T) {
	d := NewDecisions(100)
	for _, c := range []struct{ from, fps int64 }{{3_000, 15}, {1_000, 60}, {2_000, 30}} {
		if err := d.Add(schemas.Event{Kind: schemas.EventFPSChange, Payload: schemas.Payload{"fps": c.fps, "seq": int64(1), "from_ns": c.from}}); err != nil {
			t.Fatal(err)
		}
	}
	want := []operators.GridSwitch{{From: 1_000, FPS: 60}, {From: 2_000, FPS: 30}, {From: 3_000, FPS: 15}}
	if got := d.FPSSchedule(); !slices.Equal(got, want) {
		t.Fatalf("FPS schedule %v, want %v", got, want)
	}
	if d.Len() != 3 {
		t.Errorf("%d decisions counted, want 3", d.Len())
	}
}
