package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// lastCuts returns each partition's latest cut on lane's state topic.
func lastCuts(t *testing.T, env *pipetest.Env, lane schemas.Lane) map[int]*Checkpoint {
	t.Helper()
	out := map[int]*Checkpoint{}
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindState)) {
		if len(m.Value) == 0 {
			continue
		}
		cp, err := DecodeCheckpoint(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		out[int(cp.Partition)] = cp
	}
	return out
}

// TestOffsetsNeverCommitPastUnacknowledgedState: while the lane's state
// topic cannot be written (it was deleted), no partition's offset moves,
// although the records past it are processed and their results written:
// a commit waits for its cut's state write to be acknowledged. Once the
// topic is back, a restarted lane writes the state again and commits, and
// every partition's latest state is the cut at its committed offset.
func TestOffsetsNeverCommitPastUnacknowledgedState(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	const group = "state-ack"
	messages := topics.Name(string(lane), topics.KindMessages)
	state := topics.Name(string(lane), topics.KindState)
	gen := devstack.NewSynthetic(lane, 51, 64)
	stopped := make(chan struct{})
	var once sync.Once
	log := slog.New(watchHandler{slog.NewTextHandler(logWriter{t}, nil), func(r slog.Record) {
		if r.Message == "output write failed; stopping the lane" {
			once.Do(func() { close(stopped) })
		}
	}})
	cfg := Config{Lane: lane, Group: group, CommitInterval: 100 * time.Millisecond, Logger: log}

	stop := runLane(t, env, cfg)
	env.Produce(t, lane, nowBatch(gen, 300), nil)
	env.WaitCommitted(t, messages, group, 2*time.Minute)
	committed := env.Committed(t, messages, group)
	cuts := lastCuts(t, env, lane)
	for p, off := range committed {
		if cuts[p] == nil || cuts[p].Resume != off {
			t.Fatalf("partition %d committed at %d, its latest state is %+v", p, off, cuts[p])
		}
	}

	// The state topic goes away under the running lane.
	admin, err := topics.NewAdmin(env.Brokers)
	if err != nil {
		t.Fatal(err)
	}
	if err := admin.DeleteTopics(context.Background(), []string{state}); err != nil {
		t.Fatal(err)
	}
	resultsBefore := len(env.ReadAll(t, topics.Name(string(lane), topics.KindResults)))
	env.Produce(t, lane, nowBatch(gen, 300), nil)
	var results atomic.Int64
	clocktest.WaitFor(t, 2*time.Minute, "the new records' results written", func() bool {
		results.Store(int64(len(env.ReadAll(t, topics.Name(string(lane), topics.KindResults)))))
		return results.Load() >= int64(resultsBefore+300)
	}, func() string { return fmt.Sprintf("%d results", results.Load()) })
	// The state write the sink gave up on stops the lane.
	select {
	case <-stopped:
	case <-time.After(2 * time.Minute):
		t.Fatal("the lane did not stop on its failed state write within 2 minutes")
	}
	runErr := stop()
	t.Logf("lane stopped with: %v", runErr)
	moved := []string{}
	for p, off := range env.Committed(t, messages, group) {
		if off != committed[p] {
			moved = append(moved, fmt.Sprintf("partition %d from %d to %d", p, committed[p], off))
		}
	}
	if len(moved) > 0 {
		t.Fatalf("offsets committed while no state write could be acknowledged: %s", strings.Join(moved, ", "))
	}

	// The topic is back: a restart writes the state again and commits.
	specs, err := topics.LaneSpecs(string(lane), len(committed))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		if s.Name == state {
			if _, err := admin.Ensure(context.Background(), []topics.Spec{s}, false); err != nil {
				t.Fatal(err)
			}
		}
	}
	stop = runLane(t, env, cfg)
	env.WaitCommitted(t, messages, group, 2*time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	held := committed
	committed = env.Committed(t, messages, group)
	cuts = lastCuts(t, env, lane)
	for p, off := range committed {
		if cuts[p] == nil || cuts[p].Resume != off {
			t.Fatalf("after the restart partition %d committed at %d, its latest state is %+v", p, off, cuts[p])
		}
	}
	t.Logf("offsets held at %v while the state could not be written; after the restart every partition's state is the cut at its committed offset %v", held, committed)
}

// watchHandler passes every record to its handler and to see.
type watchHandler struct {
	slog.Handler
	see func(slog.Record)
}

func (h watchHandler) Handle(ctx context.Context, r slog.Record) error {
	h.see(r)
	return h.Handler.Handle(ctx, r)
}
