package stages

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"sync/atomic"

	"github.com/matriz/pipelines/schemas"
)

// Learn owns what the chain learns, per glyph, and LEARNING_ENABLED gates
// it: the running centroid of the ideas each glyph sends the creative
// node, which the node measures novelty against. The node keeps no state
// (a centroid must arrive in its payload), so this stage, between route
// and adapter, carries the centroid to the node and keeps it up to date.
//
// For every live record routed to the node (Route.Node is Node, default
// DefaultLearnNode) whose payload has `features`:
//
//   - inject: when the node will be called (Route.Dispatch), the payload
//     has neither `centroid` nor `centroid_n`, and the glyph has a learned
//     centroid of the features' length, the node gets a copy of the
//     message with both added (Record.NodeMsg; Msg stays the input). The
//     centroid injected is the one learned before this record: the ideas
//     seen before it, which is what novelty is measured against;
//   - learn: only on frames with Flags.Learning, the features update the
//     glyph's centroid c, of n ideas: n' = min(n+1, Window) and
//     c' = c + (x − c)/n' (the first idea starts it: c = x, n = 1), so it
//     is the mean of the ideas seen until Window, then follows recent ones.
//     With the flag off the state is frozen: injected, never changed.
//
// Features the node would refuse are not learned: not an array<double>,
// empty, longer than LearnMaxDim, with a NaN or Inf element, all zero, or
// so large their length overflows. Neither are features whose length
// differs from the glyph's centroid (nor is that centroid injected), a
// step that would leave the centroid without a usable direction, nor a new
// glyph once the partition holds MaxGlyphs of them (counted in
// LearnStats.OverCap): learned state never holds a NaN and never grows
// past MaxGlyphs × LearnMaxDim numbers. Nothing is forgotten: a learned
// centroid is a model, not a cache.
//
// Each learned change is a versioned artifact on the lane's events: after
// a frame, one learned_state event per glyph whose centroid it changed,
// in the order the glyphs first changed, with the glyph's version (ideas
// learned since its first, which unlike n never stops at Window), the
// centroid and n after the frame, and how many of the frame's ideas it
// learned. Its id derives from the last of those records and the version,
// so a replay of the same frames makes the same events.
//
// A "learn" crumb goes on the record's result only when the stage injected,
// learned or refused to: {"injected", "learned", "centroid_n" (the glyph's
// n after the record, 0 without a centroid), "reason" (when refused)}. A
// record it has nothing to say about gets none, so with learning off and
// no state, results are as without the stage. Reasons stay on the crumb:
// the node's result replaces the router's reasons, not its crumbs. Crumb
// times are the message's event time; records are handled in frame order.
//
// A Learn is one partition's learned state (make one per partition, see
// Factory; it works one lane, see ErrPartitionLane). Snapshot and Restore
// write and read it in the snapshot encoding (snapshot.go); the state is
//
//	{"lane":"prod","glyphs":{"<glyph id>":{"c":[0.5,0.1],"n":12}}}
type Learn struct {
	cfg     learnConfig
	bind    laneBinding
	st      learnState
	learned atomic.Uint64
	overCap atomic.Uint64
}

// StageLearn names the learn stage on its crumbs and state.
const StageLearn = "learn"

const (
	// DefaultLearnNode is the node whose ideas are learned by default: the
	// creative node (stages/adapters.NameCreative; this package cannot
	// import the nodes, a test there checks the two agree).
	DefaultLearnNode = "creative"
	// DefaultLearnWindow is how many ideas a centroid averages at most by
	// default, as many as the creative node's own window.
	DefaultLearnWindow = 1000
	// DefaultLearnMaxGlyphs is how many glyphs one partition learns
	// centroids for by default.
	DefaultLearnMaxGlyphs = 10_000
	// LearnMaxDim is the longest features vector learned: with MaxGlyphs
	// it bounds the state (10,000 glyphs × 256 doubles is 20 MB per
	// partition at worst, against a lane's memory limit of 96 + 20 MiB
	// per partition; ideas of a few dozen elements take a few MB).
	LearnMaxDim = 256
)

// Keys of the payload the stage reads and the node input it writes.
const (
	learnFeatures  = "features"
	learnCentroid  = "centroid"
	learnCentroidN = "centroid_n"
)

