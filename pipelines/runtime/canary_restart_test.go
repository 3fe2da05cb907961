package runtime

import (
	"bytes"
	"log/slog"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestCanaryTurnedOnAgainShadowsAPartitionThatAbortedWhileIdle: a
// partition aborted the canary, then ran no frame while CANARY_ENABLED was
// turned off and on again. Its next frame shadows afresh, with a new
// shadow chain and its agreement counted from zero, instead of keeping the
// aborted shadow until the partition is reassigned.
func TestCanaryTurnedOnAgainShadowsAPartitionThatAbortedWhileIdle(t *testing.T) {
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	lane := schemas.LaneProd
	lc, err := newLaneCanary(lane, &spec.Canary{From: lane, Fraction: 1, MinAgreement: 0.5, MinSamples: 1, Lane: *sp.Lanes[lane]})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	lr := &laneRuntime{lane: lane, canary: lc, log: slog.New(slog.NewTextHandler(&logs, nil)),
		flags: NewLiveFlags(lane, stages.Flags{Canary: true})}
	w := newWorker(lr, 0)
	aborted := &partitionCanary{aborted: true, started: lc.started.Load()}
	w.canary = aborted
	lc.stopped.Store(true) // the abort

	lr.applyControl(topics.Message{Key: []byte(FlagCanary), Value: []byte("false"), Offset: 1})
	lr.applyControl(topics.Message{Key: []byte(FlagCanary), Value: []byte("true"), Offset: 2})
	if lc.stopped.Load() {
		t.Fatal("the canary is still stopped after it was turned on again")
	}

	msgs := laneMessages(lane, 1, 1, time.Second)
	f := &stages.Frame{Lane: lane, Seq: 9, FPS: 30, Flags: stages.Flags{Canary: true},
		Records: []stages.Record{{Offset: 0, Msg: &msgs[0]}}}
	w.inflight.put(0, &pending{msg: topics.Message{Key: []byte(msgs[0].Glyph.ID), Offset: 0, Ack: topics.NewAck()}})
	if err := w.canaryFrame(f); err != nil {
		t.Fatal(err)
	}
	if w.canary == aborted || w.canary == nil || w.canary.aborted {
		t.Fatalf("shadow after the canary was turned on again: %+v, want a fresh one", w.canary)
	}
	if w.canary.frame == nil || len(w.canary.frame.Records) != 1 {
		t.Fatalf("the fresh shadow took frame %+v, want the sampled record", w.canary.frame)
	}
}
