package runtime

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// Flag names, as environment variables and as matriz.control keys; they
// and the rules of a control record live in package stages, which the
// operator command that writes matriz.control reads too.
const (
	FlagDispatch   = stages.FlagDispatch
	FlagLearning   = stages.FlagLearning
	FlagExtActions = stages.FlagExtActions
	FlagCanary     = stages.FlagCanary
)

// FlagNames lists the feature flags and kill switches.
var FlagNames = stages.FlagNames

// ParseFlagValue reads a flag value as people write it: true/false, 1/0,
// yes/no, on/off (any case).
func ParseFlagValue(s string) (bool, error) { return stages.ParseFlagValue(s) }

// StartFlags combines the spec's flags with environment overrides. The
// environment is the process's: a variable set to false is a kill switch
// at start that wins over the spec, the lane's route.dispatch included.
// (The spec's top-level flags cannot tell "off" from "not set", so there a
// lane's own on stands.) CANARY_ENABLED starts on only in a lane whose
// spec has a canary: elsewhere there is nothing for it to turn on.
func StartFlags(spec spec.Flags, lane spec.Lane, getenv func(string) string) (stages.Flags, error) {
	f := stages.Flags{Dispatch: spec.Dispatch || lane.Route.Dispatch, Learning: spec.Learning, ExtActions: spec.ExtActions, Canary: spec.Canary && lane.Canary != nil}
	for _, name := range FlagNames {
		v := getenv(name)
		if v == "" {
			continue
		}
		b, err := ParseFlagValue(v)
		if err != nil {
			return f, fmt.Errorf("environment %s: %w", name, err)
		}
		setFlag(&f, name, b)
	}
	return f, nil
}

func setFlag(f *stages.Flags, name string, v bool) bool {
	switch name {
	case FlagDispatch:
		f.Dispatch = v
	case FlagLearning:
		f.Learning = v
	case FlagExtActions:
		f.ExtActions = v
	case FlagCanary:
		f.Canary = v
	default:
		return false
	}
	return true
}

// LiveFlags are the flags in force for one lane: the start values, changed
// by records on matriz.control. The runtime stamps every frame with Get, so
// a change takes effect at the next frame.
//
// Control records: key "NAME" (every lane) or "lane/NAME" (one lane),
// value "true" or "false"; a tombstone (empty value) removes that
// override. Off wins: a flag is on only when no record in force sets it
// off, so a global "false" is a kill switch no per-lane "true" can
// override, and a per-lane "false" turns one lane off under a global
// "true". A flag no record sets keeps its start value.
type LiveFlags struct {
	lane  schemas.Lane
	start stages.Flags

	mu        sync.Mutex
	global    map[string]bool
	perLane   map[string]bool
	effective stages.Flags
}

// NewLiveFlags returns flags for lane starting at start.
func NewLiveFlags(lane schemas.Lane, start stages.Flags) *LiveFlags {
	return &LiveFlags{lane: lane, start: start, effective: start, global: map[string]bool{}, perLane: map[string]bool{}}
}

// Get returns the flags in force now.
func (l *LiveFlags) Get() stages.Flags {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.effective
}

// FlagChange describes one change of an effective flag.
type FlagChange struct {
	Name     string
	Old, New bool
}

// Apply applies one control record and returns the effective changes it
// caused for this lane (none when the record is for another lane or
// repeats the current value). A malformed record is an error and changes
// nothing.
func (l *LiveFlags) Apply(key, value []byte) ([]FlagChange, error) {
	lane, name, err := stages.ParseControlKey(string(key))
	if err != nil {
		return nil, err
	}
	scoped := lane != ""
	if scoped && lane != l.lane {
		return nil, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	target := l.global
	if scoped {
		target = l.perLane
	}
	if len(value) == 0 {
		delete(target, name)
	} else {
		b, err := ParseFlagValue(string(value))
		if err != nil {
			return nil, fmt.Errorf("control key %q: %w", key, err)
		}
		target[name] = b
	}
	old := l.effective
	next := l.start
	for _, n := range FlagNames {
		g, gok := l.global[n]
		p, pok := l.perLane[n]
		if f := stages.CombineFlag(stages.FlagOverride{On: g, Set: gok}, stages.FlagOverride{On: p, Set: pok}); f.Set {
			setFlag(&next, n, f.On)
		}
	}
	l.effective = next
	return diffFlags(old, next), nil
}

func diffFlags(a, b stages.Flags) []FlagChange {
	var out []FlagChange
	if a.Dispatch != b.Dispatch {
		out = append(out, FlagChange{FlagDispatch, a.Dispatch, b.Dispatch})
	}
	if a.Learning != b.Learning {
		out = append(out, FlagChange{FlagLearning, a.Learning, b.Learning})
	}
	if a.ExtActions != b.ExtActions {
		out = append(out, FlagChange{FlagExtActions, a.ExtActions, b.ExtActions})
	}
	if a.Canary != b.Canary {
		out = append(out, FlagChange{FlagCanary, a.Canary, b.Canary})
	}
	return out
}

// String renders a flag change for the log.
func (c FlagChange) String() string {
	return c.Name + " " + strconv.FormatBool(c.Old) + " → " + strconv.FormatBool(c.New)
}
