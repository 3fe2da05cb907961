package runtime

import (
	"context"
	"strings"
	"testing"
	"time"

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
