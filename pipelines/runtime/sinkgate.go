package runtime

import "sync"

// sinkGate guards the lane Sink's input against sends after it is closed.
// A partition whose drain timed out returns while its graph still runs;
// its last outputs may reach the Sink after the lane stopped and closed
// it, which would panic the process instead of stopping it. Past close,
// sends are refused: those outputs are not acknowledged, so their offsets
// are not committed and the partition's next owner redoes them.
type sinkGate struct {
	mu      sync.RWMutex
	in      chan<- any
	closing chan struct{}
	closed  bool
}

func newSinkGate(in chan<- any) *sinkGate {
	return &sinkGate{in: in, closing: make(chan struct{})}
}

// send hands e to the Sink, waiting while it is busy; it reports false
// once the gate is closing.
func (g *sinkGate) send(e any) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	if g.closed {
		return false
	}
	select {
	case g.in <- e:
		return true
	case <-g.closing:
		return false
	}
}

// close refuses every send from now on, waits for those under way to
// give up, and closes the Sink's input. Call it once.
func (g *sinkGate) close() {
	close(g.closing)
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closed = true
	close(g.in)
}
