package stages

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// lnFrame is frame seq of partition 0: records on topic "idea" routed to
// the creative node, the others to another node, all dispatched when
// dispatch is set; the frame runs with LEARNING_ENABLED = learning.
func lnFrame(lane schemas.Lane, seq int64, learning, dispatch bool, msgs ...*schemas.MatrizMessage) *Frame {
	f := fxFrame(lane, 0, seq, msgs...)
	f.Flags = Flags{Dispatch: dispatch, Learning: learning}
	for i := range f.Records {
		r := &f.Records[i]
		node := "consciousness"
		if r.Msg.Topic == "idea" {
			node = DefaultLearnNode
		}
		r.Route = &Route{Topic: r.Msg.Topic, Node: node, Dispatch: dispatch}
	}
	return f
}

// lnIdea is an idea x of glyph g, as the creative node takes it.
func lnIdea(n int, glyph string, x ...float64) *schemas.MatrizMessage {
	return fxMsg(n, glyph, "idea", schemas.Payload{"features": x, "value": 0.5})
}

func lnRun(t *testing.T, l *Learn, f *Frame) *Frame {
	t.Helper()
	if err := l.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	return f
}

func newLearn(t *testing.T, opts ...LearnOption) *Learn {
	t.Helper()
	l, err := NewLearn(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// lnCrumb returns the data of r's learn crumb, or nil when it has none.
func lnCrumb(t *testing.T, r *Record) schemas.Payload {
	t.Helper()
	var out schemas.Payload
	for _, c := range r.Result.Trace {
		if c.Stage == StageLearn {
			if out != nil {
				t.Fatalf("record %s has two learn crumbs", r.Msg.MsgID)
			}
			if !c.T.Equal(r.Msg.TS) {
				t.Fatalf("learn crumb at %v, want the message's event time %v", c.T, r.Msg.TS)
			}
			out = c.Data
		}
	}
	return out
}

// lnInjected returns the centroid and count r's node is given, or nil.
func lnInjected(t *testing.T, r *Record) ([]float64, int64) {
	t.Helper()
	if r.NodeMsg == nil {
		if _, ok := r.Msg.Payload["centroid"]; ok {
			return r.Msg.Payload["centroid"].([]float64), r.Msg.Payload["centroid_n"].(int64)
		}
		return nil, 0
	}
	c, _ := r.NodeMsg.Payload.Vector("centroid")
	n, _ := r.NodeMsg.Payload.Int("centroid_n")
	return c, n
}

func lnCentroid(l *Learn, glyph string) ([]float64, int64) {
	g := l.st.glyphs[glyph]
	if g == nil {
		return nil, 0
	}
	return g.C, g.N
}

func TestNewLearnRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		opt    LearnOption
		option string
	}{
		{LearnNode(""), "LearnNode"},
		{LearnWindow(0), "LearnWindow"},
		{LearnWindow(-5), "LearnWindow"},
		{LearnMaxGlyphs(0), "LearnMaxGlyphs"},
	} {
		_, err := NewLearn(tc.opt)
		var oe *OptionError
		if !errors.Is(err, ErrLearnConfig) || !errors.As(err, &oe) || oe.Option != tc.option || oe.Stage != StageLearn {
			t.Fatalf("NewLearn(%s) = %v, want an OptionError of %s wrapping ErrLearnConfig", tc.option, err, tc.option)
		}
	}
	if _, err := NewLearn(LearnWindow(1), LearnMaxGlyphs(1), LearnNode("muse")); err != nil {
		t.Fatalf("the smallest settings: %v", err)
	}
}

