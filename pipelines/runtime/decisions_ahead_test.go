package runtime

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// aheadWorker is a live worker of partition 0 whose decisions go through
// one sink gate reading into in.
func aheadWorker(t *testing.T, in chan any, logs *bytes.Buffer) *partitionWorker {
	t.Helper()
	lr := &laneRuntime{lane: schemas.LaneProd, clock: clock.NewFake(time.Unix(100, 0)), log: slog.New(slog.NewTextHandler(logs, nil)),
		sinks: &sinkPool{sinks: make([]*topics.Sink, 1), gates: []*sinkGate{newSinkGate(in)}}}
	w := newWorker(lr, 0)
	w.work = context.Background()
	w.fence = newFence("matriz-prod", &topics.Claim{Partition: 0, Generation: 2, MemberID: "m"}, lr.clock)
	w.outs = newOutputs(string(lr.lane), "", laneIDs{1, 2, 3, 4}, w.inflight, func(err error) { t.Error(err) })
	return w
}

// TestFlagsWhoseDecisionIsNotDurableAreNotInForce: a live partition
// writes its flag decisions before the frame they apply to runs. When the
// write fails (the lane's sink is closing), the decision is not made: the
// first frame runs with every switch off, executing nothing, and a later
// change waits for a frame whose decision is durable.
func TestFlagsWhoseDecisionIsNotDurableAreNotInForce(t *testing.T) {
	var logs bytes.Buffer
	w := aheadWorker(t, make(chan any), &logs)
	w.lane.sinks.gates[0].close()
	on := stages.Flags{Dispatch: true, Learning: true, ExtActions: true}
	f := &stages.Frame{Lane: schemas.LaneProd, Seq: 3, FPS: 30, Start: time.Unix(100, 0), Flags: on}
	w.decideFrame(f)
	if f.Flags != (stages.Flags{}) || *w.flags != (stages.Flags{}) {
		t.Fatalf("first frame runs with %+v after its flags decision failed, want every switch off", f.Flags)
	}
	if got := logs.String(); !strings.Contains(got, "flag_change decision") || !strings.Contains(got, "the lane's output sink is closed") {
		t.Errorf("logged %q, want the decision not made and why", got)
	}
	if len(f.Events) != 0 {
		t.Errorf("the frame carries %d decisions that were not written", len(f.Events))
	}
	g := &stages.Frame{Lane: schemas.LaneProd, Seq: 4, FPS: 30, Start: time.Unix(101, 0), Flags: on}
	w.decideFrame(g)
	if g.Flags != (stages.Flags{}) {
		t.Fatalf("a later frame runs with %+v after its change was not written, want the flags before", g.Flags)
	}
}

// TestDecisionAheadWaitsForItsAcknowledgement: a decision written ahead
// takes effect only once Kafka acknowledged it; when the partition's work
// ends first, it is an error saying so, and the frame runs without it.
func TestDecisionAheadWaitsForItsAcknowledgement(t *testing.T) {
	var logs bytes.Buffer
	in := make(chan any, 1)
	w := aheadWorker(t, in, &logs)
	work, cancel := context.WithCancel(context.Background())
	w.work = work
	f := &stages.Frame{Lane: schemas.LaneProd, Seq: 3, FPS: 30, Start: time.Unix(100, 0)}
	ev := w.frameDecision(f, schemas.EventFlagChange, "initial", flagsPayload(stages.Flags{Dispatch: true}))
	done := make(chan error, 1)
	go func() { done <- w.writeDecisionsAhead(f, ev) }()
	m := (<-in).(topics.Message) // handed to the sink, never acknowledged
	if !m.Ahead || string(m.Header(HeaderDecision)) != string(schemas.EventFlagChange) || m.Fence == nil {
		t.Errorf("decision record ahead %v, decision header %q, fenced %v; want ahead, named and fenced", m.Ahead, m.Header(HeaderDecision), m.Fence != nil)
	}
	cancel()
	if err := <-done; err == nil || !strings.HasPrefix(err.Error(), "decision not acknowledged: ") {
		t.Fatalf("writeDecisionsAhead = %v, want not acknowledged", err)
	}
}
