package topics

import (
	"context"
	"testing"
)

// TestSinkClearsTheMessagesItIsSentPointersTo: a *Message sent to the
// Sink is copied and cleared, so the sender's array of outputs no longer
// holds what the Sink writes; the records still reach the topic whole.
func TestSinkClearsTheMessagesItIsSentPointersTo(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("owned", 2))
	sink, err := NewSink(context.Background(), addrs)
	if err != nil {
		t.Fatal(err)
	}
	ms := make([]Message, 10)
	for i := range ms {
		ms[i] = testRecord("owned", i)
		ms[i].Ack = NewAck()
	}
	acks := make([]*Ack, len(ms))
	for i := range ms {
		acks[i] = ms[i].Ack
		sink.In() <- &ms[i]
	}
	close(sink.In())
	sink.AwaitCompletion()
	for i, a := range acks {
		if !a.Resolved() || a.Err() != nil {
			t.Fatalf("record %d: resolved %v, err %v", i, a.Resolved(), a.Err())
		}
	}
	for i := range ms {
		if ms[i].Value != nil || ms[i].Headers != nil || ms[i].Key != nil || ms[i].Ack != nil {
			t.Fatalf("message %d still holds its key, value, headers or Ack after the Sink took it: %+v", i, ms[i])
		}
	}
	if sink.Written() != int64(len(ms)) {
		t.Fatalf("written %d, want %d", sink.Written(), len(ms))
	}
}
