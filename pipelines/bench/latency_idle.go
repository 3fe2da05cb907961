package bench

// Where a low rate's tail comes from: the idle close. A partition that
// goes quiet holds its open frame until the idle watermark closes it (at
// the frame's end plus the grace, reckoned in the partition's event time
// and checked every runtime IdleCheck, or after IdleAfter without input),
// and the tick logs each such close as a watermark decision (why "idle")
// naming the last offset before it. Splitting the latencies by whether an
// input's frame was closed that way shows how much of the tail it is.

import (
	"context"
	"strconv"
	"time"

	"github.com/matriz/pipelines/pipelines/replay"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
)

// idleCloses reads the idle watermark decisions lane logged since since:
// per partition, the offsets after which an idle close closed frames.
func idleCloses(ctx context.Context, env PhaseEnv, since time.Time) (map[int32][]int64, error) {
	closes := map[int32][]int64{}
	_, err := replay.ScanEvents(ctx, replay.EventQuery{Brokers: env.Brokers, Serde: env.Serde, Lane: env.Lane, Kinds: []schemas.EventKind{schemas.EventWatermark}, Since: since},
		func(r replay.EventRecord) error {
			if why, _ := r.Event.Payload["why"].(string); why != "idle" {
				return nil
			}
			after, ok := r.Event.Payload.Int("after_offset")
			p, err := strconv.ParseInt(string(r.Header(runtime.HeaderSrcPartition)), 10, 32)
			if ok && err == nil {
				closes[int32(p)] = append(closes[int32(p)], after)
			}
			return nil
		})
	return closes, err
}

// splitByIdle splits the answered inputs into those whose frame an idle
// close closed — the input at a close's offset and the inputs before it
// whose record timestamp falls in the same frame of the given length —
// and the rest.
func (b *latencyBook) splitByIdle(closes map[int32][]int64, frame time.Duration) (idle, rest LatencySummary) {
	var di, dr []time.Duration
	for p, pp := range b.parts {
		closed := map[int64]bool{}
		for _, after := range closes[p] {
			i := after - pp.base
			if i < 0 || i >= int64(len(pp.sent)) || pp.sent[i] == 0 {
				continue
			}
			n := pp.sent[i] / int64(frame)
			for j := i; j >= 0 && pp.sent[j] != 0 && pp.sent[j]/int64(frame) == n; j-- {
				closed[j] = true
			}
		}
		for i, s := range pp.sent {
			if s == 0 || i >= len(pp.acked) || pp.acked[i] == 0 {
				continue
			}
			d := time.Duration(pp.acked[i] - s)
			if closed[int64(i)] {
				di = append(di, d)
			} else {
				dr = append(dr, d)
			}
		}
	}
	return summarize(di), summarize(dr)
}
