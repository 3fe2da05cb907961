package operators_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/stages"
)

// TestTickCheckpointEveryMarksTheFirstFramePastEachBoundary pins
// TickCheckpointEvery: the first frame ending on or past each multiple of d
// (event time) carries a cut marked Checkpoint, the very first frame only
// starts the count, and a cut the runtime requested is not a checkpoint.
// When one input closes frames past several boundaries, the cut rides on
// the last of them only, once, and no frame leaves the tick with a cut
// that is not a *TickCut.
func TestTickCheckpointEveryMarksTheFirstFramePastEachBoundary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickIdleFrames(0), operators.TickCheckpointEvery(100*time.Millisecond))
		var frames []*stages.Frame
		for ms := 1; ms < 500; ms += 10 {
			if ms == 41 { // closes the first frame [0, 33.3 ms)
				r.tick.RequestCut()
			}
			r.send(operators.TickInput{Record: r.rec(0, tkAt(time.Duration(ms)*time.Millisecond))})
		}
		steady, _ := r.take()
		frames = append(frames, steady...)
		// One record 500 ms on closes [466.7, 966.7): past the 500, 600,
		// 700, 800 and 900 ms boundaries in one go.
		jump := r.rec(0, tkAt(1001*time.Millisecond))
		r.send(operators.TickInput{Record: jump})
		burst, _ := r.take()
		frames = append(frames, burst...)
		r.close()

		got := map[string]bool{} // frame end (ms) -> Checkpoint
		for _, f := range frames {
			if f.Cut == nil {
				continue
			}
			c, ok := f.Cut.(*operators.TickCut)
			if !ok {
				t.Fatalf("frame %s left the tick with cut %T, want *TickCut", frameSpan(f), f.Cut)
			}
			got[fmt.Sprintf("%.3f", float64(f.End.Sub(tkT0))/1e6)] = c.Checkpoint
		}
		want := map[string]bool{"33.333": false, "100.000": true, "200.000": true, "300.000": true, "400.000": true, "966.667": true}
		if !maps.Equal(got, want) {
			keys := slices.Sorted(maps.Keys(got))
			t.Fatalf("cuts on frames ending at %v (checkpoint %v), want %v", keys, got, want)
		}
		if len(burst) != 15 {
			t.Fatalf("the jump closed %d frames, want 15: %v", len(burst), spans(burst))
		}
		last := burst[len(burst)-1].Cut.(*operators.TickCut)
		if last.Next != jump.Offset+1 || !slices.Equal(last.Open, []int64{jump.Offset}) {
			t.Fatalf("burst cut next %d open %v, want next %d open [%d]", last.Next, last.Open, jump.Offset+1, jump.Offset)
		}
	})
}
