package rehearsal

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/topics"
)

// reader reads the lanes' topics from the Docker host, at the broker's
// fixed address.
type reader struct {
	brokers []string
}

// readAll returns every record topic holds now, giving up when no record
// arrived for quiet.
func (r reader) readAll(ctx context.Context, topic string, quiet time.Duration) ([]topics.Message, error) {
	var mu sync.Mutex
	var out []topics.Message
	tail, err := topics.StartTail(ctx, r.brokers, topic, func(m topics.Message) {
		mu.Lock()
		out = append(out, m)
		mu.Unlock()
	}, nil)
	if err != nil {
		return nil, err
	}
	defer tail.Close()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	last, since := -1, time.Now()
	for {
		select {
		case <-tail.CaughtUp():
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(out), nil
		case <-tick.C:
			mu.Lock()
			n := len(out)
			mu.Unlock()
			if n != last {
				last, since = n, time.Now()
			} else if time.Since(since) > quiet {
				return nil, fmt.Errorf("reading %s made no progress for %v (%d records read)", topic, quiet, n)
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (r reader) ends(ctx context.Context, topic string) (map[int]int64, error) {
	return topics.PartitionEnds(ctx, r.brokers, topic)
}

// total is the number of records topic holds.
func (r reader) total(ctx context.Context, topic string) (int64, error) {
	ends, err := r.ends(ctx, topic)
	var n int64
	for _, e := range ends {
		n += e
	}
	return n, err
}

// behind returns how many records of topic group has not committed.
func (r reader) behind(ctx context.Context, topic, group string) (int64, error) {
	ends, err := r.ends(ctx, topic)
	if err != nil {
		return 0, err
	}
	cl := &kafka.Client{Addr: kafka.TCP(r.brokers...), Timeout: 5 * time.Second}
	resp, err := cl.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: slices.Sorted(maps.Keys(ends))}})
	if err != nil {
		return 0, err
	}
	committed := map[int]int64{}
	for _, p := range resp.Topics[topic] {
		committed[p.Partition] = max(p.CommittedOffset, 0)
	}
	var n int64
	for p, end := range ends {
		n += max(end-committed[p], 0)
	}
	return n, nil
}

// waitCaughtUp waits until group committed every record of topic, and
// returns when it did.
func (r reader) waitCaughtUp(ctx context.Context, topic, group string, within time.Duration) (time.Time, error) {
	deadline := time.Now().Add(within)
	var last int64 = -1
	var lastErr error
	for time.Now().Before(deadline) {
		n, err := r.behind(ctx, topic, group)
		if err == nil && n == 0 {
			return time.Now(), nil
		}
		last, lastErr = n, err
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		}
	}
	return time.Time{}, fmt.Errorf("group %s did not commit every record of %s within %v (%d behind, last error %v)", group, topic, within, last, lastErr)
}
