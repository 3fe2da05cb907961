package operators

import (
	"context"

	"github.com/matriz/pipelines/stages"
)

// FeedDecimate puts the decimation ring behind the tick: a goroutine of
// its own pushes every frame of frames (the tick's outlet) into ring,
// waiting for room under backpressure, which pauses everything upstream
// down to the Kafka fetch, and closes ring once frames is closed and
// drained. The chain's side Pops.
//
// No goroutine stands between the tick and the ring with a frame of its
// own: under overload a frame held outside the ring is memory its record
// budget does not bound, and at 10x the sustainable rate one frame is
// hundreds of records.
func FeedDecimate(ring *Decimate, frames <-chan any) {
	go func() {
		for e := range frames {
			// Push only fails once the ring is closed, which only this
			// goroutine does.
			_ = ring.Push(context.Background(), e.(*stages.Frame))
		}
		ring.Close()
	}()
}
