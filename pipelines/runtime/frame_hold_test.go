package runtime

import (
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestCutWaitsForTheOutputsOfAFrameWithoutRecords: a wake frame of an idle
// partition (no records) executes an approved action; its outcome and
// trace answer no input. Encoded by the worker, they carry the frame's
// hold, and a cut taken at that frame — its state has the approval
// applied — is not durable, so not committed, until they are; a cut taken
// before the frame does not wait for them.
func TestCutWaitsForTheOutputsOfAFrameWithoutRecords(t *testing.T) {
	fl := newInflight()
	w := &partitionWorker{stopAt: -1, inflight: fl}
	w.outs = newOutputs("prod", "", laneIDs{result: 11, event: 12, trace: 13, action: 14}, fl, func(err error) { t.Error(err) })
	read := topics.NewAck()
	w.acks.put(4, read, time.Now())
	read.Done(nil) // the partition's last input, answered and durable
	before := &Checkpoint{Partition: 2, Next: 5, holds: w.acks.holdsSoFar()}

	wake := &stages.Frame{Lane: schemas.LaneProd, Partition: 2,
		Traces:  []schemas.Trace{{ID: "t1", MsgID: "m-approved", Lane: schemas.LaneProd, RiskClass: schemas.RiskMinimal}},
		Actions: []schemas.Event{{ID: "a1", Kind: schemas.EventAction, Lane: schemas.LaneProd, GlyphID: "g", MsgID: "m-approved", Payload: schemas.Payload{"status": "executed"}}},
	}
	w.holdFrame(wake)
	at := &Checkpoint{Partition: 2, Next: 5, holds: w.acks.holdsSoFar()}
	out := w.encode(wake)
	if len(out) != 2 {
		t.Fatalf("%d outputs, want the trace and the action", len(out))
	}
	for _, m := range out {
		if m.Ack == nil {
			t.Fatalf("%s output answers nothing: no cut would wait for it", m.Topic)
		}
	}
	if !w.acks.durable(before) {
		t.Fatal("a cut taken before the wake frame waits for the frame's outputs")
	}
	if w.acks.durable(at) {
		t.Fatal("the cut at the wake frame is durable before the frame's outputs are")
	}
	out[0].Ack.Done(nil)
	if w.acks.durable(at) {
		t.Fatal("the cut at the wake frame is durable with one of its outputs unwritten")
	}
	out[1].Ack.Done(nil)
	if !w.acks.durable(at) {
		t.Fatal("the cut at the wake frame is not durable once its outputs are")
	}
	w.acks.forget(at)
	if len(w.acks.holds) != 0 {
		t.Fatalf("%d holds left after the cut committed", len(w.acks.holds))
	}

	// A frame with records needs no hold: its outputs count against them.
	f, _, _ := identityFrame(t, fl)
	w.holdFrame(f)
	if w.acks.holdsSoFar() != 1 {
		t.Fatal("a frame with records got a hold")
	}
}
