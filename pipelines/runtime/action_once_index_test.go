package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

// indexOnly is an ActionOnce with its index and decoder but no tail or
// sink: what observe, Status and answer work on.
func indexOnly(t *testing.T) (*ActionOnce, *[]error) {
	t.Helper()
	s := memRegistry(t, schemas.LaneProd)
	topic := topics.Name(string(schemas.LaneProd), topics.KindActions)
	id, err := s.ID(serde.ValueSubject(topic))
	if err != nil {
		t.Fatal(err)
	}
	var reported []error
	o := &ActionOnce{lane: schemas.LaneProd, topic: topic, serde: s, schemaID: id, writer: "me", ctx: context.Background(),
		onErr: func(err error) { reported = append(reported, err) }, actions: map[string]*onceEntry{}}
	return o, &reported
}

// actionRecord is an actions topic record of action id with status, as
// the guard or the frame's outputs write it.
func actionRecord(t *testing.T, o *ActionOnce, kind schemas.EventKind, id, status string, extra schemas.Payload, headers ...topics.Header) topics.Message {
	t.Helper()
	a := stages.Action{ID: id, Kind: "notify", Priority: "P1", TS: time.Unix(100, 0).UTC()}
	ev := stages.ActionEvent(schemas.LaneProd, &a, status, a.TS, extra)
	ev.Kind = kind
	val, err := schemas.AppendWire(nil, o.schemaID, &ev)
	if err != nil {
		t.Fatal(err)
	}
	return topics.Message{Topic: o.topic, Partition: 1, Offset: 3, Key: []byte(id), Value: val, Headers: headers}
}

// TestActionOnceIndexAnswersFromTheLog: what the guard answers for an
// action follows what its tail read: nothing for an unknown id; an
// executing record by another writer (one whose writer header is missing
// is never this instance) makes it uncertain, naming the claim it was
// written under; executed and failed outcomes answer as recorded, the
// first one read standing; an interrupted call of this process is
// uncertain too.
func TestActionOnceIndexAnswersFromTheLog(t *testing.T) {
	o, reported := indexOnly(t)
	if s := o.Status("a-0"); s != "" {
		t.Errorf("status of an unknown action %q, want none", s)
	}
	o.mu.Lock()
	o.entry("a-0") // asked about, nothing read
	o.mu.Unlock()
	if s := o.Status("a-0"); s != "" {
		t.Errorf("status of an action nothing was read of %q, want none", s)
	}

	o.observe(actionRecord(t, o, schemas.EventAction, "a-1", stages.ActionExecuting, nil,
		topics.Header{Key: HeaderGroup, Value: []byte("matriz-prod")}, topics.Header{Key: HeaderGeneration, Value: []byte("4")}, topics.Header{Key: HeaderMember, Value: []byte("m-2")}))
	if s := o.Status("a-1"); s != stages.ActionExecuting {
		t.Errorf("status after another owner's executing record %q, want %q", s, stages.ActionExecuting)
	}
	o.mu.Lock()
	err := o.answer("a-1", o.entry("a-1"))
	first := o.entry("a-1").first
	o.mu.Unlock()
	if !errors.Is(err, stages.ErrActionUncertain) || !strings.Contains(err.Error(), "written by member m-2 in generation 4 of group matriz-prod") {
		t.Errorf("answer after another owner's executing record = %v, want uncertain naming its claim", err)
	}
	if first != "unknown" {
		t.Errorf("an executing record without a writer header has writer %q, want \"unknown\"", first)
	}

	o.observe(actionRecord(t, o, schemas.EventAction, "a-2", stages.ActionExecuted, nil))
	o.observe(actionRecord(t, o, schemas.EventAction, "a-2", stages.ActionFailed, schemas.Payload{"error": "late"}))
	if s := o.Status("a-2"); s != stages.ActionExecuted {
		t.Errorf("status after executed then failed %q, want the first outcome %q", s, stages.ActionExecuted)
	}
	o.observe(actionRecord(t, o, schemas.EventAction, "a-3", stages.ActionFailed, schemas.Payload{"error": "HTTP 503"}))
	o.mu.Lock()
	err = o.answer("a-3", o.entry("a-3"))
	o.mu.Unlock()
	var pf *PriorFailureError
	if !errors.As(err, &pf) || pf.Err != "HTTP 503" || err.Error() != "HTTP 503" {
		t.Errorf("answer after a failed outcome = %v, want a PriorFailureError with the recorded error", err)
	}

	o.mu.Lock()
	e := o.entry("a-4")
	e.called = true // this process's call was cut short: no outcome
	err = o.answer("a-4", e)
	o.mu.Unlock()
	if !errors.Is(err, stages.ErrActionUncertain) || !strings.Contains(err.Error(), "this process's call was interrupted") {
		t.Errorf("answer after an interrupted call = %v, want uncertain", err)
	}
	if s := o.Status("a-4"); s != stages.ActionExecuting {
		t.Errorf("status of an interrupted call %q, want %q", s, stages.ActionExecuting)
	}
	if len(*reported) != 0 {
		t.Errorf("reported %v for well-formed records", *reported)
	}
}

