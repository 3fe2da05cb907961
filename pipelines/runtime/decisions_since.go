package runtime

import "time"

// Where a restart's scan of the event log for earlier decisions starts.
//
// A restart from a cut re-decides every frame past it that an earlier run
// may have decided: drops, rate switches, watermarks, flags, approvals.
// Those runs are not only the one that took the cut. A run that resumed
// from an older cut re-decided, from the log, frames an even earlier run
// had decided (and died without committing), and its own cuts fall inside
// that region: the decisions about frames past such a cut were made before
// the cut was taken, perhaps long before. So the cut carries the bound its
// run scanned from (DecisionsSince), and a restart from it scans from
// there. Only a cut past the region its run re-decided (every earlier run
// read less than it) starts the bound afresh, at its own time less
// decisionSlack. A scan always runs to the partition's end when the
// restart begins, and frames read below it are re-decided even when the
// scan found nothing: no decision recorded for a frame an earlier run
// answered means it was not dropped, and it must not be dropped now.

// decisionSlack is how far before a cut's wall-clock time the scan for the
// decisions made after it starts: the sink stamps records when it writes
// them, which can trail the decision a little.
const decisionSlack = time.Minute

// decisionsSince returns the bound for a cut a restart resumes from at
// resume (the first offset of its open frames, else its next), taken at
// written. A cut whose next lies past the re-decided region while an open
// frame reaches back into it is inside: the restart re-reads that frame's
// records, and earlier runs' decisions about them.
func (w *partitionWorker) decisionsSince(resume int64, written time.Time) time.Time {
	// Resume == Until counts as inside: a run before this one may have
	// read the record at resume-1 and closed frames past the cut with an
	// idle watermark after it.
	if w.decisions != nil && resume <= w.decisions.Until {
		return w.scannedSince
	}
	return written.Add(-decisionSlack)
}

// restartScanSince returns where a restart from the restored cut scans the
// event log from: the cut's bound, or the whole log for a cut without one.
func restartScanSince(cp *Checkpoint) time.Time {
	if cp == nil {
		return time.Time{}
	}
	return cp.DecisionsSince
}
