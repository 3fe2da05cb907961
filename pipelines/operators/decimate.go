package operators

// decimate is the bounded ring of frames between tick and the chain. The
// tick's output goroutine Pushes frames in; the chain's goroutine Pops them.
// When the chain is slower than the tick the ring fills, and the policy
// decides what gives:
//
//   - PolicyBackpressure (prod's default, and NewDecimate's): Push blocks
//     until a frame is popped, or TryPush reports ErrBacklogFull. Either way
//     the goroutine reading tick.Out stops, the tick stops reading its
//     inlet, and the Kafka source stops fetching: the source is paused, no
//     frame is lost, and lag grows in Kafka where it is visible.
//   - PolicyDropOldest (experimental and candidate): with k frames of
//     backlog, or with more records than the record budget, pushing one
//     more drops the oldest droppable frames until it fits. The
//     dropped records are not lost silently: they are counted (Stats) and
//     the next popped frame carries one decimation event per dropped frame,
//     listing the exact offsets it held (a late or corrupt record in
//     between is never swept up), along with the events the dropped frame
//     carried (the tick's decisions). The runtime reads the event
//     (ParseDecimation) to mark exactly those offsets done, and a replay
//     drops the same frames (DecimateDecided).
//
//     Late frames (Seq < 0), frames of a re-decided region and frames
//     carrying a cut (Frame.Cut: the point the partition commits at) are
//     never dropped by the policy; when nothing in the ring may be
//     dropped, Push waits as under backpressure. Dropping cuts would stop
//     commits under overload: the records read since the last commit, and
//     what the runtime keeps for them, would grow for as long as it lasts.
//
// The ring is full at k frames holding records or at its record budget
// (DecimateMaxRecords), whichever comes first. Frames are cut by event
// time, so at a high offered rate each frame holds more records: k bounds
// the backlog in frames of work, the budget bounds it in records, and so in
// memory, whatever the rate. A frame larger than the budget still enters an
// empty ring. Frames without records do not count towards k: they cost the
// chain next to nothing, and a partition catching up over a quiet spell
// emits dozens in a burst, which would otherwise push out the frames of
// real records around them. The ring holds at most k + MaxDecimateEmpty
// frames in all.
//
// Decimate keeps no stage state: its frames are re-read from Kafka after a
// crash (their offsets are not committed yet), so it needs no changelog.
// Backlog feeds the lukhas_backlog_frames gauge.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// StageDecimate names the decimate stage on the events it emits.
const StageDecimate = "decimate"

// Policy is what the ring does when it is full.
type Policy string

// Decimation policies.
const (
	PolicyBackpressure Policy = "backpressure"
	PolicyDropOldest   Policy = "drop-oldest"
)

// ErrDecimate is wrapped by NewDecimate's and ParseDecimation's errors.
var ErrDecimate = errors.New("decimate")

// ErrBacklogFull is returned by TryPush under PolicyBackpressure when the
// ring holds its capacity: the caller pauses its source and retries after
// a Pop (or calls Push, which waits).
var ErrBacklogFull = errors.New("decimate: backlog full")

// ErrDecimateClosed is returned by Push after Close, and by Pop once the
// ring is closed and empty.
var ErrDecimateClosed = errors.New("decimate: closed")

// ParsePolicy parses a policy name from config.
func ParsePolicy(s string) (Policy, error) {
	switch p := Policy(s); p {
	case PolicyBackpressure, PolicyDropOldest:
		return p, nil
	}
	return "", fmt.Errorf("%w: unknown policy %q: want %q or %q", ErrDecimate, s, PolicyBackpressure, PolicyDropOldest)
}

// DefaultPolicy is the policy a lane runs with unless configured:
// backpressure in prod, where no frame may be skipped, drop-oldest in the
// other lanes, where staying current matters more than completeness.
func DefaultPolicy(l schemas.Lane) Policy {
	if l == schemas.LaneProd {
		return PolicyBackpressure
	}
	return PolicyDropOldest
}

