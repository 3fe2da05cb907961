package replay

// Checkpoint lookup: `--from P@NEXT` and `offsets reset --to P@NEXT` name a
// checkpoint on matriz.<lane>.checkpoints; a replay from an offset starts
// from the latest checkpoint at or before it.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/topics"
)

// CheckpointNotFoundError: no checkpoint of the lane has the id asked for.
type CheckpointNotFoundError struct {
	Lane string
	ID   string
	// Nearest are the ids of the partition's checkpoints closest to ID
	// (up to two on each side), for the error line.
	Nearest []string
	// Unreadable counts the partition's records that did not decode.
	Unreadable int
}

func (e *CheckpointNotFoundError) Error() string {
	msg := fmt.Sprintf("no checkpoint %s on %s", e.ID, topics.Name(e.Lane, topics.KindCheckpoints))
	if len(e.Nearest) > 0 {
		msg += "; nearest: " + strings.Join(e.Nearest, ", ")
	} else {
		msg += "; that partition has none: use start, a time or P:OFFSET instead"
	}
	if e.Unreadable > 0 {
		msg += fmt.Sprintf(" (%d records of the partition did not decode)", e.Unreadable)
	}
	return msg
}

// Unwrap makes errors.Is(err, ErrNoCheckpoint) hold.
func (e *CheckpointNotFoundError) Unwrap() error { return ErrNoCheckpoint }

// FindCheckpoint returns the checkpoint of lane with id ("<partition>@<next>")
// from matriz.<lane>.checkpoints; the offset to start from with it is its
// Resume. An id not found is a *CheckpointNotFoundError naming the nearest
// ids of that partition.
func FindCheckpoint(ctx context.Context, brokers []string, lane, id string) (*runtime.Checkpoint, error) {
	pos, err := ParsePosition(id)
	if err != nil {
		return nil, err
	}
	if pos.Kind != PositionCheckpoint {
		return nil, &PositionError{Input: id, Reason: "not a checkpoint id P@NEXT"}
	}
	ps, ns, _ := strings.Cut(pos.CheckpointID, "@")
	p64, _ := strconv.ParseInt(ps, 10, 32)
	next, _ := strconv.ParseInt(ns, 10, 64)
	cps, unreadable, err := readCheckpoints(ctx, brokers, lane, int32(p64))
	if err != nil {
		return nil, err
	}
	var found *runtime.Checkpoint
	for _, c := range cps {
		if c.Next == next {
			found = c // the last one written wins: a cut written again is the same cut
		}
	}
	if found != nil {
		return found, nil
	}
	return nil, &CheckpointNotFoundError{Lane: lane, ID: pos.CheckpointID, Nearest: nearest(cps, next), Unreadable: unreadable}
}

// CheckpointAtOrBefore returns the latest checkpoint of lane's partition
// whose Next is at or before offset (a replay from offset starts from it
// and skips what it accounts for), or nil when there is none.
func CheckpointAtOrBefore(ctx context.Context, brokers []string, lane string, partition int32, offset int64) (*runtime.Checkpoint, error) {
	cps, _, err := readCheckpoints(ctx, brokers, lane, partition)
	if err != nil {
		return nil, err
	}
	var best *runtime.Checkpoint
	for _, c := range cps {
		if c.Next <= offset && (best == nil || c.Next >= best.Next) {
			best = c
		}
	}
	return best, nil
}

// readCheckpoints returns partition's checkpoints on lane's checkpoints
// topic in the order they were written, and how many of its records did
// not decode. Every checkpoint of a partition has key StateKey(partition);
// every partition of the topic is read, so nothing here depends on which
// partitioner the runtime's writer uses.
func readCheckpoints(ctx context.Context, brokers []string, lane string, partition int32) ([]*runtime.Checkpoint, int, error) {
	if err := topics.ValidateLane(lane); err != nil {
		return nil, 0, err
	}
	if partition < 0 {
		return nil, 0, &PositionError{Input: fmt.Sprint(partition), Reason: "a partition is 0 or more"}
	}
	key := runtime.StateKey(partition)
	var (
		cps        []*runtime.Checkpoint
		unreadable int
	)
	err := readTopic(ctx, brokers, topics.Name(lane, topics.KindCheckpoints), func(r logRecord) error {
		if string(r.Key) != key || r.Value == nil {
			return nil
		}
		c, err := runtime.DecodeCheckpoint(r.Value)
		if err != nil || c.Partition != partition {
			unreadable++
			return nil
		}
		cps = append(cps, c)
		return nil
	})
	return cps, unreadable, err
}

// nearest lists the ids of up to two checkpoints on each side of next.
func nearest(cps []*runtime.Checkpoint, next int64) []string {
	nexts := make([]int64, 0, len(cps))
	for _, c := range cps {
		nexts = append(nexts, c.Next)
	}
	slices.Sort(nexts)
	nexts = slices.Compact(nexts)
	i, _ := slices.BinarySearch(nexts, next)
	var out []string
	for _, n := range nexts[max(0, i-2):min(len(nexts), i+2)] {
		out = append(out, fmt.Sprintf("%d@%d", cps[0].Partition, n))
	}
	return out
}
