package runtime

// A restart reads its cut's open frames' records again and skips the done
// records between and after them. Its tick once took the last record read
// again for its last input, so a cut it took before new input arrived
// counted the skipped records as not done, while its stage state held
// them: a second restart from that cut applied them again. Here the
// skipped record is each partition's last, a late one: the first restart
// goes quiet, cuts, and is killed; the second must not process the late
// record a second time, and its outputs must equal a replay's.

import (
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// rereadChildEnv carries "<brokers>|<registry url>" to the child half of
// TestARestartsCutKeepsTheRecordsItSkippedDone.
const rereadChildEnv = "RUNTIME_TEST_REREAD_CHILD"

func TestARestartsCutKeepsTheRecordsItSkippedDone(t *testing.T) {
	if asLaneChild(t, rereadChildEnv, idleCutConfig()) {
		return
	}
	if testing.Short() {
		t.Skip("integration test: a lane process killed twice around a restart's first cut, restarted and replayed (skipped with -short)")
	}
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	gen := devstack.NewSynthetic(lane, 79, 16)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	msgs := make([]schemas.MatrizMessage, 600)
	for i := range msgs {
		msgs[i] = gen.Next(base.Add(time.Duration(i) * 400 * time.Microsecond))
	}
	env.Produce(t, lane, msgs, nil)
	// Each partition's last record is late: done at a cut that still has
	// the burst's last frame open, so a restart reads that frame's records
	// again and skips the late one after them.
	late := make([]schemas.MatrizMessage, 32)
	for i := range late {
		late[i] = gen.Next(base.Add(-10 * time.Second))
	}
	env.Produce(t, lane, late, nil)
	arg := strings.Join(env.Brokers, ",") + "|" + env.RegistryURL

	// Run 1 is killed once a partition's latest cut has an open frame and
	// a done record after it: its idle close is three seconds away.
	run1 := startLaneChild(t, "TestARestartsCutKeepsTheRecordsItSkippedDone", rereadChildEnv, arg)
	var skipped map[int]int64 // partition → the done record a restart skips
	clocktest.WaitFor(t, time.Minute, "a cut with an open frame and a done record after it", func() bool {
		skipped = skippedAfterOpen(lastCuts(t, env, lane))
		return len(skipped) > 0
	}, nil)
	run1.kill(t)
	skipped = skippedAfterOpen(lastCuts(t, env, lane))
	if len(skipped) == 0 {
		t.Fatal("run 1's latest cuts lost their open frames before the kill")
	}
	written := stateEnds(t, env, lane)

	// Run 2 restores those cuts, reads the open frames again, skips the
	// late records, goes quiet, closes its frames and cuts. Every cut it
	// writes must still count the skipped records done.
	run2 := startLaneChild(t, "TestARestartsCutKeepsTheRecordsItSkippedDone", rereadChildEnv, arg)
	var cuts []*Checkpoint
	clocktest.WaitFor(t, time.Minute, "run 2's cuts after its idle close", func() bool {
		cuts = stateWrittenSince(t, env, lane, written)
		closed := map[int]bool{}
		for _, cp := range cuts {
			if _, ok := skipped[int(cp.Partition)]; ok && len(cp.Open) == 0 {
				closed[int(cp.Partition)] = true
			}
		}
		return len(closed) == len(skipped)
	}, nil)
	run2.kill(t)
	for _, cp := range stateWrittenSince(t, env, lane, written) {
		if off, ok := skipped[int(cp.Partition)]; ok && !cp.Done(off) {
			t.Errorf("run 2's cut %s (next %d, open %v) counts offset %d not done, which the cut it restored had done", cp.ID(), cp.Next, cp.Open, off)
		}
	}

	// Run 3 restores run 2's last cuts; its outputs, run 1's and run 2's
	// must be what a replay of the log makes.
	lateDecisions := restartAndReplay(t, env, idleCutConfig(), "reread-cut")
	t.Logf("%d partitions restored with a done record after an open frame; %d state records from run 2; %d late decisions, the replay's", len(skipped), len(cuts), lateDecisions)
}

// skippedAfterOpen returns, for each partition whose cut has open frames
// and whose last record read is done and after the first open one, that
// record's offset.
func skippedAfterOpen(cuts map[int]*Checkpoint) map[int]int64 {
	out := map[int]int64{}
	for p, cp := range cuts {
		last := cp.Next - 1
		if len(cp.Open) > 0 && last > cp.Open[0] && cp.Done(last) {
			out[p] = last
		}
	}
	return out
}

// stateEnds returns the end offset of each of the lane's state topic
// partitions.
func stateEnds(t *testing.T, env *pipetest.Env, lane schemas.Lane) map[int]int64 {
	t.Helper()
	ends, err := topics.PartitionEnds(t.Context(), env.Brokers, topics.Name(string(lane), topics.KindState))
	if err != nil {
		t.Fatal(err)
	}
	return ends
}

// stateWrittenSince decodes the lane's state records at or past ends.
func stateWrittenSince(t *testing.T, env *pipetest.Env, lane schemas.Lane, ends map[int]int64) []*Checkpoint {
	t.Helper()
	var out []*Checkpoint
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindState)) {
		if m.Offset < ends[int(m.Partition)] || len(m.Value) == 0 {
			continue
		}
		cp, err := DecodeCheckpoint(m.Value)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, cp)
	}
	return out
}
