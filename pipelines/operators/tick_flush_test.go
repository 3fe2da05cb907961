package operators_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
)

// TestTickFlushLoggedOnlyWhenAsked pins TickFlushLogged: with decisions on,
// the flush at the end of input is by default a logged decision (a
// "shutdown" watermark after the last offset, and a final cut where the run
// stopped); TickFlushLogged(false), a replay ending its range, emits the
// same frames with neither.
func TestTickFlushLoggedOnlyWhenAsked(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   []operators.TickOption
		logged bool
	}{
		{"default", nil, true},
		{"off", []operators.TickOption{operators.TickFlushLogged(false)}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newTkRig(t, append([]operators.TickOption{operators.TickMode(operators.Replay), operators.TickDecisions(true)}, tc.opts...)...)
				a := r.rec(0, tkAt(time.Millisecond))
				r.send(operators.TickInput{Record: a})
				r.close()
				fs, _ := r.take()
				if len(fs) != 1 || len(fs[0].Records) != 1 {
					t.Fatalf("flush emitted %v, want the open frame with its record", spans(fs))
				}
				wm := decisionsOf(fs, schemas.EventWatermark)
				cut, _ := fs[0].Cut.(*operators.TickCut)
				if !tc.logged {
					if len(wm) != 0 || fs[0].Cut != nil {
						t.Fatalf("unlogged flush recorded %d watermarks and cut %+v", len(wm), fs[0].Cut)
					}
					return
				}
				if len(wm) != 1 || cut == nil || !cut.Final || cut.Next != a.Offset+1 || len(cut.Open) != 0 {
					t.Fatalf("logged flush: %d watermarks, cut %+v; want one watermark and a final cut at %d with nothing open", len(wm), cut, a.Offset+1)
				}
				if why, _ := wm[0].Payload.String("why"); why != "shutdown" {
					t.Fatalf("flush watermark why %q, want shutdown", why)
				}
			})
		})
	}
}
