package stages

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

func TestNewDriftRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name   string
		opt    DriftOption
		option string
	}{
		{"alpha zero", DriftAlpha(0), "DriftAlpha"},
		{"alpha above one", DriftAlpha(1.5), "DriftAlpha"},
		{"alpha NaN", DriftAlpha(math.NaN()), "DriftAlpha"},
		{"warn above block", DriftThresholds(0.4, 0.3), "DriftThresholds"},
		{"warn zero", DriftThresholds(0, 0.3), "DriftThresholds"},
		{"block above two", DriftThresholds(0.2, 2.5), "DriftThresholds"},
		{"window zero", DriftWindow(0), "DriftWindow"},
		{"window huge", DriftWindow(driftMaxWindow + 1), "DriftWindow"},
		{"negative ttl", DriftIdleTTL(-time.Second), "DriftIdleTTL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := NewDrift(tc.opt)
			if d != nil || !errors.Is(err, ErrDriftConfig) {
				t.Fatalf("NewDrift = %v, %v; want nil and an error wrapping ErrDriftConfig", d, err)
			}
			var oe *OptionError
			if !errors.As(err, &oe) || oe.Option != tc.option || oe.Stage != "drift" {
				t.Fatalf("error %v is not an OptionError for %s", err, tc.option)
			}
			if !strings.Contains(err.Error(), "want") {
				t.Fatalf("error %q does not say what is accepted", err)
			}
		})
	}
	if _, err := NewDrift(DriftAlpha(1), DriftThresholds(0.2, 0.2), DriftWindow(1), DriftIdleTTL(0)); err != nil {
		t.Fatalf("boundary values refused: %v", err)
	}
}

func TestCosine(t *testing.T) {
	cases := []struct {
		name    string
		a, b    []float64
		want    float64
		errPart string
	}{
		{"same", []float64{1, 2, 3}, []float64{2, 4, 6}, 1, ""},
		{"opposite", []float64{1, 0}, []float64{-3, 0}, -1, ""},
		{"orthogonal", []float64{1, 0}, []float64{0, 5}, 0, ""},
		{"huge elements do not overflow", []float64{1e300, 1e300}, []float64{1e300, 0}, math.Sqrt2 / 2, ""},
		{"tiny elements do not underflow", []float64{1e-300, 0}, []float64{1e-300, 1e-300}, math.Sqrt2 / 2, ""},
		{"empty", nil, []float64{1}, 0, "empty vector"},
		{"length mismatch", []float64{1, 2}, []float64{1, 2, 3}, 0, "length mismatch"},
		{"zero intent", []float64{0, 0}, []float64{1, 2}, 0, "intent is a zero vector"},
		{"zero action", []float64{1, 0}, []float64{0, 0}, 0, "action is a zero vector"},
		{"NaN", []float64{1, math.NaN()}, []float64{1, 2}, 0, "intent[1] is NaN"},
		{"Inf", []float64{1, 2}, []float64{math.Inf(-1), 2}, 0, "action[0] is -Inf"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := cosine(tc.a, tc.b)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("cosine error = %v, want it to mention %q", err, tc.errPart)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fxNear(t, "cos", got, tc.want, 1e-12)
		})
	}
}

// driftMsgs returns n messages of glyph g whose actions turn away from the
// intent by step radians more with every message.
func driftMsgs(first, n int, glyph string, step float64) []*schemas.MatrizMessage {
	out := make([]*schemas.MatrizMessage, n)
	for i := range out {
		out[i] = fxMsg(first+i, glyph, "trend", schemas.Payload{
			"intent": fxRotated(0, 3),
			"action": fxRotated(float64(first+i)*step, 3),
		})
	}
	return out
}