// DecimateOption configures a Decimate.
type DecimateOption func(*decimateConfig)

type decimateConfig struct {
	capacity   int
	maxRecords int
	policy     Policy
	decided    func(*stages.Frame) (decided, drop bool)
	onDrop     func(*stages.Frame)
}

// DecimateDecided hands the ring a record of earlier drops: for a frame the
// record covers (decided), the ring drops it exactly when the record says
// so, and the policy never drops it. A replay, and a restart redoing what
// the run before it already decided, pass the drops logged on the lane's
// event log.
func DecimateDecided(f func(*stages.Frame) (decided, drop bool)) DecimateOption {
	return func(c *decimateConfig) { c.decided = f }
}

// DecimateOnDrop is called with each frame the ring drops, as it drops it
// and before its decimation event is reported, with the ring locked: it
// must not call the ring. The runtime lets go there of what it held for
// the frame's records beyond their Acks.
func DecimateOnDrop(f func(*stages.Frame)) DecimateOption {
	return func(c *decimateConfig) { c.onDrop = f }
}

// DefaultDecimateCapacity is the default k: 8 frames, a quarter second of
// backlog at 30 FPS.
const DefaultDecimateCapacity = 8

// MaxDecimateCapacity bounds k: the ring is allocated whole, and a backlog
// of a million frames is hours at 30 FPS.
const MaxDecimateCapacity = 1 << 20

// DecimateCapacity sets k, the frames of backlog the ring holds (at least 1).
func DecimateCapacity(k int) DecimateOption { return func(c *decimateConfig) { c.capacity = k } }

// DefaultDecimateMaxRecords is the default record budget of one ring (one
// partition): a decoded record holds about 2 KiB, so about 1 MiB of
// backlog per partition, while 512 records still make a frame or two at
// 10x the rate a 2-core lane answers (about 300 records a frame per
// partition at 55,000 msgs/s over 6 partitions).
const DefaultDecimateMaxRecords = 512

// MaxDecimateMaxRecords bounds the record budget.
const MaxDecimateMaxRecords = 1 << 24

// MaxDecimateEmpty bounds the frames without records the ring holds
// beyond k (a few hundred bytes each).
const MaxDecimateEmpty = 1024

// DecimateMaxRecords sets the records the ring's frames may hold together
// before it counts as full (at least 1); see Decimate.
func DecimateMaxRecords(n int) DecimateOption { return func(c *decimateConfig) { c.maxRecords = n } }

// DecimatePolicy sets the policy (default PolicyBackpressure).
func DecimatePolicy(p Policy) DecimateOption {
	return func(c *decimateConfig) { c.policy = p }
}

func (c *decimateConfig) validate() error {
	if c.capacity < 1 || c.capacity > MaxDecimateCapacity {
		return &stages.OptionError{Stage: StageDecimate, Option: "DecimateCapacity", Value: c.capacity, Want: fmt.Sprintf("1..%d frames", MaxDecimateCapacity), Err: ErrDecimate}
	}
	if c.maxRecords < 1 || c.maxRecords > MaxDecimateMaxRecords {
		return &stages.OptionError{Stage: StageDecimate, Option: "DecimateMaxRecords", Value: c.maxRecords, Want: fmt.Sprintf("1..%d records", MaxDecimateMaxRecords), Err: ErrDecimate}
	}
	if _, err := ParsePolicy(string(c.policy)); err != nil {
		return &stages.OptionError{Stage: StageDecimate, Option: "DecimatePolicy", Value: string(c.policy), Want: fmt.Sprintf("%s or %s", PolicyBackpressure, PolicyDropOldest), Err: ErrDecimate}
	}
	return nil
}

