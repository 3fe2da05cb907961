package runtime

import (
	"context"
	"fmt"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// applyControl applies one matriz.control record to the lane's live flags
// and logs every effective change; the next frame the tick emits carries
// the new values. Both a change and a record it cannot apply (a value such
// as "maybe") are logged at warning level, the level `matriz run` prints
// by default: a kill switch flipping, or failing to, is something the
// operator must see without --debug.
func (lr *laneRuntime) applyControl(m topics.Message) {
	changes, err := lr.flags.Apply(m.Key, m.Value)
	if err != nil {
		lr.log.Warn("control record ignored: the flags in force are unchanged", "lane", lr.lane, "key", string(m.Key), "value", string(m.Value), "offset", m.Offset, "err", err)
		return
	}
	for _, c := range changes {
		if c.Name == FlagCanary && c.New && lr.canary != nil {
			lr.canary.started.Add(1)       // every partition's shadow starts afresh...
			lr.canary.stopped.Store(false) // ...after an abort too
		}
		lr.log.Warn("flag changed", "lane", lr.lane, "flag", c.Name, "from", c.Old, "to", c.New, "control_offset", m.Offset)
		if lr.cfg.OnFlagChange != nil {
			lr.cfg.OnFlagChange(c)
		}
	}
}

// applyApproval records a human approval from the lane's approvals topic:
// an Event of kind approval whose payload names the action.
func (lr *laneRuntime) applyApproval(m topics.Message) {
	var ev schemas.Event
	if _, err := schemas.DecodeWire(lr.work, lr.serde.Lookup(), m.Value, &ev); err != nil {
		lr.log.Warn("ignoring undecodable approval", "lane", lr.lane, "offset", m.Offset, "err", err)
		return
	}
	id, ok := ev.Payload.String(stages.ApprovalActionKey)
	if ev.Kind != schemas.EventApproval || !ok || id == "" {
		lr.log.Warn("ignoring approval record without an action id", "lane", lr.lane, "offset", m.Offset, "kind", ev.Kind)
		return
	}
	if !lr.approvalCounts(m, &ev, id) { // approval_verdict.go
		return
	}
	lr.chain.Approvals.Approve(id)
	lr.approvalCount.Add(1) // after Approve: a partition it wakes sees it
	lr.log.Info("action approved", "lane", lr.lane, "action", id, "by", ev.Payload["approver"])
}

// awaitControl waits until the lane has read matriz.control to its end
// (caughtUp closes), so the first frame already runs with every kill
// switch recorded there: a lane that started on its spec and environment
// flags instead would run with a switch on that the control topic turned
// off. It waits as long as it takes — no partition is taken meanwhile,
// the group's other members keep working — and says so: a warning every
// controlWaitLog naming how long it has waited, and a readiness reason.
// It returns false when ctx ends first (the lane then stops cleanly).
func (lr *laneRuntime) awaitControl(ctx context.Context, caughtUp <-chan struct{}) bool {
	start := lr.clock.Now()
	select {
	case <-caughtUp:
		return true
	default:
	}
	lr.ready.set(reasonControl, fmt.Sprintf("lane %s has not read %s to its end: it works no partition until its kill switches are known", lr.lane, topics.ControlTopic))
	defer lr.ready.set(reasonControl, "")
	tk := lr.clock.NewTicker(lr.cfg.controlWaitLog)
	defer tk.Stop()
	for {
		select {
		case <-caughtUp:
			lr.log.Warn("read "+topics.ControlTopic+" to its end; starting", "lane", lr.lane, "waited", lr.clock.Now().Sub(start).Round(time.Millisecond))
			return true
		case <-ctx.Done():
			return false
		case now := <-tk.C():
			lr.log.Warn("waiting to read "+topics.ControlTopic+" to its end before working any partition: kill switches recorded there are not known yet; check the brokers and the topic's ACLs",
				"lane", lr.lane, "waited", now.Sub(start).Round(time.Second))
		}
	}
}

// stopped marks the lane not ready once Run returns: for good with the
// error when it failed.
func (lr *laneRuntime) stopped(err error) {
	if err != nil {
		lr.ready.set(reasonFatal, fmt.Sprintf("lane %s stopped: %v", lr.lane, err))
		return
	}
	lr.ready.set(reasonJoin, fmt.Sprintf("lane %s stopped: it left its consumer group", lr.lane))
}
