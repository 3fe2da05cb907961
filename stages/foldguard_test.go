package stages

import (
	"context"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

func TestNewFoldGuardRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name   string
		opt    FoldOption
		option string
	}{
		{"fanout zero", FoldMaxFanout(0), "FoldMaxFanout"},
		{"depth negative", FoldMaxDepth(-1), "FoldMaxDepth"},
		{"budget below fanout", FoldBudget(4), "FoldBudget"},
		{"cooldown negative", FoldCooldown(-time.Second), "FoldCooldown"},
		{"empty topic", FoldTopics("memory", ""), "FoldTopics"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewFoldGuard(tc.opt)
			var oe *OptionError
			if g != nil || !errors.Is(err, ErrFoldGuardConfig) || !errors.As(err, &oe) || oe.Option != tc.option {
				t.Fatalf("NewFoldGuard = %v, %v; want an OptionError for %s wrapping ErrFoldGuardConfig", g, err, tc.option)
			}
		})
	}
	if _, err := NewFoldGuard(FoldMaxFanout(1), FoldMaxDepth(0), FoldBudget(1), FoldCooldown(0), FoldTopics("mem")); err != nil {
		t.Fatalf("boundary values refused: %v", err)
	}
}

func TestFoldGuardPerWriteLimits(t *testing.T) {
	cases := []struct {
		name    string
		topic   string
		p       schemas.Payload
		upstrOK bool
		write   bool
		allowed bool
		reason  string
		fanout  int64
	}{
		{"memory topic defaults to fanout 1", "memory", nil, true, true, true, "", 1},
		{"fanout and depth at the limits", "memory", schemas.Payload{"fanout": int64(8), "depth": int64(4)}, true, true, true, "", 8},
		{"fanout as whole double", "trend", schemas.Payload{"fanout": 3.0}, true, true, true, "", 3},
		{"depth alone makes a write", "trend", schemas.Payload{"depth": int64(2)}, true, true, true, "", 1},
		{"fanout over the limit", "memory", schemas.Payload{"fanout": int64(9)}, true, true, false, "fanout 9 exceeds 8", 0},
		{"depth over the limit", "memory", schemas.Payload{"fanout": int64(2), "depth": int64(5)}, true, true, false, "depth 5 exceeds 4", 0},
		{"fraction", "memory", schemas.Payload{"fanout": 2.5}, true, true, false, "not a whole number", 0},
		{"negative depth", "memory", schemas.Payload{"depth": int64(-1)}, true, true, false, "depth -1 is negative", 0},
		{"string fanout", "memory", schemas.Payload{"fanout": "many"}, true, true, false, "fanout is string", 0},
		{"not a memory write", "trend", schemas.Payload{"risk": 0.1}, true, false, true, "", 0},
		{"refused upstream", "memory", schemas.Payload{"fanout": int64(2)}, false, true, false, "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, _ := NewFoldGuard()
			f := fxFrame(schemas.LaneProd, 0, 0, fxMsg(1, "g", tc.topic, tc.p))
			r := &f.Records[0]
			r.Result.OK = tc.upstrOK
			if err := g.Process(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			c := fxCrumb(t, r, "fold-guard")
			fxEqual(t, "memory_write", c.Data["memory_write"], tc.write)
			if !tc.upstrOK {
				fxEqual(t, "skipped", c.Data["skipped"], "refused upstream")
				if len(r.Result.Reasons) != 0 {
					t.Fatalf("fold-guard added reasons to an upstream refusal: %q", r.Result.Reasons)
				}
				return
			}
			fxEqual(t, "ok", r.Result.OK, tc.allowed)
			if tc.write {
				fxEqual(t, "allowed", c.Data["allowed"], tc.allowed)
				fxEqual(t, "used", c.Data["used"], tc.fanout)
			}
			if tc.reason == "" {
				if len(r.Result.Reasons) != 0 {
					t.Fatalf("unexpected reasons %q", r.Result.Reasons)
				}
				return
			}
			if len(r.Result.Reasons) != 1 || !strings.HasPrefix(r.Result.Reasons[0], "fold-guard: ") || !strings.Contains(r.Result.Reasons[0], tc.reason) {
				t.Fatalf("reasons %q, want one mentioning %q", r.Result.Reasons, tc.reason)
			}
		})
	}
}

