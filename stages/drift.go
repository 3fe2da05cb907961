package stages

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// Drift is DriftScore v2: how far a glyph's actions stray from its intents.
//
// For every live message whose payload carries `intent` and `action`
// (array<double>; a node's answer wins over the input, see recordValue) the
// stage computes drift = 1 − cos(intent, action) in [0, 2] and folds it into
// two exponential moving averages: one per glyph (key glyph.id), and one
// over all of the partition's messages, which PoolDriftStats pools into the
// lane's. Both EMAs start at their first observation, so a new glyph that
// diverges is seen at once instead of being averaged up from zero.
//
// Levels and alerts: a glyph is at level warn when its EMA reaches Warn
// (default 0.20) and block when it reaches Block (default 0.35). A
// drift_alert event is emitted when a glyph's level rises (none→warn,
// warn→block or none→block), not on every message, so the event log holds
// one alert per episode; a glyph whose EMA falls back under a threshold
// drops to the lower level silently and alerts again on the next rise.
//
// Drift only annotates and alerts: it never makes a result not ok. The
// guardian enforces the limit (max_drift, read from ScoreDriftEMA), so one
// place decides allow or deny and writes the trace that explains it.
//
// Coherence is the mean of cos(I, A)·c over the valid messages of the last W
// frames (default 30, this frame included), where c is the payload's
// `constraint_satisfaction` in [0, 1]. A message without that key counts as
// c = 1: nothing says a constraint was violated. A value outside [0, 1] or
// not a number puts a reason on the result and leaves coherence unchanged;
// the drift of that message still counts.
//
// Bad vectors (empty, zero, different lengths, a NaN or Inf element, or not
// an array<double>) put a reason on the result and change no state, so the
// state never holds NaN. A message with neither key is not about drift and
// passes without a reason. Reasons do not make a result not ok: the message
// was answered; drift could not be measured.
//
// Scores written: ScoreDrift (this message), ScoreDriftEMA (the glyph's EMA
// after this message; also on messages without vectors when the glyph has
// one, so the guardian sees a drifting glyph's later actions) and
// ScoreCoherence (when the window holds any sample).
//
// A Drift is one partition's drift state (make one per partition, see
// Factory; it works one lane, see ErrPartitionLane), and inside it the
// state is per glyph. Snapshot and Restore write and read it in the
// snapshot encoding (snapshot.go); the state is:
//
//	{"lane":"prod","frames":6,"lane_ema":0.18,"lane_n":24,
//	 "glyphs":{"<glyph id>":{"ema":0.22,"n":12,"level":1,"seen":<Unix µs>}},
//	 "window":[{"sum":2.6,"n":4}, ...]}
//
// with the coherence window oldest frame first. Glyphs idle for longer than
// DriftIdleTTL in event time are forgotten, checked every 1024 frames, and
// so are glyphs last seen more than DriftIdleTTL ahead of the frame (a
// timestamp from the future would otherwise never age out). At most
// DriftMaxGlyphs glyphs are kept: past it, at the end of a frame, the least
// recently seen are forgotten until a tenth of the room is free again. So
// the state of a long-running partition, and its snapshot, stays bounded.
type Drift struct {
	cfg    driftConfig
	bind   laneBinding
	st     driftState
	alerts atomic.Uint64
}

// StageDrift names the drift stage on its crumbs, events and state.
const StageDrift = "drift"

const (
	// driftSweepEvery is how many frames pass between sweeps of idle glyphs.
	driftSweepEvery = 1024
	driftMaxWindow  = 100_000
	// DefaultDriftMaxGlyphs is how many glyphs one partition's drift state
	// holds by default: about 7 MB in memory, a 7 MB snapshot.
	DefaultDriftMaxGlyphs = 50_000
)

// DriftLevel is how far a glyph's drift EMA has gone.
type DriftLevel int

// Drift levels, lowest first.
const (
	DriftNone  DriftLevel = iota // under warn
	DriftWarn                    // at or above warn, under block
	DriftBlock                   // at or above block
)

func (l DriftLevel) String() string {
	switch l {
	case DriftNone:
		return "none"
	case DriftWarn:
		return "warn"
	case DriftBlock:
		return "block"
	}
	return fmt.Sprintf("DriftLevel(%d)", int(l))
}

type driftConfig struct {
	alpha     float64
	warn      float64
	block     float64
	window    int
	idleTTL   time.Duration
	maxGlyphs int
}

