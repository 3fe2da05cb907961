package stages

// Tests of the guardian's side of "actions execute at most once": the
// at-most-once executor's answers (already executed, uncertain), replays
// that never execute, and approvals that are used up.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// counting is an Executor that counts its calls and answers err.
type counting struct {
	calls int
	err   error
}

func (x *counting) Execute(context.Context, schemas.Lane, Action) error {
	x.calls++
	return x.err
}

// onceFrame is frame seq of prod with EXT_ACTIONS_ENABLED on and msgs.
func onceFrame(seq int64, msgs ...*schemas.MatrizMessage) *Frame {
	f := fxFrame(schemas.LaneProd, 0, seq, msgs...)
	f.Flags.ExtActions = true
	return f
}

// p1 is an action request that needs no approval.
func p1(n int) *schemas.MatrizMessage {
	return gMsg(n, "trend", schemas.Payload{"action_kind": "notify", "priority": "P1"})
}

// outputsOf is what a frame writes: records' results and verdicts, events,
// traces and actions.
func outputsOf(f *Frame) []any {
	out := []any{f.Events, f.Traces, f.Actions}
	for _, r := range f.Records {
		out = append(out, r.Result, r.Verdict)
	}
	return out
}

func TestGuardianAlreadyExecutedIsReportedAsTheFirstExecution(t *testing.T) {
	live, again := &counting{}, &counting{err: fmt.Errorf("action once: %w", ErrAlreadyExecuted)}
	gl, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(live))
	ga, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(again))
	fl, fa := onceFrame(0, p1(1)), onceFrame(0, p1(1))
	if err := gl.Process(context.Background(), fl); err != nil {
		t.Fatal(err)
	}
	if err := ga.Process(context.Background(), fa); err != nil {
		t.Fatal(err)
	}
	if v := fa.Records[0].Verdict; v.Outcome != OutcomeExecuted || len(v.Reasons) != 0 || !fa.Records[0].Result.OK {
		t.Fatalf("verdict %+v", v)
	}
	// Same outputs, byte for byte, as the execution it repeats: readers
	// that drop duplicate ids see one execution.
	fxEqual(t, "redelivered outputs", outputsOf(fa), outputsOf(fl))
	last := fa.Actions[len(fa.Actions)-1]
	if last.Payload["status"] != ActionExecuted || last.ID != ActionEventID(&Action{MsgID: fxID(1)}, ActionExecuted) {
		t.Fatalf("action event %+v", last)
	}
}

func TestGuardianUncertainOutcomeIsNotRetried(t *testing.T) {
	ex := &counting{err: fmt.Errorf("executing record of %s has no outcome: %w", "x", ErrActionUncertain)}
	approvals := NewApprovalSet()
	g, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianApprovals(approvals))
	m := gMsg(1, "action", nil) // P0: needs approval
	approvals.Approve(DerivedID(m.MsgID, StageGuardian, "action"))
	f := onceFrame(0, m, gMsg(1, "action", nil)) // and its redelivery in the same frame
	if err := g.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if ex.calls != 1 {
		t.Fatalf("%d calls, want 1: the redelivery must not call again", ex.calls)
	}
	for i, r := range f.Records {
		v := r.Verdict
		if v.Outcome != OutcomeUncertain || len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0], "check the external system") {
			t.Fatalf("record %d verdict %+v", i, v)
		}
		if !r.Result.OK {
			t.Fatalf("record %d: uncertain is not a deny, the result stays ok: %+v", i, r.Result)
		}
	}
	a := &Action{MsgID: m.MsgID}
	var statuses []string
	for _, ev := range f.Actions {
		statuses = append(statuses, ev.Payload["status"].(string))
	}
	fxEqual(t, "action statuses", statuses, []string{ActionPreview, ActionUncertain, ActionPreview})
	un := f.Actions[1]
	if un.ID != ActionEventID(a, ActionUncertain) || un.Payload["approved"] != true || !strings.Contains(un.Payload["error"].(string), "has no outcome") {
		t.Fatalf("uncertain event %+v", un)
	}
	dec := fxEvents(f, schemas.EventGuardianDecision)
	if dec[0].Payload["outcome"] != string(OutcomeUncertain) || f.Traces[0].Decision != string(OutcomeUncertain) {
		t.Fatalf("decision %+v trace %+v", dec[0].Payload, f.Traces[0].Decision)
	}
	if g.Stats().Decisions[OutcomeUncertain] != 2 {
		t.Fatalf("stats %+v", g.Stats())
	}
	if approvals.Approved(un.Payload["action_id"].(string)) {
		t.Fatal("the approval still approves after the uncertain attempt")
	}
}

