package replay

import (
	"context"
	"errors"
	"fmt"
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
	if err := topics.Reachable(ctx, brokers); err != nil {
		return nil, nil, err
	}
	tr := topics.SecureTransport(&kafka.Transport{DialTimeout: 3 * time.Second})
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

// Fetch settings of a diff's partition reads. A fetch asks for at most
// diffFetchBytes; the broker answers at once, since every offset read is
// below the partition's end. diffFetchTimeout bounds one fetch's answer.
const (
	diffFetchBytes   = 4 << 20
	diffFetchWait    = 500 * time.Millisecond
	diffFetchTimeout = 30 * time.Second
)

// diffScanPartition reads one partition's range over a connection to its
// leader, fetch after fetch up to the range's end. A kafka-go Reader would
// prefetch past the end and keep Close waiting for that fetch's MaxWait;
// with a short MaxWait, its deadline cuts big fetches and refetches them.
func diffScanPartition(ctx context.Context, brokers []string, topic string, r diffRange, fn func(topics.Message)) error {
	where := fmt.Sprintf("read %s/%d (offsets %d..%d)", topic, r.partition, r.first, r.end)
	d := topics.SecureDialer(&kafka.Dialer{Timeout: 3 * time.Second, DualStack: true})
	var (
		conn *kafka.Conn
		err  error
	)
	for _, b := range brokers {
		if conn, err = d.DialLeader(ctx, "tcp", b, topic, r.partition); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("%s: connect to the leader: %w", where, err)
	}
	defer conn.Close()
	// A cancelled ctx unblocks a fetch in flight.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()

	offset := r.first
	for offset < r.end {
		if _, err := conn.Seek(offset, kafka.SeekAbsolute); err != nil {
			return fmt.Errorf("%s: seek to %d: %w", where, offset, err)
		}
		if err := conn.SetReadDeadline(time.Now().Add(diffFetchTimeout)); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		batch := conn.ReadBatchWith(kafka.ReadBatchConfig{MinBytes: 1, MaxBytes: diffFetchBytes, MaxWait: diffFetchWait})
		start := offset
		for offset < r.end {
			km, err := batch.ReadMessage()
			if err != nil {
				break // io.EOF ends the fetch; Close returns any other error
			}
			if km.Offset >= r.end {
				offset = r.end
				break
			}
			offset = km.Offset + 1
			m := topics.Message{Topic: topic, Partition: int32(r.partition), Offset: km.Offset, Key: km.Key, Value: km.Value, Time: km.Time}
			if len(km.Headers) > 0 {
				m.Headers = make([]topics.Header, len(km.Headers))
				for i, h := range km.Headers {
					m.Headers[i] = topics.Header(h)
				}
			}
			fn(m)
		}
		if err := batch.Close(); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s: fetch at %d: %w", where, start, err)
		}
		if offset == start {
			// Nothing came back: offsets the log no longer holds
			// (compaction, transaction markers) or a fetch cut short. Go
			// on from where the connection's offset moved, if it did.
			next, _ := conn.Offset()
			if next <= start {
				return fmt.Errorf("%s: no record at or after offset %d although the end is %d", where, start, r.end)
			}
			offset = next
		}
	}
	return nil
}
