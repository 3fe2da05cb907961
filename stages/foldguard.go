package stages

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// FoldGuard bounds memory-fold recursion with per-write limits, a per-frame
// budget and a circuit breaker.
//
// A memory write is a live record whose topic is one of the memory topics
// (default "memory") or whose payload carries `fanout` or `depth` (a node's
// answer wins over the input, see recordValue: the memory node plans them).
// A write without `fanout` counts as fanout 1; without `depth`, depth 0.
// A write whose result is already not ok (refused upstream) is not a write
// and uses no budget.
//
// Per write: fanout above MaxFanout (default 8) or depth above MaxDepth
// (default 4), or a fanout/depth that is not a whole number ≥ 0, is refused:
// the result becomes not ok with a reason. Refused writes use no budget.
//
// Per frame (one tick of one partition): the fanouts of the allowed writes
// add up to at most Budget (default 256). The write that would go past the
// budget trips the breaker: it and every later memory write are refused, a
// circuit_break event is emitted, and the breaker stays open for Cooldown
// (default 1s) of event time after the frame's end. The first frame that
// starts after the cool-down is the half-open probe: writes are allowed
// under the same limits; if the frame stays within budget the breaker
// closes, if it goes past the budget it opens again (and emits another
// circuit_break). Time is the frames' event time, never the wall clock, so
// a replay trips at the same messages.
//
// State is the breaker per partition (Snapshot/Restore as JSON). Counters
// for metrics (Breaks, refused writes) are process-local.
type FoldGuard struct {
	cfg     foldConfig
	mu      sync.Mutex
	parts   map[int32]*foldPart
	breaks  atomic.Uint64
	refused atomic.Uint64
}

// StageFoldGuard names the fold-guard stage on its crumbs, events and state.
const StageFoldGuard = "fold-guard"

const (
	foldSnapshotV = 1
)

// BreakerState is a circuit breaker's state.
type BreakerState int

// Breaker states.
const (
	BreakerClosed   BreakerState = iota // writes allowed within the limits
	BreakerOpen                         // writes refused until the cool-down ends
	BreakerHalfOpen                     // one probe frame is allowed through
)

func (s BreakerState) String() string {
	switch s {
	case BreakerClosed:
		return "closed"
	case BreakerOpen:
		return "open"
	case BreakerHalfOpen:
		return "half_open"
	}
	return fmt.Sprintf("BreakerState(%d)", int(s))
}

type foldLimits struct {
	maxFanout int64
	maxDepth  int64
	budget    int64
	cooldown  time.Duration
}

type foldConfig struct {
	lanes  map[schemas.Lane]*foldLimits
	topics map[string]bool
	err    error
}

func (c *foldConfig) keep(err error) {
	if c.err == nil {
		c.err = err
	}
}

// FoldOption configures NewFoldGuard.
type FoldOption func(*foldConfig)

// FoldMaxFanout sets N, the most folds one write may fan out to (default
// 8), for the named lanes or all lanes.
func FoldMaxFanout(n int64, lanes ...schemas.Lane) FoldOption {
	return func(c *foldConfig) {
		c.keep(setLanes(c.lanes, StageFoldGuard, "FoldMaxFanout", ErrFoldGuardConfig, lanes, func(l *foldLimits) { l.maxFanout = n }))
	}
}

// FoldMaxDepth sets D, the deepest recursion a write may have (default 4),
// for the named lanes or all lanes.
func FoldMaxDepth(d int64, lanes ...schemas.Lane) FoldOption {
	return func(c *foldConfig) {
		c.keep(setLanes(c.lanes, StageFoldGuard, "FoldMaxDepth", ErrFoldGuardConfig, lanes, func(l *foldLimits) { l.maxDepth = d }))
	}
}

// FoldBudget sets B, the total fanout of the writes one frame may allow
// (default 256), for the named lanes or all lanes. It must be at least the
// max fanout, or a single allowed write could trip the breaker.
func FoldBudget(b int64, lanes ...schemas.Lane) FoldOption {
	return func(c *foldConfig) {
		c.keep(setLanes(c.lanes, StageFoldGuard, "FoldBudget", ErrFoldGuardConfig, lanes, func(l *foldLimits) { l.budget = b }))
	}
}

