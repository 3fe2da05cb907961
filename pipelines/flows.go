package pipelines

import (
	"context"
	"time"

	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/stages"
)

// idleWatermark is a pass-through Flow in front of the tick that keeps an
// idle partition's frames closing. The tick runs on event time (frames
// close when a later message arrives), so a quiet partition would hold its
// last frame open forever. Once the partition is idle — caught up with the
// log's end (caughtUp) and nothing passed for idleAfter — this flow sends
// the tick a watermark at the clock's time less allowance, the most a
// message may lag from its producer to here and still be on time.
//
// A partition that is merely slow is not idle: under backpressure nothing
// passes for a while, but the source is behind the log's end, and a
// wall-clock watermark then would declare the whole backlog late.
type idleWatermark struct {
	partition int32
	clock     clock.Clock
	idleAfter time.Duration
	allowance time.Duration
	caughtUp  func() bool
	in, out   chan any
}

func newIdleWatermark(partition int32, cl clock.Clock, idleAfter, allowance time.Duration, caughtUp func() bool) *idleWatermark {
	w := &idleWatermark{partition: partition, clock: cl, idleAfter: idleAfter, allowance: allowance, caughtUp: caughtUp,
		in: make(chan any), out: make(chan any)}
	go w.run()
	return w
}

func (w *idleWatermark) run() {
	defer close(w.out)
	tk := w.clock.NewTicker(w.idleAfter)
	defer tk.Stop()
	last := w.clock.Now()
	pass := func(e any) {
		w.out <- e
		last = w.clock.Now() // after the send: time blocked downstream is not idle time
	}
	for {
		select {
		case e, ok := <-w.in:
			if !ok {
				return
			}
			pass(e)
		case now := <-tk.C():
			if now.Sub(last) < w.idleAfter || !w.caughtUp() {
				continue
			}
			select { // input that arrived meanwhile goes first
			case e, ok := <-w.in:
				if !ok {
					return
				}
				pass(e)
			default:
				w.out <- stages.TickWatermark{Partition: w.partition, Time: now.Add(-w.allowance)}
			}
		}
	}
}

func (w *idleWatermark) In() chan<- any  { return w.in }
func (w *idleWatermark) Out() <-chan any { return w.out }
func (w *idleWatermark) Via(f streams.Flow) streams.Flow {
	flow.DoStream(w, f)
	return f
}
func (w *idleWatermark) To(s streams.Sink) {
	flow.DoStream(w, s)
	s.AwaitCompletion()
}

// decimateFlow puts the decimation ring between the tick and the chain as
// a Flow: the tick's frames are pushed (blocking under backpressure, which
// pauses everything upstream down to the Kafka fetch), the chain side pops.
type decimateFlow struct {
	ring *stages.Decimate
	in   chan any
	out  chan any
}

func newDecimateFlow(ring *stages.Decimate) *decimateFlow {
	d := &decimateFlow{ring: ring, in: make(chan any), out: make(chan any)}
	go d.push()
	go d.pop()
	return d
}

func (d *decimateFlow) push() {
	for e := range d.in {
		// Push only fails once the ring is closed, which only push does.
		_ = d.ring.Push(context.Background(), e.(*stages.Frame))
	}
	d.ring.Close()
}

func (d *decimateFlow) pop() {
	defer close(d.out)
	for {
		f, err := d.ring.Pop(context.Background())
		if err != nil {
			return // closed and empty
		}
		d.out <- f
	}
}

func (d *decimateFlow) In() chan<- any  { return d.in }
func (d *decimateFlow) Out() <-chan any { return d.out }
func (d *decimateFlow) Via(f streams.Flow) streams.Flow {
	flow.DoStream(d, f)
	return f
}
func (d *decimateFlow) To(s streams.Sink) {
	flow.DoStream(d, s)
	s.AwaitCompletion()
}

// forwardSink feeds a partition's outputs into the lane's shared Sink
// without closing it when the partition's graph completes: the lane Sink
// batches every partition's writes and outlives revocations.
type forwardSink struct {
	in   chan any
	done chan struct{}
}

func newForwardSink(into chan<- any) *forwardSink {
	s := &forwardSink{in: make(chan any), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for e := range s.in {
			into <- e
		}
	}()
	return s
}

func (s *forwardSink) In() chan<- any   { return s.in }
func (s *forwardSink) AwaitCompletion() { <-s.done }
