package runtime

// Approvals with identity. A record on matriz.<lane>.approvals approves
// an action only when it names one the lane previewed before the record
// was written and still waits for, with the kind and parameter hash of
// that preview, by someone other than the producer of the message that
// asked for it (stages.CheckApproval). The lane's action index (the
// at-most-once guard's tail of matriz.<lane>.actions) holds the previews.
// Each approval gets a verdict — accepted or refused with its reason, and
// the approver — on the lane's events topic: a lane event, not a frame's
// output, so a replay neither makes nor compares it. Approvals are read
// again from the start by every process of the lane: a verdict has an id
// derived from the approval's place on the topic, so its copies are one.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// HeaderLaneEvent marks an event a lane writes about itself rather than
// about a frame (an approval's verdict, a promotion): a replay makes none,
// and its diff leaves them out.
const HeaderLaneEvent = "matriz-lane-event"

// Approval verdict statuses.
const (
	VerdictAccepted = "accepted"
	VerdictRefused  = "refused"
)

// previewWait bounds how long an approval read live waits for the index
// to read the actions topic up to where it ended when the approval was
// read: the approver read the preview from that topic before writing, so
// only the index's own lag is waited out, and an action not there then
// was not previewed when the approval was written. An approval read while
// catching up is checked at once: the index caught up first.
const previewWait = 5 * time.Second

// approvalVerdicts checks the lane's approvals and writes their verdicts.
type approvalVerdicts struct {
	index interface {
		Preview(actionID string) *stages.PreviewFacts
		CaughtUp() <-chan struct{}
		ReadTo(ends map[int]int64) bool
	}
	live atomic.Bool // the approvals tail caught up: records read now are new

	mu     sync.Mutex // guards sink against close
	sink   *topics.Sink
	err    error
	closed bool
}

// approvalCounts checks the approval ev read at m against the action it
// names, writes the verdict, and reports whether the approval counts.
func (lr *laneRuntime) approvalCounts(m topics.Message, ev *schemas.Event, id string) bool {
	v := &lr.verdicts
	claim := stages.ApprovalClaim{ActionID: id, At: m.Time}
	claim.Kind, _ = ev.Payload.String(stages.ActionKindKey)
	claim.ParamsHash, _ = ev.Payload.String(stages.ParamsHashKey)
	claim.Approver, _ = ev.Payload.String(stages.ApproverKey)
	var refusal *stages.ApprovalRefusal
	if v.index == nil {
		refusal = &stages.ApprovalRefusal{Reason: stages.RefusedUnknown, Detail: "the lane has no index of its actions to check approvals against"}
	} else {
		refusal = stages.CheckApproval(lr.previewOf(id), claim)
	}
	status := VerdictAccepted
	if refusal != nil {
		status = VerdictRefused
		lr.log.Warn("approval refused", "lane", lr.lane, "action", id, "by", claim.Approver, "offset", m.Offset, "reason", refusal.Reason, "detail", refusal.Detail)
	}
	lr.writeVerdict(m, ev, claim, status, refusal)
	return refusal == nil
}

// previewOf returns the index's preview of id, waiting for the index to
// catch up at the start and, for an approval read live, up to previewWait
// for the preview to reach it.
func (lr *laneRuntime) previewOf(id string) *stages.PreviewFacts {
	v := &lr.verdicts
	select {
	case <-v.index.CaughtUp():
	case <-lr.work.Done():
		return nil
	}
	p := v.index.Preview(id)
	if p != nil || !v.live.Load() || lr.cfg.Brokers == nil {
		return p
	}
	ctx, cancel := context.WithTimeout(lr.work, previewWait)
	defer cancel()
	ends, err := topics.PartitionEnds(ctx, lr.cfg.Brokers, topics.Name(string(lr.lane), topics.KindActions))
	if err != nil {
		lr.reportErr(fmt.Errorf("approval of %s: %w (checked against the actions read so far)", id, err))
		return p
	}
	for deadline := lr.clock.Now().Add(previewWait); !v.index.ReadTo(ends) && lr.clock.Now().Before(deadline); {
		if !clock.Sleep(lr.work, lr.clock, 5*time.Millisecond) {
			return nil
		}
	}
	return v.index.Preview(id)
}

// writeVerdict writes the approval's verdict to the lane's events topic in
// the background; a write that fails is reported, the verdict stands.
func (lr *laneRuntime) writeVerdict(m topics.Message, approval *schemas.Event, claim stages.ApprovalClaim, status string, refusal *stages.ApprovalRefusal) {
	v := &lr.verdicts
	payload := schemas.Payload{stages.ApprovalActionKey: claim.ActionID, "status": status, stages.ApproverKey: claim.Approver,
		"approval_partition": int64(m.Partition), "approval_offset": m.Offset}
	if refusal != nil {
		payload["reason"], payload["detail"] = refusal.Reason, refusal.Detail
	}
	ev := schemas.Event{
		ID:      stages.DerivedID(claim.ActionID, StageRuntime, "approval", strconv.Itoa(int(m.Partition)), strconv.FormatInt(m.Offset, 10)),
		TS:      m.Time.UTC().Truncate(time.Microsecond),
		Kind:    schemas.EventApproval,
		Lane:    lr.lane,
		GlyphID: approval.GlyphID,
		MsgID:   approval.MsgID,
		Stage:   StageRuntime,
		Payload: payload,
	}
	if lr.ids.event == 0 || lr.cfg.Brokers == nil {
		return // no lane to write to (a unit test's runtime)
	}
	val, err := schemas.AppendWire(nil, lr.ids.event, &ev)
	if err != nil {
		lr.reportErr(err)
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	if v.sink == nil && v.err == nil {
		v.sink, v.err = topics.NewSink(lr.work, lr.cfg.Brokers)
	}
	if v.err != nil {
		lr.reportErr(v.err)
		return
	}
	ack := topics.NewAckFunc(func(err error) {
		if err != nil {
			lr.reportErr(err)
		}
	})
	v.sink.In() <- topics.Message{Topic: topics.Name(string(lr.lane), topics.KindEvents), Key: []byte(claim.ActionID), Value: val, Ack: ack,
		Headers: []topics.Header{{Key: HeaderOutputID, Value: []byte(ev.ID)}, {Key: HeaderLaneEvent, Value: []byte(ev.Kind)}}}
}

// close flushes the verdicts written so far.
func (v *approvalVerdicts) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	if v.sink != nil {
		close(v.sink.In())
		v.sink.AwaitCompletion()
	}
}
