package topics

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// ackFuncCalls records every call NewAckFunc's callback receives.
type ackFuncCalls struct {
	mu   sync.Mutex
	errs []error
}

func (c *ackFuncCalls) fn(err error) {
	c.mu.Lock()
	c.errs = append(c.errs, err)
	c.mu.Unlock()
}

func (c *ackFuncCalls) get() []error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]error(nil), c.errs...)
}

// TestAckFuncResolvesOnceWithNil: after Add(n), the callback waits for all
// n+1 outputs (the n added and the initial hold); the last Done(nil) calls
// it once with nil, and Done calls past that change nothing.
func TestAckFuncResolvesOnceWithNil(t *testing.T) {
	var calls ackFuncCalls
	a := NewAckFunc(calls.fn)
	const n = 4
	a.Add(n)
	for i := range n {
		a.Done(nil)
		if got := calls.get(); len(got) != 0 {
			t.Fatalf("callback ran after %d of %d Done: %v", i+1, n+1, got)
		}
		if a.Resolved() {
			t.Fatalf("resolved after %d of %d Done", i+1, n+1)
		}
	}
	a.Done(nil) // the initial hold
	if got := calls.get(); len(got) != 1 || got[0] != nil {
		t.Fatalf("callback calls %v, want one with nil", got)
	}
	if !a.Resolved() || a.Err() != nil {
		t.Fatalf("Resolved %v Err %v", a.Resolved(), a.Err())
	}
	a.Done(nil)
	a.Add(2)
	a.Done(nil)
	if got := calls.get(); len(got) != 1 {
		t.Fatalf("callback ran again after resolution: %v", got)
	}
}

// TestAckFuncResolvesOnceWithFirstError: the first failed output resolves
// the Ack at once with its error, though outputs are still pending; later
// errors and the remaining Done(nil) never call back again.
func TestAckFuncResolvesOnceWithFirstError(t *testing.T) {
	var calls ackFuncCalls
	a := NewAckFunc(calls.fn)
	a.Add(3)
	first, second := errors.New("write failed"), errors.New("also failed")
	a.Done(nil)
	a.Done(first)
	if got := calls.get(); len(got) != 1 || got[0] != first {
		t.Fatalf("callback calls %v, want one with %v", got, first)
	}
	a.Done(second)
	a.Done(nil)
	a.Done(nil)
	if got := calls.get(); len(got) != 1 {
		t.Fatalf("callback calls %v, want exactly one", got)
	}
	if !errors.Is(a.Err(), first) {
		t.Fatalf("Err = %v, want the first error", a.Err())
	}
}

// TestAckFuncErrorAfterSuccessIsNotReported: once every output resolved
// ok, a stray Done(err) records the error but does not call back again.
func TestAckFuncErrorAfterSuccessIsNotReported(t *testing.T) {
	var calls ackFuncCalls
	a := NewAckFunc(calls.fn)
	a.Done(nil)
	a.Done(errors.New("late"))
	if got := calls.get(); len(got) != 1 || got[0] != nil {
		t.Fatalf("callback calls %v, want one with nil", got)
	}
}

// TestAckFuncConcurrentDoneCallsBackOnce races one goroutine per output
// calling Done (with failing, one in five with an error) on many Acks; each
// Ack's callback runs exactly once, with an error exactly when one of its
// outputs failed (the failing Done flips the state before its own count
// down, so no success can overtake it). Run with -race.
func TestAckFuncConcurrentDoneCallsBackOnce(t *testing.T) {
	const acks, outputs = 200, 16
	for _, failing := range []bool{false, true} {
		var total, withErr atomic.Int64
		perAck := make([]atomic.Int32, acks)
		var wg sync.WaitGroup
		all := make([]*Ack, acks)
		for i := range acks {
			a := NewAckFunc(func(err error) {
				perAck[i].Add(1)
				total.Add(1)
				if err != nil {
					withErr.Add(1)
				}
			})
			all[i] = a
			a.Add(outputs - 1) // outputs in all, counting the initial hold
			start := make(chan struct{})
			for j := range outputs {
				wg.Go(func() {
					<-start
					var err error
					if failing && j%5 == 0 {
						err = errors.New("boom")
					}
					a.Done(err)
				})
			}
			close(start)
		}
		wg.Wait()
		for _, a := range all {
			a.Done(nil) // one more than there are outputs: ignored
		}
		for i := range perAck {
			if n := perAck[i].Load(); n != 1 {
				t.Fatalf("failing=%v: ack %d called back %d times", failing, i, n)
			}
		}
		if total.Load() != acks {
			t.Fatalf("failing=%v: %d callbacks, want %d", failing, total.Load(), acks)
		}
		if failing && withErr.Load() != acks {
			t.Fatalf("%d of %d callbacks saw an error, want every one", withErr.Load(), acks)
		}
		if !failing && withErr.Load() != 0 {
			t.Fatalf("%d callbacks saw an error with only Done(nil)", withErr.Load())
		}
	}
}
