package operators

// Adaptive fps: the tick lowers its frame rate when the chain cannot keep
// up, and raises it again when it can.
//
// The runtime times each frame through the chain and reports it with
// Tick.ObserveFrameDuration. Over a sliding window of the last N frames
// (default 30, one second at 30 FPS) the controller takes the p95
// (nearest rank). When the window is full and p95 exceeds the lane's
// budget it steps down the ladder (30 → 20 → 15 by default); when p95 is
// below half the budget it steps up (15 → 20 → 30). The band between half
// the budget and the budget holds the rate, and the window is cleared
// after every change, so a change is judged on frames cut at the new rate
// and the rate cannot flap frame by frame.

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// fpsController holds the sliding window and the current rung of the
// ladder. observe runs on the runtime's goroutine; target is read by the
// tick's goroutine.
type fpsController struct {
	mu      sync.Mutex
	ladder  []int // descending
	rung    int
	budget  time.Duration // 0: never adapt
	enabled bool
	window  []time.Duration // ring
	n, pos  int
	scratch []time.Duration

	target  atomic.Int64 // ladder[rung]
	changes atomic.Int64
}

func newFPSController(ladder []int, fps int, budget time.Duration, enabled bool, window int) *fpsController {
	c := &fpsController{
		ladder:  ladder,
		rung:    slices.Index(ladder, fps),
		budget:  budget,
		enabled: enabled && budget > 0,
		window:  make([]time.Duration, window),
		scratch: make([]time.Duration, window),
	}
	c.target.Store(int64(fps))
	return c
}

// fps returns the rate new frames should be cut at.
func (c *fpsController) fps() int { return int(c.target.Load()) }

// observe records one frame's processing time and steps the rate when the
// full window's p95 leaves the band.
func (c *fpsController) observe(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.window[c.pos] = d
	c.pos = (c.pos + 1) % len(c.window)
	if c.n < len(c.window) {
		c.n++
	}
	if !c.enabled || c.n < len(c.window) {
		return
	}
	p := c.p95Locked()
	switch {
	case p > c.budget && c.rung < len(c.ladder)-1:
		c.rung++
	case p < c.budget/2 && c.rung > 0:
		c.rung--
	default:
		return
	}
	c.target.Store(int64(c.ladder[c.rung]))
	c.changes.Add(1)
	c.n, c.pos = 0, 0
}

// p95 returns the nearest-rank 95th percentile of the durations in the
// window, or 0 before the first observation.
func (c *fpsController) p95() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p95Locked()
}

func (c *fpsController) p95Locked() time.Duration {
	if c.n == 0 {
		return 0
	}
	s := c.scratch[:c.n]
	copy(s, c.window[:c.n]) // before the ring wraps the first n slots hold the samples; after, all do
	slices.Sort(s)
	rank := (95*c.n + 99) / 100 // ⌈0.95·n⌉
	return s[rank-1]
}

// enable turns adaptation on (a replayed region has ended), if the lane has
// a budget.
func (c *fpsController) enable() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.enabled = c.budget > 0
	c.n, c.pos = 0, 0
}

// set moves the controller to fps (a restored partition's rate), if it is
// on the ladder.
func (c *fpsController) set(fps int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(c.ladder, fps); i >= 0 {
		c.rung = i
		c.target.Store(int64(fps))
	}
}