// TestLearnFlagOffFreezesTheInjectedCentroid: with LEARNING_ENABLED off,
// the centroid learned earlier is injected into every idea, and it is the
// same before and after any number of records.
func TestLearnFlagOffFreezesTheInjectedCentroid(t *testing.T) {
	l := newLearn(t)
	lnRun(t, l, lnFrame(schemas.LaneProd, 0, true, true, lnIdea(1, "g", 1, 0), lnIdea(2, "g", 0, 1)))
	want, wantN := lnCentroid(l, "g")
	fxEqual(t, "learned centroid", want, []float64{0.5, 0.5})
	before, _ := l.Snapshot()
	for seq := int64(1); seq <= 20; seq++ {
		f := lnRun(t, l, lnFrame(schemas.LaneProd, seq, false, true, lnIdea(int(seq)*10, "g", float64(seq), -3), lnIdea(int(seq)*10+1, "g", -1, float64(seq))))
		for i := range f.Records {
			r := &f.Records[i]
			c, n := lnInjected(t, r)
			fxEqual(t, "injected centroid", c, want)
			fxEqual(t, "injected count", n, wantN)
			fxEqual(t, "crumb", lnCrumb(t, r), schemas.Payload{"injected": true, "learned": false, "centroid_n": wantN})
		}
	}
	after, _ := l.Snapshot()
	fxEqual(t, "state after 40 ideas with learning off", string(after), string(before))
	if s := l.Stats(); s.Learned != 2 || s.Glyphs != 1 {
		t.Fatalf("stats %+v, want 2 learned on 1 glyph", s)
	}
}

// TestLearnFlagOnMovesTowardTheInputs: each idea is folded into the mean,
// injected before it is, so the node measures it against the ideas before.
func TestLearnFlagOnMovesTowardTheInputs(t *testing.T) {
	l := newLearn(t)
	f := lnRun(t, l, lnFrame(schemas.LaneCandidate, 0, true, true, lnIdea(1, "g", 1, 0, 0)))
	if c, _ := lnInjected(t, &f.Records[0]); c != nil {
		t.Fatalf("the first idea of a glyph got centroid %v; nothing was learned before it", c)
	}
	fxEqual(t, "first crumb", lnCrumb(t, &f.Records[0]), schemas.Payload{"injected": false, "learned": true, "centroid_n": int64(1)})
	target := []float64{0, 1, 0}
	prevCos := -2.0
	for seq := int64(1); seq <= 30; seq++ {
		c0, n0 := lnCentroid(l, "g")
		f := lnRun(t, l, lnFrame(schemas.LaneCandidate, seq, true, true, lnIdea(int(seq), "g", target...)))
		r := &f.Records[0]
		c, n := lnInjected(t, r)
		fxEqual(t, "injected is the centroid before the record", c, c0)
		fxEqual(t, "injected count", n, n0)
		c1, n1 := lnCentroid(l, "g")
		fxEqual(t, "count", n1, n0+1)
		fxEqual(t, "crumb", lnCrumb(t, r), schemas.Payload{"injected": true, "learned": true, "centroid_n": n1})
		// c' = c + (x − c)/n'
		for i := range c1 {
			fxNear(t, "centroid element", c1[i], c0[i]+(target[i]-c0[i])/float64(n1), 1e-15)
		}
		cos, err := cosine(c1, target)
		if err != nil || cos <= prevCos {
			t.Fatalf("frame %d: cos(centroid, input) = %v (%v), was %v: want it to grow", seq, cos, err, prevCos)
		}
		prevCos = cos
	}
	c, _ := lnCentroid(l, "g")
	fxNear(t, "centroid[0] is the mean of 1 and thirty 0s", c[0], 1.0/31, 1e-12)
}

