package topics

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/matriz/pipelines/clock"
)

// hookLog collects what a Sink's error hook is told.
type hookLog struct {
	mu   sync.Mutex
	errs []error
}

func (h *hookLog) add(err error) {
	h.mu.Lock()
	h.errs = append(h.errs, err)
	h.mu.Unlock()
}

// count returns how many reported errors are of type *T.
func hookCount[T error](h *hookLog) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, err := range h.errs {
		var t T
		if errors.As(err, &t) {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, testTimeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestSinkRidesOutABrokerRestart stops the embedded broker while records
// are in the Sink and restarts it on its data dir and address well after
// the Sink's Retries are spent: every record is written once, none fails,
// and the hook heard the Sink was retrying, once, not once per record.
func TestSinkRidesOutABrokerRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := StartBroker(BrokerDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs()[0]
	ensureTopics(t, b.Addrs(), Spec{Name: "outage", Partitions: 3, ReplicationFactor: ReplicationByCluster, Configs: map[string]string{ConfigRetentionMs: "-1"}})
	var hook hookLog
	sink, err := NewSink(context.Background(), []string{addr}, SinkBackoff(time.Millisecond), SinkRetries(2),
		SinkRetryFor(testTimeout), SinkDialTimeout(500*time.Millisecond), SinkWriteTimeout(2*time.Second), SinkOnError(hook.add))
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	acks := make([]*Ack, 2*n)
	send := func(from int) {
		for i := from; i < from+n; i++ {
			m := testRecord("outage", i)
			acks[i] = NewAck()
			m.Ack = acks[i]
			sink.In() <- m
		}
	}
	send(0)
	waitUntil(t, "the first records written", func() bool { return sink.Written() == n })

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	downAt := time.Now()
	send(n)
	// Retries (2) are spent within milliseconds; the Sink goes on.
	waitUntil(t, "the sink reporting it rides out the outage", func() bool {
		if sink.Failed() != 0 {
			t.Fatalf("%d records failed during the outage, want them retried: %v", sink.Failed(), sink.Err())
		}
		return hookCount[*RetryingError](&hook) > 0
	})
	b2 := newBroker(t, BrokerDataDir(dir), BrokerListen(addr))
	restartedAt := time.Now()
	close(sink.In())
	sink.AwaitCompletion()
	t.Logf("broker down %v; the sink finished %v after the restart",
		restartedAt.Sub(downAt).Round(time.Millisecond), time.Since(restartedAt).Round(time.Millisecond))

	if sink.Written() != 2*n || sink.Failed() != 0 || sink.Err() != nil {
		t.Fatalf("written %d failed %d err %v, want %d written", sink.Written(), sink.Failed(), sink.Err(), 2*n)
	}
	for i, a := range acks {
		if !a.Resolved() || a.Err() != nil {
			t.Fatalf("record %d: resolved %v err %v", i, a.Resolved(), a.Err())
		}
	}
	if got := endOffsets(t, b2.Addrs(), "outage", 3); sum(got) != 2*n {
		t.Fatalf("topic holds %v, want %d records exactly once", got, 2*n)
	}
	if r := hookCount[*RetryingError](&hook); r > 2 {
		t.Fatalf("%d retry reports for one short outage, want one per %v", r, sinkRetryReportEvery)
	}
	if w := hookCount[*WriteError](&hook); w != 0 {
		t.Fatalf("%d write errors reported", w)
	}
}

// TestSinkGivesUpPastTheRetryWindow: a broker that stays down fails the
// records with a *WriteError once the window is over, not before.
func TestSinkGivesUpPastTheRetryWindow(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("gone", 1))
	const window = 300 * time.Millisecond
	var hook hookLog
	sink, err := NewSink(context.Background(), addrs, SinkBackoff(time.Millisecond), SinkRetries(1),
		SinkRetryFor(window), SinkDialTimeout(200*time.Millisecond), SinkOnError(hook.add))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	m := testRecord("gone", 0)
	m.Ack = NewAck()
	sink.In() <- m
	close(sink.In())
	sink.AwaitCompletion()
	took := time.Since(start)
	var we *WriteError
	if !errors.As(sink.Err(), &we) || sink.Failed() != 1 || m.Ack.Err() == nil {
		t.Fatalf("err %v failed %d ack %v, want a WriteError for the record", sink.Err(), sink.Failed(), m.Ack.Err())
	}
	if took < window {
		t.Fatalf("gave up after %v, inside the %v retry window", took, window)
	}
	if !outage(we.Err) {
		t.Fatalf("the last error %v is not an outage", we.Err)
	}
}

// TestSinkDoesNotRetryAPermanentErrorForTheWindow: a refusal retrying
// cannot cure fails after Retries, however long the window.
func TestSinkDoesNotRetryAPermanentErrorForTheWindow(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("denied", 1))
	var refused atomic.Int64
	b.cluster.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		b.cluster.KeepControl()
		resp, _ := produceRefusal(kr.(*kmsg.ProduceRequest), kafka.TopicAuthorizationFailed)
		refused.Add(1)
		return resp, nil, true
	})
	sink, err := NewSink(context.Background(), addrs, SinkBackoff(time.Millisecond), SinkRetries(2), SinkRetryFor(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	m := testRecord("denied", 0)
	m.Ack = NewAck()
	sink.In() <- m
	close(sink.In())
	sink.AwaitCompletion()
	var we *WriteError
	if !errors.As(sink.Err(), &we) || !errors.Is(m.Ack.Err(), kafka.TopicAuthorizationFailed) {
		t.Fatalf("err %v ack %v, want the authorization error", sink.Err(), m.Ack.Err())
	}
	if we.Attempts != 3 || refused.Load() != 3 {
		t.Fatalf("%d attempts, %d requests refused, want 3 (1 + 2 retries)", we.Attempts, refused.Load())
	}
}

// TestSinkRetriesNotLeaderPastItsRetries: a partition without a leader for
// longer than Retries covers is an outage: retried until it has one.
func TestSinkRetriesNotLeaderPastItsRetries(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("moving", 1))
	const refusals = 6
	var refused atomic.Int64
	b.cluster.ControlKey(int16(kmsg.Produce), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		if refused.Load() >= refusals {
			b.cluster.DropControl()
			return nil, nil, false
		}
		b.cluster.KeepControl()
		resp, _ := produceRefusal(kr.(*kmsg.ProduceRequest), kafka.NotLeaderForPartition)
		refused.Add(1)
		return resp, nil, true
	})
	var hook hookLog
	sink, err := NewSink(context.Background(), addrs, SinkBackoff(time.Millisecond), SinkRetries(1), SinkOnError(hook.add))
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	for i := range n {
		sink.In() <- testRecord("moving", i)
	}
	close(sink.In())
	sink.AwaitCompletion()
	if sink.Written() != n || sink.Failed() != 0 || sink.Err() != nil {
		t.Fatalf("written %d failed %d err %v after %d refusals", sink.Written(), sink.Failed(), sink.Err(), refused.Load())
	}
	if refused.Load() != refusals {
		t.Fatalf("%d refusals, want %d", refused.Load(), refusals)
	}
	if hookCount[*RetryingError](&hook) != 1 {
		t.Fatalf("hook heard %v, want one retry report", hook.errs)
	}
}

