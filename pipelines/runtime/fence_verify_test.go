package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/topics"
)

// TestFenceVerifyRefusesAfterTheDrain: verify, the last check before an
// external action, refuses once the drain after the generation's end is
// over, without asking the coordinator; a worker with no fence (a replay)
// is never refused, and carries no fence to what the chain calls.
func TestFenceVerifyRefusesAfterTheDrain(t *testing.T) {
	now := time.Unix(1_000, 0)
	f := newFence("g", &topics.Claim{Partition: 3, Generation: 7, MemberID: "m"}, clock.NewFake(now))
	if err := f.verify(context.Background()); err != nil {
		t.Fatalf("verify during the generation = %v, want nil", err)
	}
	f.endBy(now.UnixNano())
	err := f.verify(context.Background())
	if !errors.Is(err, ErrFenced) || !errors.Is(err, errDrainOver) {
		t.Fatalf("verify after the drain = %v, want %v and %v", err, ErrFenced, errDrainOver)
	}
	var none *fence
	if err := none.verify(context.Background()); err != nil {
		t.Errorf("a nil fence refused: %v", err)
	}
	ctx := context.Background()
	if got := withFence(ctx, none); got != ctx || fenceFrom(got) != nil {
		t.Error("a nil fence was carried to the chain")
	}
	if fenceFrom(withFence(ctx, f)) != f {
		t.Error("the worker's fence was not carried to the chain")
	}
}
