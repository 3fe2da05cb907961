package runtime

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/operators"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
)

// brittleStage keeps state it cannot snapshot (a snapshot too big to
// encode, say).
type brittleStage struct{}

func (brittleStage) Name() string                                 { return "brittle" }
func (brittleStage) Process(context.Context, *stages.Frame) error { return nil }
func (brittleStage) Snapshot() ([]byte, error)                    { return nil, errors.New("state does not encode") }
func (brittleStage) Restore([]byte) error                         { return nil }

// TestCutTakenOnlyWithTheWholeState: a cut whose stage state cannot be
// snapshotted is reported and not taken — a checkpoint without a stage's
// state would restore it empty while skipping the records that built it —
// and a frame carrying a cut of another kind takes none.
func TestCutTakenOnlyWithTheWholeState(t *testing.T) {
	chain, err := stages.NewChain(brittleStage{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	lr := &laneRuntime{lane: schemas.LaneExperimental, clock: clock.NewFake(time.Unix(100, 0)), log: slog.New(slog.NewTextHandler(&logs, nil))}
	w := newWorker(lr, 1)
	w.chain = chain
	w.takeCut(&stages.Frame{Partition: 1, Cut: &operators.TickCut{Partition: 1, Next: 40}})
	if cp, _ := w.cuts.takeDurable(&w.acks); cp != nil {
		t.Fatalf("a cut was taken without the brittle stage's state: %+v", cp)
	}
	if got := logs.String(); !strings.Contains(got, "snapshot of stage brittle: state does not encode") {
		t.Errorf("logged %q, want the snapshot failure", got)
	}
	w.takeCut(&stages.Frame{Partition: 1, Cut: "not a tick cut"})
	if cp, _ := w.cuts.takeDurable(&w.acks); cp != nil {
		t.Fatalf("a frame with a foreign cut took a checkpoint: %+v", cp)
	}
}