// Decimate is the bounded ring of frames. Push and Pop may be called from
// different goroutines.
type Decimate struct {
	cfg decimateConfig

	mu      sync.Mutex
	queue   []*stages.Frame // oldest first
	busy    int             // frames in the queue holding records: what k bounds
	records int             // in the queue's frames
	closed  bool
	pending []schemas.Event // decimation events and the dropped frames' own events, not yet reported

	space chan struct{} // a token when a Pop made room
	items chan struct{} // a token when a Push added a frame
	done  chan struct{} // closed by Close

	pushed, popped, droppedFrames, droppedRecords, events, waits, fulls atomic.Int64
}

// NewDecimate returns an empty ring.
func NewDecimate(opts ...DecimateOption) (*Decimate, error) {
	c := decimateConfig{capacity: DefaultDecimateCapacity, maxRecords: DefaultDecimateMaxRecords, policy: PolicyBackpressure}
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &Decimate{
		cfg:   c,
		queue: make([]*stages.Frame, 0, c.capacity),
		space: make(chan struct{}, 1),
		items: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}, nil
}

// Policy returns the ring's policy.
func (d *Decimate) Policy() Policy { return d.cfg.policy }

// Capacity returns k.
func (d *Decimate) Capacity() int { return d.cfg.capacity }

// MaxRecords returns the record budget.
func (d *Decimate) MaxRecords() int { return d.cfg.maxRecords }

// Backlog returns the frames waiting in the ring, with or without
// records: the lukhas_backlog_frames gauge.
func (d *Decimate) Backlog() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.queue)
}

// Loaded returns the frames waiting in the ring that hold records: what
// k bounds.
func (d *Decimate) Loaded() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.busy
}

// DecimateStats are the ring's counters since it was made.
type DecimateStats struct {
	Pushed, Popped int64
	DroppedFrames  int64 // frames dropped by drop-oldest
	DroppedRecords int64 // records in those frames
	Events         int64 // decimation events attached to popped frames
	Waits          int64 // Pushes that had to wait for room (backpressure)
	Fulls          int64 // TryPushes refused with ErrBacklogFull
}

// Stats returns the counters.
func (d *Decimate) Stats() DecimateStats {
	return DecimateStats{
		Pushed: d.pushed.Load(), Popped: d.popped.Load(),
		DroppedFrames: d.droppedFrames.Load(), DroppedRecords: d.droppedRecords.Load(),
		Events: d.events.Load(), Waits: d.waits.Load(), Fulls: d.fulls.Load(),
	}
}

// Push adds f. Under PolicyDropOldest it never blocks (a full ring drops
// its oldest frame). Under PolicyBackpressure it waits for room until ctx
// ends, which it reports wrapped. After Close it returns ErrDecimateClosed.
func (d *Decimate) Push(ctx context.Context, f *stages.Frame) error {
	waited := false
	for {
		err := d.tryPush(f)
		if !errors.Is(err, ErrBacklogFull) {
			return err
		}
		if !waited {
			waited = true
			d.waits.Add(1)
		}
		select {
		case <-d.space:
		case <-d.done:
		case <-ctx.Done():
			return fmt.Errorf("decimate: waiting for room for frame %d of partition %d: %w", f.Seq, f.Partition, ctx.Err())
		}
	}
}

// TryPush adds f without waiting: under PolicyBackpressure a full ring
// returns ErrBacklogFull and the caller pauses its source.
func (d *Decimate) TryPush(f *stages.Frame) error {
	err := d.tryPush(f)
	if errors.Is(err, ErrBacklogFull) {
		d.fulls.Add(1)
	}
	return err
}

func (d *Decimate) tryPush(f *stages.Frame) error {
	if f == nil {
		return fmt.Errorf("%w: nil frame", ErrDecimate)
	}
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return ErrDecimateClosed
	}
	if d.cfg.decided != nil {
		if decided, drop := d.cfg.decided(f); decided && drop {
			d.drop(f)
			d.mu.Unlock()
			d.pushed.Add(1)
			signalToken(d.items) // a waiting Pop reports the drop with the next frame
			return nil
		}
	}
	for !d.fits(len(f.Records)) {
		if d.cfg.policy == PolicyBackpressure || !d.dropOldest() {
			d.mu.Unlock()
			return ErrBacklogFull
		}
	}
	d.queue = append(d.queue, f)
	d.count(f, 1)
	more := d.fits(1)
	d.mu.Unlock()
	d.pushed.Add(1)
	signalToken(d.items)
	if more {
		signalToken(d.space) // another waiting pusher may fit too
	}
	return nil
}

