package operators_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/reugn/go-streams/extension"
	"github.com/reugn/go-streams/flow"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// tkT0 is a whole second: frame boundaries of every rate fall on it.
var tkT0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// tkAt is tkT0 plus d.
func tkAt(d time.Duration) time.Time { return tkT0.Add(d) }

// tkRig runs a tick inside a synctest bubble on a fake clock and collects
// both outlets from a goroutine, so a test sends, moves the clock, calls
// settle, and inspects what came out.
type tkRig struct {
	t     *testing.T
	tick  *operators.Tick
	clk   *clock.Fake
	mu    sync.Mutex
	out   []*stages.Frame
	late  []*stages.Record
	done  chan struct{}
	nextO int64
}

func newTkRig(t *testing.T, opts ...operators.TickOption) *tkRig {
	t.Helper()
	clk := clock.NewFake(tkT0)
	tk, err := operators.NewTick(schemas.LaneCandidate, append([]operators.TickOption{operators.TickClock(clk)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	r := &tkRig{t: t, tick: tk, clk: clk, done: make(chan struct{})}
	go r.collect()
	return r
}

func (r *tkRig) collect() {
	defer close(r.done)
	out, late := r.tick.Out(), r.tick.Late().Out()
	for out != nil || late != nil {
		select {
		case e, ok := <-out:
			if !ok {
				out = nil
				continue
			}
			r.mu.Lock()
			r.out = append(r.out, e.(*stages.Frame))
			r.mu.Unlock()
		case e, ok := <-late:
			if !ok {
				late = nil
				continue
			}
			r.mu.Lock()
			r.late = append(r.late, e.(*stages.Record))
			r.mu.Unlock()
		}
	}
}

// rec makes a record of partition p with event time at, numbering offsets
// per rig.
func (r *tkRig) rec(p int32, at time.Time) *stages.Record {
	r.nextO++
	return &stages.Record{Partition: p, Offset: r.nextO, Msg: &schemas.MatrizMessage{
		MsgID: fmt.Sprintf("m%d", r.nextO), TS: at, Lane: schemas.LaneCandidate, Topic: "memory",
	}}
}

// send hands e to the tick and waits until it is handled, so a clock move
// that follows cannot overtake it.
func (r *tkRig) send(e any) {
	r.tick.In() <- e
	synctest.Wait()
}

// settle waits until the tick and the collector are idle.
func (r *tkRig) settle() { synctest.Wait() }

// take returns and clears what the outlets delivered so far.
func (r *tkRig) take() ([]*stages.Frame, []*stages.Record) {
	r.settle()
	r.mu.Lock()
	defer r.mu.Unlock()
	f, l := r.out, r.late
	r.out, r.late = nil, nil
	return f, l
}

// close closes the inlet and waits for both outlets to close.
func (r *tkRig) close() {
	close(r.tick.In())
	<-r.done
}

// frameSpan renders a frame as "p<partition>@<fps> [start,end) n=<records>"
// with start and end in ms (µs precision) from tkT0.
func frameSpan(f *stages.Frame) string {
	ms := func(t time.Time) string { return fmt.Sprintf("%.3f", float64(t.Sub(tkT0))/1e6) }
	return fmt.Sprintf("p%d@%d [%s,%s) n=%d", f.Partition, f.FPS, ms(f.Start), ms(f.End), len(f.Records))
}

func spans(fs []*stages.Frame) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = frameSpan(f)
	}
	return out
}

// TestTickFrameBoundariesExact places one message per case in replay mode
// and checks the frame it lands in, to the nanosecond, at 30, 20 and 15 FPS.
func TestTickFrameBoundariesExact(t *testing.T) {
	tests := []struct {
		fps        int
		at         time.Duration
		start, end time.Duration
		k          int64 // frame index within the second
	}{
		{30, 0, 0, 33_333_333, 0},
		{30, 33_333_332, 0, 33_333_333, 0},
		{30, 33_333_333, 33_333_333, 66_666_666, 1},
		{30, 40 * time.Millisecond, 33_333_333, 66_666_666, 1},
		{30, 999_999_999, 966_666_666, time.Second, 29},
		{20, 49_999_999, 0, 50 * time.Millisecond, 0},
		{20, 50 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 1},
		{20, 999 * time.Millisecond, 950 * time.Millisecond, time.Second, 19},
		{15, 66_666_665, 0, 66_666_666, 0},
		{15, 66_666_666, 66_666_666, 133_333_333, 1},
		{15, 999_999_999, 933_333_333, time.Second, 14},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%dfps+%d", tc.fps, tc.at), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickFPS(tc.fps))
				r.send(operators.TickInput{Record: r.rec(0, tkAt(tc.at))})
				r.close()
				fs, _ := r.take()
				if len(fs) != 1 {
					t.Fatalf("frames %v, want one", spans(fs))
				}
				f := fs[0]
				wantSeq := tkT0.Unix()*int64(tc.fps) + tc.k
				if !f.Start.Equal(tkAt(tc.start)) || !f.End.Equal(tkAt(tc.end)) || f.Seq != wantSeq || f.FPS != tc.fps {
					t.Fatalf("frame %s seq %d, want [%v,%v) seq %d", frameSpan(f), f.Seq, tc.start, tc.end, wantSeq)
				}
			})
		})
	}
}

