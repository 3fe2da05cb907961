package schemas

// This file is the one lane parser: the CLI's flags, LUKHAS_LANE, control
// keys and lists of lanes all read a lane through ParseLane.

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownLane is wrapped by ParseLane's and ParseLanes' errors.
var ErrUnknownLane = errors.New("unknown lane")

// LaneNames is the three lanes written for a person: "experimental,
// candidate or prod".
const LaneNames = "experimental, candidate or prod"

// ParseLane reads a lane as people write it: any case, surrounding spaces
// ignored.
func ParseLane(s string) (Lane, error) {
	l := Lane(strings.ToLower(strings.TrimSpace(s)))
	if !l.Valid() {
		return "", fmt.Errorf("%w %q: want %s", ErrUnknownLane, s, LaneNames)
	}
	return l, nil
}

// ParseLanes reads a comma-separated list of lanes, in the order given,
// each once. An empty list is an error.
func ParseLanes(list string) ([]Lane, error) {
	var out []Lane
	for item := range strings.SplitSeq(list, ",") {
		if strings.TrimSpace(item) == "" {
			continue
		}
		l, err := ParseLane(item)
		if err != nil {
			return nil, err
		}
		if !containsLane(out, l) {
			out = append(out, l)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no lane given; want %s", ErrUnknownLane, LaneNames)
	}
	return out, nil
}

func containsLane(ls []Lane, l Lane) bool {
	for _, x := range ls {
		if x == l {
			return true
		}
	}
	return false
}
