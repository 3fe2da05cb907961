package runtime

// The partition's frame loop: from the decimation ring to the lane's Sink
// on one goroutine.

import (
	"context"

	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// runFrames pops the ring's frames one by one, runs each through process
// (the chain), encodes its outputs and hands them to the lane's Sink,
// until the ring is closed and empty. Once the Sink refuses (it is
// closed), the outputs of the remaining frames are dropped unsent, so
// their offsets are not committed and the next owner redoes them.
//
// One goroutine does it all, rather than a go-streams stage per step:
// each stage and each Via between two of them holds an element of its
// own, and under overload every element is a frame of hundreds of
// records, outside any bound the ring keeps. With several partitions per
// process the cores stay busy without that pipelining within one.
func (w *partitionWorker) runFrames(encode func(*stages.Frame) []*topics.Message) {
	open := true
	for {
		f, err := w.ring.Pop(context.Background())
		if err != nil {
			return // closed and empty
		}
		for _, m := range encode(w.process(f)) {
			open = open && w.lane.sinks.send(w.partition, m)
		}
		for _, m := range w.encodeCanary() { // after the lane's: canary.go
			open = open && w.lane.sinks.send(w.partition, m)
		}
	}
}