func TestDriftRisesAndCrossesWarnThenBlock(t *testing.T) {
	d, err := NewDrift()
	if err != nil {
		t.Fatal(err)
	}
	var alerts []schemas.Event
	prevEMA := -1.0
	for seq := int64(0); seq < 10; seq++ {
		f := fxFrame(schemas.LaneCandidate, 0, seq, driftMsgs(int(seq)*3, 3, "g1", 0.04)...)
		if err := d.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		for i := range f.Records {
			r := &f.Records[i]
			ema, ok := r.Score(ScoreDriftEMA)
			if !ok {
				t.Fatalf("frame %d record %d: no drift_ema score", seq, i)
			}
			if ema < prevEMA {
				t.Fatalf("frame %d record %d: EMA fell from %v to %v while intent and action diverge", seq, i, prevEMA, ema)
			}
			prevEMA = ema
			if _, ok := r.Score(ScoreDrift); !ok {
				t.Fatalf("frame %d record %d: no drift score", seq, i)
			}
			fxCrumb(t, r, "drift")
		}
		alerts = append(alerts, fxEvents(f, schemas.EventDriftAlert)...)
	}
	if len(alerts) != 2 {
		t.Fatalf("got %d drift alerts, want one warn then one block: %+v", len(alerts), alerts)
	}
	warn, block := alerts[0], alerts[1]
	fxEqual(t, "first alert level", warn.Payload["level"], "warn")
	fxEqual(t, "second alert level", block.Payload["level"], "block")
	fxEqual(t, "second alert previous", block.Payload["previous"], "warn")
	if e := warn.Payload["ema"].(float64); e < 0.20 || e >= 0.35 {
		t.Fatalf("warn alert at EMA %v, want in [0.20, 0.35)", e)
	}
	if e := block.Payload["ema"].(float64); e < 0.35 {
		t.Fatalf("block alert at EMA %v, want >= 0.35", e)
	}
	for _, a := range alerts {
		if a.GlyphID != "g1" || a.Payload["glyph"] != "g1" || a.Stage != "drift" || a.Lane != schemas.LaneCandidate {
			t.Fatalf("alert does not name glyph, stage and lane: %+v", a)
		}
		if a.ID != DerivedID(a.MsgID, "drift", "drift_alert", a.Payload["level"].(string)) {
			t.Fatalf("alert id %s is not derived from msg id, stage and kind", a.ID)
		}
		if a.TS.Before(fxEpoch) || a.TS.After(fxEpoch.Add(time.Second)) {
			t.Fatalf("alert time %v is not the message's event time", a.TS)
		}
	}
	if d.Alerts() != 2 {
		t.Fatalf("Alerts() = %d, want 2", d.Alerts())
	}
}

func TestDriftAlertsOncePerRiseAndAgainAfterRecovery(t *testing.T) {
	d, err := NewDrift(DriftAlpha(0.5))
	if err != nil {
		t.Fatal(err)
	}
	// Angles per message: aligned, far apart three times (block), aligned
	// until recovered, far apart again.
	angles := []float64{0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 2}
	var levels []string
	for i, a := range angles {
		f := fxFrame(schemas.LaneProd, 3, int64(i), fxMsg(i, "g", "trend", schemas.Payload{"intent": fxRotated(0, 2), "action": fxRotated(a, 2)}))
		if err := d.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		for _, e := range fxEvents(f, schemas.EventDriftAlert) {
			levels = append(levels, e.Payload["level"].(string))
		}
	}
	fxEqual(t, "alert levels", levels, []string{"block", "block"})
}

func TestDriftInvalidInputGivesReasonAndKeepsState(t *testing.T) {
	cases := []struct {
		name   string
		p      schemas.Payload
		reason string
	}{
		{"zero intent", schemas.Payload{"intent": []float64{0, 0}, "action": []float64{1, 0}}, "intent is a zero vector"},
		{"zero action", schemas.Payload{"intent": []float64{1, 0}, "action": []float64{0, 0}}, "action is a zero vector"},
		{"length mismatch", schemas.Payload{"intent": []float64{1, 0}, "action": []float64{1, 0, 0}}, "length mismatch"},
		{"NaN", schemas.Payload{"intent": []float64{math.NaN(), 1}, "action": []float64{1, 0}}, "NaN"},
		{"Inf", schemas.Payload{"intent": []float64{1, 1}, "action": []float64{math.Inf(1), 0}}, "+Inf"},
		{"intent only", schemas.Payload{"intent": []float64{1, 0}}, "intent without action"},
		{"action only", schemas.Payload{"action": []float64{1, 0}}, "action without intent"},
		{"intent not a vector", schemas.Payload{"intent": "up", "action": []float64{1, 0}}, "intent is string"},
		{"action not a vector", schemas.Payload{"intent": []float64{1, 0}, "action": int64(3)}, "action is int64"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, _ := NewDrift()
			warm := fxFrame(schemas.LaneCandidate, 1, 0, fxMsg(1, "g", "trend", schemas.Payload{"intent": []float64{1, 0}, "action": []float64{1, 1}}))
			if err := d.Process(context.Background(), warm); err != nil {
				t.Fatal(err)
			}
			before, _ := d.Snapshot()
			f := fxFrame(schemas.LaneCandidate, 1, 1, fxMsg(2, "g", "trend", tc.p))
			if err := d.Process(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			r := &f.Records[0]
			if len(r.Result.Reasons) != 1 || !strings.HasPrefix(r.Result.Reasons[0], "drift: ") || !strings.Contains(r.Result.Reasons[0], tc.reason) {
				t.Fatalf("reasons = %q, want one drift reason mentioning %q", r.Result.Reasons, tc.reason)
			}
			if !r.Result.OK {
				t.Fatal("drift made the result not ok; only the guardian denies")
			}
			if _, ok := r.Score(ScoreDrift); ok {
				t.Fatal("a drift score was set for an invalid message")
			}
			ema, ok := r.Score(ScoreDriftEMA)
			if !ok {
				t.Fatal("no drift_ema score: the glyph's EMA from before should be carried")
			}
			fxNear(t, "drift_ema", ema, 1-math.Sqrt2/2, 1e-12)
			after, _ := d.Snapshot()
			// Only the frame counter and the (empty) window slot may change.
			var sb, sa driftSnapshot
			_ = decodeSnapshot("drift", before, &sb)
			_ = decodeSnapshot("drift", after, &sa)
			fxEqual(t, "glyphs after an invalid message", sa.Glyphs, sb.Glyphs)
			fxEqual(t, "lane EMA after an invalid message", sa.LaneEMA, sb.LaneEMA)
			fxEqual(t, "window samples", sa.Window[len(sa.Window)-1], cohSlot{})
		})
	}
}

