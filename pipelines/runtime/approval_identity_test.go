package runtime

// Approvals with identity, end to end on the embedded broker: approvals
// written straight to matriz.prod.approvals (not through `matriz approve`,
// which checks the same things before it writes) for an unknown action,
// for an action id computed from a message not sent yet, with another
// parameter hash, and by the principal that produced the message, are each
// refused with a verdict on the events topic, and their actions stay
// waiting; a valid approval is accepted and its action executes once.

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matriz/pipelines/clock/clocktest"
	"github.com/matriz/pipelines/pipelines/devstack"
	"github.com/matriz/pipelines/pipelines/ops"
	"github.com/matriz/pipelines/pipelines/pipetest"
	"github.com/matriz/pipelines/pipelines/serde"
	"github.com/matriz/pipelines/schemas"
	"github.com/matriz/pipelines/stages"
	"github.com/matriz/pipelines/topics"
)

func TestApprovalsAreCheckedAgainstTheirPreview(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test on the embedded broker (skipped with -short)")
	}
	lane := schemas.LaneProd
	e := pipetest.Start(t, lane)
	var mu sync.Mutex
	calls := map[string]int{}
	exec := stages.ExecutorFunc(func(_ context.Context, _ schemas.Lane, a stages.Action) error {
		mu.Lock()
		calls[a.ID]++
		mu.Unlock()
		return nil
	})
	stop := runLane(t, e, Config{Lane: lane, Getenv: envMap(map[string]string{FlagExtActions: "true"}), Executor: exec})
	defer func() {
		if stop != nil {
			_ = stop()
		}
	}()

	approvalsTopic := topics.Name(string(lane), topics.KindApprovals)
	schemaID, err := e.Serde.ID(serde.ValueSubject(approvalsTopic))
	if err != nil {
		t.Fatal(err)
	}
	approve := func(actionID, kind, hash, approver string) {
		t.Helper()
		ev := schemas.Event{ID: actionID + "/" + approver + "/" + hash, TS: time.Now().UTC().Truncate(time.Microsecond), Kind: schemas.EventApproval, Lane: lane, Stage: "human",
			Payload: schemas.Payload{stages.ApprovalActionKey: actionID, stages.ActionKindKey: kind, stages.ParamsHashKey: hash, stages.ApproverKey: approver}}
		val, err := schemas.AppendWire(nil, schemaID, &ev)
		if err != nil {
			t.Fatal(err)
		}
		e.Write(t, approvalsTopic, []topics.Message{{Key: []byte(actionID), Value: val}})
	}
	actionOf := func(m schemas.MatrizMessage) (id, kind, hash string) {
		h, err := stages.ParamsHash(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		kind, _ = m.Payload.String("action_kind")
		return stages.DerivedID(m.MsgID, stages.StageGuardian, "action"), kind, h
	}

	gen := devstack.NewSynthetic(lane, 47, 3)
	now := time.Now()
	own, later, fine := p0Action(gen, now), p0Action(gen, now.Add(time.Millisecond)), p0Action(gen, now.Add(2*time.Millisecond))
	ownID, ownKind, ownHash := actionOf(own)
	laterID, laterKind, laterHash := actionOf(later)
	fineID, fineKind, fineHash := actionOf(fine)

	// Before any message: an unknown action, and one computed in advance.
	approve("no-such-action", "notify_operator", fineHash, "User:bob")
	approve(laterID, laterKind, laterHash, "User:bob")
	recs := e.Encode(t, lane, []schemas.MatrizMessage{own, later, fine})
	recs[0].Headers = append(recs[0].Headers, topics.Header{Key: topics.HeaderProducer, Value: []byte("User:alice")})
	e.Produce(t, lane, nil, recs)

	acfg := ops.ActionsConfig{Lane: lane, Brokers: e.Brokers, RegistryURL: e.RegistryURL}
	status := func(id string) ops.ActionStatus {
		acts, err := ops.ListActions(context.Background(), acfg)
		if err != nil {
			t.Fatal(err)
		}
		if i := slices.IndexFunc(acts, func(a ops.ActionStatus) bool { return a.ID == id }); i >= 0 {
			return acts[i]
		}
		return ops.ActionStatus{}
	}
	clocktest.WaitFor(t, time.Minute, "the three P0 actions previewed", func() bool {
		return status(ownID).Status == stages.ActionPreview && status(laterID).Status == stages.ActionPreview && status(fineID).Status == stages.ActionPreview
	}, nil)
	if a := status(fineID); a.ParamsHash != fineHash || !a.Waiting() {
		t.Fatalf("action %s listed %+v, want it waiting with the parameters' hash %s", fineID, a, fineHash)
	}
	if a := status(laterID); !a.Waiting() {
		t.Errorf("the action approved in advance is listed %+v, want it waiting", a)
	}

	// matriz approve refuses it before writing; written anyway, the lane does.
	if _, err := ops.Approve(context.Background(), ops.ApproveConfig{ActionsConfig: acfg, ActionID: ownID, Approver: "User:alice"}); err == nil || !strings.Contains(err.Error(), "User:alice") {
		t.Errorf("matriz approve by the message's producer = %v, want a refusal naming it", err)
	}
	approve(ownID, ownKind, ownHash, "User:alice")               // its producer
	approve(fineID, fineKind, "sha256:"+ownHash[7:], "User:bob") // other parameters
	approve(fineID, fineKind, fineHash, "User:bob")              // valid

	verdicts := func() map[string][]schemas.Payload {
		out := map[string][]schemas.Payload{}
		for _, m := range e.ReadAll(t, topics.Name(string(lane), topics.KindEvents)) {
			if pipetest.Header(m, HeaderLaneEvent) == "" {
				continue
			}
			var ev schemas.Event
			if _, err := schemas.DecodeWire(context.Background(), e.Serde.Lookup(), m.Value, &ev); err != nil {
				t.Fatal(err)
			}
			id, _ := ev.Payload.String(stages.ApprovalActionKey)
			out[id] = append(out[id], ev.Payload)
		}
		return out
	}
	clocktest.WaitFor(t, time.Minute, "the valid approval executed its action", func() bool {
		e.Produce(t, lane, []schemas.MatrizMessage{gen.Next(time.Now()), gen.Next(time.Now()), gen.Next(time.Now())}, nil) // frames to apply it at
		return status(fineID).Status == stages.ActionExecuted
	}, nil)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	stop = nil

	got := verdicts()
	reasons := func(id string) []string {
		var rs []string
		for _, p := range got[id] {
			r, _ := p.String("reason")
			if s, _ := p.String("status"); s == VerdictAccepted {
				r = VerdictAccepted
			}
			rs = append(rs, r)
		}
		return rs
	}
	for _, c := range []struct {
		name, id string
		want     []string
	}{
		{"unknown action", "no-such-action", []string{stages.RefusedUnknown}},
		{"self-approval", ownID, []string{stages.RefusedSelf}},
		{"other parameters, then valid", fineID, []string{stages.RefusedParams, VerdictAccepted}},
	} {
		if rs := reasons(c.id); !slices.Equal(rs, c.want) {
			t.Errorf("%s: verdicts %v, want %v", c.name, rs, c.want)
		}
	}
	// Approved in advance: refused as written before the preview, or as
	// unknown when the message came later than the lane waits for one.
	if rs := reasons(laterID); len(rs) != 1 || (rs[0] != stages.RefusedInAdvance && rs[0] != stages.RefusedUnknown) {
		t.Errorf("approval computed in advance: verdicts %v, want one refusal", rs)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls[fineID] != 1 || calls[ownID] != 0 || calls[laterID] != 0 || len(calls) != 1 {
		t.Errorf("executor calls %v, want the validly approved %s once and nothing else", calls, fineID)
	}
	for _, id := range []string{ownID, laterID} {
		if a := status(id); a.Status != stages.ActionPreview || !a.Waiting() {
			t.Errorf("action %s after its approval was refused: %+v, want it still waiting", id, a)
		}
	}
	t.Logf("verdicts: %v", got)
}
