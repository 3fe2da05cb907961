package operators

// Per-partition window state of the tick: which frames are open, up to
// where frames are closed, and the partition's frame grid.
//
// Invariants, per partition:
//   - closed is a frame boundary; every frame ending at or before it has
//     been emitted (or skipped as idle), and an event time before it is
//     late;
//   - open frames are sorted, start at or after closed, and do not overlap;
//   - frames are emitted in window order, each starting where the previous
//     one ended, except across an idle skip (see tick.go).

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/matriz/pipelines/stages"
)

type tickPart struct {
	id       int32
	closed   int64 // see the file comment
	maxTS    int64 // largest event time seen: the replay watermark is maxTS - grace
	open     []openFrame
	grid     frameGrid
	emptyRun int // consecutive empty frames emitted
	lastSize int // records in the last non-empty frame: the next frame's capacity hint

	lastOffset int64 // the last input read: decisions and cuts are placed after it
	lastFPS    int   // the rate of the last frame emitted
	cpBucket   int64 // the checkpoint interval of the last checkpoint

	cutOffset       int64 // lastOffset at the last cut
	emittedSinceCut int   // frames emitted since the last cut
}

type openFrame struct {
	w frameWindow
	f *stages.Frame
}

// part returns partition p's state, and whether it was just created: then
// its grid is at the current rate and the caller sets closed.
func (t *Tick) part(p int32) (*tickPart, bool) {
	tp, ok := t.parts[p]
	if !ok {
		tp = &tickPart{id: p, maxTS: math.MinInt64, grid: newFrameGrid(t.ctl.fps()), lastOffset: -1, cpBucket: math.MinInt64, cutOffset: -2}
		t.parts[p] = tp
		i, _ := slices.BinarySearch(t.order, p)
		t.order = slices.Insert(t.order, i, p)
		t.partitions.Store(int64(len(t.parts)))
	}
	return tp, !ok
}

// horizon is the end of everything p has opened or closed: a rate change
// can only take effect from there.
func (p *tickPart) horizon() int64 {
	h := p.closed
	if n := len(p.open); n > 0 && p.open[n-1].w.end > h {
		h = p.open[n-1].w.end
	}
	return h
}

// retarget moves p to the controller's current rate.
func (t *Tick) retarget(p *tickPart) {
	if !t.fixed {
		p.grid.retarget(t.ctl.fps(), p.horizon())
	}
}

// liveLimit is the instant up to which live mode has closed frames: a
// frame closes once the clock passes its end plus the grace.
func (t *Tick) liveLimit() int64 {
	return t.cfg.clock.Now().UnixNano() - int64(t.cfg.grace)
}

func (t *Tick) place(rec *stages.Record) {
	if rec == nil {
		t.invalid.Add(1)
		return
	}
	if p, ok := t.parts[rec.Partition]; ok {
		p.readPast(rec.Offset)
	}
	if reason := eventTimeProblem(rec); reason != "" {
		r := *rec
		r.Fail(StageTick, reason)
		t.invalid.Add(1)
		t.sendLate(&r)
		return
	}
	ns := rec.Msg.TS.UnixNano()
	p, created := t.part(rec.Partition)
	p.readPast(rec.Offset)
	switch {
	case created:
		t.scheduleInto(p)
		p.closed = p.grid.at(ns).start
	case t.cfg.mode == Live:
		t.retarget(p)
		t.closeUpTo(p, t.liveLimit())
	default:
		t.retarget(p)
	}
	if ns < p.closed {
		r := *rec
		r.Late = true
		t.lateRecords.Add(1)
		t.sendLate(&r)
		return
	}
	t.add(p, ns, rec)
	t.records.Add(1)
	if t.cfg.mode == Replay && ns > p.maxTS {
		p.maxTS = ns
		t.closeUpTo(p, ns-int64(t.cfg.grace))
	}
}

// readPast records that offset was read. The last input never moves back:
// a worker restored from a cut reads its open frames' records again and
// skips the done ones between them, so a record read again can lie below
// the cut's last input. A cut taken then must still count those done, and
// a decision must still go after them: both are placed after lastOffset.
func (p *tickPart) readPast(offset int64) { p.lastOffset = max(p.lastOffset, offset) }

// sendLate hands on a record that could not go into a frame: on Late(), or
// in band as a frame of its own (TickLateInBand).
func (t *Tick) sendLate(r *stages.Record) {
	if !t.cfg.inBand {
		t.late <- r
		return
	}
	f := &stages.Frame{Lane: t.cfg.lane, Partition: r.Partition, Seq: -1, FPS: t.bandFPS(r.Partition), Flags: t.cfg.flags(), Through: r.Offset, Records: []stages.Record{*r}}
	if r.Msg != nil {
		f.Start, f.End = r.Msg.TS, r.Msg.TS
	}
	t.batch = append(t.batch, f)
}

// bandFPS is the rate an in-band frame of partition (a late record's, or
// an empty one carrying a cut) is stamped with: the rate of the grid at
// the partition's closed point, which a replay following the recorded
// rate changes has too. The controller's target is not: a live tick
// adapts it at once, a replaying one never does.
func (t *Tick) bandFPS(partition int32) int {
	if p, ok := t.parts[partition]; ok {
		return p.grid.at(p.closed - 1).fps
	}
	return t.ctl.fps()
}

// eventTimeProblem says why rec cannot be placed in a frame, or "".
func eventTimeProblem(rec *stages.Record) string {
	if rec.Msg == nil {
		return fmt.Sprintf("record at partition %d offset %d has no message", rec.Partition, rec.Offset)
	}
	ts := rec.Msg.TS
	if ts.Before(minEventTime) || ts.After(maxEventTime) {
		return fmt.Sprintf("message %s at partition %d offset %d has event time %s, outside %d..%d: a frame cannot hold it (a zero or mis-scaled timestamp?)",
			rec.Msg.MsgID, rec.Partition, rec.Offset, ts.UTC().Format(time.RFC3339Nano), minEventTime.Year(), maxEventTime.Year())
	}
	return ""
}

