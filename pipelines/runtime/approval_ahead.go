package runtime

import (
	"fmt"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// An approval a live run applies at a frame lets the guardian execute its
// action while the chain runs that frame, and an execution is a side
// effect no restart can take back: the action guard writes its executing
// record and calls the executor before the frame's outputs are written.
// So the approval_applied decisions the frame was given live are written,
// and acknowledged, before the chain runs it. A run killed after the call
// leaves the decision on the log, and the restart applies the approval at
// the same frame instead of holding it for a later one. A decision read
// from the log (a restart re-deciding, a replay) is already there.
//
// Approvals are rare (a person grants each), so waiting for one write
// round trip at the frame that applies them costs the lane nothing it
// would notice.

// writeApprovalsAhead writes evs, f's live approval decisions, and waits
// until Kafka acknowledged them; an error means they are not durable and
// must not be applied.
func (w *partitionWorker) writeApprovalsAhead(f *stages.Frame, evs []schemas.Event) error {
	lr := w.lane
	done := make(chan error, 1)
	ack := topics.NewAckFunc(func(err error) { done <- err })
	ack.Add(len(evs) - 1)
	msgs := make([]topics.Message, 0, len(evs))
	for i := range evs {
		ev := &evs[i]
		val, err := schemas.AppendWire(nil, lr.ids.event, ev)
		if err != nil {
			return fmt.Errorf("encode decision %s: %w", ev.ID, err)
		}
		m := topics.Message{Topic: w.outs.topics.events, Key: []byte(partitionKey(f.Partition)), Value: val, Ahead: true, Ack: ack,
			Headers: outputHeaders(nil, w.outs.laneValue, w.outs.schemaIDs.event, nil,
				append(decisionHeaders(ev.Kind, f.Partition), topics.Header{Key: HeaderOutputID, Value: []byte(ev.ID)})...)}
		w.fence.stamp(&m)
		msgs = append(msgs, m)
	}
	for _, m := range msgs {
		select {
		case lr.sink.In() <- m:
		case <-w.work.Done():
			return fmt.Errorf("approval decisions not written: %w", w.work.Err())
		}
	}
	select {
	case err := <-done:
		return err
	case <-w.work.Done():
		return fmt.Errorf("approval decisions not acknowledged: %w", w.work.Err())
	}
}
