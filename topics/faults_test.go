package topics

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fault injection through kfake's ControlKey: the broker answers one kind
// of request with an error, over the real protocol.

// TestSinkRetriesOnlyTheFailedPartition fails the first produce request
// (one partition's batch) with NOT_LEADER_FOR_PARTITION: the Sink retries
// just those records and every record ends up written once.
func TestSinkRetriesOnlyTheFailedPartition(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("flaky", 3))
	failed := 0 // partitions failed; read after AwaitCompletion
	var mu sync.Mutex
	// Handling a request drops the control function: one request fails.
	b.cluster.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		resp, n := produceRefusal(kr.(*kmsg.ProduceRequest), kafka.NotLeaderForPartition)
		mu.Lock()
		failed += n
		mu.Unlock()
		return resp, nil, true
	})
	sink, err := NewSink(context.Background(), addrs, SinkBackoff(1))
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for i := range n {
		sink.In() <- testRecord("flaky", i)
	}
	close(sink.In())
	sink.AwaitCompletion()
	mu.Lock()
	defer mu.Unlock()
	if failed < 1 || failed > 2 {
		t.Fatalf("injected %d partition failures, want 1 (or 2 if kafka-go merged requests)", failed)
	}
	if sink.Written() != n || sink.Failed() != 0 || sink.Err() != nil {
		t.Fatalf("written %d failed %d err %v", sink.Written(), sink.Failed(), sink.Err())
	}
	if got := endOffsets(t, addrs, "flaky", 3); sum(got) != n {
		t.Fatalf("topic holds %v, want %d records exactly once", got, n)
	}
}

// TestSourceCommitErrorIsReported makes the group coordinator refuse every
// offset commit: Flush returns the error, Err and the error hook see it,
// and nothing is committed.
func TestSourceCommitErrorIsReported(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("c", 1))
	produce(t, addrs, "c", 5)
	var mu sync.Mutex
	var hooked []error
	src, err := NewSource(context.Background(), addrs, "g", []string{"c"}, SourceOnError(func(err error) {
		mu.Lock()
		hooked = append(hooked, err)
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range take(t, src.Out(), 5) {
		m.Ack.Done(nil)
	}
	b.cluster.ControlKey(int16(kmsg.OffsetCommit), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		b.cluster.KeepControl()
		req := kr.(*kmsg.OffsetCommitRequest)
		resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = int16(kafka.GroupAuthorizationFailed)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	err = src.Flush(context.Background())
	if !errors.Is(err, kafka.GroupAuthorizationFailed) || !strings.Contains(err.Error(), "commit offsets") {
		t.Fatalf("Flush = %v", err)
	}
	if !errors.Is(src.Err(), kafka.GroupAuthorizationFailed) {
		t.Fatalf("Err = %v", src.Err())
	}
	mu.Lock()
	found := false
	for _, e := range hooked {
		found = found || errors.Is(e, kafka.GroupAuthorizationFailed)
	}
	mu.Unlock()
	if !found {
		t.Fatal("error hook did not see the commit error")
	}
	if err := src.Close(); !errors.Is(err, kafka.GroupAuthorizationFailed) {
		t.Fatalf("Close = %v: the final commit must fail too", err)
	}
	if got := committedOffsets(t, addrs, "g", "c", 1); got[0] != -1 {
		t.Fatalf("committed %v", got)
	}
}