// TestSinkAbortEndsTheRetriesAtOnce: a Sink riding out an outage on a
// context that never ends stops at Abort; its records fail with
// ErrSinkAborted (unacknowledged: never committed, redone by the next
// owner).
func TestSinkAbortEndsTheRetriesAtOnce(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("aborted", 1))
	var hook hookLog
	sink, err := NewSink(context.Background(), addrs, SinkBackoff(time.Millisecond), SinkRetries(0),
		SinkRetryFor(time.Hour), SinkDialTimeout(200*time.Millisecond), SinkOnError(hook.add))
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	m := testRecord("aborted", 0)
	m.Ack = NewAck()
	sink.In() <- m
	waitUntil(t, "the sink retrying", func() bool { return hookCount[*RetryingError](&hook) > 0 })
	start := time.Now()
	sink.Abort()
	close(sink.In())
	select {
	case <-sink.Done():
	case <-time.After(testTimeout):
		t.Fatalf("the sink did not stop within %v of Abort", testTimeout)
	}
	t.Logf("stopped %v after Abort", time.Since(start).Round(time.Microsecond))
	if !errors.Is(m.Ack.Err(), ErrSinkAborted) || sink.Failed() != 1 || sink.Written() != 0 {
		t.Fatalf("ack %v failed %d written %d, want the record failed with ErrSinkAborted", m.Ack.Err(), sink.Failed(), sink.Written())
	}
}