func TestDriftMessageWithoutVectorsPassesWithoutReason(t *testing.T) {
	d, _ := NewDrift()
	f := fxFrame(schemas.LaneProd, 0, 0, fxMsg(1, "new", "memory", schemas.Payload{"fanout": int64(2)}))
	if err := d.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	r := &f.Records[0]
	if len(r.Result.Reasons) != 0 || len(r.Scores) != 0 {
		t.Fatalf("message without intent/action got reasons %q scores %v", r.Result.Reasons, r.Scores)
	}
	fxCrumb(t, r, "drift")
}

func TestDriftNodeAnswerWinsOverInput(t *testing.T) {
	d, _ := NewDrift()
	f := fxFrame(schemas.LaneProd, 0, 0, fxMsg(1, "g", "trend", schemas.Payload{"intent": []float64{1, 0}, "action": []float64{-1, 0}}))
	f.Records[0].Result.Payload = schemas.Payload{"action": []float64{1, 0}}
	if err := d.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Records[0].Score(ScoreDrift); got != 0 {
		t.Fatalf("drift = %v, want 0 from the node's action", got)
	}
}

func TestDriftCoherenceOverWindow(t *testing.T) {
	d, err := NewDrift(DriftWindow(3))
	if err != nil {
		t.Fatal(err)
	}
	// cos per frame: frame 0: 1 (c=0.5 → 0.5), frame 1: 0 (→ 0), frame 2: -1
	// with c absent (→ -1), frame 3: 1 with c=1 (→ 1), frame 4: bad c only.
	type in struct {
		angle float64
		c     any
	}
	frames := [][]in{
		{{0, 0.5}},
		{{math.Pi / 2, 1.0}},
		{{math.Pi, nil}},
		{{0, int64(1)}},
		{{0, 1.5}, {0, "high"}},
	}
	// coherence after each frame's last message: mean over the last 3 frames.
	want := []float64{0.5, 0.25, -0.5 / 3, 0, 0}
	n := 0
	for seq, msgs := range frames {
		var ms []*schemas.MatrizMessage
		for _, m := range msgs {
			p := schemas.Payload{"intent": fxRotated(0, 2), "action": fxRotated(m.angle, 2)}
			if m.c != nil {
				p["constraint_satisfaction"] = m.c
			}
			n++
			ms = append(ms, fxMsg(n, "g", "trend", p))
		}
		f := fxFrame(schemas.LaneCandidate, 0, int64(seq), ms...)
		if err := d.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		last := &f.Records[len(f.Records)-1]
		got, ok := last.Score(ScoreCoherence)
		if !ok {
			t.Fatalf("frame %d: no coherence score", seq)
		}
		fxNear(t, "coherence", got, want[seq], 1e-12)
		if seq == 4 {
			for i := range f.Records {
				rs := f.Records[i].Result.Reasons
				if len(rs) != 1 || !strings.Contains(rs[0], "constraint_satisfaction") {
					t.Fatalf("bad constraint record %d: reasons %q", i, rs)
				}
				if _, ok := f.Records[i].Score(ScoreDrift); !ok {
					t.Fatalf("bad constraint record %d lost its drift score", i)
				}
			}
		}
	}
	st := d.Stats()
	if st.CoherenceSamples != 2 {
		t.Fatalf("stats = %+v, want 2 coherence samples in the last 3 frames", st)
	}
	fxNear(t, "stats coherence", st.Coherence, 0, 1e-12)
}

