package stages

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// Priority is an external action's priority, P0 (most critical) to P3.
type Priority string

// The priorities, most critical first.
const (
	P0 Priority = "P0"
	P1 Priority = "P1"
	P2 Priority = "P2"
	P3 Priority = "P3"
)

// ParsePriority accepts "P0".."P3".
func ParsePriority(s string) (Priority, error) {
	switch p := Priority(s); p {
	case P0, P1, P2, P3:
		return p, nil
	}
	return "", fmt.Errorf("priority %q is not P0, P1, P2 or P3", s)
}

// Action is an external action the guardian allowed and is about to
// execute. ID is deterministic (derived from the message id), so an
// executor can recognise an action it already performed when a frame is
// processed again after a crash.
type Action struct {
	ID       string
	Kind     string // payload action_kind, or the topic
	Priority Priority
	Lane     schemas.Lane
	MsgID    string
	GlyphID  string
	TS       time.Time       // event time of the message that asked for it
	Params   schemas.Payload // the message payload: the action's parameters
	Approved bool            // a human approval was required and given
}

// Executor performs external actions. The guardian calls it only for an
// action that passed every policy, outside dry-run, with
// EXT_ACTIONS_ENABLED on and the approval it needed, and never for a
// replay frame. The runtime wraps it with the lane guard, which refuses any
// lane but candidate and prod, and with its at-most-once guard, which
// answers a redelivered action from the lane's actions topic instead of
// performing it again.
//
// An error makes the decision a deny with the error as reason, except the
// two an at-most-once executor returns (wrapped) for an action it did not
// perform again: ErrAlreadyExecuted and ErrActionUncertain.
type Executor interface {
	Execute(ctx context.Context, lane schemas.Lane, a Action) error
}

// Errors an at-most-once executor returns, wrapped, instead of performing
// an action a second time. The guardian maps them to outcomes, so it needs
// no knowledge of where the executor keeps its record.
var (
	// ErrAlreadyExecuted: the action was performed before (this is a
	// redelivery of its message); it is reported executed, as the first
	// time, and not performed again.
	ErrAlreadyExecuted = errors.New("action already executed")
	// ErrActionUncertain: an earlier attempt started the action and left no
	// outcome — the process died during the call — so it may or may not
	// have happened. It is not performed again; the guardian reports it
	// uncertain for a human to check in the external system.
	ErrActionUncertain = errors.New("action outcome unknown: an earlier attempt started it and recorded no outcome (did the process die during the call?)")
)

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, lane schemas.Lane, a Action) error

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, lane schemas.Lane, a Action) error {
	return f(ctx, lane, a)
}

// RecordOnly is the default Executor: it performs nothing. The executed
// action event the guardian appends to Frame.Actions is the record, for
// whatever consumes matriz.<lane>.actions.
type RecordOnly struct{}

// Execute returns ctx's error, if any, and otherwise nil.
func (RecordOnly) Execute(ctx context.Context, _ schemas.Lane, _ Action) error { return ctx.Err() }

// DefaultExecutorTimeout is how long the guardian waits for an Executor
// by default (GuardianExecutorTimeout).
const DefaultExecutorTimeout = 10 * time.Second

// ExecutorTimeoutError is an Executor call the guardian stopped waiting
// for: it did not return within the timeout. The call was started, so the
// action may or may not have happened; the guardian reports it uncertain.
type ExecutorTimeoutError struct {
	ActionID string
	After    time.Duration
}

func (e *ExecutorTimeoutError) Error() string {
	return fmt.Sprintf("executor did not return within %v for action %s", e.After, e.ActionID)
}

// callExecutor calls ex for a and waits at most timeout: a panic comes
// back as a *PanicError, a call still running after timeout as an
// *ExecutorTimeoutError (its context is cancelled; an executor that
// ignores it is left running on its own goroutine, and the partition goes
// on), and ctx ending first as ctx's error.
func callExecutor(ctx context.Context, ex Executor, timeout time.Duration, lane schemas.Lane, a Action) error {
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				done <- &PanicError{Stage: StageGuardian, Value: v, At: panicSite()}
			}
		}()
		done <- ex.Execute(callCtx, lane, a)
	}()
	answered := func(err error) error {
		if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) && callCtx.Err() != nil {
			return &ExecutorTimeoutError{ActionID: a.ID, After: timeout} // it gave up on our deadline
		}
		return err
	}
	select {
	case err := <-done:
		return answered(err)
	case <-callCtx.Done():
		select {
		case err := <-done: // it returned just in time
			return answered(err)
		default:
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return &ExecutorTimeoutError{ActionID: a.ID, After: timeout}
	}
}
