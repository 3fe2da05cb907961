package operators

// tick is the consciousness tick: a go-streams Flow that cuts each
// partition's messages into event-time tumbling frames of 1/fps.
//
// Inlet: TickInput (a *stages.Record: partition, offset, and the message whose TS
// is the event time), and TickAssign / TickRevoke when the consumer group
// hands partitions over. Outlet: *stages.Frame, one per partition per window, in
// window order per partition. Late(): a second outlet of *stages.Record, for
// records that could not go into a frame. Both outlets must be drained
// (the runtime connects Late to its late/DLQ sink); the tick blocks rather
// than drop, and a blocked tick stops reading its inlet, which pauses the
// source.
//
// Frames are cut on the exact grid of tick_grid.go: frame n at fps f is
// [⌊n·1s/f⌋, ⌊(n+1)·1s/f⌋) since the Unix epoch, stages.Frame.Seq = n.
//
// Closing a frame:
//   - live mode (Live): when the injected clock passes its end plus the
//     grace (default 5 ms). The clock is checked every resolution (default
//     1 ms) and before each message is placed. Empty frames still tick: a
//     partition ticks from the frame of its first message, or from the
//     current frame when it is assigned (TickAssign), until it is revoked.
//   - replay mode (Replay): when the partition's watermark, the largest
//     event time seen on it minus the grace, passes its end. The wall clock
//     is never read. Empty frames between a partition's messages are
//     emitted as in live mode, so stages that count frames (coherence over
//     the last W frames, fold-guard's per-tick budget) see the same frames
//     in a replay as they did live.
//   - at the end of input (inlet closed) every open frame of every
//     partition is emitted, then both outlets close; TickRevoke does the
//     same for one partition and forgets it.
//
// So replaying the messages a live run saw, none of them late, gives the
// same frames from each partition's first message to its last.
//
// A record whose event time falls in a frame already closed is marked Late,
// counted, and sent to Late(); it is never dropped silently. A record whose
// event time cannot be placed at all (zero, or outside 1900..2200) is sent
// to Late() with a Failure from stage "tick", so the runtime sends it to the
// DLQ.
//
// Idle partitions: after IdleFrames consecutive empty frames (default 300,
// ten seconds at 30 FPS) a partition stops emitting empty frames until its
// next message; the skipped frames are counted. Without that bound a
// partition quiet for a day would emit 2.6 million empty frames on its next
// message. The rule depends on event time only, so live and replay agree.
//
// Adaptive fps (tick_adaptive.go): the runtime reports each frame's chain
// time with ObserveFrameDuration; the p95 over the last frames drives the
// rate down the ladder and back up. A partition switches to a new rate at
// the first boundary at or after everything it has opened that both rates
// share (tick_grid.go), so frames stay contiguous: no gap, no overlap.
// Adaptation is on by default in live mode and off in replay, where frames
// must not depend on how fast the replaying machine is.
//
// The per-partition window state here is operator state, not stage state:
// it is rebuilt from the log after a reassignment (the new owner starts at
// the committed offset), so it is not written to the changelog.

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"
	"time"

	"github.com/reugn/go-streams"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// StageTick names the tick on the failures it records.
const StageTick = "tick"

// ErrTick is wrapped by NewTick's errors.
var ErrTick = errors.New("tick")

// Mode is how frames close: by the clock (live) or by the watermark
// (replay).
type Mode int

// Tick modes.
const (
	Live Mode = iota
	Replay
)