func TestOutageTellsARestartFromAPermanentFailure(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{syscall.ECONNREFUSED, true},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf("kafka.(*Client).Produce: %w", io.ErrUnexpectedEOF), true},
		{fmt.Errorf("write: %w", syscall.ECONNRESET), true},
		{net.ErrClosed, true},
		{kafka.NotLeaderForPartition, true},
		{kafka.LeaderNotAvailable, true},
		{kafka.RequestTimedOut, true},
		{kafka.MessageSizeTooLarge, false},
		{kafka.TopicAuthorizationFailed, false},
		{kafka.UnknownTopicOrPartition, false},
		{ErrNoTopic, false},
		{context.Canceled, false},
		{context.DeadlineExceeded, false},
		{ErrSinkAborted, false},
		{errors.New("something else"), false},
	} {
		if got := outage(c.err); got != c.want {
			t.Errorf("outage(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// TestSinkDropsDeadConnectionsAfterABrokerRestart: a Sink that wrote to
// many partitions at once holds a pooled connection per partition; a
// broker restart kills them all. The first write that fails on one drops
// the pool, so the record is written on the first retry instead of
// failing once per dead connection (a lane stalled ~30s on that).
func TestSinkDropsDeadConnectionsAfterABrokerRestart(t *testing.T) {
	dir := t.TempDir()
	b, err := StartBroker(BrokerDataDir(dir))
	if err != nil {
		t.Fatal(err)
	}
	addr := b.Addrs()[0]
	const parts = 24
	ensureTopics(t, b.Addrs(), Spec{Name: "pooled", Partitions: parts, ReplicationFactor: ReplicationByCluster, Configs: map[string]string{ConfigRetentionMs: "-1"}})
	// One retry and no outage window: the record must go through on the
	// first retry after the restart.
	sink, err := NewSink(context.Background(), []string{addr}, SinkBackoff(time.Millisecond), SinkRetries(1), SinkRetryFor(0))
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 { // every partition at once, so the pool holds a connection each
		for i := range 50 * parts {
			sink.In() <- testRecord("pooled", round*50*parts+i)
		}
		waitUntil(t, "a round written", func() bool { return sink.Written() == int64((round+1)*50*parts) })
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	newBroker(t, BrokerDataDir(dir), BrokerListen(addr))
	m := testRecord("pooled", -1)
	m.Ack = NewAck()
	sink.In() <- m
	close(sink.In())
	sink.AwaitCompletion()
	if m.Ack.Err() != nil || sink.Failed() != 0 {
		t.Fatalf("the record after the restart: %v (failed %d)", m.Ack.Err(), sink.Failed())
	}
}

// TestSinkEndRetryWindowGivesUpOnTheOutage: a Sink waiting out an outage
// gives its records up soon after EndRetryWindow (a shutdown does not wait
// for the broker to return), with the outage error, while a Sink whose
// broker answers still writes after it.
func TestSinkEndRetryWindowGivesUpOnTheOutage(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("ending", 1))
	var hook hookLog
	// On a clock that never moves, the backoff never ends by itself.
	sink, err := NewSink(context.Background(), addrs, SinkClock(clock.NewFake(time.Unix(0, 0))), SinkBatchSize(1), SinkRetries(0),
		SinkRetryFor(time.Hour), SinkDialTimeout(200*time.Millisecond), SinkOnError(hook.add))
	if err != nil {
		t.Fatal(err)
	}
	healthy, err := NewSink(context.Background(), addrs)
	if err != nil {
		t.Fatal(err)
	}
	healthy.EndRetryWindow()
	ok := testRecord("ending", 0)
	ok.Ack = NewAck()
	healthy.In() <- ok
	close(healthy.In())
	healthy.AwaitCompletion()
	if ok.Ack.Err() != nil || healthy.Written() != 1 {
		t.Fatalf("a write after EndRetryWindow to a broker that answers: %v", ok.Ack.Err())
	}

	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	m := testRecord("ending", 1)
	m.Ack = NewAck()
	sink.In() <- m
	// Backing off on a stopped clock: only EndRetryWindow ends the wait.
	waitUntil(t, "the sink retrying", func() bool { return hookCount[*RetryingError](&hook) > 0 })
	sink.EndRetryWindow()
	close(sink.In())
	select {
	case <-sink.Done():
	case <-time.After(testTimeout):
		t.Fatalf("the sink still retrying %v after EndRetryWindow", testTimeout)
	}
	var we *WriteError
	if !errors.As(sink.Err(), &we) || !outage(m.Ack.Err()) || sink.Failed() != 1 {
		t.Fatalf("err %v ack %v failed %d, want the record failed with the outage error", sink.Err(), m.Ack.Err(), sink.Failed())
	}
}
