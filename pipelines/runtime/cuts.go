package runtime

import (
	"slices"
	"sync"
	"time"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// A partition commits at cuts. The tick attaches its window state to a
// frame (operators.TickCut); once the chain has run that frame, the stage
// state is exactly the state after the cut's inputs, and the two together
// are a Checkpoint. The checkpoint becomes committable when every record it
// counts as done has all its outputs acknowledged; then it is written to
// the state changelog (and, when due, to the checkpoints topic), and the
// group commits its Resume offset. So committed offsets and restored state
// always describe the same point, and a restart redoes nothing twice.

// ackBook holds the Ack of every record read and not yet committed.
type ackBook struct {
	mu   sync.Mutex
	acks map[int64]*topics.Ack
	// reads are the offsets in the order read, with when: the oldest one
	// still in acks is the oldest record not committed (offsets.go).
	reads []readAt
	// holds are the Acks of frames without records (frame_hold.go), in
	// the order registered; holdSeq counts every hold ever registered.
	holds   []frameHold
	holdSeq int64
}

type frameHold struct {
	seq int64
	ack *topics.Ack
}

// hold registers a frame hold: every cut taken after it waits for it.
func (b *ackBook) hold(a *topics.Ack) {
	b.mu.Lock()
	b.holdSeq++
	b.holds = append(b.holds, frameHold{b.holdSeq, a})
	b.mu.Unlock()
}

// holdsSoFar is how many holds were registered: a cut taken now waits for
// each of them.
func (b *ackBook) holdsSoFar() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.holdSeq
}

func (b *ackBook) put(offset int64, a *topics.Ack, at time.Time) {
	b.mu.Lock()
	if b.acks == nil {
		b.acks = map[int64]*topics.Ack{}
	}
	b.acks[offset] = a
	b.reads = append(b.reads, readAt{offset, at})
	b.mu.Unlock()
}

// durable reports whether every record cp counts as done has resolved.
func (b *ackBook) durable(cp *Checkpoint) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for off, a := range b.acks {
		if off < cp.Next && !slices.Contains(cp.Open, off) && !a.Resolved() {
			return false
		}
	}
	for _, h := range b.holds {
		if h.seq <= cp.holds && !h.ack.Resolved() {
			return false
		}
	}
	return true
}

// forget drops the records cp counts as done: they are committed.
func (b *ackBook) forget(cp *Checkpoint) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for off := range b.acks {
		if off < cp.Next && !slices.Contains(cp.Open, off) {
			delete(b.acks, off)
		}
	}
	b.holds = slices.DeleteFunc(b.holds, func(h frameHold) bool { return h.seq <= cp.holds })
}

// cutQueue holds the checkpoints taken and not yet committed, oldest first.
type cutQueue struct {
	mu   sync.Mutex
	cuts []*Checkpoint
	due  map[*Checkpoint]bool // also for the checkpoints topic
}

func (q *cutQueue) push(cp *Checkpoint, due bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.cuts = append(q.cuts, cp)
	if due {
		if q.due == nil {
			q.due = map[*Checkpoint]bool{}
		}
		q.due[cp] = true
	}
}

// takeDurable removes and returns the newest durable checkpoint and every
// older one due for the checkpoints topic (a newer cut being durable makes
// every older one durable too).
func (q *cutQueue) takeDurable(b *ackBook) (newest *Checkpoint, due []*Checkpoint) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := -1
	for i := len(q.cuts) - 1; i >= 0; i-- {
		if b.durable(q.cuts[i]) {
			n = i
			break
		}
	}
	if n < 0 {
		return nil, nil
	}
	for _, cp := range q.cuts[:n+1] {
		if q.due[cp] {
			due = append(due, cp)
			delete(q.due, cp)
		}
	}
	newest = q.cuts[n]
	q.cuts = slices.Delete(q.cuts, 0, n+1)
	return newest, due
}

// takeCut turns the tick's cut on f, after the chain ran f, into a
// checkpoint; the caller holds chainMu.
func (w *partitionWorker) takeCut(f *stages.Frame) {
	tc, ok := f.Cut.(*operators.TickCut)
	if !ok {
		return
	}
	snap, err := w.chain.Snapshot()
	if err != nil {
		w.lane.reportErr(err)
		return
	}
	tick, err := jsonState(tc.State)
	if err != nil {
		w.lane.reportErr(err)
		return
	}
	cp := &Checkpoint{
		Lane: string(w.lane.lane), Partition: tc.Partition, Next: tc.Next, Open: tc.Open,
		Resume: tc.Next, FrameEnd: f.End, Final: tc.Final, Written: w.lane.clock.Now().UTC(), Tick: tick, State: map[string][]byte{},
		holds: w.acks.holdsSoFar(),
	}
	if len(tc.Open) > 0 {
		cp.Resume = tc.Open[0] // sorted
	}
	// From where a restart re-reads: its open frames' records too.
	cp.DecisionsSince = w.decisionsSince(cp.Resume, cp.Written)
	for k, v := range snap {
		if v != nil {
			cp.State[k] = v
		}
	}
	if w.flags != nil {
		cp.Flags = *w.flags
	}
	cp.Approved = w.applied.IDs()
	w.cuts.push(cp, tc.Checkpoint)
}