// DriftOption configures NewDrift.
type DriftOption func(*driftConfig)

// DriftAlpha sets the EMA smoothing factor in (0, 1] (default 0.2). Higher
// reacts faster.
func DriftAlpha(alpha float64) DriftOption {
	return func(c *driftConfig) { c.alpha = alpha }
}

// DriftThresholds sets the warn and block levels of the EMA, 0 < warn ≤
// block ≤ 2 (defaults 0.20 and 0.35).
func DriftThresholds(warn, block float64) DriftOption {
	return func(c *driftConfig) { c.warn, c.block = warn, block }
}

// DriftWindow sets W, the number of frames coherence averages over
// (default 30, at most 100000).
func DriftWindow(frames int) DriftOption {
	return func(c *driftConfig) { c.window = frames }
}

// DriftIdleTTL sets how long, in event time, a glyph may go without a
// message before its EMA is forgotten (default 24h; 0 keeps glyphs forever).
func DriftIdleTTL(d time.Duration) DriftOption {
	return func(c *driftConfig) { c.idleTTL = d }
}

// DriftMaxGlyphs bounds how many glyphs one partition's drift state holds
// (default DefaultDriftMaxGlyphs, at least 1): past it the least recently
// seen glyphs are forgotten.
func DriftMaxGlyphs(n int) DriftOption {
	return func(c *driftConfig) { c.maxGlyphs = n }
}

func (c *driftConfig) validate() error {
	bad := func(option string, v any, want string) error {
		return &OptionError{Stage: StageDrift, Option: option, Value: v, Want: want, Err: ErrDriftConfig}
	}
	switch {
	case c.idleTTL < 0:
		return bad("DriftIdleTTL", c.idleTTL, ">= 0 (0 keeps glyphs forever)")
	case !(c.alpha > 0 && c.alpha <= 1):
		return bad("DriftAlpha", c.alpha, "a number in (0, 1]")
	case !(c.warn > 0 && c.warn <= c.block && c.block <= 2):
		return bad("DriftThresholds", fmt.Sprintf("warn %v block %v", c.warn, c.block), "0 < warn <= block <= 2")
	case c.maxGlyphs < 1:
		return bad("DriftMaxGlyphs", c.maxGlyphs, ">= 1")
	case c.window < 1 || c.window > driftMaxWindow:
		return bad("DriftWindow", c.window, fmt.Sprintf("1..%d frames", driftMaxWindow))
	}
	return nil
}

// NewDrift returns one partition's drift stage with the defaults (alpha
// 0.2, warn 0.20, block 0.35, W = 30 frames, idle TTL 24h) changed by opts.
func NewDrift(opts ...DriftOption) (*Drift, error) {
	cfg := driftConfig{alpha: 0.2, warn: 0.20, block: 0.35, window: 30, idleTTL: 24 * time.Hour, maxGlyphs: DefaultDriftMaxGlyphs}
	if err := configure(&cfg, opts, (*driftConfig).validate); err != nil {
		return nil, err
	}
	return &Drift{cfg: cfg, st: newDriftState(cfg.window)}, nil
}

// Name returns "drift".
func (d *Drift) Name() string { return StageDrift }

// glyphDrift is one glyph's drift state.
type glyphDrift struct {
	EMA   float64    `json:"ema"`
	N     int64      `json:"n"`
	Level DriftLevel `json:"level"`
	Seen  int64      `json:"seen"` // event time of its last valid sample, Unix µs
}

// cohSlot is one frame's coherence samples: the sum of cos·c and their count.
type cohSlot struct {
	Sum float64 `json:"sum"`
	N   int64   `json:"n"`
}

// driftState is what Restore replaces whole.
type driftState struct {
	frames  int64
	laneEMA float64 // over every message of the partition
	laneN   int64
	glyphs  map[string]*glyphDrift
	ring    []cohSlot // the last len(ring) frames; next is the oldest
	next    int
	filled  int
}

func newDriftState(window int) driftState {
	return driftState{glyphs: make(map[string]*glyphDrift), ring: make([]cohSlot, window)}
}

// recent sums the newest k frames of the ring.
func (p *driftState) recent(k int) cohSlot {
	var s cohSlot
	k = min(k, p.filled)
	for i := 1; i <= k; i++ {
		e := p.ring[(p.next-i+len(p.ring))%len(p.ring)]
		s.Sum += e.Sum
		s.N += e.N
	}
	return s
}

