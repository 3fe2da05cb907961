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
// the tick TickIdle, and the tick closes the open frames in event time (the
// last event time plus a frame plus the grace), never at our wall clock: a
// producer whose clock runs seconds behind ours is not judged late for it.
// Which input the idle advance followed is a decision the tick logs, so a
// replay applies it at the same offset.
//
// A partition that is merely slow is not idle: under backpressure nothing
// passes for a while, but the source is behind the log's end, and a
// wall-clock watermark then would declare the whole backlog late.
type IdleWatermark struct {
	partition int32
	clock     clock.Clock
	idleAfter time.Duration
	caughtUp  func() bool
	cutWanted func() bool
	wake      func() bool
	ports
}

// IdleOption configures an IdleWatermark.
type IdleOption func(*IdleWatermark)

// IdleWake sets wake, asked on every idle check of a quiet partition:
// when it reports true the flow sends the tick TickWake, so work waiting
// for a frame boundary (an approval) gets one without a new message.
func IdleWake(wake func() bool) IdleOption { return func(w *IdleWatermark) { w.wake = wake } }

// NewIdleWatermark returns the flow for partition. cutWanted, when set,
// reports a cut the tick has been asked for: a quiet partition gets
// TickCutNow so it can commit without a frame to carry the cut.
func NewIdleWatermark(partition int32, cl clock.Clock, idleAfter time.Duration, caughtUp, cutWanted func() bool, opts ...IdleOption) *IdleWatermark {
	w := &IdleWatermark{partition: partition, clock: cl, idleAfter: idleAfter, caughtUp: caughtUp, cutWanted: cutWanted,
		ports: newPorts()}
	for _, o := range opts {
		o(w)
	}
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
			if w.wake != nil && w.wake() {
				w.out <- TickWake{Partition: w.partition} // before the cut: the cut then covers it
			}
			if w.cutWanted != nil && w.cutWanted() {
				w.out <- TickCutNow{Partition: w.partition}
			}
			select { // input that arrived meanwhile goes first
			case e, ok := <-w.in:
				if !ok {
					return
				}
				pass(e)
			default:
				w.out <- TickIdle{Partition: w.partition}
				last = w.clock.Now() // once per quiet spell, not every tick
			}
		}
	}
}
