package runtime

// A lane process SIGKILLed after an approval woke its idle partition: the
// wake read no new record, yet closed a frame, recorded a watermark after
// the last record and executed the action. The cut after it must be
// written, or the restart goes back to the cut before the wake and runs on
// without the watermark a replay applies.

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// wakeChildEnv carries "<brokers>|<registry url>" to the child half of
// TestKillAfterAnApprovalWokeAnIdlePartitionRestartsAsTheReplay.
const wakeChildEnv = "RUNTIME_TEST_WAKE_CHILD"

func wakeConfig() Config {
	return Config{Lane: schemas.LaneProd, Group: "wake", SessionTimeout: 6 * time.Second, CommitInterval: 200 * time.Millisecond,
		Getenv: envMap(map[string]string{FlagExtActions: "true"})}
}

func TestKillAfterAnApprovalWokeAnIdlePartitionRestartsAsTheReplay(t *testing.T) {
	if asLaneChild(t, wakeChildEnv, wakeConfig()) {
		return
	}
	if testing.Short() {
		t.Skip("integration test: a lane process killed after an approval woke an idle partition, restarted and replayed (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	messages := topics.Name(string(lane), topics.KindMessages)
	gen := devstack.NewSynthetic(lane, 29, 1) // one glyph: one partition
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	burst := burstProducer(t, env, lane, gen, base)
	last := burst(0, 200, true)

	child := startLaneChild(t, "TestKillAfterAnApprovalWokeAnIdlePartitionRestartsAsTheReplay", wakeChildEnv, strings.Join(env.Brokers, ",")+"|"+env.RegistryURL)
	acfg := ops.ActionsConfig{Lane: lane, Brokers: env.Brokers, RegistryURL: env.RegistryURL}
	var waiting []ops.ActionStatus
	clocktest.WaitFor(t, time.Minute, "the P0 action waiting on a partition with everything committed", func() bool {
		acts, err := ops.ListActions(context.Background(), acfg)
		if err != nil {
			t.Fatal(err)
		}
		waiting = slices.DeleteFunc(acts, func(a ops.ActionStatus) bool { return !a.Waiting() })
		var done int64
		for _, off := range env.Committed(t, messages, "wake") {
			done += max(off, 0)
		}
		return len(waiting) == 1 && done == 200
	}, nil)
	cutsBefore := lastCuts(t, env, lane)
	if _, err := ops.Approve(context.Background(), ops.ApproveConfig{ActionsConfig: acfg, ActionID: waiting[0].ID, Approver: "User:bob"}); err != nil {
		t.Fatal(err)
	}
	// The wake's decision and the cut after it, then the kill.
	wake := waitApprovalWake(t, env, lane)
	to, _ := wake.Payload.Int("to_ns")
	p, _ := wake.Payload.Int("partition")
	clocktest.WaitFor(t, 30*time.Second, "a cut written after the wake (the window it closed in it)", func() bool {
		cp := lastCuts(t, env, lane)[int(p)]
		st, ok := cp.TickState()
		return ok && st.MaxTS >= to
	}, func() string {
		cp := lastCuts(t, env, lane)[int(p)]
		st, _ := cp.TickState()
		return "latest cut: next " + itoa(cp.Next) + " max_ts " + itoa(st.MaxTS) + ", the wake's watermark " + itoa(to) + "; before the approval: next " + itoa(cutsBefore[int(p)].Next)
	})
	child.kill(t)

	// Records in the frame the wake closed: late, as the replay judges them.
	burst(last+34*time.Millisecond, 200, false)
	late := restartAndReplay(t, env, wakeConfig(), "wake")
	if late == 0 {
		t.Errorf("no record after the wake was late: the case under test (records in the frame it closed) was not reached")
	}
	if st := actionStatus(t, acfg, waiting[0].ID); st != stages.ActionExecuted {
		t.Errorf("the approved action is %q, want executed", st)
	}
	t.Logf("killed after the wake's cut; the restart's outputs equal the replay's (%d late decisions after the wake)", late)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func mustList(t *testing.T, cfg ops.ActionsConfig) []ops.ActionStatus {
	t.Helper()
	acts, err := ops.ListActions(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return acts
}

// actionStatus returns action id's status, "" when it is not listed.
func actionStatus(t *testing.T, cfg ops.ActionsConfig, id string) string {
	t.Helper()
	for _, a := range mustList(t, cfg) {
		if a.ID == id {
			return a.Status
		}
	}
	return ""
}

// burstProducer returns a func that produces n messages of gen's from base
// plus from, 400µs of event time apart, the middle one a P0 action when
// action is set, and returns the event time of the last.
func burstProducer(t *testing.T, env *pipetest.Env, lane schemas.Lane, gen *devstack.Synthetic, base time.Time) func(from time.Duration, n int, action bool) time.Duration {
	return func(from time.Duration, n int, action bool) time.Duration {
		msgs := make([]schemas.MatrizMessage, n)
		for i := range msgs {
			ts := base.Add(from + time.Duration(i)*400*time.Microsecond)
			if action && i == n/2 {
				msgs[i] = p0Action(gen, ts)
			} else {
				msgs[i] = gen.Next(ts)
			}
		}
		env.Produce(t, lane, msgs, nil)
		return from + time.Duration(n-1)*400*time.Microsecond
	}
}

// waitApprovalWake waits for the watermark decision an approval's wake
// records, and returns it.
func waitApprovalWake(t *testing.T, env *pipetest.Env, lane schemas.Lane) schemas.Event {
	t.Helper()
	var wake schemas.Event
	clocktest.WaitFor(t, time.Minute, "the approval's wake recorded", func() bool {
		for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindEvents)) {
			if pipetest.Header(m, HeaderDecision) != string(schemas.EventWatermark) {
				continue
			}
			var ev schemas.Event
			if _, err := schemas.DecodeWire(context.Background(), env.Serde.Lookup(), m.Value, &ev); err == nil && ev.Payload["why"] == operators.WhyApproval {
				wake = ev
				return true
			}
		}
		return false
	})
	return wake
}
