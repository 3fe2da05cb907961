package topics

import "testing"

// A PartitionSource's owner commits at its own cuts and never asks
// Committable: MarkCommitted must still let go of the resolved Acks below
// the commit, keep the pending ones, and never make anything past a pending
// record committable.
func TestPartitionSourceMarkCommittedForgetsResolvedAcks(t *testing.T) {
	s := &PartitionSource{topic: "t", partition: 0, tr: newTracker()}
	acks := make([]*Ack, 10)
	for o := range acks {
		acks[o] = s.tr.track("t", 0, int64(o), nil)
	}
	for o, a := range acks {
		if o != 3 { // 3 stays open (an action awaiting approval)
			a.Done(nil)
		}
	}
	s.MarkCommitted(8)
	p := s.tr.parts[topicPartition{"t", 0}]
	var left []int64
	for _, e := range p.acks[p.head:] {
		left = append(left, e.offset)
	}
	if len(left) != 3 || left[0] != 3 || left[1] != 8 || left[2] != 9 {
		t.Fatalf("tracked after committing 8: %v, want [3 8 9] (pending 3, not yet committed 8, 9)", left)
	}
	if next, ok := s.Committable(); ok {
		t.Fatalf("Committable = %d past the pending record 3", next)
	}
	acks[3].Done(nil)
	if next, ok := s.Committable(); !ok || next != 10 {
		t.Fatalf("Committable = %d, %v once 3 resolved; want 10", next, ok)
	}

	for o := int64(10); o < 5000; o++ { // a long run commits as it goes
		s.tr.track("t", 0, o, nil).Done(nil)
		if o%100 == 99 {
			s.MarkCommitted(o + 1)
		}
	}
	if p := s.tr.parts[topicPartition{"t", 0}]; len(p.acks)-p.head != 0 || cap(p.acks) > 256 {
		t.Fatalf("after 5000 records committed in steps: %d tracked, cap %d", len(p.acks)-p.head, cap(p.acks))
	}
}
