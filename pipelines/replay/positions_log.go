package replay

// The log client: what positions, checkpoints and offsets read from Kafka
// — a topic's partitions and their bounds, offsets by time, and plain
// fetch scans of a partition range — over one kafka-go client.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/topics"
)

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
		// A listing leaves out the topics this principal may not
		// describe: ask for the topic by name, which says refused apart
		// from missing.
		var denied *topics.AuthorizationError
		if err := topics.CheckTopics(ctx, brokers, []string{topic}); errors.As(err, &denied) {
			return nil, err
		}
		return nil, &TopicMissingError{Topic: topic}
	}
	tr := topics.SecureTransport(&kafka.Transport{DialTimeout: 3 * time.Second})
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

// readTimeout bounds reading a topic to its end.
const readTimeout = 60 * time.Second

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
