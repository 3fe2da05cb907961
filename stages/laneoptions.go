package stages

import (
	"errors"
	"fmt"

	"github.com/matriz/pipelines/schemas"
)

// Sentinel errors of the drift, fold-guard, breakthrough and guardian
// stages. Constructors and Restore wrap them, so callers can test with
// errors.Is and still show the detailed message.
var (
	// ErrDriftConfig: an option given to NewDrift is out of range.
	ErrDriftConfig = errors.New("stages: invalid drift configuration")
	// ErrFoldGuardConfig: an option given to NewFoldGuard is out of range.
	ErrFoldGuardConfig = errors.New("stages: invalid fold-guard configuration")
	// ErrBreakthroughConfig: an option given to NewBreakthrough is out of range.
	ErrBreakthroughConfig = errors.New("stages: invalid breakthrough configuration")
	// ErrGuardianConfig: an option given to NewGuardian is out of range.
	ErrGuardianConfig = errors.New("stages: invalid guardian configuration")
	// ErrSnapshot: bytes given to Restore are not a snapshot this stage wrote.
	ErrSnapshot = errors.New("stages: cannot restore snapshot")
	// ErrPartitionLane: a partition's state belongs to another lane. One
	// stage instance serves the partitions of one lane: Stateful keys state
	// by partition alone, and each lane has its own changelog.
	ErrPartitionLane = errors.New("stages: partition state belongs to another lane")
	// ErrFrameLane: a frame's Lane is not one of the three lanes, so no
	// lane's configuration applies to it.
	ErrFrameLane = errors.New("stages: frame lane is not experimental, candidate or prod")
)

// OptionError is a configuration value a stage constructor refused. It
// names the stage, the option and the lane it was given for (empty when it
// applies to all lanes), the value, and what would be accepted.
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