func TestDriftThresholds(t *testing.T) {
	for _, tc := range []struct {
		opts   []DriftOption
		alerts int
	}{{nil, 1}, {[]DriftOption{DriftThresholds(0.5, 0.9)}, 0}} {
		d, err := NewDrift(tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		// drift 0.4 on the first message: block by default, nothing under 0.5.
		f := fxFrame(schemas.LaneProd, 0, 0, fxMsg(1, "g", "trend", schemas.Payload{"intent": fxRotated(0, 2), "action": fxRotated(math.Acos(0.6), 2)}))
		if err := d.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		if got := len(fxEvents(f, schemas.EventDriftAlert)); got != tc.alerts {
			t.Fatalf("%d options: %d alerts, want %d", len(tc.opts), got, tc.alerts)
		}
	}
}

// TestDriftStateNeverNaN feeds random vectors, a fifth of them broken
// (NaN, ±Inf, zero, mismatched, empty), and checks that every EMA and
// coherence stays finite and in range, and that the state snapshots.
func TestDriftStateNeverNaN(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	d, _ := NewDrift(DriftWindow(5))
	vec := func(n int) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64() * math.Pow(10, float64(rng.IntN(600)-300))
		}
		switch rng.IntN(10) {
		case 0:
			v[rng.IntN(n)] = math.NaN()
		case 1:
			v[rng.IntN(n)] = math.Inf(1 - 2*rng.IntN(2))
		case 2:
			clear(v)
		case 3:
			v = v[:rng.IntN(n)]
		}
		return v
	}
	bad := 0
	for seq := int64(0); seq < 200; seq++ {
		var ms []*schemas.MatrizMessage
		for i := range 25 {
			p := schemas.Payload{"intent": vec(4), "action": vec(4)}
			if rng.IntN(4) == 0 {
				p["constraint_satisfaction"] = []any{math.NaN(), -0.1, 0.3, 1.0, math.Inf(1)}[rng.IntN(5)]
			}
			ms = append(ms, fxMsg(int(seq)*100+i, fxID(rng.IntN(8)), "trend", p))
		}
		f := fxFrame(schemas.LaneProd, 2, seq, ms...)
		if err := d.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		for i := range f.Records {
			r := &f.Records[i]
			for name, v := range r.Scores {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					t.Fatalf("frame %d record %d: score %s = %v", seq, i, name, v)
				}
			}
			if ema, ok := r.Score(ScoreDriftEMA); ok && !inDriftRange(ema) {
				t.Fatalf("drift_ema %v outside [0, 2]", ema)
			}
			if c, ok := r.Score(ScoreCoherence); ok && (c < -1 || c > 1) {
				t.Fatalf("coherence %v outside [-1, 1]", c)
			}
			bad += len(r.Result.Reasons)
		}
		if _, err := d.Snapshot(); err != nil {
			t.Fatalf("frame %d: state does not snapshot (NaN?): %v", seq, err)
		}
	}
	if bad == 0 {
		t.Fatal("no broken input was generated; the property was not exercised")
	}
	s := d.Stats()
	if math.IsNaN(s.EMA) || math.IsNaN(s.Coherence) || s.Samples == 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestDriftRestoreIntoASmallerWindowKeepsTheNewestFrames: W may change
// between the run that wrote a snapshot and the one that restores it.
func TestDriftRestoreIntoASmallerWindowKeepsTheNewestFrames(t *testing.T) {
	a, _ := NewDrift(DriftWindow(4))
	for seq := range int64(6) {
		f := fxFrame(schemas.LaneProd, 4, seq, driftMsgs(int(seq)*(int(seq)+1), int(seq)+1, "g", 0.1)...)
		if err := a.Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
	}
	snap, _ := a.Snapshot()
	c, _ := NewDrift(DriftWindow(2))
	if err := c.Restore(snap); err != nil {
		t.Fatal(err)
	}
	small, _ := c.Snapshot()
	var s driftSnapshot
	_ = decodeSnapshot("drift", small, &s)
	fxEqual(t, "window after restore into W=2", s.Window, []cohSlot{{Sum: s.Window[0].Sum, N: 5}, {Sum: s.Window[1].Sum, N: 6}})
}

