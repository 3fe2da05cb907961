package stages

// The errors of the stateful stages (learn, drift, fold-guard,
// breakthrough, guardian, goals). Constructors, Process and Restore wrap these
// sentinels, so callers can test with errors.Is and still show the
// detailed message.

import (
	"errors"
	"fmt"

	"github.com/matriz/pipelines/schemas"
)

// Sentinel errors of the stateful stages.
var (
	// ErrLearnConfig: an option given to NewLearn is out of range.
	ErrLearnConfig = errors.New("stages: invalid learn configuration")
	// ErrDriftConfig: an option given to NewDrift is out of range.
	ErrDriftConfig = errors.New("stages: invalid drift configuration")
	// ErrFoldGuardConfig: an option given to NewFoldGuard is out of range.
	ErrFoldGuardConfig = errors.New("stages: invalid fold-guard configuration")
	// ErrBreakthroughConfig: an option given to NewBreakthrough is out of range.
	ErrBreakthroughConfig = errors.New("stages: invalid breakthrough configuration")
	// ErrGuardianConfig: an option given to NewGuardian is out of range.
	ErrGuardianConfig = errors.New("stages: invalid guardian configuration")
	// ErrGoalsConfig: an option given to NewGoals is out of range.
	ErrGoalsConfig = errors.New("stages: invalid goals configuration")
	// ErrCanaryConfig: a canary's share or floor is out of range.
	ErrCanaryConfig = errors.New("stages: invalid canary configuration")
	// ErrSnapshot: bytes given to Restore are not a snapshot this stage can
	// read (see snapshot.go).
	ErrSnapshot = errors.New("stages: cannot restore snapshot")
	// ErrPartitionLane: a frame is from another lane than the one the
	// stage instance works. An instance holds one partition's state of one
	// lane: it binds to the lane of the first frame it sees (the guardian
	// to the lane it was made for), and each lane has its own changelog.
	ErrPartitionLane = errors.New("stages: partition state belongs to another lane")
	// ErrFrameLane: a frame's Lane is not one of the three lanes, so no
	// lane's configuration applies to it.
	ErrFrameLane = errors.New("stages: frame lane is not experimental, candidate or prod")
)

// OptionError is a configuration value a stage constructor (or one of the
// runtime's operators: the tick, the decimation ring) refused. It
// names the stage, the option, the value and what would be accepted, and
// the lane when the rule that refused it is the lane's (the experimental
// lane always runs dry); Lane is empty otherwise.
type OptionError struct {
	Stage  string
	Option string
	Lane   schemas.Lane
	Value  any
	Want   string
	Err    error // the stage's sentinel, e.g. ErrDriftConfig
}

func (e *OptionError) Error() string {
	where := ""
	if e.Lane != "" {
		where = " for lane " + string(e.Lane)
	}
	return fmt.Sprintf("%s: option %s%s = %v: want %s", e.Stage, e.Option, where, e.Value, e.Want)
}

// Unwrap returns the stage's sentinel error.
func (e *OptionError) Unwrap() error { return e.Err }