// TestTickSecondOfFrames feeds one message per millisecond for a second and
// checks that exactly fps contiguous frames tile it.
func TestTickSecondOfFrames(t *testing.T) {
	for _, fps := range []int{30, 20, 15} {
		t.Run(fmt.Sprint(fps), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickFPS(fps))
				for ms := 0; ms < 1000; ms++ {
					r.send(operators.TickInput{Record: r.rec(0, tkAt(time.Duration(ms)*time.Millisecond))})
				}
				r.close()
				fs, _ := r.take()
				if len(fs) != fps {
					t.Fatalf("%d frames, want %d", len(fs), fps)
				}
				total := 0
				for i, f := range fs {
					if i > 0 && !f.Start.Equal(fs[i-1].End) {
						t.Fatalf("gap or overlap between %s and %s", frameSpan(fs[i-1]), frameSpan(f))
					}
					total += len(f.Records)
				}
				if !fs[0].Start.Equal(tkT0) || !fs[fps-1].End.Equal(tkAt(time.Second)) || total != 1000 {
					t.Fatalf("frames cover [%v, %v) with %d records", fs[0].Start, fs[fps-1].End, total)
				}
			})
		})
	}
}

func TestTickLiveClosesOnClockPlusGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t) // live, 30 FPS, 5 ms grace
		r.clk.Set(tkAt(2 * time.Millisecond))
		r.send(operators.TickInput{Record: r.rec(0, tkAt(1*time.Millisecond))})
		r.send(operators.TickInput{Record: r.rec(0, tkAt(10*time.Millisecond))})

		r.clk.Set(tkAt(33_333_333 + 4*time.Millisecond)) // end + 4 ms: still open
		if fs, _ := r.take(); len(fs) != 0 {
			t.Fatalf("frame closed before end + grace: %v", spans(fs))
		}
		r.clk.Set(tkAt(33_333_333 + 5*time.Millisecond)) // end + grace: closes
		fs, _ := r.take()
		if got, want := spans(fs), []string{"p0@30 [0.000,33.333) n=2"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("frames %v, want %v", got, want)
		}
		if fs[0].Lane != schemas.LaneCandidate || fs[0].Records[0].Offset != 1 || fs[0].Records[1].Offset != 2 {
			t.Fatalf("frame %+v", fs[0])
		}

		// No messages: empty frames still tick with the clock.
		r.clk.Set(tkAt(105 * time.Millisecond))
		fs, _ = r.take()
		want := []string{"p0@30 [33.333,66.667) n=0", "p0@30 [66.667,100.000) n=0"}
		if got := spans(fs); !reflect.DeepEqual(got, want) {
			t.Fatalf("frames %v, want %v", got, want)
		}
		st := r.tick.Stats()
		if st.Frames != 3 || st.EmptyFrames != 2 || st.Records != 2 || st.Partitions != 1 || st.FPS != 30 {
			t.Fatalf("Stats = %+v", st)
		}
		r.close()
	})
}

func TestTickLateRecordsReachTheSideOutput(t *testing.T) {
	for _, mode := range []operators.Mode{operators.Live, operators.Replay} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newTkRig(t, operators.TickMode(mode))
				r.send(operators.TickInput{Record: r.rec(0, tkAt(1*time.Millisecond))})
				// Close frame 0: by the clock in live mode, by a message
				// past end + grace (the watermark) in replay.
				r.clk.Set(tkAt(40 * time.Millisecond))
				r.send(operators.TickInput{Record: r.rec(0, tkAt(39*time.Millisecond))})
				if fs, _ := r.take(); len(fs) != 1 {
					t.Fatalf("frame 0 not closed: %v", spans(fs))
				}
				// A message for frame 0 now is late.
				in := r.rec(0, tkAt(20*time.Millisecond))
				r.send(operators.TickInput{Record: in})
				fs, late := r.take()
				if len(fs) != 0 || len(late) != 1 {
					t.Fatalf("frames %v, late %d", spans(fs), len(late))
				}
				if !late[0].Late || late[0].Offset != in.Offset || late[0].Msg != in.Msg || late[0].Failure != nil {
					t.Fatalf("late record %+v", late[0])
				}
				if in.Late {
					t.Fatal("the caller's record was modified")
				}
				if st := r.tick.Stats(); st.Late != 1 || st.Records != 2 {
					t.Fatalf("Stats = %+v", st)
				}
				r.close()
				fs, _ = r.take()
				if got := spans(fs); !reflect.DeepEqual(got, []string{"p0@30 [33.333,66.667) n=1"}) {
					t.Fatalf("flushed %v", got)
				}
			})
		})
	}
}

