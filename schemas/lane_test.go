package schemas

import (
	"errors"
	"slices"
	"testing"
)

func TestParseLaneReadsWhatPeopleWrite(t *testing.T) {
	for in, want := range map[string]Lane{"prod": LaneProd, " Candidate ": LaneCandidate, "EXPERIMENTAL": LaneExperimental} {
		got, err := ParseLane(in)
		if err != nil || got != want {
			t.Errorf("ParseLane(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "staging", "prod2"} {
		if _, err := ParseLane(bad); !errors.Is(err, ErrUnknownLane) {
			t.Errorf("ParseLane(%q) = %v, want ErrUnknownLane", bad, err)
		}
	}
}

func TestParseLanesKeepsOrderOnce(t *testing.T) {
	got, err := ParseLanes("prod, experimental,,prod")
	if err != nil || !slices.Equal(got, []Lane{LaneProd, LaneExperimental}) {
		t.Fatalf("ParseLanes = %v, %v", got, err)
	}
	for _, bad := range []string{"", " , ", "prod,qa"} {
		if _, err := ParseLanes(bad); !errors.Is(err, ErrUnknownLane) {
			t.Errorf("ParseLanes(%q) = %v, want ErrUnknownLane", bad, err)
		}
	}
}
