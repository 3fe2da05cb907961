package stages

// This file is how the chain survives a stage that fails: a stage error
// comes back from Chain.Run as a *StageError naming the stage, and a stage
// panic is recovered per record, so one bad record goes to the DLQ instead
// of taking the process down — and, after a restart, down again on the
// same record (a crash loop).
//
// On a panic of stage S over frame f the chain
//
//  1. puts every record's annotations back as they were before S ran (the
//     result's OK, reasons and trace, drop, route, node input, verdict,
//     failure);
//  2. runs S again over each still-live record alone, in a one-record
//     frame that shares f's header; a record whose run panics too is
//     failed with S and a *PanicError ("panic: <value>", and the function,
//     file and line that panicked), and what S emitted about it is
//     dropped; the others keep their annotations and their emissions;
//  3. goes on with the next stage.
//
// What S emitted during the run that panicked stays (an executed action's
// event must not vanish); a re-run's events, traces and actions are added
// unless the frame has one with the same id already — ids are
// deterministic, so the second copy of a frame-level event is recognised.
//
// The trade-off for a stateful stage: S's state is not rolled back. The
// records S handled before it panicked are applied to its state a second
// time in their one-record frames (a drift EMA step, a breakthrough sample
// taken twice, a fold counted twice), and frame-level rules (fold-guard's
// per-tick budget) see the records one at a time. Rolling back would need
// a snapshot of every stateful stage before every frame, a cost on every
// frame for a case that is a bug to fix, not a steady state; the
// guardian is safe to re-run, since it keeps waiting actions by id and
// the runtime's at-most-once executor answers an action it already called
// from its record. A panic no single record reproduces is the frame's:
// Run returns it as a *StageError, and the runtime sends the frame's live
// records to the DLQ.
//
// Only panics are recovered: a fatal runtime error (concurrent map
// writes, out of memory, stack exhaustion) still ends the process.

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/matriz/pipelines/schemas"
)

// StageError is the error Chain.Run returns when a stage stopped the
// frame: the stage's own error, the frame's context ending before the
// stage (Skipped), or a panic no single record reproduces (Err is a
// *PanicError). The stages after it did not run on the frame.
type StageError struct {
	Stage   string
	Skipped bool // the context ended before the stage ran
	Err     error
}

func (e *StageError) Error() string {
	if e.Skipped {
		return fmt.Sprintf("chain stopped before stage %s: %v", e.Stage, e.Err)
	}
	return fmt.Sprintf("stage %s: %v", e.Stage, e.Err)
}

// Unwrap returns the stage's error.
func (e *StageError) Unwrap() error { return e.Err }

