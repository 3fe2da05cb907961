package operators

import (
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TestEventClockKeepsTheLastDelayWhileCheckedOften pins the reckoning of a
// quiet partition checked every couple of milliseconds, as IdleDeadlines
// does: the windows then roll one at a time, and as the last one holding
// a delivery empties, its delay is kept, so the partition is still reckoned
// by its last delay (here 60 ms) a whole second on, not left without an
// event time (which would stop its last frames from ever reaching their
// deadlines).
func TestEventClockKeepsTheLastDelayWhileCheckedOften(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var c eventClock
	c.note(TickInput{Record: &stages.Record{Msg: &schemas.MatrizMessage{TS: t0.Add(-60 * time.Millisecond)}}}, t0)
	for now := t0; now.Before(t0.Add(time.Second)); now = now.Add(DefaultIdleCheck) {
		got, ok := c.at(now)
		if !ok || now.Sub(got) != 60*time.Millisecond {
			t.Fatalf("%v into the quiet spell: event time %v behind now (ok %v), want the last delivery's 60ms", now.Sub(t0), now.Sub(got), ok)
		}
	}
}