type learnConfig struct {
	node      string
	window    int64
	maxGlyphs int
}

// LearnOption configures NewLearn.
type LearnOption func(*learnConfig)

// LearnNode sets the node whose ideas are learned (default
// DefaultLearnNode): records the router sends there are the stage's.
func LearnNode(name string) LearnOption { return func(c *learnConfig) { c.node = name } }

// LearnWindow sets how many ideas a centroid averages at most (default
// DefaultLearnWindow, at least 1): past it, each new idea weighs 1/Window.
func LearnWindow(n int64) LearnOption { return func(c *learnConfig) { c.window = n } }

// LearnMaxGlyphs bounds how many glyphs one partition learns centroids for
// (default DefaultLearnMaxGlyphs, at least 1): past it, a new glyph is not
// learned.
func LearnMaxGlyphs(n int) LearnOption { return func(c *learnConfig) { c.maxGlyphs = n } }

func (c *learnConfig) validate() error {
	bad := func(option string, v any, want string) error {
		return &OptionError{Stage: StageLearn, Option: option, Value: v, Want: want, Err: ErrLearnConfig}
	}
	switch {
	case c.node == "":
		return bad("LearnNode", `""`, "the name of the node whose ideas are learned (creative)")
	case c.window < 1:
		return bad("LearnWindow", c.window, ">= 1")
	case c.maxGlyphs < 1:
		return bad("LearnMaxGlyphs", c.maxGlyphs, ">= 1")
	}
	return nil
}

// NewLearn returns one partition's learn stage with the defaults (node
// creative, window 1000, 10,000 glyphs) changed by opts.
func NewLearn(opts ...LearnOption) (*Learn, error) {
	cfg := learnConfig{node: DefaultLearnNode, window: DefaultLearnWindow, maxGlyphs: DefaultLearnMaxGlyphs}
	if err := configure(&cfg, opts, (*learnConfig).validate); err != nil {
		return nil, err
	}
	return &Learn{cfg: cfg, st: newLearnState()}, nil
}

// Name returns "learn".
func (l *Learn) Name() string { return StageLearn }

// glyphCentroid is one glyph's learned centroid. C is never written after
// it is made (a step makes a new slice), so injected payloads share it.
type glyphCentroid struct {
	C []float64 `json:"c"`
	N int64     `json:"n"`
	// V is the glyph's learned-state version: ideas learned since its
	// first. A snapshot written before versions has none: it restores as
	// N, the ideas it is known to have learned.
	V int64 `json:"v,omitempty"`
}

// learnState is what Restore replaces whole.
type learnState struct {
	glyphs map[string]*glyphCentroid
}

func newLearnState() learnState { return learnState{glyphs: make(map[string]*glyphCentroid)} }

// Process injects and learns over f's live records in order. It looks at
// ctx every recordsPerCtxCheck records: a frame stopped half way leaves
// state the runtime drops with the partition's claim (the frame is left
// for the next owner, who restores from the last checkpoint).
func (l *Learn) Process(ctx context.Context, f *Frame) error {
	if err := l.bind.admit(ctx, StageLearn, f); err != nil {
		return err
	}
	var changed []learnedChange
	for i := range f.Records {
		if i > 0 && i%recordsPerCtxCheck == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("learn: frame %d partition %d stopped at record %d: %w", f.Seq, f.Partition, i, err)
			}
		}
		r := &f.Records[i]
		if !r.Live() || r.Msg == nil || r.Route == nil || r.Route.Node != l.cfg.node {
			continue
		}
		if l.record(r, f.Flags.Learning) {
			changed = noteChange(changed, r.Msg)
		}
	}
	for _, c := range changed {
		f.Events = append(f.Events, l.learnedEvent(f, c))
	}
	return nil
}

// learnedChange is one glyph's learning in a frame: the last record it
// learned from and how many ideas it learned.
type learnedChange struct {
	glyph string
	last  *schemas.MatrizMessage
	ideas int64
}

func noteChange(changed []learnedChange, m *schemas.MatrizMessage) []learnedChange {
	for i := range changed {
		if changed[i].glyph == m.Glyph.ID {
			changed[i].last = m
			changed[i].ideas++
			return changed
		}
	}
	return append(changed, learnedChange{glyph: m.Glyph.ID, last: m, ideas: 1})
}