// FoldCooldown sets how long, in event time, the breaker stays open before
// its half-open probe (default 1s), for the named lanes or all lanes.
func FoldCooldown(d time.Duration, lanes ...schemas.Lane) FoldOption {
	return func(c *foldConfig) {
		c.keep(setLanes(c.lanes, StageFoldGuard, "FoldCooldown", ErrFoldGuardConfig, lanes, func(l *foldLimits) { l.cooldown = d }))
	}
}

// FoldTopics replaces the topics whose messages are memory writes (default
// "memory"). Messages on other topics are writes only when they carry
// fanout or depth.
func FoldTopics(topics ...string) FoldOption {
	return func(c *foldConfig) {
		c.topics = make(map[string]bool, len(topics))
		for _, t := range topics {
			if t == "" {
				c.keep(&OptionError{Stage: StageFoldGuard, Option: "FoldTopics", Value: `""`, Want: "non-empty topic names", Err: ErrFoldGuardConfig})
			}
			c.topics[t] = true
		}
	}
}

func (c *foldConfig) validate() error {
	if c.err != nil {
		return c.err
	}
	for _, lane := range schemas.Lanes {
		l := c.lanes[lane]
		switch {
		case l.maxFanout < 1:
			return &OptionError{Stage: StageFoldGuard, Option: "FoldMaxFanout", Lane: lane, Value: l.maxFanout, Want: ">= 1", Err: ErrFoldGuardConfig}
		case l.maxDepth < 0:
			return &OptionError{Stage: StageFoldGuard, Option: "FoldMaxDepth", Lane: lane, Value: l.maxDepth, Want: ">= 0", Err: ErrFoldGuardConfig}
		case l.budget < l.maxFanout:
			return &OptionError{Stage: StageFoldGuard, Option: "FoldBudget", Lane: lane, Value: l.budget, Want: fmt.Sprintf(">= the max fanout (%d)", l.maxFanout), Err: ErrFoldGuardConfig}
		case l.cooldown < 0:
			return &OptionError{Stage: StageFoldGuard, Option: "FoldCooldown", Lane: lane, Value: l.cooldown, Want: ">= 0", Err: ErrFoldGuardConfig}
		}
	}
	return nil
}

// NewFoldGuard returns a fold-guard with the defaults (fanout ≤ 8, depth ≤
// 4, budget 256 per frame, cool-down 1s, memory topic "memory") changed by
// opts.
func NewFoldGuard(opts ...FoldOption) (*FoldGuard, error) {
	cfg := foldConfig{lanes: make(map[schemas.Lane]*foldLimits, len(schemas.Lanes)), topics: map[string]bool{"memory": true}}
	for _, l := range schemas.Lanes {
		cfg.lanes[l] = &foldLimits{maxFanout: 8, maxDepth: 4, budget: 256, cooldown: time.Second}
	}
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &FoldGuard{cfg: cfg, parts: make(map[int32]*foldPart)}, nil
}

// Name returns "fold-guard".
func (g *FoldGuard) Name() string { return StageFoldGuard }

// foldPart is one partition's breaker.
type foldPart struct {
	mu        sync.Mutex
	lane      schemas.Lane
	state     BreakerState
	openUntil time.Time // event time the cool-down ends, when open
	lastUsed  int64     // budget used by the last frame
	trips     int64     // how often this partition's breaker tripped
}

func (p *foldPart) boundLane() schemas.Lane { return p.lane }

// Process applies the limits and the budget to f's memory writes. It checks
// ctx once, before it changes any state.
func (g *FoldGuard) Process(ctx context.Context, f *Frame) error {
	p, err := partFor(ctx, &g.mu, g.parts, StageFoldGuard, f, func() *foldPart { return &foldPart{lane: f.Lane} })
	if err != nil {
		return err
	}
	lim := g.cfg.lanes[f.Lane]
	p.mu.Lock()
	defer p.mu.Unlock()

	if p.state == BreakerOpen && !f.Start.Before(p.openUntil) {
		p.state = BreakerHalfOpen
	}
	probe := p.state == BreakerHalfOpen
	var used int64
	for i := range f.Records {
		r := &f.Records[i]
		if !r.Live() {
			continue
		}
		used = g.record(f, lim, p, r, used)
	}
	p.lastUsed = used
	if probe && p.state == BreakerHalfOpen {
		p.state = BreakerClosed
	}
	return nil
}