// TestFoldGuardRecursionStorm runs a synthetic recursion: every allowed
// write of depth d spawns `fanout` child writes of depth d+1 in the next
// frame, plus a seeded stream of fresh roots, some of them hostile (fanout
// or depth past the limits). The guard must never allow more than the budget
// in one frame, must trip, must allow nothing while open, and must close
// again after the storm passes.
func TestFoldGuardRecursionStorm(t *testing.T) {
	const budget, cooldown = 256, 200 * time.Millisecond
	g, err := NewFoldGuard(FoldCooldown(cooldown))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2026, 3))
	type write struct{ fanout, depth int64 }
	var pending []write
	n, trips, openFrames := 0, 0, 0
	var states []BreakerState
	for seq := int64(0); seq < 120; seq++ {
		roots := 40
		if seq >= 60 {
			roots = 2 // the storm dies down
		}
		for range roots {
			pending = append(pending, write{fanout: 1 + rng.Int64N(10), depth: rng.Int64N(3)})
		}
		var ms []*schemas.MatrizMessage
		for _, w := range pending {
			n++
			ms = append(ms, fxMsg(n, fxID(n%17), "memory", schemas.Payload{"fanout": w.fanout, "depth": w.depth}))
		}
		if seq >= 60 {
			ms = ms[:min(len(ms), 4)]
		}
		pending = pending[:0]
		before := g.Stats()
		f := fxFrame(schemas.LaneCandidate, 5, seq, ms...)
		if err := g.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		var allowed int64
		for i := range f.Records {
			r := &f.Records[i]
			c := fxCrumb(t, r, "fold-guard")
			if c.Data["allowed"] == true {
				fo := c.Data["fanout"].(int64)
				d := c.Data["depth"].(int64)
				if fo > 8 || d > 4 {
					t.Fatalf("frame %d: allowed a write with fanout %d depth %d", seq, fo, d)
				}
				allowed += fo
				if d < 4 && len(pending) < 5000 {
					for range fo {
						pending = append(pending, write{fanout: 1 + rng.Int64N(8), depth: d + 1})
					}
				}
			}
		}
		if allowed > budget {
			t.Fatalf("frame %d allowed %d folds, budget %d", seq, allowed, budget)
		}
		wasOpen := before.State == BreakerOpen && f.Start.Before(before.OpenUntil)
		if wasOpen {
			openFrames++
			if allowed != 0 {
				t.Fatalf("frame %d allowed %d folds while the breaker was open", seq, allowed)
			}
		}
		breaks := fxEvents(f, schemas.EventCircuitBreak)
		trips += len(breaks)
		if len(breaks) > 1 {
			t.Fatalf("frame %d emitted %d circuit_break events, want at most one", seq, len(breaks))
		}
		states = append(states, g.Stats().State)
	}
	if trips == 0 || openFrames == 0 {
		t.Fatalf("the storm never tripped the breaker (trips %d, open frames %d)", trips, openFrames)
	}
	if uint64(trips) != g.Breaks() || g.Stats().Trips != int64(trips) {
		t.Fatalf("Breaks() = %d, Trips = %d, events = %d", g.Breaks(), g.Stats().Trips, trips)
	}
	if g.Refused() == 0 {
		t.Fatal("no write refused during a storm")
	}
	if last := states[len(states)-1]; last != BreakerClosed {
		t.Fatalf("breaker %v after the storm passed, want closed", last)
	}
	t.Logf("storm: %d messages, %d trips, %d open frames, %d refused", n, trips, openFrames, g.Refused())
}

