package runtime

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// blockingExecutor is an external action that never finishes on its own:
// it returns only when its context ends.
type blockingExecutor struct {
	once    sync.Once
	started chan struct{}
	ended   chan struct{}
}

func (x *blockingExecutor) Execute(ctx context.Context, _ schemas.Lane, _ stages.Action) error {
	x.once.Do(func() { close(x.started) })
	<-ctx.Done()
	select {
	case <-x.ended:
	default:
		close(x.ended)
	}
	return ctx.Err()
}

// TestDrainIsBoundedAndCancelsTheWork: a partition whose chain is stuck in
// an external action when the lane stops does not hold the member past its
// drain timeout: once the drain is over the partition's work context ends
// (the executor sees it) and Run returns, well before the session timeout
// would have the coordinator evict the member.
func TestDrainIsBoundedAndCancelsTheWork(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	exec := &blockingExecutor{started: make(chan struct{}), ended: make(chan struct{})}
	const session = 10 * time.Second
	stop := runLane(t, env, Config{Lane: lane, SessionTimeout: session, Executor: exec, Logger: testLogger(t),
		Getenv: envMap(map[string]string{FlagExtActions: "true"})})
	gen := devstack.NewSynthetic(lane, 31, 1)
	ask := p0Action(gen, time.Now())
	ask.Payload["priority"] = "P1" // executes without waiting for an approval
	env.Produce(t, lane, []schemas.MatrizMessage{ask}, nil)
	select {
	case <-exec.started:
	case <-time.After(time.Minute):
		t.Fatal("the action was not executed within a minute")
	}
	start := time.Now()
	err := stop()
	took := time.Since(start)
	t.Logf("Run returned %v after %v with the chain stuck in an action (drain timeout %v, session %v)", err, took.Round(time.Millisecond), session/2, session)
	select {
	case <-exec.ended:
	default:
		t.Fatal("the stuck action's context did not end with the drain")
	}
	if took > session {
		t.Fatalf("Run took %v to return, past the session timeout %v", took, session)
	}
}
