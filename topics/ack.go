package topics

import (
	"sync/atomic"
)

// Ack tracks one input record until every output derived from it is
// durable. The Source puts one on each Message it emits; whoever finishes
// an output calls Done, and the Source commits the record's offset only
// once its Ack resolved ok and every earlier record of its partition did.
//
// An Ack starts with one outstanding output: the Message as emitted. A
// pass-through stage hands it on untouched and the Sink calls Done once.
// To fan out into n outputs, call Add(n) before handing the copies on,
// then Done(nil) for the input you hold (or, equivalently, Add(n-1) and
// hand the original Ack to all n). A stage that filters the record out
// calls Done(nil) itself: it has no outputs left to wait for.
//
// Done(err) with a non-nil err fails the record for good: its offset is
// never committed by this Source, and its partition's commits stop before
// it (the runtime DLQs it or stops). Calling Done more often than there
// are outputs is ignored rather than fatal, since a panic would take the
// whole pipeline down. All methods are safe for concurrent use, and a nil
// *Ack ignores every call, so fire-and-forget messages need no checks.
type Ack struct {
	pending atomic.Int64 // outputs not yet Done
	state   atomic.Int32 // ackPending, ackOK or ackFailed
	err     atomic.Pointer[error]

	// Where the record came from, for the failure report.
	topic     string
	partition int32
	offset    int64
	report    func(error) // the Source's error hook; may be nil
	owner     *tracker    // counts unresolved Acks for the Source's drain; may be nil
	onResolve func(error) // NewAckFunc's callback; may be nil
}

const (
	ackPending int32 = iota
	ackOK
	ackFailed
)

// NewAck returns a standalone Ack with one outstanding output, for tests
// and for producers that want to wait on a Sink without a Source.
func NewAck() *Ack {
	a := &Ack{}
	a.pending.Store(1)
	return a
}

// NewAckFunc returns a standalone Ack with one outstanding output that calls
// fn once when it resolves: with nil when every output is Done(nil), with
// the first error when one failed. It joins outputs that do not map one to
// one onto inputs: an output that stands for several inputs (a decimation
// event for the records it skipped) resolves their Acks from fn.
func NewAckFunc(fn func(err error)) *Ack {
	a := &Ack{onResolve: fn}
	a.pending.Store(1)
	return a
}

func newTrackedAck(owner *tracker, topic string, partition int32, offset int64, report func(error)) *Ack {
	a := &Ack{owner: owner, topic: topic, partition: partition, offset: offset, report: report}
	a.pending.Store(1)
	return a
}

// Add registers n more outputs that must each call Done. n ≤ 0 is a no-op.
// Adding to an Ack that already resolved has no effect on its outcome.
func (a *Ack) Add(n int) {
	if a == nil || n <= 0 {
		return
	}
	a.pending.Add(int64(n))
}

// Done marks one output finished: err == nil means it is durable (Kafka
// acked the write, or the output was deliberately dropped); a non-nil err
// fails the input record.
func (a *Ack) Done(err error) {
	if a == nil {
		return
	}
	if err != nil {
		failed := a.state.CompareAndSwap(ackPending, ackFailed)
		if failed {
			a.owner.resolved()
			if a.onResolve != nil {
				a.onResolve(err)
			}
		}
		if failed || a.state.Load() == ackOK {
			// Record the first error; a failure after resolution (an extra
			// Done) still fails nothing already committed, but is reported.
			// A copy of err is what escapes: taking the parameter's own
			// address would move it to the heap on every call, the
			// successful ones included (one allocation per output).
			first := err
			if a.err.CompareAndSwap(nil, &first) && a.report != nil {
				a.report(&AckError{Topic: a.topic, Partition: a.partition, Offset: a.offset, Err: err})
			}
		}
	}
	for {
		n := a.pending.Load()
		if n <= 0 {
			return // more Done calls than outputs: ignore
		}
		if a.pending.CompareAndSwap(n, n-1) {
			if n == 1 && a.state.CompareAndSwap(ackPending, ackOK) {
				a.owner.resolved()
				if a.onResolve != nil {
					a.onResolve(nil)
				}
			}
			return
		}
	}
}

// Resolved reports whether every output is Done or one failed.
func (a *Ack) Resolved() bool {
	return a == nil || a.state.Load() != ackPending
}

// Err returns the first error passed to Done, or nil.
func (a *Ack) Err() error {
	if a == nil {
		return nil
	}
	if p := a.err.Load(); p != nil {
		return *p
	}
	return nil
}

// AckError reports a record whose output failed, so the Source will not
// commit past it.
type AckError struct {
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

func (e *AckError) Error() string {
	return "record " + e.Topic + "/" + itoa(int64(e.Partition)) + "@" + itoa(e.Offset) +
		" failed, its partition will not commit past it: " + e.Err.Error()
}

// Unwrap exposes the output's error.
func (e *AckError) Unwrap() error { return e.Err }

// abandon resolves an Ack whose record was never handed out: it is never
// committed and reports nothing.
func (a *Ack) abandon() {
	if a.state.CompareAndSwap(ackPending, ackFailed) {
		a.owner.resolved()
	}
}
