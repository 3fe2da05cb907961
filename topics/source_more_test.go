package topics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
)

// TestSourceCommitsOnItsInterval drives the commit interval with a fake
// clock: acked records are committed by the interval loop alone, no Flush.
func TestSourceCommitsOnItsInterval(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("tick", 2))
	produce(t, addrs, "tick", 20)
	fake := clock.NewFake(time.Unix(0, 0))
	src, err := NewSource(context.Background(), addrs, "g", []string{"tick"},
		SourceClock(fake), SourceCommitInterval(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, m := range take(t, src.Out(), 20) {
		m.Ack.Done(nil)
	}
	if got := committedOffsets(t, addrs, "g", "tick", 2); sum(got) != 0 {
		t.Fatalf("committed %v before the interval elapsed", got)
	}
	// The loop's ticker may not exist yet when we first advance: keep
	// advancing one interval per check; each check is a broker round trip.
	deadline := time.Now().Add(testTimeout)
	for sum(committedOffsets(t, addrs, "g", "tick", 2)) != 20 {
		if time.Now().After(deadline) {
			t.Fatal("interval commit never happened")
		}
		fake.Advance(time.Second)
	}
}

func TestSourceStartLatestSkipsHistory(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("hist", 1))
	produce(t, addrs, "hist", 5)
	src, err := NewSource(context.Background(), addrs, "late", []string{"hist"}, SourceStartLatest(),
		SourceDialTimeout(time.Second), SourceMaxWait(100*time.Millisecond), SourceDrainTimeout(0))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	sink, err := NewSink(context.Background(), addrs, SinkDialTimeout(time.Second), SinkClock(clock.Real{}))
	if err != nil {
		t.Fatal(err)
	}
	// The group may join after the first new record: keep producing until
	// one arrives, then check it is new.
	done := make(chan struct{})
	go func() {
		defer close(sink.In())
		for i := 100; ; i++ {
			select {
			case sink.In() <- testRecord("hist", i):
			case <-done:
				return
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	m := take(t, src.Out(), 1)[0]
	close(done)
	sink.AwaitCompletion()
	m.Ack.Done(nil)
	if seq := string(m.Header("seq")); len(seq) < 3 {
		t.Fatalf("got historic record %s with StartLatest", seq)
	}
}

func TestBrokerSyncWritesPersists(t *testing.T) {
	dir := t.TempDir()
	b, err := StartBroker(BrokerDataDir(dir), BrokerSyncWrites())
	if err != nil {
		t.Fatal(err)
	}
	ensureTopics(t, b.Addrs(), streamSpec("s", 1))
	produce(t, b.Addrs(), "s", 10)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b2 := newBroker(t, BrokerDataDir(dir))
	if got := endOffsets(t, b2.Addrs(), "s", 1); got[0] != 10 {
		t.Fatalf("end offset %d", got[0])
	}
}

func TestErrorMessagesNameTheProblem(t *testing.T) {
	cases := map[string]error{
		"source: max wait: 0s, want at least 1ms":            &ConfigError{Component: "source", Option: "max wait", Reason: "0s, want at least 1ms"},
		`topic "x": [38] Invalid Replication Factor`:         &TopicError{Topic: "x", Err: errorString("[38] Invalid Replication Factor")},
		"write 3 records to t failed after 4 attempts: boom": &WriteError{Topic: "t", Records: 3, Attempts: 4, Err: errorString("boom")},
		`topic "a b": name: bad`:                             &SpecError{Topic: "a b", Field: "name", Reason: "bad"},
	}
	for want, err := range cases {
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q, want %q", err.Error(), want)
		}
	}
}

type errorString string

func (e errorString) Error() string { return string(e) }
