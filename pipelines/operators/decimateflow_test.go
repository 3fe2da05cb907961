package operators_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"

	"github.com/matriz/pipelines/pipelines/operators"
)

// TestFeedDecimateCarriesBackpressureAndCloses pins FeedDecimate: frames
// reach the ring in the order the tick emitted them; a full ring under
// backpressure stops the feeder, which stops taking frames, so the tick
// blocks (holding no more than one frame outside the ring); and once the
// tick's outlet closes and everything is in, the ring closes, so the
// chain's Pop ends after the last frame.
func TestFeedDecimateCarriesBackpressureAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ring := newDecimate(t, operators.DecimateCapacity(2))
		frames := make(chan any)
		operators.FeedDecimate(ring, frames)
		var sent atomic.Int64
		go func() {
			for seq := int64(1); seq <= 4; seq++ {
				frames <- dcFrame(0, seq, seq*10, 1)
				sent.Add(1)
			}
			close(frames)
		}()
		synctest.Wait()
		// Frames 1 and 2 fill the ring, the feeder holds 3 waiting for
		// room, and the tick is stuck handing over 4.
		if n, backlog := sent.Load(), ring.Backlog(); n != 3 || backlog != 2 {
			t.Fatalf("with the ring full the tick handed over %d frames and the ring holds %d, want 3 and 2", n, backlog)
		}
		ctx := context.Background()
		for seq := int64(1); seq <= 4; seq++ {
			f, err := ring.Pop(ctx)
			if err != nil || f.Seq != seq {
				t.Fatalf("pop %d: frame %v, err %v; want seq %d", seq, f, err, seq)
			}
		}
		if _, err := ring.Pop(ctx); !errors.Is(err, operators.ErrDecimateClosed) {
			t.Fatalf("Pop after the tick's outlet closed and drained = %v, want ErrDecimateClosed", err)
		}
		if st := ring.Stats(); st.Pushed != 4 || st.Waits == 0 {
			t.Fatalf("ring stats %+v, want 4 pushed with a wait for room", st)
		}
	})
}
