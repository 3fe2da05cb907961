package replay

// Positions are how `matriz replay --from/--to` and `matriz offsets reset
// --to` name a place in a lane's log: start, end, a time, explicit
// partition offsets, or a checkpoint. ParsePosition reads the command-line
// form; ResolvePositions turns it into one offset per partition against
// the cluster, and FindCheckpoint / CheckpointAtOrBefore read the lane's
// retained checkpoints (positions_checkpoint.go). The Kafka reads all of
// them share are in positions_log.go.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/matriz/pipelines/pipelines/runtime"
)

// PositionKind says which form a Position has.
type PositionKind int

// The position forms.
const (
	// PositionStart is every partition's log start offset (the oldest
	// record retention kept).
	PositionStart PositionKind = iota + 1
	// PositionEnd is every partition's high watermark as of resolution:
	// the offset the next record will get.
	PositionEnd
	// PositionTime is, per partition, the first offset whose record
	// timestamp is at or after Time; a partition with nothing that late
	// resolves to its end.
	PositionTime
	// PositionOffsets is the partitions Offsets names, at those offsets,
	// and no other partition: for a replay the others are not replayed, for
	// a reset they are not moved.
	PositionOffsets
	// PositionCheckpoint is one partition's checkpoint, by its id
	// "<partition>@<next>"; resolve it with FindCheckpoint.
	PositionCheckpoint
)

// Position is a parsed position spec.
type Position struct {
	Kind         PositionKind
	Time         time.Time       // PositionTime
	Offsets      map[int32]int64 // PositionOffsets: partition → offset
	CheckpointID string          // PositionCheckpoint
}

// String renders p as ParsePosition reads it.
func (p Position) String() string {
	switch p.Kind {
	case PositionStart:
		return "start"
	case PositionEnd:
		return "end"
	case PositionTime:
		return p.Time.Format(time.RFC3339Nano)
	case PositionOffsets:
		parts := make([]string, 0, len(p.Offsets))
		for _, part := range sortedPartitions(p.Offsets) {
			parts = append(parts, fmt.Sprintf("%d:%d", part, p.Offsets[part]))
		}
		return strings.Join(parts, ",")
	case PositionCheckpoint:
		return p.CheckpointID
	}
	return "(no position)"
}

// PositionForms names every form ParsePosition accepts, for errors and
// help texts.
const PositionForms = "start (or earliest), end (or latest), an RFC 3339 time like 2026-03-01T12:00:00Z, " +
	"P:OFFSET[,P:OFFSET...] like 0:120,3:75, or a checkpoint id P@NEXT like 2@4096"

// Errors of positions; every error below wraps one, for errors.Is.
var (
	// ErrBadPosition: a position spec that is none of PositionForms.
	ErrBadPosition = errors.New("bad position")
	// ErrNoTopic: the topic to resolve positions on does not exist.
	ErrNoTopic = errors.New("no such topic")
	// ErrNoPartition: a position names a partition the topic does not have.
	ErrNoPartition = errors.New("no such partition")
	// ErrOffsetOutOfRange: an offset outside [log start, end] of its
	// partition.
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrNoCheckpoint: no checkpoint with the id asked for.
	ErrNoCheckpoint = errors.New("no such checkpoint")
)

// PositionError is a position spec ParsePosition cannot read, or one
// ResolvePositions cannot take.
type PositionError struct {
	Input  string
	Reason string
}

func (e *PositionError) Error() string {
	return fmt.Sprintf("position %q: %s; want %s", e.Input, e.Reason, PositionForms)
}

// Unwrap makes errors.Is(err, ErrBadPosition) hold.
func (e *PositionError) Unwrap() error { return ErrBadPosition }

// TopicMissingError: the topic does not exist on the cluster.
type TopicMissingError struct{ Topic string }

func (e *TopicMissingError) Error() string {
	return fmt.Sprintf("topic %s does not exist: deploy its lane with `matriz deploy --lanes LANE`, or check --brokers", e.Topic)
}

// Unwrap makes errors.Is(err, ErrNoTopic) hold.
func (e *TopicMissingError) Unwrap() error { return ErrNoTopic }

// PartitionError names a partition the topic does not have.
type PartitionError struct {
	Topic      string
	Partition  int32
	Partitions int // how many it has: 0..Partitions-1
}

func (e *PartitionError) Error() string {
	return fmt.Sprintf("topic %s has no partition %d: it has %d, 0 to %d", e.Topic, e.Partition, e.Partitions, e.Partitions-1)
}

// Unwrap makes errors.Is(err, ErrNoPartition) hold.
func (e *PartitionError) Unwrap() error { return ErrNoPartition }

// OffsetRangeError is an offset outside what its partition holds.
type OffsetRangeError struct {
	Topic      string
	Partition  int32
	Offset     int64
	Start, End int64
}

func (e *OffsetRangeError) Error() string {
	return fmt.Sprintf("topic %s partition %d: offset %d is outside [%d, %d], the log start and end (the next offset written) of that partition; pick one inside, or start/end",
		e.Topic, e.Partition, e.Offset, e.Start, e.End)
}

// Unwrap makes errors.Is(err, ErrOffsetOutOfRange) hold.
func (e *OffsetRangeError) Unwrap() error { return ErrOffsetOutOfRange }

