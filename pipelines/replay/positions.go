package replay

// Positions are how `matriz replay --from/--to` and `matriz offsets reset
// --to` name a place in a lane's log: start, end, a time, explicit
// partition offsets, or a checkpoint. ParsePosition reads the command-line
// form; ResolvePositions turns it into one offset per partition against
// the cluster, and FindCheckpoint / CheckpointAtOrBefore read the lane's
// retained checkpoints.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/topics"
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

// bound is one partition's log start offset and end (high watermark).
type bound struct{ Start, End int64 }

// logClient is a kafka-go client on a fresh transport (kafka-go caches
// metadata per transport; a command must see the topics as they are now)
// for one topic, whose partition count it knows.
type logClient struct {
	topic      string
	partitions int
	brokers    []string
	cl         *kafka.Client
	tr         *kafka.Transport
}

// requestTimeout bounds each request this package sends.
const requestTimeout = 10 * time.Second

// openLog checks brokers (address form and that one answers, through
// topics.Admin, so the errors are the project's own actionable ones) and
// that topic exists.
func openLog(ctx context.Context, brokers []string, topic string) (*logClient, error) {
	admin, err := topics.NewAdmin(brokers)
	if err != nil {
		return nil, err
	}
	all, err := admin.ListTopics(ctx)
	if err != nil {
		return nil, err
	}
	n, ok := all[topic]
	if !ok {
		return nil, &TopicMissingError{Topic: topic}
	}
	tr := &kafka.Transport{DialTimeout: 3 * time.Second}
	return &logClient{
		topic: topic, partitions: n, brokers: slices.Clone(brokers), tr: tr,
		cl: &kafka.Client{Addr: kafka.TCP(brokers...), Timeout: requestTimeout, Transport: tr},
	}, nil
}

func (lc *logClient) close() { lc.tr.CloseIdleConnections() }

