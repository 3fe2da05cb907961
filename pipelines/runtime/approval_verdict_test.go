package runtime

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// lateIndex is an action index that has the preview only once it was
// asked whether it read the topic to its end a few times.
type lateIndex struct {
	asked   atomic.Int32
	preview *stages.PreviewFacts
	caught  chan struct{}
}

func (x *lateIndex) CaughtUp() <-chan struct{} { return x.caught }
func (x *lateIndex) ReadTo(map[int]int64) bool { return x.asked.Add(1) > 3 }
func (x *lateIndex) Preview(string) *stages.PreviewFacts {
	if x.asked.Load() > 3 {
		return x.preview
	}
	return nil
}

// TestApprovalVerdictsWithoutAnIndexOrBrokers: a lane with no action index
// refuses every approval as unknown; one whose index never catches up
// answers nothing once the lane stops; one that cannot ask the brokers
// where the actions topic ends checks against what it read, and says so.
func TestApprovalVerdictsWithoutAnIndexOrBrokers(t *testing.T) {
	var logs bytes.Buffer
	lr := &laneRuntime{lane: schemas.LaneProd, clock: clock.Real{}, work: context.Background(), log: slog.New(slog.NewTextHandler(&logs, nil))}
	ev := &schemas.Event{Kind: schemas.EventApproval, Payload: schemas.Payload{stages.ApprovalActionKey: "a1"}}
	if lr.approvalCounts(topics.Message{Offset: 3}, ev, "a1") || !strings.Contains(logs.String(), stages.RefusedUnknown) {
		t.Fatalf("an approval without an action index counted (logged %q)", logs.String())
	}

	stopped, cancel := context.WithCancel(context.Background())
	cancel()
	lr.work = stopped
	lr.verdicts.index = &lateIndex{caught: make(chan struct{})} // never catches up
	if p := lr.previewOf("a1"); p != nil {
		t.Fatalf("a stopped lane found preview %+v", p)
	}

	caught := make(chan struct{})
	close(caught)
	lr.work = context.Background()
	lr.verdicts.index = &lateIndex{caught: caught, preview: &stages.PreviewFacts{Kind: "k"}}
	lr.verdicts.live.Store(true)
	lr.cfg.Brokers = []string{"127.0.0.1:1"}
	logs.Reset()
	if p := lr.previewOf("a1"); p != nil || !strings.Contains(logs.String(), "checked against the actions read so far") {
		t.Fatalf("preview %+v with the brokers unreachable, logged %q; want none, and the lookup's failure reported", p, logs.String())
	}
}

// TestApprovalVerdictWaitsForTheIndexAndIsWritten: an approval read live
// whose action the index has not read yet waits until the index read the
// actions topic to where it ended, then finds the preview; its verdict
// goes to the events topic as a lane event, and none is written once the
// verdicts are closed.
func TestApprovalVerdictWaitsForTheIndexAndIsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	env := pipetest.Start(t, lane)
	ids, err := resolveLaneIDs(env.Serde, string(lane))
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	lr := &laneRuntime{lane: lane, clock: clock.Real{}, work: context.Background(), ids: ids, cfg: Config{Brokers: env.Brokers},
		log: slog.New(slog.NewTextHandler(&logs, nil))}
	caught := make(chan struct{})
	close(caught)
	at := time.Date(2026, 12, 6, 22, 0, 0, 0, time.UTC)
	idx := &lateIndex{caught: caught, preview: &stages.PreviewFacts{Kind: "notify", ParamsHash: "sha256:aa", Required: true, At: at}}
	lr.verdicts.index = idx
	lr.verdicts.live.Store(true)
	ev := &schemas.Event{Kind: schemas.EventApproval, Payload: schemas.Payload{stages.ApprovalActionKey: "a1",
		stages.ActionKindKey: "notify", stages.ParamsHashKey: "sha256:aa", stages.ApproverKey: "User:bob"}}
	if !lr.approvalCounts(topics.Message{Partition: 2, Offset: 7, Time: at.Add(time.Second)}, ev, "a1") {
		t.Fatalf("a valid approval read before the index had its preview was refused (logged %q)", logs.String())
	}
	if n := idx.asked.Load(); n < 4 {
		t.Fatalf("the index was asked %d times whether it caught up, want it waited for", n)
	}
	lr.verdicts.close()
	lr.writeVerdict(topics.Message{Partition: 2, Offset: 8, Time: at}, ev, stages.ApprovalClaim{ActionID: "a2"}, VerdictAccepted, nil)
	var got []schemas.Event
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindEvents)) {
		var v schemas.Event
		if _, err := schemas.DecodeWire(context.Background(), env.Serde.Lookup(), m.Value, &v); err != nil {
			t.Fatal(err)
		}
		if pipetest.Header(m, HeaderLaneEvent) != string(schemas.EventApproval) || pipetest.Header(m, HeaderOutputID) != v.ID {
			t.Fatalf("verdict record headers %v, want a lane event with its output id", m.Headers)
		}
		got = append(got, v)
	}
	if len(got) != 1 || got[0].Payload["status"] != VerdictAccepted || got[0].Payload[stages.ApproverKey] != "User:bob" || got[0].Payload["approval_offset"] != int64(7) {
		t.Fatalf("verdicts on the events topic %+v, want the one accepted approval at offset 7 by User:bob", got)
	}
}

// TestActionIndexReadTo: the index has read a topic to its ends only when
// every partition with records got there.
func TestActionIndexReadTo(t *testing.T) {
	o := &ActionOnce{read: map[int]int64{0: 5, 1: 2}}
	if !o.ReadTo(map[int]int64{0: 5, 1: 2, 2: 0}) {
		t.Error("an index at every end (and an empty partition) has not read to them")
	}
	if o.ReadTo(map[int]int64{0: 6, 1: 2}) {
		t.Error("an index one record short of an end has read to it")
	}
}