// ParsePosition reads a position spec, one of PositionForms. It does no
// I/O; a spec it cannot read is a *PositionError.
func ParsePosition(s string) (Position, error) {
	in := strings.TrimSpace(s)
	bad := func(format string, args ...any) (Position, error) {
		return Position{}, &PositionError{Input: s, Reason: fmt.Sprintf(format, args...)}
	}
	switch strings.ToLower(in) {
	case "":
		return bad("empty")
	case "start", "earliest":
		return Position{Kind: PositionStart}, nil
	case "end", "latest":
		return Position{Kind: PositionEnd}, nil
	}
	if runtime.IsCheckpointID(in) {
		p, n, _ := strings.Cut(in, "@")
		if strings.HasPrefix(p, "-") || strings.HasPrefix(n, "-") {
			return bad("a checkpoint id has a partition and an offset of 0 or more")
		}
		return Position{Kind: PositionCheckpoint, CheckpointID: in}, nil
	}
	// An RFC 3339 time has colons too, so it is tried before offsets.
	t, terr := time.Parse(time.RFC3339Nano, in)
	switch {
	case terr == nil && t.Before(time.UnixMilli(0)):
		return bad("before 1970-01-01T00:00:00Z, where Kafka has no record timestamps; use start")
	case terr == nil:
		return Position{Kind: PositionTime, Time: t}, nil
	case looksLikeDate(in):
		return bad("not an RFC 3339 time (date, T, time and a zone: Z or +02:00)")
	case !strings.Contains(in, ":"):
		return bad("not a keyword, a time, offsets or a checkpoint id")
	}
	offs := map[int32]int64{}
	for _, pair := range strings.Split(in, ",") {
		ps, os, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok {
			return bad("%q is not P:OFFSET", pair)
		}
		p, err := strconv.ParseInt(ps, 10, 32)
		if err != nil || p < 0 {
			return bad("partition %q in %q is not a number of 0 or more", ps, pair)
		}
		o, err := strconv.ParseInt(os, 10, 64)
		if err != nil || o < 0 {
			return bad("offset %q in %q is not a number of 0 or more", os, pair)
		}
		if _, dup := offs[int32(p)]; dup {
			return bad("partition %d named twice", p)
		}
		offs[int32(p)] = o
	}
	return Position{Kind: PositionOffsets, Offsets: offs}, nil
}

// ResolvePositions returns, per partition of topic that pos covers, the
// offset it names: all partitions for start, end and a time, only the
// named ones for offsets. Offsets are checked against each partition's
// [log start, end]; a partition the topic lacks is a *PartitionError, a
// topic that does not exist a *TopicMissingError. A checkpoint id is not
// resolved here (it needs the lane): use FindCheckpoint.
func ResolvePositions(ctx context.Context, brokers []string, topic string, pos Position) (map[int32]int64, error) {
	if pos.Kind == PositionCheckpoint {
		return nil, &PositionError{Input: pos.String(), Reason: "a checkpoint id names one partition's checkpoint; resolve it with FindCheckpoint"}
	}
	if pos.Kind < PositionStart || pos.Kind > PositionCheckpoint {
		return nil, &PositionError{Input: pos.String(), Reason: "no position kind set"}
	}
	lc, err := openLog(ctx, brokers, topic)
	if err != nil {
		return nil, err
	}
	defer lc.close()
	bounds, err := lc.bounds(ctx)
	if err != nil {
		return nil, err
	}
	return lc.resolve(ctx, bounds, pos)
}

// resolve is ResolvePositions once the partitions' bounds are known.
func (lc *logClient) resolve(ctx context.Context, bounds map[int32]bound, pos Position) (map[int32]int64, error) {
	out := make(map[int32]int64, len(bounds))
	switch pos.Kind {
	case PositionStart:
		for p, b := range bounds {
			out[p] = b.Start
		}
	case PositionEnd:
		for p, b := range bounds {
			out[p] = b.End
		}
	case PositionTime:
		return lc.offsetsAt(ctx, bounds, pos.Time)
	case PositionOffsets:
		for p, o := range pos.Offsets {
			if err := lc.check(bounds, p, o); err != nil {
				return nil, err
			}
			out[p] = o
		}
	default:
		return nil, &PositionError{Input: pos.String(), Reason: "not resolvable to offsets on one topic"}
	}
	return out, nil
}

// check reports whether offset o is inside partition p's [start, end].
func (lc *logClient) check(bounds map[int32]bound, p int32, o int64) error {
	b, ok := bounds[p]
	if !ok {
		return &PartitionError{Topic: lc.topic, Partition: p, Partitions: len(bounds)}
	}
	if o < b.Start || o > b.End {
		return &OffsetRangeError{Topic: lc.topic, Partition: p, Offset: o, Start: b.Start, End: b.End}
	}
	return nil
}

// looksLikeDate reports whether s starts like a date (YYYY-), so a time
// that fails to parse is reported as a time, not as bad offsets.
func looksLikeDate(s string) bool {
	if len(s) < 5 || s[4] != '-' {
		return false
	}
	for _, r := range s[:4] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func sortedPartitions[V any](m map[int32]V) []int32 {
	ps := make([]int32, 0, len(m))
	for p := range m {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}
