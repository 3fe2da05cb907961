package runtime

import (
	"slices"
	"time"

	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// When a partition's generation ends (a rebalance, a shutdown, or an
// eviction the worker learns of late), kafka-go no longer heartbeats for
// the member, and the coordinator evicts it one session timeout after its
// last heartbeat. So the whole drain — the graph finishing its open
// frames, their outputs' acknowledgements, the last cut's state write and
// its commit — is bounded by the drain timeout, which the runtime keeps at
// most half the session timeout (Config). When it is over the partition's
// work context is cancelled (the chain and the executor stop) and the
// fence refuses every write the graph still makes; what was not committed
// is the next owner's to do.

// drain runs the bounded drain after the claim ended; done closes once the
// graph handed its last output to the sink.
func (w *partitionWorker) drain(done <-chan struct{}) error {
	lr := w.lane
	deadline := lr.clock.Now().Add(lr.cfg.DrainTimeout)
	w.fence.endBy(deadline.UnixNano())
	stop := w.cancelAt(deadline)
	defer stop()
	defer w.cancelWork()
	// A cut at the last frame, stop fetching, let the graph finish the
	// open frames, wait for their outputs, and commit what is durable.
	w.tick.RequestCut()
	w.src.StopFetching()
	select {
	case <-done:
	case <-w.work.Done():
		lr.log.Warn("partition drain timed out; the graph is stopped and its further writes refused", "lane", lr.lane, "partition", w.partition, "drain_timeout", lr.cfg.DrainTimeout)
	}
	err := w.src.Drain(w.work)
	w.commit()
	return err
}

// cancelAt cancels the partition's work at deadline on the lane's clock;
// stop ends the wait.
func (w *partitionWorker) cancelAt(deadline time.Time) (stop func()) {
	quit := make(chan struct{})
	tk := w.lane.clock.NewTicker(max(time.Millisecond, deadline.Sub(w.lane.clock.Now())))
	go func() {
		defer tk.Stop()
		select {
		case <-tk.C():
			w.cancelWork()
		case <-quit:
		}
	}()
	return func() { close(quit) }
}

// encode turns a processed frame into its outputs, each naming the claim
// it is written under and fenced by it.
func (w *partitionWorker) encode(f *stages.Frame) []*topics.Message {
	out := w.outs.encode(f)
	w.releaseHold(f, out) // frame_hold.go
	return w.pointers(w.fence.stampAll(out))
}

// pointers returns a pointer to each of ms, in a slice reused frame to
// frame. The Sink takes *Message as well as Message; a Message sent on its
// channel of any would be copied to the heap, one allocation per output,
// where a pointer into ms costs none. The reuse is safe because the encode
// flow runs one goroutine, which hands on every element of one result
// before it asks for the next; the Sink copies each Message as it receives
// it, and ms is made anew for each frame.
func (w *partitionWorker) pointers(ms []topics.Message) []*topics.Message {
	ps := slices.Grow(w.outPtrs[:0], len(ms))
	for i := range ms {
		ps = append(ps, &ms[i])
	}
	w.outPtrs = ps
	return ps
}
