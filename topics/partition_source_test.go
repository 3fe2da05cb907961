package topics

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reugn/go-streams/flow"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/clock/clocktest"
)

func newPartitionSource(t testing.TB, addrs []string, topic string, partition int32, offset int64, opts ...SourceOption) *PartitionSource {
	t.Helper()
	opts = append([]SourceOption{SourceMaxWait(100 * time.Millisecond)}, opts...)
	s, err := NewPartitionSource(context.Background(), addrs, topic, partition, offset, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// seqOf is the record number testRecord wrote into m.
func seqOf(t testing.TB, m Message) int {
	t.Helper()
	n, err := strconv.Atoi(string(m.Header("seq")))
	if err != nil {
		t.Fatalf("record without seq header: %v", err)
	}
	return n
}

// firstError keeps the first error passed to see that matches.
type firstError struct {
	mu    sync.Mutex
	match func(error) bool
	err   error
}

func (f *firstError) see(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil && f.match(err) {
		f.err = err
	}
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// TestPartitionSourceReadsFromOffset: a source over one partition of a
// three-partition topic starts at the offset given, not at 0, and delivers
// only that partition's records, in order, each with an Ack.
func TestPartitionSourceReadsFromOffset(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("pso", 3))
	produce(t, addrs, "pso", 300)
	end := endOffsets(t, addrs, "pso", 3)[1]
	const from = 5
	if end < from+2 {
		t.Fatalf("partition 1 holds only %d records", end)
	}
	s := newPartitionSource(t, addrs, "pso", 1, from)
	got := take(t, s.Out(), int(end-from))
	for i, m := range got {
		if m.Topic != "pso" || m.Partition != 1 || m.Offset != from+int64(i) || m.Ack == nil {
			t.Fatalf("message %d: %s/%d@%d ack %v, want pso/1@%d with an Ack", i, m.Topic, m.Partition, m.Offset, m.Ack, from+int64(i))
		}
		m.Ack.Done(nil)
	}
	// The records before the offset exist: a source from FirstOffset reads
	// them first.
	all := newPartitionSource(t, addrs, "pso", 1, kafka.FirstOffset)
	first := take(t, all.Out(), from+1)
	for i, m := range first {
		if m.Offset != int64(i) {
			t.Fatalf("from FirstOffset: message %d has offset %d", i, m.Offset)
		}
	}
	if first[from].Offset != got[0].Offset || seqOf(t, first[from]) != seqOf(t, got[0]) {
		t.Fatalf("record at offset %d differs between the two sources", from)
	}
	if next, ok := s.Committable(); !ok || next != end {
		t.Fatalf("Committable = %d, %v after acking all; want %d", next, ok, end)
	}
}

// TestPartitionSourceCommittableOnlyPastContiguousAcks acks out of order:
// Committable stays put until the earliest record is acked, then jumps past
// the whole acked run; MarkCommitted stops it returning the same offset; a
// failed record blocks everything after it and is reported.
func TestPartitionSourceCommittableOnlyPastContiguousAcks(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("psc", 1))
	produce(t, addrs, "psc", 8)
	var mu sync.Mutex
	var reported []error
	s := newPartitionSource(t, addrs, "psc", 0, kafka.FirstOffset, SourceOnError(func(err error) {
		mu.Lock()
		reported = append(reported, err)
		mu.Unlock()
	}))
	ms := take(t, s.Out(), 8)
	check := func(step string, want int64, wantOK bool) {
		t.Helper()
		next, ok := s.Committable()
		if ok != wantOK || (ok && next != want) {
			t.Fatalf("%s: Committable = %d, %v; want %d, %v", step, next, ok, want, wantOK)
		}
	}
	check("nothing acked", 0, false)
	if n := s.Unresolved(); n != 8 {
		t.Fatalf("Unresolved = %d, want 8", n)
	}
	ms[1].Ack.Done(nil)
	ms[2].Ack.Done(nil)
	check("1 and 2 acked, 0 not", 0, false)
	ms[0].Ack.Done(nil)
	check("0..2 acked", 3, true)
	check("0..2 acked, asked again before MarkCommitted", 3, true)
	s.MarkCommitted(3)
	check("3 marked committed", 0, false)
	ms[4].Ack.Done(nil)
	check("4 acked, 3 not", 0, false)
	ms[3].Ack.Done(nil)
	check("0..4 acked", 5, true)
	s.MarkCommitted(5)
	ms[5].Ack.Done(errors.New("sink refused"))
	ms[6].Ack.Done(nil)
	ms[7].Ack.Done(nil)
	check("5 failed, 6 and 7 acked", 0, false)
	if n := s.Unresolved(); n != 0 {
		t.Fatalf("Unresolved = %d, want 0", n)
	}
	mu.Lock()
	defer mu.Unlock()
	var ae *AckError
	if len(reported) != 1 || !errors.As(reported[0], &ae) || ae.Offset != 5 || ae.Partition != 0 || ae.Topic != "psc" {
		t.Fatalf("reported %v, want one AckError for psc/0@5", reported)
	}
}

// TestPartitionSourceDrain: after StopFetching, Out closes; Drain with a
// context that ends first names how many records are still unresolved,
// and returns nil once the last one is acked.
func TestPartitionSourceDrain(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("psd", 1))
	produce(t, addrs, "psd", 5)
	s := newPartitionSource(t, addrs, "psd", 0, kafka.FirstOffset)
	ms := take(t, s.Out(), 5)
	s.StopFetching()
	select {
	case e, ok := <-s.Out():
		if ok {
			t.Fatalf("Out delivered %v after StopFetching", e)
		}
	case <-time.After(testTimeout):
		t.Fatal("Out did not close after StopFetching")
	}
	ms[0].Ack.Done(nil)
	ms[3].Ack.Done(nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Drain(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "psd/0: 3 records still unresolved") {
		t.Fatalf("Drain = %v, want the 3 unresolved records named", err)
	}
	go func() {
		for _, i := range []int{4, 1, 2} {
			ms[i].Ack.Done(nil)
		}
	}()
	if err := s.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.Unresolved(); n != 0 {
		t.Fatalf("Unresolved = %d after Drain", n)
	}
	if next, ok := s.Committable(); !ok || next != 5 {
		t.Fatalf("Committable = %d, %v; want 5", next, ok)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPartitionSourceLag: a source behind a backlog larger than one fetch
// reports how far behind it is, and 0 once it delivered the last record.
func TestPartitionSourceLag(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("psl", 1))
	const n = 2000
	produce(t, addrs, "psl", n)
	// 16 KiB fetches: a handful of records each.
	s := newPartitionSource(t, addrs, "psl", 0, kafka.FirstOffset, SourceMaxBytes(16<<10), SourceQueueCapacity(10))
	first := take(t, s.Out(), 1)
	// The fetch loop is at most the Out buffer and one record ahead.
	if lag := s.Lag(); lag < n-sourceOutBuffer-2 || lag > n-1 {
		t.Fatalf("Lag = %d after the first of %d records, want %d..%d", lag, n, n-sourceOutBuffer-2, n-1)
	}
	rest := take(t, s.Out(), n-1)
	if lag := s.Lag(); lag != 0 {
		t.Fatalf("Lag = %d after the last record, want 0", lag)
	}
	for _, m := range append(first, rest...) {
		m.Ack.Done(nil)
	}
	if next, ok := s.Committable(); !ok || next != n {
		t.Fatalf("Committable = %d, %v; want %d", next, ok, n)
	}
}

// TestPartitionSourceLagBeforeTheFirstFetch: while no fetch has come back,
// a source over a backlog must not say it is caught up — the lane's idle
// watermark reads Lag 0 as "nothing left to read" and would close the
// open frames, making the whole backlog late. Fetches are failed by the
// broker until the test lifts the fault.
func TestPartitionSourceLagBeforeTheFirstFetch(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("psf", 1))
	produce(t, addrs, "psf", 50)
	var failing atomic.Bool
	failing.Store(true)
	var refused atomic.Int64
	refuseFetches(b, kafka.NotLeaderForPartition, failing.Load, &refused)
	// The backlog measurement fails too until the source reported it; the
	// source retries it.
	lagErr := &firstError{match: func(err error) bool {
		return strings.Contains(err.Error(), "partition source psf/0: read lag")
	}}
	b.cluster.ControlKey(int16(kmsg.ListOffsets), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		if lagErr.get() != nil {
			b.cluster.DropControl()
			return nil, nil, false
		}
		b.cluster.KeepControl()
		req := kr.(*kmsg.ListOffsetsRequest)
		resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
		for _, rt := range req.Topics {
			st := kmsg.NewListOffsetsResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewListOffsetsResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = int16(kafka.NotLeaderForPartition)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	s := newPartitionSource(t, addrs, "psf", 0, 10, SourceOnError(lagErr.see))
	clocktest.WaitFor(t, testTimeout, "a fetch refused", func() bool { return refused.Load() > 0 })
	clocktest.WaitFor(t, testTimeout, "Lag measures the backlog", func() bool {
		lag := s.Lag()
		if lag == 0 {
			t.Fatal("Lag = 0 over a backlog nothing was fetched from")
		}
		return lag > 0
	})
	if lag := s.Lag(); lag != 40 {
		t.Fatalf("Lag = %d before any fetch, want the 40 records from offset 10 to the end", lag)
	}
	if n, caughtUp := s.Delivered(); n != 0 || caughtUp {
		t.Fatalf("Delivered = %d, %v before any fetch over a backlog, want 0, false", n, caughtUp)
	}
	if err := lagErr.get(); !errors.Is(err, kafka.NotLeaderForPartition) || !strings.Contains(err.Error(), "psf/0") {
		t.Fatalf("the failed measurement was reported as %v", err)
	}
	failing.Store(false)
	ms := take(t, s.Out(), 40)
	if ms[0].Offset != 10 {
		t.Fatalf("first offset %d", ms[0].Offset)
	}
	if lag := s.Lag(); lag != 0 {
		t.Fatalf("Lag = %d after the last record, want 0", lag)
	}
}

// TestPartitionSourceLagCaughtUpAtStart: a source that starts at the end
// of its partition has nothing to read: Lag is 0 though nothing was
// fetched.
func TestPartitionSourceLagCaughtUpAtStart(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("pse", 2))
	produce(t, addrs, "pse", 20)
	end := endOffsets(t, addrs, "pse", 2)
	s := newPartitionSource(t, addrs, "pse", 0, end[0])
	empty := newPartitionSource(t, addrs, "pse", 1, kafka.LastOffset)
	clocktest.WaitFor(t, testTimeout, "sources know they are caught up", func() bool { return s.Lag() == 0 && empty.Lag() == 0 })
	select {
	case e := <-s.Out():
		t.Fatalf("delivered %v from the end of the partition", e)
	default:
	}
	for _, src := range []*PartitionSource{s, empty} {
		if n, caughtUp := src.Delivered(); n != 0 || !caughtUp {
			t.Fatalf("Delivered = %d, %v at the end of the partition, want 0, true", n, caughtUp)
		}
	}
}

// TestPartitionSourceDeliveredCountsWhatIsUnread: the fetch loop reaches
// the log's end while its records still sit on Out, unread; Lag is 0
// then, and only Delivered's count tells the consumer how many it has yet
// to take. A record produced later is counted once it is on Out.
func TestPartitionSourceDeliveredCountsWhatIsUnread(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("psd", 1))
	produce(t, addrs, "psd", 50)
	s := newPartitionSource(t, addrs, "psd", 0, kafka.FirstOffset)
	clocktest.WaitFor(t, testTimeout, "the source at the log's end", func() bool { _, caughtUp := s.Delivered(); return caughtUp })
	if n, _ := s.Delivered(); n != 50 || s.Lag() != 0 {
		t.Fatalf("Delivered %d with Lag %d and nothing taken, want all 50 on Out and Lag 0", n, s.Lag())
	}
	first := take(t, s.Out(), 10)
	if n, caughtUp := s.Delivered(); n != 50 || !caughtUp {
		t.Fatalf("Delivered = %d, %v with 10 taken, want 50, true", n, caughtUp)
	}
	produce(t, addrs, "psd", 5)
	clocktest.WaitFor(t, testTimeout, "the new records counted", func() bool { n, _ := s.Delivered(); return n == 55 })
	if _, caughtUp := s.Delivered(); !caughtUp {
		t.Fatal("Delivered not caught up after the last record reached Out")
	}
	rest := take(t, s.Out(), 45)
	if first[0].Offset != 0 || rest[44].Offset != 54 {
		t.Fatalf("offsets %d..%d, want 0..54", first[0].Offset, rest[44].Offset)
	}
}

// TestPartitionSourceConfigErrors: bad options, brokers, topic or
// partition are a *ConfigError before any reader exists.
func TestPartitionSourceConfigErrors(t *testing.T) {
	ok := []string{"127.0.0.1:1"}
	for _, c := range []struct {
		brokers   []string
		topic     string
		partition int32
		opts      []SourceOption
		component string
		option    string
	}{
		{ok, "t", 0, []SourceOption{SourceMaxWait(0)}, "source", "max wait"},
		{ok, "t", 0, []SourceOption{SourceMinBytes(10), SourceMaxBytes(5)}, "source", "max bytes"},
		{ok, "t", 0, []SourceOption{SourceClock(nil)}, "source", "clock"},
		{nil, "t", 0, nil, "partition source", "brokers"},
		{[]string{"h"}, "t", 0, nil, "partition source", "brokers"},
		{ok, "", 0, nil, "partition source", "reader"},
		{ok, "t", -1, nil, "partition source", "reader"},
	} {
		s, err := NewPartitionSource(context.Background(), c.brokers, c.topic, c.partition, 0, c.opts...)
		var ce *ConfigError
		if s != nil || !errors.As(err, &ce) || ce.Component != c.component || ce.Option != c.option || !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%v %q/%d: err = %v, want %s option %q", c.brokers, c.topic, c.partition, err, c.component, c.option)
		}
	}
}