func TestDriftRestoresLegacySnapshot(t *testing.T) {
	restored, _ := NewDrift()
	twin, _ := NewDrift()
	checkLegacyRestore(t, StageDrift, restored, twin, legacyDriftFrames, func() {})
}

func TestDriftRestoreRejectsBadState(t *testing.T) {
	env := func(state string) string { return `{"format":2,"stage":"drift","state":` + state + `}` }
	cases := map[string]string{
		"not json":             `{`,
		"another stage":        `{"format":2,"stage":"guardian","state":{"lane":"prod"}}`,
		"unknown field":        env(`{"lane":"prod","extra":1}`),
		"legacy unknown field": `{"v":1,"lane":"prod","extra":1}`,
		"legacy version":       `{"v":9,"lane":"prod"}`,
		"lane":                 env(`{"lane":"staging"}`),
		"no lane":              env(`null`),
		"lane ema":             env(`{"lane":"prod","lane_ema":3}`),
		"negative count":       `{"v":1,"lane":"prod","lane_n":-1}`,
		"glyph ema":            env(`{"lane":"prod","glyphs":{"g":{"ema":-1,"n":1}}}`),
		"glyph level":          env(`{"lane":"prod","glyphs":{"g":{"ema":0.1,"n":1,"level":7}}}`),
		"glyph samples":        env(`{"lane":"prod","glyphs":{"g":{"ema":0.1,"n":0}}}`),
		"window slot":          env(`{"lane":"prod","window":[{"sum":3,"n":2}]}`),
	}
	for name, state := range cases {
		t.Run(name, func(t *testing.T) {
			d, _ := NewDrift()
			_ = d.Process(context.Background(), fxFrame(schemas.LaneCandidate, 0, 0, driftMsgs(0, 3, "g", 0.3)...))
			before, _ := d.Snapshot()
			err := d.Restore([]byte(state))
			if !errors.Is(err, ErrSnapshot) || !strings.HasPrefix(err.Error(), "drift: restore: found ") {
				t.Fatalf("Restore(%s) = %v, want ErrSnapshot", state, err)
			}
			if after, _ := d.Snapshot(); string(after) != string(before) {
				t.Fatalf("a refused restore changed the state from %s to %s", before, after)
			}
		})
	}
}

func TestDriftRefusesFramesOfAnotherLaneOrNoLane(t *testing.T) {
	d, _ := NewDrift()
	if err := d.Process(context.Background(), fxFrame(schemas.LaneProd, 0, 0)); err != nil {
		t.Fatal(err)
	}
	err := d.Process(context.Background(), fxFrame(schemas.LaneCandidate, 0, 1))
	if !errors.Is(err, ErrPartitionLane) || !strings.Contains(err.Error(), "instance works lane prod, frame 1 of partition 0 is from lane candidate") {
		t.Fatalf("frame of another lane: %v", err)
	}
	err = d.Process(context.Background(), fxFrame("", 1, 0))
	if !errors.Is(err, ErrFrameLane) {
		t.Fatalf("frame without lane: %v", err)
	}
}

