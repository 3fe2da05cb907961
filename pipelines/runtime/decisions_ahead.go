package runtime

import (
	"errors"
	"fmt"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// The decisions a live run makes at a frame boundary that let the chain act
// on the world — an approval applied, a flag or kill switch changed (the
// initial flags too) — are written, and acknowledged, before the chain runs
// the frame. The guardian may execute an action while it runs, and an
// execution is a side effect no restart can take back: the action guard
// writes its executing record and calls the executor before the frame's
// outputs are written. A run killed after the call leaves the decision on
// the log, so the restart makes it at the same frame instead of another.
// A decision read from the log (a restart re-deciding, a replay) is there
// already, and the others (watermarks, drops, late records) change no
// side effect: they go out with the frame's outputs, ahead of them.
//
// These decisions are rare (a person grants an approval or flips a
// switch; the initial flags come once per partition per start), so one
// write round trip at their frame costs the lane nothing it would notice.

// writeDecisionsAhead writes evs, decisions f was given live, and waits
// until Kafka acknowledged them; an error means they are not durable and
// must not take effect.
func (w *partitionWorker) writeDecisionsAhead(f *stages.Frame, evs ...schemas.Event) error {
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
		if !lr.sinks.send(w.partition, m) {
			return errors.New("decision not written: the lane's output sink is closed")
		}
	}
	select {
	case err := <-done:
		return err
	case <-w.work.Done():
		return fmt.Errorf("decision not acknowledged: %w", w.work.Err())
	}
}