// bounds returns every partition's log start and end. kafka-go sends one
// ListOffsets per partition to its leader (Kafka refuses two asks for one
// partition in a request) and labels each answer with the timestamp asked,
// so FirstOffset and LastOffset are the answers to -2 and -1.
func (lc *logClient) bounds(ctx context.Context) (map[int32]bound, error) {
	reqs := make([]kafka.OffsetRequest, 0, 2*lc.partitions)
	for p := range lc.partitions {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	res, err := lc.cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{lc.topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("topic %s: reading the partitions' offsets: %w", lc.topic, err)
	}
	out := make(map[int32]bound, lc.partitions)
	for _, po := range res.Topics[lc.topic] {
		if po.Error != nil {
			return nil, fmt.Errorf("topic %s partition %d: reading its offsets: %w", lc.topic, po.Partition, po.Error)
		}
		out[int32(po.Partition)] = bound{Start: po.FirstOffset, End: po.LastOffset}
	}
	if len(out) != lc.partitions {
		return nil, fmt.Errorf("topic %s: offsets of %d of its %d partitions came back", lc.topic, len(out), lc.partitions)
	}
	return out, nil
}

// offsetsAt resolves a time per partition with ListOffsets by timestamp:
// Kafka answers the first offset whose timestamp is at or after it, or -1
// when there is none, which is the end.
func (lc *logClient) offsetsAt(ctx context.Context, bounds map[int32]bound, at time.Time) (map[int32]int64, error) {
	// Record timestamps are milliseconds: a time inside a millisecond
	// rounds up, so a record stamped at that millisecond's start, earlier
	// than the time, is not taken for one at or after it.
	ms := at.UnixMilli()
	if at.After(time.UnixMilli(ms)) {
		ms++
	}
	reqs := make([]kafka.OffsetRequest, 0, len(bounds))
	for p := range bounds {
		reqs = append(reqs, kafka.OffsetRequest{Partition: int(p), Timestamp: ms})
	}
	res, err := lc.cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{lc.topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("topic %s: looking up offsets at %s: %w", lc.topic, at.Format(time.RFC3339Nano), err)
	}
	out := make(map[int32]int64, len(bounds))
	for _, po := range res.Topics[lc.topic] {
		p := int32(po.Partition)
		if po.Error != nil {
			return nil, fmt.Errorf("topic %s partition %d: looking up the offset at %s: %w", lc.topic, p, at.Format(time.RFC3339Nano), po.Error)
		}
		off := int64(-1)
		for o := range po.Offsets { // one answer per partition
			off = o
		}
		if off < 0 {
			off = bounds[p].End
		}
		out[p] = off
	}
	if len(out) != len(bounds) {
		return nil, fmt.Errorf("topic %s: offsets at %s of %d of its %d partitions came back", lc.topic, at.Format(time.RFC3339Nano), len(out), len(bounds))
	}
	return out, nil
}

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

// readTimeout bounds reading a topic to its end.
const readTimeout = 60 * time.Second

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

// logRecord is one record as a scan reads it. Value is nil for a
// tombstone and empty, not nil, for an empty value.
type logRecord struct {
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	Time      time.Time
}

// readTopic calls fn with every record topic holds now, partition by
// partition, each in offset order, and stops at fn's first error.
func readTopic(ctx context.Context, brokers []string, topic string, fn func(logRecord) error) error {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	lc, err := openLog(ctx, brokers, topic)
	if err != nil {
		return err
	}
	defer lc.close()
	bounds, err := lc.bounds(ctx)
	if err != nil {
		return err
	}
	for _, p := range sortedPartitions(bounds) {
		if err := lc.scan(ctx, p, bounds[p].Start, bounds[p].End, fn); err != nil {
			return err
		}
	}
	return nil
}

// scan calls fn with the records of partition p in [from, to), in order,
// with plain fetches: no reader goroutines to start and stop, which a
// command that reads a topic once does not need.
func (lc *logClient) scan(ctx context.Context, p int32, from, to int64, fn func(logRecord) error) error {
	empty := 0 // fetches in a row that returned nothing
	for off := from; off < to; {
		res, err := lc.cl.Fetch(ctx, &kafka.FetchRequest{
			Topic: lc.topic, Partition: int(p), Offset: off,
			MinBytes: 1, MaxBytes: 8 << 20, MaxWait: 50 * time.Millisecond,
		})
		if err == nil {
			err = res.Error
		}
		if err != nil {
			return fmt.Errorf("topic %s partition %d: reading at offset %d (end %d): %w", lc.topic, p, off, to, err)
		}
		next := off
		for {
			rec, err := res.Records.ReadRecord()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("topic %s partition %d: decoding records at offset %d: %w", lc.topic, p, off, err)
			}
			// A fetch answers whole batches: records before off were
			// seen already, those from to on were not asked for.
			if rec.Offset < off {
				continue
			}
			if rec.Offset >= to {
				next = to
				break
			}
			r := logRecord{Partition: p, Offset: rec.Offset, Time: rec.Time}
			if r.Key, err = readBytes(rec.Key); err == nil {
				r.Value, err = readBytes(rec.Value)
			}
			if err != nil {
				return fmt.Errorf("topic %s partition %d offset %d: %w", lc.topic, p, rec.Offset, err)
			}
			if err := fn(r); err != nil {
				return err
			}
			next = rec.Offset + 1
		}
		if next > off {
			off, empty = next, 0
			continue
		}
		// Nothing at or after off came back. Past the high watermark that
		// is the end (records compacted away at the tail); before it, only
		// transaction markers, which this project never writes, could do
		// that, so a few tries and then an error rather than a spin.
		if res.HighWatermark <= off {
			return nil
		}
		if empty++; empty == 3 {
			return fmt.Errorf("topic %s partition %d: no readable records from offset %d though its end is %d", lc.topic, p, off, res.HighWatermark)
		}
	}
	return nil
}

// readBytes reads a record's key or value; nil stays nil (a tombstone).
func readBytes(b kafka.Bytes) ([]byte, error) {
	if b == nil {
		return nil, nil
	}
	out := make([]byte, 0, b.Len())
	buf := bytes.NewBuffer(out)
	if _, err := buf.ReadFrom(b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
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
