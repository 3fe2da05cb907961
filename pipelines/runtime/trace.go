package runtime

// Tracing a partition's frames (observe/trace_frame.go says how a frame's
// span relates to its inputs' traces). With no tracer nothing here runs
// beyond a nil check, and each output carries its input's traceparent
// unchanged, so propagation works with tracing off.

import (
	"context"

	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/stages"
)

// startFrameSpan starts f's span from its inputs' traceparents and returns
// the context the chain runs on (w.work, carrying the span). A frame
// without records gets none, and so do its stages (observe.Wrap traces a
// stage only under a frame span).
func (w *partitionWorker) startFrameSpan(f *stages.Frame) (context.Context, observe.FrameSpan) {
	tr := w.lane.cfg.Tracer
	if tr == nil || len(f.Records) == 0 {
		// An empty frame (an idle partition's watermark closes dozens a
		// second) has nothing to trace.
		return w.work, observe.FrameSpan{}
	}
	w.parents = w.parents[:0]
	for i := range f.Records {
		if p := w.inflight.peek(f.Records[i].Offset); p != nil {
			w.parents = append(w.parents, p.msg.Header(HeaderTraceparent))
		}
	}
	return tr.StartFrame(w.work, f, w.parents)
}

// endFrameSpan ends span with what the chain decided on f (err: the
// chain's error) and has every output of f's records carry its
// traceparent.
func (w *partitionWorker) endFrameSpan(f *stages.Frame, span observe.FrameSpan, err error) {
	tp := span.End(f, err)
	if tp == nil {
		return
	}
	for i := range f.Records {
		if p := w.inflight.peek(f.Records[i].Offset); p != nil {
			p.traceparent = tp
		}
	}
	clear(w.parents) // drop the header values until the next frame
}
