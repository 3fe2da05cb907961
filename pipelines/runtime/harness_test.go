package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
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
