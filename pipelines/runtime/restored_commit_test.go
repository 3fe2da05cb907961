package runtime

import (
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// TestRestoredCutAheadOfTheCommittedOffsetIsCommittedAtOnce: every
// partition's latest cut is ahead of the group's committed offset, as when
// the owner died between writing the cut and committing it, and nothing is
// left to read past it. The restarted runtime commits each cut's Resume at
// once, without waiting for input (or an idle spell) to give it a cut of
// its own, and answers none of the records below it again.
func TestRestoredCutAheadOfTheCommittedOffsetIsCommittedAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	gen := devstack.NewSynthetic(lane, 5, 24)
	msgs := topics.Name(string(lane), topics.KindMessages)
	results := topics.Name(string(lane), topics.KindResults)

	stop := runLane(t, env, Config{Lane: lane, Group: "first", CommitInterval: 50 * time.Millisecond})
	env.Produce(t, lane, nowBatch(gen, 300), nil)
	env.WaitCommitted(t, msgs, "first", time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	answered := len(env.ReadAll(t, results))

	// A group that committed nothing: the cuts on the state topic are ahead
	// of it. A partition idles only after an hour, so only the restored
	// cut can be what it commits.
	stop = runLane(t, env, Config{Lane: lane, Group: "second", CommitInterval: 50 * time.Millisecond, IdleAfter: time.Hour})
	start := time.Now()
	env.WaitCommitted(t, msgs, "second", 30*time.Second)
	took := time.Since(start)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if n := len(env.ReadAll(t, results)); n != answered {
		t.Errorf("%d results after the restart, %d before: records below the restored cuts were answered again", n, answered)
	}
	t.Logf("restored cuts committed %v after the restart began; %d results, none written again", took.Round(time.Millisecond), answered)
}