// learnedEvent is the learned_state event of one glyph's change in f.
func (l *Learn) learnedEvent(f *Frame, c learnedChange) schemas.Event {
	g := l.st.glyphs[c.glyph]
	return schemas.Event{
		ID:      DerivedID(c.last.MsgID, StageLearn, string(schemas.EventLearnedState), strconv.FormatInt(g.V, 10)),
		TS:      c.last.TS,
		Kind:    schemas.EventLearnedState,
		Lane:    f.Lane,
		GlyphID: c.glyph,
		MsgID:   c.last.MsgID,
		Stage:   StageLearn,
		Payload: schemas.Payload{"version": g.V, "centroid": g.C, "centroid_n": g.N, "ideas": c.ideas, "node": l.cfg.node},
	}
}

// record injects and learns for one record routed to the node, and
// reports whether it learned.
func (l *Learn) record(r *Record, learning bool) (learned bool) {
	in := r.NodeInput()
	fv, ok := in.Payload[learnFeatures]
	if !ok || fv == nil {
		return false // not an idea: the node says what is missing
	}
	id := in.Glyph.ID
	g := l.st.glyphs[id]
	wantInject := g != nil && r.Route.Dispatch && !hasValue(in.Payload, learnCentroid) && !hasValue(in.Payload, learnCentroidN)
	if !wantInject && !learning {
		return false
	}
	x, reason := ideaVector(fv)
	if reason == "" && g != nil && len(x) != len(g.C) {
		reason = fmt.Sprintf("features has %d elements, the glyph's learned centroid %d", len(x), len(g.C))
	}
	injected := false
	if reason == "" && wantInject {
		r.NodeMsg = withCentroid(in, g)
		injected = true
	}
	if reason == "" && learning {
		if reason = l.learn(id, g, x); reason == "" {
			learned = true
		}
	}
	if r.Result == nil {
		return learned
	}
	var n int64
	if g = l.st.glyphs[id]; g != nil {
		n = g.N
	}
	data := schemas.Payload{"injected": injected, "learned": learned, "centroid_n": n}
	if reason != "" {
		data["reason"] = reason
	}
	r.Result.Trace = append(r.Result.Trace, schemas.Crumb{Stage: StageLearn, T: r.Msg.TS, Data: data})
	return learned
}

// learn folds x into glyph id's centroid g (nil: none yet), or says why it
// did not.
func (l *Learn) learn(id string, g *glyphCentroid, x []float64) string {
	if g == nil {
		if len(l.st.glyphs) >= l.cfg.maxGlyphs {
			l.overCap.Add(1)
			return fmt.Sprintf("the partition holds learned centroids of max_glyphs (%d) glyphs; a new glyph is not learned", l.cfg.maxGlyphs)
		}
		l.st.glyphs[id] = &glyphCentroid{C: slices.Clone(x), N: 1, V: 1}
		l.learned.Add(1)
		return ""
	}
	n := min(g.N+1, l.cfg.window)
	next := make([]float64, len(x))
	for i, c := range g.C {
		next[i] = c + (x[i]-c)/float64(n)
	}
	if why := directionProblem("the centroid these features would make", next); why != "" {
		return why + "; not learned"
	}
	g.C, g.N, g.V = next, n, g.V+1
	l.learned.Add(1)
	return ""
}

// withCentroid returns a copy of m whose payload adds g's centroid.
func withCentroid(m *schemas.MatrizMessage, g *glyphCentroid) *schemas.MatrizMessage {
	p := make(schemas.Payload, len(m.Payload)+2)
	maps.Copy(p, m.Payload)
	p[learnCentroid], p[learnCentroidN] = g.C, g.N
	c := *m
	c.Payload = p
	return &c
}

func hasValue(p schemas.Payload, key string) bool {
	v, ok := p[key]
	return ok && v != nil
}

