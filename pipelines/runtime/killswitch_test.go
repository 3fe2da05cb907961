package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// killSwitchSpecKeys are the keys of the spec's flags block, by flag.
var killSwitchSpecKeys = map[string]string{FlagDispatch: "dispatch", FlagLearning: "learning", FlagExtActions: "ext_actions", FlagCanary: "canary"}

// TestEveryKillSwitchIsInTheSpecAndWired: every flag of the plan is a key
// of the spec's flags block, read from the environment at start (off
// there wins over the spec) and from matriz.control while running, and
// the default chain of prod does something different with it off: no node
// is called, no action executes, no centroid is learned, no input is
// shadowed by the lane's canary.
func TestEveryKillSwitchIsInTheSpecAndWired(t *testing.T) {
	plan := []string{"DISPATCH_ENABLED", "LEARNING_ENABLED", "EXT_ACTIONS_ENABLED", "CANARY_ENABLED"}
	if !slices.Equal(slices.Sorted(slices.Values(FlagNames)), slices.Sorted(slices.Values(plan))) {
		t.Fatalf("the runtime's flags %v are not the plan's kill switches %v", FlagNames, plan)
	}
	lane := schemas.LaneProd
	for _, name := range FlagNames {
		key, ok := killSwitchSpecKeys[name]
		if !ok {
			t.Errorf("%s has no key in the spec's flags block", name)
			continue
		}
		// Every flag off but this one, in a prod lane with a canary
		// (CANARY_ENABLED turns on only lanes that have one).
		yaml := "flags:\n"
		for _, k := range killSwitchSpecKeys {
			yaml += "  " + k + ": " + fmt.Sprint(k == key) + "\n"
		}
		sp, err := spec.Parse("flags.yaml", []byte(yaml+"lanes:\n  prod:\n    canary: {}\n"))
		if err != nil {
			t.Fatalf("flags: {%s: true}: %v", key, err)
		}
		noEnv := func(string) string { return "" }
		f, err := StartFlags(sp.Flags, *sp.Lanes[lane], noEnv)
		if err != nil || !flagOf(f, name) || onCount(f) != 1 {
			t.Errorf("spec flags.%s: true gives %+v (%v), want %s alone on", key, f, err, name)
		}
		f, err = StartFlags(sp.Flags, *sp.Lanes[lane], func(k string) string { return map[string]string{name: "false"}[k] })
		if err != nil || flagOf(f, name) {
			t.Errorf("%s=false in the environment over a spec that turns it on gives %+v (%v), want it off", name, f, err)
		}
		live := NewLiveFlags(lane, allOn())
		if _, err := live.Apply([]byte(name), []byte("false")); err != nil || flagOf(live.Get(), name) {
			t.Errorf("control record %s=false: flags %+v (%v), want it off", name, live.Get(), err)
		}
	}

	def, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	on := killSwitchEffects(t, def.Lanes[lane], allOn())
	if on.dispatched == 0 || on.executed == 0 || on.learned == 0 || on.canaried == 0 {
		t.Fatalf("with every flag on the frame shows %+v: the test's messages do not exercise every switch", on)
	}
	for _, name := range FlagNames {
		off := allOn()
		setFlag(&off, name, false)
		got := killSwitchEffects(t, def.Lanes[lane], off)
		var still int
		switch name {
		case FlagDispatch:
			still = got.dispatched
		case FlagExtActions:
			still = got.executed
		case FlagLearning:
			still = got.learned
		case FlagCanary:
			still = got.canaried
		}
		if still != 0 {
			t.Errorf("with %s off the chain still acts on it: %+v (all on: %+v)", name, got, on)
		}
		t.Logf("%s off: %+v (all on: %+v)", name, got, on)
	}
}

func allOn() stages.Flags {
	return stages.Flags{Dispatch: true, Learning: true, ExtActions: true, Canary: true}
}

func flagOf(f stages.Flags, name string) bool {
	return map[string]bool{FlagDispatch: f.Dispatch, FlagLearning: f.Learning, FlagExtActions: f.ExtActions, FlagCanary: f.Canary}[name]
}

func onCount(f stages.Flags) int {
	n := 0
	for _, name := range FlagNames {
		if flagOf(f, name) {
			n++
		}
	}
	return n
}

// switchEffects counts what each switch lets the chain do in one frame.
type switchEffects struct {
	dispatched int // results a node wrote
	executed   int // actions executed
	learned    int // records whose centroid was learned
	canaried   int // records the lane's canary answered in shadow
}

// killSwitchEffects runs one frame of the lane's default chain under
// flags: 60 synthetic messages, every creative one with features, every
// fifth an action request within policy; and the frame's shadow through a
// canary of the same config on every key.
func killSwitchEffects(t *testing.T, l *spec.Lane, flags stages.Flags) switchEffects {
	t.Helper()
	lane := schemas.LaneProd
	c, err := l.Chain(lane, spec.ChainOptions{Executor: stages.RecordOnly{}})
	if err != nil {
		t.Fatal(err)
	}
	chain, err := c.Factory.New()
	if err != nil {
		t.Fatal(err)
	}
	gen := devstack.NewSynthetic(lane, 7, 6)
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f := &stages.Frame{Lane: lane, Start: start, End: start.Add(time.Second / 30), FPS: 30, Flags: flags}
	for i := range 60 {
		m := gen.Next(start.Add(time.Duration(i) * time.Millisecond))
		if m.Topic == "creative" {
			m.Payload["features"] = []float64{1, float64(i%3) + 0.5, 0.25}
		}
		if i%5 == 0 {
			m.Payload["action_kind"], m.Payload["priority"], m.Payload["risk"] = "notify", "P2", 0.05
		}
		f.Records = append(f.Records, stages.Record{Offset: int64(i), Msg: &m})
	}
	lc, err := newLaneCanary(lane, &spec.Canary{From: lane, Fraction: 1, MinSamples: 1, Lane: *l})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorker(&laneRuntime{lane: lane, canary: lc, log: slog.New(slog.DiscardHandler)}, 0)
	for _, r := range f.Records {
		w.inflight.put(r.Offset, &pending{msg: topics.Message{Key: []byte(r.Msg.Glyph.ID), Offset: r.Offset}})
	}
	if err := w.canaryFrame(f); err != nil {
		t.Fatal(err)
	}
	if err := chain.Run(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	w.runCanary(context.Background(), f)
	var e switchEffects
	for _, m := range w.encodeCanary() {
		if m.Topic == topics.CanaryName(string(lane), topics.KindResults) {
			e.canaried++
		}
	}
	if n := lc.executorCalls.Load(); n != 0 {
		t.Errorf("the canary's executor was called %d times", n)
	}
	for _, r := range f.Records {
		if r.Result != nil && r.Result.Node != stages.RouterNode {
			e.dispatched++
		}
		if r.Result == nil {
			continue
		}
		for _, cr := range r.Result.Trace {
			if learned, _ := cr.Data["learned"].(bool); cr.Stage == stages.StageLearn && learned {
				e.learned++
			}
		}
	}
	for _, a := range f.Actions {
		if s, _ := a.Payload.String("status"); s == "executed" {
			e.executed++
		}
	}
	return e
}
