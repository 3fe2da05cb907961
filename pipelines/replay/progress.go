package replay

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/runtime"
)

// NewProgress returns the replay's progress display on w: a bar with
// records done, rate and ETA, and each partition's share, when w is a
// terminal; a plain line every interval otherwise (logs, CI), and one at
// the end.
func NewProgress(w io.Writer, terminal bool, cl clock.Clock, interval time.Duration) *ProgressDisplay {
	if cl == nil {
		cl = clock.Real{}
	}
	if interval <= 0 {
		interval = 2 * time.Second
	}
	return &ProgressDisplay{w: w, terminal: terminal, clock: cl, interval: interval, done: map[int32]int64{}, total: map[int32]int64{}}
}

// ProgressDisplay implements Progress.
type ProgressDisplay struct {
	w        io.Writer
	terminal bool
	clock    clock.Clock
	interval time.Duration

	mu       sync.Mutex
	bar      *progressbar.ProgressBar
	done     map[int32]int64
	total    map[int32]int64
	all      int64
	start    time.Time
	lastLine time.Time
}

// Start is told the plan.
func (p *ProgressDisplay) Start(ranges []runtime.ReplayRange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start = p.clock.Now()
	p.lastLine = p.start
	for _, r := range ranges {
		p.total[r.Partition] = max(r.To-r.From, 0)
		p.all += max(r.To-r.From, 0)
	}
	if p.terminal {
		p.bar = progressbar.NewOptions64(p.all,
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription("replay"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("records"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
}

// Done records that partition has done records of its range.
func (p *ProgressDisplay) Done(partition int32, records int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done[partition] = records
	if p.bar != nil {
		p.bar.Describe("replay " + p.partitionsLocked())
		p.bar.Set64(p.sumLocked())
		return
	}
	if now := p.clock.Now(); now.Sub(p.lastLine) >= p.interval {
		p.lastLine = now
		p.lineLocked(now)
	}
}

// Finish prints the final line.
func (p *ProgressDisplay) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		p.bar.Finish()
	}
	p.lineLocked(p.clock.Now())
}

func (p *ProgressDisplay) sumLocked() int64 {
	var n int64
	for _, d := range p.done {
		n += d
	}
	return n
}

// partitionsLocked is "p0 120/300 p1 ...".
func (p *ProgressDisplay) partitionsLocked() string {
	parts := make([]int32, 0, len(p.total))
	for id := range p.total {
		parts = append(parts, id)
	}
	slices.Sort(parts)
	var b strings.Builder
	for i, id := range parts {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "p%d %d/%d", id, p.done[id], p.total[id])
	}
	return b.String()
}

func (p *ProgressDisplay) lineLocked(now time.Time) {
	n := p.sumLocked()
	el := now.Sub(p.start)
	rate := 0.0
	if el > 0 {
		rate = float64(n) / el.Seconds()
	}
	eta := "-"
	if rate > 0 && n < p.all {
		eta = time.Duration(float64(p.all-n) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "replay: %d/%d records, %.0f records/s, eta %s; %s\n", n, p.all, rate, eta, p.partitionsLocked())
}
