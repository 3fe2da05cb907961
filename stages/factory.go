package stages

// Factories make a lane's chain once per partition. A stateful stage is one
// partition's state, so the runtime needs a fresh instance for every
// partition it is assigned, while a stateless stage (route, adapter) can
// serve them all: PerPartition and Shared say which, and a ChainFactory
// makes one partition's chain from them.

import (
	"fmt"
	"reflect"
)

// Factory makes the instance of one stage that works one partition.
type Factory interface {
	// Name is the name of the stages New makes.
	Name() string
	New() (Stage, error)
}

// Shared returns the factory of a stage that every partition shares: New
// returns st itself. st must be safe for concurrent use, as partitions run
// on their own goroutines.
func Shared(st Stage) Factory { return sharedFactory{st} }

type sharedFactory struct{ st Stage }

func (s sharedFactory) Name() string {
	if s.st == nil {
		return ""
	}
	return s.st.Name()
}

func (s sharedFactory) New() (Stage, error) { return s.st, nil }

// PerPartition returns the factory of a stage whose instances keep one
// partition's state: New calls mk for a fresh instance every time.
func PerPartition[S Stage](name string, mk func() (S, error)) Factory {
	return perPartition[S]{name: name, mk: mk}
}

type perPartition[S Stage] struct {
	name string
	mk   func() (S, error)
}

func (p perPartition[S]) Name() string { return p.name }

func (p perPartition[S]) New() (Stage, error) {
	if p.mk == nil {
		return nil, fmt.Errorf("%w: PerPartition(%q) has no constructor", ErrChain, p.name)
	}
	st, err := p.mk()
	if err != nil {
		return nil, err
	}
	if v := reflect.ValueOf(st); v.Kind() == reflect.Pointer && v.IsNil() {
		return nil, fmt.Errorf("%w: the constructor of %q returned a nil %T and no error", ErrChain, p.name, st)
	}
	return st, nil
}

// ChainFactory makes the chain of one lane for one partition at a time.
type ChainFactory struct {
	fs []Factory
}

// NewChainFactory returns a factory of chains running the stages fs make,
// in the given order. A nil factory, one without a name, or two with one
// name is an error wrapping ErrChain, as in NewChain. It makes one chain
// to check every factory, so a stage option the constructor refuses fails
// here, when the lane is built, and not when a partition is assigned.
func NewChainFactory(fs ...Factory) (*ChainFactory, error) {
	seen := make(map[string]int, len(fs))
	for i, f := range fs {
		if f == nil {
			return nil, fmt.Errorf("%w: factory %d is nil", ErrChain, i)
		}
		name := f.Name()
		if name == "" {
			return nil, fmt.Errorf("%w: factory %d (%T) has no name", ErrChain, i, f)
		}
		if j, dup := seen[name]; dup {
			return nil, fmt.Errorf("%w: factories %d and %d are both named %q; stage names must be unique", ErrChain, j, i, name)
		}
		seen[name] = i
	}
	c := &ChainFactory{fs: append([]Factory(nil), fs...)}
	if _, err := c.New(); err != nil {
		return nil, err
	}
	return c, nil
}

// Names returns the stage names in order.
func (c *ChainFactory) Names() []string {
	out := make([]string, len(c.fs))
	for i, f := range c.fs {
		out[i] = f.Name()
	}
	return out
}

// New returns one partition's chain: the shared stages and fresh instances
// of the others. A constructor's error is wrapped with ErrChain and the
// stage's name.
func (c *ChainFactory) New() (*Chain, error) {
	stages := make([]Stage, len(c.fs))
	for i, f := range c.fs {
		st, err := f.New()
		if err != nil {
			return nil, fmt.Errorf("%w: stage %s: %w", ErrChain, f.Name(), err)
		}
		if st != nil && st.Name() != f.Name() {
			return nil, fmt.Errorf("%w: factory %q made a stage named %q; the names key the changelog and must agree", ErrChain, f.Name(), st.Name())
		}
		stages[i] = st
	}
	return NewChain(stages...)
}
