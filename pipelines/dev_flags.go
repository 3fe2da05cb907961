package pipelines

// `matriz dev` starts log-only, as the plan asks of every lane at first
// (DISPATCH_ENABLED and EXT_ACTIONS_ENABLED off), and its scenario turns
// both on later through matriz.control, the way an operator would: the
// switch is in the log (a "flag changed" line per lane and a flag_change
// decision on every partition's events) instead of being a start value
// nobody sees change.

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/topics"
)

// DefaultDevFlagsOnAfter is how long `matriz dev` runs log-only before its
// scenario turns dispatch and external actions on: one scenario cycle, so
// every episode is seen once logged only and then acted on.
const DefaultDevFlagsOnAfter = 10 * time.Second

// devScenarioFlags are the flags the scenario switches.
var devScenarioFlags = []string{runtime.FlagDispatch, runtime.FlagExtActions}

// devSwitchedFlags returns the scenario flags the environment leaves to
// the scenario: one set in the environment is the user's choice, which the
// scenario neither resets nor overrides.
func devSwitchedFlags(getenv func(string) string) []string {
	var out []string
	for _, name := range devScenarioFlags {
		if getenv(name) == "" {
			out = append(out, name)
		}
	}
	return out
}

// setDevFlags writes NAME=value to matriz.control for each flag and waits
// until Kafka acknowledged every record, so a lane started afterwards reads
// them before its first frame.
func setDevFlags(ctx context.Context, sink *topics.Sink, names []string, value bool) error {
	done := make(chan error, len(names))
	for _, name := range names {
		m := topics.Message{
			Topic: topics.ControlTopic, Key: []byte(name), Value: fmt.Appendf(nil, "%t", value),
			Ack: topics.NewAckFunc(func(err error) { done <- err }),
		}
		select {
		case sink.In() <- m:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	for range names {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("writing the scenario's flags to %s: %w", topics.ControlTopic, err)
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// switchDevFlagsOn waits after (on clk), then turns the flags on. It
// returns early, with nil, when ctx ends first: dev is stopping.
func switchDevFlagsOn(ctx context.Context, clk clock.Clock, sink *topics.Sink, names []string, after time.Duration) error {
	if len(names) == 0 {
		return nil
	}
	if !clock.Sleep(ctx, clk, after) {
		return nil
	}
	if err := setDevFlags(ctx, sink, names, true); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

// devFlagsPlan is the line dev prints about its flags at start.
func devFlagsPlan(switched []string, after time.Duration) string {
	if len(switched) == 0 {
		return "matriz dev: DISPATCH_ENABLED and EXT_ACTIONS_ENABLED come from the environment; the scenario leaves them alone"
	}
	names := strings.Join(switched, " and ")
	if after < 0 {
		return fmt.Sprintf("matriz dev: log-only: %s off (the scenario does not turn them on)", names)
	}
	return fmt.Sprintf("matriz dev: log-only: %s off; the scenario turns them on through %s in %v", names, topics.ControlTopic, after)
}
