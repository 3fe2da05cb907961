package topics

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestRebalanceLosesNothing: member A reads part of a topic, member B joins
// the group mid-stream, and together they deliver every record at least
// once. Duplicates (records A had fetched past its last commit) are
// allowed and logged, with the time B waited for its first record.
func TestRebalanceLosesNothing(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	const n, parts = 3000, 6
	ensureTopics(t, addrs, streamSpec("rb", parts))
	produce(t, addrs, "rb", n)
	ctx := context.Background()
	opts := []SourceOption{SourceMaxWait(100 * time.Millisecond), SourceCommitInterval(50 * time.Millisecond)}

	var mu sync.Mutex
	seen := map[string]int{}
	progress := make(chan struct{}, n*2)
	// A stops reading after 1000 records until B has its first, so the
	// rebalance happens mid-stream with records in flight at A.
	gate := make(chan struct{})
	consume := func(src *Source, pauseAt int, first chan<- time.Time) {
		once := sync.Once{}
		read := 0
		for e := range src.Out() {
			if read++; read == pauseAt {
				<-gate
			}
			m := e.(Message)
			once.Do(func() {
				if first != nil {
					first <- time.Now()
				}
			})
			mu.Lock()
			seen[string(m.Header("seq"))]++
			mu.Unlock()
			m.Ack.Done(nil)
			progress <- struct{}{}
		}
	}

	a, err := NewSource(ctx, addrs, "rb", []string{"rb"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { consume(a, 1001, nil) })
	for range 1000 {
		<-progress
	}

	joined := time.Now()
	bFirst := make(chan time.Time, 1)
	bs, err := NewSource(ctx, addrs, "rb", []string{"rb"}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	wg.Go(func() { consume(bs, 0, bFirst) })
	var waited time.Duration
	select {
	case at := <-bFirst:
		waited = at.Sub(joined)
	case <-time.After(testTimeout):
		t.Fatal("B never got a record")
	}
	close(gate)

	deadline := time.NewTimer(testTimeout)
	defer deadline.Stop()
	for {
		mu.Lock()
		distinct := len(seen)
		mu.Unlock()
		if distinct == n {
			break
		}
		select {
		case <-progress:
		case <-deadline.C:
			t.Fatalf("only %d of %d records delivered after the rebalance", distinct, n)
		}
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := bs.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	dups := 0
	for _, c := range seen {
		dups += c - 1
	}
	t.Logf("rebalance: B's first record %v after it joined; %d duplicates of %d", waited, dups, n)
	// Closing early may leave a member mid-way through duplicates, so the
	// committed offsets need not reach the end; they must never pass it.
	got, end := committedOffsets(t, addrs, "rb", "rb", parts), endOffsets(t, addrs, "rb", parts)
	for p := range got {
		if got[p] > end[p] {
			t.Fatalf("partition %d committed %d past its end %d", p, got[p], end[p])
		}
	}
}

// TestRevokedPartitionsAreNotCommitted: member A holds unacked records of
// every partition when B joins and takes half of them. B processes its
// half and commits the end; then A acks what it held and flushes. A must
// not commit the partitions it lost: its offsets are older than B's and
// would rewind them.
func TestRevokedPartitionsAreNotCommitted(t *testing.T) {
	b := newBroker(t)
	addrs := b.Addrs()
	const parts = 6
	ctx := context.Background()
	ensureTopics(t, addrs, streamSpec("rv", parts))
	// Small produce batches: a fetch returns whole record batches, so
	// small ones let A hold a prefix of every partition (below).
	sink, err := NewSink(ctx, addrs, SinkBatchSize(20))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3000 {
		sink.In() <- testRecord("rv", i)
	}
	close(sink.In())
	sink.AwaitCompletion()
	end := endOffsets(t, addrs, "rv", parts) // keys hash unevenly
	quick := []SourceOption{SourceMaxWait(100 * time.Millisecond), SourceDrainTimeout(0)}

	// Small fetches interleave partitions, so A's first records are
	// prefixes of every partition rather than whole ones.
	a, err := NewSource(ctx, addrs, "rv", []string{"rv"}, append(quick, SourceCommitInterval(time.Hour), SourceMaxBytes(4096))...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// A holds, unacked, records of every partition: whichever B gets, A
	// holds a prefix of it.
	var held []Message
	heldOf := map[int32]int64{}
	for len(heldOf) < parts {
		m := take(t, a.Out(), 1)[0]
		held = append(held, m)
		heldOf[m.Partition]++
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	bs, err := NewSource(ctx, addrs, "rv", []string{"rv"}, append(quick, SourceCommitInterval(20*time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	// kfake may hand B every partition for a generation before A rejoins;
	// wait until the coordinator lists both members with their share.
	var mine map[topicPartition]bool
	deadline := time.Now().Add(testTimeout)
	for {
		am, aok, aerr := a.assignment(ctx)
		bm, bok, berr := bs.assignment(ctx)
		if aerr != nil || berr != nil {
			t.Fatal(aerr, berr)
		}
		if aok && bok && len(am) > 0 && len(bm) > 0 && len(am)+len(bm) == parts {
			mine = bm
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("group never settled with two members")
		}
	}
	var want int64
	for tp := range mine {
		want += end[tp.partition]
	}
	// Records from a transient generation may still come out of B: only
	// distinct records of B's own partitions count, and only they are acked.
	got := map[topicPartition]map[int64]bool{}
	var n int64
	timeout := time.NewTimer(testTimeout)
	defer timeout.Stop()
	for n < want {
		select {
		case e := <-bs.Out():
			m := e.(Message)
			tp := topicPartition{m.Topic, m.Partition}
			if !mine[tp] {
				continue
			}
			if got[tp] == nil {
				got[tp] = map[int64]bool{}
			}
			if !got[tp][m.Offset] {
				got[tp][m.Offset] = true
				n++
			}
			m.Ack.Done(nil)
		case <-timeout.C:
			t.Fatalf("B delivered %d of its %d records", n, want)
		}
	}
	for {
		got := committedOffsets(t, addrs, "rv", "rv", parts)
		done := true
		for tp := range mine {
			done = done && got[tp.partition] == end[tp.partition]
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B never committed its partitions %v: %v", mine, got)
		}
	}

	heldOfB := 0
	for _, m := range held {
		if mine[topicPartition{m.Topic, m.Partition}] {
			heldOfB++
		}
		m.Ack.Done(nil)
	}
	prefix := false
	for tp := range mine {
		prefix = prefix || heldOf[tp.partition] < end[tp.partition]
	}
	if !prefix {
		t.Fatalf("A held whole partitions %v of %v; the test proves nothing", heldOf, end)
	}
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	final := committedOffsets(t, addrs, "rv", "rv", parts)
	for tp := range mine {
		if p := tp.partition; final[p] != end[p] {
			t.Fatalf("partition %d (B's) rewound to %d by A's late acks: %v", p, final[p], final)
		}
	}
	t.Logf("A held %d records of B's partitions; committed stays %v", heldOfB, final)
}
