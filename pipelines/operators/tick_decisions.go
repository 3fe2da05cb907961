package operators

// What the tick decides that event time alone does not, and the window
// state a checkpoint captures.
//
// With TickDecisions on, the tick writes its non-deterministic decisions as
// events on the frames they shape, so they reach the lane's event log with
// the frames' outputs:
//
//   - a watermark that closed frames without a later message (an idle
//     partition, or the flush at shutdown): event kind watermark, with the
//     offset after which it came and the event time it advanced to. A
//     replay sends the same TickWatermark after the same offset.
//   - a partition's first frame at a new rate: event kind fps_change, with
//     the boundary it starts at. A replay preloads the partition's grid
//     with these switches (TickFPSSchedule) and does not adapt.
//
// A cut (TickCut) is the tick's state for one partition right after it
// handled an input: where frames are closed, the grid, and which offsets
// still wait in open frames. The runtime asks for one (RequestCut) and the
// tick attaches it to the last frame it emitted for that input, so the
// chain can snapshot the stage state at exactly the same point.

import (
	"math"
	"slices"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TickIdle tells the tick that Partition has gone quiet: its open frames
// close, as if a message had arrived one frame after the last one (the
// watermark moves to the end of the last open frame plus the grace). It is
// event time, never the wall clock, so a producer whose clock runs behind
// ours is not judged late. With nothing open it does nothing.
//
// Upto, when set, is how far the partition's event time has got by now,
// reckoned by our clock from its records' event times (see IdleWatermark): only
// the open frames whose end plus the grace it has reached close, the
// watermark moving to Upto. So a quiet partition's frame closes at its
// deadline, not a whole quiet spell after it. An Upto that reaches no
// open frame's deadline does nothing, and is not logged.
type TickIdle struct {
	Partition int32
	Upto      time.Time
}

// WhyIdle is the why of a watermark TickIdle advanced.
const WhyIdle = "idle"

// TickCutNow asks for a cut of Partition even if no frame is due: the tick
// emits an empty carrier frame (Seq -1, no records) holding it. An idle
// partition commits this way.
type TickCutNow struct{ Partition int32 }

// TickLive ends a partition's re-decided region (see TickFPSSchedule): from
// here the tick adapts its rate again.
type TickLive struct{}

// TickRestore sets Partition's window state from a checkpoint before its
// first input.
type TickRestore struct {
	Partition int32
	State     TickState
}

// GridSwitch is one change of a partition's frame rate: frames starting at
// or after From (a boundary, ns since the epoch) are cut at FPS.
type GridSwitch struct {
	From int64 `json:"from"`
	FPS  int   `json:"fps"`
}

// TickState is one partition's window state, as a checkpoint stores it.
type TickState struct {
	Closed     int64        `json:"closed"`
	MaxTS      int64        `json:"max_ts"`
	EmptyRun   int          `json:"empty_run"`
	LastSize   int          `json:"last_size"`
	LastFPS    int          `json:"last_fps"`
	LastOffset int64        `json:"last_offset"`
	Grid       []GridSwitch `json:"grid"`
}

// TickCut is a partition's cut: its window state after the input at Next-1,
// and the offsets still waiting in open frames, in the order they were read.
type TickCut struct {
	Partition  int32
	Next       int64
	Open       []int64
	State      TickState
	Checkpoint bool // due for the retained checkpoints topic (TickCheckpointEvery)
	// Final marks the cut at the end of a live run's input: nothing after
	// Next was read, so nothing past it was decided.
	Final bool
}

// TickDecisions turns on decision events (see the file comment). The
// runtime's live run and replays turn it on; a replay's flush at the end
// of its range is not a decision and is never logged.
func TickDecisions(on bool) TickOption { return func(t *tickConfig) { t.decisions = on } }

// TickFlushLogged makes the flush at the end of input a logged decision
// (default: as TickDecisions). A live run closing its frames early at
// shutdown decided something a replay must repeat; a replay ending its
// range did not.
func TickFlushLogged(on bool) TickOption { return func(t *tickConfig) { t.flushLogged = &on } }

// TickLateInBand sends late and unplaceable records on Out, each as a frame
// of its own with Seq -1, in the order the tick met them, instead of on
// Late(). The chain then sees them at the same point of the stream in every
// run, which a reproducible replay needs.
func TickLateInBand(on bool) TickOption { return func(t *tickConfig) { t.inBand = on } }

// TickCheckpointEvery marks a cut as due for the checkpoints topic at the
// first frame ending on or past each multiple of d in event time (0: never).
func TickCheckpointEvery(d time.Duration) TickOption {
	return func(t *tickConfig) { t.checkpointEvery = d }
}

// TickFPSSchedule fixes each partition's grid to the switches of a recorded
// run and turns adaptation off until TickLive: a replay cuts exactly the
// frames the live run cut.
func TickFPSSchedule(f func(partition int32) []GridSwitch) TickOption {
	return func(t *tickConfig) { t.schedule = f }
}

// RequestCut asks for a cut of every partition the next input touches.
func (t *Tick) RequestCut() { t.cutWanted.Store(true) }

// CutPending reports whether a requested cut has not been taken yet.
func (t *Tick) CutPending() bool { return t.cutWanted.Load() }

// carry emits an empty frame for p to carry a cut.
func (t *Tick) carry(p *tickPart) {
	t.batch = append(t.batch, &stages.Frame{Lane: t.cfg.lane, Partition: p.id, Seq: -1, FPS: t.bandFPS(p.id), Through: p.lastOffset})
}

// cutNow answers TickCutNow. A partition that read nothing and emitted
// nothing since its last cut has nothing new to cut.
func (t *Tick) cutNow(id int32) {
	p, ok := t.parts[id]
	if !ok || !t.cutWanted.Load() || len(t.batch) > 0 {
		return
	}
	if p.cutOffset == p.lastOffset && p.emittedSinceCut == 0 {
		t.cutWanted.Store(false)
		return
	}
	t.carry(p)
}

// state returns p's window state. A rate switch at or past the horizon
// has not taken effect and may still be abandoned (retarget): it is left
// out, and a tick restored from the state takes it from the recorded
// switches only if this one took it.
func (p *tickPart) state() TickState {
	s := TickState{Closed: p.closed, MaxTS: p.maxTS, EmptyRun: p.emptyRun, LastSize: p.lastSize, LastFPS: p.lastFPS, LastOffset: p.lastOffset}
	h := p.horizon()
	for i, g := range p.grid.segs {
		if i > 0 && g.from >= h {
			break
		}
		s.Grid = append(s.Grid, GridSwitch{From: g.from, FPS: g.fps})
	}
	return s
}

// restore sets the window state of a new partition from a checkpoint.
func (t *Tick) restore(id int32, s TickState) {
	p, _ := t.part(id)
	p.closed, p.maxTS, p.emptyRun, p.lastSize, p.lastFPS, p.lastOffset = s.Closed, s.MaxTS, s.EmptyRun, s.LastSize, s.LastFPS, s.LastOffset
	p.grid.segs = p.grid.segs[:0]
	for _, g := range s.Grid {
		p.grid.segs = append(p.grid.segs, gridSeg{from: g.From, fps: g.FPS})
	}
	if len(p.grid.segs) == 0 {
		p.grid = newFrameGrid(t.ctl.fps())
	}
	t.ctl.set(p.grid.last().fps)
	t.scheduleInto(p)
}

// scheduleInto adds the recorded switches still ahead of p's grid.
func (t *Tick) scheduleInto(p *tickPart) {
	if t.cfg.schedule == nil {
		return
	}
	for _, g := range t.cfg.schedule(p.id) {
		if g.From > p.grid.last().from && g.FPS != p.grid.last().fps {
			p.grid.segs = append(p.grid.segs, gridSeg{from: g.From, fps: g.FPS})
		}
	}
}

// cut returns p's cut after the input just handled.
func (p *tickPart) cut(checkpoint bool) *TickCut {
	p.cutOffset, p.emittedSinceCut = p.lastOffset, 0
	c := &TickCut{Partition: p.id, Next: p.lastOffset + 1, State: p.state(), Checkpoint: checkpoint}
	for _, of := range p.open {
		for i := range of.f.Records {
			c.Open = append(c.Open, of.f.Records[i].Offset)
		}
	}
	slices.Sort(c.Open)
	return c
}

// decision is a tick decision event about partition p, derived from the
// frame it shaped so a replay derives the same id.
func (t *Tick) decision(f *stages.Frame, kind schemas.EventKind, ts time.Time, payload schemas.Payload) schemas.Event {
	payload["partition"] = int64(f.Partition)
	payload["seq"] = f.Seq
	payload["fps"] = int64(f.FPS)
	return schemas.Event{
		ID:      stages.EventID(stages.FrameSubject(f.Lane, f.Partition, f.FPS, f.Seq), StageTick, kind),
		TS:      ts,
		Kind:    kind,
		Lane:    f.Lane,
		Stage:   StageTick,
		Payload: payload,
	}
}

// advance moves p's watermark to ns (event time) and closes what it passes;
// with decisions on, the first frame it closed carries a watermark event,
// placed after offset after.
func (t *Tick) advance(p *tickPart, ns int64, why string, after int64) {
	if ns <= p.maxTS {
		return
	}
	p.maxTS = ns
	t.retarget(p)
	before := len(t.batch)
	t.closeUpTo(p, ns-int64(t.cfg.grace))
	if !t.cfg.decisions || len(t.batch) == before {
		return
	}
	first := t.batch[before]
	first.Events = append(first.Events, t.decision(first, schemas.EventWatermark, time.Unix(0, ns).UTC(), schemas.Payload{
		"after_offset": after,
		"to_ns":        ns,
		"frames":       int64(len(t.batch) - before),
		"why":          why,
	}))
}

// idle answers TickIdle: the watermark moves to the end of the last open
// frame plus the grace, or to x.Upto when that is sooner and reaches the
// first open frame's end plus the grace.
func (t *Tick) idle(x TickIdle) {
	p, ok := t.parts[x.Partition]
	if !ok || len(p.open) == 0 {
		return
	}
	grace := int64(t.cfg.grace)
	to := p.open[len(p.open)-1].w.end + grace
	if !x.Upto.IsZero() {
		upto := x.Upto.UnixNano()
		if upto < p.open[0].w.end+grace {
			return // no open frame is due yet
		}
		to = min(to, upto)
	}
	t.advance(p, to, WhyIdle, p.lastOffset)
}

// noteFPS records, on the first frame p emits at a new rate, the switch.
func (t *Tick) noteFPS(p *tickPart, f *stages.Frame) {
	if p.lastFPS != 0 && f.FPS != p.lastFPS && t.cfg.decisions {
		f.Events = append(f.Events, t.decision(f, schemas.EventFPSChange, f.Start, schemas.Payload{
			"from_fps": int64(p.lastFPS),
			"from_ns":  f.Start.UnixNano(),
		}))
	}
	p.lastFPS = f.FPS
}

// checkpointDue reports whether f crosses the next checkpoint boundary of p.
func (t *Tick) checkpointDue(p *tickPart, f *stages.Frame) bool {
	d := int64(t.cfg.checkpointEvery)
	if d <= 0 {
		return false
	}
	b := f.End.UnixNano() / d
	if p.cpBucket == math.MinInt64 {
		p.cpBucket = b
		return false
	}
	if b > p.cpBucket {
		p.cpBucket = b
		return true
	}
	return false
}
