package runtime

import (
	"testing"

	"github.com/matriz/pipelines/schemas"
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
