package inspect

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/topics"
)

// errStop, returned by readLog's fn, stops reading that partition.
var errStop = errors.New("stop reading this partition")

// readLog calls fn with the records of topic from the offsets pos
// resolves to, each partition in order and partitions one at a time (fn
// needs no lock). Without follow every partition stops at its end as of
// the call; with follow it waits for new records until ctx ends (which is
// then not an error).
func readLog(ctx context.Context, brokers []string, topic string, pos replay.Position, follow bool, fn func(topics.Message) error) error {
	from, err := replay.ResolvePositions(ctx, brokers, topic, pos)
	if err != nil {
		return err
	}
	ends, err := topics.PartitionEnds(ctx, brokers, topic)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range slices.Sorted(func(yield func(int32) bool) {
		for p := range from {
			if !yield(p) {
				return
			}
		}
	}) {
		start, end := from[p], ends[int(p)]
		if !follow && start >= end {
			continue
		}
		wg.Go(func() {
			r := kafka.NewReader(kafka.ReaderConfig{
				Brokers: slices.Clone(brokers), Topic: topic, Partition: int(p), Dialer: topics.NewDialer(),
				MinBytes: 1, MaxBytes: 4 << 20, MaxWait: 250 * time.Millisecond,
			})
			defer r.Close()
			if err := r.SetOffset(start); err != nil {
				cancel(err)
				return
			}
			for {
				km, err := r.ReadMessage(ctx)
				if err != nil {
					if ctx.Err() == nil {
						cancel(err)
					}
					return
				}
				m := topics.Message{Topic: km.Topic, Partition: int32(km.Partition), Offset: km.Offset, Key: km.Key, Value: km.Value, Time: km.Time}
				for _, h := range km.Headers {
					m.Headers = append(m.Headers, topics.Header{Key: h.Key, Value: h.Value})
				}
				mu.Lock()
				err = fn(m)
				mu.Unlock()
				if errors.Is(err, errStop) {
					return
				}
				if err != nil {
					cancel(err)
					return
				}
				if !follow && km.Offset+1 >= end {
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if follow {
		return nil
	}
	return ctx.Err()
}