func TestFoldGuardBreakerCycle(t *testing.T) {
	// Budget 10, cool-down 90ms: three open frames, then the probe.
	g, _ := NewFoldGuard(FoldBudget(10), FoldCooldown(90*time.Millisecond))
	write := func(n int, fanout int64) *schemas.MatrizMessage {
		return fxMsg(n, "g", "memory", schemas.Payload{"fanout": fanout})
	}
	steps := []struct {
		fanouts []int64
		allowed []bool
		breaks  int
		state   BreakerState
	}{
		{[]int64{6, 4, 1, 1}, []bool{true, true, false, false}, 1, BreakerOpen}, // 6+4 = 10, the 1 trips
		{[]int64{1}, []bool{false}, 0, BreakerOpen},
		{[]int64{1}, []bool{false}, 0, BreakerOpen},
		{nil, nil, 0, BreakerOpen},
		{[]int64{5, 5}, []bool{true, true}, 0, BreakerClosed}, // frame 4 starts at 133ms ≥ 33+90: probe succeeds
		{[]int64{8, 3}, []bool{true, false}, 1, BreakerOpen},
		{nil, nil, 0, BreakerOpen},
		{nil, nil, 0, BreakerOpen},
		{nil, nil, 0, BreakerOpen},
		{[]int64{8, 8}, []bool{true, false}, 1, BreakerOpen}, // probe fails: opens again
	}
	n := 0
	for seq, st := range steps {
		var ms []*schemas.MatrizMessage
		for _, fo := range st.fanouts {
			n++
			ms = append(ms, write(n, fo))
		}
		f := fxFrame(schemas.LaneProd, 0, int64(seq), ms...)
		if err := g.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		for i, want := range st.allowed {
			if f.Records[i].Result.OK != want {
				t.Fatalf("frame %d write %d: ok = %v, want %v (reasons %q)", seq, i, f.Records[i].Result.OK, want, f.Records[i].Result.Reasons)
			}
		}
		breaks := fxEvents(f, schemas.EventCircuitBreak)
		if len(breaks) != st.breaks {
			t.Fatalf("frame %d: %d circuit_break events, want %d", seq, len(breaks), st.breaks)
		}
		if got := g.Stats().State; got != st.state {
			t.Fatalf("frame %d: breaker %v, want %v", seq, got, st.state)
		}
		for _, e := range breaks {
			if e.ID != DerivedID(e.MsgID, "fold-guard", "circuit_break") || e.Stage != "fold-guard" || e.Payload["state"] != "open" {
				t.Fatalf("circuit_break event %+v", e)
			}
			wantUntil := f.End.Add(90 * time.Millisecond).UnixMicro()
			fxEqual(t, "open_until", e.Payload["open_until"], wantUntil)
		}
	}
	// The open frames name the end of the cool-down in the reason.
	if g.Breaks() != 3 || g.Refused() != 6 {
		t.Fatalf("Breaks %d Refused %d, want 3 and 6", g.Breaks(), g.Refused())
	}
}

func TestFoldGuardOpenReasonAndNilResult(t *testing.T) {
	g, _ := NewFoldGuard(FoldBudget(8))
	f := fxFrame(schemas.LaneExperimental, 0, 0,
		fxMsg(1, "g", "memory", schemas.Payload{"fanout": int64(8)}),
		fxMsg(2, "g", "memory", schemas.Payload{"fanout": int64(1)}),
		fxMsg(3, "g", "memory", schemas.Payload{"fanout": int64(1)}),
	)
	f.Records[0].Result = nil // no router result: decided, but nothing to annotate
	if err := g.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.Records[1].Result.Reasons[0], "frame budget 8 exhausted (8 used, write needs 1)") {
		t.Fatalf("trip reason %q", f.Records[1].Result.Reasons)
	}
	if !strings.Contains(f.Records[2].Result.Reasons[0], "circuit open until 2026-03-01T12:00:01.0333") {
		t.Fatalf("open reason %q", f.Records[2].Result.Reasons)
	}
}

