package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestApprovalExecutesOnIdlePartition: P0 actions wait on prod, every
// partition has gone idle (everything committed, nothing more arrives),
// and they are approved. Each executes without a new input message: the
// approval wakes its partition, which closes one empty frame the approval
// is applied at, recorded as a watermark and an approval_applied decision.
// A replay of the log then reproduces the live outputs byte for byte.
func TestApprovalExecutesOnIdlePartition(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: approvals reaching idle partitions, then a replay (skipped with -short)")
	}
	s := newReplayScenario(t, schemas.LaneProd)
	s.produce(0, 1000)
	stop := s.run()
	s.waitCommitted()
	waiting := s.waitingActions()
	if len(waiting) == 0 {
		t.Fatal("no P0 action waits: the scenario does not exercise approvals")
	}
	if n := s.approveWaiting(); n != len(waiting) {
		t.Fatalf("approved %d, want %d", n, len(waiting))
	}
	approvedAt := time.Now() // the last approval written
	s.waitExecuted(waiting)
	took := time.Since(approvedAt)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if got := len(s.env.ReadAll(t, topics.Name(string(s.lane), topics.KindMessages))); got != s.sent {
		t.Fatalf("%d input records, want the %d sent before the approvals", got, s.sent)
	}

	live := readOutputs(t, s.env, string(s.lane), "")
	kinds := decisionKinds(live)
	if kinds[schemas.EventApprovalApplied] != len(waiting) {
		t.Fatalf("%d approval_applied decisions, want %d", kinds[schemas.EventApprovalApplied], len(waiting))
	}
	if _, err := Replay(context.Background(), ReplayConfig{Lane: s.lane, Brokers: s.env.Brokers, RegistryURL: s.env.RegistryURL, Spec: s.spec,
		Getenv: s.getenv, Name: "idle", Ranges: fullRanges(t, s.env, s.lane)}); err != nil {
		t.Fatal(err)
	}
	compareOutputs(t, live, readOutputs(t, s.env, string(s.lane), "idle"))
	t.Logf("%d P0 actions approved on idle partitions all executed %v after the last approval was written, with no new input; the replay reproduced the live outputs", len(waiting), took.Round(time.Millisecond))
}
