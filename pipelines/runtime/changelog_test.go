package runtime

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/observe"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// p0Action is a consented, low-risk P0 action request from glyph.
func p0Action(gen *devstack.Synthetic, ts time.Time) schemas.MatrizMessage {
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
	e := pipetest.Start(t, lane)
	env := envMap(map[string]string{FlagExtActions: "true"})
	gen := devstack.NewSynthetic(lane, 21, 1)
	ask := p0Action(gen, time.Now())
	counters := &observe.LaneCounters{}
	stop := runLane(t, e, Config{Lane: lane, Counters: counters, Getenv: env})
	e.Produce(t, lane, []schemas.MatrizMessage{ask}, nil)
	waitCounted(t, counters, 1, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	acfg := ops.ActionsConfig{Lane: lane, Brokers: e.Brokers, RegistryURL: e.RegistryURL}
	acts, err := ops.ListActions(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(acts, func(a ops.ActionStatus) bool { return a.MsgID == ask.MsgID })
	if i < 0 || !acts[i].Waiting() {
		t.Fatalf("actions %+v: want the P0 action waiting for approval", acts)
	}
	id := acts[i].ID

	// A new runtime (a restart): the waiting action comes back from the
	// changelog, and the approval executes it at the partition's next frame.
	counters2 := &observe.LaneCounters{}
	stop = runLane(t, e, Config{Lane: lane, Counters: counters2, Getenv: env})
	if _, err := ops.Approve(context.Background(), ops.ApproveConfig{ActionsConfig: acfg, ActionID: id, Approver: "test"}); err != nil {
		t.Fatal(err)
	}
	clocktest.WaitFor(t, time.Minute, "approved action "+id+" executed after the restart", func() bool {
		// Frames tick on the partition's messages: send one more from the
		// same glyph (same partition) so a frame starts after the approval.
		e.Produce(t, lane, []schemas.MatrizMessage{gen.Next(time.Now())}, nil)
		acts, err = ops.ListActions(context.Background(), acfg)
		if err != nil {
			t.Fatal(err)
		}
		i = slices.IndexFunc(acts, func(a ops.ActionStatus) bool { return a.ID == id })
		return i >= 0 && acts[i].Status == stages.ActionExecuted
	})
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("P0 action %s waited across a restart (state from the changelog) and executed after approval", id)
}