// TestLearnInjectsOnlyWhenThePayloadLacksACentroid: a centroid the message
// carries is the sender's; the stage adds one only where there is none,
// only for a node that is called, and never touches the input.
func TestLearnInjectsOnlyWhenThePayloadLacksACentroid(t *testing.T) {
	l := newLearn(t)
	lnRun(t, l, lnFrame(schemas.LaneProd, 0, true, true, lnIdea(1, "g", 3, 4)))
	own := lnIdea(2, "g", 1, 1)
	own.Payload["centroid"], own.Payload["centroid_n"] = []float64{9, 9}, int64(7)
	onlyN := lnIdea(3, "g", 1, 1)
	onlyN.Payload["centroid_n"] = int64(7)
	plain := lnIdea(4, "g", 1, 1)
	plainBefore := plain.Payload.Clone()
	f := lnRun(t, l, lnFrame(schemas.LaneProd, 1, false, true, own, onlyN, plain))
	for i, want := range []*schemas.MatrizMessage{own, onlyN} {
		r := &f.Records[i]
		if r.NodeMsg != nil || r.NodeInput() != want {
			t.Fatalf("record %d carries its own centroid or count, yet the node gets %+v", i, r.NodeMsg)
		}
		if d := lnCrumb(t, r); d != nil {
			t.Fatalf("record %d: nothing injected or learned, yet a crumb %v", i, d)
		}
	}
	r := &f.Records[2]
	c, n := lnInjected(t, r)
	fxEqual(t, "injected", [2]any{c, n}, [2]any{[]float64{3, 4}, int64(1)})
	fxEqual(t, "the input's payload", plain.Payload, plainBefore)
	if r.Msg != plain || r.NodeMsg == plain || r.NodeMsg.MsgID != plain.MsgID || r.NodeMsg.Payload["value"] != 0.5 {
		t.Fatalf("node input %+v: want a copy of the input with the centroid added", r.NodeMsg)
	}

	// Log-only (no node called): nothing to inject, so nothing to say.
	f = lnRun(t, l, lnFrame(schemas.LaneProd, 2, false, false, lnIdea(5, "g", 1, 1)))
	if f.Records[0].NodeMsg != nil || lnCrumb(t, &f.Records[0]) != nil {
		t.Fatalf("log-only record: node input %+v, crumb %v", f.Records[0].NodeMsg, lnCrumb(t, &f.Records[0]))
	}
	// A glyph with nothing learned and learning off: nothing at all.
	f = lnRun(t, l, lnFrame(schemas.LaneProd, 3, false, true, lnIdea(6, "new", 1, 1)))
	if f.Records[0].NodeMsg != nil || lnCrumb(t, &f.Records[0]) != nil {
		t.Fatalf("unknown glyph, learning off: node input %+v, crumb %v", f.Records[0].NodeMsg, lnCrumb(t, &f.Records[0]))
	}
}

// TestLearnInjectedCentroidIsNotChangedByLaterLearning: a payload handed to
// the node keeps the centroid it was given when the glyph learns on.
func TestLearnInjectedCentroidIsNotChangedByLaterLearning(t *testing.T) {
	l := newLearn(t)
	f := lnRun(t, l, lnFrame(schemas.LaneProd, 0, true, true, lnIdea(1, "g", 1, 0), lnIdea(2, "g", 0, 1), lnIdea(3, "g", 0, 1)))
	c, _ := lnInjected(t, &f.Records[1])
	fxEqual(t, "centroid injected into the second idea", c, []float64{1, 0})
	c, _ = lnInjected(t, &f.Records[2])
	fxEqual(t, "centroid injected into the third idea", c, []float64{0.5, 0.5})
}

func TestLearnWindowBoundsTheCount(t *testing.T) {
	l := newLearn(t, LearnWindow(3))
	xs := [][]float64{{1, 0}, {0, 1}, {1, 1}, {4, 0}, {0, 4}}
	var ns []int64
	for i, x := range xs {
		lnRun(t, l, lnFrame(schemas.LaneProd, int64(i), true, true, lnIdea(i, "g", x...)))
		_, n := lnCentroid(l, "g")
		ns = append(ns, n)
	}
	fxEqual(t, "counts", ns, []int64{1, 2, 3, 3, 3})
	// The mean of the first three is (2/3, 2/3); then each idea weighs 1/3.
	want := []float64{2.0 / 3, 2.0 / 3}
	for _, x := range xs[3:] {
		for i := range want {
			want[i] += (x[i] - want[i]) / 3
		}
	}
	c, _ := lnCentroid(l, "g")
	for i := range want {
		fxNear(t, "centroid element", c[i], want[i], 1e-15)
	}
}

func TestLearnRefusesADimensionMismatch(t *testing.T) {
	l := newLearn(t)
	lnRun(t, l, lnFrame(schemas.LaneProd, 0, true, true, lnIdea(1, "g", 1, 2)))
	before, _ := l.Snapshot()
	for _, learning := range []bool{true, false} {
		f := lnRun(t, l, lnFrame(schemas.LaneProd, 1, learning, true, lnIdea(2, "g", 1, 2, 3)))
		r := &f.Records[0]
		if r.NodeMsg != nil {
			t.Fatalf("learning %v: a centroid of 2 elements was injected for 3 features", learning)
		}
		fxEqual(t, "crumb", lnCrumb(t, r), schemas.Payload{"injected": false, "learned": false, "centroid_n": int64(1),
			"reason": "features has 3 elements, the glyph's learned centroid 2"})
	}
	after, _ := l.Snapshot()
	fxEqual(t, "state", string(after), string(before))
}

