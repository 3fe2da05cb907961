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
// With IdleDeadlines a caught-up partition does not wait for idleAfter: its
// event time is reckoned forward by our clock from its records' own event
// times (eventClock, TickIdle.Upto), checked every so often, so each open
// frame closes once its end plus the grace is reached — with even
// deliveries at most a frame plus the grace after the partition's last
// input, plus one check; deliveries that came unevenly of late add their
// spread, so a record delayed as much as recent ones is not judged late.
// The reckoning starts from the producer's own event time, so a producer
// clock behind ours still is not judged late.
//
// A partition that is merely slow is not idle: under backpressure nothing
// passes for a while, but the source is behind the log's end, and a
// wall-clock watermark then would declare the whole backlog late. Nor is
// one whose fetch has reached the log's end while records it fetched are
// still on their way here: caughtUp must count those as unread
// (IdleOnInput), or a stall upstream of this flow reads as quiet.
type IdleWatermark struct {
	partition int32
	clock     clock.Clock
	idleAfter time.Duration
	every     time.Duration // how often deadlines are checked (IdleDeadlines)
	caughtUp  func() bool
	cutWanted func() bool
	wake      func() bool
	onInput   func()
	ports
}

// DefaultIdleCheck is how often a live partition's frame deadlines are
// checked: a quiet partition's frame closes at most this long after its
// end plus the grace.
const DefaultIdleCheck = 2 * time.Millisecond

// IdleOption configures an IdleWatermark.
type IdleOption func(*IdleWatermark)

// IdleWake sets wake, asked on every idle check of a quiet partition:
// when it reports true the flow sends the tick TickWake, so work waiting
// for a frame boundary (an approval) gets one without a new message.
func IdleWake(wake func() bool) IdleOption { return func(w *IdleWatermark) { w.wake = wake } }

// IdleOnInput sets fn, called once each TickInput has been passed on to
// the tick: with it the caller can tell whether every record its source
// delivered is through (caughtUp), not merely fetched.
func IdleOnInput(fn func()) IdleOption { return func(w *IdleWatermark) { w.onInput = fn } }

// IdleDeadlines makes the flow check a caught-up partition's open frames
// every d and close each at its deadline (see IdleWatermark). 0, or
// idleAfter or more, leaves only the close after idleAfter of quiet.
func IdleDeadlines(every time.Duration) IdleOption {
	return func(w *IdleWatermark) { w.every = every }
}

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

// eventClock reckons a partition's event time by our clock: now less the
// longest delivery delay (our clock when a record passed, less its event
// time) among the records of the last delayWindow. With even deliveries
// that is the newest event time plus the time since it passed. A record
// that comes as late as recent ones did still finds its frame open: a
// fetch that hands over a batch at once, or a consumer that stalls, does
// not turn its records late. The producer's clock offset from ours is in
// every delay alike, so it cancels out.
type eventClock struct {
	pending bool // a record passed since the last idle close
	// slowest[0] is the longest delay in the window that began at since,
	// slowest[1] in the one before it; ok says which have a record.
	slowest [2]time.Duration
	ok      [2]bool
	since   time.Time
	// stale is the delay of the last windows that had records, once both
	// current ones are empty: with no delivery there is no new evidence,
	// so a quiet partition keeps being reckoned by what it last saw (a
	// burst spanning more event time than two windows still has its last
	// frames closed at their deadlines).
	stale   time.Duration
	isStale bool
}

// delayWindow is how long a delivery delay is remembered: one slow
// delivery (a lane start, a GC pause, a fetch that stalled) holds every
// frame of its partition open that much longer for one to two windows.
// With a second, the bench's low-rate probe (100 msgs/s over 6 partitions,
// just after a warm-up whose first deliveries took ~60 ms) measured end to
// end p99 57-259 ms over 9 runs, the tail being frames held for the
// warm-up's delay; with 250 ms, 51-57 ms in 7 of 8 runs (119 ms once), and
// no more records judged late at 100 or 2,000 msgs/s (0 in both).
const delayWindow = 250 * time.Millisecond

// note takes the delay of e's record, if it has an event time.
func (c *eventClock) note(e any, now time.Time) {
	in, ok := e.(TickInput)
	if !ok || in.Record == nil || in.Record.Msg == nil || in.Record.Failure != nil {
		return
	}
	c.roll(now)
	d := now.Sub(in.Record.Msg.TS)
	if !c.ok[0] || d > c.slowest[0] {
		c.slowest[0], c.ok[0] = d, true
	}
	c.pending = true
}

// roll starts a new window when the current one is over.
func (c *eventClock) roll(now time.Time) {
	switch age := now.Sub(c.since); {
	case age >= 2*delayWindow:
		c.keep()
		c.ok = [2]bool{}
		c.since = now
	case age >= delayWindow:
		if !c.ok[0] {
			c.keep()
		}
		c.slowest[1], c.ok[1] = c.slowest[0], c.ok[0]
		c.ok[0] = false
		c.since = c.since.Add(delayWindow)
	}
}

// keep remembers the windows' delay as they are about to be emptied.
func (c *eventClock) keep() {
	if d, ok := c.slowestSeen(); ok {
		c.stale, c.isStale = d, true
	}
}

// slowestSeen is the longest delay of the two current windows.
func (c *eventClock) slowestSeen() (time.Duration, bool) {
	switch {
	case c.ok[0] && c.ok[1]:
		return max(c.slowest[0], c.slowest[1]), true
	case c.ok[0]:
		return c.slowest[0], true
	case c.ok[1]:
		return c.slowest[1], true
	}
	return 0, false
}

// at returns the partition's event time reckoned to now, and false when
// no record with an event time was ever seen.
func (c *eventClock) at(now time.Time) (time.Time, bool) {
	c.roll(now)
	if d, ok := c.slowestSeen(); ok {
		return now.Add(-d), true
	}
	if c.isStale {
		return now.Add(-c.stale), true
	}
	return time.Time{}, false
}

func (w *IdleWatermark) run() {
	defer close(w.out)
	deadlines := w.every > 0 && w.every < w.idleAfter
	period := w.idleAfter
	if deadlines {
		period = w.every
	}
	tk := w.clock.NewTicker(period)
	defer tk.Stop()
	last := w.clock.Now()
	var ev eventClock
	pass := func(e any) {
		ev.note(e, w.clock.Now()) // delivered now, however long the send below takes
		w.out <- e
		last = w.clock.Now() // after the send: time blocked downstream is not idle time
		if _, ok := e.(TickInput); ok && w.onInput != nil {
			w.onInput()
		}
	}
	for {
		select {
		case e, ok := <-w.in:
			if !ok {
				return
			}
			pass(e)
		case now := <-tk.C():
			if !w.caughtUp() {
				continue
			}
			if now.Sub(last) < w.idleAfter {
				if upto, ok := ev.at(now); deadlines && ev.pending && ok {
					w.out <- TickIdle{Partition: w.partition, Upto: upto}
				}
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
				ev.pending = false
			}
		}
	}
}
