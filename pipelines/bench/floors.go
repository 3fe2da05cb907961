package bench

// Floors: the minimum a CI run's ratio goals must reach. The goals say
// where the project is going; a floor says how far below them a change
// may not fall, so a regression fails CI while a goal not yet met does
// not. Floors are checked with --check=ratios and exist for ratio goals
// only: a ratio of two rates of one run is what a shared machine can gate
// on, absolute rates are not.

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// FloorError is a floor that names no ratio goal or holds no number.
type FloorError struct {
	Value  string
	Reason string
}

func (e *FloorError) Error() string {
	return fmt.Sprintf("--floor %s: %s", e.Value, e.Reason)
}

// ParseFloor reads NAME=MIN, NAME being a ratio goal's name.
func ParseFloor(s string) (name string, min float64, err error) {
	name, num, ok := strings.Cut(s, "=")
	if !ok {
		return "", 0, &FloorError{Value: s, Reason: "want NAME=MIN, e.g. chain/fan-out=0.2"}
	}
	if !slices.Contains(RatioGoalNames(), name) {
		return "", 0, &FloorError{Value: s, Reason: fmt.Sprintf("no ratio goal %q; the ratio goals are %s", name, strings.Join(RatioGoalNames(), ", "))}
	}
	min, err = strconv.ParseFloat(num, 64)
	if err != nil || min <= 0 {
		return "", 0, &FloorError{Value: s, Reason: fmt.Sprintf("%q is not a positive number", num)}
	}
	return name, min, nil
}

// RatioGoalNames lists the names of the ratio goals, in table order.
func RatioGoalNames() []string {
	var out []string
	for _, g := range Goals {
		if g.Ratio {
			out = append(out, g.Name)
		}
	}
	return out
}

// WithFloors returns goals with the named ratio goals' minimum replaced by
// their floor; the other goals are unchanged.
func WithFloors(goals []Goal, floors map[string]float64) ([]Goal, error) {
	out := slices.Clone(goals)
	left := maps.Clone(floors)
	for i, g := range out {
		min, ok := floors[g.Name]
		if !ok {
			continue
		}
		if !g.Ratio {
			return nil, &FloorError{Value: g.Name, Reason: "not a ratio goal"}
		}
		out[i] = g.withMin(min)
		out[i].Threshold += " (floor; goal " + g.Threshold + ")"
		delete(left, g.Name)
	}
	if len(left) > 0 {
		return nil, &FloorError{Value: strings.Join(slices.Sorted(maps.Keys(left)), ","), Reason: "no such goal"}
	}
	return out, nil
}
