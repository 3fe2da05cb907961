package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/spec"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// faultyStage wraps a stage of the lane: it panics on a frame holding a
// live record of panicOn, and refuses with an error a frame holding one of
// errOn; other frames go to the stage it wraps.
type faultyStage struct {
	stages.Stage
	panicOn, errOn map[string]bool
}

func (s faultyStage) Unwrap() stages.Stage { return s.Stage }

func (s faultyStage) Process(ctx context.Context, f *stages.Frame) error {
	for i := range f.Records {
		r := &f.Records[i]
		if !r.Live() || r.Msg == nil {
			continue
		}
		if s.panicOn[r.Msg.MsgID] {
			panic("poison message " + r.Msg.MsgID)
		}
		if s.errOn[r.Msg.MsgID] {
			return fmt.Errorf("refusing a frame with message %s", r.Msg.MsgID)
		}
	}
	return s.Stage.Process(ctx, f)
}

// TestChainFaultsGoToTheDLQAndTheLaneGoesOn runs a lane whose fold-guard
// panics on two messages and refuses the frame of a third, through the
// real runtime on the embedded broker: the process does not crash, the
// panicking records are in the DLQ with the stage, reason stage_panic and
// the panic's frame, the refused frame's live records are in the DLQ with
// stage_error, every other record is answered by a result that went
// through every stage up to the guardian, and every offset is committed
// with exactly one answer.
func TestChainFaultsGoToTheDLQAndTheLaneGoesOn(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lane on the embedded broker (skipped with -short)")
	}
	const n = 400
	lane := schemas.LaneExperimental
	s, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	s.Lanes[lane].Decimate.Policy = "backpressure" // no frame dropped: every record reaches the chain
	env := pipetest.Start(t, lane)
	gen := devstack.NewSynthetic(lane, 5, 64)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	msgs := make([]schemas.MatrizMessage, n)
	for i := range msgs {
		msgs[i] = gen.Next(base.Add(time.Duration(i) * time.Millisecond))
	}
	panicOn := map[string]bool{msgs[40].MsgID: true, msgs[250].MsgID: true}
	errOn := map[string]bool{msgs[120].MsgID: true}
	env.Produce(t, lane, msgs, nil)
	messages := topics.Name(string(lane), topics.KindMessages)
	ends, err := topics.PartitionEnds(context.Background(), env.Brokers, messages)
	if err != nil {
		t.Fatal(err)
	}

	group := "chainfaults"
	stop := runLane(t, env, Config{Lane: lane, Spec: s, Group: group, IdleAfter: 50 * time.Millisecond, CommitInterval: 50 * time.Millisecond,
		wrapStage: func(st stages.Stage) stages.Stage {
			if st.Name() != stages.StageFoldGuard {
				return st
			}
			return faultyStage{Stage: st, panicOn: panicOn, errOn: errOn}
		}})
	waitAllCommitted(t, env, lane, group, ends, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	ctx, lookup := context.Background(), env.Serde.Lookup()
	answered := map[string]string{} // msg id → how
	answer := func(id, how string) {
		if prev, ok := answered[id]; ok {
			t.Errorf("message %s answered twice: %s and %s", id, prev, how)
		}
		answered[id] = how
	}
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindResults)) {
		var res schemas.MatrizResult
		if _, err := schemas.DecodeWire(ctx, lookup, m.Value, &res); err != nil {
			t.Fatal(err)
		}
		guardian := false
		for _, c := range res.Trace {
			guardian = guardian || c.Stage == stages.StageGuardian
		}
		if !guardian {
			t.Errorf("result for %s has no guardian crumb: a stage after the failing one never ran on it, yet it was answered", res.MsgID)
		}
		answer(res.MsgID, "result")
	}
	errFrame := map[string]bool{} // messages in the DLQ with the refused frame
	var errPartition string
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindDLQ)) {
		var msg schemas.MatrizMessage
		if _, err := schemas.DecodeWire(ctx, lookup, m.Value, &msg); err != nil {
			t.Fatal(err)
		}
		reason, stage, detail := pipetest.Header(m, HeaderDLQReason), pipetest.Header(m, HeaderDLQStage), pipetest.Header(m, HeaderDLQDetail)
		answer(msg.MsgID, "DLQ "+reason)
		if stage != stages.StageFoldGuard {
			t.Errorf("DLQ record %s: stage %q, want %s", msg.MsgID, stage, stages.StageFoldGuard)
		}
		switch {
		case panicOn[msg.MsgID]:
			if reason != ReasonStagePanic || detail != "panic: poison message "+msg.MsgID {
				t.Errorf("panicking record %s: reason %q detail %q", msg.MsgID, reason, detail)
			}
			if at := pipetest.Header(m, HeaderPanicFrame); !strings.Contains(at, "faultyStage.Process chainfail_test.go:") {
				t.Errorf("panicking record %s: %s %q, want faultyStage.Process in chainfail_test.go", msg.MsgID, HeaderPanicFrame, at)
			}
		case reason == ReasonStageError:
			errFrame[msg.MsgID] = true
			p := pipetest.Header(m, HeaderSrcPartition)
			if errPartition != "" && p != errPartition {
				t.Errorf("stage_error records on partitions %s and %s: only the refused frame's records fail", errPartition, p)
			}
			errPartition = p
			if !strings.Contains(detail, "refusing a frame with message") {
				t.Errorf("stage_error record %s detail %q", msg.MsgID, detail)
			}
		default:
			t.Errorf("DLQ record %s: reason %q detail %q: no record but the faulty ones may fail", msg.MsgID, reason, detail)
		}
	}
	for id := range errOn {
		if !errFrame[id] {
			t.Errorf("the refused frame's record %s is not in the DLQ with %s (answered: %q)", id, ReasonStageError, answered[id])
		}
	}
	for id := range panicOn {
		if !strings.HasPrefix(answered[id], "DLQ "+ReasonStagePanic) {
			t.Errorf("panicking record %s answered %q", id, answered[id])
		}
	}
	for _, m := range msgs {
		if _, ok := answered[m.MsgID]; !ok {
			t.Errorf("message %s has no answer", m.MsgID)
		}
	}
	if len(answered) != n {
		t.Errorf("%d messages answered, want %d", len(answered), n)
	}
	t.Logf("%d messages: %d results, %d stage_panic, %d stage_error (the refused frame)", n, n-len(panicOn)-len(errFrame), len(panicOn), len(errFrame))
}

