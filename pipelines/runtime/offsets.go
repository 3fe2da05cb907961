package runtime

import (
	"slices"
	"time"
)

// A partition's offsets as an operator sees them: the committed offset is
// reported at each commit (worker.go), and at every commit interval the
// lag — records between the partition's high watermark and the next
// offset to read — and the age of the oldest record read and not
// committed, on the runtime's clock. A commit that stalls shows as that
// age growing past the commit interval; a consumer that falls behind as
// the lag, which the polled watermarks keep growing while a backed-up
// reader fetches nothing (lag).

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
	w.lane.obs.Offsets(w.partition, w.lag(), age)
	w.lane.obs.Tick(w.partition, w.ring.Backlog(), w.tick.FPS())
}

// lag is the larger of two lower bounds of the records between the
// partition's high watermark now and the next offset the worker reads:
// the reader's lag as of its last fetch (counted from where the reader
// is, at or past the worker), and the polled watermark (watermarks.go)
// less the next offset decode reads. The first is fresh while the reader
// fetches; the second goes on growing when a backed-up reader stops.
// Negative: not known yet.
func (w *partitionWorker) lag() int64 {
	lag := w.src.Lag()
	end, ok := w.lane.hwm.get(w.partition)
	if next := w.read.Load(); ok && next >= 0 {
		lag = max(lag, end-next)
	}
	return lag
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