func TestGuardianReplayNeverExecutesAndMatchesLive(t *testing.T) {
	cases := []struct {
		name string
		// run processes the action's frames with g, approving through
		// approvals where the scenario needs it, and returns them.
		run func(g *Guardian, approvals *ApprovalSet, replay bool) []*Frame
	}{
		{"P1 executes at once", func(g *Guardian, _ *ApprovalSet, replay bool) []*Frame {
			f := onceFrame(0, p1(1), p1(2))
			f.Replay = replay
			_ = g.Process(context.Background(), f)
			return []*Frame{f}
		}},
		{"P0 executes once approved", func(g *Guardian, approvals *ApprovalSet, replay bool) []*Frame {
			f0 := onceFrame(0, gMsg(1, "action", nil))
			f0.Replay = replay
			_ = g.Process(context.Background(), f0)
			approvals.Approve(f0.Records[0].Verdict.ActionID)
			f1 := onceFrame(1)
			f1.Replay = replay
			_ = g.Process(context.Background(), f1)
			return []*Frame{f0, f1}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			live, never := &counting{}, &counting{}
			al, ar := NewApprovalSet(), NewApprovalSet()
			gl, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(live), GuardianApprovals(al))
			gr, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(never), GuardianApprovals(ar))
			lf, rf := tc.run(gl, al, false), tc.run(gr, ar, true)
			if never.calls != 0 || live.calls == 0 {
				t.Fatalf("replay called the executor %d times (live %d)", never.calls, live.calls)
			}
			for i := range lf {
				// Results, verdicts, decisions and traces equal the live
				// run's; the action events differ only in status.
				fxEqual(t, "results and verdicts", outputsOf(rf[i])[3:], outputsOf(lf[i])[3:])
				fxEqual(t, "events", rf[i].Events, lf[i].Events)
				fxEqual(t, "traces", rf[i].Traces, lf[i].Traces)
				if len(rf[i].Actions) != len(lf[i].Actions) {
					t.Fatalf("frame %d: %d replay action events, %d live", i, len(rf[i].Actions), len(lf[i].Actions))
				}
				for j, la := range lf[i].Actions {
					ra := rf[i].Actions[j]
					want := la.Payload["status"]
					if want == ActionExecuted {
						want = ActionWouldExecute
					}
					if ra.ID != la.ID || ra.Payload["status"] != want || ra.Payload["approved"] != la.Payload["approved"] {
						t.Fatalf("frame %d action %d: replay %+v, live %+v", i, j, ra, la)
					}
				}
			}
		})
	}
}

func TestGuardianUsesUpApprovals(t *testing.T) {
	ex := &counting{}
	approvals := NewApprovalSet()
	g, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianApprovals(approvals))
	m := gMsg(1, "action", nil) // P0
	id := DerivedID(m.MsgID, StageGuardian, "action")
	approvals.Approve(id)
	f0 := onceFrame(0, m)
	_ = g.Process(context.Background(), f0)
	if ex.calls != 1 || f0.Records[0].Verdict.Outcome != OutcomeExecuted {
		t.Fatalf("calls %d verdict %+v", ex.calls, f0.Records[0].Verdict)
	}
	approvals.Approve(id) // the approval recorded again: it stays used
	if approvals.Approved(id) || !approvals.Consumed(id) {
		t.Fatal("the approval still approves after its action executed")
	}
	// The message redelivered frames later in the same process: no call,
	// a deny that says why, under the original decision's id.
	f1 := onceFrame(1, gMsg(1, "action", nil))
	_ = g.Process(context.Background(), f1)
	v := f1.Records[0].Verdict
	if ex.calls != 1 || v.Outcome != OutcomeDeny || !strings.Contains(v.Reasons[0], "approval already used") {
		t.Fatalf("calls %d verdict %+v", ex.calls, v)
	}
	if got, want := fxEvents(f1, schemas.EventGuardianDecision)[0].ID, fxEvents(f0, schemas.EventGuardianDecision)[0].ID; got != want {
		t.Fatalf("redelivered decision id %s, want the original %s", got, want)
	}
	if len(g.Pending()) != 0 {
		t.Fatal("the redelivered action waits for an approval that was used")
	}

	// A failed execution uses the approval up too.
	fail := &counting{err: errors.New("remote down")}
	g2, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(fail), GuardianApprovals(approvals))
	m2 := gMsg(2, "action", nil)
	id2 := DerivedID(m2.MsgID, StageGuardian, "action")
	approvals.Approve(id2)
	_ = g2.Process(context.Background(), onceFrame(0, m2))
	if fail.calls != 1 || approvals.Approved(id2) {
		t.Fatalf("calls %d, approved after failure %v", fail.calls, approvals.Approved(id2))
	}
}

func TestGuardianRestoredWaitingActionWithUsedApprovalIsNotExecuted(t *testing.T) {
	ex := &counting{}
	approvals := NewApprovalSet()
	g, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianApprovals(approvals))
	f0 := onceFrame(0, gMsg(1, "action", nil))
	_ = g.Process(context.Background(), f0)
	snap, err := g.Snapshot() // the changelog's state: the action waits
	if err != nil {
		t.Fatal(err)
	}
	approvals.Approve(f0.Records[0].Verdict.ActionID)
	f1 := onceFrame(1)
	_ = g.Process(context.Background(), f1)
	if ex.calls != 1 {
		t.Fatalf("%d calls after approval", ex.calls)
	}
	// The partition comes back to this process from the older snapshot.
	g2, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianApprovals(approvals))
	if err := g2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	f1again := onceFrame(1)
	_ = g2.Process(context.Background(), f1again)
	dec := fxEvents(f1again, schemas.EventGuardianDecision)
	if ex.calls != 1 || len(dec) != 1 || dec[0].Payload["outcome"] != "deny" || len(g2.Pending()) != 0 {
		t.Fatalf("calls %d, decisions %+v, pending %d", ex.calls, dec, len(g2.Pending()))
	}
	if want := fxEvents(f1, schemas.EventGuardianDecision)[0].ID; dec[0].ID != want {
		t.Fatalf("settled again under id %s, want the execution's decision id %s", dec[0].ID, want)
	}
}
