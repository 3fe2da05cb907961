package topics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/reugn/go-streams/flow"
	"github.com/segmentio/kafka-go"
)

// retarget is the pass-through stage of these tests: same record, other
// topic, same Ack.
func retarget(topic string) func(any) any {
	return func(e any) any {
		m := e.(Message)
		m.Topic = topic
		return m
	}
}

// TestSourceToSinkCopiesAndCommitsAfterAcks runs Source → Map → Sink as a
// go-streams graph: every record arrives once with key, value and headers,
// and the group's committed offsets reach the end of every partition.
func TestSourceToSinkCopiesAndCommitsAfterAcks(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	const n, parts = 2000, 6
	ensureTopics(t, addrs, streamSpec("in", parts), streamSpec("out", parts))
	produce(t, addrs, "in", n)
	ctx := context.Background()

	src, err := NewSource(ctx, addrs, "copier", []string{"in"})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := NewSink(ctx, addrs)
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan struct{}, n)
	count := func(e any) any { seen <- struct{}{}; return e }
	done := make(chan struct{})
	go func() {
		src.Via(flow.NewMap(count, 1)).Via(flow.NewMap(retarget("out"), 1)).To(sink)
		close(done)
	}()
	for range n {
		<-seen
	}
	if err := src.Close(); err != nil { // drains: waits for the sink's acks
		t.Fatal(err)
	}
	<-done
	if sink.Written() != n || sink.Failed() != 0 || sink.Err() != nil || src.Err() != nil {
		t.Fatalf("written %d failed %d: %v / %v", sink.Written(), sink.Failed(), sink.Err(), src.Err())
	}
	if got, want := committedOffsets(t, addrs, "copier", "in", parts), endOffsets(t, addrs, "in", parts); !slices.Equal(got, want) {
		t.Fatalf("committed %v, want end offsets %v", got, want)
	}

	// Read "out" back: every record once, intact, keys on a stable partition.
	check, err := NewSource(ctx, addrs, "checker", []string{"out"})
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	keyPart := map[string]int32{}
	got := map[int]bool{}
	for _, m := range take(t, check.Out(), n) {
		var i int
		if _, err := fmt.Sscanf(string(m.Header("seq")), "%d", &i); err != nil {
			t.Fatalf("header seq: %v in %+v", err, m.Headers)
		}
		want := testRecord("out", i)
		if !bytes.Equal(m.Key, want.Key) || !bytes.Equal(m.Value, want.Value) || !slices.EqualFunc(m.Headers, want.Headers, func(a, b Header) bool {
			return a.Key == b.Key && bytes.Equal(a.Value, b.Value)
		}) {
			t.Fatalf("record %d changed: %+v", i, m)
		}
		if p, ok := keyPart[string(m.Key)]; ok && p != m.Partition {
			t.Fatalf("key %s on partitions %d and %d", m.Key, p, m.Partition)
		}
		keyPart[string(m.Key)] = m.Partition
		// Java-compatible: the partition is murmur2(key) mod 6.
		if p := (kafka.Murmur2Balancer{}).Balance(kafka.Message{Key: m.Key}, 0, 1, 2, 3, 4, 5); int32(p) != m.Partition {
			t.Fatalf("key %s on partition %d, murmur2 says %d", m.Key, m.Partition, p)
		}
		got[i] = true
		m.Ack.Done(nil)
	}
	if len(got) != n {
		t.Fatalf("%d distinct records, want %d", len(got), n)
	}
}

