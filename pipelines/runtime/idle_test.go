package runtime

import (
	"fmt"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestIdleWatermarkFollowsTheProducersClock: a producer whose event times
// run six seconds behind our clock sends bursts with quiet spells between
// them, long enough for every partition to go idle. An idle partition
// closes its frames in event time (last event + a frame + the grace), so
// the only records judged late are the ones really out of order; a
// watermark taken from our wall clock would have judged every burst after
// the first late.
func TestIdleWatermarkFollowsTheProducersClock(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: bursts with idle spells on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	gen := devstack.NewSynthetic(lane, 9, 32)
	const group = "idle-behind"
	// A quiet spell is a wall-clock pause in the input; it must be longer
	// than a loaded machine's pause inside one burst (the race detector on
	// two busy cores stalls a fetch for tens of milliseconds), or a burst is
	// cut in two by a watermark that is right to close what it closes.
	// Frame deadlines are checked only after that quiet too (IdleCheck):
	// what this test holds is the quiet spell's close; the deadlines'
	// reckoning from the producer's clock is the operators' tests'.
	stop := runLane(t, env, Config{Lane: lane, Group: group, IdleAfter: 300 * time.Millisecond, IdleCheck: 300 * time.Millisecond, CommitInterval: 50 * time.Millisecond})

	const bursts, perBurst, outOfOrder = 8, 400, 5
	base := time.Now().Add(-6 * time.Second)
	sent := 0
	for b := range bursts {
		start := base.Add(time.Duration(b) * 600 * time.Millisecond)
		msgs := make([]schemas.MatrizMessage, perBurst)
		for i := range msgs {
			ts := start.Add(time.Duration(i) * time.Millisecond)
			if b > 0 && i%(perBurst/outOfOrder) == 7 {
				ts = ts.Add(-250 * time.Millisecond) // really out of order: its frame closed long ago
			}
			msgs[i] = gen.Next(ts)
		}
		env.Produce(t, lane, msgs, nil)
		sent += perBurst
		var got int64
		clocktest.WaitFor(t, time.Minute, fmt.Sprintf("burst %d committed", b), func() bool {
			got = 0
			for _, o := range env.Committed(t, topics.Name(string(lane), topics.KindMessages), group) {
				got += max(o, 0)
			}
			return got >= int64(sent)
		}, func() string { return fmt.Sprintf("%d of %d committed", got, sent) })
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	late := 0
	for _, r := range env.ReadAll(t, topics.Name(string(lane), topics.KindResults)) {
		if pipetest.Header(r, HeaderLate) == "true" {
			late++
		}
	}
	if want := (bursts - 1) * outOfOrder; late != want {
		t.Fatalf("%d records judged late, want the %d really out of order (event time 6 s behind the consumer's clock)", late, want)
	}
	t.Logf("%d records in %d bursts 6 s behind our clock with idle spells between: %d late, all really out of order", sent, bursts, late)
}
