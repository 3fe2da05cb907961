package registry

import "strings"

// Level is a compatibility level: which earlier schemas a new one is checked
// against, and in which direction data must stay readable.
type Level string

// The compatibility levels Confluent Schema Registry knows. BACKWARD is the
// default, as there.
const (
	// LevelNone accepts every new schema.
	LevelNone Level = "NONE"
	// LevelBackward: the new schema, as reader, reads data written with
	// the latest one, so consumers upgrade first.
	LevelBackward Level = "BACKWARD"
	// LevelBackwardTransitive: like LevelBackward against every earlier
	// version.
	LevelBackwardTransitive Level = "BACKWARD_TRANSITIVE"
	// LevelForward: the latest schema, as reader, reads data written with
	// the new one, so producers upgrade first.
	LevelForward Level = "FORWARD"
	// LevelForwardTransitive: like LevelForward against every earlier
	// version.
	LevelForwardTransitive Level = "FORWARD_TRANSITIVE"
	// LevelFull: both LevelBackward and LevelForward.
	LevelFull Level = "FULL"
	// LevelFullTransitive: both directions against every earlier version.
	LevelFullTransitive Level = "FULL_TRANSITIVE"
)

// Levels lists every level, in the order Confluent documents them.
var Levels = []Level{
	LevelNone, LevelBackward, LevelBackwardTransitive, LevelForward,
	LevelForwardTransitive, LevelFull, LevelFullTransitive,
}

// ParseLevel reads a level name, in any letter case. An unknown name gives
// an *Error of kind ErrInvalidLevel that lists the valid ones.
func ParseLevel(s string) (Level, error) {
	l, err := parseLevel(s)
	if err != nil {
		return "", err
	}
	return l, nil
}

func parseLevel(s string) (Level, *Error) {
	l := Level(strings.ToUpper(strings.TrimSpace(s)))
	if l.valid() {
		return l, nil
	}
	return "", apiErr(ErrInvalidLevel,
		"invalid compatibility level %q: valid values are NONE, BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL and FULL_TRANSITIVE", s)
}

func (l Level) valid() bool {
	for _, v := range Levels {
		if l == v {
			return true
		}
	}
	return false
}

// backward reports whether the new schema must read older data.
func (l Level) backward() bool {
	return l == LevelBackward || l == LevelBackwardTransitive || l == LevelFull || l == LevelFullTransitive
}

// forward reports whether older schemas must read the new schema's data.
func (l Level) forward() bool {
	return l == LevelForward || l == LevelForwardTransitive || l == LevelFull || l == LevelFullTransitive
}

// transitive reports whether every earlier version counts, not only the
// latest.
func (l Level) transitive() bool {
	return l == LevelBackwardTransitive || l == LevelForwardTransitive || l == LevelFullTransitive
}

// String returns the level's name.
func (l Level) String() string { return string(l) }