// TestLearnRefusesFeaturesTheNodeWould: what the creative node refuses is
// not learned, with the reason on the crumb, and the state never holds a
// NaN or an unusable direction.
func TestLearnRefusesFeaturesTheNodeWould(t *testing.T) {
	long := make([]float64, LearnMaxDim+1)
	long[0] = 1
	for _, tc := range []struct {
		name     string
		features any
		reason   string
	}{
		{"NaN", []float64{1, math.NaN()}, "features[1] is NaN"},
		{"Inf", []float64{math.Inf(-1), 1}, "features[0] is -Inf"},
		{"empty", []float64{}, "features is empty"},
		{"zero", []float64{0, 0}, "features is all zero"},
		{"overflow", []float64{1e200, 1}, "features is too large: its length overflows"},
		{"type", []string{"a"}, "features is []string, want array<double>"},
		{"long", long, "features has 257 elements; at most 256 are learned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLearn(t)
			m := fxMsg(1, "g", "idea", schemas.Payload{"features": tc.features})
			f := lnRun(t, l, lnFrame(schemas.LaneProd, 0, true, true, m))
			fxEqual(t, "crumb", lnCrumb(t, &f.Records[0]), schemas.Payload{"injected": false, "learned": false, "centroid_n": int64(0), "reason": tc.reason})
			if s, _ := l.Snapshot(); string(s) != `{"format":2,"stage":"learn","state":{"lane":"prod","glyphs":{}}}` {
				t.Fatalf("state %s, want no glyph", s)
			}
		})
	}
	t.Run("a step that would overflow", func(t *testing.T) {
		l := newLearn(t)
		lnRun(t, l, lnFrame(schemas.LaneProd, 0, true, true, lnIdea(1, "g", 1e153, -1e153)))
		before, _ := l.Snapshot()
		f := lnRun(t, l, lnFrame(schemas.LaneProd, 1, true, true, lnIdea(2, "g", -1e153, 1e153)))
		d := lnCrumb(t, &f.Records[0])
		if d["learned"] != false || !strings.Contains(d["reason"].(string), "all zero; not learned") {
			t.Fatalf("crumb %v, want a refusal: the mean of x and -x has no direction", d)
		}
		if after, _ := l.Snapshot(); string(after) != string(before) {
			t.Fatalf("a refused step changed the state from %s to %s", before, after)
		}
	})
	t.Run("no features", func(t *testing.T) {
		l := newLearn(t)
		f := lnRun(t, l, lnFrame(schemas.LaneProd, 0, true, true, fxMsg(1, "g", "idea", schemas.Payload{"value": 0.5, "features": nil})))
		if d := lnCrumb(t, &f.Records[0]); d != nil {
			t.Fatalf("a message without features is not an idea, yet crumb %v", d)
		}
	})
}

func TestLearnCapsGlyphs(t *testing.T) {
	l := newLearn(t, LearnMaxGlyphs(2))
	f := lnRun(t, l, lnFrame(schemas.LaneProd, 0, true, true, lnIdea(1, "a", 1, 0), lnIdea(2, "b", 0, 1), lnIdea(3, "c", 1, 1), lnIdea(4, "a", 0, 1)))
	d := lnCrumb(t, &f.Records[2])
	fxEqual(t, "crumb past the cap", d, schemas.Payload{"injected": false, "learned": false, "centroid_n": int64(0),
		"reason": "the partition holds learned centroids of max_glyphs (2) glyphs; a new glyph is not learned"})
	fxEqual(t, "a glyph under the cap learns on", lnCrumb(t, &f.Records[3])["centroid_n"], int64(2))
	if s := l.Stats(); s.Glyphs != 2 || s.OverCap != 1 || s.Learned != 3 || s.Lane != schemas.LaneProd {
		t.Fatalf("stats %+v, want 2 glyphs, 1 over the cap, 3 learned", s)
	}
	for seq := int64(1); seq < 100; seq++ {
		lnRun(t, l, lnFrame(schemas.LaneProd, seq, true, true, lnIdea(int(seq)*10, fxID(int(seq)), 1, 1)))
	}
	if s := l.Stats(); s.Glyphs != 2 || s.OverCap != 100 {
		t.Fatalf("after 99 more new glyphs: stats %+v, want 2 glyphs and 100 refused", s)
	}
}

