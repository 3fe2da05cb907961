package bench

import (
	"testing"
	"time"
)

// TestP99TimelineSplitsByInputTime: answers are bucketed by their input's
// timestamp, a bucket's p99 is its own inputs' p99, an empty bucket shows
// as "-", and inputs before the start or without an answer are left out.
func TestP99TimelineSplitsByInputTime(t *testing.T) {
	start := time.Unix(1000, 0)
	b := newLatencyBook()
	off := int64(0)
	add := func(at time.Duration, lat time.Duration, answered bool) {
		b.input(0, off, start.Add(at))
		if answered {
			b.result(0, off, start.Add(at+lat), start.Add(at+lat))
		}
		off++
	}
	add(-time.Second, time.Second, true)                   // before the phase
	add(-500*time.Millisecond, 500*time.Millisecond, true) // before it too, less than a bucket
	for i := range 10 {
		add(time.Duration(i)*time.Millisecond, 10*time.Millisecond, true)
	}
	add(50*time.Millisecond, 300*time.Millisecond, true) // the first second's tail
	add(60*time.Millisecond, time.Hour, false)           // no answer
	add(2500*time.Millisecond, 40*time.Millisecond, true)
	tl := b.p99Timeline(start, time.Second)
	if len(tl) != 3 || tl[0].Count != 11 || tl[0].P99 != 300*time.Millisecond || tl[1].Count != 0 || tl[2].P99 != 40*time.Millisecond {
		t.Fatalf("timeline %+v", tl)
	}
	if got, want := timelineString(tl, time.Second), "p99 by 1s of input timestamp: 300ms - 40ms"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
