package stages

import (
	"context"
	"fmt"
	"math"
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
// A FoldGuard is one partition's breaker (make one per partition, see
// Factory; it works one lane, see ErrPartitionLane). Snapshot and Restore
// write and read it in the snapshot encoding (snapshot.go); the state is
//
//	{"lane":"candidate","state":1,"open_until_ns":<Unix ns>,"last_used":8,"trips":1}
//
// with state 0 closed, 1 open, 2 half-open, and open_until_ns 0 when the
// breaker never opened. Counters for metrics (Breaks, Refused) are
// process-local.
type FoldGuard struct {
	cfg     foldConfig
	bind    laneBinding
	st      foldState
	breaks  atomic.Uint64
	refused atomic.Uint64
}

// StageFoldGuard names the fold-guard stage on its crumbs, events and state.
const StageFoldGuard = "fold-guard"

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

type foldConfig struct {
	maxFanout  int64
	maxDepth   int64
	budget     int64
	cooldown   time.Duration
	topicNames []string
	topics     map[string]bool // topicNames, once validated
}

// FoldOption configures NewFoldGuard.
type FoldOption func(*foldConfig)

// FoldMaxFanout sets N, the most folds one write may fan out to (default
// 8).
func FoldMaxFanout(n int64) FoldOption {
	return func(c *foldConfig) { c.maxFanout = n }
}

// FoldMaxDepth sets D, the deepest recursion a write may have (default 4).
func FoldMaxDepth(d int64) FoldOption {
	return func(c *foldConfig) { c.maxDepth = d }
}

// FoldBudget sets B, the total fanout of the writes one frame may allow
// (default 256). It must be at least the max fanout, or a single allowed
// write could trip the breaker.
func FoldBudget(b int64) FoldOption {
	return func(c *foldConfig) { c.budget = b }
}

// FoldCooldown sets how long, in event time, the breaker stays open before
// its half-open probe (default 1s).
func FoldCooldown(d time.Duration) FoldOption {
	return func(c *foldConfig) { c.cooldown = d }
}

// FoldTopics replaces the topics whose messages are memory writes (default
// "memory"). Messages on other topics are writes only when they carry
// fanout or depth.
func FoldTopics(topics ...string) FoldOption {
	return func(c *foldConfig) { c.topicNames = topics }
}

// The largest settings the fold guard takes: past them a setting is a
// typo, not a policy (a fanout of a million folds per write, a breaker
// open for days).
const (
	foldLimitFanout   = 1 << 20
	foldLimitDepth    = 1 << 10
	foldLimitBudget   = 1 << 30
	foldLimitCooldown = 24 * time.Hour
)

func (c *foldConfig) validate() error {
	bad := func(option string, v any, want string) error {
		return &OptionError{Stage: StageFoldGuard, Option: option, Value: v, Want: want, Err: ErrFoldGuardConfig}
	}
	switch {
	case c.maxFanout < 1 || c.maxFanout > foldLimitFanout:
		return bad("FoldMaxFanout", c.maxFanout, fmt.Sprintf("1..%d", foldLimitFanout))
	case c.maxDepth < 0 || c.maxDepth > foldLimitDepth:
		return bad("FoldMaxDepth", c.maxDepth, fmt.Sprintf("0..%d", foldLimitDepth))
	case c.budget < c.maxFanout || c.budget > foldLimitBudget:
		return bad("FoldBudget", c.budget, fmt.Sprintf("at least the max fanout (%d), at most %d", c.maxFanout, foldLimitBudget))
	case c.cooldown < 0 || c.cooldown > foldLimitCooldown:
		return bad("FoldCooldown", c.cooldown, "0..24h")
	}
	c.topics = make(map[string]bool, len(c.topicNames))
	for _, t := range c.topicNames {
		if t == "" {
			return bad("FoldTopics", `""`, "non-empty topic names")
		}
		c.topics[t] = true
	}
	return nil
}

// NewFoldGuard returns one partition's fold-guard with the defaults
// (fanout ≤ 8, depth ≤ 4, budget 256 per frame, cool-down 1s, memory topic
// "memory") changed by opts.
func NewFoldGuard(opts ...FoldOption) (*FoldGuard, error) {
	cfg := foldConfig{maxFanout: 8, maxDepth: 4, budget: 256, cooldown: time.Second, topicNames: []string{"memory"}}
	if err := configure(&cfg, opts, (*foldConfig).validate); err != nil {
		return nil, err
	}
	return &FoldGuard{cfg: cfg}, nil
}

// Name returns "fold-guard".
func (g *FoldGuard) Name() string { return StageFoldGuard }

// foldState is the breaker, what Restore replaces whole.
type foldState struct {
	state     BreakerState
	openUntil time.Time // event time the cool-down ends, when open
	lastUsed  int64     // budget used by the last frame
	trips     int64     // how often this partition's breaker tripped
}

// Process applies the limits and the budget to f's memory writes. It checks
// ctx once, before it changes any state.
func (g *FoldGuard) Process(ctx context.Context, f *Frame) error {
	if err := g.bind.admit(ctx, StageFoldGuard, f); err != nil {
		return err
	}
	p := &g.st
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
		used = g.record(f, p, r, used)
	}
	p.lastUsed = used
	if probe && p.state == BreakerHalfOpen {
		p.state = BreakerClosed
	}
	return nil
}

