package stages

// The feature flags and kill switches by name, as environment variables and
// as matriz.control records, and the rule that combines a lane's records.
// The runtime that applies matriz.control and the operator command that
// writes and reads it both take them from here, so the two read a record
// the same way.
//
// A control record's key is "NAME" (every lane) or "lane/NAME" (one lane),
// its value "true" or "false"; a tombstone (empty value) removes the
// override. Off wins: a flag is on only when no record in force sets it
// off.

import (
	"fmt"
	"slices"
	"strings"

	"github.com/matriz/pipelines/schemas"
)

// Flag names, as environment variables and as matriz.control keys.
const (
	FlagDispatch   = "DISPATCH_ENABLED"
	FlagLearning   = "LEARNING_ENABLED"
	FlagExtActions = "EXT_ACTIONS_ENABLED"
	// FlagCanary lets a lane with a canary run it in shadow; the canary
	// writes it off itself when it aborts.
	FlagCanary = "CANARY_ENABLED"
)

// FlagNames lists the feature flags and kill switches.
var FlagNames = []string{FlagDispatch, FlagLearning, FlagExtActions, FlagCanary}

// UnknownFlagError is a flag name that is none of FlagNames.
type UnknownFlagError struct {
	Name string
}

func (e *UnknownFlagError) Error() string {
	return fmt.Sprintf("unknown flag %q: want one of %s", e.Name, strings.Join(FlagNames, ", "))
}

// CheckFlagName returns nil for one of FlagNames (exact case, as the keys
// are written) and an *UnknownFlagError otherwise.
func CheckFlagName(name string) error {
	if slices.Contains(FlagNames, name) {
		return nil
	}
	return &UnknownFlagError{Name: name}
}

// ParseFlagValue reads a flag value as people write it: true/false, 1/0,
// yes/no, on/off (any case).
func ParseFlagValue(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, fmt.Errorf("flag value %q is not a boolean; use true or false", s)
}

// ControlKey returns the matriz.control key of flag name for lane, or for
// every lane when lane is empty.
func ControlKey(lane schemas.Lane, name string) string {
	if lane == "" {
		return name
	}
	return string(lane) + "/" + name
}

// ParseControlKey reads a matriz.control key: the lane it is for (empty for
// every lane) and the flag it sets. A key naming no flag gives an error
// wrapping an *UnknownFlagError, one naming no lane an error wrapping
// schemas.ErrUnknownLane.
func ParseControlKey(key string) (schemas.Lane, string, error) {
	lane, name, scoped := strings.Cut(key, "/")
	if !scoped {
		name, lane = key, ""
	}
	if err := CheckFlagName(name); err != nil {
		return "", "", fmt.Errorf("control key %q: %w (optionally prefixed by lane/)", key, err)
	}
	if !scoped {
		return "", name, nil
	}
	l, err := schemas.ParseLane(lane)
	if err != nil {
		return "", "", fmt.Errorf("control key %q: %w", key, err)
	}
	return l, name, nil
}

// FlagOverride is what the records in force on matriz.control say of one
// flag at one scope (every lane, or one lane): Set is false when no record
// is in force there.
type FlagOverride struct {
	On, Set bool
}

// CombineFlag applies the off-wins rule to a flag's global and per-lane
// overrides: the result is set when either is, and on only when neither
// sets it off. A global off is thus a kill switch no lane's on overrides,
// and a lane's off turns one lane off under a global on. An unset result
// leaves the flag at the process's start value.
func CombineFlag(global, lane FlagOverride) FlagOverride {
	if !global.Set && !lane.Set {
		return FlagOverride{}
	}
	return FlagOverride{On: (global.On || !global.Set) && (lane.On || !lane.Set), Set: true}
}
