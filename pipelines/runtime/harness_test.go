package runtime

import (
	"context"
	"fmt"
	"sync"
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
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	cfg.Ready = func() { close(ready) }
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("lane runtime stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("lane runtime not ready within 30s")
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(60 * time.Second):
				err = fmt.Errorf("lane runtime did not stop within 60s")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
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
