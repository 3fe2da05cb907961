package stages

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

func TestNewBreakthroughRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name   string
		opt    BreakthroughOption
		option string
	}{
		{"both weights zero", BreakthroughWeights(0, 0), "BreakthroughWeights"},
		{"negative weight", BreakthroughWeights(-1, 1), "BreakthroughWeights"},
		{"NaN weight", BreakthroughWeights(math.NaN(), 1), "BreakthroughWeights"},
		{"z zero", BreakthroughZ(0), "BreakthroughZ"},
		{"z Inf", BreakthroughZ(math.Inf(1)), "BreakthroughZ"},
		{"one sample", BreakthroughMinSamples(1), "BreakthroughMinSamples"},
		{"cusum h zero", BreakthroughCUSUM(0.5, 0), "BreakthroughCUSUM"},
		{"cusum k negative", BreakthroughCUSUM(-1, 4), "BreakthroughCUSUM"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewBreakthrough(tc.opt)
			var oe *OptionError
			if b != nil || !errors.Is(err, ErrBreakthroughConfig) || !errors.As(err, &oe) || oe.Option != tc.option {
				t.Fatalf("NewBreakthrough = %v, %v; want an OptionError for %s", b, err, tc.option)
			}
		})
	}
}

// breakFrames feeds n messages with novelty and value drawn by gen, in
// frames of per messages, and returns the flags raised.
func breakFrames(t *testing.T, b *Breakthrough, first, n, per int, gen func(i int) (float64, float64)) []schemas.Event {
	t.Helper()
	var flags []schemas.Event
	for start := 0; start < n; start += per {
		var ms []*schemas.MatrizMessage
		for i := start; i < min(n, start+per); i++ {
			nv, vv := gen(first + i)
			ms = append(ms, fxMsg(first+i, fxID((first+i)%11), "creative", schemas.Payload{"novelty": nv, "value": vv}))
		}
		f := fxFrame(schemas.LaneCandidate, 0, int64(first+start), ms...)
		if err := b.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		flags = append(flags, fxEvents(f, schemas.EventBreakthrough)...)
	}
	return flags
}

// TestBreakthroughSpikeFlagsAndNoiseDoesNot is the acceptance line: steady
// (seeded, bounded) noise never reaches z = 3, a novelty×value spike does.
func TestBreakthroughSpikeFlagsAndNoiseDoesNot(t *testing.T) {
	for _, mode := range []struct {
		name string
		opts []BreakthroughOption
	}{{"product", []BreakthroughOption{BreakthroughProduct()}}, {"weighted", nil}} {
		t.Run(mode.name, func(t *testing.T) {
			b, err := NewBreakthrough(mode.opts...)
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(42, 42))
			noise := func(int) (float64, float64) { return 0.4 + 0.2*rng.Float64(), 0.4 + 0.2*rng.Float64() }
			if flags := breakFrames(t, b, 0, 3000, 100, noise); len(flags) != 0 {
				t.Fatalf("steady noise raised %d flags, first %+v", len(flags), flags[0].Payload)
			}
			st := b.Stats()
			if st.Samples != 3000 {
				t.Fatalf("baseline has %d samples, want 3000", st.Samples)
			}
			flags := breakFrames(t, b, 3000, 1, 1, func(int) (float64, float64) { return 1, 1 })
			if len(flags) != 1 {
				t.Fatalf("the spike raised %d flags, want 1", len(flags))
			}
			p := flags[0].Payload
			if z := p["z"].(float64); z < 3 {
				t.Fatalf("spike z = %v", z)
			}
			if p["detector"] != "z" || p["threshold"] != 3.0 || p["samples"] != int64(3000) || p["novelty"] != 1.0 {
				t.Fatalf("event payload %+v", p)
			}
			if b.Stats().Samples != 3000 {
				t.Fatal("the flagged spike entered the baseline")
			}
			if b.Flags() != 1 {
				t.Fatalf("Flags() = %d", b.Flags())
			}
		})
	}
}

