package runtime

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// The decisions a partition worker makes at frame boundaries, on the frame
// goroutine, and writes to the event log with the frame's outputs:
//
//   - the flags a frame runs with: live, the values in force when the tick
//     emitted it; re-decided, the values recorded for that frame. A change
//     from the partition's previous frame is a flag_change decision;
//   - the approvals a frame sees: live, the lane's approvals of actions
//     waiting in this partition that it has not applied yet; re-decided,
//     the ones recorded for that frame. Each is an approval_applied
//     decision;
//   - each late record: a late decision, with its offset.
//
// Late frames (Seq < 0) take the flags and approvals of the partition's
// last frame, so they need no decision of their own.

// StageRuntime names the runtime on the decisions it records.
const StageRuntime = "runtime"

// decideFrame sets f's flags and approvals and records the decisions.
func (w *partitionWorker) decideFrame(f *stages.Frame) {
	if w.flags == nil {
		// The partition's first frame (of any kind) since a start without
		// state: its flags are a decision of their own.
		flags := f.Flags
		fromLog := w.decisions.redecided(f) && w.decisions.initial != nil
		if fromLog {
			flags = *w.decisions.initial
		}
		payload := flagsPayload(flags)
		payload["initial"] = true
		if !w.decided(f, fromLog, w.frameDecision(f, schemas.EventFlagChange, initialExtra(f), payload)) {
			flags = stages.Flags{} // not durable: run with every switch off, executing nothing
		}
		w.flags = &flags
	} else if f.Seq >= 0 {
		flags := f.Flags
		fromLog := w.decisions.redecided(f)
		if fromLog {
			flags = *w.flags
			if rec, ok := w.decisions.flagsAt(f.Start); ok {
				flags = rec
			}
		}
		if *w.flags != flags && w.decided(f, fromLog, w.frameDecision(f, schemas.EventFlagChange, "", flagsPayload(flags))) {
			w.flags = &flags // a change whose decision is not durable is not made
		}
	}
	if f.Seq >= 0 {
		w.applyApprovals(f)
	}
	f.Flags = *w.flags
	f.Approvals = w.applied
	for i := range f.Records {
		if r := &f.Records[i]; r.Late && r.Msg != nil {
			f.Events = append(f.Events, lateDecision(w.lane.lane, r))
		}
	}
}

// initialExtra tells apart the first frames of two starts: a late frame has
// no seq of its own, so its offset names it.
func initialExtra(f *stages.Frame) string {
	if f.Seq < 0 {
		return "initial@" + strconv.FormatInt(f.Through, 10)
	}
	return "initial"
}

// applyApprovals applies to the regular frame f the approvals due at it.
func (w *partitionWorker) applyApprovals(f *stages.Frame) {
	// Read before the approvals are: one arriving meanwhile wakes the
	// partition again if it goes quiet.
	w.wake.seen.Store(w.lane.approvalCount.Load())
	var ids []string
	if w.decisions.redecided(f) {
		ids = w.decisions.approvals[frameKey{f.FPS, f.Seq}]
	}
	// Past the farthest input an earlier run left a trace of, no earlier
	// decision can be on the log: approvals read since apply here too
	// (and are logged), or a partition re-deciding up to the end it had at
	// restart would hold every new approval until new input arrives.
	recorded := len(ids)
	if (!w.decisions.redecided(f) || f.Through > w.decisions.Reached) && w.guardian != nil && w.lane.chain.Approvals != nil {
		for _, id := range w.guardian.Waiting() {
			if w.lane.chain.Approvals.Approved(id) && !w.applied.Approved(id) && !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	for i, id := range ids {
		ev := w.frameDecision(f, schemas.EventApprovalApplied, id, schemas.Payload{stages.ApprovalActionKey: id})
		if w.decided(f, i < recorded, ev) {
			w.applied.Approve(id) // one whose decision is not durable stays waiting
		}
	}
}

// decided records ev, a decision about f read from the log (fromLog) or
// made live. A live run writes a live decision ahead (decisions_ahead.go)
// and reports false when it could not: the decision must not take effect.
// Every other decision goes out with the frame's outputs, ahead of them.
func (w *partitionWorker) decided(f *stages.Frame, fromLog bool, ev schemas.Event) bool {
	if fromLog || !w.writesAhead() {
		f.Events = append(f.Events, ev)
		return true
	}
	if err := w.writeDecisionsAhead(f, ev); err != nil {
		w.lane.reportErr(fmt.Errorf("partition %d: %s decision %s not made: %w", f.Partition, ev.Kind, ev.ID, err))
		return false
	}
	return true
}

// writesAhead reports whether this run writes its live flag and approval
// decisions before the chain runs their frame: a live run on the lane's
// own topics, not a replay, which executes nothing.
func (w *partitionWorker) writesAhead() bool {
	return w.fence != nil && w.lane.sinks != nil && w.lane.namespace == ""
}

// frameDecision is a decision taken at frame f; extra distinguishes two of
// one kind at the same frame.
func (w *partitionWorker) frameDecision(f *stages.Frame, kind schemas.EventKind, extra string, payload schemas.Payload) schemas.Event {
	payload["partition"] = int64(f.Partition)
	payload["seq"] = f.Seq
	payload["fps"] = int64(f.FPS)
	payload["start_ns"] = f.Start.UnixNano()
	return schemas.Event{
		ID:      stages.DerivedID(stages.FrameSubject(f.Lane, f.Partition, f.FPS, f.Seq), StageRuntime, string(kind), extra),
		TS:      f.Start,
		Kind:    kind,
		Lane:    f.Lane,
		Stage:   StageRuntime,
		Payload: payload,
	}
}

// lateDecision records that r missed its frame.
func lateDecision(lane schemas.Lane, r *stages.Record) schemas.Event {
	return schemas.Event{
		ID:      stages.DerivedID(r.Msg.MsgID, StageRuntime, string(schemas.EventLate), strconv.Itoa(int(r.Partition)), strconv.FormatInt(r.Offset, 10)),
		TS:      r.Msg.TS,
		Kind:    schemas.EventLate,
		Lane:    lane,
		GlyphID: r.Msg.Glyph.ID,
		MsgID:   r.Msg.MsgID,
		Stage:   StageRuntime,
		Payload: schemas.Payload{"partition": int64(r.Partition), "offset": r.Offset},
	}
}

// isDecision reports whether kind is one of the decisions a replay reads.
func isDecision(kind schemas.EventKind) bool {
	switch kind {
	case schemas.EventWatermark, schemas.EventFPSChange, schemas.EventDecimation,
		schemas.EventFlagChange, schemas.EventApprovalApplied, schemas.EventLate:
		return true
	}
	return false
}