// tkArrival is one message of the replay-equals-live scenario: it arrives
// at arrive and carries event time ts <= arrive.
type tkArrival struct {
	arrive time.Time
	rec    *stages.Record
}

// tkScenario makes seeded traffic over three partitions: arrivals 1–3 ms
// apart, two long pauses (one past the idle bound), and event times up to
// 4 ms before arrival, so messages are out of order but never more than
// the 5 ms grace late.
func tkScenario(seed uint64) []tkArrival {
	rng := rand.New(rand.NewPCG(seed, 99))
	var out []tkArrival
	at := tkAt(3 * time.Millisecond)
	for i := 0; i < 1500; i++ {
		at = at.Add(time.Duration(1+rng.IntN(3)) * time.Millisecond)
		if i == 500 {
			at = at.Add(400 * time.Millisecond) // a dozen empty frames
		}
		if i == 1000 {
			at = at.Add(3 * time.Second) // past the idle bound of 20 frames
		}
		ts := at.Add(-time.Duration(rng.IntN(4001)) * time.Microsecond)
		p := int32(rng.IntN(3))
		out = append(out, tkArrival{arrive: at, rec: &stages.Record{
			Partition: p, Offset: int64(i),
			Msg: &schemas.MatrizMessage{MsgID: fmt.Sprintf("s%d-%d", seed, i), TS: ts, Lane: schemas.LaneCandidate},
		}})
	}
	return out
}

// trimEmptyTail drops each partition's empty frames after its last
// non-empty one.
func trimEmptyTail(fs []*stages.Frame) []*stages.Frame {
	lastFull := map[int32]int{}
	for i, f := range fs {
		if len(f.Records) > 0 {
			lastFull[f.Partition] = i
		}
	}
	var out []*stages.Frame
	for i, f := range fs {
		if i <= lastFull[f.Partition] {
			out = append(out, f)
		}
	}
	return out
}

func byPartition(fs []*stages.Frame) map[int32][]*stages.Frame {
	m := map[int32][]*stages.Frame{}
	for _, f := range fs {
		m[f.Partition] = append(m[f.Partition], f)
	}
	return m
}

func TestTickReplayGivesTheLiveFrames(t *testing.T) {
	for seed := uint64(1); seed <= 3; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			sc := tkScenario(seed)
			run := func(mode operators.Mode) ([]*stages.Frame, operators.TickStats) {
				var fs []*stages.Frame
				var st operators.TickStats
				synctest.Test(t, func(t *testing.T) {
					r := newTkRig(t, operators.TickMode(mode), operators.TickIdleFrames(20))
					for _, a := range sc {
						r.clk.Set(a.arrive) // live mode closes by this; replay never reads it
						r.send(operators.TickInput{Record: a.rec})
					}
					r.close()
					var late []*stages.Record
					fs, late = r.take()
					if len(late) != 0 {
						t.Fatalf("%v: %d late records in a scenario with none", mode, len(late))
					}
					st = r.tick.Stats()
				})
				return fs, st
			}
			live, liveStats := run(operators.Live)
			replay, replayStats := run(operators.Replay)
			// Live keeps ticking after a partition's last message until the
			// clock stops; replay ends with the last message. The frames
			// from the first message to the last must be equal.
			// Through says when a frame closed, which live mode takes from
			// the clock: only the frames themselves must agree.
			for _, f := range append(live, replay...) {
				f.Through = 0
			}
			lp, rp := byPartition(trimEmptyTail(live)), byPartition(trimEmptyTail(replay))
			if len(lp) != 3 {
				t.Fatalf("live frames for %d partitions", len(lp))
			}
			for p := range lp {
				if !reflect.DeepEqual(lp[p], rp[p]) {
					t.Fatalf("partition %d: live and replay frames differ:\nlive   %v\nreplay %v", p, spans(lp[p]), spans(rp[p]))
				}
				for i, f := range lp[p][1:] {
					if f.Start.Before(lp[p][i].End) {
						t.Fatalf("partition %d: frames %s and %s overlap or are out of order", p, frameSpan(lp[p][i]), frameSpan(f))
					}
				}
			}
			if liveStats.Records != 1500 || liveStats.EmptyFrames == 0 || liveStats.IdleSkipped == 0 {
				t.Fatalf("scenario did not exercise empty and idle frames: %+v", liveStats)
			}
			if liveStats.Records != replayStats.Records || liveStats.Late+replayStats.Late != 0 {
				t.Fatalf("stats differ: live %+v replay %+v", liveStats, replayStats)
			}
		})
	}
}