// TestBreakthroughFlagsAtExactlyZ3 checks the threshold edge: a score whose
// z is 3.0 (the smallest double at or above it) flags, one just under does
// not. Both run from the same restored baseline.
func TestBreakthroughFlagsAtExactlyZ3(t *testing.T) {
	warm, _ := NewBreakthrough()
	rng := rand.New(rand.NewPCG(5, 8))
	breakFrames(t, warm, 0, 500, 50, func(int) (float64, float64) { v := rng.Float64(); return v, v })
	snap, err := warm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	st := warm.Stats()
	at := st.Mean + 3*st.Std
	for (at-st.Mean)/st.Std < 3 {
		at = math.Nextafter(at, math.Inf(1))
	}
	under := math.Nextafter(at, math.Inf(-1))
	for _, tc := range []struct {
		score float64
		flags int
	}{{at, 1}, {under, 0}} {
		b, _ := NewBreakthrough()
		if err := b.Restore(snap); err != nil {
			t.Fatal(err)
		}
		f := fxFrame(schemas.LaneCandidate, 0, 9999, fxMsg(9999, "g", "creative", schemas.Payload{"novelty": tc.score, "value": tc.score}))
		if err := b.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		z, _ := f.Records[0].Score(ScoreBreakthroughZ)
		fxNear(t, "z", z, 3, 1e-9)
		if got := len(fxEvents(f, schemas.EventBreakthrough)); got != tc.flags {
			t.Fatalf("score %v (z %v): %d flags, want %d", tc.score, z, got, tc.flags)
		}
		s, _ := f.Records[0].Score(ScoreBreakthrough)
		fxEqual(t, "score", s, tc.score)
	}
}

func TestBreakthroughMinSamples(t *testing.T) {
	b, _ := NewBreakthrough(BreakthroughMinSamples(10))
	gen := func(i int) (float64, float64) { return float64(i % 2), float64(i % 2) }
	breakFrames(t, b, 0, 9, 9, gen)
	// Nine samples: a spike scores a z but does not flag.
	f := fxFrame(schemas.LaneCandidate, 0, 100, fxMsg(100, "g", "creative", schemas.Payload{"novelty": 50.0, "value": 50.0}))
	_ = b.Process(context.Background(), f)
	if z, ok := f.Records[0].Score(ScoreBreakthroughZ); !ok || z < 3 {
		t.Fatalf("z = %v, %v", z, ok)
	}
	if len(f.Events) != 0 {
		t.Fatal("flagged before the minimum sample count")
	}
	// The unflagged spike entered the baseline: ten samples now, armed.
	if flags := breakFrames(t, b, 200, 1, 1, func(int) (float64, float64) { return 500, 500 }); len(flags) != 1 {
		t.Fatalf("armed baseline did not flag a spike: %d", len(flags))
	}
	// Fewer than two samples: no z at all.
	c, _ := NewBreakthrough()
	f = fxFrame(schemas.LaneCandidate, 0, 0, fxMsg(1, "g", "creative", schemas.Payload{"novelty": 1.0, "value": 1.0}))
	_ = c.Process(context.Background(), f)
	if _, ok := f.Records[0].Score(ScoreBreakthroughZ); ok {
		t.Fatal("z set with an empty baseline")
	}
}

func TestBreakthroughConstantBaseline(t *testing.T) {
	b, _ := NewBreakthrough(BreakthroughMinSamples(2))
	breakFrames(t, b, 0, 5, 5, func(int) (float64, float64) { return 0.5, 0.5 })
	for _, tc := range []struct {
		v     float64
		z     float64
		flags int
	}{{0.5, 0, 0}, {0.25, -zCap, 0}, {0.75, zCap, 1}} {
		f := fxFrame(schemas.LaneCandidate, 0, 50, fxMsg(50, "g", "creative", schemas.Payload{"novelty": tc.v, "value": tc.v}))
		_ = b.Process(context.Background(), f)
		z, _ := f.Records[0].Score(ScoreBreakthroughZ)
		if z != tc.z || len(f.Events) != tc.flags {
			t.Fatalf("value %v on a constant baseline: z %v flags %d, want %v %d", tc.v, z, len(f.Events), tc.z, tc.flags)
		}
		// Keep the baseline constant for the next case.
		_ = b.Restore(nil)
		breakFrames(t, b, 0, 5, 5, func(int) (float64, float64) { return 0.5, 0.5 })
	}
}

// TestBreakthroughCUSUMFindsAPersistentShift: a shift of one standard
// deviation never reaches z = 3, so the z detector stays silent, while
// CUSUM (k 0.5, h 5) signals within a few dozen messages.
func TestBreakthroughCUSUMFindsAPersistentShift(t *testing.T) {
	run := func(opts ...BreakthroughOption) (int, int) {
		b, err := NewBreakthrough(opts...)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(9, 9))
		base := func(int) (float64, float64) { v := rng.Float64(); return v, v }
		// CUSUM has a false-alarm rate on noise (one per few hundred
		// samples at k 0.5, h 5); the z detector has none on bounded noise.
		if flags := breakFrames(t, b, 0, 1000, 100, base); len(opts) == 0 && len(flags) != 0 {
			t.Fatalf("uniform baseline flagged %d times", len(flags))
		}
		sd := b.Stats().Std
		shifted := func(int) (float64, float64) { v := rng.Float64()*0.2 + 0.4 + sd; return v, v }
		flags := breakFrames(t, b, 1000, 60, 1, shifted)
		first := -1
		if len(flags) > 0 {
			for k := range 60 {
				if flags[0].MsgID == fxID(1000+k) {
					first = k + 1
				}
			}
			if flags[0].Payload["detector"] == "cusum" && flags[0].Payload["cusum"].(float64) < 5 {
				t.Fatalf("cusum flag below h: %+v", flags[0].Payload)
			}
		}
		return len(flags), first
	}
	if n, _ := run(); n != 0 {
		t.Fatalf("z detector flagged a 1-sd shift %d times", n)
	}
	n, first := run(BreakthroughCUSUM(0.5, 5))
	if n == 0 || first < 1 || first > 20 {
		t.Fatalf("CUSUM: %d flags, first after %d shifted messages; want a flag within 20", n, first)
	}
	t.Logf("CUSUM: %d flags over 60 shifted messages, first after %d", n, first)
}

