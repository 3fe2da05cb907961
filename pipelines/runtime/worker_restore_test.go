package runtime

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// unreachableLane is a prod lane whose brokers do not answer, on a fake
// clock.
func unreachableLane(t *testing.T) (*laneRuntime, *clock.Fake) {
	t.Helper()
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	chain, err := sp.Lanes[schemas.LaneProd].Chain(schemas.LaneProd, spec.ChainOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fake := clock.NewFake(time.Unix(1_000, 0))
	return &laneRuntime{lane: schemas.LaneProd, chain: chain, clock: fake, log: slog.New(slog.DiscardHandler), ready: NewReadiness(),
		cfg: Config{Brokers: []string{unreachable}, DrainTimeout: time.Second}}, fake
}

// TestPartitionRestoreRetriesUntilItsClaimEnds: a partition whose state
// cannot be read retries with backoff on the lane's clock, counting its
// attempts on /readyz; when its claim ends while it waits, it gives up with
// the error, and the partition's reason is cleared (the claim's end says
// the rest).
func TestPartitionRestoreRetriesUntilItsClaimEnds(t *testing.T) {
	lr, fake := unreachableLane(t)
	w := newWorker(lr, 3)
	w.claim = &topics.Claim{Topic: "matriz.prod.messages", Partition: 3, Generation: 1}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- w.prepare(ctx) }()
	reason := func() string {
		if err := lr.ready.Err(); err != nil {
			return err.Error()
		}
		return ""
	}
	clocktest.WaitFor(t, 10*time.Second, "the first failed restore on /readyz", func() bool {
		return strings.Contains(reason(), "lane prod partition 3: restoring its state failed 1 times, retrying: ")
	}, reason)
	clocktest.WaitFor(t, 10*time.Second, "the second attempt after the backoff", func() bool {
		fake.Advance(backoff(0)) // the backoff's ticker may not exist yet: move on until it fires
		return strings.Contains(reason(), "failed 2 times")
	}, reason)
	cancel()
	err := <-done
	if err == nil || !strings.HasPrefix(err.Error(), "restore partition 3's stage state: ") || !strings.Contains(err.Error(), "cannot reach Kafka") {
		t.Fatalf("prepare = %v, want the restore's error", err)
	}
	if r := reason(); strings.Contains(r, "partition 3") {
		t.Fatalf("readiness after the claim ended: %q, want partition 3's reason cleared", r)
	}
}

// TestRestartDecisionsNeedThePartitionEnd: a restart re-decides up to the
// partition's end when it started; when that end cannot be read, loading
// the decisions fails rather than re-deciding nothing.
func TestRestartDecisionsNeedThePartitionEnd(t *testing.T) {
	lr, _ := unreachableLane(t)
	w := newWorker(lr, 3)
	w.claim = &topics.Claim{Topic: "matriz.prod.messages", Partition: 3}
	if err := w.loadRestartDecisions(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot reach Kafka") {
		t.Fatalf("loadRestartDecisions = %v, want the partition end's error", err)
	}
	if w.decisions != nil {
		t.Fatal("decisions set without the partition's end")
	}
	asks := map[int32]scanAsk{3: {until: 10}}
	if _, err := loadDecisions(context.Background(), lr.clock, lr.cfg.Brokers, "matriz.prod.events", asks, nil, time.Second); err == nil || !strings.Contains(err.Error(), "cannot reach Kafka") {
		t.Fatalf("loadDecisions with the brokers unreachable = %v, want their error", err)
	}
}

// TestResumeFromTakesTheCutsFlagsAndApprovals: a partition resuming from a
// cut runs with the flags in force at the cut and the approvals it had
// applied and not yet used, so a restart does not wait for them again.
func TestResumeFromTakesTheCutsFlagsAndApprovals(t *testing.T) {
	w := newWorker(&laneRuntime{lane: schemas.LaneProd}, 1)
	cp := &Checkpoint{Partition: 1, Resume: 5, Next: 8, Flags: stages.Flags{Learning: true}, Approved: []string{"act-1", "act-2"}}
	w.resumeFrom(cp)
	if w.restored != cp || w.flags == nil || *w.flags != cp.Flags {
		t.Fatalf("resumed with flags %v, want the cut's %+v", w.flags, cp.Flags)
	}
	if ids := w.applied.IDs(); len(ids) != 2 || ids[0] != "act-1" || ids[1] != "act-2" {
		t.Fatalf("approvals applied %v, want the cut's [act-1 act-2]", ids)
	}
	cp.Flags.Dispatch = true
	if w.flags.Dispatch {
		t.Fatal("the worker's flags alias the checkpoint's")
	}
}

// TestReplayAnswersRecordsPastItsRange: records the source fetched past a
// replay's range (it stops fetching at the range's last record, but a
// fetch may hold more) are answered at once and reach neither the tick nor
// the replay's progress count.
func TestReplayAnswersRecordsPastItsRange(t *testing.T) {
	w := newWorker(&laneRuntime{lane: schemas.LaneProd}, 0)
	w.stopAt = 10
	w.stopOnce.Do(func() {}) // the range's last record stopped the fetching already
	counted := 0
	w.onRecord = func() { counted++ }
	for _, off := range []int64{10, 11} {
		ack := topics.NewAck()
		if out := w.decode(topics.Message{Offset: off, Ack: ack}); len(out) != 0 {
			t.Errorf("offset %d past the range gave the tick %v", off, out)
		}
		if !ack.Resolved() || ack.Err() != nil {
			t.Errorf("offset %d past the range: resolved %v err %v, want answered", off, ack.Resolved(), ack.Err())
		}
	}
	if counted != 0 || w.inflight.peek(10) != nil {
		t.Fatalf("records past the range counted %d times or held in flight", counted)
	}
}
