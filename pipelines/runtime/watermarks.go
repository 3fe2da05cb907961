package runtime

import (
	"context"
	"sync"
	"time"

	"github.com/matriz/pipelines/topics"
)

// watermarks are the high watermarks of the lane's messages partitions,
// polled every few commit intervals. A partition's reader knows its lag
// only as of its last fetch, and a reader backed up by a slow chain
// fetches nothing: the polled watermark less the next offset the worker
// reads is the lag that goes on growing then (offsets.go).
type watermarks struct {
	mu   sync.Mutex
	ends map[int32]int64
}

func (m *watermarks) get(p int32) (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	end, ok := m.ends[p]
	return end, ok
}

func (m *watermarks) set(ends map[int]int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ends == nil {
		m.ends = map[int32]int64{}
	}
	for p, end := range ends {
		m.ends[int32(p)] = max(m.ends[int32(p)], end) // a watermark never goes back
	}
}

// watermarkPolls is how many commit intervals pass between two polls.
const watermarkPolls = 5

// pollWatermarks polls the messages topic's watermarks until ctx ends. A
// poll that fails keeps the last ones: the lag falls back to the reader's
// own figure, and the broker's trouble is reported where it hurts.
func (lr *laneRuntime) pollWatermarks(ctx context.Context) {
	every := watermarkPolls * lr.cfg.CommitInterval
	topic := topics.Name(string(lr.lane), topics.KindMessages)
	t := lr.clock.NewTicker(every)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, max(every, time.Second))
		if ends, err := topics.PartitionEnds(pctx, lr.cfg.Brokers, topic); err == nil {
			lr.hwm.set(ends)
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-t.C():
		}
	}
}