// PanicError is a recovered panic: of a stage over one record (the
// record's Failure.Err), or of an Executor (the guardian's deny reason).
type PanicError struct {
	Stage string
	Value any
	// At is where the panic was raised: "function file:line" of the first
	// frame below the runtime's panic machinery; empty when unknown.
	At string
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// FailErr marks r for the DLQ like Fail, with err's text as the reason and
// err kept on the Failure for the runtime to classify (a *PanicError, a
// *StageError).
func (r *Record) FailErr(stage string, err error) {
	if r.Failure == nil {
		r.Failure = &Failure{Stage: stage, Reason: err.Error(), Err: err}
	}
}

// recordMark is what a stage may change on a record, saved before it runs.
type recordMark struct {
	result     *schemas.MatrizResult
	ok         bool
	reasons    int
	trace      int
	dropped    bool
	dropReason string
	route      *Route
	nodeMsg    *schemas.MatrizMessage
	verdict    *Verdict
	failure    *Failure
}

func markRecord(r *Record) recordMark {
	m := recordMark{result: r.Result, dropped: r.Dropped, dropReason: r.DropReason, route: r.Route, nodeMsg: r.NodeMsg, verdict: r.Verdict, failure: r.Failure}
	if r.Result != nil {
		m.ok, m.reasons, m.trace = r.Result.OK, len(r.Result.Reasons), len(r.Result.Trace)
	}
	return m
}

// reset puts r's annotations back as m saved them. Scores stay: a re-run
// sets the same names again, and a failed record's scores are not written.
func (m *recordMark) reset(r *Record) {
	r.Result, r.Dropped, r.DropReason, r.Route, r.NodeMsg, r.Verdict, r.Failure = m.result, m.dropped, m.dropReason, m.route, m.nodeMsg, m.verdict, m.failure
	if r.Result != nil {
		r.Result.OK = m.ok
		r.Result.Reasons = r.Result.Reasons[:min(m.reasons, len(r.Result.Reasons))]
		r.Result.Trace = r.Result.Trace[:min(m.trace, len(r.Result.Trace))]
	}
}

// runStage runs s over f and recovers a panic per record (see the file
// comment). marks is the chain's scratch space, returned for reuse.
func runStage(ctx context.Context, s Stage, f *Frame, marks []recordMark) ([]recordMark, error) {
	marks = marks[:0]
	for i := range f.Records {
		marks = append(marks, markRecord(&f.Records[i]))
	}
	emitted := [3]int{len(f.Events), len(f.Traces), len(f.Actions)}
	p, err := processRecovering(ctx, s, f)
	if p == nil {
		return marks, err
	}
	for i := range f.Records {
		marks[i].reset(&f.Records[i])
	}
	return marks, isolate(ctx, s, f, marks, emitted, p)
}

// isolate runs s over each live record of f alone and fails the records
// it panics on. p is the panic of the run over the whole frame.
func isolate(ctx context.Context, s Stage, f *Frame, marks []recordMark, emitted [3]int, p *PanicError) error {
	seen := make(map[string]bool, len(f.Events)+len(f.Traces)+len(f.Actions))
	for _, e := range f.Events {
		seen[e.ID] = true
	}
	for _, t := range f.Traces {
		seen[t.ID] = true
	}
	for _, a := range f.Actions {
		seen[a.ID] = true
	}
	var blamed map[string]bool // msg ids of the records that panic alone
	for i := range f.Records {
		r := &f.Records[i]
		if !r.Live() {
			continue
		}
		one := *f
		one.Records = f.Records[i : i+1 : i+1]
		one.Events, one.Traces, one.Actions = nil, nil, nil
		rp, err := processRecovering(ctx, s, &one)
		if rp != nil {
			marks[i].reset(r)
			r.FailErr(s.Name(), rp)
			if r.Msg != nil {
				if blamed == nil {
					blamed = map[string]bool{}
				}
				blamed[r.Msg.MsgID] = true
			}
			continue
		}
		for _, e := range one.Events {
			if !seen[e.ID] {
				seen[e.ID] = true
				f.Events = append(f.Events, e)
			}
		}
		for _, t := range one.Traces {
			if !seen[t.ID] {
				seen[t.ID] = true
				f.Traces = append(f.Traces, t)
			}
		}
		for _, a := range one.Actions {
			if !seen[a.ID] {
				seen[a.ID] = true
				f.Actions = append(f.Actions, a)
			}
		}
		if err != nil {
			return &StageError{Stage: s.Name(), Err: err}
		}
	}
	if len(blamed) == 0 {
		return &StageError{Stage: s.Name(), Err: p}
	}
	// What the run that panicked emitted about a failed record goes with it.
	f.Events = dropAbout(f.Events, emitted[0], blamed, func(e *schemas.Event) string { return e.MsgID })
	f.Traces = dropAbout(f.Traces, emitted[1], blamed, func(t *schemas.Trace) string { return t.MsgID })
	f.Actions = dropAbout(f.Actions, emitted[2], blamed, func(a *schemas.Event) string { return a.MsgID })
	return nil
}

// dropAbout removes from xs[from:] the items whose msg id is in ids.
func dropAbout[T any](xs []T, from int, ids map[string]bool, msgID func(*T) string) []T {
	keep := xs[:from]
	for i := from; i < len(xs); i++ {
		if !ids[msgID(&xs[i])] {
			keep = append(keep, xs[i])
		}
	}
	clear(xs[len(keep):])
	return keep
}

// processRecovering calls s.Process and turns a panic into a *PanicError.
func processRecovering(ctx context.Context, s Stage, f *Frame) (p *PanicError, err error) {
	defer func() {
		if v := recover(); v != nil {
			p = &PanicError{Stage: s.Name(), Value: v, At: panicSite()}
		}
	}()
	return nil, s.Process(ctx, f)
}

// panicSite returns "function file:line" of the frame that panicked. It
// must be called by the deferred function that recovers: the panicking
// frames are still on the stack then, below runtime.gopanic.
func panicSite() string {
	var pcs [64]uintptr
	n := runtime.Callers(2, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	panicking := false
	for {
		fr, more := frames.Next()
		switch {
		case fr.Function == "runtime.gopanic":
			panicking = true
		case panicking && !strings.HasPrefix(fr.Function, "runtime."):
			return fmt.Sprintf("%s %s:%d", fr.Function, filepath.Base(fr.File), fr.Line)
		}
		if !more {
			return ""
		}
	}
}
