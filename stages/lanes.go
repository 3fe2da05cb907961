package stages

// Lanes: where the lane a process runs in comes from, the guard that keeps
// external actions out of the experimental lane, and the helper tests use to
// declare the lanes they need.
//
// The lane comes from configuration (a --lane flag or a config file) or,
// when that is empty, from the LUKHAS_LANE environment variable, and when
// neither names one it is experimental: the safe lane, where the guardian
// always runs dry and no external action can run. Callers can tell the
// default from a lane someone chose (ResolveLaneSource) and say so.
//
// Code that performs an external action (anything outside the pipeline's
// own topics: a webhook, an actuator, a ticket) runs through a LaneGuard,
// which refuses outside candidate and prod with a *LaneGuardError.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/matriz/pipelines/schemas"
)

// LaneEnv is the environment variable that names the lane when the
// configuration does not.
const LaneEnv = "LUKHAS_LANE"

// DefaultLane is the lane of a process whose configuration and
// environment name none.
const DefaultLane = schemas.LaneExperimental

// Where a resolved lane came from.
const (
	LaneFromConfig  = "config"
	LaneFromEnv     = LaneEnv
	LaneFromDefault = "default"
)

// ErrLaneRefused is wrapped by every *LaneGuardError, so callers can test
// errors.Is(err, ErrLaneRefused) without caring about the details.
var ErrLaneRefused = errors.New("external action refused by the lane guard")

// LaneError reports a lane value that is not one of the three lanes.
type LaneError struct {
	Value  string // what was given
	Source string // where it came from: LaneFromConfig or LaneFromEnv
}

func (e *LaneError) Error() string {
	return fmt.Sprintf("invalid lane %q from %s: want one of %s", e.Value, e.Source, joinLanes(schemas.Lanes))
}

// ResolveLane returns the lane named by configured or, when configured is
// empty, by LUKHAS_LANE as read through getenv (os.Getenv in production; a
// map lookup in tests), or DefaultLane when neither names one.
// Configuration wins over the environment, as flags do everywhere else.
// Surrounding spaces are ignored and the value is case-insensitive.
func ResolveLane(configured string, getenv func(string) string) (schemas.Lane, error) {
	l, _, err := ResolveLaneSource(configured, getenv)
	return l, err
}

// ResolveLaneSource is ResolveLane that also says where the lane came
// from: LaneFromConfig, LaneFromEnv or LaneFromDefault.
func ResolveLaneSource(configured string, getenv func(string) string) (schemas.Lane, string, error) {
	value, source := strings.TrimSpace(configured), LaneFromConfig
	if value == "" && getenv != nil {
		value, source = strings.TrimSpace(getenv(LaneEnv)), LaneFromEnv
	}
	if value == "" {
		return DefaultLane, LaneFromDefault, nil
	}
	l, err := schemas.ParseLane(value)
	if err != nil {
		return "", source, &LaneError{Value: value, Source: source}
	}
	return l, source, nil
}

// actionLanes are the lanes where external actions may run. It is not an
// exported variable: no caller may widen it.
var actionLanes = []schemas.Lane{schemas.LaneCandidate, schemas.LaneProd}

// ActionLanes returns the lanes where external actions may run.
func ActionLanes() []schemas.Lane { return slices.Clone(actionLanes) }

// ActionsAllowed reports whether external actions may run in lane l.
func ActionsAllowed(l schemas.Lane) bool { return slices.Contains(actionLanes, l) }

// LaneGuardError is why a LaneGuard refused an action: which action, in
// which lane, and where actions are allowed.
type LaneGuardError struct {
	Lane    schemas.Lane
	Action  string
	Allowed []schemas.Lane
}

func (e *LaneGuardError) Error() string {
	return fmt.Sprintf("lane guard: external action %q refused in lane %q: external actions run only in %s; promote the pipeline to one of those lanes, or keep it in dry-run",
		e.Action, e.Lane, joinLanes(e.Allowed))
}

// Unwrap makes errors.Is(err, ErrLaneRefused) true.
func (e *LaneGuardError) Unwrap() error { return ErrLaneRefused }

// LaneGuard wraps code that performs external actions and refuses to run
// it outside candidate and prod.
type LaneGuard struct {
	lane schemas.Lane
}

// NewLaneGuard returns the guard for lane l. An invalid lane is an error:
// a guard that does not know its lane cannot decide.
func NewLaneGuard(l schemas.Lane) (*LaneGuard, error) {
	if !l.Valid() {
		return nil, &LaneError{Value: string(l), Source: "config"}
	}
	return &LaneGuard{lane: l}, nil
}

// Lane returns the lane the guard decides for.
func (g *LaneGuard) Lane() schemas.Lane { return g.lane }

// Check returns nil when action may run in the guard's lane and a
// *LaneGuardError otherwise.
func (g *LaneGuard) Check(action string) error {
	if ActionsAllowed(g.lane) {
		return nil
	}
	return &LaneGuardError{Lane: g.lane, Action: action, Allowed: ActionLanes()}
}

// Do runs fn when action may run in the guard's lane, and returns the
// *LaneGuardError without calling fn otherwise.
func (g *LaneGuard) Do(ctx context.Context, action string, fn func(context.Context) error) error {
	if err := g.Check(action); err != nil {
		return err
	}
	return fn(ctx)
}

// Wrap returns fn guarded: the returned function refuses, without calling
// fn, outside candidate and prod. It is the middleware form of Do for code
// that is handed an action function to call later.
func (g *LaneGuard) Wrap(action string, fn func(context.Context) error) func(context.Context) error {
	return func(ctx context.Context) error { return g.Do(ctx, action, fn) }
}

// LaneTB is the part of testing.TB that RequireLane uses; *testing.T and
// *testing.B satisfy it. It is an interface so that package stages does not
// import testing.
type LaneTB interface {
	Helper()
	Skipf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// RequireLane lets a test declare the lanes it needs. The lane under test
// is the one LUKHAS_LANE names, DefaultLane when it is unset, as for every
// process; the test is skipped, with a message saying which lane it needs
// and how to run it, when that is another lane. A value that is not a lane
// fails the test: a typo must not turn into a silent skip.
func RequireLane(t LaneTB, lanes ...schemas.Lane) {
	t.Helper()
	requireLane(t, osGetenv, lanes...)
}

// osGetenv is os.Getenv; RequireLane's tests call requireLane with a map.
var osGetenv = os.Getenv

func requireLane(t LaneTB, getenv func(string) string, lanes ...schemas.Lane) {
	t.Helper()
	if len(lanes) == 0 {
		t.Fatalf("RequireLane: no lanes given; name the lanes this test needs")
		return
	}
	l, source, err := ResolveLaneSource("", getenv)
	if err != nil {
		t.Fatalf("RequireLane: %v", err)
		return
	}
	if !slices.Contains(lanes, l) {
		under := LaneEnv + "=" + string(l)
		if source == LaneFromDefault {
			under = LaneEnv + " is unset, so the lane under test is " + string(l)
		}
		t.Skipf("skipped: this test needs lane %s, and %s; run it with %s=%s",
			joinLanes(lanes), under, LaneEnv, lanes[0])
	}
}

func joinLanes(ls []schemas.Lane) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = string(l)
	}
	return strings.Join(s, "|")
}