// TestPartitionSourceStopFetchingAbandonsTheRecordInHand: with nobody
// reading, the fetch loop fills Out and blocks holding one more record;
// StopFetching abandons that one (it never counts as unresolved again, so
// Drain does not wait for it), and Out then closes after the records it
// already held.
func TestPartitionSourceStopFetchingAbandonsTheRecordInHand(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("psa", 1))
	produce(t, addrs, "psa", sourceOutBuffer+50)
	s := newPartitionSource(t, addrs, "psa", 0, kafka.FirstOffset)
	clocktest.WaitFor(t, testTimeout, "Out full and one record in hand", func() bool {
		return len(s.Out()) == sourceOutBuffer && s.Unresolved() == sourceOutBuffer+1
	})
	s.StopFetching()
	if n := s.Unresolved(); n != sourceOutBuffer {
		t.Fatalf("Unresolved = %d after StopFetching, want the %d emitted", n, sourceOutBuffer)
	}
	n := 0
	for e := range s.Out() {
		m := e.(Message)
		if m.Offset != int64(n) {
			t.Fatalf("message %d has offset %d", n, m.Offset)
		}
		m.Ack.Done(nil)
		n++
	}
	if n != sourceOutBuffer {
		t.Fatalf("Out delivered %d after StopFetching, want %d", n, sourceOutBuffer)
	}
	if err := s.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if next, ok := s.Committable(); !ok || next != sourceOutBuffer {
		t.Fatalf("Committable = %d, %v; want %d (not past the abandoned record)", next, ok, sourceOutBuffer)
	}
}

