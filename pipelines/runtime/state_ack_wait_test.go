package runtime

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestStateWriteWaitIsBounded: waiting for a state or checkpoint record's
// acknowledgement ends with an error naming the bound once the drain
// timeout passed on the lane's clock, and at once when the work ends: a
// commit never follows a state write Kafka did not acknowledge.
func TestStateWriteWaitIsBounded(t *testing.T) {
	fake := clock.NewFake(time.Unix(100, 0))
	lr := &laneRuntime{lane: schemas.LaneProd, clock: fake, cfg: Config{DrainTimeout: 5 * time.Second}}
	done := make(chan error, 1)
	go func() { done <- waitAck(context.Background(), lr, topics.NewAck()) }()
	var err error
	for waiting := true; waiting; {
		select {
		case err = <-done:
			waiting = false
		case <-time.After(time.Millisecond):
			fake.Advance(time.Second) // the ticker may not exist yet: move on until the bound passes
		}
	}
	if err == nil || err.Error() != "not acknowledged within 5s" {
		t.Fatalf("waitAck past the drain timeout = %v, want not acknowledged within 5s", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := waitAck(ctx, lr, topics.NewAck()); !errors.Is(err, context.Canceled) {
		t.Fatalf("waitAck after the work ended = %v, want %v", err, context.Canceled)
	}

	failed := topics.NewAck()
	failed.Done(errors.New("NOT_ENOUGH_REPLICAS"))
	if err := waitAck(context.Background(), lr, failed); err == nil || err.Error() != "NOT_ENOUGH_REPLICAS" {
		t.Fatalf("waitAck of a failed write = %v, want its error", err)
	}
}

// TestFencedWorkerWritesNoState: a worker whose drain is over writes no
// cut: it returns the fencing error before handing anything to a sink.
func TestFencedWorkerWritesNoState(t *testing.T) {
	now := time.Unix(100, 0)
	lr := &laneRuntime{lane: schemas.LaneProd, clock: clock.NewFake(now), log: slog.New(slog.DiscardHandler)} // no sinks: a write would panic
	w := newWorker(lr, 4)
	w.fence = newFence("matriz-prod", &topics.Claim{Partition: 4, Generation: 9, MemberID: "m"}, lr.clock)
	w.fence.endBy(now.UnixNano())
	err := w.saveCut(&Checkpoint{Lane: "prod", Partition: 4, Resume: 10, Next: 10}, nil)
	if !errors.Is(err, ErrFenced) || !errors.Is(err, errDrainOver) {
		t.Fatalf("saveCut by a fenced worker = %v, want %v", err, ErrFenced)
	}
}
