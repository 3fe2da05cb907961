package topics

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

// nextOf returns the commit point advance reports for topic/partition, or
// -1 when it reports none.
func nextOf(cs []commit, topic string, partition int32) int64 {
	for _, c := range cs {
		if c.topic == topic && c.partition == partition {
			return c.next
		}
	}
	return -1
}

func TestTrackerCommitsOnlyContiguousAckedPrefix(t *testing.T) {
	tr := newTracker()
	acks := make([]*Ack, 6)
	for i := range acks {
		acks[i] = tr.track("t", 0, int64(10+i), nil) // offsets 10..15
	}
	if got := nextOf(tr.advance(), "t", 0); got != -1 {
		t.Fatalf("nothing acked, commit point %d", got)
	}
	// Out of order: 12, 13 and 15 first. 10 is still open: nothing moves.
	acks[2].Done(nil)
	acks[3].Done(nil)
	acks[5].Done(nil)
	if got := nextOf(tr.advance(), "t", 0); got != -1 {
		t.Fatalf("gap at 10, commit point %d", got)
	}
	acks[0].Done(nil) // 10: prefix is 10, commit point 11
	cs := tr.advance()
	if got := nextOf(cs, "t", 0); got != 11 {
		t.Fatalf("commit point %d, want 11", got)
	}
	tr.committed(cs)
	if got := nextOf(tr.advance(), "t", 0); got != -1 {
		t.Fatalf("already committed 11, advance reports %d again", got)
	}
	acks[1].Done(nil) // 11 closes the gap: 10..13 acked, 14 open
	if got := nextOf(tr.advance(), "t", 0); got != 14 {
		t.Fatalf("commit point %d, want 14", got)
	}
	acks[4].Done(nil)
	if got := nextOf(tr.advance(), "t", 0); got != 16 {
		t.Fatalf("commit point %d, want 16", got)
	}
	if n := tr.unresolved(); n != 0 {
		t.Fatalf("unresolved %d", n)
	}
}

func TestTrackerPartitionsAreIndependent(t *testing.T) {
	tr := newTracker()
	a0 := tr.track("t", 0, 0, nil)
	b0 := tr.track("t", 1, 0, nil)
	c0 := tr.track("u", 0, 0, nil)
	b0.Done(nil)
	c0.Done(nil)
	cs := tr.advance()
	if nextOf(cs, "t", 0) != -1 || nextOf(cs, "t", 1) != 1 || nextOf(cs, "u", 0) != 1 {
		t.Fatalf("commits %+v", cs)
	}
	a0.Done(nil)
	if nextOf(tr.advance(), "t", 0) != 1 {
		t.Fatal("partition 0 did not advance")
	}
}

func TestTrackerFailedAckBlocksItsPartitionForever(t *testing.T) {
	var reported []error
	var mu sync.Mutex
	report := func(err error) { mu.Lock(); reported = append(reported, err); mu.Unlock() }
	tr := newTracker()
	a := tr.track("t", 0, 0, report)
	b := tr.track("t", 0, 1, report)
	c := tr.track("t", 0, 2, report)
	a.Done(nil)
	boom := errors.New("boom")
	b.Done(boom)
	c.Done(nil)
	if got := nextOf(tr.advance(), "t", 0); got != 1 {
		t.Fatalf("commit point %d, want 1 (stop before failed offset 1)", got)
	}
	var ae *AckError
	if len(reported) != 1 || !errors.As(reported[0], &ae) || ae.Offset != 1 || !errors.Is(reported[0], boom) {
		t.Fatalf("reported %v", reported)
	}
	if tr.unresolved() != 0 {
		t.Fatal("failed ack still counted unresolved")
	}
}

func TestTrackerRewindRestartsPartition(t *testing.T) {
	tr := newTracker()
	for o := int64(0); o < 5; o++ {
		a := tr.track("t", 0, o, nil)
		if o < 2 {
			a.Done(nil)
		}
	}
	cs := tr.advance()
	if nextOf(cs, "t", 0) != 2 {
		t.Fatalf("commits %+v", cs)
	}
	tr.committed(cs)
	// A rebalance: kafka-go re-delivers from the committed offset 2. The
	// old copies of 2..4 stay open forever (their worker lost them), yet
	// the new copies must be able to commit.
	var again []*Ack
	for o := int64(2); o < 5; o++ {
		again = append(again, tr.track("t", 0, o, nil))
	}
	for _, a := range again {
		a.Done(nil)
	}
	if got := nextOf(tr.advance(), "t", 0); got != 5 {
		t.Fatalf("after rewind commit point %d, want 5", got)
	}
}