// record decides one live record and returns the budget used so far.
func (g *FoldGuard) record(f *Frame, p *foldState, r *Record, used int64) int64 {
	m := r.Msg
	fv, hasF := recordValue(r, "fanout")
	dv, hasD := recordValue(r, "depth")
	if !hasF && !hasD && !g.cfg.topics[m.Topic] {
		g.crumb(r, schemas.Payload{"memory_write": false})
		return used
	}
	data := schemas.Payload{"memory_write": true, "budget": g.cfg.budget}
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
	case fanout > g.cfg.maxFanout:
		refuse = fmt.Sprintf("fanout %d exceeds %d", fanout, g.cfg.maxFanout)
	case depth > g.cfg.maxDepth:
		refuse = fmt.Sprintf("depth %d exceeds %d", depth, g.cfg.maxDepth)
	case used+fanout > g.cfg.budget:
		refuse = fmt.Sprintf("frame budget %d exhausted (%d used, write needs %d): circuit open", g.cfg.budget, used, fanout)
		g.trip(f, p, r, used, fanout)
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
func (g *FoldGuard) trip(f *Frame, p *foldState, r *Record, used, fanout int64) {
	from := p.state
	p.state = BreakerOpen
	p.openUntil = f.End.Add(g.cfg.cooldown)
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
			"budget":      g.cfg.budget,
			"used":        used,
			"fanout":      fanout,
			"open_until":  p.openUntil.UnixMicro(),
			"cooldown_ms": g.cfg.cooldown.Milliseconds(),
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
	// Lane is the lane the instance works, empty before its first frame;
	// Partition that of the last frame it processed.
	Lane      schemas.Lane
	Partition int32
	State     BreakerState
	OpenUntil time.Time // when State is open: the event time the cool-down ends
	LastUsed  int64     // budget used by the partition's last frame
	Trips     int64     // how often this partition's breaker tripped (kept in snapshots)
}

// Stats returns this partition's breaker. It takes no lock: the runtime
// reads it on the partition's goroutine, between frames.
func (g *FoldGuard) Stats() FoldStats {
	p := &g.st
	return FoldStats{Lane: g.bind.lane, Partition: g.bind.partition, State: p.state, OpenUntil: p.openUntil, LastUsed: p.lastUsed, Trips: p.trips}
}

// Breaks returns how many times this instance's breaker tripped since it
// was made: the source of lukhas_memory_circuit_breaks_total (process-local
// and monotonic, unlike FoldStats.Trips which follows the partition).
func (g *FoldGuard) Breaks() uint64 { return g.breaks.Load() }

// Refused returns how many memory writes this instance refused.
func (g *FoldGuard) Refused() uint64 { return g.refused.Load() }

// foldSnapshot is the state in a snapshot.
type foldSnapshot struct {
	Lane      schemas.Lane `json:"lane"`
	State     BreakerState `json:"state"`
	OpenUntil int64        `json:"open_until_ns"` // Unix ns (frame ends are not whole µs); 0 when never opened
	LastUsed  int64        `json:"last_used"`
	Trips     int64        `json:"trips"`
}

// Snapshot returns the partition's breaker, or nil before the first frame.
func (g *FoldGuard) Snapshot() ([]byte, error) {
	if g.bind.lane == "" {
		return nil, nil
	}
	p := &g.st
	s := foldSnapshot{Lane: g.bind.lane, State: p.state, LastUsed: p.lastUsed, Trips: p.trips}
	if !p.openUntil.IsZero() {
		s.OpenUntil = p.openUntil.UnixNano()
	}
	return encodeSnapshot(StageFoldGuard, s)
}

// Restore replaces the partition's breaker with a snapshot (either format),
// or resets it when state is empty. A refused snapshot changes nothing.
func (g *FoldGuard) Restore(state []byte) error {
	if len(state) == 0 {
		g.bind.lane, g.st = "", foldState{}
		return nil
	}
	var s foldSnapshot
	if err := decodeSnapshot(StageFoldGuard, state, &s); err != nil {
		return err
	}
	switch {
	case !s.Lane.Valid():
		return restoreError(StageFoldGuard, fmt.Sprintf("lane %q", s.Lane), "experimental, candidate or prod")
	case s.State < BreakerClosed || s.State > BreakerHalfOpen:
		return restoreError(StageFoldGuard, fmt.Sprintf("breaker state %d", s.State), "0 (closed), 1 (open) or 2 (half-open)")
	case s.LastUsed < 0 || s.Trips < 0:
		return restoreError(StageFoldGuard, fmt.Sprintf("last_used %d trips %d", s.LastUsed, s.Trips), "counts >= 0")
	}
	p := foldState{state: s.State, lastUsed: s.LastUsed, trips: s.Trips}
	if s.OpenUntil != 0 {
		p.openUntil = time.Unix(0, s.OpenUntil).UTC()
	}
	g.bind.lane, g.st = s.Lane, p
	return nil
}
