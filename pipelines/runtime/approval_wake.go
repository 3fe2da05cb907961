package runtime

import "sync/atomic"

// Approvals reach idle partitions. An approval is applied at a frame
// boundary of the partition its action waits in (frame_decisions.go), and
// a quiet partition cuts no frames. So every approval the lane reads
// counts up approvalCount, and a partition's idle watermark, while the
// partition is quiet, asks wantWake: when approvals arrived since its last
// regular frame and one of them is for an action waiting in this
// partition that no frame applied yet, it wakes the tick
// (operators.TickWake), which closes one frame. The approval is applied
// there and recorded as approval_applied, after a watermark decision (why
// "approval") a replay repeats at the same offset, so the replay cuts the
// same frame and applies it there too.
//
// Which actions wait, and which approvals were applied, are the frame
// goroutine's; the idle watermark reads them as the last frame (or the
// restored state) left them. A wake-up is for an approval that can be
// applied, not for every approval read: a run that reads the approvals
// topic after its frames already applied them from the event log (a
// restart or a fresh group re-deciding a region) must not cut a frame the
// run that decided the region did not cut.

// approvalWake is a partition's side of it.
type approvalWake struct {
	seen    atomic.Int64             // the lane's approvalCount when the last regular frame decided its approvals
	sent    atomic.Int64             // the approvalCount the last wake-up was asked for
	waiting atomic.Pointer[[]string] // the guardian's waiting actions after the last frame or restore
}

// wantWake reports whether approvals arrived since the partition's last
// regular frame, no wake-up was asked for them yet, and one of them
// releases an action waiting here.
func (w *partitionWorker) wantWake() bool {
	if w.guardian == nil {
		return false
	}
	n := w.lane.approvalCount.Load()
	if n <= w.wake.seen.Load() || n <= w.wake.sent.Load() || !w.approvalDue() {
		return false
	}
	w.wake.sent.Store(n)
	return true
}

// approvalDue reports whether an action waiting in the partition is
// approved and not applied yet.
func (w *partitionWorker) approvalDue() bool {
	ids := w.wake.waiting.Load()
	if ids == nil || w.lane.chain == nil || w.lane.chain.Approvals == nil {
		return false
	}
	approvals := w.lane.chain.Approvals
	for _, id := range *ids {
		if approvals.Approved(id) && !w.applied.Approved(id) {
			return true
		}
	}
	return false
}

// noteWaiting publishes the actions waiting in the partition for
// wantWake; on the frame goroutine, or before it starts.
func (w *partitionWorker) noteWaiting(ids []string) { w.wake.waiting.Store(&ids) }