func TestFoldGuardRestoreRejectsBadState(t *testing.T) {
	for name, bad := range map[string]string{
		"json":          `[`,
		"another stage": `{"format":2,"stage":"drift","state":{"lane":"prod"}}`,
		"version":       `{"v":2,"lane":"prod"}`,
		"lane":          `{"v":1,"lane":"x"}`,
		"state":         `{"format":2,"stage":"fold-guard","state":{"lane":"prod","state":5}}`,
		"counts":        `{"v":1,"lane":"prod","trips":-2}`,
	} {
		g, _ := NewFoldGuard(FoldBudget(8))
		_ = g.Process(context.Background(), fxFrame(schemas.LaneProd, 0, 0, fxMsg(1, "g", "memory", schemas.Payload{"fanout": int64(8)}), fxMsg(2, "g", "memory", nil)))
		before, _ := g.Snapshot()
		if err := g.Restore([]byte(bad)); !errors.Is(err, ErrSnapshot) || !strings.HasPrefix(err.Error(), "fold-guard: restore: found ") {
			t.Fatalf("%s: Restore(%s) = %v, want ErrSnapshot", name, bad, err)
		}
		if after, _ := g.Snapshot(); string(after) != string(before) {
			t.Fatalf("%s: a refused restore changed the state from %s to %s", name, before, after)
		}
	}
}

func TestFoldGuardRestoresLegacySnapshot(t *testing.T) {
	restored, _ := NewFoldGuard(FoldBudget(8))
	twin, _ := NewFoldGuard(FoldBudget(8))
	checkLegacyRestore(t, StageFoldGuard, restored, twin, legacyFoldFrames, func() {})
}

func TestFoldGuardLaneErrorsAndStates(t *testing.T) {
	g, _ := NewFoldGuard()
	_ = g.Process(context.Background(), fxFrame(schemas.LaneProd, 0, 0))
	if err := g.Process(context.Background(), fxFrame(schemas.LaneCandidate, 0, 1)); !errors.Is(err, ErrPartitionLane) {
		t.Fatalf("frame of another lane: %v", err)
	}
	if err := g.Process(context.Background(), fxFrame("qa", 1, 0)); !errors.Is(err, ErrFrameLane) {
		t.Fatalf("frame without a lane: %v", err)
	}
	fxEqual(t, "states", []string{BreakerClosed.String(), BreakerOpen.String(), BreakerHalfOpen.String(), BreakerState(7).String()},
		[]string{"closed", "open", "half_open", "BreakerState(7)"})
}

func BenchmarkFoldGuard(b *testing.B) {
	g, _ := NewFoldGuard(FoldBudget(1 << 40))
	rng := rand.New(rand.NewPCG(3, 4))
	msgs := make([]*schemas.MatrizMessage, 1000)
	for i := range msgs {
		topic := "trend"
		if i%2 == 0 {
			topic = "memory"
		}
		msgs[i] = fxMsg(i, fxID(rng.IntN(200)), topic, schemas.Payload{"fanout": rng.Int64N(10), "depth": rng.Int64N(6)})
	}
	benchFrames(b, g, schemas.LaneProd, msgs)
}

func TestFoldGuardSkipsDeadRecords(t *testing.T) {
	g, _ := NewFoldGuard(FoldBudget(8))
	f := fxFrame(schemas.LaneProd, 3, 0,
		fxMsg(1, "g", "memory", schemas.Payload{"fanout": int64(8)}),
		fxMsg(2, "g", "memory", schemas.Payload{"fanout": int64(8)}),
	)
	f.Records[0].Dropped = true
	f.Records[1].Fail("decode", "bad bytes")
	if err := g.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	for i := range f.Records {
		if len(f.Records[i].Result.Trace) != 1 {
			t.Fatalf("record %d is not live but got crumbs %+v", i, f.Records[i].Result.Trace)
		}
	}
	if st := g.Stats(); st.Partition != 3 || st.Lane != schemas.LaneProd || st.LastUsed != 0 {
		t.Fatalf("stats %+v, want partition 3 of prod with nothing used", st)
	}
}