// TestTickAdaptiveFPS drives the tick with a synthetic slow stage: every
// frame's chain time is fed back, slow (40 ms, over candidate's 35 ms
// budget) until the rate bottoms out, then fast (5 ms, under half of it).
func TestTickAdaptiveFPS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickIdleFrames(0))
		r.send(operators.TickAssign{Partition: 0})
		var all []*stages.Frame
		slow := true
		var rates []int
		for step := 0; step < 2000 && len(rates) < 5; step++ {
			r.clk.Set(r.clk.Now().Add(10 * time.Millisecond))
			fs, _ := r.take()
			for _, f := range fs {
				all = append(all, f)
				if len(rates) == 0 || rates[len(rates)-1] != f.FPS {
					rates = append(rates, f.FPS)
				}
				d := 5 * time.Millisecond
				if slow {
					d = 40 * time.Millisecond
				}
				r.tick.ObserveFrameDuration(d)
			}
			if r.tick.FPS() == 15 {
				slow = false
			}
		}
		if want := []int{30, 20, 15, 20, 30}; !reflect.DeepEqual(rates, want) {
			t.Fatalf("frame rates went %v, want %v", rates, want)
		}
		if st := r.tick.Stats(); st.FPSChanges != 4 {
			t.Fatalf("FPSChanges = %d", st.FPSChanges)
		}
		// Frames stay contiguous across every change, and each change
		// happens on a boundary both rates share.
		for i := 1; i < len(all); i++ {
			prev, f := all[i-1], all[i]
			if !f.Start.Equal(prev.End) {
				t.Fatalf("gap or overlap: %s then %s", frameSpan(prev), frameSpan(f))
			}
			if f.FPS != prev.FPS {
				step := 100 * time.Millisecond // 30 <-> 20
				if f.FPS+prev.FPS == 35 {
					step = 200 * time.Millisecond // 20 <-> 15
				}
				if f.Start.Sub(tkT0)%step != 0 {
					t.Fatalf("rate %d -> %d at %s: not on a shared %v boundary", prev.FPS, f.FPS, frameSpan(f), step)
				}
			}
		}
		r.close()
	})
}