// TestChainStoppedByTheEndOfWorkLeavesTheFrame: a chain that stops
// because the partition's work ended does not dead-letter its records and
// does not let them commit: their Acks fail, nothing of the frame is
// written, no cut is taken at it, and later frames are left too.
func TestChainStoppedByTheEndOfWorkLeavesTheFrame(t *testing.T) {
	w := &partitionWorker{inflight: newInflight()}
	acks := map[int64]*topics.Ack{}
	for off := int64(10); off < 14; off++ {
		acks[off] = topics.NewAck()
		w.inflight.put(off, &pending{msg: topics.Message{Offset: off, Ack: acks[off]}})
	}
	f := &stages.Frame{Lane: schemas.LaneProd, Cut: "a cut",
		Records: []stages.Record{{Offset: 10, Msg: &schemas.MatrizMessage{MsgID: "a"}}, {Offset: 11, Msg: &schemas.MatrizMessage{MsgID: "b"}}},
		Events: []schemas.Event{
			{ID: "d", Kind: schemas.EventDecimation, Payload: schemas.Payload{"partition": int64(0), "seq": int64(1), "fps": int64(30), "records": int64(1), "offsets": []float64{12}}},
			{ID: "x", Kind: schemas.EventKind("drift_alert"), MsgID: "a"},
		},
		Actions: []schemas.Event{{ID: "act"}},
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := &stages.StageError{Stage: stages.StageGuardian, Err: fmt.Errorf("executing: %w", ctx.Err())}
	if !w.chainFailed(ctx, f, err) || !w.left {
		t.Fatal("a chain stopped by its context must leave the frame")
	}
	if f.Records != nil || f.Events != nil || f.Actions != nil || f.Cut != nil {
		t.Fatalf("left frame still has outputs or a cut: %+v", f)
	}
	for off := int64(10); off < 13; off++ {
		if a := acks[off]; !a.Resolved() || !errors.Is(a.Err(), errFrameLeft) {
			t.Fatalf("offset %d: ack resolved %v err %v, want failed with errFrameLeft", off, a.Resolved(), a.Err())
		}
	}
	if acks[13].Resolved() {
		t.Fatal("offset 13 is in no left frame, yet its ack resolved")
	}
}

// TestChainErrorSendsTheFramesLiveRecordsToTheDLQ: a stage error that is
// not the end of work fails every live record with the stage; dropped and
// already failed records keep their fate.
func TestChainErrorSendsTheFramesLiveRecordsToTheDLQ(t *testing.T) {
	env := &laneRuntime{lane: schemas.LaneProd, log: slog.New(slog.DiscardHandler)}
	w := &partitionWorker{lane: env, inflight: newInflight()}
	f := &stages.Frame{Lane: schemas.LaneProd, Records: []stages.Record{
		{Offset: 1, Msg: &schemas.MatrizMessage{MsgID: "a"}},
		{Offset: 2, Msg: &schemas.MatrizMessage{MsgID: "b"}, Dropped: true},
		{Offset: 3, Failure: &stages.Failure{Stage: "decode", Reason: "bad bytes"}},
		{Offset: 4, Msg: &schemas.MatrizMessage{MsgID: "c"}},
	}}
	boom := &stages.StageError{Stage: stages.StageDrift, Err: errors.New("frame of another lane")}
	if w.chainFailed(context.Background(), f, boom) || w.left {
		t.Fatal("a stage error is not the end of work: the frame is not left")
	}
	for _, i := range []int{0, 3} {
		fail := f.Records[i].Failure
		if fail == nil || fail.Stage != stages.StageDrift || failureReason(fail) != ReasonStageError {
			t.Fatalf("record %d failure %+v, want stage drift, reason %s", i, fail, ReasonStageError)
		}
	}
	if !f.Records[1].Dropped || f.Records[1].Failure != nil || f.Records[2].Failure.Stage != "decode" {
		t.Fatalf("dropped or earlier-failed records changed: %+v %+v", f.Records[1], f.Records[2])
	}
}

// TestExecutorPanicAndHangAreDecidedAndThePartitionGoesOn runs the prod
// lane with an executor that panics on one action and never returns on
// another: both are decided (failed with the panic, uncertain after the
// guardian's executor timeout), the process does not crash, and every
// record is answered and committed, the actions after them executed.
func TestExecutorPanicAndHangAreDecidedAndThePartitionGoesOn(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: a lane on the embedded broker (skipped with -short)")
	}
	const n = 60
	lane := schemas.LaneProd
	s, err := spec.Default()
	if err != nil {
		t.Fatal(err)
	}
	s.Lanes[lane].Guardian.ExecutorTimeoutMS = 300
	env := pipetest.Start(t, lane)
	gen := devstack.NewSynthetic(lane, 9, 8)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	msgs := make([]schemas.MatrizMessage, n)
	for i := range msgs {
		msgs[i] = gen.Next(base.Add(time.Duration(i) * 5 * time.Millisecond))
		delete(msgs[i].Payload, "action_kind") // only the chosen ones ask for an action
	}
	asks := []int{10, 20, 30, 40, 50}
	for _, i := range asks {
		m := &msgs[i]
		m.Payload = schemas.Payload{"action_kind": "notify", "priority": "P1"}
		m.Glyph.Tags = map[string]string{"consent": "granted", "purpose": "care"}
	}
	panicMsg, hangMsg := msgs[10].MsgID, msgs[20].MsgID
	hang := make(chan struct{})
	t.Cleanup(func() { close(hang) })
	executed := map[string]bool{}
	var mu sync.Mutex
	ex := stages.ExecutorFunc(func(ctx context.Context, _ schemas.Lane, a stages.Action) error {
		switch a.MsgID {
		case panicMsg:
			panic("executor bug on " + a.ID)
		case hangMsg:
			<-hang // ignores ctx: a hung external call
			return nil
		}
		mu.Lock()
		executed[a.MsgID] = true
		mu.Unlock()
		return nil
	})
	env.Produce(t, lane, msgs, nil)
	messages := topics.Name(string(lane), topics.KindMessages)
	ends, err := topics.PartitionEnds(context.Background(), env.Brokers, messages)
	if err != nil {
		t.Fatal(err)
	}
	group := "executorfaults"
	getenv := func(k string) string {
		if k == "EXT_ACTIONS_ENABLED" {
			return "true"
		}
		return ""
	}
	stop := runLane(t, env, Config{Lane: lane, Spec: s, Group: group, Getenv: getenv, Executor: ex,
		IdleAfter: 50 * time.Millisecond, CommitInterval: 50 * time.Millisecond})
	waitAllCommitted(t, env, lane, group, ends, time.Minute)
	if err := stop(); err != nil {
		t.Fatal(err)
	}

	ctx, lookup := context.Background(), env.Serde.Lookup()
	results := 0
	for range env.ReadAll(t, topics.Name(string(lane), topics.KindResults)) {
		results++
	}
	if dlq := env.ReadAll(t, topics.Name(string(lane), topics.KindDLQ)); results != n || len(dlq) != 0 {
		t.Fatalf("%d results and %d DLQ records, want %d results", results, len(dlq), n)
	}
	final := map[string]schemas.Payload{} // msg id → its last action event's payload
	for _, m := range env.ReadAll(t, topics.Name(string(lane), topics.KindActions)) {
		var ev schemas.Event
		if _, err := schemas.DecodeWire(ctx, lookup, m.Value, &ev); err != nil {
			t.Fatal(err)
		}
		if st, _ := ev.Payload.String("status"); st != stages.ActionPreview && st != stages.ActionExecuting {
			final[ev.MsgID] = ev.Payload
		}
	}
	if p := final[panicMsg]; p["status"] != stages.ActionFailed || !strings.Contains(fmt.Sprint(p["error"]), "panic: executor bug") {
		t.Errorf("panicking executor's action: %v, want failed naming the panic", p)
	}
	if p := final[hangMsg]; p["status"] != stages.ActionUncertain || !strings.Contains(fmt.Sprint(p["error"]), "did not return within 300ms") {
		t.Errorf("hung executor's action: %v, want uncertain naming the timeout", p)
	}
	for _, i := range asks[2:] {
		id := msgs[i].MsgID
		mu.Lock()
		called := executed[id]
		mu.Unlock()
		if p := final[id]; p["status"] != stages.ActionExecuted || !called {
			t.Errorf("action of message %d after the faulty ones: %v (called %v), want executed", i, p, called)
		}
	}
}
