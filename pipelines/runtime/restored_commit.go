package runtime

// commitRestored commits, at once, the Resume of a restored cut that is
// ahead of the group's committed offset (its owner died between writing it
// and committing). The cut is durable: it was just read back. Left to the
// partition's next cut, a partition with nothing left to read would keep
// its committed offset behind until new input arrives, and every restart
// in between would read the records below Resume again only to skip them.
func (w *partitionWorker) commitRestored() {
	cp := w.restored
	if cp == nil || w.claim == nil || cp.Resume <= w.claim.Offset {
		return
	}
	if err := w.claim.Commit(cp.Resume); err != nil {
		w.lane.reportErr(err)
		return
	}
	w.lane.obs.Committed(w.partition, cp.Resume)
	w.lane.log.Info("committed the restored cut", "lane", w.lane.lane, "partition", w.partition, "checkpoint", cp.ID(), "resume", cp.Resume, "was", w.claim.Offset)
}
