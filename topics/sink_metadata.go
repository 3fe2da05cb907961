package topics

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"

	"github.com/matriz/pipelines/clock"
)

// partitionCountTTL is how long the Sink's writer reuses a topic's
// metadata for picking partitions. kafka-go's Transport already answers
// these lookups from its own cache (refreshed every 6s); this only spares
// the copy it makes per lookup.
const partitionCountTTL = time.Second

// partitionCounts sits between a Sink's kafka-go Writer and its Transport
// and answers the Writer's one-topic metadata lookups from a short-lived
// cache. The Writer looks a record's topic up once per record, only for
// its partition count, and the Transport builds a fresh filtered copy of
// its cached metadata each time: several allocations per output record,
// a tenth of the chain's. Every other request, a lookup that may create a
// topic, and an answer that names an error, pass through untouched.
type partitionCounts struct {
	next  kafka.RoundTripper
	clock clock.Clock

	mu      sync.Mutex
	byTopic map[string]cachedMetadata
}

type cachedMetadata struct {
	res *metadata.Response
	at  time.Time
}

func newPartitionCounts(next kafka.RoundTripper, cl clock.Clock) *partitionCounts {
	return &partitionCounts{next: next, clock: cl, byTopic: map[string]cachedMetadata{}}
}

// RoundTrip implements kafka.RoundTripper.
func (c *partitionCounts) RoundTrip(ctx context.Context, addr net.Addr, req kafka.Request) (kafka.Response, error) {
	m, ok := req.(*metadata.Request)
	if !ok || len(m.TopicNames) != 1 || m.AllowAutoTopicCreation {
		return c.next.RoundTrip(ctx, addr, req)
	}
	topic := m.TopicNames[0]
	now := c.clock.Now()
	c.mu.Lock()
	e, hit := c.byTopic[topic]
	c.mu.Unlock()
	if hit && now.Sub(e.at) < partitionCountTTL && !now.Before(e.at) {
		return e.res, nil
	}
	res, err := c.next.RoundTrip(ctx, addr, req)
	if err != nil {
		return res, err
	}
	if r, ok := res.(*metadata.Response); ok && len(r.Topics) == 1 && r.Topics[0].Name == topic && r.Topics[0].ErrorCode == 0 {
		c.mu.Lock()
		c.byTopic[topic] = cachedMetadata{res: r, at: now}
		c.mu.Unlock()
	}
	return res, nil
}

// forget drops every cached answer: after a broker outage the next
// lookup asks the Transport again.
func (c *partitionCounts) forget() {
	c.mu.Lock()
	clear(c.byTopic)
	c.mu.Unlock()
}