// record decides one live record and returns the budget used so far.
func (g *FoldGuard) record(f *Frame, lim *foldLimits, p *foldPart, r *Record, used int64) int64 {
	m := r.Msg
	fv, hasF := recordValue(r, "fanout")
	dv, hasD := recordValue(r, "depth")
	if !hasF && !hasD && !g.cfg.topics[m.Topic] {
		g.crumb(r, schemas.Payload{"memory_write": false})
		return used
	}
	data := schemas.Payload{"memory_write": true, "budget": lim.budget}
	if r.Result != nil && !r.Result.OK {
		data["skipped"] = "refused upstream"
		g.crumb(r, data)
		return used
	}
	fanout, depth, err := foldShape(fv, dv, hasF, hasD)
	refuse := ""
	switch {
	case err != nil:
		refuse = err.Error()
	case p.state == BreakerOpen:
		refuse = fmt.Sprintf("circuit open until %s", p.openUntil.UTC().Format(time.RFC3339Nano))
	case fanout > lim.maxFanout:
		refuse = fmt.Sprintf("fanout %d exceeds %d", fanout, lim.maxFanout)
	case depth > lim.maxDepth:
		refuse = fmt.Sprintf("depth %d exceeds %d", depth, lim.maxDepth)
	case used+fanout > lim.budget:
		refuse = fmt.Sprintf("frame budget %d exhausted (%d used, write needs %d): circuit open", lim.budget, used, fanout)
		g.trip(f, lim, p, r, used, fanout)
	}
	if err == nil {
		data["fanout"], data["depth"] = fanout, depth
	}
	if refuse == "" {
		used += fanout
		data["allowed"] = true
	} else {
		g.refused.Add(1)
		data["allowed"] = false
		if r.Result != nil {
			r.Result.OK = false
			r.Result.Reasons = append(r.Result.Reasons, "fold-guard: "+refuse)
		}
	}
	data["used"] = used
	data["breaker"] = box(p.state.String())
	g.crumb(r, data)
	return used
}

// trip opens the breaker and emits circuit_break.
func (g *FoldGuard) trip(f *Frame, lim *foldLimits, p *foldPart, r *Record, used, fanout int64) {
	from := p.state
	p.state = BreakerOpen
	p.openUntil = f.End.Add(lim.cooldown)
	p.trips++
	g.breaks.Add(1)
	m := r.Msg
	f.Events = append(f.Events, schemas.Event{
		ID:      DerivedID(m.MsgID, StageFoldGuard, string(schemas.EventCircuitBreak)),
		TS:      m.TS,
		Kind:    schemas.EventCircuitBreak,
		Lane:    f.Lane,
		GlyphID: m.Glyph.ID,
		MsgID:   m.MsgID,
		Stage:   StageFoldGuard,
		Payload: schemas.Payload{
			"state":       BreakerOpen.String(),
			"from":        from.String(),
			"budget":      lim.budget,
			"used":        used,
			"fanout":      fanout,
			"open_until":  p.openUntil.UnixMicro(),
			"cooldown_ms": lim.cooldown.Milliseconds(),
			"partition":   int64(f.Partition),
			"frame_seq":   f.Seq,
			"trips":       p.trips,
		},
	})
}

func (g *FoldGuard) crumb(r *Record, data schemas.Payload) {
	if r.Result != nil {
		r.Result.Trace = append(r.Result.Trace, schemas.Crumb{Stage: StageFoldGuard, T: r.Msg.TS, Data: data})
	}
}

// foldShape reads a write's fanout (default 1) and depth (default 0).
func foldShape(fv, dv any, hasF, hasD bool) (fanout, depth int64, err error) {
	fanout, depth = 1, 0
	if hasF {
		if fanout, err = wholeCount("fanout", fv); err != nil {
			return 0, 0, err
		}
	}
	if hasD {
		if depth, err = wholeCount("depth", dv); err != nil {
			return 0, 0, err
		}
	}
	return fanout, depth, nil
}

