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
//   - PolicyDropOldest (experimental and candidate): Push never blocks.
//     With k frames of backlog, pushing one more drops the oldest. The
//     dropped records are not lost silently: they are counted (Stats) and
//     the next popped frame carries one decimation event per partition
//     whose frames were dropped, with the partition, the first and last
//     offsets and frame seqs, and the counts. The log still holds those
//     messages, so a replay from the recorded offsets reproduces them; and
//     the runtime reads the event (ParseDecimation) to mark the offsets
//     done so they are committed.
//
// Decimate keeps no stage state: its frames are re-read from Kafka after a
// crash (their offsets are not committed yet), so it needs no changelog.
// Backlog feeds the lukhas_backlog_frames gauge.

import (
	"context"
	"errors"
	"fmt"
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
	capacity int
	policy   Policy
}

// DefaultDecimateCapacity is the default k: 8 frames, a quarter second of
// backlog at 30 FPS.
const DefaultDecimateCapacity = 8

// MaxDecimateCapacity bounds k: the ring is allocated whole, and a backlog
// of a million frames is hours at 30 FPS.
const MaxDecimateCapacity = 1 << 20

// DecimateCapacity sets k, the frames of backlog the ring holds (at least 1).
func DecimateCapacity(k int) DecimateOption { return func(c *decimateConfig) { c.capacity = k } }

// DecimatePolicy sets the policy (default PolicyBackpressure).
func DecimatePolicy(p Policy) DecimateOption {
	return func(c *decimateConfig) { c.policy = p }
}