func TestTickAdaptiveWindow(t *testing.T) {
	tests := []struct {
		name    string
		lane    schemas.Lane
		opts    []operators.TickOption
		samples []time.Duration
		wantFPS int
		wantP95 time.Duration
	}{
		{name: "partial window holds", samples: repeat(29, 100*time.Millisecond), wantFPS: 30, wantP95: 100 * time.Millisecond},
		{name: "one outlier of 30 is under p95", samples: append(repeat(29, time.Millisecond), time.Second), wantFPS: 30, wantP95: time.Millisecond},
		{name: "two outliers of 30 are p95", samples: append(repeat(28, time.Millisecond), time.Second, time.Second), wantFPS: 20},
		{name: "in the band holds", samples: repeat(30, 20*time.Millisecond), wantFPS: 30, wantP95: 20 * time.Millisecond},
		{name: "prod budget 50 ms holds at 40", lane: schemas.LaneProd, samples: repeat(30, 40*time.Millisecond), wantFPS: 30, wantP95: 40 * time.Millisecond},
		{name: "prod budget exceeded", lane: schemas.LaneProd, samples: repeat(30, 51*time.Millisecond), wantFPS: 20},
		{name: "configured experimental budget", lane: schemas.LaneExperimental, opts: []operators.TickOption{operators.TickBudget(schemas.LaneExperimental, 100*time.Millisecond)}, samples: repeat(30, 60*time.Millisecond), wantFPS: 30, wantP95: 60 * time.Millisecond},
		{name: "zero budget never adapts", opts: []operators.TickOption{operators.TickBudget(schemas.LaneCandidate, 0)}, samples: repeat(60, time.Second), wantFPS: 30, wantP95: time.Second},
		{name: "adaptation off", opts: []operators.TickOption{operators.TickAdaptive(false)}, samples: repeat(60, time.Second), wantFPS: 30, wantP95: time.Second},
		{name: "off in replay by default", opts: []operators.TickOption{operators.TickMode(operators.Replay)}, samples: repeat(60, time.Second), wantFPS: 30, wantP95: time.Second},
		{name: "on in replay when asked", opts: []operators.TickOption{operators.TickMode(operators.Replay), operators.TickAdaptive(true)}, samples: repeat(30, time.Second), wantFPS: 20},
		{name: "small window", opts: []operators.TickOption{operators.TickP95Window(5)}, samples: repeat(5, time.Second), wantFPS: 20},
		{name: "custom ladder bottom holds", opts: []operators.TickOption{operators.TickLadder(60, 30), operators.TickFPS(30)}, samples: repeat(60, time.Second), wantFPS: 30, wantP95: time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lane := tc.lane
				if lane == "" {
					lane = schemas.LaneCandidate
				}
				tk, err := operators.NewTick(lane, append([]operators.TickOption{operators.TickClock(clock.NewFake(tkT0))}, tc.opts...)...)
				if err != nil {
					t.Fatal(err)
				}
				if tk.P95() != 0 {
					t.Fatalf("P95 before any sample = %v", tk.P95())
				}
				for _, d := range tc.samples {
					tk.ObserveFrameDuration(d)
				}
				if tk.FPS() != tc.wantFPS {
					t.Fatalf("FPS = %d, want %d (p95 %v)", tk.FPS(), tc.wantFPS, tk.P95())
				}
				if tc.wantP95 != 0 && tk.P95() != tc.wantP95 {
					t.Fatalf("P95 = %v, want %v", tk.P95(), tc.wantP95)
				}
				close(tk.In())
				for range tk.Out() {
				}
			})
		})
	}
}

func repeat(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d
	}
	return out
}

func TestTickAssignAndRevoke(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t)
		r.clk.Set(tkAt(50 * time.Millisecond))
		r.send(operators.TickAssign{Partition: 5})
		r.send(operators.TickAssign{Partition: 5}) // twice is once
		// Assigned at 50 ms with 5 ms grace: ticks from the frame at 45 ms.
		r.send(operators.TickInput{Record: r.rec(5, tkAt(70*time.Millisecond))})
		r.clk.Set(tkAt(105 * time.Millisecond))
		fs, _ := r.take()
		if got, want := spans(fs), []string{"p5@30 [33.333,66.667) n=0", "p5@30 [66.667,100.000) n=1"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("frames %v, want %v", got, want)
		}
		// Revoke flushes the open frame at once and stops the ticking.
		r.send(operators.TickInput{Record: r.rec(5, tkAt(104*time.Millisecond))})
		r.send(operators.TickRevoke{Partition: 5})
		r.send(operators.TickRevoke{Partition: 9}) // unknown: nothing to do
		fs, _ = r.take()
		if got, want := spans(fs), []string{"p5@30 [100.000,133.333) n=1"}; !reflect.DeepEqual(got, want) {
			t.Fatalf("revoke flushed %v, want %v", got, want)
		}
		r.clk.Set(tkAt(time.Second))
		if fs, _ := r.take(); len(fs) != 0 || r.tick.Stats().Partitions != 0 {
			t.Fatalf("revoked partition still ticks: %v", spans(fs))
		}
		r.close()
	})
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay))
		r.send(operators.TickAssign{Partition: 1})
		r.close()
		if fs, _ := r.take(); len(fs) != 0 || r.tick.Stats().Partitions != 0 {
			t.Fatalf("replay ticked an assigned partition: %v", spans(fs))
		}
	})
}

func TestTickIdlePartitionStopsTicking(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickFPS(20), operators.TickIdleFrames(3))
		r.send(operators.TickInput{Record: r.rec(0, tkAt(10*time.Millisecond))})
		r.clk.Set(tkAt(time.Second))
		fs, _ := r.take()
		want := []string{"p0@20 [0.000,50.000) n=1", "p0@20 [50.000,100.000) n=0", "p0@20 [100.000,150.000) n=0", "p0@20 [150.000,200.000) n=0"}
		if got := spans(fs); !reflect.DeepEqual(got, want) {
			t.Fatalf("frames %v, want %v", got, want)
		}
		// Closed up to 995 ms: [200, 950) were skipped, 15 frames.
		if st := r.tick.Stats(); st.IdleSkipped != 15 {
			t.Fatalf("IdleSkipped = %d", st.IdleSkipped)
		}
		r.send(operators.TickInput{Record: r.rec(0, tkAt(1010*time.Millisecond))})
		r.clk.Set(tkAt(1055 * time.Millisecond))
		fs, _ = r.take()
		// The frame [950, 1000) was skipped as idle too; the message's frame
		// is emitted.
		if got := spans(fs); !reflect.DeepEqual(got, []string{"p0@20 [1000.000,1050.000) n=1"}) {
			t.Fatalf("after idling %v", got)
		}
		if st := r.tick.Stats(); st.IdleSkipped != 16 || st.EmptyFrames != 3 {
			t.Fatalf("Stats = %+v, want 16 skipped and 3 empty", st)
		}
		r.close()
	})
}

func TestTickRejectsWhatItCannotPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay))
		r.send(operators.TickInput{})
		r.send("not an input")
		r.send(operators.TickInput{Record: &stages.Record{Partition: 2, Offset: 7}})
		zero := r.rec(2, time.Time{})
		r.send(operators.TickInput{Record: zero})
		misScaled := r.rec(2, time.Unix(tkT0.UnixMilli(), 0)) // milliseconds read as seconds
		r.send(operators.TickInput{Record: misScaled})
		r.close()
		fs, late := r.take()
		if len(fs) != 0 || len(late) != 3 {
			t.Fatalf("frames %v late %d", spans(fs), len(late))
		}
		wantReasons := []string{"offset 7 has no message", "event time 0001-01-01T00:00:00Z, outside 1900..2200", "outside 1900..2200: a frame cannot hold it"}
		for i, l := range late {
			if l.Failure == nil || l.Failure.Stage != "tick" || !strings.Contains(l.Failure.Reason, wantReasons[i]) || l.Late {
				t.Fatalf("late[%d] = %+v, want a tick failure %q", i, l.Failure, wantReasons[i])
			}
		}
		if st := r.tick.Stats(); st.Invalid != 5 {
			t.Fatalf("Invalid = %d, want 5", st.Invalid)
		}
	})
}

func TestTickStampsFlagsAtEmission(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		flags := stages.Flags{}
		r := newTkRig(t, operators.TickFlags(func() stages.Flags { mu.Lock(); defer mu.Unlock(); return flags }))
		r.send(operators.TickInput{Record: r.rec(0, tkAt(time.Millisecond))})
		r.clk.Set(tkAt(40 * time.Millisecond))
		r.settle()
		mu.Lock()
		flags = stages.Flags{Dispatch: true}
		mu.Unlock()
		r.clk.Set(tkAt(75 * time.Millisecond))
		fs, _ := r.take()
		if len(fs) != 2 || fs[0].Flags.Dispatch || !fs[1].Flags.Dispatch {
			t.Fatalf("flags per frame: %+v", fs)
		}
		r.close()
	})
}

func TestTickOutOfOrderWithinGrace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickGrace(10*time.Millisecond))
		for _, ms := range []int{5, 40, 70, 36, 30, 2} { // 30 and 2 arrive after 40 and 70
			r.send(operators.TickInput{Record: r.rec(0, tkAt(time.Duration(ms)*time.Millisecond))})
		}
		r.close()
		fs, late := r.take()
		// The 70 ms message moves the watermark to 60 ms and closes frame 0
		// [0, 33.3): 36 ms still fits frame 1, 30 and 2 ms are late.
		want := []string{"p0@30 [0.000,33.333) n=1", "p0@30 [33.333,66.667) n=2", "p0@30 [66.667,100.000) n=1"}
		if got := spans(fs); !reflect.DeepEqual(got, want) {
			t.Fatalf("frames %v, want %v", got, want)
		}
		if len(late) != 2 || !late[0].Msg.TS.Equal(tkAt(30*time.Millisecond)) || !late[1].Msg.TS.Equal(tkAt(2*time.Millisecond)) {
			t.Fatalf("late %v", late)
		}
		// Out of order within the grace: 40 then 36, same frame, arrival order.
		if !fs[1].Records[0].Msg.TS.Equal(tkAt(40*time.Millisecond)) || !fs[1].Records[1].Msg.TS.Equal(tkAt(36*time.Millisecond)) {
			t.Fatalf("records of frame 1 out of arrival order")
		}
	})
}

func TestTickInsertsFramesOutOfOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Live, messages far ahead of the clock open frames out of order.
		r := newTkRig(t, operators.TickIdleFrames(0))
		r.send(operators.TickInput{Record: r.rec(0, tkAt(1*time.Millisecond))})
		r.send(operators.TickInput{Record: r.rec(0, tkAt(90*time.Millisecond))})
		r.send(operators.TickInput{Record: r.rec(0, tkAt(50*time.Millisecond))})
		r.send(operators.TickInput{Record: r.rec(0, tkAt(91*time.Millisecond))})
		r.clk.Set(tkAt(105 * time.Millisecond))
		fs, _ := r.take()
		want := []string{"p0@30 [0.000,33.333) n=1", "p0@30 [33.333,66.667) n=1", "p0@30 [66.667,100.000) n=2"}
		if got := spans(fs); !reflect.DeepEqual(got, want) {
			t.Fatalf("frames %v, want %v", got, want)
		}
		r.close()
	})
}

func TestTickIsAGoStreamsFlow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tk, err := operators.NewTick(schemas.LaneProd, operators.TickMode(operators.Replay))
		if err != nil {
			t.Fatal(err)
		}
		if tk.Mode() != operators.Replay {
			t.Fatalf("Mode = %v", tk.Mode())
		}
		src := make(chan any)
		sinkC := make(chan any, 16)
		go func() {
			for i := 0; i < 3; i++ {
				src <- operators.TickInput{Record: &stages.Record{Offset: int64(i), Msg: &schemas.MatrizMessage{TS: tkAt(time.Duration(i) * 40 * time.Millisecond)}}}
			}
			close(src)
		}()
		go extension.NewChanSource(src).Via(tk).Via(flow.NewPassThrough()).To(extension.NewChanSink(sinkC))
		var got []string
		for e := range sinkC {
			got = append(got, frameSpan(e.(*stages.Frame)))
		}
		want := []string{"p0@30 [0.000,33.333) n=1", "p0@30 [33.333,66.667) n=1", "p0@30 [66.667,100.000) n=1"}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("frames through the flow %v, want %v", got, want)
		}
		for range tk.Late().Out() {
		}

		// To: the tick straight into a sink, blocking until it is done.
		tk2, err := operators.NewTick(schemas.LaneProd, operators.TickMode(operators.Replay))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			tk2.In() <- operators.TickInput{Record: &stages.Record{Partition: 4, Msg: &schemas.MatrizMessage{TS: tkAt(time.Millisecond)}}}
			close(tk2.In())
		}()
		sink2 := make(chan any, 4)
		tk2.To(extension.NewChanSink(sink2))
		if got := len(sink2); got != 1 {
			t.Fatalf("To delivered %d frames, want 1", got)
		}
		if f := (<-sink2).(*stages.Frame); f.Partition != 4 || len(f.Records) != 1 {
			t.Fatalf("To delivered %s", frameSpan(f))
		}
		if _, open := <-sink2; open {
			t.Fatal("To did not close the sink's inlet")
		}
	})
}

func TestNewTickValidates(t *testing.T) {
	tests := []struct {
		name   string
		lane   schemas.Lane
		opts   []operators.TickOption
		option string
	}{
		{"bad lane", "qa", nil, "lane"},
		{"nil clock", schemas.LaneProd, []operators.TickOption{operators.TickClock(nil)}, "TickClock"},
		{"bad mode", schemas.LaneProd, []operators.TickOption{operators.TickMode(7)}, "TickMode"},
		{"empty ladder", schemas.LaneProd, []operators.TickOption{operators.TickLadder()}, "TickLadder"},
		{"fps off the ladder", schemas.LaneProd, []operators.TickOption{operators.TickFPS(25)}, "TickFPS"},
		{"rate too high", schemas.LaneProd, []operators.TickOption{operators.TickLadder(5000)}, "TickLadder"},
		{"ladder not decreasing", schemas.LaneProd, []operators.TickOption{operators.TickLadder(15, 30)}, "TickLadder"},
		{"negative grace", schemas.LaneProd, []operators.TickOption{operators.TickGrace(-1)}, "TickGrace"},
		{"budget for unknown lane", schemas.LaneProd, []operators.TickOption{operators.TickBudget("qa", time.Second)}, "TickBudget"},
		{"negative budget", schemas.LaneProd, []operators.TickOption{operators.TickBudget(schemas.LaneProd, -time.Second)}, "TickBudget"},
		{"zero window", schemas.LaneProd, []operators.TickOption{operators.TickP95Window(0)}, "TickP95Window"},
		{"negative idle", schemas.LaneProd, []operators.TickOption{operators.TickIdleFrames(-1)}, "TickIdleFrames"},
		{"zero resolution", schemas.LaneProd, []operators.TickOption{operators.TickResolution(0)}, "TickResolution"},
		{"negative late buffer", schemas.LaneProd, []operators.TickOption{operators.TickLateBuffer(-1)}, "TickLateBuffer"},
		{"nil flags", schemas.LaneProd, []operators.TickOption{operators.TickFlags(nil)}, "TickFlags"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := operators.NewTick(tc.lane, tc.opts...)
			var oe *stages.OptionError
			if !errors.Is(err, operators.ErrTick) || !errors.As(err, &oe) || oe.Option != tc.option {
				t.Fatalf("err = %v, want an OptionError for %s", err, tc.option)
			}
			if check := operators.CheckTick(tc.lane, tc.opts...); check == nil || check.Error() != err.Error() {
				t.Fatalf("CheckTick = %v, want NewTick's %v", check, err)
			}
		})
	}
	if err := operators.CheckTick(schemas.LaneProd); err != nil {
		t.Fatalf("CheckTick of the defaults: %v", err)
	}
	if s := operators.Live.String() + operators.Replay.String(); s != "livereplay" {
		t.Fatalf("mode names %q", s)
	}
}

