package runtime

import (
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestShutdownWithTheBrokerDownIsBounded: the broker goes away under a
// running lane, whose writes ride out an outage for a minute; stopping
// the lane ends it within the drain timeout and a margin, not the retry
// window: the sinks' retries end with the drain.
func TestShutdownWithTheBrokerDownIsBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: stops the embedded broker under a running lane (skipped with -short)")
	}
	const (
		lane     = schemas.LaneProd
		drain    = time.Second
		retryFor = 2 * time.Minute
		bound    = 20 * time.Second // well under retryFor
	)
	env := pipetest.Start(t, lane)
	stop := runLane(t, env, Config{Lane: lane, Group: "outage-shutdown", DrainTimeout: drain, WriteRetryFor: retryFor})
	env.Produce(t, lane, nowBatch(devstack.NewSynthetic(lane, 7, 16), 200), nil)
	results := topics.Name(string(lane), topics.KindResults)
	clocktest.WaitFor(t, time.Minute, "the lane answering", func() bool { return len(env.ReadAll(t, results)) > 0 })

	if err := env.Stack.Broker.Close(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	select {
	case err := <-stopped:
		t.Logf("stopped %v after the signal with the broker down (drain timeout %v): %v", time.Since(start).Round(time.Millisecond), drain, err)
	case <-time.After(bound):
		t.Fatalf("the lane still running %v after the signal with the broker down (drain timeout %v, write retry window %v)", bound, drain, retryFor)
	}
}