// TestActionOnceIndexSkipsWhatIsNoActionRecord: a record that does not
// decode is reported with its coordinates and skipped; an event that is
// no action, or names no action id, is ignored; neither changes what the
// guard answers.
func TestActionOnceIndexSkipsWhatIsNoActionRecord(t *testing.T) {
	o, reported := indexOnly(t)
	o.observe(topics.Message{Topic: o.topic, Partition: 1, Offset: 9, Key: []byte("a-1"), Value: []byte("not avro")})
	if len(*reported) != 1 || !strings.Contains((*reported)[0].Error(), "action guard: matriz.prod.actions/1@9:") || !strings.HasSuffix((*reported)[0].Error(), "(skipped)") {
		t.Fatalf("reported %v, want the undecodable record named and skipped", *reported)
	}
	o.observe(actionRecord(t, o, schemas.EventApproval, "a-1", stages.ActionExecuted, nil))
	o.observe(actionRecord(t, o, schemas.EventAction, "", stages.ActionExecuted, nil))
	if s := o.Status("a-1"); s != "" || len(o.actions) != 0 {
		t.Errorf("status %q, %d actions indexed after records that are no action's; want none", s, len(o.actions))
	}
}

// TestNewActionOnceNeedsTheActionsSubject: a guard whose serde holds no
// schema id for the lane's actions topic is refused before it connects,
// naming the subject.
func TestNewActionOnceNeedsTheActionsSubject(t *testing.T) {
	s := memRegistry(t, schemas.LaneProd)
	_, err := NewActionOnce(context.Background(), ActionOnceConfig{Lane: schemas.LaneCandidate, Brokers: []string{"127.0.0.1:1"}, Serde: s})
	if err == nil || !strings.HasPrefix(err.Error(), "action guard: ") || !strings.Contains(err.Error(), "matriz.candidate.actions-value") {
		t.Fatalf("NewActionOnce = %v, want an error naming the missing subject", err)
	}
	if _, err := NewActionOnce(context.Background(), ActionOnceConfig{Lane: schemas.LaneProd}); err == nil || !strings.Contains(err.Error(), "no serde") {
		t.Fatalf("NewActionOnce without a serde = %v, want refused", err)
	}
}

// TestActionOnceExecutesNothingBeforeTheLogIsRead: until its tail has
// read the actions topic to its end the guard cannot know whether an
// action was started before; a caller whose context ends meanwhile gets an
// error naming the action and the topic, and the executor is not called.
func TestActionOnceExecutesNothingBeforeTheLogIsRead(t *testing.T) {
	o, _ := indexOnly(t)
	o.tail = &topics.Tail{} // never caught up
	inner := &counter{}
	o.inner = inner
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := o.Execute(ctx, schemas.LaneProd, stages.Action{ID: "a-9"})
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "action a-9: waiting for matriz.prod.actions to be read") {
		t.Fatalf("Execute before the tail caught up = %v, want it refused naming the action and topic", err)
	}
	if inner.calls != 0 || o.Status("a-9") != "" {
		t.Fatalf("executor called %d times, status %q; want nothing done", inner.calls, o.Status("a-9"))
	}
}
