package operators

import (
	"time"

	"github.com/matriz/pipelines/clock"
)

// IdleWatermark is a pass-through Flow in front of the tick that keeps an
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
type IdleWatermark struct {
	partition int32
	clock     clock.Clock
	idleAfter time.Duration
	allowance time.Duration
	caughtUp  func() bool
	ports
}

func NewIdleWatermark(partition int32, cl clock.Clock, idleAfter, allowance time.Duration, caughtUp func() bool) *IdleWatermark {
	w := &IdleWatermark{partition: partition, clock: cl, idleAfter: idleAfter, allowance: allowance, caughtUp: caughtUp,
		ports: newPorts()}
	go w.run()
	return w
}

func (w *IdleWatermark) run() {
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
				w.out <- TickWatermark{Partition: w.partition, Time: now.Add(-w.allowance)}
			}
		}
	}
}
