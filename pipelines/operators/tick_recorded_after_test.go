package operators_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
)

// TestTickRecordedWatermarkKeepsItsOffset: a restored tick that re-reads
// its open records and is then sent the watermark a run recorded after a
// later record, one the cut counted done and the tick never sees, logs the
// decision again after that record, where a replay meets it; without
// After it names the last offset it read.
func TestTickRecordedWatermarkKeepsItsOffset(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		base := tkT0.Truncate(time.Second)
		for _, recorded := range []bool{true, false} {
			r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickDecisions(true), operators.TickLateInBand(true))
			a, b := r.rec(0, base.Add(time.Millisecond)), r.rec(0, base.Add(2*time.Millisecond))
			after, want := (*int64)(nil), b.Offset
			if recorded {
				after, want = ptr(b.Offset+3), b.Offset+3
			}
			r.send(operators.TickInput{Record: a})
			r.send(operators.TickInput{Record: b})
			r.send(operators.TickWatermark{Partition: 0, Time: base.Add(time.Second), Why: operators.WhyIdle, After: after})
			fs, _ := r.take()
			wm := decisionsOf(fs, schemas.EventWatermark)
			if len(wm) != 1 {
				t.Fatalf("%d watermark decisions, want 1", len(wm))
			}
			if got, _ := wm[0].Payload.Int("after_offset"); got != want {
				t.Errorf("recorded after set %v: decision after offset %d, want %d", recorded, got, want)
			}
			r.close()
		}
	})
}

func ptr[T any](v T) *T { return &v }
