package operators

import (
	"github.com/reugn/go-streams"
	"github.com/reugn/go-streams/flow"
)

// ports are an operator's inlet and outlet with the Via and To every
// go-streams Flow has: an operator embeds ports, runs its own goroutine
// from in to out, closes out when in is closed and drained, and is a
// streams.Flow.
type ports struct {
	in, out chan any
}

func newPorts() ports { return ports{in: make(chan any), out: make(chan any)} }

// In returns the inlet.
func (p *ports) In() chan<- any { return p.in }

// Out returns the outlet.
func (p *ports) Out() <-chan any { return p.out }

// Via streams the outlet into f and returns f.
func (p *ports) Via(f streams.Flow) streams.Flow {
	flow.DoStream(p, f)
	return f
}

// To streams the outlet into s and blocks until the outlet is drained
// into s and s has completed (a sink whose AwaitCompletion does nothing
// has still received everything).
func (p *ports) To(s streams.Sink) {
	for e := range p.out {
		s.In() <- e
	}
	close(s.In())
	s.AwaitCompletion()
}
