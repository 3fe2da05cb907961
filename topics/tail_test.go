package topics

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/segmentio/kafka-go"
)

// tailLog collects what a Tail delivers, per partition in delivery order.
type tailLog struct {
	mu   sync.Mutex
	offs map[int32][]int64
	n    int
}

func (l *tailLog) fn(m Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.offs == nil {
		l.offs = map[int32][]int64{}
	}
	l.offs[m.Partition] = append(l.offs[m.Partition], m.Offset)
	l.n++
}

func (l *tailLog) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// check fails unless each partition delivered exactly offsets 0..end-1 in
// order.
func (l *tailLog) check(t testing.TB, ends []int64) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for p, end := range ends {
		got := l.offs[int32(p)]
		if int64(len(got)) != end {
			t.Fatalf("partition %d: delivered %d records, want %d", p, len(got), end)
		}
		for i, o := range got {
			if o != int64(i) {
				t.Fatalf("partition %d: record %d has offset %d", p, i, o)
			}
		}
	}
}

func startTail(t testing.TB, addrs []string, topic string, fn func(Message), onError func(error)) *Tail {
	t.Helper()
	tail, err := StartTail(context.Background(), addrs, topic, fn, onError)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tail.Close() })
	return tail
}

func waitCaughtUp(t testing.TB, tail *Tail) {
	t.Helper()
	select {
	case <-tail.CaughtUp():
	case <-time.After(testTimeout):
		t.Fatalf("not caught up after %v", testTimeout)
	}
}

// TestTailDeliversEverythingThenFollows: CaughtUp closes only once every
// record present at start was delivered, each partition from its first
// offset in order; records produced afterwards keep arriving.
func TestTailDeliversEverythingThenFollows(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	const parts = 4
	ensureTopics(t, addrs, streamSpec("tl", parts))
	produce(t, addrs, "tl", 400)
	var log tailLog
	tail := startTail(t, addrs, "tl", log.fn, nil)
	waitCaughtUp(t, tail)
	if n := log.count(); n != 400 {
		t.Fatalf("caught up after %d of 400 records", n)
	}
	log.check(t, endOffsets(t, addrs, "tl", parts))

	produce(t, addrs, "tl", 60)
	clocktest.WaitFor(t, testTimeout, "records produced after catching up are delivered", func() bool { return log.count() >= 460 })
	if n := log.count(); n != 460 {
		t.Fatalf("delivered %d, want 460", n)
	}
	log.check(t, endOffsets(t, addrs, "tl", parts))
	if err := tail.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTailEmptyTopicIsCaughtUpAtOnce: with nothing to read — a topic with
// no records, or partitions of one that are empty — CaughtUp closes without
// waiting for a record, and later records still arrive.
func TestTailEmptyTopicIsCaughtUpAtOnce(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("te", 3), streamSpec("tsparse", 6))
	var log tailLog
	tail := startTail(t, addrs, "te", log.fn, nil)
	waitCaughtUp(t, tail)
	if n := log.count(); n != 0 {
		t.Fatalf("delivered %d records from an empty topic", n)
	}
	produce(t, addrs, "te", 5)
	clocktest.WaitFor(t, testTimeout, "records produced later are delivered", func() bool { return log.count() == 5 })

	// One record: five of the six partitions stay empty.
	sink, err := NewSink(context.Background(), addrs)
	if err != nil {
		t.Fatal(err)
	}
	sink.In() <- Message{Topic: "tsparse", Key: []byte("k"), Value: []byte("v")}
	close(sink.In())
	sink.AwaitCompletion()
	if sink.Err() != nil {
		t.Fatal(sink.Err())
	}
	var sparse tailLog
	waitCaughtUp(t, startTail(t, addrs, "tsparse", sparse.fn, nil))
	if n := sparse.count(); n != 1 {
		t.Fatalf("caught up after %d of 1 record", n)
	}
}

// TestTailUnknownTopicSaysToDeploy: following a topic that does not exist
// fails at once, naming the topic and the command that creates it.
func TestTailUnknownTopicSaysToDeploy(t *testing.T) {
	b := newBroker(t)
	_, err := StartTail(context.Background(), b.Addrs(), "matriz.nope", func(Message) {}, nil)
	if err == nil {
		t.Fatal("tail of an unknown topic started")
	}
	if !errors.Is(err, kafka.UnknownTopicOrPartition) || !strings.Contains(err.Error(), "matriz.nope") || !strings.Contains(err.Error(), "`matriz deploy`") {
		t.Fatalf("err = %v, want the topic named and `matriz deploy` suggested", err)
	}
}

