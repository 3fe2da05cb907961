package runtime

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// onceProcess is one runtime process's view of the prod lane: its action
// guard over inner, its approvals (read from the approvals topic at start:
// approved holds what that topic says), and one guardian.
type onceProcess struct {
	once     *ActionOnce
	guardian *stages.Guardian
}

func startOnce(t *testing.T, env *pipetest.Env, inner stages.Executor, approved ...string) *onceProcess {
	t.Helper()
	once, err := NewActionOnce(context.Background(), ActionOnceConfig{
		Lane: schemas.LaneProd, Brokers: env.Brokers, Serde: env.Serde, Executor: inner,
		OnError: func(err error) { t.Logf("action guard: %v", err) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { once.Close() })
	select {
	case <-once.CaughtUp():
	case <-time.After(pipetest.ReadTimeout):
		t.Fatal("the action guard did not read the actions topic")
	}
	g, err := stages.NewGuardian(schemas.LaneProd, stages.GuardianExecutor(once), stages.GuardianApprovals(stages.NewApprovalSet(approved...)))
	if err != nil {
		t.Fatal(err)
	}
	return &onceProcess{once: once, guardian: g}
}

// onceMsg is message n asking for an action of priority prio.
func onceMsg(n int, prio string) *schemas.MatrizMessage {
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", n)
	return &schemas.MatrizMessage{
		MsgID: id, TS: time.Date(2026, 3, 1, 12, 0, 0, n*1000, time.UTC), Lane: schemas.LaneProd, Topic: "trend",
		Glyph:   schemas.Glyph{ID: "glyph-" + id, Kind: "intent", Version: "1", Tags: map[string]string{"consent": "granted", "purpose": "care"}},
		Payload: schemas.Payload{"action_kind": "wire_funds", "priority": prio},
	}
}

func actionID(m *schemas.MatrizMessage) string {
	return stages.DerivedID(m.MsgID, stages.StageGuardian, "action")
}

// frameOf is the frame the message is decided in, live (EXT_ACTIONS_ENABLED
// on); every call makes a fresh one, as a redelivery does.
func frameOf(m *schemas.MatrizMessage) *stages.Frame {
	start := m.TS.Truncate(time.Second)
	return &stages.Frame{
		Lane: schemas.LaneProd, Start: start, End: start.Add(time.Second), FPS: 30, Flags: stages.Flags{ExtActions: true},
		Records: []stages.Record{{Msg: m, Result: &schemas.MatrizResult{MsgID: m.MsgID, OK: true}}},
	}
}

// writeActions writes f's action events as the runtime's outputs do: keyed
// by glyph, with their output ids, acknowledged.
func writeActions(t *testing.T, env *pipetest.Env, f *stages.Frame) {
	t.Helper()
	topic := topics.Name(string(schemas.LaneProd), topics.KindActions)
	id, err := env.Serde.ID(serde.ValueSubject(topic))
	if err != nil {
		t.Fatal(err)
	}
	var recs []topics.Message
	for i := range f.Actions {
		val, err := schemas.AppendWire(nil, id, &f.Actions[i])
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, topics.Message{Key: []byte(f.Actions[i].GlyphID), Value: val,
			Headers: []topics.Header{{Key: HeaderOutputID, Value: []byte(f.Actions[i].ID)}}})
	}
	env.Write(t, topic, recs)
}

// decide runs p's guardian over a fresh frame of m and returns it.
func (p *onceProcess) decide(t *testing.T, ctx context.Context, m *schemas.MatrizMessage) (*stages.Frame, error) {
	t.Helper()
	f := frameOf(m)
	err := p.guardian.Process(ctx, f)
	return f, err
}

// counter is an inner executor that counts calls and runs check inside
// each call.
type counter struct {
	calls int
	check func(ctx context.Context, a stages.Action) error
}

func (c *counter) Execute(ctx context.Context, _ schemas.Lane, a stages.Action) error {
	c.calls++
	if c.check != nil {
		return c.check(ctx, a)
	}
	return nil
}

func TestActionOnceAcknowledgesExecutingBeforeTheCall(t *testing.T) {
	env := pipetest.Start(t, schemas.LaneProd)
	topic := topics.Name(string(schemas.LaneProd), topics.KindActions)
	m := onceMsg(1, "P1")
	id := actionID(m)
	var p *onceProcess
	inner := &counter{check: func(ctx context.Context, a stages.Action) error {
		// Inside the call: the index has the record, and Kafka has it.
		if s := p.once.Status(a.ID); s != stages.ActionExecuting {
			t.Errorf("index status during the call = %q, want executing", s)
		}
		var found []topics.Message
		for _, r := range env.ReadAll(t, topic) {
			var ev schemas.Event
			if _, err := schemas.DecodeWire(ctx, env.Serde.Lookup(), r.Value, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Payload["status"] == stages.ActionExecuting && ev.Payload["action_id"] == a.ID {
				found = append(found, r)
				if ev.ID != stages.ActionEventID(&a, stages.ActionExecuting) || ev.Kind != schemas.EventAction || ev.GlyphID != m.Glyph.ID ||
					ev.MsgID != m.MsgID || ev.Payload["action_kind"] != "wire_funds" || ev.Payload["priority"] != "P1" || !ev.TS.Equal(m.TS) {
					t.Errorf("executing record %+v", ev)
				}
			}
		}
		if len(found) != 1 || string(found[0].Key) != a.ID || pipetest.Header(found[0], HeaderOutputID) != stages.ActionEventID(&a, stages.ActionExecuting) ||
			pipetest.Header(found[0], HeaderActionWriter) == "" {
			t.Errorf("executing records on %s during the call: %+v", topic, found)
		}
		return nil
	}}
	p = startOnce(t, env, inner)
	f, err := p.decide(t, context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if inner.calls != 1 || f.Records[0].Verdict.Outcome != stages.OutcomeExecuted || p.once.Status(id) != stages.ActionExecuted {
		t.Fatalf("calls %d, verdict %+v, status %q", inner.calls, f.Records[0].Verdict, p.once.Status(id))
	}
	// The same process meets the message again before its executed event
	// is written: its own outcome answers.
	again, err := p.decide(t, context.Background(), m)
	if err != nil || inner.calls != 1 || again.Records[0].Verdict.Outcome != stages.OutcomeExecuted {
		t.Fatalf("redelivery in-process: calls %d, verdict %+v, %v", inner.calls, again.Records[0].Verdict, err)
	}
}

// TestActionOnceRedeliveryAfterACrashExecutesOnce is the acceptance line in
// process: a message whose approved P0 action executed is processed again
// by a new owner (a restarted process: new guard, approvals read again)
// after the old one died — once after its outputs were written, once
// before — and the action executes once.
func TestActionOnceRedeliveryAfterACrashExecutesOnce(t *testing.T) {
	env := pipetest.Start(t, schemas.LaneProd)
	inner := &counter{}

	// Died after the frame's outputs were acknowledged (before the commit).
	m := onceMsg(2, "P0")
	first := startOnce(t, env, inner, actionID(m))
	f1, err := first.decide(t, context.Background(), m)
	if err != nil || inner.calls != 1 || f1.Records[0].Verdict.Outcome != stages.OutcomeExecuted {
		t.Fatalf("first run: calls %d, verdict %+v, %v", inner.calls, f1.Records[0].Verdict, err)
	}
	writeActions(t, env, f1)
	first.once.Close() // kill -9: it writes nothing more

	second := startOnce(t, env, inner, actionID(m))
	f2, err := second.decide(t, context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if inner.calls != 1 {
		t.Fatalf("%d executions after the redelivery, want 1", inner.calls)
	}
	// The redelivery's outputs are the first run's: same ids, same content.
	if !reflect.DeepEqual(f2.Actions, f1.Actions) || !reflect.DeepEqual(f2.Events, f1.Events) || !reflect.DeepEqual(f2.Traces, f1.Traces) ||
		!reflect.DeepEqual(f2.Records[0].Verdict, f1.Records[0].Verdict) {
		t.Fatalf("redelivered outputs differ:\n%+v\n%+v", f2.Actions, f1.Actions)
	}

	// Died during the call: the executing record is all there is.
	m3 := onceMsg(3, "P0")
	ctx, die := context.WithCancel(context.Background())
	dying := &counter{check: func(ctx context.Context, _ stages.Action) error { die(); return ctx.Err() }}
	crashed := startOnce(t, env, dying, actionID(m3))
	if _, err := crashed.decide(t, ctx, m3); !errors.Is(err, context.Canceled) {
		t.Fatalf("the dying call: %v", err)
	}
	crashed.once.Close()
	third := startOnce(t, env, inner, actionID(m3))
	f3, err := third.decide(t, context.Background(), m3)
	if err != nil {
		t.Fatal(err)
	}
	if dying.calls != 1 || inner.calls != 1 {
		t.Fatalf("calls: dying %d, later %d; want 1 and none", dying.calls, inner.calls-1)
	}
	if v := f3.Records[0].Verdict; v.Outcome != stages.OutcomeUncertain {
		t.Fatalf("verdict %+v, want uncertain", v)
	}
	last := f3.Actions[len(f3.Actions)-1]
	if last.Payload["status"] != stages.ActionUncertain || third.once.Status(actionID(m3)) != stages.ActionExecuting {
		t.Fatalf("action event %+v, index %q", last, third.once.Status(actionID(m3)))
	}
}

func TestActionOnceSecondLiveOwnerDoesNotCall(t *testing.T) {
	env := pipetest.Start(t, schemas.LaneProd)
	inner := &counter{}
	// Both guards run before the action: the second one's index learns of
	// the first one's record only by reading its own back.
	a, b := startOnce(t, env, inner), startOnce(t, env, inner)
	m := onceMsg(4, "P1")
	if _, err := a.decide(t, context.Background(), m); err != nil {
		t.Fatal(err)
	}
	fb, err := b.decide(t, context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if inner.calls != 1 || fb.Records[0].Verdict.Outcome != stages.OutcomeUncertain {
		t.Fatalf("calls %d, second owner's verdict %+v", inner.calls, fb.Records[0].Verdict)
	}
}

func TestActionOnceFailedActionIsNotRetried(t *testing.T) {
	env := pipetest.Start(t, schemas.LaneProd)
	inner := &counter{check: func(context.Context, stages.Action) error { return errors.New("remote refused: insufficient funds") }}
	m := onceMsg(5, "P1")
	first := startOnce(t, env, inner)
	f1, err := first.decide(t, context.Background(), m)
	if err != nil || f1.Records[0].Verdict.Outcome != stages.OutcomeDeny {
		t.Fatalf("verdict %+v, %v", f1.Records[0].Verdict, err)
	}
	writeActions(t, env, f1)
	first.once.Close()
	second := startOnce(t, env, inner)
	f2, err := second.decide(t, context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if inner.calls != 1 || !reflect.DeepEqual(f2.Actions, f1.Actions) || !reflect.DeepEqual(f2.Records[0].Verdict, f1.Records[0].Verdict) {
		t.Fatalf("calls %d; redelivered %+v, first %+v", inner.calls, f2.Records[0].Verdict, f1.Records[0].Verdict)
	}
	var pf *PriorFailureError
	if err := second.once.Execute(context.Background(), schemas.LaneProd, stages.Action{ID: actionID(m)}); !errors.As(err, &pf) || pf.Err != "remote refused: insufficient funds" {
		t.Fatalf("Execute after a failure = %v", err)
	}
}

func TestActionOnceRefusesBadConfigAndWorkAfterClose(t *testing.T) {
	if _, err := NewActionOnce(context.Background(), ActionOnceConfig{Lane: "live"}); err == nil {
		t.Fatal("a lane that is not one of the three was accepted")
	}
	if _, err := NewActionOnce(context.Background(), ActionOnceConfig{Lane: schemas.LaneProd}); err == nil {
		t.Fatal("no serde was accepted")
	}
	env := pipetest.Start(t, schemas.LaneProd)
	inner := &counter{}
	p := startOnce(t, env, inner)
	p.once.Close()
	err := p.once.Execute(context.Background(), schemas.LaneProd, stages.Action{ID: "x", MsgID: "m"})
	if !errors.Is(err, ErrActionOnceClosed) || inner.calls != 0 {
		t.Fatalf("Execute after Close = %v, calls %d", err, inner.calls)
	}
}

// BenchmarkActionOnceExecute measures what the guard adds to one new
// action: its executing record written with acks=all and read back.
func BenchmarkActionOnceExecute(b *testing.B) {
	env := pipetest.Start(b, schemas.LaneProd)
	once, err := NewActionOnce(context.Background(), ActionOnceConfig{Lane: schemas.LaneProd, Brokers: env.Brokers, Serde: env.Serde})
	if err != nil {
		b.Fatal(err)
	}
	defer once.Close()
	<-once.CaughtUp()
	b.ResetTimer()
	for i := range b.N {
		a := stages.Action{ID: fmt.Sprintf("bench-%d", i), MsgID: fmt.Sprintf("m-%d", i), Kind: "notify", Priority: stages.P1, TS: time.Now()}
		if err := once.Execute(context.Background(), schemas.LaneProd, a); err != nil {
			b.Fatal(err)
		}
	}
}

// idempotentCounter is a counter whose external system dedupes by action
// id, as the webhook's receiver does with its Idempotency-Key.
type idempotentCounter struct{ counter }

func (*idempotentCounter) IdempotentByActionID() bool { return true }

// TestActionOnceIdempotentExecutorIsCalledAgainAfterACrash: a process died
// during an action's call, leaving only its executing record. With an
// executor that is not idempotent the action stays uncertain (above); with
// one whose receiver dedupes by action id, the next owner calls again and
// the action ends executed, and a later redelivery calls nothing.
func TestActionOnceIdempotentExecutorIsCalledAgainAfterACrash(t *testing.T) {
	env := pipetest.Start(t, schemas.LaneProd)
	m := onceMsg(7, "P0")
	ctx, die := context.WithCancel(context.Background())
	dying := &counter{check: func(ctx context.Context, _ stages.Action) error { die(); return ctx.Err() }}
	crashed := startOnce(t, env, dying, actionID(m))
	if _, err := crashed.decide(t, ctx, m); !errors.Is(err, context.Canceled) {
		t.Fatalf("the dying call: %v", err)
	}
	crashed.once.Close()

	inner := &idempotentCounter{}
	next := startOnce(t, env, inner, actionID(m))
	f, err := next.decide(t, context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	if inner.calls != 1 || f.Records[0].Verdict.Outcome != stages.OutcomeExecuted {
		t.Fatalf("next owner: %d calls, verdict %+v; want the action called again and executed", inner.calls, f.Records[0].Verdict)
	}
	writeActions(t, env, f)
	next.once.Close()

	again := startOnce(t, env, inner, actionID(m))
	if _, err := again.decide(t, context.Background(), m); err != nil {
		t.Fatal(err)
	}
	if inner.calls != 1 {
		t.Fatalf("%d calls after a redelivery of an executed action, want still 1", inner.calls)
	}
}
