package replay

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
)

// DecisionKinds are the event kinds a replay reads back and applies.
var DecisionKinds = []schemas.EventKind{
	schemas.EventLate, schemas.EventWatermark, schemas.EventFPSChange,
	schemas.EventDecimation, schemas.EventFlagChange, schemas.EventApprovalApplied,
}

// LoadDecisions reads, in one scan of lane's event log, the decisions its
// live runs recorded for each of partitions: the record a replay applies.
// The scan reads every partition of the log at once and decodes only what
// may be a decision, so it costs a small part of the replay it feeds.
func LoadDecisions(ctx context.Context, brokers []string, registryURL string, lane schemas.Lane, partitions []int32) (map[int32]*runtime.Decisions, error) {
	out := make(map[int32]*runtime.Decisions, len(partitions))
	for _, p := range partitions {
		out[p] = runtime.NewDecisions(math.MaxInt64)
	}
	_, err := ScanEvents(ctx, EventQuery{Brokers: brokers, RegistryURL: registryURL, Lane: lane, Kinds: DecisionKinds}, func(r EventRecord) error {
		h := r.Header(runtime.HeaderSrcPartition)
		if r.Header(runtime.HeaderDecision) == nil || h == nil {
			return nil // a stage's event of a decision's kind, not a recorded decision
		}
		p, err := strconv.ParseInt(string(h), 10, 32)
		if err != nil {
			return fmt.Errorf("decision at %s partition %d offset %d: source partition %q: %w", r.Event.Lane, r.Partition, r.Offset, h, err)
		}
		d := out[int32(p)]
		if d == nil {
			return nil
		}
		if err := d.Add(r.Event); err != nil {
			return fmt.Errorf("decision at partition %d offset %d of the event log: %w", r.Partition, r.Offset, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