// wholeCount accepts a long, or a double holding a whole number, ≥ 0.
func wholeCount(key string, v any) (int64, error) {
	var n int64
	switch x := v.(type) {
	case int64:
		n = x
	case float64:
		if x != math.Trunc(x) || math.Abs(x) >= 1<<53 {
			return 0, fmt.Errorf("%s %v is not a whole number", key, x)
		}
		n = int64(x)
	default:
		return 0, fmt.Errorf("%s is %T, want a whole number", key, v)
	}
	if n < 0 {
		return 0, fmt.Errorf("%s %d is negative", key, n)
	}
	return n, nil
}

// FoldStats are one partition's breaker figures for the runtime's metrics.
type FoldStats struct {
	Lane      schemas.Lane
	Partition int32
	State     BreakerState
	OpenUntil time.Time // when State is open: the event time the cool-down ends
	LastUsed  int64     // budget used by the partition's last frame
	Trips     int64     // how often this partition's breaker tripped (kept in snapshots)
}

// Stats returns every partition's breaker, ordered by partition.
func (g *FoldGuard) Stats() []FoldStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]FoldStats, 0, len(g.parts))
	for id, p := range g.parts {
		p.mu.Lock()
		out = append(out, FoldStats{Lane: p.lane, Partition: id, State: p.state, OpenUntil: p.openUntil, LastUsed: p.lastUsed, Trips: p.trips})
		p.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Partition < out[j].Partition })
	return out
}

// Breaks returns how many times a breaker of this instance tripped since it
// was made: the source of lukhas_memory_circuit_breaks_total (process-local
// and monotonic, unlike FoldStats.Trips which follows the partition).
func (g *FoldGuard) Breaks() uint64 { return g.breaks.Load() }

// Refused returns how many memory writes this instance refused.
func (g *FoldGuard) Refused() uint64 { return g.refused.Load() }

type foldSnapshot struct {
	V         int          `json:"v"`
	Lane      schemas.Lane `json:"lane"`
	State     BreakerState `json:"state"`
	OpenUntil int64        `json:"open_until_ns"` // Unix ns (frame ends are not whole µs); 0 when never opened
	LastUsed  int64        `json:"last_used"`
	Trips     int64        `json:"trips"`
}

// Snapshot returns partition's breaker as JSON, or nil when it has none.
func (g *FoldGuard) Snapshot(partition int32) ([]byte, error) {
	g.mu.Lock()
	p, ok := g.parts[partition]
	g.mu.Unlock()
	if !ok {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	s := foldSnapshot{V: foldSnapshotV, Lane: p.lane, State: p.state, LastUsed: p.lastUsed, Trips: p.trips}
	if !p.openUntil.IsZero() {
		s.OpenUntil = p.openUntil.UnixNano()
	}
	return marshalSnapshot(StageFoldGuard, partition, s)
}

// Restore replaces partition's breaker with a snapshot; empty state resets it.
func (g *FoldGuard) Restore(partition int32, state []byte) error {
	if len(state) == 0 {
		g.Forget(partition)
		return nil
	}
	var s foldSnapshot
	if err := unmarshalSnapshot(StageFoldGuard, partition, state, &s); err != nil {
		return err
	}
	switch {
	case s.V != foldSnapshotV:
		return snapshotError(StageFoldGuard, partition, fmt.Sprintf("version = %d", s.V))
	case !s.Lane.Valid():
		return snapshotError(StageFoldGuard, partition, fmt.Sprintf("lane = %q", s.Lane))
	case s.State < BreakerClosed || s.State > BreakerHalfOpen:
		return snapshotError(StageFoldGuard, partition, fmt.Sprintf("state = %d", s.State))
	case s.LastUsed < 0 || s.Trips < 0:
		return snapshotError(StageFoldGuard, partition, fmt.Sprintf("last_used %d trips %d", s.LastUsed, s.Trips))
	}
	p := &foldPart{lane: s.Lane, state: s.State, lastUsed: s.LastUsed, trips: s.Trips}
	if s.OpenUntil != 0 {
		p.openUntil = time.Unix(0, s.OpenUntil).UTC()
	}
	g.mu.Lock()
	g.parts[partition] = p
	g.mu.Unlock()
	return nil
}

// Forget drops partition's breaker.
func (g *FoldGuard) Forget(partition int32) {
	g.mu.Lock()
	delete(g.parts, partition)
	g.mu.Unlock()
}