func (p *driftState) push(s cohSlot) {
	p.ring[p.next] = s
	p.next = (p.next + 1) % len(p.ring)
	p.filled = min(p.filled+1, len(p.ring))
}

// Process scores every live record of f, updates the EMAs and the
// coherence window, and appends drift_alert events. It checks ctx once,
// before it changes any state: a frame is applied whole or not at all.
func (d *Drift) Process(ctx context.Context, f *Frame) error {
	if err := d.bind.admit(ctx, StageDrift, f); err != nil {
		return err
	}
	p := &d.st
	base := p.recent(d.cfg.window - 1)
	var frame cohSlot
	for i := range f.Records {
		r := &f.Records[i]
		if !r.Live() {
			continue
		}
		d.record(f, p, r, base, &frame)
	}
	p.push(frame)
	p.frames++
	if d.cfg.idleTTL > 0 && p.frames%driftSweepEvery == 0 {
		cutoff := f.End.Add(-d.cfg.idleTTL).UnixMicro()
		ahead := f.End.Add(d.cfg.idleTTL).UnixMicro()
		for id, g := range p.glyphs {
			if g.Seen < cutoff || g.Seen > ahead {
				delete(p.glyphs, id)
			}
		}
	}
	p.bound(d.cfg.maxGlyphs)
	return nil
}

