package runtime

import (
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
	lr.chain.Approvals.Approve(id)
	lr.approvalCount.Add(1) // after Approve: a partition it wakes sees it
	lr.log.Info("action approved", "lane", lr.lane, "action", id, "by", ev.Payload["approver"])
}
