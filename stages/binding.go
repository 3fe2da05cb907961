package stages

import (
	"context"
	"fmt"

	"github.com/matriz/pipelines/schemas"
)

// laneBinding is the lane a stateful stage instance works. The runtime
// builds a chain for one lane and makes one instance per partition, so an
// instance binds to the lane of the first frame it sees (the guardian, whose
// rules depend on the lane, is bound from its constructor) and refuses
// frames of any other: state built under one lane's configuration must not
// decide for another, and a lane's state goes to that lane's changelog.
type laneBinding struct {
	lane      schemas.Lane // empty until bound
	partition int32        // of the last frame admitted, for Stats
}

// admit makes the checks a stateful stage makes before it touches a frame:
// the context has not ended, the frame names a valid lane, and that lane is
// the instance's, which the first frame binds.
func (b *laneBinding) admit(ctx context.Context, stage string, f *Frame) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: frame %d: %w", stage, f.Seq, err)
	}
	if !f.Lane.Valid() {
		return fmt.Errorf("%s: frame %d of partition %d has lane %q: %w", stage, f.Seq, f.Partition, f.Lane, ErrFrameLane)
	}
	if b.lane == "" {
		b.lane = f.Lane
	}
	if b.lane != f.Lane {
		return fmt.Errorf("%s: instance works lane %s, frame %d of partition %d is from lane %s: %w", stage, b.lane, f.Seq, f.Partition, f.Lane, ErrPartitionLane)
	}
	b.partition = f.Partition
	return nil
}
