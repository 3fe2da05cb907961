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
		open = w.handOn(encode(w.process(f)), open)
		open = w.handOn(w.encodeCanary(), open) // after the lane's: canary.go
	}
}

// handOn sends each of ms to the partition's Sink while it is open, and
// clears each entry as it goes. ms is a slice reused frame to frame whose
// entries point into one frame's array of outputs: a pointer left behind
// kept that whole array alive through the next frame's chain, and past
// the next frame's length for as long as no bigger frame came. Under
// overload a prod frame of 3,000 records has ~9,400 outputs of 152 bytes,
// so that was 1.4 MiB per partition held for nothing (the Sink copies
// each Message as it receives it).
func (w *partitionWorker) handOn(ms []*topics.Message, open bool) bool {
	for i, m := range ms {
		open = open && w.lane.sinks.send(w.partition, m)
		ms[i] = nil
	}
	return open
}