// BenchmarkTick measures the tick's cost per message at 1,000 messages per
// frame: the inlet handoff, placing, and emitting the frame.
func BenchmarkTick(b *testing.B) {
	tk, err := operators.NewTick(schemas.LaneProd, operators.TickMode(operators.Replay))
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		for range tk.Out() {
		}
		close(done)
	}()
	lateDone := make(chan int)
	go func() {
		n := 0
		for range tk.Late().Out() {
			n++
		}
		lateDone <- n
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		// Frame i: 1,000 messages spread over its 33.3 ms, starting at
		// its exact start ⌊i·1s/30⌋.
		base := tkT0.Add(time.Duration(int64(i) * int64(time.Second) / 30))
		recs := make([]stages.Record, 1000)
		msgs := make([]schemas.MatrizMessage, 1000)
		for j := range recs {
			msgs[j] = schemas.MatrizMessage{TS: base.Add(time.Duration(j) * 33 * time.Microsecond)}
			recs[j] = stages.Record{Offset: int64(i*1000 + j), Msg: &msgs[j]}
		}
		b.StartTimer()
		for j := range recs {
			tk.In() <- operators.TickInput{Record: &recs[j]}
		}
	}
	b.StopTimer()
	close(tk.In())
	<-done
	if n := <-lateDone; n != 0 {
		b.Fatalf("%d late records in an in-order benchmark", n)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/msg")
}

func TestTickWatermarkClosesIdleReplayFrames(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t, operators.TickMode(operators.Replay), operators.TickIdleFrames(0))
		defer r.close()
		r.send(operators.TickInput{Record: r.rec(0, tkAt(10*time.Millisecond))})
		if f, _ := r.take(); len(f) != 0 {
			t.Fatalf("replay closed a frame with no later event time: %v", f)
		}
		// A watermark for another partition or behind what was seen changes nothing.
		r.send(operators.TickWatermark{Partition: 1, Time: tkAt(time.Second)})
		r.send(operators.TickWatermark{Partition: 0, Time: tkAt(5 * time.Millisecond)})
		if f, _ := r.take(); len(f) != 0 {
			t.Fatalf("a foreign or stale watermark closed frames: %v", f)
		}
		// 100 ms + grace closes the first three 30 FPS frames: [0,33.3), [33.3,66.7), [66.7,100).
		r.send(operators.TickWatermark{Partition: 0, Time: tkAt(100*time.Millisecond + operators.DefaultTickGrace)})
		f, late := r.take()
		var got []string
		for _, fr := range f {
			got = append(got, frameSpan(fr))
		}
		want := []string{"p0@30 [0.000,33.333) n=1", "p0@30 [33.333,66.667) n=0", "p0@30 [66.667,100.000) n=0"}
		if !reflect.DeepEqual(got, want) || len(late) != 0 {
			t.Fatalf("frames %v late %d, want %v and none late", got, len(late), want)
		}
		// A message behind the watermark is late now.
		r.send(operators.TickInput{Record: r.rec(0, tkAt(50*time.Millisecond))})
		if _, late := r.take(); len(late) != 1 || !late[0].Late {
			t.Fatalf("message behind the watermark: late %v, want one late record", late)
		}
	})
}

func TestTickLiveIgnoresWatermarks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newTkRig(t)
		defer r.close()
		r.send(operators.TickInput{Record: r.rec(0, tkAt(10*time.Millisecond))})
		r.send(operators.TickWatermark{Partition: 0, Time: tkAt(time.Second)})
		if f, _ := r.take(); len(f) != 0 {
			t.Fatalf("live tick closed frames on a watermark: %d frames", len(f))
		}
	})
}
