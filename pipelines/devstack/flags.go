package devstack

// `matriz dev` starts log-only, as the plan asks of every lane at first
// (DISPATCH_ENABLED and EXT_ACTIONS_ENABLED off), and its scenario turns
// both on later through matriz.control, the way an operator would with
// `matriz flags set`: the switch is in the log (a "flag changed" line per
// lane and a flag_change decision on every partition's events) instead of
// being a start value nobody sees change.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// scenarioFlags are the flags the scenario switches.
var scenarioFlags = []string{stages.FlagDispatch, stages.FlagExtActions}

// SwitchedFlags returns the flags the scenario switches that the
// environment leaves to it: one set in the environment is the user's
// choice, which the scenario neither resets nor overrides.
func SwitchedFlags(getenv func(string) string) []string {
	var out []string
	for _, name := range scenarioFlags {
		if getenv(name) == "" {
			out = append(out, name)
		}
	}
	return out
}

// SetFlags writes NAME=value for every lane to matriz.control for each
// flag, each acknowledged before the next, so a lane started afterwards
// reads them before its first frame.
func SetFlags(ctx context.Context, brokers []string, names []string, value bool) error {
	for _, name := range names {
		if err := ops.SetFlag(ctx, brokers, "", name, value); err != nil {
			return fmt.Errorf("the scenario's %s=%t: %w", name, value, err)
		}
	}
	return nil
}

// SwitchFlagsOn waits after (on clk), then turns the flags on. It returns
// early, with nil, when ctx ends first: dev is stopping.
func SwitchFlagsOn(ctx context.Context, clk clock.Clock, brokers []string, names []string, after time.Duration) error {
	if len(names) == 0 || !clock.Sleep(ctx, clk, after) {
		return nil
	}
	if err := SetFlags(ctx, brokers, names, true); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// FlagsPlan is the line dev prints about its flags at start; after < 0
// means the scenario never turns them on.
func FlagsPlan(switched []string, after time.Duration) string {
	if len(switched) == 0 {
		return "matriz dev: DISPATCH_ENABLED and EXT_ACTIONS_ENABLED come from the environment; the scenario leaves them alone"
	}
	names := strings.Join(switched, " and ")
	if after < 0 {
		return fmt.Sprintf("matriz dev: log-only: %s off (the scenario does not turn them on)", names)
	}
	return fmt.Sprintf("matriz dev: log-only: %s off; the scenario turns them on through %s in %v", names, topics.ControlTopic, after)
}
