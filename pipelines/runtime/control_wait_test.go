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
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestLaneWaitsForControlBeforeWorking: matriz.control holds a global
// EXT_ACTIONS_ENABLED=false (and a per-lane true it must win over) while
// the environment turns external actions on, and the control topic cannot
// be read to its end. The lane does not join its group, works nothing and
// executes nothing while it waits — saying so in the log every interval
// and on its readiness — and once the topic is read it starts with the
// kill switch off: every action is previewed, none executed.
func TestLaneWaitsForControlBeforeWorking(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lane whose control topic cannot be read (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	writeControl(t, env, FlagExtActions, "false")
	writeControl(t, env, string(lane)+"/"+FlagExtActions, "true")
	gen := devstack.NewSynthetic(lane, 13, 16)
	msgs := nowBatch(gen, 200)
	for i := range msgs {
		msgs[i].Payload["action_kind"], msgs[i].Payload["priority"] = "notify", "P2" // executes at once when allowed
	}
	env.Produce(t, lane, msgs, nil)

	var executed atomic.Int64
	release := make(chan struct{})
	var joined atomic.Bool
	logs := &syncBuffer{}
	ready := NewReadiness()
	const group = "control-wait"
	cfg := Config{
		Lane: lane, Group: group, Brokers: env.Brokers, RegistryURL: env.RegistryURL,
		Getenv: envMap(map[string]string{FlagExtActions: "true"}), Readiness: ready,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Executor:       stages.ExecutorFunc(func(context.Context, schemas.Lane, stages.Action) error { executed.Add(1); return nil }),
		Ready:          func() { joined.Store(true) },
		IdleAfter:      50 * time.Millisecond,
		CommitInterval: 100 * time.Millisecond,
		controlWaitLog: 100 * time.Millisecond,
		controlHold:    release,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	var releaseOnce sync.Once
	open := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(func() { open(); cancel(); <-done }) // a held tail would keep Run from stopping

	const waitLine = "waiting to read matriz.control to its end"
	clocktest.WaitFor(t, 30*time.Second, "the lane said three times that it waits for matriz.control", func() bool {
		return strings.Count(logs.String(), waitLine) >= 3 || joined.Load()
	}, logs.String)
	if joined.Load() {
		t.Fatal("the lane joined its group before reading matriz.control")
	}
	if err := ready.Err(); err == nil || !strings.Contains(err.Error(), "has not read matriz.control to its end") {
		t.Fatalf("readiness while waiting: %v", err)
	}
	for p, off := range env.Committed(t, topics.Name(string(lane), topics.KindMessages), group) {
		if off > 0 {
			t.Fatalf("partition %d committed at %d before matriz.control was read", p, off)
		}
	}
	if n := len(env.ReadAll(t, topics.Name(string(lane), topics.KindResults))); n != 0 || executed.Load() != 0 {
		t.Fatalf("%d results and %d executions before matriz.control was read", n, executed.Load())
	}
	waited := strings.Count(logs.String(), waitLine)

	open()
	clocktest.WaitFor(t, 30*time.Second, "the lane joined once matriz.control was read", joined.Load, logs.String)
	var got int64
	clocktest.WaitFor(t, time.Minute, fmt.Sprintf("all %d messages committed", len(msgs)), func() bool {
		got = 0
		for _, o := range env.Committed(t, topics.Name(string(lane), topics.KindMessages), group) {
			got += max(o, 0)
		}
		return got >= int64(len(msgs))
	}, func() string { return fmt.Sprintf("%d committed", got) })
	if err := ready.Err(); err != nil {
		t.Fatalf("not ready after joining: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil // for the cleanup
	statuses := map[string]int{}
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindActions)) {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(context.Background(), env.Serde.Lookup(), m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		s, _ := ev.Payload.String("status")
		statuses[s]++
	}
	if executed.Load() != 0 || statuses[stages.ActionExecuted] != 0 || statuses[stages.ActionPreview] == 0 {
		t.Fatalf("%d executor calls, action statuses %v: want previews only (the global kill switch is off)", executed.Load(), statuses)
	}
	if !strings.Contains(logs.String(), "read matriz.control to its end; starting") {
		t.Fatalf("no line saying the lane started after reading matriz.control:\n%s", logs.String())
	}
	t.Logf("the lane waited (%d warnings, not joined, nothing committed, readiness %q), then started with EXT_ACTIONS_ENABLED off: actions %v, 0 executed",
		waited, "has not read matriz.control to its end", statuses)
}

// TestLaneWaitingForControlStopsOnSignal: a lane waiting to read
// matriz.control stops at once when its context ends (SIGTERM), cleanly.
func TestLaneWaitingForControlStopsOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lane whose control topic cannot be read (skipped with -short)")
	}
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	writeControl(t, env, FlagDispatch, "false")
	logs := &syncBuffer{}
	ready := NewReadiness()
	cfg := Config{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL, Readiness: ready,
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		controlHold: make(chan struct{}), controlWaitLog: 50 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	clocktest.WaitFor(t, 30*time.Second, "the lane waits for matriz.control", func() bool {
		return strings.Contains(logs.String(), "waiting to read matriz.control to its end")
	}, logs.String)
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15s of its context ending while waiting for matriz.control")
	}
	if err := ready.Err(); err == nil || !strings.Contains(err.Error(), "stopped") {
		t.Fatalf("readiness after stopping: %v", err)
	}
	t.Logf("stopped %v after the signal while waiting for matriz.control", time.Since(start).Round(time.Millisecond))
}
