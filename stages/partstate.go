package stages

import (
	"context"
	"fmt"
	"sync"

	"github.com/matriz/pipelines/schemas"
)

// laneBound is per-partition stage state: it belongs to the lane of the
// first frame that created it, and one stage instance serves one lane.
type laneBound interface {
	boundLane() schemas.Lane
}

// partFor makes the checks every stateful stage makes before it touches a
// frame — the context has not ended, the frame names a valid lane, and the
// partition's state belongs to that lane — and returns the state of f's
// partition from parts (guarded by mu), created with mk on first use.
func partFor[P laneBound](ctx context.Context, mu *sync.Mutex, parts map[int32]P, stage string, f *Frame, mk func() P) (P, error) {
	var zero P
	if err := ctx.Err(); err != nil {
		return zero, fmt.Errorf("%s: frame %d: %w", stage, f.Seq, err)
	}
	if !f.Lane.Valid() {
		return zero, frameLaneError(stage, f)
	}
	mu.Lock()
	defer mu.Unlock()
	p, ok := parts[f.Partition]
	if !ok {
		p = mk()
		parts[f.Partition] = p
	}
	if l := p.boundLane(); l != f.Lane {
		return zero, laneError(stage, f.Partition, l, f.Lane)
	}
	return p, nil
}