// TestFailedSinkWriteIsNeverCommitted makes every write fail (the target
// topic does not exist): the Acks fail, nothing is committed, and a new
// Source in the same group gets every record again.
func TestFailedSinkWriteIsNeverCommitted(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	const n, parts = 200, 3
	ensureTopics(t, addrs, streamSpec("in", parts))
	produce(t, addrs, "in", n)
	ctx := context.Background()

	var mu sync.Mutex
	var srcErrs, sinkErrs []error
	src, err := NewSource(ctx, addrs, "g", []string{"in"}, SourceOnError(func(err error) {
		mu.Lock()
		srcErrs = append(srcErrs, err)
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	sink, err := NewSink(ctx, addrs, SinkRetries(2), SinkBackoff(1), SinkOnError(func(err error) {
		mu.Lock()
		sinkErrs = append(sinkErrs, err)
		mu.Unlock()
	}))
	if err != nil {
		t.Fatal(err)
	}
	msgs := take(t, src.Out(), n)
	for _, m := range msgs {
		m.Topic = "missing"
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}

	if sink.Failed() != n || sink.Written() != 0 {
		t.Fatalf("failed %d written %d", sink.Failed(), sink.Written())
	}
	var we *WriteError
	if err := sink.Err(); !errors.As(err, &we) || we.Topic != "missing" || we.Attempts != 3 || !errors.Is(err, kafka.UnknownTopicOrPartition) {
		t.Fatalf("sink err %v", err)
	}
	for _, m := range msgs {
		if !errors.Is(m.Ack.Err(), kafka.UnknownTopicOrPartition) {
			t.Fatalf("ack of %d@%d: %v", m.Partition, m.Offset, m.Ack.Err())
		}
	}
	mu.Lock()
	var ackErrs int
	for _, e := range srcErrs {
		var ae *AckError
		if errors.As(e, &ae) {
			ackErrs++
		}
	}
	mu.Unlock()
	if ackErrs != n {
		t.Fatalf("source reported %d failed acks, want %d", ackErrs, n)
	}
	if got := committedOffsets(t, addrs, "g", "in", parts); sum(got) != 0 {
		t.Fatalf("committed %v after failed writes", got)
	}

	// Restart: the same group reads every record again.
	again, err := NewSource(ctx, addrs, "g", []string{"in"})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	seen := map[string]bool{}
	for _, m := range take(t, again.Out(), n) {
		seen[string(m.Header("seq"))] = true
		m.Ack.Done(nil)
	}
	if len(seen) != n {
		t.Fatalf("redelivered %d distinct records, want %d", len(seen), n)
	}
}

// TestSinkFailsOnlyTheBadTopic: one batch mixes a good and a missing
// topic; the good records are written and acked, only the others fail.
func TestSinkFailsOnlyTheBadTopic(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("good", 2))
	sink, err := NewSink(context.Background(), addrs, SinkRetries(1), SinkBackoff(1))
	if err != nil {
		t.Fatal(err)
	}
	var acks []*Ack
	for i := range 20 {
		m := testRecord("good", i)
		if i%4 == 0 {
			m.Topic = "missing"
		}
		m.Ack = NewAck()
		acks = append(acks, m.Ack)
		sink.In() <- &m
	}
	sink.In() <- "not a message"
	sink.In() <- Message{Key: []byte("k")} // no topic
	close(sink.In())
	sink.AwaitCompletion()
	if sink.Written() != 15 || sink.Failed() != 6 {
		t.Fatalf("written %d failed %d", sink.Written(), sink.Failed())
	}
	for i, a := range acks {
		if !a.Resolved() || (a.Err() != nil) != (i%4 == 0) {
			t.Fatalf("ack %d: resolved %v err %v", i, a.Resolved(), a.Err())
		}
	}
	if got := endOffsets(t, addrs, "good", 2); sum(got) != 15 {
		t.Fatalf("good topic holds %v", got)
	}
}

// TestSourceCommitsOnlyContiguousAcks acks out of order against the real
// group coordinator: the committed offset stops at the first unacked record.
func TestSourceCommitsOnlyContiguousAcks(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("one", 1))
	produce(t, addrs, "one", 10)
	ctx := context.Background()
	src, err := NewSource(ctx, addrs, "g", []string{"one"})
	if err != nil {
		t.Fatal(err)
	}
	msgs := take(t, src.Out(), 10)
	for _, i := range []int{0, 1, 2, 4, 5, 6, 9} { // 3, 7, 8 open
		msgs[i].Ack.Done(nil)
	}
	if err := src.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := committedOffsets(t, addrs, "g", "one", 1); got[0] != 3 {
		t.Fatalf("committed %v, want 3", got)
	}
	msgs[3].Ack.Done(nil)
	msgs[7].Ack.Done(errors.New("stage failed")) // 7 never commits
	msgs[8].Ack.Done(nil)
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if got := committedOffsets(t, addrs, "g", "one", 1); got[0] != 7 {
		t.Fatalf("committed %v, want 7", got)
	}
}

func TestSourceOutClosesWhenContextEnds(t *testing.T) {
	b := newBroker(t)
	ensureTopics(t, b.Addrs(), streamSpec("quiet", 1))
	ctx, cancel := context.WithCancel(context.Background())
	src, err := NewSource(ctx, b.Addrs(), "g", []string{"quiet"})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for range src.Out() {
		t.Fatal("record from an empty topic")
	}
	if err := src.Close(); err != nil || src.Err() != nil {
		t.Fatalf("close %v err %v", err, src.Err())
	}
}

func TestSourceAndSinkConfigErrors(t *testing.T) {
	ctx := context.Background()
	addrs := []string{"127.0.0.1:1"}
	for _, c := range []struct {
		name   string
		err    error
		option string
	}{
		{"no group", second(NewSource(ctx, addrs, "", []string{"t"})), "group"},
		{"no topics", second(NewSource(ctx, addrs, "g", nil)), "topics"},
		{"bad topic", second(NewSource(ctx, addrs, "g", []string{"a b"})), "topics"},
		{"min bytes", second(NewSource(ctx, addrs, "g", []string{"t"}, SourceMinBytes(0))), "min bytes"},
		{"max < min", second(NewSource(ctx, addrs, "g", []string{"t"}, SourceMinBytes(10), SourceMaxBytes(5))), "max bytes"},
		{"max wait", second(NewSource(ctx, addrs, "g", []string{"t"}, SourceMaxWait(0))), "max wait"},
		{"queue", second(NewSource(ctx, addrs, "g", []string{"t"}, SourceQueueCapacity(0))), "queue capacity"},
		{"commit interval", second(NewSource(ctx, addrs, "g", []string{"t"}, SourceCommitInterval(0))), "commit interval"},
		{"drain", second(NewSource(ctx, addrs, "g", []string{"t"}, SourceDrainTimeout(-1))), "drain timeout"},
		{"source clock", second(NewSource(ctx, addrs, "g", []string{"t"}, SourceClock(nil))), "clock"},
		{"source brokers", second(NewSource(ctx, nil, "g", []string{"t"})), "brokers"},
		{"batch size", second(NewSink(ctx, addrs, SinkBatchSize(0))), "batch size"},
		{"batch bytes", second(NewSink(ctx, addrs, SinkBatchBytes(10))), "batch bytes"},
		{"batch timeout", second(NewSink(ctx, addrs, SinkBatchTimeout(0))), "batch timeout"},
		{"retries", second(NewSink(ctx, addrs, SinkRetries(-1))), "retries"},
		{"backoff", second(NewSink(ctx, addrs, SinkBackoff(0))), "backoff"},
		{"retry for", second(NewSink(ctx, addrs, SinkRetryFor(-1))), "retry for"},
		{"write timeout", second(NewSink(ctx, addrs, SinkWriteTimeout(0))), "write timeout"},
		{"sink brokers", second(NewSink(ctx, []string{"x"})), "brokers"},
	} {
		var ce *ConfigError
		if !errors.As(c.err, &ce) || ce.Option != c.option || !errors.Is(c.err, ErrInvalidConfig) {
			t.Errorf("%s: err = %v, want option %q", c.name, c.err, c.option)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// TestSinkRefusesAnOversizedRecordAlone: one record over the request limit
// fails by itself; the records around it are written.
func TestSinkRefusesAnOversizedRecordAlone(t *testing.T) {
	b := newBroker(t)
	ensureTopics(t, b.Addrs(), streamSpec("big", 1))
	sink, err := NewSink(context.Background(), b.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	var acks []*Ack
	for i := range 5 {
		m := testRecord("big", i)
		if i == 2 {
			m.Value = make([]byte, 2<<20) // under BatchBytes (4 MiB), over one request
		}
		m.Ack = NewAck()
		acks = append(acks, m.Ack)
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()
	for i, a := range acks {
		if (a.Err() != nil) != (i == 2) {
			t.Fatalf("ack %d: %v", i, a.Err())
		}
	}
	if !errors.Is(acks[2].Err(), kafka.MessageSizeTooLarge) || sink.Written() != 4 {
		t.Fatalf("oversized: %v, written %d", acks[2].Err(), sink.Written())
	}
}

// TestSinkCancelledContextFailsWhatItHolds: after its context ends the Sink
// still drains In, failing every Message with the context's error, and
// AwaitCompletion returns once In is closed.
func TestSinkCancelledContextFailsWhatItHolds(t *testing.T) {
	b := newBroker(t)
	ensureTopics(t, b.Addrs(), streamSpec("c", 1))
	ctx, cancel := context.WithCancel(context.Background())
	sink, err := NewSink(ctx, b.Addrs(), SinkRetries(5), SinkBackoff(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	var acks []*Ack
	for i := range 10 {
		m := testRecord("c", i)
		m.Ack = NewAck()
		acks = append(acks, m.Ack)
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()
	for i, a := range acks {
		if !errors.Is(a.Err(), context.Canceled) {
			t.Fatalf("ack %d: %v", i, a.Err())
		}
	}
	if sink.Failed() != 10 || sink.Written() != 0 {
		t.Fatalf("failed %d written %d", sink.Failed(), sink.Written())
	}
}
