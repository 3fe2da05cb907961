package replay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// liveRun runs lane's runtime in group until every record produced so far
// is committed, then stops it.
func liveRun(t *testing.T, env *pipetest.Env, lane schemas.Lane, group string) {
	t.Helper()
	stop := pipetest.Run(t, func(ctx context.Context, ready func()) error {
		return runtime.Run(ctx, runtime.Config{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL, Group: group,
			IdleAfter: 50 * time.Millisecond, CommitInterval: 50 * time.Millisecond, Ready: ready})
	})
	env.WaitCommitted(t, topics.Name(string(lane), topics.KindMessages), group, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}

// liveState is everything a replay must not touch: the end offset of every
// live topic of the lane, the shared control topic, and the live group's
// committed offsets.
func liveState(t *testing.T, env *pipetest.Env, lane schemas.Lane, group string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	names := []string{topics.ControlTopic}
	for _, k := range topics.Kinds() {
		names = append(names, topics.Name(string(lane), k))
	}
	for _, name := range names {
		for p, e := range env.Ends(t, name) {
			out[fmt.Sprintf("%s/%d end", name, p)] = e
		}
	}
	for p, o := range env.Committed(t, topics.Name(string(lane), topics.KindMessages), group) {
		out[fmt.Sprintf("group %s partition %d committed", group, p)] = o
	}
	return out
}

// TestReplayWritesNothingLive: a replay reads the live log and writes only
// into its namespace — every live topic (state and checkpoints included)
// ends where it ended, and the live group's committed offsets stay put.
func TestReplayWritesNothingLive(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a live run and a replay on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	gen := devstack.NewSynthetic(lane, 3, 32)
	base := time.Now().Add(-time.Minute)
	msgs := make([]schemas.MatrizMessage, 1500)
	for i := range msgs {
		msgs[i] = gen.Next(base.Add(time.Duration(i) * time.Millisecond))
	}
	env.Produce(t, lane, msgs, nil)
	const group = "matriz-candidate"
	liveRun(t, env, lane, group)

	before := liveState(t, env, lane, group)
	rep, err := Run(context.Background(), RunConfig{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL, From: "start", Name: "quiet"})
	if err != nil {
		t.Fatal(err)
	}
	after := liveState(t, env, lane, group)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %d before the replay, %d after", k, v, after[k])
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d live positions before, %d after", len(before), len(after))
	}
	var replayed int64
	for _, n := range rep.Stats.Records {
		replayed += n
	}
	results := env.ReadAll(t, topics.ReplayName(string(lane), "quiet", topics.KindResults))
	live := env.ReadAll(t, topics.Name(string(lane), topics.KindResults))
	if replayed != int64(len(msgs)) || len(results) != len(live) {
		t.Fatalf("replayed %d records (want %d) into %d results (live has %d)", replayed, len(msgs), len(results), len(live))
	}
	d, err := Diff(context.Background(), DiffConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lane: lane, Right: "quiet"})
	if err != nil {
		t.Fatal(err)
	}
	if !d.Identical() {
		t.Fatalf("replay differs from live: %+v", d.Totals())
	}
	t.Logf("%d live positions unchanged by a replay of %d records into %d results", len(before), replayed, len(results))

	// A replay into a namespace whose topics are laid out otherwise is
	// refused before anything is written.
	if _, err := Run(context.Background(), RunConfig{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL, From: "start", Name: "bad name!"}); !errors.Is(err, ErrBadNamespace) {
		t.Fatalf("a bad replay name: %v, want ErrBadNamespace", err)
	}
}

// TestReplayOneGlyphAndStopping: --glyph writes only that glyph's outputs
// (the chain still sees every record, so they equal live's), and a replay
// stopped mid-range returns promptly with an error saying so.
func TestReplayOneGlyphAndStopping(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: replays on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	gen := devstack.NewSynthetic(lane, 4, 8)
	base := time.Now().Add(-time.Minute)
	msgs := make([]schemas.MatrizMessage, 3000)
	for i := range msgs {
		msgs[i] = gen.Next(base.Add(time.Duration(i) * time.Millisecond))
	}
	env.Produce(t, lane, msgs, nil)
	liveRun(t, env, lane, "matriz-prod")

	glyph := msgs[0].Glyph.ID
	if _, err := Run(context.Background(), RunConfig{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL, From: "start", Name: "one", Glyph: glyph}); err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, m := range msgs {
		if m.Glyph.ID == glyph {
			want++
		}
	}
	results := env.ReadAll(t, topics.ReplayName(string(lane), "one", topics.KindResults))
	for _, r := range results {
		if string(r.Key) != glyph {
			t.Fatalf("a result of glyph %s in a replay of glyph %s", r.Key, glyph)
		}
	}
	if len(results) != want {
		t.Fatalf("%d results for glyph %s, want its %d messages", len(results), glyph, want)
	}
	for _, k := range []topics.Kind{topics.KindEvents, topics.KindTraces} {
		for _, r := range env.ReadAll(t, topics.ReplayName(string(lane), "one", k)) {
			if string(r.Key) != glyph {
				t.Fatalf("%s keyed %s in a replay of glyph %s", k, r.Key, glyph)
			}
		}
	}
	d, err := Diff(context.Background(), DiffConfig{Brokers: env.Brokers, RegistryURL: env.RegistryURL, Lane: lane, Right: "one", Kinds: []topics.Kind{topics.KindResults}})
	if err != nil {
		t.Fatal(err)
	}
	if k := d.Kinds[0]; k.Changed != 0 || k.OnlyRight != 0 || k.Identical != want {
		t.Fatalf("the glyph's results against live: %+v", k.DiffCounts)
	}

	ctx, cancel := context.WithCancel(context.Background())
	stop := &cancelAfter{n: 100, cancel: cancel}
	start := time.Now()
	_, err = Run(ctx, RunConfig{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL, From: "start", Name: "stopped", Progress: stop})
	if err == nil || !strings.Contains(err.Error(), "stopped before the end of its range") {
		t.Fatalf("a stopped replay returned %v", err)
	}
	t.Logf("glyph %s: %d results, identical to live; a replay stopped after 100 records returned in %v: %v", glyph, want, time.Since(start).Round(time.Millisecond), err)
}

// cancelAfter is a Progress that cancels once n records are done.
type cancelAfter struct {
	mu     sync.Mutex
	done   int64
	n      int64
	cancel func()
}

func (c *cancelAfter) Start([]runtime.ReplayRange) {}

func (c *cancelAfter) Done(_ int32, _ int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done++; c.done == c.n {
		c.cancel()
	}
}
