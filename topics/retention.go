package topics

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/matriz/pipelines/clock"
)

// The embedded broker's cleaner. kfake implements compaction and
// retention.ms/retention.bytes but runs them on its own timer, once an hour
// (log.cleaner.backoff.ms), and only frees disk a whole segment at a time
// (100 MiB by default): an hour of `matriz dev` traffic was gigabytes. The
// cleaner runs them every BrokerCleanEvery instead, and BrokerRetentionCap
// bounds every delete-policy topic to a window whatever its own
// retention.ms says (what `matriz dev --retention` sets).
//
// The cap measures age by arrival at the broker: each pass samples every
// partition's high watermark, and the records below the watermark sampled
// at least cap ago are deleted (a DeleteRecords to that offset), so a
// record lives between cap and cap+interval. Arrival time, not the
// records' own timestamps, because a replayed or event-time stamped record
// may carry any timestamp; topics' own retention.ms keeps Kafka's meaning
// (record timestamps) through kfake.

// cleaner enforces compaction and retention on the cluster of a Broker.
type cleaner struct {
	b        *Broker
	every    time.Duration
	cap      time.Duration
	clock    clock.Clock
	client   *kafka.Client
	samples  map[string]map[int][]hwmSample
	stop     context.CancelFunc
	done     chan struct{}
	stopOnce sync.Once
}

// hwmSample is a partition's high watermark at a time.
type hwmSample struct {
	at  time.Time
	hwm int64
}

func newCleaner(b *Broker, every, cap time.Duration, cl clock.Clock) *cleaner {
	return &cleaner{
		b: b, every: every, cap: cap, clock: cl,
		client:  &kafka.Client{Addr: kafka.TCP(b.addrs...), Timeout: 10 * time.Second, Transport: SecureTransport(&kafka.Transport{})},
		samples: map[string]map[int][]hwmSample{},
	}
}

// start runs a pass every interval until stopAndWait.
func (c *cleaner) start() {
	ctx, cancel := context.WithCancel(context.Background())
	c.stop, c.done = cancel, make(chan struct{})
	go func() {
		defer close(c.done)
		t := c.clock.NewTicker(c.every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-t.C():
				c.pass(ctx, now)
			}
		}
	}()
}

// stopAndWait ends the loop and waits for a pass in progress, so the
// cluster is not closed under it.
func (c *cleaner) stopAndWait() {
	c.stopOnce.Do(func() {
		if c.stop != nil {
			c.stop()
			<-c.done
		}
		if tr, ok := c.client.Transport.(*kafka.Transport); ok {
			tr.CloseIdleConnections() // its pool would ask a closed cluster for metadata for ever
		}
	})
}

// pass compacts and applies the topics' own retention (kfake), then the cap.
// It returns the records it deleted for the cap, by topic.
func (c *cleaner) pass(ctx context.Context, now time.Time) map[string]int64 {
	c.b.cluster.Compact() // compaction, then every topic's retention.ms/bytes
	if c.cap <= 0 {
		return nil
	}
	names, err := c.topicNames(ctx)
	if err != nil {
		return nil // the broker is stopping; the next pass tries again
	}
	deleted := map[string]int64{}
	seen := map[string]bool{}
	for _, name := range names {
		seen[name] = true
		info := c.b.cluster.TopicInfo(name)
		if info == nil || compactPolicy(info.Configs) {
			continue
		}
		parts := c.samples[name]
		if parts == nil {
			parts = map[int][]hwmSample{}
			c.samples[name] = parts
		}
		for _, p := range c.b.cluster.PartitionInfos(name) {
			s := append(parts[int(p.Partition)], hwmSample{at: now, hwm: p.HighWatermark})
			// The newest sample at least cap old marks the records to drop;
			// older samples are no longer needed.
			i := -1
			for j := range s {
				if now.Sub(s[j].at) >= c.cap {
					i = j
				}
			}
			if i >= 0 {
				to := s[i].hwm
				if to > p.LogStartOffset {
					if err := c.b.cluster.DeleteRecords(name, p.Partition, to); err == nil {
						deleted[name] += to - p.LogStartOffset
					}
				}
				s = s[i:]
			}
			parts[int(p.Partition)] = s
		}
	}
	for name := range c.samples {
		if !seen[name] {
			delete(c.samples, name)
		}
	}
	return deleted
}

// topicNames lists the cluster's topics.
func (c *cleaner) topicNames(ctx context.Context) ([]string, error) {
	md, err := c.client.Metadata(ctx, &kafka.MetadataRequest{})
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(md.Topics))
	for _, t := range md.Topics {
		if t.Error == nil && !t.Internal {
			names = append(names, t.Name)
		}
	}
	return names, nil
}

// compactPolicy reports whether a topic's cleanup.policy includes compact
// (the cap bounds time windows, never tables).
func compactPolicy(cfgs map[string]*string) bool {
	v := cfgs[ConfigCleanupPolicy]
	return v != nil && strings.Contains(*v, CleanupCompact)
}