// TestTailBrokerErrors: bad or unreachable addresses are typed errors.
func TestTailBrokerErrors(t *testing.T) {
	fn := func(Message) {}
	var ce *ConfigError
	if _, err := StartTail(context.Background(), nil, "t", fn, nil); !errors.As(err, &ce) || ce.Component != "tail" {
		t.Fatalf("no brokers: %v", err)
	}
	addr := closedAddr(t)
	var ue *BrokerUnreachableError
	if _, err := StartTail(context.Background(), []string{addr}, "t", fn, nil); !errors.As(err, &ue) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("unreachable: %v", err)
	}
}

// TestTailStoppedBeforeCatchingUpIsNotCaughtUp: the broker refuses every
// fetch, so nothing is delivered; the fetch errors reach onError, and
// stopping the tail must not close CaughtUp — a caller selecting on
// CaughtUp and its context (as loadState does) would otherwise take a
// half-read table for the whole one.
func TestTailStoppedBeforeCatchingUpIsNotCaughtUp(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("tf", 2))
	produce(t, addrs, "tf", 20)
	refuseFetches(b, kafka.TopicAuthorizationFailed, nil, nil)
	var log tailLog
	failed := &firstError{match: func(err error) bool { return errors.Is(err, kafka.TopicAuthorizationFailed) }}
	ctx, cancel := context.WithCancel(context.Background())
	tail, err := StartTail(ctx, addrs, "tf", log.fn, failed.see)
	if err != nil {
		t.Fatal(err)
	}
	clocktest.WaitFor(t, testTimeout, "a fetch error reported", func() bool { return failed.get() != nil })
	if err := failed.get(); !strings.HasPrefix(err.Error(), "tail tf/") {
		t.Fatalf("reported %v", err)
	}
	cancel()
	if err := tail.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-tail.CaughtUp():
		t.Fatalf("CaughtUp closed after %d of 20 records, when the tail stopped", log.count())
	default:
	}
}

// TestTailReportsRetriedFetchErrors: errors kafka-go retries inside the
// reader (here NOT_LEADER_FOR_PARTITION on every fetch) reach onError
// naming the partition, so a tail that cannot catch up says why.
func TestTailReportsRetriedFetchErrors(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("tn", 1))
	produce(t, addrs, "tn", 5)
	var failing atomic.Bool
	failing.Store(true)
	refuseFetches(b, kafka.NotLeaderForPartition, failing.Load, nil)
	var log tailLog
	reported := &firstError{match: func(err error) bool { return strings.Contains(err.Error(), "Not Leader") }}
	tail := startTail(t, addrs, "tn", log.fn, reported.see)
	clocktest.WaitFor(t, testTimeout, "the retried fetch error reported", func() bool { return reported.get() != nil })
	if msg := reported.get().Error(); !strings.HasPrefix(msg, "tail tn/0: ") {
		t.Fatalf("reported %q, want it to name the partition", msg)
	}
	select {
	case <-tail.CaughtUp():
		t.Fatal("caught up while every fetch failed")
	default:
	}
	failing.Store(false)
	waitCaughtUp(t, tail)
	if n := log.count(); n != 5 {
		t.Fatalf("caught up after %d of 5 records", n)
	}
}

// TestTailSinceSkipsOlderRecords: a tail since a time starts each partition
// at its first record stamped at or after it, and one since a time past
// every record is caught up at once and still follows.
func TestTailSinceSkipsOlderRecords(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("ts", 2))
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	sink, err := NewSink(context.Background(), addrs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		m := testRecord("ts", i)
		m.Time = base.Add(time.Duration(i) * time.Second)
		sink.In() <- m
	}
	close(sink.In())
	sink.AwaitCompletion()

	var mu sync.Mutex
	var seen []time.Time
	fn := func(m Message) {
		mu.Lock()
		seen = append(seen, m.Time)
		mu.Unlock()
	}
	since := base.Add(60 * time.Second)
	tail, err := StartTailSince(context.Background(), addrs, "ts", since, fn, nil)
	if err != nil {
		t.Fatal(err)
	}
	waitCaughtUp(t, tail)
	tail.Close()
	mu.Lock()
	if len(seen) != 40 {
		t.Fatalf("since the 60th second: %d records, want the 40 stamped at or after it", len(seen))
	}
	for _, ts := range seen {
		if ts.Before(since) {
			t.Fatalf("a record stamped %v, before %v", ts, since)
		}
	}
	mu.Unlock()

	late, err := StartTailSince(context.Background(), addrs, "ts", base.Add(time.Hour), func(Message) {}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	waitCaughtUp(t, late)
}
