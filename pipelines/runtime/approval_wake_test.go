package runtime

import (
	"testing"

	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// TestApprovalsWakeNoPartitionWithoutAGuardian: a lane whose chain has no
// guardian has nothing an approval could release, so approvals read never
// wake its quiet partitions (each wake-up costs an empty frame).
func TestApprovalsWakeNoPartitionWithoutAGuardian(t *testing.T) {
	lr := &laneRuntime{lane: schemas.LaneExperimental}
	lr.approvalCount.Add(3)
	w := newWorker(lr, 0)
	if w.wantWake() {
		t.Fatal("a partition without a guardian asked to be woken for approvals")
	}
	if w.wake.sent.Load() != 0 {
		t.Fatal("a wake-up was recorded as asked for")
	}
}

// TestApprovalsWakeOnlyForAnActionWaitingHere: a quiet partition is woken
// (one empty frame, a logged decision) only for an approval it can apply:
// one for an action waiting in it that no frame applied yet. A run that
// re-decides a region reads approvals its frames already applied from the
// event log; waking for those cut a frame the run that decided the region
// did not, and the partition's state (drift counts frames) then differed
// from that run's.
func TestApprovalsWakeOnlyForAnActionWaitingHere(t *testing.T) {
	approvals := stages.NewApprovalSet()
	lr := &laneRuntime{lane: schemas.LaneProd, chain: &spec.Chain{Approvals: approvals}}
	w := newWorker(lr, 0)
	w.guardian = &stages.Guardian{}
	w.noteWaiting([]string{"a-here", "b-applied"})
	w.applied.Approve("b-applied")

	approvals.Approve("c-elsewhere") // waits in another partition
	lr.approvalCount.Add(1)
	if w.wantWake() {
		t.Fatal("woken for an approval of an action that does not wait here")
	}
	approvals.Approve("b-applied") // read again by a run re-deciding the frame that applied it
	lr.approvalCount.Add(1)
	if w.wantWake() {
		t.Fatal("woken for an approval a frame of this partition already applied")
	}
	approvals.Approve("a-here")
	lr.approvalCount.Add(1)
	if !w.wantWake() {
		t.Fatal("not woken for an approval of an action waiting here")
	}
	if w.wantWake() {
		t.Fatal("woken twice for the same approvals")
	}
	w.wake.seen.Store(lr.approvalCount.Load()) // the frame it woke applied them
	w.applied.Approve("a-here")
	approvals.Approve("d-elsewhere")
	lr.approvalCount.Add(1)
	if w.wantWake() {
		t.Fatal("woken again after a frame applied every approval due here")
	}
}