// fits reports whether a frame of records more fits in the ring: an
// empty ring; else room in all, and for a frame with records one of the k
// slots and the budget not passed; d.mu is held.
func (d *Decimate) fits(records int) bool {
	switch {
	case len(d.queue) == 0:
		return true
	case len(d.queue) >= d.cfg.capacity+MaxDecimateEmpty:
		return false
	case records == 0:
		return true
	}
	return d.busy < d.cfg.capacity && d.records+records <= d.cfg.maxRecords
}

// count adds f to (sign 1) or takes it from (-1) the ring's tallies;
// d.mu is held.
func (d *Decimate) count(f *stages.Frame, sign int) {
	if len(f.Records) > 0 {
		d.busy += sign
		d.records += sign * len(f.Records)
	}
}

// droppable reports whether the policy may drop f.
func (d *Decimate) droppable(f *stages.Frame) bool {
	if f.Seq < 0 {
		return false // a late record's own frame: not a frame of the stream
	}
	if f.Cut != nil {
		return false // the partition's next commit point
	}
	if d.cfg.decided != nil {
		if decided, _ := d.cfg.decided(f); decided {
			return false
		}
	}
	return true
}

// dropOldest removes the oldest droppable frame and records it, and
// reports whether there was one; d.mu is held.
func (d *Decimate) dropOldest() bool {
	for i, f := range d.queue {
		if !d.droppable(f) {
			continue
		}
		d.queue = slices.Delete(d.queue, i, i+1)
		d.count(f, -1)
		d.drop(f)
		return true
	}
	return false
}

// drop records f as dropped; d.mu is held.
func (d *Decimate) drop(f *stages.Frame) {
	d.droppedFrames.Add(1)
	d.droppedRecords.Add(int64(len(f.Records)))
	d.pending = append(d.pending, DecimationOf(f).Event())
	d.pending = append(d.pending, f.Events...)
	if d.cfg.onDrop != nil {
		d.cfg.onDrop(f)
	}
}

// Pop returns the oldest frame, waiting until there is one or ctx ends.
// Decimation events for frames dropped since the last Pop are appended to
// the returned frame's Events, so they are written with its outputs. Once
// the ring is closed and empty Pop returns ErrDecimateClosed.
func (d *Decimate) Pop(ctx context.Context) (*stages.Frame, error) {
	for {
		f, ok, closed := d.tryPop()
		if ok {
			return f, nil
		}
		if closed {
			return nil, ErrDecimateClosed
		}
		select {
		case <-d.items:
		case <-d.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("decimate: waiting for a frame: %w", ctx.Err())
		}
	}
}

// TryPop returns the oldest frame without waiting, and false when the ring
// is empty.
func (d *Decimate) TryPop() (*stages.Frame, bool) {
	f, ok, _ := d.tryPop()
	return f, ok
}

func (d *Decimate) tryPop() (f *stages.Frame, ok, closed bool) {
	d.mu.Lock()
	if len(d.queue) == 0 {
		closed = d.closed
		if closed && len(d.pending) > 0 {
			// Drops after the last frame: a frame of their own carries them.
			f = &stages.Frame{Lane: d.pending[0].Lane, Seq: -1, Events: d.pending}
			if p, ok := d.pending[0].Payload.Int("partition"); ok {
				f.Partition = int32(p)
			}
			d.events.Add(int64(len(d.pending)))
			d.pending = nil
			d.mu.Unlock()
			return f, true, false
		}
		d.mu.Unlock()
		return nil, false, closed
	}
	f = d.queue[0]
	d.queue = slices.Delete(d.queue, 0, 1) // a few pointers moved: the array stays
	d.count(f, -1)
	more := len(d.queue) > 0
	pending := d.pending
	d.pending = nil
	d.mu.Unlock()

	if len(pending) > 0 {
		f.Events = append(pending, f.Events...)
	}
	d.events.Add(int64(len(pending)))
	d.popped.Add(1)
	signalToken(d.space)
	if more {
		signalToken(d.items) // another waiting popper may take one too
	}
	return f, true, false
}

