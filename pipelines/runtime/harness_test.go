package runtime

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// runLane runs a lane's runtime against env until the returned stop is
// called; stop returns Run's error.
func runLane(t *testing.T, env *pipetest.Env, cfg Config) (stop func() error) {
	t.Helper()
	cfg.Brokers, cfg.RegistryURL = env.Brokers, env.RegistryURL
	return pipetest.Run(t, func(ctx context.Context, ready func()) error {
		cfg.Ready = ready
		return Run(ctx, cfg)
	})
}

// nowBatch makes n synthetic messages stamped with the wall clock, as a
// live producer would.
func nowBatch(gen *devstack.Synthetic, n int) []schemas.MatrizMessage {
	out := make([]schemas.MatrizMessage, n)
	for i := range out {
		out[i] = gen.Next(time.Now())
	}
	return out
}

// restartAndReplay restarts the lane with cfg (logging to the test), waits
// until it committed every record of its messages topic, stops it, replays
// the whole log into the replay namespace name and fails t where the
// restart's outputs and the replay's differ. It returns the late decisions
// among the live events: a test of a restart before records of a closed
// frame checks that its case was reached.
func restartAndReplay(t *testing.T, env *pipetest.Env, cfg Config, name string) (late int) {
	t.Helper()
	lane := cfg.Lane
	cfg.Logger = slog.New(slog.NewTextHandler(logWriter{t}, nil))
	stop := runLane(t, env, cfg)
	env.WaitCommitted(t, topics.Name(string(lane), topics.KindMessages), cfg.Group, 2*time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	live := readOutputs(t, env, string(lane), "")
	if _, err := Replay(context.Background(), ReplayConfig{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL, Getenv: cfg.Getenv,
		Name: name, Ranges: fullRanges(t, env, lane)}); err != nil {
		t.Fatal(err)
	}
	compareOutputs(t, live, readOutputs(t, env, string(lane), name))
	for _, v := range live[topics.KindEvents] {
		if v.(*schemas.Event).Kind == schemas.EventLate {
			late++
		}
	}
	return late
}
