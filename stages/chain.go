package stages

// Chain runs stages in order over a frame: the runtime's decimation ring hands
// frames to it, and route → learn → adapter → drift → fold-guard →
// breakthrough → guardian → goals annotate them.
//
// The live-record rule: a record that is not Live (Dropped, or Failed and
// bound for the DLQ) is skipped by every later stage. The chain does not
// filter records out of the frame, because the runtime still needs them (a
// dropped record's offset must be committed, a failed one's bytes go to the
// DLQ); each stage checks Record.Live itself before working on a record.
//
// A chain is one partition's: the runtime makes it with a ChainFactory when
// the partition is assigned and drops it when the partition is revoked. It
// carries the Stateful plumbing: Snapshot and Restore fan out to the stages
// that keep state, keyed by stage name, so the runtime writes one changelog
// entry per stage of the partition.
//
// Wrappers: the runtime wraps every stage with its metrics. A wrapper gives
// access to the stage it wraps with a method
//
//	Unwrap() Stage
//
// as an error wrapper does with Unwrap() error, so that Snapshot, Restore
// and As find the stage behind it.

import (
	"context"
	"errors"
	"fmt"
)

// ErrChain is wrapped by the errors NewChain and Chain.Restore return for a
// chain that cannot be built or state that belongs to no stage.
var ErrChain = errors.New("stage chain")

// Chain is an ordered list of stages with unique names.
type Chain struct {
	stages []Stage
	marks  []recordMark // Run's scratch: a chain runs one frame at a time
}

// NewChain returns a chain running stages in the given order. A nil stage
// or two stages with one name is an error: names key the changelog state
// and the runtime's per-stage metrics, so they must be unique.
func NewChain(stages ...Stage) (*Chain, error) {
	seen := make(map[string]int, len(stages))
	for i, s := range stages {
		if s == nil {
			return nil, fmt.Errorf("%w: stage %d is nil", ErrChain, i)
		}
		name := s.Name()
		if name == "" {
			return nil, fmt.Errorf("%w: stage %d (%T) has no name", ErrChain, i, s)
		}
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("%w: stages %d and %d are both named %q; stage names must be unique", ErrChain, j, i, name)
		}
		seen[name] = i
	}
	return &Chain{stages: append([]Stage(nil), stages...)}, nil
}

// Names returns the stage names in order.
func (c *Chain) Names() []string {
	out := make([]string, len(c.stages))
	for i, s := range c.stages {
		out[i] = s.Name()
	}
	return out
}

// Run runs every stage over f in order. A stage that panics is recovered
// per record (recover.go): the records it panics on alone are failed, the
// others go on. Run stops before the next stage once ctx is done, and on
// the first stage error; it returns a *StageError naming the stage, and f
// then holds the annotations of the stages that ran. Run is not safe for
// concurrent use: a chain is one partition's.
func (c *Chain) Run(ctx context.Context, f *Frame) error {
	for _, s := range c.stages {
		if err := ctx.Err(); err != nil {
			return &StageError{Stage: s.Name(), Skipped: true, Err: err}
		}
		var err error
		if c.marks, err = runStage(ctx, s, f, c.marks); err != nil {
			if _, ok := err.(*StageError); ok {
				return err
			}
			return &StageError{Stage: s.Name(), Err: err}
		}
	}
	return nil
}

// Snapshot returns the state of every Stateful stage, by stage name.
// Stages without state are absent.
func (c *Chain) Snapshot() (map[string][]byte, error) {
	out := make(map[string][]byte)
	for _, s := range c.stages {
		st, ok := behind[Stateful](s)
		if !ok {
			continue
		}
		b, err := st.Snapshot()
		if err != nil {
			return nil, fmt.Errorf("snapshot of stage %s: %w", s.Name(), err)
		}
		out[s.Name()] = b
	}
	return out, nil
}

// Restore hands each Stateful stage its state. State for a stage the chain
// does not have, or that has no state, is an error wrapping ErrChain: the
// changelog belongs to another pipeline spec, and silently ignoring it
// would start the partition from scratch. When a stage refuses its state,
// the stages before it are restored already: drop the chain and make a new
// one rather than run it.
func (c *Chain) Restore(state map[string][]byte) error {
	byName := make(map[string]Stateful, len(c.stages))
	for _, s := range c.stages {
		if st, ok := behind[Stateful](s); ok {
			byName[s.Name()] = st
		}
	}
	for name := range state {
		if _, ok := byName[name]; !ok {
			return fmt.Errorf("%w: restore: state for stage %q, which this chain has no stateful stage for (stages: %v)", ErrChain, name, c.Names())
		}
	}
	for _, s := range c.stages {
		b, ok := state[s.Name()]
		if !ok {
			continue
		}
		if err := byName[s.Name()].Restore(b); err != nil {
			return fmt.Errorf("restore of stage %s: %w", s.Name(), err)
		}
	}
	return nil
}

// As returns the first stage of c that is a T, looking behind wrappers:
// the runtime reads, say, the *Drift of a partition's chain for its gauges.
func As[T any](c *Chain) (T, bool) {
	for _, s := range c.stages {
		if t, ok := behind[T](s); ok {
			return t, true
		}
	}
	var zero T
	return zero, false
}

// behind returns s, or the first stage it wraps, that is a T.
func behind[T any](s Stage) (T, bool) {
	for s != nil {
		if t, ok := s.(T); ok {
			return t, true
		}
		w, ok := s.(interface{ Unwrap() Stage })
		if !ok {
			break
		}
		s = w.Unwrap()
	}
	var zero T
	return zero, false
}
