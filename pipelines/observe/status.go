package observe

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// LaneCounters are the live figures of one lane the status line shows.
type LaneCounters struct {
	In            atomic.Int64 // messages consumed
	Out           atomic.Int64 // results acknowledged by Kafka
	DLQ           atomic.Int64 // records sent to the DLQ
	Breaks        atomic.Int64 // fold-guard circuit breaks
	Breakthroughs atomic.Int64 // breakthrough flags
	Denials       atomic.Int64 // guardian denials
	FPS           atomic.Int64 // the tick's current rate
	driftEMA      atomic.Uint64
	p95           p95Window
}

// SetDriftEMA records the lane's drift EMA.
func (c *LaneCounters) SetDriftEMA(v float64) { c.driftEMA.Store(math.Float64bits(v)) }

// DriftEMA returns the lane's drift EMA.
func (c *LaneCounters) DriftEMA() float64 { return math.Float64frombits(c.driftEMA.Load()) }

// TickP95 returns the p95 of the last frames' processing times.
func (c *LaneCounters) TickP95() time.Duration { return c.p95.get() }

// ResetFrames forgets the frame durations seen so far (a benchmark phase
// starts measuring).
func (c *LaneCounters) ResetFrames() { c.p95.reset() }

// FramesP95 returns the p95 of the frame durations recorded since the last
// reset (up to the window's size) and how many it is over.
func (c *LaneCounters) FramesP95() (time.Duration, int) { return c.p95.get(), c.p95.count() }

// p95Window keeps the last frame durations for the status line's p95.
type p95Window struct {
	mu   sync.Mutex
	ring [4096]time.Duration
	n    int
	next int
}

func (w *p95Window) add(d time.Duration) {
	w.mu.Lock()
	w.ring[w.next] = d
	w.next = (w.next + 1) % len(w.ring)
	w.n = min(w.n+1, len(w.ring))
	w.mu.Unlock()
}

func (w *p95Window) get() time.Duration {
	w.mu.Lock()
	vals := slices.Clone(w.ring[:w.n])
	w.mu.Unlock()
	if len(vals) == 0 {
		return 0
	}
	slices.Sort(vals)
	return vals[(len(vals)*95+99)/100-1]
}

// StatusLine prints one line per interval with every lane's rates and
// totals. It derives rates from the counters' deltas over the measured
// elapsed time, so a late tick does not inflate a rate.
type StatusLine struct {
	w     io.Writer
	lanes []schemas.Lane
	get   func(schemas.Lane) *LaneCounters
	extra func(schemas.Lane) string // optional per-lane suffix
	res   *Resources                // optional process figures at the end

	last     map[schemas.Lane][2]int64
	lastTime time.Time
}

// NewStatusLine returns a status printer.
func NewStatusLine(w io.Writer, lanes []schemas.Lane, get func(schemas.Lane) *LaneCounters, extra func(schemas.Lane) string) *StatusLine {
	return &StatusLine{w: w, lanes: lanes, get: get, extra: extra, last: map[schemas.Lane][2]int64{}}
}

// WithResources appends the process's disk and memory figures to every
// line ("| disk 120MB rss 90MB") and returns s.
func (s *StatusLine) WithResources(r *Resources) *StatusLine {
	s.res = r
	return s
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
		p := fmt.Sprintf("%s in %.0f/s out %.0f/s Σ%d p95 %s %dfps drift %.3f brk %d bt %d deny %d dlq %d",
			short(l), inRate, outRate, out, fmtDur(c.TickP95()), c.FPS.Load(), c.DriftEMA(),
			c.Breaks.Load(), c.Breakthroughs.Load(), c.Denials.Load(), c.DLQ.Load())
		if s.extra != nil {
			if x := s.extra(l); x != "" {
				p += " " + x
			}
		}
		parts = append(parts, p)
	}
	if s.res != nil {
		if x := s.res.String(now); x != "" {
			parts = append(parts, x)
		}
	}
	fmt.Fprintln(s.w, strings.Join(parts, " | "))
}

func (w *p95Window) reset() {
	w.mu.Lock()
	w.n, w.next = 0, 0
	w.mu.Unlock()
}

func (w *p95Window) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.n
}

// short abbreviates a lane for the status line.
func short(l schemas.Lane) string {
	switch l {
	case schemas.LaneExperimental:
		return "exp"
	case schemas.LaneCandidate:
		return "cand"
	}
	return string(l)
}

// fmtDur renders a frame time compactly: 0.22ms, 12ms.
func fmtDur(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	if ms < 10 {
		return fmt.Sprintf("%.2fms", ms)
	}
	return fmt.Sprintf("%.0fms", ms)
}
