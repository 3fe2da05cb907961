package runtime

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestNoOutputLandsWithoutItsDecision: P0 actions wait on an idle prod
// lane; the broker starts refusing every write to the lane's event log;
// then the actions are approved. Each approval is applied at a frame whose
// approval_applied decision cannot be written, so the lane must stop
// without executing the action (no executing record) and without writing
// that frame's trace of it (or anything after it): a trace on the log
// without its decision is what made a restart apply the approval at
// another frame, and a replay disagree with the live log.
func TestNoOutputLandsWithoutItsDecision(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: an event log refusing writes under a running lane (skipped with -short)")
	}
	s := newReplayScenario(t, schemas.LaneProd)
	s.produce(0, 1000)
	// The lane must stop by itself: a stop asked for meanwhile would end
	// the Sink's retries before it gives the decision up.
	exited := make(chan error, 1)
	cfg := Config{Lane: s.lane, Spec: s.spec, Group: s.group, Getenv: s.getenv, IdleAfter: 50 * time.Millisecond, CommitInterval: 200 * time.Millisecond,
		Brokers: s.env.Brokers, RegistryURL: s.env.RegistryURL}
	pipetest.Run(t, func(ctx context.Context, ready func()) error {
		cfg.Ready = ready
		err := Run(ctx, cfg)
		exited <- err
		return err
	})
	s.waitCommitted()
	lane := string(s.lane)
	// Every record, the guard's executing records included: an approval
	// whose decision is not durable must not reach the executor either.
	count := func() map[topics.Kind]int {
		n := map[topics.Kind]int{}
		for _, k := range []topics.Kind{topics.KindResults, topics.KindTraces, topics.KindActions, topics.KindDLQ} {
			n[k] = len(s.env.ReadAll(t, topics.Name(lane, k)))
		}
		return n
	}
	before := count()
	refused, lift := s.env.Stack.Broker.RefuseWrites(topics.Name(lane, topics.KindEvents))
	defer lift()
	if n := s.approveWaiting(); n == 0 {
		t.Fatal("no P0 action waits: the scenario does not exercise approvals")
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		t.Fatalf("the lane still runs a minute after the approvals (%d writes to its event log refused)", refused.Load())
	}
	if refused.Load() == 0 {
		t.Fatal("no write to the event log was refused: the approvals were not applied")
	}
	if err == nil || !strings.Contains(err.Error(), "writing outputs failed") {
		t.Fatalf("the lane stopped with %v, want the failed write of its decisions", err)
	}
	lift()
	after := count()
	for k, n := range before {
		if after[k] != n {
			t.Errorf("%s: %d records before the approvals, %d after: output written while its frame's decisions were refused", k, n, after[k])
		}
	}
	for _, m := range s.env.ReadAll(t, topics.Name(lane, topics.KindEvents)) {
		if string(m.Header(HeaderDecision)) == string(schemas.EventApprovalApplied) {
			t.Fatalf("an approval_applied decision is on the log although every write was refused")
		}
	}
}

// TestNoExecutionUnderAFlagChangeWhoseDecisionIsRefused: a prod lane runs
// with external actions off; the broker starts refusing every write to
// its event log; EXT_ACTIONS_ENABLED is switched on through the control
// topic; then a P2 action (no approval needed) arrives. The frame would
// switch the flag on and execute the action, but the flag_change decision
// cannot be written, so the switch must not be made: the action guard
// writes no executing record (its own writer is not refused) and calls
// nothing, and the lane stops.
func TestNoExecutionUnderAFlagChangeWhoseDecisionIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: an event log refusing writes under a running lane (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	changes := make(chan FlagChange, 8)
	exited := make(chan error, 1)
	cfg := Config{Lane: lane, Group: "flag-ahead", Getenv: envMap(map[string]string{FlagExtActions: "false"}),
		IdleAfter: 50 * time.Millisecond, CommitInterval: 200 * time.Millisecond, Brokers: env.Brokers, RegistryURL: env.RegistryURL,
		OnFlagChange: func(c FlagChange) { changes <- c }}
	pipetest.Run(t, func(ctx context.Context, ready func()) error {
		cfg.Ready = ready
		err := Run(ctx, cfg)
		exited <- err
		return err
	})
	gen := devstack.NewSynthetic(lane, 9, 4)
	p2 := func() schemas.MatrizMessage {
		m := p0Action(gen, time.Now())
		m.Payload["priority"] = "P2"
		return m
	}
	messages := topics.Name(string(lane), topics.KindMessages)
	env.Produce(t, lane, append(nowBatch(gen, 20), p2()), nil)
	env.WaitCommitted(t, messages, cfg.Group, time.Minute)
	actions := topics.Name(string(lane), topics.KindActions)
	before := len(env.ReadAll(t, actions))
	if before == 0 {
		t.Fatal("no action preview written with external actions off: the input asks for no action")
	}

	refused, lift := env.Stack.Broker.RefuseWrites(topics.Name(string(lane), topics.KindEvents))
	defer lift()
	env.Write(t, topics.ControlTopic, []topics.Message{{Key: []byte(string(lane) + "/" + FlagExtActions), Value: []byte("true")}})
	select {
	case c := <-changes:
		if c.Name != FlagExtActions || !c.New {
			t.Fatalf("flag change %+v, want %s on", c, FlagExtActions)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the lane did not read the flag change within 30s")
	}
	env.Produce(t, lane, []schemas.MatrizMessage{p2()}, nil)
	var err error
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		t.Fatalf("the lane still runs a minute after the flag change (%d writes to its event log refused)", refused.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "writing outputs failed") {
		t.Fatalf("the lane stopped with %v, want the failed write of its decision", err)
	}
	lift()
	if after := len(env.ReadAll(t, actions)); after != before {
		t.Fatalf("actions topic: %d records before the flag change, %d after: an action ran under a flag whose decision never reached the log", before, after)
	}
}