func TestTrackerGapsInOffsetsFollowEmissionOrder(t *testing.T) {
	tr := newTracker()
	// Compacted topic: offsets 3, 7, 20.
	var acks []*Ack
	for _, o := range []int64{3, 7, 20} {
		acks = append(acks, tr.track("t", 0, o, nil))
	}
	acks[0].Done(nil)
	acks[2].Done(nil)
	if got := nextOf(tr.advance(), "t", 0); got != 4 {
		t.Fatalf("commit point %d, want 4", got)
	}
	acks[1].Done(nil)
	if got := nextOf(tr.advance(), "t", 0); got != 21 {
		t.Fatalf("commit point %d, want 21", got)
	}
}

func TestTrackerCompactsItsQueue(t *testing.T) {
	tr := newTracker()
	for o := int64(0); o < 1000; o++ {
		tr.track("t", 0, o, nil).Done(nil)
		if o%100 == 99 {
			tr.advance()
		}
	}
	p := tr.parts[topicPartition{"t", 0}]
	if live := len(p.acks) - p.head; live != 0 || cap(p.acks) > 256 {
		t.Fatalf("queue holds %d live of len %d cap %d", live, len(p.acks), cap(p.acks))
	}
}

func TestAckFanOut(t *testing.T) {
	tr := newTracker()
	a := tr.track("t", 0, 0, nil)
	a.Add(3) // three outputs, plus the input we hold
	a.Done(nil)
	a.Done(nil)
	a.Done(nil)
	if a.Resolved() {
		t.Fatal("resolved with one output outstanding")
	}
	if nextOf(tr.advance(), "t", 0) != -1 {
		t.Fatal("committed before every output was done")
	}
	a.Done(nil)
	if !a.Resolved() || a.Err() != nil || nextOf(tr.advance(), "t", 0) != 1 {
		t.Fatal("not committed after every output was done")
	}
	a.Done(nil) // extra: ignored, no panic
	if !a.Resolved() || a.Err() != nil {
		t.Fatal("extra Done changed the outcome")
	}
}

func TestAckOneFailedOutputFailsTheInput(t *testing.T) {
	a := NewAck()
	a.Add(1)
	boom := errors.New("boom")
	a.Done(boom)
	a.Done(nil)
	if !a.Resolved() || !errors.Is(a.Err(), boom) || a.state.Load() != ackFailed {
		t.Fatalf("state %d err %v", a.state.Load(), a.Err())
	}
}

func TestNilAckIsNoOp(t *testing.T) {
	var a *Ack
	a.Add(2)
	a.Done(errors.New("x"))
	if !a.Resolved() || a.Err() != nil {
		t.Fatal("nil Ack not inert")
	}
}

func TestAckConcurrentDone(t *testing.T) {
	tr := newTracker()
	a := tr.track("t", 0, 0, nil)
	const n = 64
	a.Add(n - 1)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { a.Done(nil) })
	}
	wg.Wait()
	if !a.Resolved() || tr.unresolved() != 0 {
		t.Fatal("not resolved after all outputs")
	}
	if got := slices.Collect(func(yield func(int64) bool) {
		for _, c := range tr.advance() {
			yield(c.next)
		}
	}); !slices.Equal(got, []int64{1}) {
		t.Fatalf("commits %v", got)
	}
}

func TestAbandonedAckNeverCommitsAndDoesNotHoldTheDrain(t *testing.T) {
	tr := newTracker()
	a := tr.track("t", 0, 0, nil)
	b := tr.track("t", 0, 1, nil)
	a.Done(nil)
	b.abandon() // fetched but never emitted
	if tr.unresolved() != 0 {
		t.Fatalf("unresolved %d", tr.unresolved())
	}
	select {
	case <-tr.idle:
	default:
		t.Fatal("no idle signal when the last ack resolved")
	}
	if got := nextOf(tr.advance(), "t", 0); got != 1 {
		t.Fatalf("commit point %d, want 1", got)
	}
	b.Done(nil) // a late Done cannot revive it
	if got := nextOf(tr.advance(), "t", 0); got != 1 {
		t.Fatalf("commit point %d after late Done, want 1", got)
	}
}

func TestAckErrorNamesTheRecord(t *testing.T) {
	var got error
	tr := newTracker()
	tr.track("matriz.prod.messages", 3, 42, func(err error) { got = err }).Done(errors.New("decode: bad magic"))
	want := "record matriz.prod.messages/3@42 failed, its partition will not commit past it: decode: bad magic"
	if got == nil || got.Error() != want {
		t.Fatalf("got %v, want %q", got, want)
	}
}
