package replay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/topics"
)

// This file reads the topics a diff compares: every record of each
// partition from its log start up to the end offset the partition had when
// the diff began, so records written while it reads are left for the next
// run. topics.Tail follows a topic forever and does not say where each
// partition ended at the start; a diff needs exactly that cut.

// diffRange is one partition's records as of the start: [first, end).
type diffRange struct {
	partition  int
	first, end int64
}

// diffScanTimeout bounds the metadata and offset requests of one diff.
const diffScanTimeout = 30 * time.Second

// diffRanges returns each existing topic's partition ranges, and the names
// that do not exist on the cluster.
func diffRanges(ctx context.Context, brokers []string, names []string) (map[string][]diffRange, []string, error) {
	ctx, cancel := context.WithTimeout(ctx, diffScanTimeout)
	defer cancel()
	if err := diffReachable(ctx, brokers); err != nil {
		return nil, nil, err
	}
	tr := &kafka.Transport{DialTimeout: 3 * time.Second}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(brokers...), Transport: tr}
	md, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: names})
	if err != nil {
		return nil, nil, fmt.Errorf("read topic metadata from %v: %w", brokers, err)
	}
	found := map[string][]int{}
	for _, t := range md.Topics {
		switch {
		case errors.Is(t.Error, kafka.UnknownTopicOrPartition):
			continue
		case t.Error != nil:
			return nil, nil, fmt.Errorf("topic %s: %w", t.Name, t.Error)
		}
		for _, p := range t.Partitions {
			found[t.Name] = append(found[t.Name], p.ID)
		}
	}
	var missing []string
	req := &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{}}
	for _, n := range names {
		ps, ok := found[n]
		if !ok {
			missing = append(missing, n)
			continue
		}
		for _, p := range ps {
			req.Topics[n] = append(req.Topics[n], kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
		}
	}
	ranges := map[string][]diffRange{}
	if len(req.Topics) == 0 {
		return ranges, missing, nil
	}
	res, err := cl.ListOffsets(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("list offsets: %w", err)
	}
	for topic, ps := range res.Topics {
		for _, p := range ps {
			if p.Error != nil {
				return nil, nil, fmt.Errorf("topic %s partition %d: list offsets: %w", topic, p.Partition, p.Error)
			}
			ranges[topic] = append(ranges[topic], diffRange{partition: p.Partition, first: p.FirstOffset, end: p.LastOffset})
		}
		slices.SortFunc(ranges[topic], func(a, b diffRange) int { return a.partition - b.partition })
	}
	return ranges, missing, nil
}

// diffReachable dials each bootstrap address until one answers, so a
// wrong --brokers is one line naming the addresses, not a kafka-go error.
func diffReachable(ctx context.Context, brokers []string) error {
	d := net.Dialer{Timeout: 3 * time.Second}
	errs := make([]error, len(brokers))
	for i, b := range brokers {
		c, err := d.DialContext(ctx, "tcp", b)
		if err == nil {
			return c.Close()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		errs[i] = err
	}
	return &topics.BrokerUnreachableError{Addrs: brokers, Errs: errs}
}

// diffReaders bounds the partitions read at once: enough to keep a broker
// busy, few enough not to open a connection per partition of ten topics.
const diffReaders = 8

// diffScan reads every range of topic and calls fn with each record, in
// offset order within a partition; fn runs on one goroutine per partition
// (concurrently across partitions). It returns the first read error.
func diffScan(ctx context.Context, brokers []string, topic string, ranges []diffRange, sem chan struct{}, fn func(topics.Message)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, r := range ranges {
		if r.end <= r.first {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-sem }()
			if err := diffScanPartition(ctx, brokers, topic, r, fn); err != nil {
				mu.Lock()
				if first == nil {
					first = err
					cancel()
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

// diffScanPartition reads one partition's range with a kafka-go reader
// tuned for a backlog that is all there already: big fetches, taken at once.
func diffScanPartition(ctx context.Context, brokers []string, topic string, r diffRange, fn func(topics.Message)) error {
	rc := kafka.ReaderConfig{
		Brokers:   slices.Clone(brokers),
		Topic:     topic,
		Partition: r.partition,
		Dialer:    &kafka.Dialer{Timeout: 3 * time.Second, DualStack: true},
		MinBytes:  1,
		MaxBytes:  16 << 20,
		// Closing the reader waits for its last, empty prefetch: keep the
		// wait short.
		MaxWait:       10 * time.Millisecond,
		QueueCapacity: 1024,
	}
	if err := rc.Validate(); err != nil { // NewReader would panic on it
		return fmt.Errorf("read %s/%d: %w", topic, r.partition, err)
	}
	rd := kafka.NewReader(rc)
	defer rd.Close()
	if err := rd.SetOffset(r.first); err != nil {
		return fmt.Errorf("read %s/%d: seek to %d: %w", topic, r.partition, r.first, err)
	}
	for {
		km, err := rd.FetchMessage(ctx)
		if err != nil {
			return fmt.Errorf("read %s/%d (offsets %d..%d): %w", topic, r.partition, r.first, r.end, err)
		}
		if km.Offset >= r.end {
			return nil
		}
		m := topics.Message{Topic: km.Topic, Partition: int32(km.Partition), Offset: km.Offset, Key: km.Key, Value: km.Value, Time: km.Time}
		for _, h := range km.Headers {
			m.Headers = append(m.Headers, topics.Header(h))
		}
		fn(m)
		if km.Offset+1 >= r.end {
			return nil
		}
	}
}
