package runtime

import "sync/atomic"

// Approvals reach idle partitions. An approval is applied at a frame
// boundary of the partition its action waits in (frame_decisions.go), and
// a quiet partition cuts no frames. So every approval the lane reads
// counts up approvalCount, and a partition's idle watermark, while the
// partition is quiet, asks wantWake: when approvals arrived since its last
// regular frame it wakes the tick (operators.TickWake), which closes one
// frame. The approval is applied there and recorded as approval_applied,
// after a watermark decision (why "approval") a replay repeats at the same
// offset, so the replay cuts the same frame and applies it there too.
//
// A wake-up does not know which partition the action waits in (the
// guardian's waiting set belongs to the frame goroutine), so each approval
// wakes every quiet partition of the lane once: one empty frame each.

// approvalWake is a partition's side of it.
type approvalWake struct {
	seen atomic.Int64 // the lane's approvalCount when the last regular frame decided its approvals
	sent atomic.Int64 // the approvalCount the last wake-up was asked for
}

// wantWake reports whether approvals arrived since the partition's last
// regular frame and no wake-up was asked for them yet.
func (w *partitionWorker) wantWake() bool {
	if w.guardian == nil {
		return false
	}
	n := w.lane.approvalCount.Load()
	if n <= w.wake.seen.Load() || n <= w.wake.sent.Load() {
		return false
	}
	w.wake.sent.Store(n)
	return true
}
