package runtime

import "fmt"

// A final cut is the one a clean stop takes after its last input: its run
// read nothing past it, so a restart from it reads no decisions from the
// event log (loadRestartDecisions). That stays true only until a run
// resumes from it. The run that does reads past the cut and decides —
// watermarks, drops, rate switches, approvals, some executed — and if it
// dies before its own first cut, the final cut is still the latest one:
// the restart after the crash would skip the scan and decide those frames
// afresh, differently from the decisions on the log that a replay
// applies. So a run resuming from a final cut writes it back unmarked
// before it reads a record: a restart from it then scans.

// reopenFinalCut writes the restored final cut back to the changelog as an
// ordinary cut, and waits until Kafka acknowledged it.
func (w *partitionWorker) reopenFinalCut() error {
	cp := w.restored
	if cp == nil || !cp.Final || w.fence == nil || w.lane.sinks == nil {
		return nil // no final cut, or not a live run on the lane's topics
	}
	reopened := *cp
	reopened.Final = false
	if err := w.saveCut(&reopened, nil); err != nil {
		return fmt.Errorf("write the clean stop's cut %s back unmarked: %w", cp.ID(), err)
	}
	w.lane.log.Info("reopened the clean stop's cut", "lane", w.lane.lane, "partition", w.partition, "checkpoint", cp.ID())
	return nil
}