func (m Mode) String() string {
	switch m {
	case Live:
		return "live"
	case Replay:
		return "replay"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// TickInput is a record for the tick to place in a frame.
type TickInput struct {
	Record *stages.Record
}

// TickAssign tells a live tick that this worker now owns Partition, so it
// ticks (empty frames included) before the partition's first message. A
// replay tick ignores it.
type TickAssign struct{ Partition int32 }

// TickRevoke tells the tick that Partition is gone: its open frames are
// emitted now and its state is forgotten.
type TickRevoke struct{ Partition int32 }

// TickWatermark advances a replay-mode partition's watermark to Time, as if
// a message with that event time had been seen: frames ending at or before
// Time minus the grace close. It is how a runtime running on event time
// keeps frames closing while a partition is idle (Flink's idle-source
// watermark): it sends the clock's time, less an allowance for in-flight
// messages, once the partition has been quiet for a while. A watermark at
// or behind the one the partition has does nothing, and a live tick
// ignores it (it closes by the clock anyway).
type TickWatermark struct {
	Partition int32
	Time      time.Time
	Why       string // a replayed decision's reason (idle, shutdown); default "recorded"
	// After, when set, is the offset the recorded decision came after,
	// which the decision the tick logs again names instead of the last
	// offset it read: a restart sends the watermarks recorded after a
	// record its restored cut counts done, a record the tick never sees,
	// and a replay must find them where the run that made them put them.
	After *int64
}

// Defaults.
const (
	DefaultFPS            = 30
	DefaultTickGrace      = 5 * time.Millisecond
	DefaultTickResolution = time.Millisecond
	DefaultP95Window      = 30
	DefaultIdleFrames     = 300
	DefaultLateBuffer     = 256
)

// DefaultFPSLadder is the default adaptive ladder, fastest first.
var DefaultFPSLadder = []int{30, 20, 15}

// DefaultTickBudgets are the per-lane p95 budgets for a frame's trip
// through the chain. Experimental runs candidate code, so it gets
// candidate's budget unless configured.
var DefaultTickBudgets = map[schemas.Lane]time.Duration{
	schemas.LaneExperimental: 35 * time.Millisecond,
	schemas.LaneCandidate:    35 * time.Millisecond,
	schemas.LaneProd:         50 * time.Millisecond,
}

// TickOption configures a Tick.
type TickOption func(*tickConfig)

type tickConfig struct {
	lane       schemas.Lane
	clock      clock.Clock
	mode       Mode
	fps        int
	ladder     []int
	grace      time.Duration
	budgets    map[schemas.Lane]time.Duration
	adaptive   *bool
	window     int
	idle       int
	resolution time.Duration
	lateBuffer int
	flags      func() stages.Flags

	decisions       bool
	flushLogged     *bool
	inBand          bool
	checkpointEvery time.Duration
	schedule        func(partition int32) []GridSwitch
}

// TickClock sets the clock live mode closes frames by (default the wall
// clock). Tests pass a clock.Fake.
func TickClock(c clock.Clock) TickOption { return func(t *tickConfig) { t.clock = c } }

// TickMode sets live (default) or replay mode.
func TickMode(m Mode) TickOption { return func(t *tickConfig) { t.mode = m } }

// TickFPS sets the starting frame rate; it must be on the ladder.
func TickFPS(fps int) TickOption { return func(t *tickConfig) { t.fps = fps } }

// TickLadder sets the adaptive ladder, fastest first (default 30, 20,
// 15). Without TickFPS the tick starts at its first rung.
func TickLadder(fps ...int) TickOption {
	return func(t *tickConfig) { t.ladder = slices.Clone(fps) }
}

// TickGrace sets how long after its end a frame stays open for
// out-of-order messages (default 5 ms).
func TickGrace(d time.Duration) TickOption { return func(t *tickConfig) { t.grace = d } }

// TickBudget sets lane's p95 budget; 0 turns adaptation off for it.
func TickBudget(l schemas.Lane, d time.Duration) TickOption {
	return func(t *tickConfig) { t.budgets[l] = d }
}

// TickAdaptive turns adaptive fps on or off (default: on in live mode,
// off in replay).
func TickAdaptive(on bool) TickOption { return func(t *tickConfig) { t.adaptive = &on } }

// TickP95Window sets how many recent frames the p95 is taken over
// (default 30).
func TickP95Window(n int) TickOption { return func(t *tickConfig) { t.window = n } }

// TickIdleFrames sets how many consecutive empty frames a partition
// emits before it idles until its next message (default 300). 0 never
// idles: every empty frame of any gap is emitted, which suits tests and
// bounded replays, not a live partition that may go quiet for hours.
func TickIdleFrames(n int) TickOption { return func(t *tickConfig) { t.idle = n } }

// TickResolution sets how often live mode looks at the clock (default
// 1 ms): a frame closes at most this long after end + grace.
func TickResolution(d time.Duration) TickOption {
	return func(t *tickConfig) { t.resolution = d }
}

// TickLateBuffer sets the capacity of the Late outlet (default 256).
func TickLateBuffer(n int) TickOption { return func(t *tickConfig) { t.lateBuffer = n } }

// TickFlags sets where frames get their flags: called as each frame is
// emitted, so a flag change applies from the next frame (default: all
// off). Replay passes the flags of the run it replays.
func TickFlags(f func() stages.Flags) TickOption { return func(t *tickConfig) { t.flags = f } }

func (c *tickConfig) validate() error {
	bad := func(option string, value any, want string) error {
		return &stages.OptionError{Stage: StageTick, Option: option, Value: value, Want: want, Err: ErrTick}
	}
	if !c.lane.Valid() {
		return bad("lane", string(c.lane), schemas.LaneNames)
	}
	if c.clock == nil {
		return bad("TickClock", nil, "a clock")
	}
	if c.mode != Live && c.mode != Replay {
		return bad("TickMode", c.mode, "Live or Replay")
	}
	if len(c.ladder) == 0 {
		return bad("TickLadder", "[]", "at least one rate")
	}
	for i, f := range c.ladder {
		if f < 1 || f > maxFPS {
			return bad("TickLadder", c.ladder, fmt.Sprintf("rates in 1..%d", maxFPS))
		}
		if i > 0 && f >= c.ladder[i-1] {
			return bad("TickLadder", c.ladder, "strictly decreasing rates, fastest first")
		}
	}
	if !slices.Contains(c.ladder, c.fps) {
		return bad("TickFPS", c.fps, fmt.Sprintf("a rate on the ladder %v", c.ladder))
	}
	if c.grace < 0 || c.grace > 10*time.Second {
		return bad("TickGrace", c.grace, "0..10s")
	}
	for _, l := range slices.Sorted(maps.Keys(c.budgets)) {
		if !l.Valid() {
			return bad("TickBudget", string(l), "a budget for "+schemas.LaneNames)
		}
		if c.budgets[l] < 0 {
			return bad("TickBudget", c.budgets[l], "0 (no adaptation) or more")
		}
	}
	if c.window < 1 {
		return bad("TickP95Window", c.window, "at least 1 frame")
	}
	if c.idle < 0 {
		return bad("TickIdleFrames", c.idle, "0 (never idle) or more")
	}
	if c.resolution <= 0 || c.resolution > time.Second {
		return bad("TickResolution", c.resolution, "more than 0 and at most 1s")
	}
	if c.lateBuffer < 0 {
		return bad("TickLateBuffer", c.lateBuffer, "0 or more")
	}
	if c.flags == nil {
		return bad("TickFlags", nil, "a flags func")
	}
	return nil
}

// Tick is the tick operator; see the file comment.
type Tick struct {
	cfg tickConfig
	ctl *fpsController
	ports
	late chan any

	parts     map[int32]*tickPart // owned by the run goroutine
	order     []int32             // the keys of parts, sorted: partitions are handled in this order
	batch     []*stages.Frame     // frames emitted while handling one input, sent after it
	fixed     bool                // the grid follows cfg.schedule and the rate does not adapt (until TickLive)
	cutWanted atomic.Bool

	frames, emptyFrames, idleSkipped, records, lateRecords, invalid, partitions atomic.Int64
}

// Verify Tick satisfies the Flow interface.
var _ streams.Flow = (*Tick)(nil)

// NewTick returns a running tick for lane. It stops when its inlet is
// closed, after emitting every open frame.
func NewTick(lane schemas.Lane, opts ...TickOption) (*Tick, error) {
	c, err := newTickConfig(lane, opts)
	if err != nil {
		return nil, err
	}
	adaptive := c.mode == Live
	if c.adaptive != nil {
		adaptive = *c.adaptive
	}
	t := &Tick{
		cfg:   c,
		ctl:   newFPSController(c.ladder, c.fps, c.budgets[c.lane], adaptive, c.window),
		ports: newPorts(),
		late:  make(chan any, c.lateBuffer),
		parts: make(map[int32]*tickPart),
		fixed: c.schedule != nil,
	}
	var tick <-chan time.Time
	var stop func()
	if c.mode == Live {
		tk := c.clock.NewTicker(c.resolution)
		tick, stop = tk.C(), tk.Stop
	}
	go t.run(tick, stop)
	return t, nil
}

// CheckTick reports whether NewTick would accept lane and opts, without
// starting a tick: the spec checks a lane's tick this way before anything
// runs.
func CheckTick(lane schemas.Lane, opts ...TickOption) error {
	_, err := newTickConfig(lane, opts)
	return err
}

func newTickConfig(lane schemas.Lane, opts []TickOption) (tickConfig, error) {
	c := tickConfig{
		lane:       lane,
		clock:      clock.Real{},
		mode:       Live,
		ladder:     slices.Clone(DefaultFPSLadder),
		grace:      DefaultTickGrace,
		budgets:    maps.Clone(DefaultTickBudgets),
		window:     DefaultP95Window,
		idle:       DefaultIdleFrames,
		resolution: DefaultTickResolution,
		lateBuffer: DefaultLateBuffer,
		flags:      func() stages.Flags { return stages.Flags{} },
	}
	for _, o := range opts {
		o(&c)
	}
	if c.fps == 0 && len(c.ladder) > 0 {
		c.fps = c.ladder[0]
	}
	return c, c.validate()
}

// In returns the inlet: send TickInput, TickAssign and TickRevoke values,
// and close it to flush and stop.
func (t *Tick) In() chan<- any { return t.in }

// Out returns the outlet of *stages.Frame.
func (t *Tick) Out() <-chan any { return t.out }

// Late returns the outlet of *stages.Record that could not go into a frame: late
// ones (Late set) and unplaceable ones (Failure set).
func (t *Tick) Late() streams.Outlet { return tickLate{t.late} }

type tickLate struct{ c chan any }

func (l tickLate) Out() <-chan any { return l.c }

// ObserveFrameDuration reports how long the chain took over one frame; the
// runtime calls it after each frame. See tick_adaptive.go.
func (t *Tick) ObserveFrameDuration(d time.Duration) { t.ctl.observe(d) }

// FPS returns the rate new frames are being cut at.
func (t *Tick) FPS() int { return t.ctl.fps() }

// P95 returns the p95 frame duration over the current window (0 before the
// first observation and right after a rate change).
func (t *Tick) P95() time.Duration { return t.ctl.p95() }

// Mode returns the tick's mode.
func (t *Tick) Mode() Mode { return t.cfg.mode }

// TickStats are the tick's counters since it started.
type TickStats struct {
	Frames      int64 // frames emitted, empty ones included
	EmptyFrames int64 // of which empty
	IdleSkipped int64 // empty frames not emitted because the partition idled
	Records     int64 // records placed in frames
	Late        int64 // records sent to Late because their frame had closed
	Invalid     int64 // inputs that could not be placed (bad event time, nil record, unknown element)
	FPSChanges  int64 // adaptive rate changes
	Partitions  int64 // partitions the tick keeps state for now
	FPS         int   // current rate
}

// Stats returns the counters; the runtime exports them
// (lukhas_consciousness_frames_total and friends).
func (t *Tick) Stats() TickStats {
	return TickStats{
		Frames: t.frames.Load(), EmptyFrames: t.emptyFrames.Load(), IdleSkipped: t.idleSkipped.Load(),
		Records: t.records.Load(), Late: t.lateRecords.Load(), Invalid: t.invalid.Load(),
		FPSChanges: t.ctl.changes.Load(), Partitions: t.partitions.Load(), FPS: t.FPS(),
	}
}

// run is the operator's goroutine: it owns every partition's state.
func (t *Tick) run(tick <-chan time.Time, stop func()) {
	if stop != nil {
		defer stop()
	}
	defer close(t.late)
	defer close(t.out)
	for {
		select {
		case e, ok := <-t.in:
			if !ok {
				t.flushAll()
				t.sendFinal(t.flushLogged())
				return
			}
			t.handle(e)
		case <-tick:
			t.onClock()
		}
		t.send()
	}
}

// send hands on the frames emitted for the input just handled, the last
// one carrying the cut when one was asked for or is due.
func (t *Tick) send() { t.sendFinal(false) }

func (t *Tick) sendFinal(final bool) {
	if len(t.batch) == 0 {
		return
	}
	last := t.batch[len(t.batch)-1]
	due := false
	for _, f := range t.batch {
		if f.Cut == cutDue {
			f.Cut, due = nil, true
		}
	}
	if p, ok := t.parts[last.Partition]; ok && (due || t.cutWanted.Load()) {
		t.cutWanted.Store(false)
		c := p.cut(due)
		c.Final = final
		last.Cut = c
	}
	for i, f := range t.batch {
		t.out <- f
		t.batch[i] = nil
	}
	t.batch = t.batch[:0]
}

// cutDue marks a frame past a checkpoint boundary until send attaches the cut.
var cutDue = new(int)

func (t *Tick) handle(e any) {
	switch x := e.(type) {
	case TickInput:
		t.place(x.Record)
	case TickAssign:
		t.assign(x.Partition)
	case TickRevoke:
		t.revoke(x.Partition)
	case TickWatermark:
		t.watermark(x)
	case TickIdle:
		t.idle(x)
	case TickCutNow:
		t.cutNow(x.Partition)
	case TickWake:
		t.wake(x.Partition)
	case TickLive:
		t.fixed = false
		t.ctl.enable()
	case TickRestore:
		t.restore(x.Partition, x.State)
	default:
		t.invalid.Add(1)
	}
}
