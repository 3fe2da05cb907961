package runtime

// A lane process killed mid-run resumes from the state at its committed
// offset, so restore + reprocess ends in the same stage state as a run
// that never crashed: each record is applied to drift, fold-guard,
// breakthrough and the guardian's waiting actions exactly once (drift's
// frame-shaped values aside: see perRecord).

import (
	"bytes"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// crashChildEnv carries "<brokers>|<registry url>|<group>" to the child
// half of TestCrashRestoreEndsInTheCleanRunsState.
const crashChildEnv = "RUNTIME_TEST_CRASH_CHILD"

// crashMessages are the run's input: historical event times 3 ms apart
// over 32 glyphs, a waiting P0 action every 40th.
func crashMessages(n int) []schemas.MatrizMessage {
	gen := devstack.NewSynthetic(schemas.LaneProd, 61, 32)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	out := make([]schemas.MatrizMessage, n)
	for i := range out {
		ts := base.Add(time.Duration(i) * 3 * time.Millisecond)
		if i%40 == 39 {
			out[i] = p0Action(gen, ts)
		} else {
			out[i] = gen.Next(ts)
		}
	}
	return out
}

func crashConfig(group string) Config {
	return Config{Lane: schemas.LaneProd, Group: group, SessionTimeout: 6 * time.Second, CommitInterval: 100 * time.Millisecond,
		Getenv: envMap(map[string]string{FlagExtActions: "true"})}
}

func TestCrashRestoreEndsInTheCleanRunsState(t *testing.T) {
	if arg := os.Getenv(crashChildEnv); arg != "" {
		parts := strings.Split(arg, "|")
		cfg := crashConfig(parts[2])
		cfg.Brokers, cfg.RegistryURL = strings.Split(parts[0], ","), parts[1]
		t.Fatalf("lane runtime returned: %v", Run(t.Context(), cfg))
		return
	}
	if testing.Short() {
		t.Skip("integration test: a lane process killed mid-run, its state compared with a clean run's (skipped with -short)")
	}
	const n, group = 6000, "crash"
	lane := schemas.LaneProd
	msgs := crashMessages(n)
	messages := topics.Name(string(lane), topics.KindMessages)

	// The clean run.
	clean := pipetest.Start(t, lane)
	clean.Produce(t, lane, msgs, nil)
	stop := runLane(t, clean, crashConfig(group))
	clean.WaitCommitted(t, messages, group, 3*time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	want := lastCuts(t, clean, lane)

	// The crashed run: a child process killed once it committed a part.
	env := pipetest.Start(t, lane)
	env.Produce(t, lane, msgs, nil)
	child := startLaneChild(t, "TestCrashRestoreEndsInTheCleanRunsState", crashChildEnv, strings.Join([]string{strings.Join(env.Brokers, ","), env.RegistryURL, group}, "|"))
	var done int64
	clocktest.WaitFor(t, 3*time.Minute, "the child committed a third of the input", func() bool {
		done = 0
		for _, off := range env.Committed(t, messages, group) {
			done += max(off, 0)
		}
		return done >= n/3
	}, nil)
	child.kill(t)
	killedAt := env.Committed(t, messages, group)
	stop = runLane(t, env, crashConfig(group))
	env.WaitCommitted(t, messages, group, 3*time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	got := lastCuts(t, env, lane)

	if len(got) != len(want) {
		t.Fatalf("cuts for %d partitions after the crash, %d after the clean run", len(got), len(want))
	}
	for p, w := range want {
		g := got[p]
		if g == nil || g.Resume != w.Resume {
			t.Fatalf("partition %d: final cut %+v after the crash, %+v after the clean run", p, g, w)
		}
		for _, stage := range slices.Sorted(maps.Keys(w.State)) {
			if !bytes.Equal(perRecord(t, stage, g.State[stage]), perRecord(t, stage, w.State[stage])) {
				t.Errorf("partition %d, stage %s: state after the crash differs from the clean run's:\n%.600s\n%.600s", p, stage, g.State[stage], w.State[stage])
			}
		}
		if len(g.State) != len(w.State) || !slices.Equal(g.Approved, w.Approved) {
			t.Errorf("partition %d: stages %v approved %v after the crash, %v %v after the clean run", p, slices.Sorted(maps.Keys(g.State)), g.Approved, slices.Sorted(maps.Keys(w.State)), w.Approved)
		}
	}
	if !t.Failed() {
		t.Logf("%d records; killed with %d committed (%v); every partition's final stage state equals the clean run's", n, done, killedAt)
	}
}

// perRecord returns a stage's snapshot without what frame boundaries alone
// decide: drift's frame counter and its window of per-frame coherence. A
// live run closes frames by the wall clock (idle watermarks, an adaptive
// rate) and records those decisions; a restarted run re-decides what the
// crashed one recorded and decides the rest afresh, so its frames past the
// kill may differ from a clean run's while every record is applied once.
func perRecord(t *testing.T, stage string, snap []byte) []byte {
	t.Helper()
	if stage != "drift" {
		return snap
	}
	var v struct {
		Format int                        `json:"format"`
		Stage  string                     `json:"stage"`
		State  map[string]json.RawMessage `json:"state"`
	}
	if err := json.Unmarshal(snap, &v); err != nil {
		t.Fatalf("drift snapshot: %v", err)
	}
	delete(v.State, "frames")
	delete(v.State, "window")
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
