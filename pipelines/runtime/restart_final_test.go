package runtime

// A lane stopped cleanly leaves a final cut, which a restart resumes from
// without reading the event log. The run that resumes from it reads on and
// decides; SIGKILLed before a cut of its own, it leaves the final cut the
// latest one. The restart after the kill must still read that run's
// decisions, or it decides its frames afresh where a replay applies them.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// finalChildEnv carries "<brokers>|<registry url>" to the child half of
// TestKillAfterAResumeFromACleanStopRestartsAsTheReplay.
const finalChildEnv = "RUNTIME_TEST_FINAL_CHILD"

func finalConfig() Config {
	return Config{Lane: schemas.LaneProd, Group: "final", SessionTimeout: 6 * time.Second, CommitInterval: 200 * time.Millisecond,
		Getenv: envMap(map[string]string{FlagExtActions: "true"})}
}

func TestKillAfterAResumeFromACleanStopRestartsAsTheReplay(t *testing.T) {
	// The child writes no cut of its own before the kill: the clean
	// stop's stays the latest on the changelog.
	noCut := finalConfig()
	noCut.CommitInterval = time.Hour
	if asLaneChild(t, finalChildEnv, noCut) {
		return
	}
	if testing.Short() {
		t.Skip("integration test: a lane stopped cleanly, resumed by a process killed before its first cut, restarted and replayed (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	messages := topics.Name(string(lane), topics.KindMessages)
	gen := devstack.NewSynthetic(lane, 29, 1) // one glyph: one partition
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	burst := burstProducer(t, env, lane, gen, base)
	committed := func() (n int64) {
		for _, off := range env.Committed(t, messages, "final") {
			n += max(off, 0)
		}
		return n
	}

	// Run 1 reads a burst and stops cleanly: its last cut is final.
	last := burst(0, 200, false)
	stop := runLane(t, env, finalConfig())
	env.WaitCommitted(t, messages, "final", 2*time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	partition := -1
	for p, cp := range lastCuts(t, env, lane) {
		if cp.Final && cp.Next == 200 {
			partition = p
		}
	}
	if partition < 0 {
		t.Fatalf("the clean stop left no final cut at 200: %v", lastCuts(t, env, lane))
	}

	// Run 2, a process, resumes from it, reads a second burst with a P0
	// action, wakes the idle partition for the action's approval (a
	// watermark decision after its last record, the action executed), and
	// is killed before it writes a cut past the final one.
	last = burst(last+time.Second, 200, true)
	child := startLaneChild(t, "TestKillAfterAResumeFromACleanStopRestartsAsTheReplay", finalChildEnv, strings.Join(env.Brokers, ",")+"|"+env.RegistryURL)
	acfg := ops.ActionsConfig{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL}
	var waiting []ops.ActionStatus
	clocktest.WaitFor(t, time.Minute, "the second burst's P0 action waiting", func() bool {
		acts, err := ops.ListActions(context.Background(), acfg)
		if err != nil {
			t.Fatal(err)
		}
		waiting = slices.DeleteFunc(acts, func(a ops.ActionStatus) bool { return !a.Waiting() })
		return len(waiting) == 1
	})
	// Approved once the partition is quiet, so the approval wakes it
	// rather than reaching a frame of the burst.
	clocktest.WaitFor(t, time.Minute, "a result for every record of both bursts", func() bool {
		return len(env.ReadAll(t, topics.Name(string(lane), topics.KindResults))) >= 400
	})
	if _, err := ops.Approve(context.Background(), ops.ApproveConfig{ActionsConfig: acfg, ActionID: waiting[0].ID, Approver: "User:bob"}); err != nil {
		t.Fatal(err)
	}
	waitApprovalWake(t, env, lane)
	child.kill(t)
	if cp := lastCuts(t, env, lane)[partition]; cp.Next != 200 || committed() != 200 {
		t.Fatalf("the killed run wrote a cut of its own (next %d, committed %d): the case under test (the clean stop's cut still the latest) was not reached", cp.Next, committed())
	}

	// Records in the frame the wake closed: late, as the replay judges them.
	burst(last+34*time.Millisecond, 200, false)
	late := restartAndReplay(t, env, finalConfig(), "final")
	if late == 0 {
		t.Errorf("no record after the wake was late: the case under test (records in the frame it closed) was not reached")
	}
	if st := actionStatus(t, acfg, waiting[0].ID); st != stages.ActionExecuted {
		t.Errorf("the approved action is %q, want executed", st)
	}
	t.Logf("resumed from a clean stop's cut, killed before a cut of its own; the restart's outputs equal the replay's (%d late decisions after the wake)", late)
}
