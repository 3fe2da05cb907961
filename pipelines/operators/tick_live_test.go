package operators_test

import (
	"reflect"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
)

// TestTickLiveResumesAdaptationWithAFreshWindow pins TickLive: a tick
// replaying a re-decided region (TickFPSSchedule) does not adapt however
// slow its frames are; after TickLive it does, judging only frames timed
// after it (the window starts empty), and the first frame at the new rate
// starts at the next boundary both rates share and records the change.
func TestTickLiveResumesAdaptationWithAFreshWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickIdleFrames(0),
			operators.TickP95Window(3), operators.TickBudget(schemas.LaneCandidate, 10*time.Millisecond),
			operators.TickFPSSchedule(func(int32) []operators.GridSwitch { return nil }))
		slow := func(n int) {
			for range n {
				r.tick.ObserveFrameDuration(50 * time.Millisecond)
			}
		}
		r.send(operators.TickInput{Record: r.rec(0, tkAt(time.Millisecond))})
		slow(3)
		if fps := r.tick.FPS(); fps != 30 {
			t.Fatalf("a re-decided region adapted to %d FPS", fps)
		}
		r.send(operators.TickLive{})
		slow(2)
		if fps := r.tick.FPS(); fps != 30 {
			t.Fatalf("%d FPS after two slow frames: frames timed before TickLive were counted", fps)
		}
		slow(1)
		if fps := r.tick.FPS(); fps != 20 {
			t.Fatalf("%d FPS after a full window of slow frames, want 20", fps)
		}
		for ms := 11; ms <= 201; ms += 10 {
			r.send(operators.TickInput{Record: r.rec(0, tkAt(time.Duration(ms)*time.Millisecond))})
		}
		r.close()
		fs, _ := r.take()
		want := []string{"p0@30 [0.000,33.333) n=4", "p0@30 [33.333,66.667) n=3", "p0@30 [66.667,100.000) n=3",
			"p0@20 [100.000,150.000) n=5", "p0@20 [150.000,200.000) n=5", "p0@20 [200.000,250.000) n=1"}
		if got := spans(fs); !reflect.DeepEqual(got, want) {
			t.Fatalf("frames %v, want %v", got, want)
		}
		changes := decisionsOf(fs, schemas.EventFPSChange)
		if len(changes) != 1 || len(fs[3].Events) != 1 || fs[3].Events[0].Kind != schemas.EventFPSChange {
			t.Fatalf("%d rate changes recorded (%+v), want one on the first 20 FPS frame", len(changes), changes)
		}
		if from, _ := changes[0].Payload.Int("from_fps"); from != 30 {
			t.Fatalf("rate change from %d FPS, want 30", from)
		}
	})
}
