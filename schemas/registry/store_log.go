package registry

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// Log is the durable, ordered log of keyed records a LogStore keeps the
// registry's records in. The registry owns this interface so that it never
// imports a Kafka client: topics.CompactedLog, a compacted single-partition
// Kafka topic, satisfies it, and tests use a slice.
//
// What the registry relies on, and a Log must guarantee: ReadFrom gives back
// the records in the order their Appends returned; nothing is dropped
// except by compaction, which only removes a record that a later one with
// the same key replaces, and a tombstone (nil value) once its key is gone.
// A log that reordered records, or deleted them by age, would change or
// lose schemas and reuse ids.
type Log interface {
	// ReadFrom calls fn with every record at offset from onwards, oldest
	// first, up to the end the log had when ReadFrom began, and returns
	// that end: the offset the next record will get. It stops at fn's
	// first error. A tombstone has a nil value. fn may keep key and
	// value.
	ReadFrom(ctx context.Context, from int64, fn func(offset int64, key, value []byte) error) (end int64, err error)
	// Append writes one record, a tombstone when value is nil, and returns
	// only once it is durable (for Kafka: acknowledged by every in-sync
	// replica). After an error the record may or may not be in the log.
	Append(ctx context.Context, key, value []byte) error
	// Close releases the log's connections.
	Close() error
}

// LogStore is a Store over a Log. It keeps nothing in memory: the registry
// holds the index, the log holds the records.
type LogStore struct {
	log    Log
	closed atomic.Bool
}

// NewLogStore returns a store over log. It does no I/O: the registry built
// on it reads the log in New and follows it from then on. The store owns
// log from here on: Close closes it.
func NewLogStore(log Log) (*LogStore, error) {
	if log == nil {
		return nil, fmt.Errorf("%w: log is nil", ErrConfig)
	}
	return &LogStore{log: log}, nil
}

// ReadFrom reads the log from offset from to its current end.
func (s *LogStore) ReadFrom(ctx context.Context, from int64) ([]Record, int64, error) {
	var recs []Record
	end, err := s.log.ReadFrom(ctx, from, func(_ int64, key, value []byte) error {
		recs = append(recs, Record{Key: key, Value: value})
		return nil
	})
	if err != nil {
		return nil, from, fmt.Errorf("reading the log from offset %d (%d records read): %w", from, len(recs), err)
	}
	return recs, max(end, from), nil
}

// errStoreClosed is what Append returns after Close.
var errStoreClosed = errors.New("the log store is closed")

// Append writes recs to the log one by one, in order, each durable before
// the next is sent. On error the records before the failed one are in the
// log, and the error says how many.
func (s *LogStore) Append(ctx context.Context, recs ...Record) error {
	for i, r := range recs {
		if s.closed.Load() {
			return errStoreClosed
		}
		if err := s.log.Append(ctx, r.Key, r.Value); err != nil {
			if i == 0 {
				return fmt.Errorf("appending to the log: %w", err)
			}
			return fmt.Errorf("appending record %d of %d to the log (the first %d are in it): %w", i+1, len(recs), i, err)
		}
	}
	return nil
}

// Close closes the log. It is safe to call twice: the log is closed once.
func (s *LogStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.log.Close()
}
