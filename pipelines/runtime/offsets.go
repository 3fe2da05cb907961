package runtime

import (
	"slices"
	"time"
)

// A partition's offsets as an operator sees them: the committed offset is
// reported at each commit (worker.go), and at every commit interval the
// lag — records between the partition's high watermark and the next
// offset to read, from the watermark kafka-go's last fetch response
// carried — and the age of the oldest record read and not committed, on
// the runtime's clock. A commit that stalls shows as that age growing
// past the commit interval; a consumer that falls behind as the lag. The
// lag is only as fresh as the last fetch: a partition backed up so far
// that its reader stops fetching keeps its last lag while records arrive,
// and the age is the figure that grows then.

// readAt is when a record was read.
type readAt struct {
	offset int64
	at     time.Time
}

// reportOffsets sets the partition's lag and oldest-uncommitted-age
// gauges, and its backlog and rate, which frames set too: a partition idle
// since it was claimed has no frame to set them.
func (w *partitionWorker) reportOffsets() {
	var age time.Duration
	if at, ok := w.acks.oldest(); ok {
		age = w.lane.clock.Now().Sub(at)
	}
	w.lane.obs.Offsets(w.partition, w.src.Lag(), age)
	w.lane.obs.Tick(w.partition, w.ring.Backlog(), w.tick.FPS())
}

// oldest returns when the oldest record read and not committed was read,
// and false when every record read is committed. It drops the reads
// committed since, in front of that one.
func (b *ackBook) oldest() (time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	i := 0
	for i < len(b.reads) {
		if _, ok := b.acks[b.reads[i].offset]; ok {
			break
		}
		i++
	}
	b.reads = slices.Delete(b.reads, 0, i)
	if len(b.reads) == 0 {
		return time.Time{}, false
	}
	return b.reads[0].at, true
}