// bound forgets the least recently seen glyphs (ties by id, so every run
// forgets the same) once more than max are held, down to nine tenths of
// max: one sort per many new glyphs, not one per glyph.
func (p *driftState) bound(limit int) {
	if len(p.glyphs) <= limit {
		return
	}
	type aged struct {
		id   string
		seen int64
	}
	all := make([]aged, 0, len(p.glyphs))
	for id, g := range p.glyphs {
		all = append(all, aged{id, g.Seen})
	}
	slices.SortFunc(all, func(a, b aged) int {
		if c := cmp.Compare(a.seen, b.seen); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	for _, a := range all[:len(all)-(limit-limit/10)] {
		delete(p.glyphs, a.id)
	}
}

// record scores one live record.
func (d *Drift) record(f *Frame, p *driftState, r *Record, base cohSlot, frame *cohSlot) {
	m := r.Msg
	data := make(schemas.Payload, 8)
	var reasons []string
	g := p.glyphs[m.Glyph.ID]

	iv, hasI := recordValue(r, "intent")
	av, hasA := recordValue(r, "action")
	if hasI || hasA {
		cos, err := intentActionCos(iv, av, hasI, hasA)
		if err != nil {
			reasons = append(reasons, "drift: "+err.Error())
		} else {
			drift := 1 - cos
			if g == nil {
				g = &glyphDrift{}
				p.glyphs[m.Glyph.ID] = g
			}
			g.EMA = emaStep(g.EMA, drift, g.N, d.cfg.alpha)
			g.N++
			g.Seen = m.TS.UnixMicro()
			p.laneEMA = emaStep(p.laneEMA, drift, p.laneN, d.cfg.alpha)
			p.laneN++
			r.SetScore(ScoreDrift, drift)
			data["drift"] = drift
			data["cos"] = cos

			level := d.levelOf(g.EMA)
			if level > g.Level {
				f.Events = append(f.Events, d.alert(f, m, g, level, drift))
			}
			g.Level = level
			data["level"] = box(level.String())

			c, err := constraintSatisfaction(r)
			if err != nil {
				reasons = append(reasons, "drift: "+err.Error())
			} else {
				frame.Sum += cos * c
				frame.N++
			}
		}
	}
	if g != nil {
		r.SetScore(ScoreDriftEMA, g.EMA)
		data["drift_ema"] = g.EMA
	}
	if n := base.N + frame.N; n > 0 {
		coh := (base.Sum + frame.Sum) / float64(n)
		r.SetScore(ScoreCoherence, coh)
		data["coherence"] = coh
	}
	if r.Result != nil {
		if len(reasons) > 0 {
			r.Result.Reasons = append(r.Result.Reasons, reasons...)
			data["reasons"] = reasons
		}
		r.Result.Trace = append(r.Result.Trace, schemas.Crumb{Stage: StageDrift, T: m.TS, Data: data})
	}
}

// alert builds the drift_alert event for a glyph whose level rose.
func (d *Drift) alert(f *Frame, m *schemas.MatrizMessage, g *glyphDrift, level DriftLevel, drift float64) schemas.Event {
	d.alerts.Add(1)
	return schemas.Event{
		ID:      DerivedID(m.MsgID, StageDrift, string(schemas.EventDriftAlert), level.String()),
		TS:      m.TS,
		Kind:    schemas.EventDriftAlert,
		Lane:    f.Lane,
		GlyphID: m.Glyph.ID,
		MsgID:   m.MsgID,
		Stage:   StageDrift,
		Payload: schemas.Payload{
			"level":     level.String(),
			"previous":  g.Level.String(),
			"ema":       g.EMA,
			"drift":     drift,
			"warn":      d.cfg.warn,
			"block":     d.cfg.block,
			"glyph":     m.Glyph.ID,
			"partition": int64(f.Partition),
		},
	}
}

// emaStep folds x into an EMA that has seen n samples; the first sample
// starts it.
func emaStep(ema, x float64, n int64, alpha float64) float64 {
	if n == 0 {
		return x
	}
	return alpha*x + (1-alpha)*ema
}

func (d *Drift) levelOf(ema float64) DriftLevel {
	switch {
	case ema >= d.cfg.block:
		return DriftBlock
	case ema >= d.cfg.warn:
		return DriftWarn
	}
	return DriftNone
}

// intentActionCos checks the payload values and returns cos(intent, action).
func intentActionCos(iv, av any, hasI, hasA bool) (float64, error) {
	if !hasI {
		return 0, fmt.Errorf("action without intent")
	}
	if !hasA {
		return 0, fmt.Errorf("intent without action")
	}
	i, ok := iv.([]float64)
	if !ok {
		return 0, fmt.Errorf("intent is %T, want array<double>", iv)
	}
	a, ok := av.([]float64)
	if !ok {
		return 0, fmt.Errorf("action is %T, want array<double>", av)
	}
	return cosine(i, a)
}

// constraintSatisfaction returns c for coherence: the payload's
// constraint_satisfaction in [0, 1], or 1 when the key is absent.
func constraintSatisfaction(r *Record) (float64, error) {
	v, ok := recordValue(r, "constraint_satisfaction")
	if !ok {
		return 1, nil
	}
	c, err := finiteNumber("constraint_satisfaction", v)
	if err != nil {
		return 0, err
	}
	if c < 0 || c > 1 {
		return 0, fmt.Errorf("constraint_satisfaction %v is outside [0, 1]", c)
	}
	return c, nil
}

// DriftStats are one partition's drift figures for the runtime's gauges
// (lukhas_drift_ema, lukhas_coherence); PoolDriftStats folds a lane's
// partitions into one.
type DriftStats struct {
	// Lane is the lane the instance works, empty before its first frame;
	// Partition that of the last frame it processed (-1 for a pool).
	Lane      schemas.Lane
	Partition int32
	// EMA is the drift EMA over all of the partition's messages.
	EMA float64
	// Samples counts the valid intent/action pairs folded into EMA.
	Samples int64
	// Coherence is the mean of cos(I,A)·c over the last W frames; it is 0
	// when CoherenceSamples is 0.
	Coherence        float64
	CoherenceSamples int64
	// Glyphs is how many glyphs have drift state; Warn and Block how many of
	// them are at that level now.
	Glyphs, Warn, Block int
}

// Stats returns this partition's figures. It takes no lock: the runtime
// reads it on the partition's goroutine, between frames.
func (d *Drift) Stats() DriftStats {
	p := &d.st
	s := DriftStats{Lane: d.bind.lane, Partition: d.bind.partition, EMA: p.laneEMA, Samples: p.laneN, Glyphs: len(p.glyphs)}
	w := p.recent(len(p.ring))
	if w.N > 0 {
		s.Coherence, s.CoherenceSamples = w.Sum/float64(w.N), w.N
	}
	for _, g := range p.glyphs {
		switch g.Level {
		case DriftWarn:
			s.Warn++
		case DriftBlock:
			s.Block++
		}
	}
	return s
}

// PoolDriftStats folds the partitions of lane into one figure: EMA weighted
// by each partition's samples, coherence pooled over every partition's
// window, counts summed, Partition -1. Figures of another lane (or of an
// instance that has seen no frame) are left out.
func PoolDriftStats(lane schemas.Lane, parts []DriftStats) DriftStats {
	agg := DriftStats{Lane: lane, Partition: -1}
	var emaSum, cohSum float64
	for _, s := range parts {
		if s.Lane != lane {
			continue
		}
		emaSum += s.EMA * float64(s.Samples)
		agg.Samples += s.Samples
		cohSum += s.Coherence * float64(s.CoherenceSamples)
		agg.CoherenceSamples += s.CoherenceSamples
		agg.Glyphs += s.Glyphs
		agg.Warn += s.Warn
		agg.Block += s.Block
	}
	if agg.Samples > 0 {
		agg.EMA = emaSum / float64(agg.Samples)
	}
	if agg.CoherenceSamples > 0 {
		agg.Coherence = cohSum / float64(agg.CoherenceSamples)
	}
	return agg
}

// Alerts returns how many drift_alert events this instance has emitted
// since it was made (not restored from snapshots: a process-local counter).
func (d *Drift) Alerts() uint64 { return d.alerts.Load() }

// driftSnapshot is the state in a snapshot.
type driftSnapshot struct {
	Lane    schemas.Lane          `json:"lane"`
	Frames  int64                 `json:"frames"`
	LaneEMA float64               `json:"lane_ema"`
	LaneN   int64                 `json:"lane_n"`
	Glyphs  map[string]glyphDrift `json:"glyphs"`
	Window  []cohSlot             `json:"window"` // oldest first
}

// Snapshot returns the partition's state, or nil before the first frame;
// Restore accepts nil as "start empty".
func (d *Drift) Snapshot() ([]byte, error) {
	if d.bind.lane == "" {
		return nil, nil
	}
	p := &d.st
	s := driftSnapshot{Lane: d.bind.lane, Frames: p.frames, LaneEMA: p.laneEMA, LaneN: p.laneN,
		Glyphs: make(map[string]glyphDrift, len(p.glyphs)), Window: make([]cohSlot, 0, p.filled)}
	for id, g := range p.glyphs {
		s.Glyphs[id] = *g
	}
	for i := p.filled; i >= 1; i-- {
		s.Window = append(s.Window, p.ring[(p.next-i+len(p.ring))%len(p.ring)])
	}
	return encodeSnapshot(StageDrift, s)
}

// Restore replaces the partition's state with a snapshot (either format),
// or resets it when state is empty. A window longer than W keeps its
// newest frames. A refused snapshot changes nothing.
func (d *Drift) Restore(state []byte) error {
	if len(state) == 0 {
		d.bind.lane, d.st = "", newDriftState(d.cfg.window)
		return nil
	}
	var s driftSnapshot
	if err := decodeSnapshot(StageDrift, state, &s); err != nil {
		return err
	}
	bad := func(what string, v any, want string) error {
		return restoreError(StageDrift, fmt.Sprintf("%s %v", what, v), want)
	}
	if !s.Lane.Valid() {
		return bad("lane", fmt.Sprintf("%q", s.Lane), "experimental, candidate or prod")
	}
	if s.Frames < 0 || s.LaneN < 0 || !inDriftRange(s.LaneEMA) {
		return bad("lane figures", fmt.Sprintf("frames %d samples %d ema %v", s.Frames, s.LaneN, s.LaneEMA), "counts >= 0 and an EMA in [0, 2]")
	}
	p := newDriftState(d.cfg.window)
	p.frames, p.laneEMA, p.laneN = s.Frames, s.LaneEMA, s.LaneN
	for id, g := range s.Glyphs {
		if g.N < 1 || !inDriftRange(g.EMA) || g.Level < DriftNone || g.Level > DriftBlock {
			return bad("glyph "+id, fmt.Sprintf("%+v", g), "n >= 1, an EMA in [0, 2] and a level 0..2")
		}
		p.glyphs[id] = &g
	}
	w := s.Window
	if len(w) > len(p.ring) {
		w = w[len(w)-len(p.ring):]
	}
	for _, e := range w {
		if e.N < 0 || e.Sum < -float64(e.N) || e.Sum > float64(e.N) {
			return bad("window slot", fmt.Sprintf("%+v", e), "n >= 0 and |sum| <= n")
		}
		p.push(e)
	}
	p.bound(d.cfg.maxGlyphs) // a snapshot from a run with a larger bound
	d.bind.lane, d.st = s.Lane, p
	return nil
}

func inDriftRange(x float64) bool { return x >= 0 && x <= 2 }
