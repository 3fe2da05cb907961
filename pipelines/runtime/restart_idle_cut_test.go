package runtime

// A lane process SIGKILLed between an idle partition's cut and the
// watermark that closed its open frames after the cut, when the last
// record it read before going quiet sits in no open frame (it was late):
// the cut counts that record done, so the restart never reads it again,
// yet it must close the frames after it, as the killed run did and a
// replay of the log does, and record that decision after the same record.

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/topics"
)

// idleCutChildEnv carries "<brokers>|<registry url>" to the child half of
// TestKillAfterAnIdleCutsWatermarkRestartsAsTheReplay.
const idleCutChildEnv = "RUNTIME_TEST_IDLE_CUT_CHILD"

const idleCutGroup = "idle-cut"

// idleCutConfig closes a quiet partition's frames only after three seconds
// without input (IdleCheck at IdleAfter: no deadline closes before), while
// it cuts every second: an idle partition's cut, its open frames in it,
// comes well before the watermark that closes them.
func idleCutConfig() Config {
	return Config{Lane: schemas.LaneCandidate, Group: idleCutGroup, SessionTimeout: 6 * time.Second,
		CommitInterval: time.Second, IdleAfter: 3 * time.Second, IdleCheck: 3 * time.Second}
}

// idleWatermark is an idle watermark decision on the events topic.
type idleWatermark struct {
	partition int32
	after, to int64
}

func TestKillAfterAnIdleCutsWatermarkRestartsAsTheReplay(t *testing.T) {
	if asLaneChild(t, idleCutChildEnv, idleCutConfig()) {
		return
	}
	if testing.Short() {
		t.Skip("integration test: a lane process killed after an idle partition's watermark, restarted and replayed (skipped with -short)")
	}
	// The kill must land before the cut after the watermark; a run where
	// it did not is retried, and three of them fail the test.
	for attempt := 1; ; attempt++ {
		if idleCutScenario(t) {
			return
		}
		if attempt == 3 {
			t.Fatal("in three runs the killed process always wrote a cut after its idle watermark: the case under test was never reached")
		}
		t.Logf("run %d: the process cut again after its idle watermark before the kill; once more", attempt)
	}
}

// idleCutScenario runs the case once; false when the kill came too late
// to leave a cut from before the watermark as the latest.
func idleCutScenario(t *testing.T) bool {
	lane := schemas.LaneCandidate
	env := pipetest.Start(t, lane)
	gen := devstack.NewSynthetic(lane, 73, 16)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	burst := func(from time.Duration, n int) time.Duration {
		msgs := make([]schemas.MatrizMessage, n)
		for i := range msgs {
			msgs[i] = gen.Next(base.Add(from + time.Duration(i)*400*time.Microsecond))
		}
		env.Produce(t, lane, msgs, nil)
		return from + time.Duration(n)*400*time.Microsecond
	}
	end := burst(0, 600)
	// Each partition's last record before it goes quiet is late: it lands
	// in no open frame, so the cut counts it done, and the watermark
	// recorded after it follows a record a restart does not re-read.
	late := make([]schemas.MatrizMessage, 32)
	for i := range late {
		late[i] = gen.Next(base.Add(-10 * time.Second))
	}
	env.Produce(t, lane, late, nil)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var seen []idleWatermark
	first := make(chan struct{})
	var once sync.Once
	tail, err := topics.StartTail(ctx, env.Brokers, topics.Name(string(lane), topics.KindEvents), func(m topics.Message) {
		if string(pipetest.Header(m, HeaderDecision)) != string(schemas.EventWatermark) {
			return
		}
		var ev schemas.Event
		if _, err := schemas.DecodeWire(ctx, env.Serde.Lookup(), m.Value, &ev); err != nil || ev.Payload["why"] != operators.WhyIdle {
			return
		}
		p, _ := ev.Payload.Int("partition")
		after, _ := ev.Payload.Int("after_offset")
		to, _ := ev.Payload.Int("to_ns")
		mu.Lock()
		seen = append(seen, idleWatermark{int32(p), after, to})
		mu.Unlock()
		once.Do(func() { close(first) })
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tail.Close()

	child := startLaneChild(t, "TestKillAfterAnIdleCutsWatermarkRestartsAsTheReplay", idleCutChildEnv, strings.Join(env.Brokers, ",")+"|"+env.RegistryURL)
	select {
	case <-first:
	case <-time.After(2 * time.Minute):
		t.Fatal("no idle watermark decision within two minutes")
	}
	// The cut is written once the outputs before it are acknowledged,
	// which may be after the watermark's frame went out: the kill waits
	// for it, until a later cut has taken the watermark in (the case is
	// then gone: the run is tried again) or for at most half a minute.
	var cuts map[int]*Checkpoint
	reached := 0
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		cuts = lastCuts(t, env, lane)
		mu.Lock()
		reached = beforeTheirWatermark(cuts, seen)
		gone := takenIn(cuts, seen)
		mu.Unlock()
		if reached > 0 || gone {
			break
		}
	}
	child.kill(t)
	cuts = lastCuts(t, env, lane)
	mu.Lock()
	reached = beforeTheirWatermark(cuts, seen)
	mu.Unlock()
	if reached == 0 {
		return false
	}

	// Records that fall in the frames the watermark closed: late, as a
	// replay of the log judges them.
	burst(end-time.Millisecond, 300)
	lateDecisions := restartAndReplay(t, env, idleCutConfig(), "idle-cut")
	t.Logf("%d of %d partitions killed between their cut and the idle watermark after it; the restart's outputs equal the replay's (%d late decisions)", reached, len(cuts), lateDecisions)
	return true
}

// takenIn reports whether a partition's latest cut already holds an idle
// watermark recorded for it: a cut after the watermark.
func takenIn(cuts map[int]*Checkpoint, wms []idleWatermark) bool {
	for _, wm := range wms {
		if cp := cuts[int(wm.partition)]; cp != nil {
			if st, ok := cp.TickState(); ok && st.MaxTS >= wm.to {
				return true
			}
		}
	}
	return false
}

// beforeTheirWatermark counts the partitions whose latest cut holds open
// frames that an idle watermark recorded after the cut's last record, one
// the cut counts done, closed later: the case under test.
func beforeTheirWatermark(cuts map[int]*Checkpoint, wms []idleWatermark) int {
	n := 0
	for _, wm := range wms {
		cp := cuts[int(wm.partition)]
		if cp == nil || len(cp.Open) == 0 || wm.after != cp.Next-1 || !cp.Done(wm.after) {
			continue
		}
		if st, ok := cp.TickState(); ok && st.MaxTS < wm.to {
			n++
		}
	}
	return n
}
