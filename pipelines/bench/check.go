package bench

import (
	"fmt"
	"strings"
)

// CheckMode says which goals `matriz bench --check` gates on.
type CheckMode int

const (
	CheckNone   CheckMode = iota // no gate: the report only
	CheckAll                     // every goal of the table
	CheckRatios                  // the ratio goals only: what a shared CI machine can gate on
)

// CheckModeError is a --check value that names no mode.
type CheckModeError struct{ Value string }

func (e *CheckModeError) Error() string {
	return fmt.Sprintf("--check=%s: want --check (every goal) or --check=ratios (the ratio goals only)", e.Value)
}

// ParseCheckMode reads a --check value: "true"/"all" (a bare --check),
// "ratios", or "false"/"" for none.
func ParseCheckMode(s string) (CheckMode, error) {
	switch strings.ToLower(s) {
	case "", "false", "none":
		return CheckNone, nil
	case "true", "all":
		return CheckAll, nil
	case "ratios":
		return CheckRatios, nil
	}
	return CheckNone, &CheckModeError{Value: s}
}

func (m CheckMode) String() string {
	switch m {
	case CheckAll:
		return "all"
	case CheckRatios:
		return "ratios"
	}
	return "false"
}

// GoalsMissedError is a check that failed: the outcomes it missed (or
// did not measure), one line each.
type GoalsMissedError struct {
	Missed  []Outcome
	Checked int
}

func (e *GoalsMissedError) Error() string {
	return fmt.Sprintf("--check: %d of %d goals missed or not measured", len(e.Missed), e.Checked)
}

// Lines is one line per missed goal: name, threshold, what was measured.
func (e *GoalsMissedError) Lines() []string {
	out := make([]string, len(e.Missed))
	for i, o := range e.Missed {
		out[i] = o.String()
	}
	return out
}

// Check evaluates the goals mode selects against r. It returns every
// outcome, and a *GoalsMissedError when any was missed or not measured.
func Check(r Report, mode CheckMode) ([]Outcome, error) {
	return CheckGoals(Goals, r, mode)
}

// CheckGoals is Check against goals (Goals, or Goals WithFloors).
func CheckGoals(goals []Goal, r Report, mode CheckMode) ([]Outcome, error) {
	if mode == CheckNone {
		return nil, nil
	}
	outs := Evaluate(goals, r, mode == CheckRatios)
	var missed []Outcome
	for _, o := range outs {
		if o.Missed() {
			missed = append(missed, o)
		}
	}
	if len(missed) > 0 {
		return outs, &GoalsMissedError{Missed: missed, Checked: len(outs)}
	}
	return outs, nil
}