// add appends rec to the open frame containing ns, opening it if needed.
func (t *Tick) add(p *tickPart, ns int64, rec *stages.Record) {
	w := p.grid.at(ns)
	// Messages mostly arrive in order: look from the newest open frame.
	i := len(p.open)
	for i > 0 && p.open[i-1].w.start > w.start {
		i--
	}
	if i == 0 || p.open[i-1].w.start != w.start {
		f := t.newFrame(p, w)
		f.Records = make([]stages.Record, 0, max(p.lastSize, 8))
		p.open = slices.Insert(p.open, i, openFrame{w: w, f: f})
		i++
	}
	of := &p.open[i-1]
	of.f.Records = append(of.f.Records, *rec)
}

func (t *Tick) newFrame(p *tickPart, w frameWindow) *stages.Frame {
	return &stages.Frame{
		Lane:      t.cfg.lane,
		Partition: p.id,
		Seq:       w.seq,
		Start:     time.Unix(0, w.start).UTC(),
		End:       time.Unix(0, w.end).UTC(),
		FPS:       w.fps,
	}
}

// closeUpTo emits, in order, every frame of p that ends at or before limit,
// open ones with their records and empty ones in between (up to the idle
// bound).
func (t *Tick) closeUpTo(p *tickPart, limit int64) {
	for {
		w := p.grid.at(p.closed) // starts exactly at p.closed
		if w.end > limit {
			return
		}
		switch {
		case len(p.open) > 0 && p.open[0].w.start == w.start:
			f := p.open[0].f
			p.open = slices.Delete(p.open, 0, 1)
			p.emptyRun = 0
			p.lastSize = len(f.Records)
			t.emit(p, f)
		case t.cfg.idle == 0 || p.emptyRun < t.cfg.idle:
			p.emptyRun++
			t.emptyFrames.Add(1)
			t.emit(p, t.newFrame(p, w))
		default:
			// Idle: jump to the next open frame or to the frame containing
			// limit, whichever comes first, without emitting.
			to := p.grid.at(limit).start
			if len(p.open) > 0 && p.open[0].w.start < to {
				to = p.open[0].w.start
			}
			t.idleSkipped.Add(p.grid.count(p.closed, to))
			p.closed = to
			p.grid.prune(p.closed)
			continue
		}
		p.closed = w.end
		p.grid.prune(p.closed)
	}
}

func (t *Tick) emit(p *tickPart, f *stages.Frame) {
	f.Flags = t.cfg.flags()
	f.Through = p.lastOffset
	t.noteFPS(p, f)
	if t.checkpointDue(p, f) {
		f.Cut = cutDue
	}
	t.frames.Add(1)
	p.emittedSinceCut++
	t.batch = append(t.batch, f)
}

// flush emits every open frame of p.
func (t *Tick) flush(p *tickPart) {
	if n := len(p.open); n > 0 {
		t.closeUpTo(p, p.open[n-1].w.end)
	}
}

// flushAll emits every open frame at the end of input. In a live run
// (decisions on) that is a decision: the frames close before their time,
// so it is logged as a watermark a replay applies at the same offset.
func (t *Tick) flushAll() {
	if t.flushLogged() {
		t.cutWanted.Store(true) // a live run commits at exactly where it stopped
	}
	for _, id := range t.order {
		p := t.parts[id]
		if t.flushLogged() && len(p.open) > 0 {
			t.advance(p, p.open[len(p.open)-1].w.end+int64(t.cfg.grace), "shutdown", p.lastOffset)
		}
		t.flush(p)
	}
	if t.cutWanted.Load() && len(t.batch) == 0 && len(t.order) > 0 {
		t.carry(t.parts[t.order[len(t.order)-1]])
	}
}

func (t *Tick) flushLogged() bool {
	if t.cfg.flushLogged != nil {
		return *t.cfg.flushLogged
	}
	return t.cfg.decisions
}

// onClock closes, in partition order, every live frame the clock has passed.
func (t *Tick) onClock() {
	limit := t.liveLimit()
	for _, id := range t.order {
		p := t.parts[id]
		t.retarget(p)
		t.closeUpTo(p, limit)
	}
}

// assign starts a live partition ticking from the frame the clock is in
// (less the grace, so a message up to the grace late still fits).
func (t *Tick) assign(id int32) {
	if t.cfg.mode != Live {
		return
	}
	if p, created := t.part(id); created {
		p.closed = p.grid.at(t.liveLimit()).start
	}
}

// revoke emits p's open frames and forgets it.
func (t *Tick) revoke(id int32) {
	p, ok := t.parts[id]
	if !ok {
		return
	}
	t.flush(p)
	delete(t.parts, id)
	if i, found := slices.BinarySearch(t.order, id); found {
		t.order = slices.Delete(t.order, i, i+1)
	}
	t.partitions.Store(int64(len(t.parts)))
}

// watermark advances a replay partition's watermark; see TickWatermark.
func (t *Tick) watermark(x TickWatermark) {
	if t.cfg.mode != Replay {
		return
	}
	p, ok := t.parts[x.Partition]
	if !ok {
		return // nothing seen yet: the first message decides where frames start
	}
	after := p.lastOffset
	if x.After != nil {
		after = *x.After
	}
	why := x.Why
	switch why {
	case "":
		why = "recorded"
	case WhyApproval:
		t.wakeAt(p, x.Time, after)
		return
	}
	t.advance(p, x.Time.UnixNano(), why, after)
}
