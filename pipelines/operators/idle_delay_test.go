package operators

import (
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TestEventClockForgetsASlowDeliveryWithinHalfASecond: a partition's event
// time is reckoned back by the slowest recent delivery, so a record
// delivered as late as that one still finds its frame open; but one slow
// delivery (here 60 ms, among 5 ms ones) stops holding frames open within
// half a second, or a single hiccup would delay every close after it.
// After a quiet spell the last delivery's delay still stands.
func TestEventClockForgetsASlowDeliveryWithinHalfASecond(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	delivered := func(c *eventClock, at time.Time, delay time.Duration) {
		c.note(TickInput{Record: &stages.Record{Msg: &schemas.MatrizMessage{TS: at.Add(-delay)}}}, at)
	}
	var c eventClock
	delivered(&c, t0, 60*time.Millisecond)
	var now time.Time
	for ms := 20; ms <= 600; ms += 20 {
		now = t0.Add(time.Duration(ms) * time.Millisecond)
		delivered(&c, now, 5*time.Millisecond)
		if ms == 100 {
			if got, ok := c.at(now); !ok || now.Sub(got) != 60*time.Millisecond {
				t.Fatalf("100 ms after the slow delivery: event time %v behind now (ok %v), want 60ms", now.Sub(got), ok)
			}
		}
	}
	if got, ok := c.at(now); !ok || now.Sub(got) != 5*time.Millisecond {
		t.Fatalf("600 ms after the slow delivery: event time %v behind now (ok %v), want the recent deliveries' 5ms", now.Sub(got), ok)
	}
	// A quiet spell longer than the memory leaves the last delay standing:
	// no delivery is no new evidence, and a burst's last frames must still
	// reach their deadlines.
	quiet := now.Add(10 * time.Second)
	if got, ok := c.at(quiet); !ok || quiet.Sub(got) != 5*time.Millisecond {
		t.Fatalf("after a quiet spell: event time %v behind now (ok %v), want the last deliveries' 5ms", quiet.Sub(got), ok)
	}
	if _, ok := new(eventClock).at(quiet); ok {
		t.Fatal("a partition that never had a record has an event time")
	}
	now = quiet
	// Records without an event time (a failed decode) say nothing.
	c.note(TickInput{Record: &stages.Record{Failure: &stages.Failure{}}}, now)
	if got, _ := c.at(now); now.Sub(got) != 5*time.Millisecond {
		t.Fatalf("a record without a message moved the reckoning: %v", now.Sub(got))
	}
}