// ideaVector reads features as the node accepts them, or says why not.
func ideaVector(v any) ([]float64, string) {
	x, ok := v.([]float64)
	switch {
	case !ok:
		return nil, fmt.Sprintf("features is %T, want array<double>", v)
	case len(x) == 0:
		return nil, "features is empty"
	case len(x) > LearnMaxDim:
		return nil, fmt.Sprintf("features has %d elements; at most %d are learned", len(x), LearnMaxDim)
	}
	if why := directionProblem("features", x); why != "" {
		return nil, why
	}
	return x, ""
}

// directionProblem says why v has no direction the creative node can
// measure an angle to — a NaN or Inf element, all zero, a length that
// overflows — or returns "". It computes the length as the node does, so
// what one accepts the other does.
func directionProblem(name string, v []float64) string {
	var s float64
	for i, e := range v {
		if math.IsNaN(e) || math.IsInf(e, 0) {
			return fmt.Sprintf("%s[%d] is %v", name, i, e)
		}
		s += e * e
	}
	switch {
	case s == 0:
		return name + " is all zero"
	case math.IsInf(s, 0):
		return name + " is too large: its length overflows"
	}
	return ""
}

// LearnStats are one partition's learning figures.
type LearnStats struct {
	// Lane is the lane the instance works, empty before its first frame;
	// Partition that of the last frame it processed.
	Lane      schemas.Lane
	Partition int32
	// Glyphs is how many glyphs have a learned centroid.
	Glyphs int
	// Learned counts the ideas folded into a centroid, and OverCap the
	// ideas of new glyphs refused because Glyphs was at max_glyphs, since
	// the instance was made (process-local, not restored).
	Learned, OverCap uint64
}

// Stats returns this partition's figures. It takes no lock: the runtime
// reads it on the partition's goroutine, between frames.
func (l *Learn) Stats() LearnStats {
	return LearnStats{Lane: l.bind.lane, Partition: l.bind.partition, Glyphs: len(l.st.glyphs), Learned: l.learned.Load(), OverCap: l.overCap.Load()}
}

// learnSnapshot is the state in a snapshot.
type learnSnapshot struct {
	Lane   schemas.Lane             `json:"lane"`
	Glyphs map[string]glyphCentroid `json:"glyphs"`
}

// Snapshot returns the partition's learned centroids, or nil before the
// first frame; Restore accepts nil as "start empty".
func (l *Learn) Snapshot() ([]byte, error) {
	if l.bind.lane == "" {
		return nil, nil
	}
	s := learnSnapshot{Lane: l.bind.lane, Glyphs: make(map[string]glyphCentroid, len(l.st.glyphs))}
	for id, g := range l.st.glyphs {
		s.Glyphs[id] = *g
	}
	return encodeSnapshot(StageLearn, s)
}

// Restore replaces the partition's learned centroids with a snapshot, or
// resets them when state is empty. A snapshot written with a larger window
// or cap is fitted to this one: counts above Window become Window, and past
// MaxGlyphs the glyphs first in id order are kept. A refused snapshot
// changes nothing.
func (l *Learn) Restore(state []byte) error {
	if len(state) == 0 {
		l.bind.lane, l.st = "", newLearnState()
		return nil
	}
	var s learnSnapshot
	if err := decodeSnapshot(StageLearn, state, &s); err != nil {
		return err
	}
	if !s.Lane.Valid() {
		return restoreError(StageLearn, fmt.Sprintf("lane %q", s.Lane), "experimental, candidate or prod")
	}
	p := newLearnState()
	for _, id := range slices.Sorted(maps.Keys(s.Glyphs)) {
		g := s.Glyphs[id]
		bad := id == "" || g.N < 1 || len(g.C) == 0 || len(g.C) > LearnMaxDim
		if !bad {
			bad = directionProblem("centroid", g.C) != ""
		}
		if bad {
			return restoreError(StageLearn, fmt.Sprintf("glyph %q: %d elements, n %d", id, len(g.C), g.N),
				fmt.Sprintf("a glyph id, n >= 1 and 1..%d finite elements, not all zero", LearnMaxDim))
		}
		if g.V < g.N {
			g.V = g.N // a snapshot from before versions, or a hand-edited one
		}
		if len(p.glyphs) < l.cfg.maxGlyphs {
			g.N = min(g.N, l.cfg.window)
			p.glyphs[id] = &g
		}
	}
	l.bind.lane, l.st = s.Lane, p
	return nil
}
