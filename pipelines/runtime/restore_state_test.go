package runtime

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// TestRestoreStateBehindTheCommitOrUnreadable: a latest cut behind the
// committed offset (the offsets were moved forward by hand) gives the
// stages their state and nothing else — the tick starts afresh at the
// commit, and no cut is resumed from; a cut whose stage state a stage
// cannot read is an error, not a silent start from nothing.
func TestRestoreStateBehindTheCommitOrUnreadable(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	sp, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	worker := func(logs *bytes.Buffer) *partitionWorker {
		chain, err := sp.Lanes[lane].Chain(lane, spec.ChainOptions{})
		if err != nil {
			t.Fatal(err)
		}
		lr := &laneRuntime{lane: lane, clock: clock.Real{}, cfg: Config{Brokers: env.Brokers}, log: slog.New(slog.NewTextHandler(logs, nil))}
		w := newWorker(lr, 0)
		if w.chain, err = chain.Factory.New(); err != nil {
			t.Fatal(err)
		}
		w.readTimeout = 10 * time.Second
		w.claim = &topics.Claim{Topic: topics.Name(string(lane), topics.KindMessages), Offset: 50}
		return w
	}
	write := func(cp *Checkpoint) {
		b, err := EncodeCheckpoint(cp)
		if err != nil {
			t.Fatal(err)
		}
		env.Write(t, topics.Name(string(lane), topics.KindState), []topics.Message{{Key: []byte(StateKey(0)), Value: b}})
	}
	write(&Checkpoint{Lane: string(lane), Partition: 0, Next: 10, Resume: 10, Written: time.Now().UTC(), State: map[string][]byte{}})
	var logs bytes.Buffer
	w := worker(&logs)
	if err := w.restoreState(context.Background()); err != nil {
		t.Fatal(err)
	}
	if w.restored != nil || !strings.Contains(logs.String(), "behind the committed offset") {
		t.Fatalf("a cut behind the commit: resumed from %+v, logged %q; want stage state only, said so", w.restored, logs.String())
	}

	write(&Checkpoint{Lane: string(lane), Partition: 0, Next: 60, Resume: 60, Written: time.Now().UTC(),
		State: map[string][]byte{stages.StageDrift: []byte("not a snapshot")}})
	if err := worker(&logs).restoreState(context.Background()); err == nil {
		t.Fatal("a cut with unreadable stage state restored")
	}
}

// TestCommitSkipsACutWithNothingNew: a durable cut that holds nothing the
// one committed last does not is dropped without a state write.
func TestCommitSkipsACutWithNothingNew(t *testing.T) {
	w := newWorker(&laneRuntime{lane: schemas.LaneProd}, 0)
	last := &Checkpoint{Next: 40, Resume: 40, Tick: []byte(`{"closed":1}`)}
	w.committed = last
	same := *last
	w.cuts.push(&same, false)
	w.commit() // a write would need sinks this worker does not have
	if cp, _ := w.cuts.takeDurable(&w.acks); cp != nil || w.committed != last {
		t.Fatalf("the cut with nothing new is still queued (%+v) or replaced the committed one", cp)
	}
}
