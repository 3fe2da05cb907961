package pipelines

import (
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// LaneCounters are the live figures of one lane the status line shows.
type LaneCounters struct {
	In  atomic.Int64 // messages consumed
	Out atomic.Int64 // results acknowledged by Kafka
	DLQ atomic.Int64 // records sent to the DLQ
}

// StatusLine prints one line per interval with every lane's rates and
// totals. It derives rates from the counters' deltas over the measured
// elapsed time, so a late tick does not inflate a rate.
type StatusLine struct {
	w     io.Writer
	lanes []schemas.Lane
	get   func(schemas.Lane) *LaneCounters
	extra func(schemas.Lane) string // optional per-lane suffix

	last     map[schemas.Lane][2]int64
	lastTime time.Time
}

// NewStatusLine returns a status printer.
func NewStatusLine(w io.Writer, lanes []schemas.Lane, get func(schemas.Lane) *LaneCounters, extra func(schemas.Lane) string) *StatusLine {
	return &StatusLine{w: w, lanes: lanes, get: get, extra: extra, last: map[schemas.Lane][2]int64{}}
}

// Print writes one status line for time now.
func (s *StatusLine) Print(now time.Time) {
	elapsed := now.Sub(s.lastTime).Seconds()
	first := s.lastTime.IsZero()
	s.lastTime = now
	parts := make([]string, 0, len(s.lanes))
	for _, l := range s.lanes {
		c := s.get(l)
		in, out := c.In.Load(), c.Out.Load()
		prev := s.last[l]
		s.last[l] = [2]int64{in, out}
		var inRate, outRate float64
		if !first && elapsed > 0 {
			inRate = float64(in-prev[0]) / elapsed
			outRate = float64(out-prev[1]) / elapsed
		}
		p := fmt.Sprintf("%s in %.0f/s out %.0f/s total %d", l, inRate, outRate, out)
		if d := c.DLQ.Load(); d > 0 {
			p += fmt.Sprintf(" dlq %d", d)
		}
		if s.extra != nil {
			if x := s.extra(l); x != "" {
				p += " " + x
			}
		}
		parts = append(parts, p)
	}
	fmt.Fprintln(s.w, strings.Join(parts, " | "))
}