func (c *decimateConfig) validate() error {
	if c.capacity < 1 || c.capacity > MaxDecimateCapacity {
		return &stages.OptionError{Stage: StageDecimate, Option: "DecimateCapacity", Value: c.capacity, Want: fmt.Sprintf("1..%d frames", MaxDecimateCapacity), Err: ErrDecimate}
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
	ring    []*stages.Frame // capacity cfg.capacity; head is the oldest
	head, n int
	closed  bool
	pending []Decimation // drops not yet reported, one per partition, in drop order

	space chan struct{} // a token when a Pop made room
	items chan struct{} // a token when a Push added a frame
	done  chan struct{} // closed by Close

	pushed, popped, droppedFrames, droppedRecords, events, waits, fulls atomic.Int64
}

// NewDecimate returns an empty ring.
func NewDecimate(opts ...DecimateOption) (*Decimate, error) {
	c := decimateConfig{capacity: DefaultDecimateCapacity, policy: PolicyBackpressure}
	for _, o := range opts {
		o(&c)
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &Decimate{
		cfg:   c,
		ring:  make([]*stages.Frame, c.capacity),
		space: make(chan struct{}, 1),
		items: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}, nil
}

// Policy returns the ring's policy.
func (d *Decimate) Policy() Policy { return d.cfg.policy }

// Capacity returns k.
func (d *Decimate) Capacity() int { return d.cfg.capacity }

// Backlog returns the frames waiting in the ring: the lukhas_backlog_frames
// gauge.
func (d *Decimate) Backlog() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
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
	if d.n == d.cfg.capacity {
		if d.cfg.policy == PolicyBackpressure {
			d.mu.Unlock()
			return ErrBacklogFull
		}
		d.dropOldest()
	}
	d.ring[(d.head+d.n)%d.cfg.capacity] = f
	d.n++
	more := d.n < d.cfg.capacity
	d.mu.Unlock()
	d.pushed.Add(1)
	signalToken(d.items)
	if more {
		signalToken(d.space) // another waiting pusher may fit too
	}
	return nil
}

// dropOldest removes the oldest frame and records it; d.mu is held.
func (d *Decimate) dropOldest() {
	f := d.ring[d.head]
	d.ring[d.head] = nil
	d.head = (d.head + 1) % d.cfg.capacity
	d.n--
	d.droppedFrames.Add(1)
	d.droppedRecords.Add(int64(len(f.Records)))
	for i := range d.pending {
		if p := &d.pending[i]; p.Partition == f.Partition && p.Lane == f.Lane {
			p.add(f)
			return
		}
	}
	dec := Decimation{Lane: f.Lane, Partition: f.Partition, FirstOffset: -1, LastOffset: -1, FirstSeq: f.Seq, FirstFPS: f.FPS}
	dec.add(f)
	d.pending = append(d.pending, dec)
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
	if d.n == 0 {
		closed = d.closed
		d.mu.Unlock()
		return nil, false, closed
	}
	f = d.ring[d.head]
	d.ring[d.head] = nil
	d.head = (d.head + 1) % d.cfg.capacity
	d.n--
	more := d.n > 0
	pending := d.pending
	d.pending = nil
	d.mu.Unlock()

	for _, p := range pending {
		f.Events = append(f.Events, p.Event())
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

// Decimation describes the frames of one partition that drop-oldest
// skipped between two Pops: a contiguous run of that partition's frames.
type Decimation struct {
	Lane        schemas.Lane
	Partition   int32
	FirstOffset int64 // -1 when every dropped frame was empty
	LastOffset  int64 // -1 when every dropped frame was empty
	FirstSeq    int64
	FirstFPS    int
	LastSeq     int64
	LastFPS     int
	End         time.Time // end of the last dropped frame: the event's time
	Frames      int64
	Records     int64
}

func (d *Decimation) add(f *stages.Frame) {
	d.LastSeq, d.LastFPS, d.End = f.Seq, f.FPS, f.End
	d.Frames++
	d.Records += int64(len(f.Records))
	for i := range f.Records {
		off := f.Records[i].Offset
		if d.FirstOffset < 0 || off < d.FirstOffset {
			d.FirstOffset = off
		}
		if off > d.LastOffset {
			d.LastOffset = off
		}
	}
}

// Event returns the decimation event for d. Its id is derived from the
// first dropped frame, so the same drop reported twice is one event.
func (d Decimation) Event() schemas.Event {
	return schemas.Event{
		ID:    stages.EventID(stages.FrameSubject(d.Lane, d.Partition, d.FirstFPS, d.FirstSeq), StageDecimate, schemas.EventDecimation),
		TS:    d.End,
		Kind:  schemas.EventDecimation,
		Lane:  d.Lane,
		Stage: StageDecimate,
		Payload: schemas.Payload{
			"partition":    int64(d.Partition),
			"first_offset": d.FirstOffset,
			"last_offset":  d.LastOffset,
			"first_seq":    d.FirstSeq,
			"first_fps":    int64(d.FirstFPS),
			"last_seq":     d.LastSeq,
			"last_fps":     int64(d.LastFPS),
			"frames":       d.Frames,
			"records":      d.Records,
		},
	}
}

// ParseDecimation reads a decimation event back, for the runtime that must
// mark the skipped offsets done and for replay tooling.
func ParseDecimation(ev schemas.Event) (Decimation, error) {
	if ev.Kind != schemas.EventDecimation {
		return Decimation{}, fmt.Errorf("%w: event %s is a %s event, not a decimation", ErrDecimate, ev.ID, ev.Kind)
	}
	var v [9]int64
	for i, key := range decimationKeys {
		x, ok := ev.Payload.Int(key)
		if !ok {
			return Decimation{}, fmt.Errorf("%w: decimation event %s: payload key %q missing or not a long", ErrDecimate, ev.ID, key)
		}
		v[i] = x
	}
	return Decimation{
		Lane: ev.Lane, End: ev.TS,
		Partition: int32(v[0]), FirstOffset: v[1], LastOffset: v[2],
		FirstSeq: v[3], FirstFPS: int(v[4]), LastSeq: v[5], LastFPS: int(v[6]),
		Frames: v[7], Records: v[8],
	}, nil
}

// decimationKeys are the payload keys of a decimation event, in the order
// ParseDecimation reads them.
var decimationKeys = [9]string{"partition", "first_offset", "last_offset", "first_seq", "first_fps", "last_seq", "last_fps", "frames", "records"}