func TestLearnLeavesOtherRecordsAlone(t *testing.T) {
	l := newLearn(t)
	lnRun(t, l, lnFrame(schemas.LaneProd, 0, true, true, lnIdea(1, "g", 1, 0)))
	other := fxMsg(2, "g", "trend", schemas.Payload{"features": []float64{1, 0}})
	dropped, failed, unrouted := lnIdea(3, "g", 1, 0), lnIdea(4, "g", 1, 0), lnIdea(5, "g", 1, 0)
	f := lnFrame(schemas.LaneProd, 1, true, true, other, dropped, failed, unrouted)
	f.Records[1].Dropped = true
	f.Records[2].Fail("decode", "bad")
	f.Records[3].Route = nil
	before, _ := l.Snapshot()
	lnRun(t, l, f)
	for i := range f.Records {
		if r := &f.Records[i]; r.NodeMsg != nil || lnCrumb(t, r) != nil {
			t.Fatalf("record %d (not the creative node's, or not live): node input %+v", i, r.NodeMsg)
		}
	}
	if after, _ := l.Snapshot(); string(after) != string(before) {
		t.Fatalf("state changed from %s to %s", before, after)
	}
	// Another node name takes that node's records.
	m := newLearn(t, LearnNode("consciousness"))
	f = lnRun(t, m, lnFrame(schemas.LaneProd, 0, true, true, fxMsg(6, "g", "trend", schemas.Payload{"features": []float64{1, 0}})))
	if lnCrumb(t, &f.Records[0])["learned"] != true {
		t.Fatal("a stage set to learn the consciousness node's records did not")
	}
}

// TestLearnSnapshotRoundTrip: a restored instance injects and learns as
// the one it was taken from, and snapshots to the same bytes.
func TestLearnSnapshotRoundTrip(t *testing.T) {
	a := newLearn(t, LearnWindow(5))
	for seq := range int64(4) {
		lnRun(t, a, lnFrame(schemas.LaneProd, seq, true, true, lnIdea(int(seq), "g", 1, float64(seq)), lnIdea(int(seq)+10, "h", -float64(seq), 1)))
	}
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b := newLearn(t, LearnWindow(5))
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	again, _ := b.Snapshot()
	fxEqual(t, "snapshot of the restored state", string(again), string(snap))
	fa := lnRun(t, a, lnFrame(schemas.LaneProd, 9, true, true, lnIdea(90, "g", 0.5, 0.5), lnIdea(91, "h", 2, 2)))
	fb := lnRun(t, b, lnFrame(schemas.LaneProd, 9, true, true, lnIdea(90, "g", 0.5, 0.5), lnIdea(91, "h", 2, 2)))
	if !reflect.DeepEqual(fa, fb) {
		t.Fatalf("the restored instance decided otherwise:\n%+v\n%+v", fb.Records, fa.Records)
	}
	sa, _ := a.Snapshot()
	sb, _ := b.Snapshot()
	fxEqual(t, "state after one more frame", string(sb), string(sa))
}

// TestLearnRestoredStateRefusesAnotherLane: state restored from a lane's
// changelog binds the instance to that lane.
func TestLearnRestoredStateRefusesAnotherLane(t *testing.T) {
	a := newLearn(t)
	lnRun(t, a, lnFrame(schemas.LaneProd, 0, true, true, lnIdea(1, "g", 1, 0)))
	snap, _ := a.Snapshot()
	b := newLearn(t)
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	err := b.Process(context.Background(), lnFrame(schemas.LaneCandidate, 1, true, true, lnIdea(2, "g", 1, 0)))
	if !errors.Is(err, ErrPartitionLane) || !strings.Contains(err.Error(), "instance works lane prod") {
		t.Fatalf("a candidate frame into prod's restored state: %v, want ErrPartitionLane", err)
	}
	if err := b.Process(context.Background(), lnFrame("", 1, true, true)); !errors.Is(err, ErrFrameLane) {
		t.Fatalf("a frame without a lane: %v", err)
	}
	if s, _ := b.Snapshot(); string(s) != string(snap) {
		t.Fatalf("refused frames changed the state to %s", s)
	}
}

