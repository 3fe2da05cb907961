package runtime

// A frame without records answers no input, yet it can have outputs: an
// approval applied in a wake frame of an idle partition executes its
// action there, and the action's outcome and trace are that frame's. Those
// outputs have no input's Ack to count against (outputs.encode), so
// without a hold of their own a cut taken at or after the frame — whose
// state already has the approval applied — could be written and committed
// before they are durable; a kill in between restored a state with nothing
// left to execute or re-decide, and the action stayed "executing" on the
// log forever. A frame hold is an Ack for such a frame's outputs,
// registered in the ack book before the frame's cut is taken, so no cut
// after the frame commits until they are durable.

import (
	"sync"

	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// frameHolds are the holds of frames processed and not yet encoded.
type frameHolds struct {
	mu      sync.Mutex
	byFrame map[*stages.Frame]*topics.Ack
}

// holdFrame registers a hold for f, a frame without records with outputs,
// before process takes its cut. A replay writes no cut and needs none.
func (w *partitionWorker) holdFrame(f *stages.Frame) {
	if len(f.Records) > 0 || w.stopAt >= 0 || len(f.Events)+len(f.Traces)+len(f.Actions) == 0 {
		return
	}
	a := topics.NewAck()
	w.acks.hold(a)
	w.holds.mu.Lock()
	if w.holds.byFrame == nil {
		w.holds.byFrame = map[*stages.Frame]*topics.Ack{}
	}
	w.holds.byFrame[f] = a
	w.holds.mu.Unlock()
}

// releaseHold counts f's outputs that answer no input against f's hold and
// releases the hold's own count: it resolves once they are durable.
func (w *partitionWorker) releaseHold(f *stages.Frame, out []topics.Message) {
	w.holds.mu.Lock()
	a, ok := w.holds.byFrame[f]
	delete(w.holds.byFrame, f)
	w.holds.mu.Unlock()
	if !ok {
		return
	}
	n := 0
	for i := range out {
		if out[i].Ack == nil {
			out[i].Ack = a
			n++
		}
	}
	a.Add(n)
	a.Done(nil)
}
