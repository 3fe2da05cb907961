package topics

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestSinkWritesNothingAfterAnAheadRecordItGaveUp refuses every write to
// the topic of the Ahead records: the records handed in after them, to a
// topic that accepts writes, must not reach the log, in the same batch or
// a later one, and their Acks fail.
// Without the split, the batch's writes go out together and the outputs
// land while their decision is lost.
func TestSinkWritesNothingAfterAnAheadRecordItGaveUp(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("decisions", 1), streamSpec("outputs", 3))
	refused, _ := b.RefuseWrites("decisions")
	// Batches of 10: the 60 outputs span seven.
	sink, err := NewSink(context.Background(), addrs, SinkRetries(1), SinkBackoff(1), SinkBatchSize(10))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var acked []error
	ack := NewAckFunc(func(err error) {
		mu.Lock()
		acked = append(acked, err)
		mu.Unlock()
	})
	const n = 60
	ack.Add(n + 1)
	d := testRecord("decisions", 0)
	d.Ahead, d.Ack = true, ack
	sink.In() <- d
	for i := range n {
		m := testRecord("outputs", i)
		m.Ack = ack
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()
	if got := endOffsets(t, addrs, "outputs", 3); sum(got) != 0 || refused.Load() == 0 {
		t.Fatalf("outputs holds %v records after their decision was given up (%d writes refused), want none", got, refused.Load())
	}
	mu.Lock()
	defer mu.Unlock()
	if len(acked) != 1 || !errors.Is(acked[0], ErrAheadUnwritten) && !errors.Is(acked[0], kafka.InvalidRecord) {
		t.Fatalf("the Ack resolved %d times with %v, want once with the refusal", len(acked), acked)
	}
	if sink.Failed() != n+1 {
		t.Fatalf("failed %d, want all %d", sink.Failed(), n+1)
	}
	var we *WriteError
	if !errors.As(sink.Err(), &we) {
		t.Fatalf("sink error %v, want a WriteError", sink.Err())
	}
}

// TestSinkWritesTheRestAfterItsAheadRecords is the healthy case: every
// record of a batch mixing Ahead and other records is written once.
func TestSinkWritesTheRestAfterItsAheadRecords(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("decisions", 1), streamSpec("outputs", 3))
	var mu sync.Mutex
	var order []string // topics in the order the broker got their produce requests
	b.cluster.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		b.cluster.KeepControl()
		mu.Lock()
		for _, rt := range kr.(*kmsg.ProduceRequest).Topics {
			order = append(order, rt.Topic)
		}
		mu.Unlock()
		return nil, nil, false
	})
	sink, err := NewSink(context.Background(), addrs, SinkBatchSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	const n = 60
	for i := range n {
		m := testRecord("outputs", i)
		if i == n/2 {
			d := testRecord("decisions", i)
			d.Ahead = true
			sink.In() <- d
		}
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()
	if sink.Written() != n+1 || sink.Err() != nil {
		t.Fatalf("written %d err %v, want %d and none", sink.Written(), sink.Err(), n+1)
	}
	if got := endOffsets(t, addrs, "outputs", 3); sum(got) != n {
		t.Fatalf("outputs holds %v, want %d", got, n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(order) == 0 || order[0] != "decisions" {
		t.Fatalf("produce requests went out for %v, want the Ahead record's topic first", order)
	}
}
