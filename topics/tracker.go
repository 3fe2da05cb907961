package topics

import (
	"sync"
	"sync/atomic"
)

// tracker decides which offsets a Source may commit. Per partition it keeps
// the Acks of emitted records in emission order; a commit may cover a
// record only when it and every record emitted before it on that partition
// resolved ok. So acks may arrive in any order and at-least-once still
// holds: nothing past an unacked or failed record is ever committed.
//
// Emission order, not offset arithmetic, defines "before": offsets have
// gaps (compaction, transaction markers), and after a rebalance kafka-go
// re-delivers from the group's committed offset. A record whose offset is
// not above the last one tracked marks such a rewind: the partition's
// pending entries are dropped (they will all be delivered again) and
// tracking restarts from there.
type tracker struct {
	mu    sync.Mutex
	parts map[topicPartition]*partTrack

	pending atomic.Int64  // Acks handed out and not yet resolved
	idle    chan struct{} // gets a token whenever pending drops to zero

	// assigned, once known, limits commits to the partitions this member
	// owns (see retain); nil means every tracked partition is ours.
	assigned map[topicPartition]bool
}

type topicPartition struct {
	topic     string
	partition int32
}

type partTrack struct {
	acks      []trackedAck // emission order; acks[:head] already passed
	head      int
	last      int64 // offset of the last record tracked
	next      int64 // first offset not yet covered: what a commit stores; -1 none
	committed int64 // what the last successful commit stored; -1 none
}

type trackedAck struct {
	offset int64
	ack    *Ack
}

// commit is one partition's offset to store: the next offset to read.
type commit struct {
	topic     string
	partition int32
	next      int64
}

func newTracker() *tracker {
	return &tracker{parts: make(map[topicPartition]*partTrack), idle: make(chan struct{}, 1)}
}

// resolved is called once by each Ack when it resolves, ok or failed.
func (t *tracker) resolved() {
	if t == nil {
		return
	}
	if t.pending.Add(-1) == 0 {
		select {
		case t.idle <- struct{}{}:
		default:
		}
	}
}

// track registers an emitted record and returns its Ack.
func (t *tracker) track(topic string, partition int32, offset int64, report func(error)) *Ack {
	a := newTrackedAck(t, topic, partition, offset, report)
	t.pending.Add(1)
	t.mu.Lock()
	defer t.mu.Unlock()
	k := topicPartition{topic, partition}
	p := t.parts[k]
	if p == nil {
		p = &partTrack{next: -1, committed: -1}
		t.parts[k] = p
	} else if offset <= p.last {
		clear(p.acks)
		p.acks, p.head, p.next = p.acks[:0], 0, -1
	}
	p.last = offset
	p.acks = append(p.acks, trackedAck{offset: offset, ack: a})
	return a
}

// advance moves every partition's head past its resolved-ok prefix and
// returns the partitions whose commit point moved beyond what was last
// committed.
func (t *tracker) advance() []commit {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []commit
	for k, p := range t.parts {
		if t.assigned != nil && !t.assigned[k] {
			continue
		}
		for p.head < len(p.acks) && p.acks[p.head].ack.state.Load() == ackOK {
			p.next = p.acks[p.head].offset + 1
			p.acks[p.head] = trackedAck{}
			p.head++
		}
		// Reclaim the passed prefix once it is the larger half.
		if p.head > 0 && p.head*2 >= len(p.acks) {
			n := copy(p.acks, p.acks[p.head:])
			clear(p.acks[n:])
			p.acks, p.head = p.acks[:n], 0
		}
		if p.next > p.committed {
			out = append(out, commit{topic: k.topic, partition: k.partition, next: p.next})
		}
	}
	return out
}

// committed records that cs were stored, so advance stops returning them.
func (t *tracker) committed(cs []commit) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range cs {
		if p := t.parts[topicPartition{c.topic, c.partition}]; p != nil && c.next > p.committed {
			p.committed = c.next
		}
	}
}

// retain limits commits to the assigned partitions and forgets the others:
// after a rebalance moved them away, their late acks must not overwrite the
// new owner's commits. A partition assigned again later starts afresh from
// the group's committed offset.
func (t *tracker) retain(assigned map[topicPartition]bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k := range t.parts {
		if !assigned[k] {
			delete(t.parts, k)
		}
	}
	t.assigned = assigned
}

// unresolved counts tracked records still waiting for an output.
func (t *tracker) unresolved() int64 { return t.pending.Load() }

// forget drops the resolved entries below next of a partition its owner
// committed up to next by itself: a PartitionSource's handler commits at
// its own cuts (MarkCommitted) without asking Committable, the only caller
// of advance, so without this every Ack ever handed out stayed referenced
// (about 100 bytes per record consumed, for the life of the process).
// Entries still pending stay, so nothing past them becomes committable.
func (t *tracker) forget(k topicPartition, next int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.parts[k]
	if p == nil {
		return
	}
	live := p.acks[p.head:]
	n := 0
	for _, e := range live {
		if e.offset < next && e.ack.state.Load() != ackPending {
			continue
		}
		live[n] = e
		n++
	}
	clear(live[n:])
	kept := append(p.acks[:0], live[:n]...)
	clear(p.acks[len(kept):])
	p.acks, p.head = kept, 0
	if len(p.acks) == 0 && cap(p.acks) > 1024 {
		p.acks = nil // let a burst's backing array go
	}
}
