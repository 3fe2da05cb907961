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
	"unicode/utf8"

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
	waiting       atomic.Pointer[[]string]
}

// Waiting returns the ids of the lane's actions waiting for a human
// approval in the partitions this process works.
func (c *LaneCounters) Waiting() []string {
	if ids := c.waiting.Load(); ids != nil {
		return *ids
	}
	return nil
}

func (c *LaneCounters) setWaiting(ids []string) { c.waiting.Store(&ids) }

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
// totals, or, on a terminal (WithTable), redraws an aligned table in place:
// a header row and one row per lane. It derives rates from the counters'
// deltas over the measured elapsed time, so a late tick does not inflate a
// rate.
type StatusLine struct {
	w     io.Writer
	lanes []schemas.Lane
	get   func(schemas.Lane) *LaneCounters
	extra func(schemas.Lane) string // optional per-lane suffix
	res   *Resources                // optional process figures at the end

	last     map[schemas.Lane][2]int64
	lastTime time.Time

	table  bool  // redraw a table in place
	widths []int // the table's column widths so far: they only grow, so columns do not jump
	drawn  int   // lines of the table on screen, to move up over
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

// WithTable makes Print redraw a table in place (the cursor moved up over
// the last one with ANSI escapes) instead of appending a line: for a
// terminal, never for a log or CI, which keep one line per interval.
func (s *StatusLine) WithTable() *StatusLine {
	s.table = true
	return s
}

// statusRow is one lane's figures at one Print.
type statusRow struct {
	lane            schemas.Lane
	inRate, outRate float64
	out             int64
	p95             time.Duration
	fps             int64
	drift           float64
	brk, bt, deny   int64
	dlq             int64
	extra           string
}

// Print writes the status for time now.
func (s *StatusLine) Print(now time.Time) {
	elapsed := now.Sub(s.lastTime).Seconds()
	first := s.lastTime.IsZero()
	s.lastTime = now
	rows := make([]statusRow, 0, len(s.lanes))
	for _, l := range s.lanes {
		c := s.get(l)
		in, out := c.In.Load(), c.Out.Load()
		prev := s.last[l]
		s.last[l] = [2]int64{in, out}
		r := statusRow{lane: l, out: out, p95: c.TickP95(), fps: c.FPS.Load(), drift: c.DriftEMA(),
			brk: c.Breaks.Load(), bt: c.Breakthroughs.Load(), deny: c.Denials.Load(), dlq: c.DLQ.Load()}
		if !first && elapsed > 0 {
			r.inRate = float64(in-prev[0]) / elapsed
			r.outRate = float64(out-prev[1]) / elapsed
		}
		if s.extra != nil {
			r.extra = s.extra(l)
		}
		rows = append(rows, r)
	}
	res := ""
	if s.res != nil {
		res = s.res.String(now)
	}
	if s.table {
		s.redraw(rows, res)
		return
	}
	fmt.Fprintln(s.w, statusLine(rows, res))
}

// statusLine renders the one-line form: every lane, then the process.
func statusLine(rows []statusRow, res string) string {
	parts := make([]string, 0, len(rows)+1)
	for _, r := range rows {
		p := fmt.Sprintf("%s in %.0f/s out %.0f/s Σ%d p95 %s %dfps drift %.3f brk %d bt %d deny %d dlq %d",
			short(r.lane), r.inRate, r.outRate, r.out, fmtDur(r.p95), r.fps, r.drift, r.brk, r.bt, r.deny, r.dlq)
		if r.extra != "" {
			p += " " + r.extra
		}
		parts = append(parts, p)
	}
	if res != "" {
		parts = append(parts, res)
	}
	return strings.Join(parts, " | ")
}

// statusHeader names the table's columns; the first is left-aligned, the
// figures right-aligned.
var statusHeader = []string{"LANE", "IN/s", "OUT/s", "ANSWERED", "P95", "FPS", "DRIFT", "BRK", "BT", "DENY", "DLQ"}

// tableLines renders the table form: the header, one row per lane, then
// the process's figures on a line of their own; widths grow to fit and are
// updated in place.
func tableLines(rows []statusRow, res string, widths *[]int) []string {
	cells := [][]string{statusHeader}
	for _, r := range rows {
		cells = append(cells, []string{string(r.lane), fmt.Sprintf("%.0f", r.inRate), fmt.Sprintf("%.0f", r.outRate),
			fmt.Sprint(r.out), fmtDur(r.p95), fmt.Sprint(r.fps), fmt.Sprintf("%.3f", r.drift),
			fmt.Sprint(r.brk), fmt.Sprint(r.bt), fmt.Sprint(r.deny), fmt.Sprint(r.dlq)})
	}
	w := *widths
	for len(w) < len(statusHeader) {
		w = append(w, 0)
	}
	for _, row := range cells {
		for i, c := range row {
			w[i] = max(w[i], utf8.RuneCountInString(c))
		}
	}
	*widths = w
	lines := make([]string, 0, len(cells)+1)
	for i, row := range cells {
		var b strings.Builder
		for j, c := range row {
			pad := strings.Repeat(" ", w[j]-utf8.RuneCountInString(c))
			switch {
			case j == 0:
				b.WriteString(c + pad)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		if i > 0 && rows[i-1].extra != "" {
			b.WriteString("  " + rows[i-1].extra)
		}
		lines = append(lines, b.String())
	}
	if res != "" {
		lines = append(lines, res)
	}
	return lines
}

// redraw moves the cursor up over the table drawn last and writes the new
// one over it, clearing each line first (a shorter line leaves nothing of
// the longer one behind).
func (s *StatusLine) redraw(rows []statusRow, res string) {
	lines := tableLines(rows, res, &s.widths)
	var b strings.Builder
	if s.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", s.drawn)
	}
	for _, l := range lines {
		b.WriteString("\r\x1b[2K" + l + "\n")
	}
	if s.drawn > len(lines) {
		// A line fewer than last time (the process figures went): clear
		// what is left below.
		b.WriteString("\x1b[J")
	}
	s.drawn = len(lines)
	io.WriteString(s.w, b.String())
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