func TestDriftStatsAndPoolDriftStats(t *testing.T) {
	p0, _ := NewDrift()
	p1, _ := NewDrift()
	other, _ := NewDrift()
	fresh, _ := NewDrift()
	// Partition 0: two glyphs; g0 aligned, g1 opposite (block).
	f0 := fxFrame(schemas.LaneProd, 0, 0,
		fxMsg(1, "g0", "trend", schemas.Payload{"intent": []float64{1, 0}, "action": []float64{1, 0}}),
		fxMsg(2, "g1", "trend", schemas.Payload{"intent": []float64{1, 0}, "action": []float64{-1, 0}}),
	)
	// Partition 1: one glyph at warn (drift 0.25).
	f1 := fxFrame(schemas.LaneProd, 1, 0, fxMsg(3, "g2", "trend", schemas.Payload{"intent": fxRotated(0, 2), "action": fxRotated(math.Acos(0.75), 2)}))
	// Another lane's partition does not count.
	f2 := fxFrame(schemas.LaneCandidate, 0, 0, fxMsg(4, "g3", "trend", schemas.Payload{"intent": []float64{1, 0}, "action": []float64{0, 1}}))
	for _, run := range []struct {
		d *Drift
		f *Frame
	}{{p0, f0}, {p1, f1}, {other, f2}} {
		if err := run.d.Process(context.Background(), run.f); err != nil {
			t.Fatal(err)
		}
	}
	s0, s1 := p0.Stats(), p1.Stats()
	fxEqual(t, "lane and partition", [2]any{s0.Lane, s1.Partition}, [2]any{schemas.LaneProd, int32(1)})
	// Lane EMA of partition 0: starts at 0, then 0.2·2 + 0.8·0 = 0.4.
	fxNear(t, "p0 EMA", s0.EMA, 0.4, 1e-12)
	fxEqual(t, "p0 counts", [3]int{s0.Glyphs, s0.Warn, s0.Block}, [3]int{2, 0, 1})
	fxEqual(t, "p1 counts", [3]int{s1.Glyphs, s1.Warn, s1.Block}, [3]int{1, 1, 0})
	fxNear(t, "p0 coherence", s0.Coherence, 0, 1e-12)
	agg := PoolDriftStats(schemas.LaneProd, []DriftStats{s0, s1, other.Stats(), fresh.Stats()})
	fxEqual(t, "pooled partition", agg.Partition, int32(-1))
	fxNear(t, "lane EMA", agg.EMA, (0.4*2+0.25*1)/3, 1e-12)
	fxNear(t, "lane coherence", agg.Coherence, (1-1+0.75)/3, 1e-12)
	fxEqual(t, "lane counts", [4]int64{agg.Samples, int64(agg.Glyphs), int64(agg.Warn), int64(agg.Block)}, [4]int64{3, 3, 1, 1})
	if empty := PoolDriftStats(schemas.LaneExperimental, []DriftStats{s0, fresh.Stats()}); empty.Samples != 0 || empty.EMA != 0 || empty.Coherence != 0 {
		t.Fatalf("a lane without partitions: %+v", empty)
	}
	if fs := fresh.Stats(); fs.Lane != "" || fs.Samples != 0 || fs.CoherenceSamples != 0 {
		t.Fatalf("stats of an instance that has seen no frame: %+v", fs)
	}
	// The figures survive a restore, though only Stats shows the lane EMA.
	snap, _ := p0.Snapshot()
	if err := fresh.Restore(snap); err != nil {
		t.Fatal(err)
	}
	fxEqual(t, "stats after a restore", fresh.Stats(), s0)
}

func TestDriftForgetsIdleGlyphs(t *testing.T) {
	d, _ := NewDrift(DriftIdleTTL(time.Second))
	vec := schemas.Payload{"intent": []float64{1, 0}, "action": []float64{1, 1}}
	for seq := int64(0); seq < driftSweepEvery; seq++ {
		var ms []*schemas.MatrizMessage
		if seq == 0 {
			ms = append(ms, fxMsg(1, "old", "trend", vec))
		}
		if seq == driftSweepEvery-1 {
			ms = append(ms, fxMsg(2, "fresh", "trend", vec))
		}
		if err := d.Process(context.Background(), fxFrame(schemas.LaneProd, 0, seq, ms...)); err != nil {
			t.Fatal(err)
		}
		if seq == driftSweepEvery-2 && d.Stats().Glyphs != 1 {
			t.Fatal("glyph forgotten before the sweep")
		}
	}
	snap, _ := d.Snapshot()
	var s driftSnapshot
	_ = decodeSnapshot("drift", snap, &s)
	if _, ok := s.Glyphs["old"]; ok || len(s.Glyphs) != 1 {
		t.Fatalf("after the sweep glyphs = %v, want only fresh", s.Glyphs)
	}
}

func TestDriftLevelString(t *testing.T) {
	fxEqual(t, "levels", []string{DriftNone.String(), DriftWarn.String(), DriftBlock.String(), DriftLevel(9).String()},
		[]string{"none", "warn", "block", "DriftLevel(9)"})
}

func BenchmarkDrift(b *testing.B) {
	d, _ := NewDrift()
	rng := rand.New(rand.NewPCG(1, 2))
	msgs := make([]*schemas.MatrizMessage, 1000)
	for i := range msgs {
		msgs[i] = fxMsg(i, fxID(rng.IntN(200)), "trend", schemas.Payload{
			"intent": fxRotated(rng.Float64(), 8), "action": fxRotated(rng.Float64()*2, 8), "constraint_satisfaction": rng.Float64(),
		})
	}
	benchFrames(b, d, schemas.LaneProd, msgs)
}
