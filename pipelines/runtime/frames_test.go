package runtime

import (
	"bytes"
	"runtime"
	"testing"
	"weak"

	"github.com/matriz/pipelines/topics"
)

// TestHandOnLetsTheFrameOutputsGo: once a frame's outputs are handed to
// the Sink (which copies each), nothing the worker keeps for the next
// frame holds their array: the reused pointer slice is cleared, so the
// array can be collected while the next frame runs.
func TestHandOnLetsTheFrameOutputsGo(t *testing.T) {
	in := make(chan any, 8)
	w := aheadWorker(t, in, new(bytes.Buffer))
	frameOutputs := func() (weak.Pointer[topics.Message], []*topics.Message) {
		out := make([]topics.Message, 4)
		for i := range out {
			out[i] = topics.Message{Topic: "matriz.prod.results", Value: []byte{byte(i)}}
		}
		return weak.Make(&out[0]), w.pointers(out)
	}
	arr, ptrs := frameOutputs()
	if !w.handOn(ptrs, true) {
		t.Fatal("handOn reported the Sink closed")
	}
	for range len(ptrs) {
		// The Sink's receive: copy and clear, as topics.Sink does.
		m := (<-in).(*topics.Message)
		*m = topics.Message{}
	}
	for i, p := range w.outPtrs[:cap(w.outPtrs)] {
		if p != nil {
			t.Fatalf("the reused pointer slice still holds entry %d after the frame was handed on", i)
		}
	}
	runtime.GC()
	if arr.Value() != nil {
		t.Fatal("the handed-on frame's output array is still reachable from the worker")
	}
	runtime.KeepAlive(w)
}

// TestHandOnStopsAtAClosedSink: past a closed gate nothing more is sent
// and handOn says so, and the entries are still cleared.
func TestHandOnStopsAtAClosedSink(t *testing.T) {
	in := make(chan any, 8)
	w := aheadWorker(t, in, new(bytes.Buffer))
	w.lane.sinks.gates[0].close()
	ms := w.pointers(make([]topics.Message, 3))
	if w.handOn(ms, true) {
		t.Fatal("handOn reported the Sink open after its gate closed")
	}
	if n := len(in); n != 0 {
		t.Fatalf("%d outputs reached a closed Sink", n)
	}
	for i, p := range ms {
		if p != nil {
			t.Fatalf("entry %d kept after handOn", i)
		}
	}
}
