package operators

// The frame grid: exact, integer-nanosecond frame boundaries.
//
// At fps f, frame n covers [⌊n·10⁹/f⌋, ⌊(n+1)·10⁹/f⌋) nanoseconds since the
// Unix epoch. Boundaries are rational multiples of a second rounded down to
// the nanosecond, not multiples of time.Second/f: time.Second/30 truncates
// to 33,333,333 ns, so a grid of that period would drift 10 ns per second
// away from whole seconds (0.86 ms a day) and the 30, 20 and 15 FPS grids
// would share no boundaries. With the rational grid:
//
//   - every whole second is a boundary at every integer fps, so 30 frames
//     at 30 FPS are exactly one second (frames last 33,333,333 or
//     33,333,334 ns), 20 FPS frames are exactly 50 ms and 15 FPS frames
//     66,666,666 or 66,666,667 ns;
//   - two grids share a boundary every 1/gcd(a, b) seconds (30 and 20 FPS:
//     every 100 ms; 30 and 15: every 66.7 ms, each 15 FPS boundary; 20 and
//     15: every 200 ms), which is where a partition changes fps;
//   - Seq = n is the frame's index at its FPS, the same in every replay.
//
// All arithmetic stays in int64: event times are limited to
// [minEventTime, maxEventTime] (1900..2200), far inside the range where
// sec·f and sec·10⁹ fit.

import (
	"math"
	"time"
)

const nsPerSecond = int64(time.Second)

// The event times a frame can hold. Outside them (a zero time, a unit
// mistake) the record cannot be placed and goes to the DLQ.
var (
	minEventTime = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
	maxEventTime = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// maxFPS bounds configured rates; above it frames would be shorter than a
// millisecond, which no downstream budget can meet.
const maxFPS = 1000

// floorDivMod divides rounding toward minus infinity, so times before the
// epoch land in the right frame.
func floorDivMod(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// frameIndex returns the n with frameStart(n, fps) <= ns < frameStart(n+1, fps).
func frameIndex(ns int64, fps int) int64 {
	f := int64(fps)
	sec, rem := floorDivMod(ns, nsPerSecond)
	// The largest k in [0, f) with ⌊k·10⁹/f⌋ <= rem is the largest k with
	// k·10⁹ < (rem+1)·f.
	return sec*f + ((rem+1)*f-1)/nsPerSecond
}

// frameStart returns the first nanosecond of frame n at fps.
func frameStart(n int64, fps int) int64 {
	f := int64(fps)
	sec, k := floorDivMod(n, f)
	return sec*nsPerSecond + k*nsPerSecond/f
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// commonBoundary returns the first instant at or after ns that is a frame
// boundary at both a and b fps: the boundaries of the gcd(a, b) grid, since
// ⌊m·10⁹/g⌋ = ⌊(m·a/g)·10⁹/a⌋.
func commonBoundary(ns int64, a, b int) int64 {
	g := gcd(a, b)
	n := frameIndex(ns, g)
	if s := frameStart(n, g); s == ns {
		return s
	}
	return frameStart(n+1, g)
}

// gridSeg says that frames starting at or after from are cut at fps (until
// the next segment's from).
type gridSeg struct {
	from int64
	fps  int
}

// frameGrid is one partition's frame grid: the fps in force over event
// time. Every segment after the first starts on a boundary shared by its
// fps and the previous one, so no frame straddles two segments: a change of
// fps leaves no gap and no overlap.
type frameGrid struct {
	segs []gridSeg
}

func newFrameGrid(fps int) frameGrid {
	return frameGrid{segs: []gridSeg{{from: math.MinInt64, fps: fps}}}
}

// frameWindow is one frame on the grid.
type frameWindow struct {
	fps        int
	seq        int64
	start, end int64
}

// at returns the frame containing ns.
func (g *frameGrid) at(ns int64) frameWindow {
	i := len(g.segs) - 1
	for i > 0 && g.segs[i].from > ns {
		i--
	}
	fps := g.segs[i].fps
	n := frameIndex(ns, fps)
	return frameWindow{fps: fps, seq: n, start: frameStart(n, fps), end: frameStart(n+1, fps)}
}

// last returns the fps of the newest segment: the rate new frames will be
// cut at once the grid reaches it.
func (g *frameGrid) last() gridSeg { return g.segs[len(g.segs)-1] }

// retarget moves the grid to fps from the first shared boundary at or after
// horizon (the end of everything already opened or closed). A change that
// has not taken effect yet (its segment starts at or after horizon) is
// replaced rather than stacked. It reports whether the grid changed.
func (g *frameGrid) retarget(fps int, horizon int64) bool {
	last := g.last()
	if last.fps == fps {
		return false
	}
	if len(g.segs) > 1 && last.from >= horizon {
		g.segs = g.segs[:len(g.segs)-1]
		if g.last().fps == fps {
			return true
		}
	}
	from := commonBoundary(horizon, g.last().fps, fps)
	g.segs = append(g.segs, gridSeg{from: from, fps: fps})
	return true
}

// prune forgets segments that end at or before closed: no frame can be
// opened there any more.
func (g *frameGrid) prune(closed int64) {
	for len(g.segs) > 1 && g.segs[1].from <= closed {
		g.segs = g.segs[1:]
	}
}

// count returns the number of frames in [from, to); both are boundaries.
func (g *frameGrid) count(from, to int64) int64 {
	var n int64
	for i, s := range g.segs {
		lo, hi := max(from, s.from), to
		if i+1 < len(g.segs) {
			hi = min(hi, g.segs[i+1].from)
		}
		if lo < hi {
			n += frameIndex(hi, s.fps) - frameIndex(lo, s.fps)
		}
	}
	return n
}