// TestLearnRestoreFitsASmallerWindowAndCap: a snapshot from a run with a
// larger window or max_glyphs restores, fitted to this one.
func TestLearnRestoreFitsASmallerWindowAndCap(t *testing.T) {
	state := `{"format":2,"stage":"learn","state":{"lane":"prod","glyphs":{` +
		`"c":{"c":[1,0],"n":900},"a":{"c":[0,1],"n":2},"b":{"c":[1,1],"n":40}}}}`
	l := newLearn(t, LearnWindow(10), LearnMaxGlyphs(2))
	if err := l.Restore([]byte(state)); err != nil {
		t.Fatal(err)
	}
	got, _ := l.Snapshot()
	fxEqual(t, "fitted state", string(got), `{"format":2,"stage":"learn","state":{"lane":"prod","glyphs":{"a":{"c":[0,1],"n":2,"v":2},"b":{"c":[1,1],"n":10,"v":40}}}}`)
}

func TestLearnRestoreRejectsBadState(t *testing.T) {
	env := func(state string) string { return `{"format":2,"stage":"learn","state":` + state + `}` }
	for name, bad := range map[string]string{
		"not json":      `{`,
		"another stage": `{"format":2,"stage":"drift","state":{"lane":"prod"}}`,
		"unknown field": env(`{"lane":"prod","extra":1}`),
		"lane":          env(`{"lane":"staging"}`),
		"no lane":       env(`null`),
		"glyph count":   env(`{"lane":"prod","glyphs":{"g":{"c":[1],"n":0}}}`),
		"no centroid":   env(`{"lane":"prod","glyphs":{"g":{"n":1}}}`),
		"zero":          env(`{"lane":"prod","glyphs":{"g":{"c":[0,0],"n":1}}}`),
		"empty id":      env(`{"lane":"prod","glyphs":{"":{"c":[1],"n":1}}}`),
		"long":          env(`{"lane":"prod","glyphs":{"g":{"c":[` + strings.Repeat("1,", LearnMaxDim) + `1],"n":1}}}`),
		"element":       env(`{"lane":"prod","glyphs":{"g":{"c":["x"],"n":1}}}`),
	} {
		t.Run(name, func(t *testing.T) {
			l := newLearn(t)
			lnRun(t, l, lnFrame(schemas.LaneCandidate, 0, true, true, lnIdea(1, "g", 1, 2)))
			before, _ := l.Snapshot()
			err := l.Restore([]byte(bad))
			if !errors.Is(err, ErrSnapshot) || !strings.HasPrefix(err.Error(), "learn: restore: found ") {
				t.Fatalf("Restore(%s) = %v, want ErrSnapshot", bad, err)
			}
			if after, _ := l.Snapshot(); string(after) != string(before) {
				t.Fatalf("a refused restore changed the state from %s to %s", before, after)
			}
		})
	}
}

// TestLearnStopsWhenTheFrameContextEnds: a cancelled frame is refused
// before any record, and one cancelled during the frame stops at the next
// look at the context.
func TestLearnStopsWhenTheFrameContextEnds(t *testing.T) {
	l := newLearn(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Process(ctx, lnFrame(schemas.LaneProd, 0, true, true, lnIdea(1, "g", 1, 0))); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: %v", err)
	}
	var ms []*schemas.MatrizMessage
	for i := range 2 * recordsPerCtxCheck {
		ms = append(ms, lnIdea(i, fxID(i), 1, 0))
	}
	// The context ends after the stage's first look at it.
	err := l.Process(&endsAfter{Context: context.Background(), looks: 1}, lnFrame(schemas.LaneProd, 1, true, true, ms...))
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "stopped at record 64") {
		t.Fatalf("context ended during the frame: %v", err)
	}
	if s := l.Stats(); s.Glyphs != recordsPerCtxCheck {
		t.Fatalf("%d glyphs learned, want the %d records before the stop", s.Glyphs, recordsPerCtxCheck)
	}
}

