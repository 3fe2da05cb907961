package operators

import (
	"context"

	"github.com/matriz/pipelines/stages"
)

// DecimateFlow puts the decimation ring between the tick and the chain as
// a Flow: the tick's frames are pushed (blocking under backpressure, which
// pauses everything upstream down to the Kafka fetch), the chain side pops.
type DecimateFlow struct {
	ring *Decimate
	ports
}

func NewDecimateFlow(ring *Decimate) *DecimateFlow {
	d := &DecimateFlow{ring: ring, ports: newPorts()}
	go d.push()
	go d.pop()
	return d
}

func (d *DecimateFlow) push() {
	for e := range d.in {
		// Push only fails once the ring is closed, which only push does.
		_ = d.ring.Push(context.Background(), e.(*stages.Frame))
	}
	d.ring.Close()
}

func (d *DecimateFlow) pop() {
	defer close(d.out)
	for {
		f, err := d.ring.Pop(context.Background())
		if err != nil {
			return // closed and empty
		}
		d.out <- f
	}
}
