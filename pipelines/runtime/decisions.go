package runtime

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// Decisions are one partition's recorded decisions, read back from the
// lane's event log: what a replay, or a restart redoing frames an earlier
// run already decided, applies at the same points instead of deciding
// again.
//
// Frames whose Through (the last offset read when the tick emitted them)
// is below Until are re-decided from the record; later frames are decided
// live. A replay sets Until past its range; a restart sets it to the
// partition's end when it started, since the run before it cannot have
// read further.
type Decisions struct {
	Until      int64
	watermarks map[int64][]watermark // after offset → in event-time order
	drops      map[frameKey]bool
	fps        []operators.GridSwitch
	flags      []flagsAt // by frame start
	initial    *stages.Flags
	approvals  map[frameKey][]string
	count      int
	// Reached is the highest input offset an earlier run left a durable
	// trace of on the event log (an output's source offset, a dropped
	// frame's offsets, a watermark's place), -1 for none: a restart
	// re-decides no further, since past it no earlier run's decision can
	// have reached the log.
	Reached int64
}

type watermark struct {
	to  int64
	why string
}

type frameKey struct {
	fps int
	seq int64
}

type flagsAt struct {
	start int64
	flags stages.Flags
}

// NewDecisions returns an empty record re-deciding frames read below until.
func NewDecisions(until int64) *Decisions {
	return &Decisions{Until: until, Reached: -1, watermarks: map[int64][]watermark{}, drops: map[frameKey]bool{}, approvals: map[frameKey][]string{}}
}

// Len returns how many decisions the record holds.
func (d *Decisions) Len() int { return d.count }

// Add records one decision event of the partition.
func (d *Decisions) Add(ev schemas.Event) error {
	key := func() (frameKey, error) {
		fps, ok1 := ev.Payload.Int("fps")
		seq, ok2 := ev.Payload.Int("seq")
		if !ok1 || !ok2 {
			return frameKey{}, fmt.Errorf("decision %s (%s) names no frame", ev.ID, ev.Kind)
		}
		return frameKey{int(fps), seq}, nil
	}
	switch ev.Kind {
	case schemas.EventWatermark:
		after, ok1 := ev.Payload.Int("after_offset")
		to, ok2 := ev.Payload.Int("to_ns")
		if !ok1 || !ok2 {
			return fmt.Errorf("watermark decision %s without after_offset and to_ns", ev.ID)
		}
		why, _ := ev.Payload.String("why")
		d.Reached = max(d.Reached, after)
		if !slices.ContainsFunc(d.watermarks[after], func(w watermark) bool { return w.to == to }) {
			d.watermarks[after] = append(d.watermarks[after], watermark{to, why})
			slices.SortFunc(d.watermarks[after], func(a, b watermark) int { return int(sign(a.to - b.to)) })
		}
	case schemas.EventDecimation:
		dec, err := operators.ParseDecimation(ev)
		if err != nil {
			return err
		}
		d.drops[frameKey{dec.FPS, dec.Seq}] = true
		for _, o := range dec.Offsets {
			d.Reached = max(d.Reached, o)
		}
	case schemas.EventFPSChange:
		k, err := key()
		if err != nil {
			return err
		}
		from, _ := ev.Payload.Int("from_ns")
		d.fps = append(d.fps, operators.GridSwitch{From: from, FPS: k.fps})
		slices.SortFunc(d.fps, func(a, b operators.GridSwitch) int { return int(sign(a.From - b.From)) })
	case schemas.EventFlagChange:
		k, err := key()
		if err != nil {
			return err
		}
		start, _ := ev.Payload.Int("start_ns")
		fl := flagsAt{start: start, flags: flagsFromPayload(ev.Payload)}
		if initial, _ := ev.Payload["initial"].(bool); initial {
			if d.initial == nil {
				d.initial = &fl.flags
			}
			if k.seq < 0 {
				break // a late frame's: its start is no point of the frame sequence
			}
		}
		i, found := slices.BinarySearchFunc(d.flags, start, func(f flagsAt, s int64) int { return int(sign(f.start - s)) })
		if found {
			d.flags[i] = fl
		} else {
			d.flags = slices.Insert(d.flags, i, fl)
		}
	case schemas.EventApprovalApplied:
		k, err := key()
		if err != nil {
			return err
		}
		id, _ := ev.Payload.String(stages.ApprovalActionKey)
		if !slices.Contains(d.approvals[k], id) {
			d.approvals[k] = append(d.approvals[k], id)
		}
	default:
		return nil
	}
	d.count++
	return nil
}

