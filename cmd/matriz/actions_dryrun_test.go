package main

import (
	"context"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/runtime"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestApprovalInDryRunLaneIsTruthful: in the candidate lane, which runs
// dry, a P0 action is only previewed. `matriz actions` lists nothing as
// waiting, `--all` shows the preview as a dry run that never executes, and
// `matriz approve` refuses it (exit 1, nothing written) saying the lane
// never executes it — and all of that is true: after more frames of the
// same glyph the action is still an unexecuted preview and the approvals
// topic is empty.
func TestApprovalInDryRunLaneIsTruthful(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a matriz run process on a dry-run lane (skipped with -short)")
	}
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	e := &laneEnv{Env: env, brokers: env.Brokers[0], regURL: env.RegistryURL, lane: lane, gen: devstack.NewSynthetic(lane, 21, 1)}
	const group = "dry-approval"
	p := e.startRunWith(t, group, nil, []string{runtime.FlagExtActions + "=true"})

	ask := e.gen.Next(time.Now().Add(-2 * time.Second))
	ask.Payload["action_kind"], ask.Payload["priority"], ask.Payload["risk"] = "notify_operator", "P0", 0.1
	e.sent = append(e.sent, ask)
	e.Produce(t, lane, []schemas.MatrizMessage{ask}, nil)
	e.waitAnswered(t, group, time.Minute)

	conn := []string{"--lane", string(lane), "--brokers", e.brokers, "--registry", e.regURL}
	acfg := ops.ActionsConfig{Lane: lane, Brokers: env.Brokers, RegistryURL: e.regURL}
	acts, err := ops.ListActions(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(acts, func(a ops.ActionStatus) bool { return a.MsgID == ask.MsgID })
	if i < 0 {
		t.Fatalf("no action for %s: %+v", ask.MsgID, acts)
	}
	id := acts[i].ID

	// What is listed.
	out, _ := mustRun(t, 0, append([]string{"actions"}, conn...)...)
	if out != "no action on lane candidate waits for approval (--all lists every action)\n" {
		t.Errorf("matriz actions: %q", out)
	}
	out, _ = mustRun(t, 0, append([]string{"actions", "--all"}, conn...)...)
	if !strings.Contains(out, id) || !strings.Contains(out, "dry run: previewed, never executed") {
		t.Errorf("matriz actions --all: %q", out)
	}
	// What approve answers.
	out, errOut := mustRun(t, 1, append([]string{"approve", id}, conn...)...)
	want := "matriz approve: action " + id + " is a dry-run preview: the candidate lane runs dry and never executes it, so there is nothing to approve (approvals apply in prod)\n"
	if out != "" || errOut != want {
		t.Errorf("matriz approve: stdout %q stderr %q, want stderr %q", out, errOut, want)
	}

	// Both are true: more frames of the glyph pass, and the action is
	// still a preview nobody can approve; nothing was written to approvals.
	more := []schemas.MatrizMessage{e.gen.Next(time.Now()), e.gen.Next(time.Now().Add(50 * time.Millisecond))}
	e.sent = append(e.sent, more...)
	e.Produce(t, lane, more, nil)
	e.waitAnswered(t, group, time.Minute)
	acts, err = ops.ListActions(context.Background(), acfg)
	if err != nil {
		t.Fatal(err)
	}
	i = slices.IndexFunc(acts, func(a ops.ActionStatus) bool { return a.ID == id })
	if i < 0 || acts[i].Status != stages.ActionPreview || acts[i].Waiting() || !acts[i].DryRun || acts[i].Approval {
		t.Fatalf("after more frames: %+v, want an unapproved dry-run preview", acts)
	}
	if recs := e.ReadAll(t, topics.Name(string(lane), topics.KindApprovals)); len(recs) != 0 {
		t.Fatalf("%d approval records written", len(recs))
	}
	if code := p.stop(t, syscall.SIGTERM, signalBound); code != 0 {
		t.Fatalf("matriz run exit %d\n%s", code, p.log())
	}
	t.Logf("candidate lane: P0 action %s listed as %q with --all, none waiting; approve refused it and wrote nothing; it stayed a preview", id, "dry run: previewed, never executed")
}