func TestBreakthroughOutliersAndLearningFlag(t *testing.T) {
	spike := func(b *Breakthrough, learning bool) {
		f := fxFrame(schemas.LaneCandidate, 0, 7000, fxMsg(7000, "g", "creative", schemas.Payload{"novelty": 9.0, "value": 9.0}))
		f.Flags.Learning = learning
		_ = b.Process(context.Background(), f)
	}
	gen := func(i int) (float64, float64) { return float64(i % 3), float64(i % 3) }

	learnAll, _ := NewBreakthrough(BreakthroughLearnOutliers())
	breakFrames(t, learnAll, 0, 60, 60, gen)
	spike(learnAll, false)
	if st := learnAll.Stats(); st.Samples != 61 || learnAll.Flags() != 1 {
		t.Fatalf("LearnOutliers: %d samples, %d flags; want the flagged spike learned", st.Samples, learnAll.Flags())
	}

	follow, _ := NewBreakthrough(BreakthroughFollowLearningFlag())
	breakFrames(t, follow, 0, 60, 60, gen) // frames without Learning: nothing learned
	if st := follow.Stats(); st.Samples != 0 {
		t.Fatalf("baseline learned %d samples with LEARNING_ENABLED off", st.Samples)
	}
	f := fxFrame(schemas.LaneCandidate, 0, 1, fxMsg(1, "g", "creative", schemas.Payload{"novelty": 1.0, "value": 1.0}))
	f.Flags.Learning = true
	_ = follow.Process(context.Background(), f)
	if st := follow.Stats(); st.Samples != 1 {
		t.Fatalf("baseline did not learn with LEARNING_ENABLED on: %d", st.Samples)
	}
}

func TestBreakthroughInputProblems(t *testing.T) {
	cases := []struct {
		name   string
		p      schemas.Payload
		reason string
	}{
		{"none", schemas.Payload{"risk": 0.2}, ""},
		{"novelty only", schemas.Payload{"novelty": 0.2}, "novelty without value"},
		{"value only", schemas.Payload{"value": 0.2}, "value without novelty"},
		{"novelty NaN", schemas.Payload{"novelty": math.NaN(), "value": 0.2}, "novelty is NaN"},
		{"value string", schemas.Payload{"novelty": 0.2, "value": "lots"}, "value is string"},
		{"score overflows", schemas.Payload{"novelty": math.MaxFloat64, "value": math.MaxFloat64}, "is +Inf"},
		{"long values", schemas.Payload{"novelty": int64(1), "value": int64(0)}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := NewBreakthrough(BreakthroughWeights(1, 1))
			f := fxFrame(schemas.LaneProd, 0, 0, fxMsg(1, "g", "creative", tc.p))
			_ = b.Process(context.Background(), f)
			r := &f.Records[0]
			c := fxCrumb(t, r, "breakthrough")
			if tc.reason == "" {
				if len(r.Result.Reasons) != 0 {
					t.Fatalf("reasons %q", r.Result.Reasons)
				}
				return
			}
			if c.Data["scored"] != false || len(r.Result.Reasons) != 1 || !strings.Contains(r.Result.Reasons[0], tc.reason) || !r.Result.OK {
				t.Fatalf("crumb %+v reasons %q ok %v, want an ok result with a reason mentioning %q", c.Data, r.Result.Reasons, r.Result.OK, tc.reason)
			}
		})
	}
	// A score that is finite but would overflow the baseline's M2.
	b, _ := NewBreakthrough(BreakthroughWeights(1, 1))
	breakFrames(t, b, 0, 2, 2, func(i int) (float64, float64) { return 0, float64(i) })
	f := fxFrame(schemas.LaneCandidate, 0, 5, fxMsg(5, "g", "creative", schemas.Payload{"novelty": 1e300, "value": 1e300}))
	if err := b.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if rs := f.Records[0].Result.Reasons; len(rs) != 1 || !strings.Contains(rs[0], "overflow the baseline") {
		t.Fatalf("reasons %q", rs)
	}
	if st := b.Stats(); st.Samples != 2 || math.IsInf(st.Std, 0) {
		t.Fatalf("baseline after an overflowing score: %+v", st)
	}
}

