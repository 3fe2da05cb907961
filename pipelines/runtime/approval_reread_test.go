package runtime

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestApprovalsReadLateWakeNothingARerunApplied: a live run applies
// approvals on idle partitions (each wakes its partition: an empty frame
// and a watermark decision). A second run over the same input, in a new
// group with no state, re-decides every frame from the event log, the
// approvals included, while its approvals topic is held back; it reads
// the approvals only once every partition is quiet. They were all applied
// already, so no partition wakes: the event log gains no wake decision,
// and every partition's stage state is the live run's. (Before, each
// approval counted as new and woke every quiet partition: one more empty
// frame than the live run, so drift and fold-guard state differed — what
// the crash soak's clean run met when its approvals tail lagged.)
func TestApprovalsReadLateWakeNothingARerunApplied(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: two runs over one input, approvals read late by the second (skipped with -short)")
	}
	s := newReplayScenario(t, schemas.LaneProd)
	s.produce(0, 1000)
	stop := s.run()
	s.waitCommitted()
	waiting := s.waitingActions()
	if len(waiting) == 0 || s.approveWaiting() != len(waiting) {
		t.Fatalf("%d P0 actions waiting, all to be approved: the scenario does not exercise approvals", len(waiting))
	}
	s.waitExecuted(waiting)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	liveWakes := approvalWakes(t, s.env, s.lane)
	if liveWakes == 0 {
		t.Fatal("the live run woke no partition for its approvals: the scenario does not exercise wake-ups")
	}
	live := lastCuts(t, s.env, s.lane)
	var tombstones []topics.Message
	for p := range live {
		tombstones = append(tombstones, topics.Message{Key: []byte(StateKey(int32(p)))})
	}
	s.env.Write(t, topics.Name(string(s.lane), topics.KindState), tombstones)

	hold := make(chan struct{})
	s.group = "reread"
	stop = runLane(t, s.env, Config{Lane: s.lane, Spec: s.spec, Group: s.group, Getenv: s.getenv,
		IdleAfter: 50 * time.Millisecond, CommitInterval: 200 * time.Millisecond, approvalsHold: hold})
	s.waitCommitted()
	verdicts := verdictsWritten(t, s.env, s.lane)
	close(hold)
	clocktest.WaitFor(t, time.Minute, "the second run read every approval", func() bool {
		return verdictsWritten(t, s.env, s.lane) >= 2*verdicts
	})
	// A wake-up follows within an idle check (IdleAfter) of the approvals:
	// give it twenty.
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if n := approvalWakes(t, s.env, s.lane); n != liveWakes {
			t.Fatalf("%d approval wake-ups on the event log after the second run read the approvals, want the live run's %d", n, liveWakes)
		}
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	rerun := lastCuts(t, s.env, s.lane)
	for _, p := range slices.Sorted(maps.Keys(live)) {
		for stage, b := range live[p].State {
			if got := rerun[p]; got == nil || string(got.State[stage]) != string(b) {
				t.Errorf("partition %d: stage %s state after the second run differs from the live run's", p, stage)
			}
		}
	}
	t.Logf("%d approvals, %d wake-ups by the live run, none by the second run reading them late; state equal on %d partitions", len(waiting), liveWakes, len(live))
}

// waitingActions returns the ids of the actions waiting on the lane.
func (s *replayScenario) waitingActions() map[string]bool {
	t := s.t
	t.Helper()
	acts, err := ops.ListActions(context.Background(), s.actionsConfig())
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, a := range acts {
		if a.Waiting() {
			ids[a.ID] = true
		}
	}
	return ids
}

// waitExecuted waits until every action of ids has executed, with no new
// input.
func (s *replayScenario) waitExecuted(ids map[string]bool) {
	t := s.t
	t.Helper()
	executed := 0
	clocktest.WaitFor(t, 30*time.Second, fmt.Sprintf("all %d approved actions executed with no new input", len(ids)), func() bool {
		acts, err := ops.ListActions(context.Background(), s.actionsConfig())
		if err != nil {
			t.Fatal(err)
		}
		executed = 0
		for _, a := range acts {
			if ids[a.ID] && a.Status == stages.ActionExecuted {
				executed++
			}
		}
		return executed == len(ids)
	}, func() string { return fmt.Sprintf("%d of %d executed", executed, len(ids)) })
}

func (s *replayScenario) actionsConfig() ops.ActionsConfig {
	return ops.ActionsConfig{Lane: s.lane, Brokers: s.env.Brokers, RegistryURL: s.env.RegistryURL}
}

// approvalWakes counts the distinct watermark decisions on lane's event
// log that woke a partition for an approval.
func approvalWakes(t *testing.T, env *pipetest.Env, lane schemas.Lane) int {
	t.Helper()
	n := 0
	for _, v := range readOutputs(t, env, string(lane), "")[topics.KindEvents] {
		if ev := v.(*schemas.Event); ev.Kind == schemas.EventWatermark && ev.Payload["why"] == "approval" {
			n++
		}
	}
	return n
}

// verdictsWritten counts the approval verdicts written to lane's event
// log, one per approval a run read.
func verdictsWritten(t *testing.T, env *pipetest.Env, lane schemas.Lane) int {
	t.Helper()
	n := 0
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindEvents)) {
		if pipetest.Header(m, HeaderLaneEvent) == string(schemas.EventApproval) {
			n++
		}
	}
	return n
}
