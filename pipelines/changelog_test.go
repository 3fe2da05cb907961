package pipelines

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// p0Action is a consented, low-risk P0 action request from glyph.
func p0Action(gen *Synthetic, ts time.Time) schemas.MatrizMessage {
	m := gen.Next(ts)
	m.Payload["action_kind"] = "notify_operator"
	m.Payload["priority"] = "P0"
	m.Payload["risk"] = 0.1
	return m
}

func TestWaitingP0ActionSurvivesRestartAndExecutesOnApproval(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	e := newTestEnv(t, lane)
	env := envMap(map[string]string{FlagExtActions: "true"})
	gen := NewSynthetic(lane, 21, 1)
	ask := p0Action(gen, time.Now())
	counters := &LaneCounters{}
	stop := e.runLane(t, RunConfig{Lane: lane, Counters: counters, Getenv: env})
	e.produce(t, lane, []schemas.MatrizMessage{ask}, nil)
	waitCounted(t, counters, 1, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	acfg := ActionsConfig{Lane: lane, Brokers: e.brokers, RegistryURL: e.stack.RegistryURL}
	acts, err := ListActions(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(acts, func(a ActionStatus) bool { return a.MsgID == ask.MsgID })
	if i < 0 || !acts[i].Waiting() {
		t.Fatalf("actions %+v: want the P0 action waiting for approval", acts)
	}
	id := acts[i].ID

	// A new runtime (a restart): the waiting action comes back from the
	// changelog, and the approval executes it at the partition's next frame.
	counters2 := &LaneCounters{}
	stop = e.runLane(t, RunConfig{Lane: lane, Counters: counters2, Getenv: env})
	if _, err := Approve(context.Background(), ApproveConfig{ActionsConfig: acfg, ActionID: id, Approver: "test"}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		// Frames tick on the partition's messages: send one more from the
		// same glyph (same partition) so a frame starts after the approval.
		e.produce(t, lane, []schemas.MatrizMessage{gen.Next(time.Now())}, nil)
		acts, err = ListActions(context.Background(), acfg)
		if err != nil {
			t.Fatal(err)
		}
		i = slices.IndexFunc(acts, func(a ActionStatus) bool { return a.ID == id })
		if i >= 0 && acts[i].Status == stages.ActionExecuted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("approved action %s not executed after the restart: %+v", id, acts[i])
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("P0 action %s waited across a restart (state from the changelog) and executed after approval", id)
}
