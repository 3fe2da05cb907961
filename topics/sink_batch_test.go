package topics

import (
	"context"
	"errors"
	"testing"
)

// TestSinkWritesABatchElementInOrder sends records as []Message elements,
// one without a topic among them: every other record is written and acked
// with its headers, in order per key, and the one without a topic alone is
// refused.
func TestSinkWritesABatchElementInOrder(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("out", 1))
	sink, err := NewSink(context.Background(), addrs, SinkQueue(2))
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var acks []*Ack
	var batch []Message
	for i := range n {
		m := testRecord("out", i)
		if i == 7 {
			m.Topic = ""
		}
		m.Ack = NewAck()
		acks = append(acks, m.Ack)
		batch = append(batch, m)
		if len(batch) == 100 {
			sink.In() <- batch
			batch = nil
		}
	}
	close(sink.In())
	sink.AwaitCompletion()
	if sink.Written() != n-1 || sink.Failed() != 1 {
		t.Fatalf("written %d failed %d, want %d and 1", sink.Written(), sink.Failed(), n-1)
	}
	for i, a := range acks {
		if !a.Resolved() {
			t.Fatalf("record %d: ack unresolved", i)
		}
		if (a.Err() != nil) != (i == 7) || (i == 7 && !errors.Is(a.Err(), ErrNoTopic)) {
			t.Fatalf("record %d: ack error %v", i, a.Err())
		}
	}
	var got []Message
	tail, err := StartTail(context.Background(), addrs, "out", func(m Message) { got = append(got, m) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-tail.CaughtUp()
	tail.Close()
	if len(got) != n-1 {
		t.Fatalf("read %d records, want %d", len(got), n-1)
	}
	want := 0
	for _, m := range got {
		if want == 7 {
			want++
		}
		if s := string(m.Header("seq")); s != itoa(int64(want)) {
			t.Fatalf("record at offset %d has seq %s, want %d", m.Offset, s, want)
		}
		want++
	}
}

func TestSinkQueueOutOfRangeIsRefused(t *testing.T) {
	b := newBroker(t)
	var ce *ConfigError
	if _, err := NewSink(context.Background(), b.Addrs(), SinkQueue(-1)); !errors.As(err, &ce) || ce.Option != "queue" {
		t.Fatalf("SinkQueue(-1): %v, want a *ConfigError naming the queue", err)
	}
}
