package topics

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/protocol/metadata"
	produceapi "github.com/segmentio/kafka-go/protocol/produce"

	"github.com/matriz/pipelines/clock"
)

// countingTripper answers metadata lookups with a topic of errCode and
// counts the requests it saw.
type countingTripper struct {
	calls   int
	errCode int16
}

func (c *countingTripper) RoundTrip(_ context.Context, _ net.Addr, req kafka.Request) (kafka.Response, error) {
	c.calls++
	if m, ok := req.(*metadata.Request); ok {
		return &metadata.Response{Topics: []metadata.ResponseTopic{{Name: m.TopicNames[0], ErrorCode: c.errCode, Partitions: make([]metadata.ResponsePartition, 6)}}}, nil
	}
	return &produceapi.Response{}, nil
}

func lookup(t *testing.T, rt kafka.RoundTripper, topic string) *metadata.Response {
	t.Helper()
	res, err := rt.RoundTrip(context.Background(), kafka.TCP("x:9092"), &metadata.Request{TopicNames: []string{topic}})
	if err != nil {
		t.Fatal(err)
	}
	return res.(*metadata.Response)
}

func TestPartitionCountsAnswersRepeatedLookupsFromCache(t *testing.T) {
	next := &countingTripper{}
	cl := clock.NewFake(time.Unix(1000, 0))
	pc := newPartitionCounts(next, cl)
	first := lookup(t, pc, "a")
	if again := lookup(t, pc, "a"); again != first || next.calls != 1 {
		t.Fatalf("second lookup within the TTL: %d transport calls, same answer %v; want 1 call and the cached answer", next.calls, again == first)
	}
	if got := len(lookup(t, pc, "a").Topics[0].Partitions); got != 6 {
		t.Fatalf("cached answer has %d partitions, want 6", got)
	}
	lookup(t, pc, "b")
	if next.calls != 2 {
		t.Fatalf("another topic: %d transport calls, want 2", next.calls)
	}
	cl.Advance(partitionCountTTL)
	lookup(t, pc, "a")
	if next.calls != 3 {
		t.Fatalf("after the TTL: %d transport calls, want 3", next.calls)
	}
	pc.forget()
	lookup(t, pc, "a")
	if next.calls != 4 {
		t.Fatalf("after forget: %d transport calls, want 4", next.calls)
	}
}

func TestPartitionCountsPassesErrorsAndOtherRequestsThrough(t *testing.T) {
	next := &countingTripper{errCode: int16(kafka.UnknownTopicOrPartition)}
	pc := newPartitionCounts(next, clock.NewFake(time.Unix(1000, 0)))
	lookup(t, pc, "missing")
	lookup(t, pc, "missing")
	if next.calls != 2 {
		t.Fatalf("an unknown topic was cached: %d transport calls for 2 lookups, want 2", next.calls)
	}
	next.errCode = 0
	for range 2 {
		if _, err := pc.RoundTrip(context.Background(), kafka.TCP("x:9092"), &produceapi.Request{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pc.RoundTrip(context.Background(), kafka.TCP("x:9092"), &metadata.Request{TopicNames: []string{"c"}, AllowAutoTopicCreation: true}); err != nil {
		t.Fatal(err)
	}
	if next.calls != 5 {
		t.Fatalf("produce requests and an auto-creating lookup: %d transport calls in all, want 5", next.calls)
	}
}
