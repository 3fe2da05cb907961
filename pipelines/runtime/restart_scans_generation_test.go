package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// TestRestartScansBelongToOneGeneration: a partition shares the event-log
// scan of its own generation only; a claim of another generation (the
// group moved on meanwhile), or a lane with no scan (a replay), reads on
// its own.
func TestRestartScansBelongToOneGeneration(t *testing.T) {
	lr := &laneRuntime{lane: schemas.LaneProd}
	if s := lr.restartScansFor(3); s != nil {
		t.Fatal("a lane without scans gave one")
	}
	s := newRestartScans(context.Background(), 4, []int32{0, 1}, func(context.Context, map[int32]scanAsk, time.Duration) (map[int32]*Decisions, error) {
		return map[int32]*Decisions{}, nil
	})
	lr.scans.Store(s)
	if got := lr.restartScansFor(4); got != s {
		t.Fatal("the generation's own partition did not get its scans")
	}
	if got := lr.restartScansFor(3); got != nil {
		t.Fatal("a claim of an older generation got the current generation's scans")
	}
}
