package runtime

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestIdleDeadlineClosesQuietFramesAReplayRepeats: bursts on a lane whose
// close after a quiet spell (IdleAfter) is a minute off, so each burst's
// last frames can close only at their deadline (IdleCheck). Every input is
// answered with no message after it, those closes are watermark decisions
// (why idle), and a replay of the log reproduces the live outputs.
func TestIdleDeadlineClosesQuietFramesAReplayRepeats(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: bursts closed at their frames' deadlines, then a replay (skipped with -short)")
	}
	s := newReplayScenario(t, schemas.LaneCandidate)
	s.spec.Lanes[s.lane].Decimate.K = 1024 // no input dropped for a slow chain: every one is answered
	stop := runLane(t, s.env, Config{Lane: s.lane, Spec: s.spec, Group: s.group, Getenv: s.getenv, IdleAfter: time.Minute, CommitInterval: 200 * time.Millisecond})
	answered := func() int {
		return len(s.env.ReadAll(t, topics.Name(string(s.lane), topics.KindResults))) + len(s.env.ReadAll(t, topics.Name(string(s.lane), topics.KindDLQ)))
	}
	var at time.Duration
	const bursts = 3
	for b := range bursts {
		at = s.produce(at, 500) + time.Second
		got := 0
		clocktest.WaitFor(t, 30*time.Second, fmt.Sprintf("burst %d answered with no message after it", b), func() bool {
			got = answered()
			return got >= s.sent
		}, func() string { return fmt.Sprintf("%d of %d answered", got, s.sent) })
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	live := readOutputs(t, s.env, string(s.lane), "")
	idle := 0
	for _, v := range live[topics.KindEvents] {
		if ev := v.(*schemas.Event); ev.Kind == schemas.EventWatermark && ev.Payload["why"] == operators.WhyIdle {
			idle++
		}
	}
	if idle < bursts {
		t.Fatalf("%d idle watermark decisions, want one at least per burst (%d)", idle, bursts)
	}
	if _, err := Replay(context.Background(), ReplayConfig{Lane: s.lane, Brokers: s.env.Brokers, RegistryURL: s.env.RegistryURL, Spec: s.spec,
		Getenv: s.getenv, Name: "deadline", Ranges: fullRanges(t, s.env, s.lane)}); err != nil {
		t.Fatal(err)
	}
	compareOutputs(t, live, readOutputs(t, s.env, string(s.lane), "deadline"))
	t.Logf("%d inputs in %d bursts answered by deadline closes (%d idle watermark decisions); the replay reproduced the live outputs", s.sent, bursts, idle)
}