// TestPartitionSourceRetriesFetchErrors: a fetch error kafka-go hands back
// is reported naming the partition, the source backs off on its clock, and
// then reads on.
func TestPartitionSourceRetriesFetchErrors(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("psr", 1))
	produce(t, addrs, "psr", 10)
	var failing atomic.Bool
	failing.Store(true)
	refuseFetches(b, kafka.TopicAuthorizationFailed, failing.Load, nil)
	fake := clock.NewFake(time.Unix(0, 0))
	failed := &firstError{match: func(err error) bool { return errors.Is(err, kafka.TopicAuthorizationFailed) }}
	s := newPartitionSource(t, addrs, "psr", 0, kafka.FirstOffset, SourceClock(fake), SourceOnError(failed.see))
	clocktest.WaitFor(t, testTimeout, "the fetch error reported", func() bool { return failed.get() != nil })
	if msg := failed.get().Error(); !strings.HasPrefix(msg, "fetch psr/0: ") {
		t.Fatalf("reported %q", msg)
	}
	failing.Store(false)
	done := make(chan []Message, 1)
	go func() {
		var got []Message
		for e := range s.Out() {
			if got = append(got, e.(Message)); len(got) == 10 {
				break
			}
		}
		done <- got
	}()
	var ms []Message
	clocktest.WaitFor(t, testTimeout, "records after the backoff", func() bool {
		fake.Advance(time.Second)
		select {
		case ms = <-done:
			return true
		default:
			return false
		}
	})
	if len(ms) != 10 || ms[0].Offset != 0 || ms[9].Offset != 9 {
		t.Fatalf("got %d records after the errors, want offsets 0..9", len(ms))
	}
}

// TestPartitionSourceVia streams the records through a go-streams flow.
func TestPartitionSourceVia(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	ensureTopics(t, addrs, streamSpec("psv", 1))
	produce(t, addrs, "psv", 3)
	s := newPartitionSource(t, addrs, "psv", 0, kafka.FirstOffset)
	out := s.Via(flow.NewPassThrough())
	for i, m := range take(t, out.Out(), 3) {
		if m.Offset != int64(i) || seqOf(t, m) != i {
			t.Fatalf("message %d: offset %d seq %d", i, m.Offset, seqOf(t, m))
		}
	}
}