// Close stops new Pushes and wakes every waiter; frames already in the
// ring can still be popped.
func (d *Decimate) Close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed {
		d.closed = true
		close(d.done)
	}
}

// signalToken leaves a wake-up token in c unless one is already waiting.
func signalToken(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Decimation describes one frame drop-oldest skipped: which frame, and the
// exact offsets of the records it held.
type Decimation struct {
	Lane      schemas.Lane
	Partition int32
	Seq       int64
	FPS       int
	End       time.Time // the frame's end: the event's time
	Offsets   []int64   // in the frame's order; empty for an empty frame
}

// DecimationOf describes the drop of f.
func DecimationOf(f *stages.Frame) Decimation {
	d := Decimation{Lane: f.Lane, Partition: f.Partition, Seq: f.Seq, FPS: f.FPS, End: f.End, Offsets: make([]int64, len(f.Records))}
	for i := range f.Records {
		d.Offsets[i] = f.Records[i].Offset
	}
	return d
}

// Event returns the decimation event for d. Its id is derived from the
// dropped frame, so the same drop reported twice (or by a replay) is one
// event. Offsets are written as doubles (the payload's only number array):
// exact up to 2^53.
func (d Decimation) Event() schemas.Event {
	offs := make([]float64, len(d.Offsets))
	for i, o := range d.Offsets {
		offs[i] = float64(o)
	}
	return schemas.Event{
		ID:    stages.EventID(stages.FrameSubject(d.Lane, d.Partition, d.FPS, d.Seq), StageDecimate, schemas.EventDecimation),
		TS:    d.End,
		Kind:  schemas.EventDecimation,
		Lane:  d.Lane,
		Stage: StageDecimate,
		Payload: schemas.Payload{
			"partition": int64(d.Partition),
			"seq":       d.Seq,
			"fps":       int64(d.FPS),
			"records":   int64(len(d.Offsets)),
			"offsets":   offs,
		},
	}
}

// ParseDecimation reads a decimation event back, for the runtime that must
// mark the skipped offsets done and for replays that drop the same frame.
func ParseDecimation(ev schemas.Event) (Decimation, error) {
	if ev.Kind != schemas.EventDecimation {
		return Decimation{}, fmt.Errorf("%w: event %s is a %s event, not a decimation", ErrDecimate, ev.ID, ev.Kind)
	}
	var v [4]int64
	for i, key := range [4]string{"partition", "seq", "fps", "records"} {
		x, ok := ev.Payload.Int(key)
		if !ok {
			return Decimation{}, fmt.Errorf("%w: decimation event %s: payload key %q missing or not a long", ErrDecimate, ev.ID, key)
		}
		v[i] = x
	}
	offs, ok := ev.Payload["offsets"].([]float64)
	if !ok && v[3] > 0 {
		return Decimation{}, fmt.Errorf("%w: decimation event %s: payload key \"offsets\" missing or not an array of numbers", ErrDecimate, ev.ID)
	}
	if int64(len(offs)) != v[3] {
		return Decimation{}, fmt.Errorf("%w: decimation event %s lists %d offsets for %d records", ErrDecimate, ev.ID, len(offs), v[3])
	}
	d := Decimation{Lane: ev.Lane, End: ev.TS, Partition: int32(v[0]), Seq: v[1], FPS: int(v[2]), Offsets: make([]int64, len(offs))}
	for i, o := range offs {
		d.Offsets[i] = int64(o)
	}
	return d, nil
}