func TestBreakthroughNodeAnswerWinsAndNilResult(t *testing.T) {
	b, _ := NewBreakthrough()
	f := fxFrame(schemas.LaneProd, 0, 0,
		fxMsg(1, "g", "creative", schemas.Payload{"novelty": 0.0, "value": 0.0}),
		fxMsg(2, "g", "creative", schemas.Payload{"novelty": 0.4, "value": 0.6}),
		fxMsg(3, "g", "creative", schemas.Payload{"novelty": 0.4}),
	)
	f.Records[0].Result.Payload = schemas.Payload{"novelty": 1.0}
	f.Records[1].Result = nil
	f.Records[2].Result = nil
	_ = b.Process(context.Background(), f)
	fxEqual(t, "score from the node's novelty", f.Records[0].Scores[ScoreBreakthrough], 0.5)
	fxEqual(t, "score without a result", f.Records[1].Scores[ScoreBreakthrough], 0.5)
}

func TestBreakthroughRestoreRejectsBadState(t *testing.T) {
	for name, bad := range map[string]string{
		"json":          `nope`,
		"another stage": `{"format":2,"stage":"fold-guard","state":{"lane":"prod"}}`,
		"field":         `{"v":1,"lane":"prod","base":{"n":1,"x":2}}`,
		"version":       `{"v":0,"lane":"prod"}`,
		"lane":          `{"format":2,"stage":"breakthrough","state":{"lane":""}}`,
		"negative":      `{"v":1,"lane":"prod","base":{"n":-1}}`,
		"m2":            `{"v":1,"lane":"prod","base":{"n":3,"m2":-1}}`,
		"empty":         `{"v":1,"lane":"prod","base":{"n":0,"mean":2}}`,
		"cusum":         `{"format":2,"stage":"breakthrough","state":{"lane":"prod","cusum":{"s":-1}}}`,
	} {
		b, _ := NewBreakthrough()
		breakFrames(t, b, 0, 5, 5, func(i int) (float64, float64) { return float64(i), 1 })
		before, _ := b.Snapshot()
		if err := b.Restore([]byte(bad)); !errors.Is(err, ErrSnapshot) || !strings.HasPrefix(err.Error(), "breakthrough: restore: found ") {
			t.Fatalf("%s: %v", name, err)
		}
		if after, _ := b.Snapshot(); string(after) != string(before) {
			t.Fatalf("%s: a refused restore changed the state from %s to %s", name, before, after)
		}
	}
}

func TestBreakthroughRestoresLegacySnapshot(t *testing.T) {
	restored, _ := NewBreakthrough(BreakthroughCUSUM(0.1, 50))
	twin, _ := NewBreakthrough(BreakthroughCUSUM(0.1, 50))
	checkLegacyRestore(t, StageBreakthrough, restored, twin, legacyBreakFrames, func() {})
}

func TestBreakthroughLanesAndDeadRecords(t *testing.T) {
	b, _ := NewBreakthrough()
	if err := b.Process(context.Background(), fxFrame(schemas.LaneCandidate, 1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := b.Process(context.Background(), fxFrame(schemas.LaneProd, 1, 1)); !errors.Is(err, ErrPartitionLane) {
		t.Fatalf("lane mismatch: %v", err)
	}
	if err := b.Process(context.Background(), fxFrame("", 1, 1)); !errors.Is(err, ErrFrameLane) {
		t.Fatalf("no lane: %v", err)
	}
	f := fxFrame(schemas.LaneCandidate, 1, 2, fxMsg(1, "g", "creative", schemas.Payload{"novelty": 1.0, "value": 1.0}))
	f.Records[0].Dropped = true
	_ = b.Process(context.Background(), f)
	if len(f.Records[0].Scores) != 0 {
		t.Fatal("a dropped record was scored")
	}
	if st := b.Stats(); st.Lane != schemas.LaneCandidate || st.Partition != 1 || st.Samples != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestWelfordMatchesTwoPass(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var w welford
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = 1e6 + rng.NormFloat64()
		w, _ = w.add(xs[i])
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean := sum / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	fxNear(t, "mean", w.Mean, mean, 1e-6)
	fxNear(t, "std", w.std(), math.Sqrt(ss/float64(len(xs)-1)), 1e-9)
}

func BenchmarkBreakthrough(b *testing.B) {
	st, _ := NewBreakthrough()
	rng := rand.New(rand.NewPCG(5, 6))
	msgs := make([]*schemas.MatrizMessage, 1000)
	for i := range msgs {
		msgs[i] = fxMsg(i, fxID(rng.IntN(200)), "creative", schemas.Payload{"novelty": rng.Float64(), "value": rng.Float64()})
	}
	benchFrames(b, st, schemas.LaneProd, msgs)
}