// endsAfter is a context that ends once Err has been asked looks times: a
// shutdown arriving mid-frame, at a known record.
type endsAfter struct {
	context.Context
	looks int
}

func (c *endsAfter) Err() error {
	if c.looks == 0 {
		return context.Canceled
	}
	c.looks--
	return nil
}

// TestLearnEmitsAVersionedEventPerGlyphAndFrameItLearned: a frame that
// learns gives one learned_state event per glyph it changed, in the order
// they first changed, with the version counting every idea learned (past
// the window too), the centroid and n after the frame; a frame with the
// flag off, or that learned nothing, gives none.
func TestLearnEmitsAVersionedEventPerGlyphAndFrameItLearned(t *testing.T) {
	l := newLearn(t, LearnWindow(2))
	f := lnRun(t, l, lnFrame(schemas.LaneProd, 1, true, true,
		lnIdea(1, "b", 1, 0), lnIdea(2, "a", 0, 1), lnIdea(3, "b", 0, 1), fxMsg(4, "c", "other", nil)))
	if len(f.Events) != 2 {
		t.Fatalf("%d events, want one per glyph learned (b, a): %+v", len(f.Events), f.Events)
	}
	b, a := f.Events[0], f.Events[1]
	if b.GlyphID != "b" || a.GlyphID != "a" || b.Kind != schemas.EventLearnedState || b.Stage != StageLearn || b.Lane != schemas.LaneProd {
		t.Fatalf("events %+v, %+v: want learned_state for b then a", b, a)
	}
	if v, _ := b.Payload.Int("version"); v != 2 {
		t.Fatalf("b's version %d after two ideas, want 2", v)
	}
	if ideas, _ := b.Payload.Int("ideas"); ideas != 2 || b.MsgID != f.Records[2].Msg.MsgID {
		t.Fatalf("b's event: %d ideas from last message %s; want 2 from %s", ideas, b.MsgID, f.Records[2].Msg.MsgID)
	}
	if c, _ := b.Payload.Vector("centroid"); !slices.Equal(c, []float64{0.5, 0.5}) {
		t.Fatalf("b's centroid %v, want the mean [0.5 0.5]", c)
	}

	// Past the window n stays at 2; the version goes on.
	f = lnRun(t, l, lnFrame(schemas.LaneProd, 2, true, true, lnIdea(5, "b", 1, 1)))
	if len(f.Events) != 1 {
		t.Fatalf("%d events, want 1", len(f.Events))
	}
	v, _ := f.Events[0].Payload.Int("version")
	n, _ := f.Events[0].Payload.Int("centroid_n")
	if v != 3 || n != 2 {
		t.Fatalf("version %d, n %d: want 3 and the window's 2", v, n)
	}
	if f.Events[0].ID == b.ID {
		t.Fatal("two versions of one glyph share an event id")
	}

	if f := lnRun(t, l, lnFrame(schemas.LaneProd, 3, false, true, lnIdea(6, "b", 1, 1))); len(f.Events) != 0 {
		t.Fatalf("flag off: %d events, want none", len(f.Events))
	}
	if f := lnRun(t, l, lnFrame(schemas.LaneProd, 4, true, true, lnIdea(7, "b", 1, 1, 1))); len(f.Events) != 0 {
		t.Fatalf("an idea refused: %d events, want none", len(f.Events))
	}

	// The version survives a snapshot.
	snap, err := l.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	r := newLearn(t, LearnWindow(2))
	if err := r.Restore(snap); err != nil {
		t.Fatal(err)
	}
	f = lnRun(t, r, lnFrame(schemas.LaneProd, 5, true, true, lnIdea(8, "b", 1, 1)))
	if v, _ := f.Events[0].Payload.Int("version"); v != 4 {
		t.Fatalf("version %d after a restore, want 4", v)
	}
}
