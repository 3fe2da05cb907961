package runtime

// This file decides what becomes of a frame whose chain returned an error.
// A frame is committed only as answered, so an error is never just logged:
//
//   - the frame's work context ended (revocation, shutdown): the records
//     are not bad input and are not dead-lettered. The frame and every
//     later one of the claim are left for the partition's next owner:
//     their Acks fail, they are written nowhere, no cut is taken at or past
//     them, so the committed offset stays before them and the next owner
//     redoes them from the last checkpoint.
//   - any other stage error (a stage refusing the frame, a panic no single
//     record reproduces): every record still live — the failing stage and
//     the stages after it did not complete it — goes to the DLQ with the
//     stage and ReasonStageError. Retrying the frame instead would run it
//     again through stateful stages that already applied part of it
//     (double-applied drift, breakthrough and fold-guard state), and a
//     deterministic error would fail again forever: the DLQ keeps the
//     original bytes for a human and a replay, and the partition goes on.
//     A cut the frame carries is taken as usual: its records are answered
//     (in the DLQ), and the state is what the stages did to them.
//
// Either way every input offset ends with a result, a DLQ record, a late
// mark or a decimation drop — or stays uncommitted for the next owner.

import (
	"context"
	"errors"
	"fmt"

	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// errFrameLeft fails the Acks of a frame's records left for the next owner.
var errFrameLeft = errors.New("left for the partition's next owner: the partition's work ended while the chain ran the frame")

// chainFailed handles err from running the chain over f on ctx; it reports
// whether f is left for the next owner (and must not be cut or written).
func (w *partitionWorker) chainFailed(ctx context.Context, f *stages.Frame, err error) (left bool) {
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		w.left = true
		w.leave(f)
		return true
	}
	stage := "chain"
	var se *stages.StageError
	if errors.As(err, &se) {
		stage = se.Stage
	}
	failed := 0
	for i := range f.Records {
		if r := &f.Records[i]; r.Live() {
			r.FailErr(stage, err)
			failed++
		}
	}
	w.lane.reportErr(fmt.Errorf("chain on %s/%d frame %d: %w (%d records to the DLQ)", w.lane.lane, f.Partition, f.Seq, err, failed))
	return false
}

// leave takes f's records, and the records its decimation events stand
// for, out of the in-flight set and fails their Acks, and empties f of
// outputs: nothing of f is written or committed.
func (w *partitionWorker) leave(f *stages.Frame) {
	for i := range f.Records {
		if p := w.inflight.take(f.Records[i].Offset); p != nil {
			p.msg.Ack.Done(errFrameLeft)
		}
	}
	for _, ev := range f.Events {
		if ev.Kind != schemas.EventDecimation {
			continue
		}
		if d, err := operators.ParseDecimation(ev); err == nil {
			for _, a := range w.inflight.takeAcks(d.Offsets) {
				a.Done(errFrameLeft)
			}
		}
	}
	f.Records, f.Events, f.Traces, f.Actions, f.Cut = nil, nil, nil, nil, nil
}
