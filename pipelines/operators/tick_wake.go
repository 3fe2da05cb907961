package operators

import "time"

// Waking an idle partition. In event time a quiet partition emits no frame,
// yet some work waits for one: an action approved while its partition is
// idle is applied at a frame boundary. TickWake makes the tick close one
// frame there: the partition's open frames, or with none open the empty
// frame right after the last one closed. It is a watermark advance like
// any other, logged as a watermark decision with why "approval" after the
// last offset read, so a replay sends the same TickWatermark at the same
// offset and cuts the same frame.

// WhyApproval is the why of a watermark that woke an idle partition for an
// approval.
const WhyApproval = "approval"

// TickWake asks the tick to close a frame of Partition now (see above). A
// partition the tick has not seen a message of yet is left alone.
type TickWake struct{ Partition int32 }

// wake answers TickWake.
func (t *Tick) wake(id int32) {
	p, ok := t.parts[id]
	if !ok {
		return
	}
	t.retarget(p) // the frame after closed is cut at the rate in force, as advance will
	end := p.grid.at(p.closed).end
	if n := len(p.open); n > 0 {
		end = p.open[n-1].w.end
	}
	t.approvalAdvance(p, end+int64(t.cfg.grace), p.lastOffset)
}

// approvalAdvance moves p's watermark to ns for an approval. The frame it
// closes is emitted even past the idle bound of empty frames: it is the
// frame the approval is applied at. A replay takes the same path (see
// watermark), so the empty-run count stays the same in both.
func (t *Tick) approvalAdvance(p *tickPart, ns, after int64) {
	if ns <= p.maxTS {
		return
	}
	p.emptyRun = 0
	t.advance(p, ns, WhyApproval, after)
}

// wakeAt is the replay side of a recorded approval watermark.
func (t *Tick) wakeAt(p *tickPart, at time.Time, after int64) {
	t.approvalAdvance(p, at.UnixNano(), after)
}
