package topics

import "errors"

// ErrAheadUnwritten resolves the Ack of a record the Sink did not write
// because a record marked Ahead before it was given up.
var ErrAheadUnwritten = errors.New("not written: a record that had to be durable before it was given up")

// aheadSplit writes a batch's Ahead records before the rest of it.
//
// Kafka orders records only within one partition, and one batch's writes
// to several partitions land in any order: a process killed mid-batch can
// leave a later record durable and an earlier one lost. A record whose
// meaning depends on another (an output on the decision it was made
// under) must not outlive it, or a restart that finds the output but not
// the decision decides again, differently, and the log holds both answers.
// So the Sink writes the Ahead records first, waits for Kafka to
// acknowledge them, and only then writes the rest. Batches are written one
// at a time, so with its Ahead records handed in first, a producer's
// record is never durable before the Ahead records handed in before it.
//
// Once an Ahead record is given up, so is every record after it, in this
// batch and the later ones: the Sink has failed by then (a WriteError),
// and what its producer hands in while it stops must not land without the
// decision either.
//
// Its slices are reused batch to batch by the Sink's goroutine.
type aheadSplit struct {
	ahead, rest []Message
	lost        bool // an Ahead record was given up
}

func (a *aheadSplit) write(s *Sink, batch []Message) {
	if a.lost {
		s.giveUp(batch, repeat(ErrAheadUnwritten, len(batch)), 0)
		return
	}
	first := -1
	for i := range batch {
		if batch[i].Ahead {
			first = i
			break
		}
	}
	if first < 0 {
		s.write(batch)
		return
	}
	a.ahead, a.rest = append(a.ahead[:0], batch[first:first+1]...), append(a.rest[:0], batch[:first]...)
	for _, m := range batch[first+1:] {
		if m.Ahead {
			a.ahead = append(a.ahead, m)
		} else {
			a.rest = append(a.rest, m)
		}
	}
	defer func() { clear(a.ahead); clear(a.rest) }()
	if s.write(a.ahead) {
		// A record given up is not on the log, so neither may be what
		// follows it. A fenced one is refused, not given up: the records
		// after it carry the same fence and are refused with it.
		a.lost = true
		s.giveUp(a.rest, repeat(ErrAheadUnwritten, len(a.rest)), 0)
		return
	}
	if len(a.rest) > 0 {
		s.write(a.rest)
	}
}
