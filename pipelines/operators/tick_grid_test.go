package operators

import (
	"math/rand/v2"
	"testing"
	"time"
)

// gridSecond is a whole second well inside the supported range.
var gridSecond = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano()

func TestFrameBoundariesExact(t *testing.T) {
	// Offsets into a whole second, and the frame they fall in, written out
	// by hand: ⌊k·10⁹/fps⌋.
	tests := []struct {
		fps        int
		off        int64
		k          int64
		start, end int64
	}{
		{30, 0, 0, 0, 33_333_333},
		{30, 33_333_332, 0, 0, 33_333_333},
		{30, 33_333_333, 1, 33_333_333, 66_666_666},
		{30, 66_666_666, 2, 66_666_666, 100_000_000},
		{30, 99_999_999, 2, 66_666_666, 100_000_000},
		{30, 100_000_000, 3, 100_000_000, 133_333_333},
		{30, 999_999_999, 29, 966_666_666, 1_000_000_000},
		{20, 0, 0, 0, 50_000_000},
		{20, 49_999_999, 0, 0, 50_000_000},
		{20, 50_000_000, 1, 50_000_000, 100_000_000},
		{20, 950_000_000, 19, 950_000_000, 1_000_000_000},
		{15, 66_666_665, 0, 0, 66_666_666},
		{15, 66_666_666, 1, 66_666_666, 133_333_333},
		{15, 133_333_333, 2, 133_333_333, 200_000_000},
		{15, 999_999_999, 14, 933_333_333, 1_000_000_000},
	}
	sec := gridSecond / nsPerSecond
	for _, tc := range tests {
		g := newFrameGrid(tc.fps)
		w := g.at(gridSecond + tc.off)
		want := frameWindow{fps: tc.fps, seq: sec*int64(tc.fps) + tc.k, start: gridSecond + tc.start, end: gridSecond + tc.end}
		if w != want {
			t.Errorf("fps %d offset %d: frame %+v, want %+v", tc.fps, tc.off, w, want)
		}
	}
}

func TestFrameGridTilesEverySecondExactly(t *testing.T) {
	for _, fps := range []int{30, 20, 15} {
		short, long := nsPerSecond/int64(fps), (nsPerSecond+int64(fps)-1)/int64(fps)
		n0 := frameIndex(gridSecond, fps)
		if frameStart(n0, fps) != gridSecond {
			t.Fatalf("fps %d: a whole second is not a frame boundary", fps)
		}
		prev := gridSecond
		for k := int64(1); k <= int64(fps); k++ {
			s := frameStart(n0+k, fps)
			if d := s - prev; d != short && d != long {
				t.Fatalf("fps %d frame %d lasts %d ns, want %d or %d", fps, k-1, d, short, long)
			}
			prev = s
		}
		if prev != gridSecond+nsPerSecond {
			t.Fatalf("fps %d: %d frames end at %d, want exactly one second later", fps, fps, prev-gridSecond)
		}
	}
}

func TestFrameIndexSeeded(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	lo, hi := minEventTime.UnixNano(), maxEventTime.UnixNano()
	for i := 0; i < 20000; i++ {
		ns := lo + int64(rng.Uint64N(uint64(hi)-uint64(lo))) // the span overflows int64
		fps := []int{1, 7, 15, 20, 30, 60, 1000}[rng.IntN(7)]
		n := frameIndex(ns, fps)
		s, e := frameStart(n, fps), frameStart(n+1, fps)
		if s > ns || ns >= e {
			t.Fatalf("fps %d ns %d: frame %d is [%d, %d)", fps, ns, n, s, e)
		}
		if frameIndex(s, fps) != n || frameIndex(e, fps) != n+1 {
			t.Fatalf("fps %d: boundaries of frame %d do not index back to it", fps, n)
		}
	}
}

func TestCommonBoundary(t *testing.T) {
	tests := []struct {
		off  int64 // from gridSecond
		a, b int
		want int64
	}{
		{0, 30, 20, 0},
		{1, 30, 20, 100_000_000},
		{133_333_333, 30, 20, 200_000_000},
		{33_333_333, 30, 15, 66_666_666},
		{66_666_666, 30, 15, 66_666_666},
		{50_000_000, 20, 15, 200_000_000},
		{200_000_001, 15, 20, 400_000_000},
		{900_000_001, 20, 15, 1_000_000_000},
	}
	for _, tc := range tests {
		got := commonBoundary(gridSecond+tc.off, tc.a, tc.b) - gridSecond
		if got != tc.want {
			t.Errorf("commonBoundary(+%d, %d, %d) = +%d, want +%d", tc.off, tc.a, tc.b, got, tc.want)
		}
		for _, f := range []int{tc.a, tc.b} {
			if frameStart(frameIndex(gridSecond+got, f), f) != gridSecond+got {
				t.Errorf("+%d is not a boundary at %d fps", got, f)
			}
		}
	}
}

func TestFrameGridRetarget(t *testing.T) {
	g := newFrameGrid(30)
	// Everything up to +40 ms is opened: 30 → 20 waits for +100 ms.
	if !g.retarget(20, gridSecond+40_000_000) {
		t.Fatal("retarget reported no change")
	}
	if w := g.at(gridSecond + 99_999_999); w.fps != 30 || w.end != gridSecond+100_000_000 {
		t.Fatalf("frame before the switch %+v", w)
	}
	if w := g.at(gridSecond + 100_000_000); w.fps != 20 || w.start != gridSecond+100_000_000 || w.end != gridSecond+150_000_000 {
		t.Fatalf("first frame after the switch %+v", w)
	}
	// Not in use yet (horizon still +40 ms): 20 → 15 replaces the pending
	// change; 30 → 15 share a boundary at +66.7 ms.
	g.retarget(15, gridSecond+40_000_000)
	if len(g.segs) != 2 || g.segs[1] != (gridSeg{from: gridSecond + 66_666_666, fps: 15}) {
		t.Fatalf("segments %+v", g.segs)
	}
	// Back to 30 before it took effect: the pending change is dropped.
	g.retarget(30, gridSecond+40_000_000)
	if len(g.segs) != 1 || g.last().fps != 30 {
		t.Fatalf("segments %+v, want the change cancelled", g.segs)
	}
	if g.retarget(30, gridSecond) {
		t.Fatal("retarget to the current rate reported a change")
	}
	// In use (horizon past the switch): a further change stacks.
	g.retarget(20, gridSecond)
	g.retarget(15, gridSecond+300_000_000)
	if len(g.segs) != 3 || g.segs[1].from != gridSecond || g.segs[2] != (gridSeg{from: gridSecond + 400_000_000, fps: 15}) {
		t.Fatalf("segments %+v", g.segs)
	}
	// 30 fps for [-1 s, 0), 20 for [0, 400 ms), 15 after.
	if n := g.count(gridSecond-nsPerSecond, gridSecond+nsPerSecond); n != 30+8+9 {
		t.Fatalf("count over two seconds = %d, want 30+8+9", n)
	}
	g.prune(gridSecond + 400_000_000)
	if len(g.segs) != 1 || g.segs[0].fps != 15 {
		t.Fatalf("after prune %+v", g.segs)
	}
	// An instant before the surviving segment still maps onto it: such
	// an instant is before closed, so it is only ever asked about as late.
	if w := g.at(gridSecond - nsPerSecond); w.fps != 15 {
		t.Fatalf("instant before the only segment: %+v", w)
	}
}