func sign(x int64) int64 {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}

// redecided reports whether f belongs to the recorded region.
func (d *Decisions) redecided(f *stages.Frame) bool { return d != nil && f.Through < d.Until }

// dropped reports whether the record dropped f.
func (d *Decisions) dropped(f *stages.Frame) bool { return d.drops[frameKey{f.FPS, f.Seq}] }

// flagsAt returns the flags recorded for the frame starting at start, and
// false when the record holds none at or before it.
func (d *Decisions) flagsAt(start time.Time) (stages.Flags, bool) {
	ns := start.UnixNano()
	i, found := slices.BinarySearchFunc(d.flags, ns, func(f flagsAt, s int64) int { return int(sign(f.start - s)) })
	if found {
		return d.flags[i].flags, true
	}
	if i == 0 {
		return stages.Flags{}, false
	}
	return d.flags[i-1].flags, true
}

// FPSSchedule returns the recorded rate switches.
func (d *Decisions) FPSSchedule() []operators.GridSwitch { return d.fps }

// flagsPayload and flagsFromPayload write and read a flag_change decision's
// flags. CANARY_ENABLED is written only when on: a lane without a canary
// records its flags as before the canary existed, and an absent key reads
// as off.
func flagsPayload(f stages.Flags) schemas.Payload {
	p := schemas.Payload{FlagDispatch: f.Dispatch, FlagLearning: f.Learning, FlagExtActions: f.ExtActions}
	if f.Canary {
		p[FlagCanary] = true
	}
	return p
}

func flagsFromPayload(p schemas.Payload) stages.Flags {
	b := func(k string) bool { v, _ := p[k].(bool); return v }
	return stages.Flags{Dispatch: b(FlagDispatch), Learning: b(FlagLearning), ExtActions: b(FlagExtActions), Canary: b(FlagCanary)}
}

// loadDecisions reads, in one pass over the event log, the decisions of
// every partition asked for, each written at or after its own since and
// re-decided below its own until.
func loadDecisions(ctx context.Context, cl clock.Clock, brokers []string, eventsTopic string, asks map[int32]scanAsk, decode func([]byte, *schemas.Event) error, timeout time.Duration) (map[int32]*Decisions, error) {
	type wanted struct {
		d     *Decisions
		since time.Time
	}
	out := make(map[int32]*Decisions, len(asks))
	byHeader := make(map[string]wanted, len(asks)) // by HeaderSrcPartition's value
	var from time.Time                             // the earliest since: the scan starts there
	first := true
	for p, a := range asks {
		d := NewDecisions(a.until)
		out[p], byHeader[strconv.Itoa(int(p))] = d, wanted{d, a.since}
		if first || a.since.Before(from) {
			from, first = a.since, false
		}
	}
	if len(out) == 0 {
		return out, nil
	}
	var mu sync.Mutex
	var firstErr error
	var read atomic.Int64
	tail, err := topics.StartTailSince(ctx, brokers, eventsTopic, from, func(m topics.Message) {
		read.Add(1)
		w, ok := byHeader[string(m.Header(HeaderSrcPartition))]
		if !ok || (!w.since.IsZero() && m.Time.Before(w.since)) {
			return
		}
		d := w.d
		if m.Header(HeaderDecision) == nil {
			// A record's own event: how far its run got.
			if o, err := strconv.ParseInt(string(m.Header(HeaderSrcOffset)), 10, 64); err == nil {
				mu.Lock()
				d.Reached = max(d.Reached, o)
				mu.Unlock()
			}
			return
		}
		var ev schemas.Event
		err := decode(m.Value, &ev)
		mu.Lock()
		defer mu.Unlock()
		if err == nil {
			err = d.Add(ev)
		}
		if err != nil && firstErr == nil {
			firstErr = fmt.Errorf("decision at %s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
	}, nil)
	if err != nil {
		return nil, err
	}
	defer tail.Close()
	if ok, err := awaitCaughtUp(ctx, cl, tail.CaughtUp(), &read, timeout); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("reading the decisions on the event log %s made no progress for %v (%d events read)", eventsTopic, timeout, read.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	return out, firstErr
}
