package stages

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/matriz/pipelines/schemas"
)

// recorder is an Executor that remembers what it ran.
type recorder struct {
	calls []Action
	lanes []schemas.Lane
	err   error
}

func (x *recorder) Execute(ctx context.Context, lane schemas.Lane, a Action) error {
	if x.err != nil {
		return x.err
	}
	x.calls = append(x.calls, a)
	x.lanes = append(x.lanes, lane)
	return nil
}

// consented returns tags that pass the consent policy.
func consented() map[string]string {
	return map[string]string{"consent": "granted", "purpose": "care", "subject_sid": "sid-1"}
}

// gMsg is a message with consent tags and payload p on topic.
func gMsg(n int, topic string, p schemas.Payload) *schemas.MatrizMessage {
	m := fxMsg(n, fxID(1000+n), topic, p)
	m.Glyph.Tags = consented()
	return m
}

func TestNewGuardianRejectsBadOptions(t *testing.T) {
	cases := []struct {
		name   string
		lane   schemas.Lane
		opt    GuardianOption
		option string
	}{
		{"experimental live", schemas.LaneExperimental, GuardianDryRun(false), "GuardianDryRun"},
		{"not a lane", "live", GuardianDryRun(true), "lane"},
		{"no lane", "", GuardianMaxRisk(0.1), "lane"},
		{"risk above one", schemas.LaneProd, GuardianMaxRisk(1.2), "GuardianMaxRisk"},
		{"risk NaN", schemas.LaneProd, GuardianMaxRisk(math.NaN()), "GuardianMaxRisk"},
		{"drift negative", schemas.LaneCandidate, GuardianMaxDrift(-0.1), "GuardianMaxDrift"},
		{"bad priority", schemas.LaneProd, GuardianRequireApproval([]Priority{P1, "P7"}), "GuardianRequireApproval"},
		{"nil approvals", schemas.LaneProd, GuardianApprovals(nil), "GuardianApprovals"},
		{"nil executor", schemas.LaneProd, GuardianExecutor(nil), "GuardianExecutor"},
		{"empty topic", schemas.LaneProd, GuardianActionTopics("action", ""), "GuardianActionTopics"},
		{"no pending", schemas.LaneProd, GuardianMaxPending(0), "GuardianMaxPending"},
		{"no ttl", schemas.LaneProd, GuardianApprovalTTL(0), "GuardianApprovalTTL"},
		{"no link base", schemas.LaneProd, GuardianExplanationBase(""), "GuardianExplanationBase"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGuardian(tc.lane, tc.opt)
			var oe *OptionError
			if g != nil || !errors.Is(err, ErrGuardianConfig) || !errors.As(err, &oe) || oe.Option != tc.option {
				t.Fatalf("NewGuardian = %v, %v; want an OptionError for %s", g, err, tc.option)
			}
		})
	}
	_, err := NewGuardian(schemas.LaneExperimental, GuardianDryRun(false))
	if err == nil || !strings.Contains(err.Error(), "guardian: option GuardianDryRun for lane experimental = false: want true") {
		t.Fatalf("the lane guard's error does not name the lane: %v", err)
	}
	for _, lane := range schemas.Lanes {
		if _, err := NewGuardian(lane, GuardianDryRun(true), GuardianRequireApproval(nil), GuardianActionTopics()); err != nil {
			t.Fatalf("lane %s: %v", lane, err)
		}
	}
}

func TestGuardianPolicies(t *testing.T) {
	type tc struct {
		name    string
		topic   string
		p       schemas.Payload
		tags    map[string]string
		setup   func(r *Record)
		outcome Outcome
		reason  string
	}
	noConsent := map[string]string{"purpose": "care"}
	cases := []tc{
		{name: "consented message", p: schemas.Payload{"risk": 0.1}, outcome: OutcomeAllow},
		{name: "risk at max", p: schemas.Payload{"risk": 0.5}, outcome: OutcomeAllow},
		{name: "no tags at all", tags: map[string]string{}, outcome: OutcomeDeny, reason: "consent tag missing"},
		{name: "consent without purpose", tags: map[string]string{"consent": "yes"}, outcome: OutcomeDeny, reason: "purpose tag missing"},
		{name: "consent refused", tags: map[string]string{"consent": "no", "purpose": "x"}, outcome: OutcomeDeny, reason: `consent is "no"`},
		{name: "consent spelled loosely", tags: map[string]string{"consent": " TRUE ", "purpose": "x"}, outcome: OutcomeAllow},
		{name: "consent missing", tags: noConsent, outcome: OutcomeDeny, reason: "consent tag missing"},
		{name: "risk over max", p: schemas.Payload{"risk": 0.51}, outcome: OutcomeDeny, reason: "risk 0.51 exceeds max_risk 0.5"},
		{name: "risk NaN", p: schemas.Payload{"risk": math.NaN()}, outcome: OutcomeDeny, reason: "risk is NaN"},
		{name: "risk text", p: schemas.Payload{"risk": "low"}, outcome: OutcomeDeny, reason: "risk is string"},
		{name: "risk negative", p: schemas.Payload{"risk": -0.2}, outcome: OutcomeDeny, reason: "outside [0, 1]"},
		{name: "node's risk is larger", p: schemas.Payload{"risk": 0.1}, setup: func(r *Record) { r.Result.Payload = schemas.Payload{"risk": 0.9} }, outcome: OutcomeDeny, reason: "risk 0.9 exceeds"},
		{name: "declared unacceptable", p: schemas.Payload{"risk_class": "unacceptable"}, outcome: OutcomeDeny, reason: "risk_class unacceptable"},
		{name: "declared class unknown", p: schemas.Payload{"risk_class": "spicy"}, outcome: OutcomeDeny, reason: "risk_class spicy is not"},
		{name: "declared high is allowed", p: schemas.Payload{"risk_class": "high"}, outcome: OutcomeAllow},
		{name: "drift over max", setup: func(r *Record) { r.SetScore(ScoreDriftEMA, 0.36) }, outcome: OutcomeDeny, reason: "drift EMA 0.36 exceeds max_drift 0.35"},
		{name: "drift at max", setup: func(r *Record) { r.SetScore(ScoreDriftEMA, 0.35) }, outcome: OutcomeAllow},
		{name: "upstream refused", setup: func(r *Record) { r.Result.OK = false }, outcome: OutcomeDeny, reason: "upstream result not ok"},
		{name: "lane mismatch", setup: func(r *Record) { r.Msg.Lane = schemas.LaneExperimental }, outcome: OutcomeDeny, reason: `message of lane "experimental" on the prod lane`},
		{name: "P1 action executes", p: schemas.Payload{"action_kind": "notify", "priority": "P1"}, outcome: OutcomeExecuted},
		{name: "action topic executes", topic: "action", p: schemas.Payload{"priority": "P3"}, outcome: OutcomeExecuted},
		{name: "P0 waits", p: schemas.Payload{"action_kind": "notify", "priority": "P0"}, outcome: OutcomePending, reason: "P0 action awaits a human approval"},
		{name: "no priority is P0", p: schemas.Payload{"action_kind": "notify"}, outcome: OutcomePending},
		{name: "bad priority", p: schemas.Payload{"action_kind": "notify", "priority": "urgent"}, outcome: OutcomeDeny, reason: "priority urgent is not"},
		{name: "bad action kind", p: schemas.Payload{"action_kind": int64(3)}, outcome: OutcomeDeny, reason: "action_kind 3 is not a non-empty string"},
		{name: "risky action denied, no preview", p: schemas.Payload{"action_kind": "notify", "priority": "P2", "risk": 0.8}, outcome: OutcomeDeny, reason: "exceeds max_risk"},
		{name: "action without consent", tags: noConsent, p: schemas.Payload{"action_kind": "notify", "priority": "P2"}, outcome: OutcomeDeny, reason: "consent"},
		{name: "GLYPH v2 consent granted beats missing tags", tags: map[string]string{},
			setup: func(r *Record) { r.Msg.Glyph.Consent = &schemas.Consent{Granted: true, Purpose: "care"} }, outcome: OutcomeAllow},
		{name: "GLYPH v2 consent refused beats granted tags",
			setup: func(r *Record) { r.Msg.Glyph.Consent = &schemas.Consent{Granted: false, Purpose: "care"} }, outcome: OutcomeDeny, reason: "glyph consent not granted"},
		{name: "GLYPH v2 consent without purpose",
			setup: func(r *Record) { r.Msg.Glyph.Consent = &schemas.Consent{Granted: true} }, outcome: OutcomeDeny, reason: "glyph consent has no purpose"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ex := &recorder{}
			g, err := NewGuardian(schemas.LaneProd, GuardianExecutor(ex))
			if err != nil {
				t.Fatal(err)
			}
			topic := c.topic
			if topic == "" {
				topic = "trend"
			}
			m := gMsg(1, topic, c.p)
			if c.tags != nil {
				m.Glyph.Tags = c.tags
			}
			f := fxFrame(schemas.LaneProd, 0, 0, m)
			f.Flags.ExtActions = true
			r := &f.Records[0]
			if c.setup != nil {
				c.setup(r)
			}
			upstreamOK := r.Result.OK
			if err := g.Process(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			if r.Verdict == nil || r.Verdict.Outcome != c.outcome {
				t.Fatalf("verdict %+v, want %s", r.Verdict, c.outcome)
			}
			if c.reason != "" && !strings.Contains(strings.Join(r.Verdict.Reasons, "; "), c.reason) {
				t.Fatalf("verdict reasons %q, want one mentioning %q", r.Verdict.Reasons, c.reason)
			}
			switch c.outcome {
			case OutcomeDeny:
				if r.Result.OK || !strings.Contains(strings.Join(r.Result.Reasons, "; "), "guardian: ") {
					t.Fatalf("deny left ok=%v reasons %q", r.Result.OK, r.Result.Reasons)
				}
			default:
				if r.Result.OK != upstreamOK || len(r.Result.Reasons) != 0 {
					t.Fatalf("%s changed the result: ok=%v reasons %q", c.outcome, r.Result.OK, r.Result.Reasons)
				}
			}
			executed := c.outcome == OutcomeExecuted
			if (len(ex.calls) == 1) != executed {
				t.Fatalf("executor calls %d, outcome %s", len(ex.calls), c.outcome)
			}
			previews := 0
			for _, a := range f.Actions {
				if a.Payload["status"] == ActionPreview {
					previews++
				}
			}
			wantPreview := c.outcome == OutcomeExecuted || c.outcome == OutcomePending
			if (previews == 1) != wantPreview {
				t.Fatalf("%d previews for outcome %s", previews, c.outcome)
			}
			if len(fxEvents(f, schemas.EventGuardianDecision)) != 1 || len(f.Traces) != 1 {
				t.Fatalf("%d decision events and %d traces, want one each", len(f.Events), len(f.Traces))
			}
			fxCrumb(t, r, "guardian")
		})
	}
}

func TestGuardianLanesAndFlags(t *testing.T) {
	action := schemas.Payload{"action_kind": "notify", "priority": "P2"}
	cases := []struct {
		name    string
		lane    schemas.Lane
		ext     bool
		opts    []GuardianOption
		outcome Outcome
		reason  string
	}{
		{"experimental runs dry", schemas.LaneExperimental, true, nil, OutcomeDryRun, "the experimental lane runs dry"},
		{"candidate dry by default", schemas.LaneCandidate, true, nil, OutcomeDryRun, "the candidate lane runs dry"},
		{"candidate live on request", schemas.LaneCandidate, true, []GuardianOption{GuardianDryRun(false)}, OutcomeExecuted, ""},
		{"prod executes", schemas.LaneProd, true, nil, OutcomeExecuted, ""},
		{"prod dry on request", schemas.LaneProd, true, []GuardianOption{GuardianDryRun(true)}, OutcomeDryRun, "runs dry"},
		{"kill switch", schemas.LaneProd, false, nil, OutcomeDryRun, "EXT_ACTIONS_ENABLED is off"},
		{"P2 needs approval when asked", schemas.LaneProd, true, []GuardianOption{GuardianRequireApproval([]Priority{P0, P1, P2})}, OutcomePending, "P2 action awaits"},
		{"no approvals at all", schemas.LaneProd, true, []GuardianOption{GuardianRequireApproval(nil)}, OutcomeExecuted, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ex := &recorder{}
			g, err := NewGuardian(c.lane, append(c.opts, GuardianExecutor(ex))...)
			if err != nil {
				t.Fatal(err)
			}
			f := fxFrame(c.lane, 0, 0, gMsg(1, "trend", action))
			f.Flags.ExtActions = c.ext
			if err := g.Process(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			v := f.Records[0].Verdict
			if v.Outcome != c.outcome || !strings.Contains(strings.Join(v.Reasons, ";"), c.reason) {
				t.Fatalf("verdict %+v, want %s mentioning %q", v, c.outcome, c.reason)
			}
			if c.outcome == OutcomeExecuted {
				if len(ex.calls) != 1 || ex.lanes[0] != c.lane || ex.calls[0].Approved {
					t.Fatalf("executor calls %+v on %v", ex.calls, ex.lanes)
				}
				a := ex.calls[0]
				if a.ID != v.ActionID || a.Kind != "notify" || a.Priority != P2 || a.Params["action_kind"] != "notify" {
					t.Fatalf("action %+v", a)
				}
			} else if len(ex.calls) != 0 {
				t.Fatalf("executed %+v with outcome %s", ex.calls, c.outcome)
			}
			tr := f.Traces[0]
			if !strings.Contains(strings.Join(tr.Constraints, " "), "ext_actions="+map[bool]string{true: "true", false: "false"}[c.ext]) {
				t.Fatalf("constraints %q do not record the flag", tr.Constraints)
			}
		})
	}
}

func TestGuardianP0WaitsForApprovalThenExecutes(t *testing.T) {
	ex := &recorder{}
	approvals := NewApprovalSet()
	g, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianApprovals(approvals))
	m := gMsg(1, "trend", schemas.Payload{"action_kind": "wire_funds", "priority": "P0", "amount": 12.5, "to": []string{"a", "b"}})
	f0 := fxFrame(schemas.LaneProd, 0, 0, m)
	f0.Flags.ExtActions = true
	if err := g.Process(context.Background(), f0); err != nil {
		t.Fatal(err)
	}
	v := f0.Records[0].Verdict
	if v.Outcome != OutcomePending || len(ex.calls) != 0 {
		t.Fatalf("verdict %+v, calls %d", v, len(ex.calls))
	}
	id := v.ActionID
	if id != DerivedID(m.MsgID, "guardian", "action") {
		t.Fatalf("action id %s is not derived from the message", id)
	}
	if p := g.Pending(); len(p) != 1 || p[0].ID != id {
		t.Fatalf("pending %+v", p)
	}
	preview := f0.Actions[0]
	if preview.Payload["status"] != ActionPreview || preview.Payload["approval_required"] != true || preview.Payload["action_id"] != id || preview.Kind != schemas.EventAction {
		t.Fatalf("preview %+v", preview)
	}

	// Same message again (redelivery): still one waiting action.
	again := fxFrame(schemas.LaneProd, 0, 0, gMsg(1, "trend", m.Payload))
	again.Flags.ExtActions = true
	_ = g.Process(context.Background(), again)
	if n := len(g.Pending()); n != 1 {
		t.Fatalf("%d pending after redelivery", n)
	}

	// Not approved yet: nothing happens.
	f1 := fxFrame(schemas.LaneProd, 0, 1)
	f1.Flags.ExtActions = true
	_ = g.Process(context.Background(), f1)
	if len(f1.Events)+len(f1.Actions) != 0 {
		t.Fatalf("frame without approval emitted %+v %+v", f1.Events, f1.Actions)
	}
	// Approved while the kill switch is off: still waiting.
	approvals.Approve(id)
	f2 := fxFrame(schemas.LaneProd, 0, 2)
	_ = g.Process(context.Background(), f2)
	if len(ex.calls) != 0 || len(g.Pending()) != 1 {
		t.Fatal("executed with EXT_ACTIONS_ENABLED off")
	}
	// Approved and on: executes at the start of the frame.
	f3 := fxFrame(schemas.LaneProd, 0, 3)
	f3.Flags.ExtActions = true
	if err := g.Process(context.Background(), f3); err != nil {
		t.Fatal(err)
	}
	if len(ex.calls) != 1 || !ex.calls[0].Approved || ex.calls[0].Params["amount"] != 12.5 {
		t.Fatalf("executor calls %+v", ex.calls)
	}
	if len(g.Pending()) != 0 || g.Stats().Pending != 0 {
		t.Fatal("executed action still waiting")
	}
	dec := fxEvents(f3, schemas.EventGuardianDecision)
	if len(dec) != 1 || dec[0].Payload["outcome"] != "executed" || dec[0].MsgID != m.MsgID || !dec[0].TS.Equal(f3.End) {
		t.Fatalf("decision events %+v", dec)
	}
	if dec[0].ID == fxEvents(f0, schemas.EventGuardianDecision)[0].ID {
		t.Fatal("the later decision reuses the first decision's id")
	}
	if len(f3.Actions) != 1 || f3.Actions[0].Payload["status"] != ActionExecuted || f3.Actions[0].Payload["approved"] != true {
		t.Fatalf("action events %+v", f3.Actions)
	}
	if len(f3.Traces) != 1 || f3.Traces[0].Decision != "executed" || len(f3.Traces[0].Crumbs) != 1 {
		t.Fatalf("traces %+v", f3.Traces)
	}
	st := g.Stats()
	if st.Decisions[OutcomePending] != 2 || st.Decisions[OutcomeExecuted] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestGuardianPendingExpiresAndIsBounded(t *testing.T) {
	g, _ := NewGuardian(schemas.LaneProd, GuardianApprovalTTL(100*time.Millisecond), GuardianMaxPending(1))
	f0 := fxFrame(schemas.LaneProd, 0, 0,
		gMsg(1, "trend", schemas.Payload{"action_kind": "a"}),
		gMsg(2, "trend", schemas.Payload{"action_kind": "b"}),
	)
	f0.Flags.ExtActions = true
	_ = g.Process(context.Background(), f0)
	if o := f0.Records[1].Verdict.Outcome; o != OutcomeDeny || !strings.Contains(f0.Records[1].Verdict.Reasons[0], "1 actions already await approval") {
		t.Fatalf("second P0 over the bound: %+v", f0.Records[1].Verdict)
	}
	for seq := int64(1); seq <= 3; seq++ {
		f := fxFrame(schemas.LaneProd, 0, seq)
		f.Flags.ExtActions = true
		_ = g.Process(context.Background(), f)
		if len(f.Events) != 0 {
			t.Fatalf("frame %d (start %v) settled the action early", seq, f.Start.Sub(fxEpoch))
		}
	}
	f4 := fxFrame(schemas.LaneProd, 0, 4) // starts at 133ms ≥ 0 + 100ms
	_ = g.Process(context.Background(), f4)
	dec := fxEvents(f4, schemas.EventGuardianDecision)
	if len(dec) != 1 || dec[0].Payload["outcome"] != "deny" || !strings.Contains(dec[0].Payload["reasons"].([]string)[0], "no approval within 100ms") {
		t.Fatalf("expiry decision %+v", dec)
	}
	if len(f4.Actions) != 1 || f4.Actions[0].Payload["status"] != ActionExpired {
		t.Fatalf("expiry action event %+v", f4.Actions)
	}
	if len(g.Pending()) != 0 {
		t.Fatal("expired action still waiting")
	}
}

func TestGuardianExecutorErrorIsADeny(t *testing.T) {
	ex := &recorder{err: errors.New("lane guard: refused outside candidate|prod")}
	g, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianRequireApproval(nil))
	f := fxFrame(schemas.LaneProd, 0, 0, gMsg(1, "action", nil))
	f.Flags.ExtActions = true
	if err := g.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	r := &f.Records[0]
	if r.Verdict.Outcome != OutcomeDeny || r.Result.OK || !strings.Contains(r.Result.Reasons[0], "guardian: execute: lane guard") {
		t.Fatalf("verdict %+v result %+v", r.Verdict, r.Result)
	}
	if last := f.Actions[len(f.Actions)-1]; last.Payload["status"] != ActionFailed || !strings.Contains(last.Payload["error"].(string), "lane guard") {
		t.Fatalf("failed action event %+v", last)
	}
}

func TestGuardianStopsWhenTheContextEndsDuringExecution(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	ex := ExecutorFunc(func(ctx context.Context, _ schemas.Lane, _ Action) error {
		calls++
		cancel()
		return ctx.Err()
	})
	approvals := NewApprovalSet()
	g, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianApprovals(approvals))
	// Two waiting actions; the first execution ends the context.
	f0 := fxFrame(schemas.LaneProd, 0, 0, gMsg(1, "action", nil), gMsg(2, "action", nil))
	f0.Flags.ExtActions = true
	_ = g.Process(context.Background(), f0)
	for _, a := range g.Pending() {
		approvals.Approve(a.ID)
	}
	f1 := fxFrame(schemas.LaneProd, 0, 1)
	f1.Flags.ExtActions = true
	if err := g.Process(ctx, f1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Process = %v, want context.Canceled", err)
	}
	if calls != 1 || len(g.Pending()) != 2 {
		t.Fatalf("calls %d, pending %d: an interrupted settle must keep both actions", calls, len(g.Pending()))
	}
	// A fresh context finishes the job; an interrupted record decision
	// returns the error too.
	g2, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianRequireApproval(nil))
	ctx2, cancel2 := context.WithCancel(context.Background())
	cancel = cancel2
	f := fxFrame(schemas.LaneProd, 0, 0, gMsg(3, "action", nil), gMsg(4, "action", nil))
	f.Flags.ExtActions = true
	if err := g2.Process(ctx2, f); !errors.Is(err, context.Canceled) {
		t.Fatalf("Process = %v, want context.Canceled", err)
	}
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	d := &decision{action: &Action{ID: "x"}}
	if err := g2.execute(ctx3, f, d, f.End); !errors.Is(err, context.Canceled) {
		t.Fatalf("execute with an ended context = %v", err)
	}
}

func TestGuardianTraceAndEventContent(t *testing.T) {
	g, _ := NewGuardian(schemas.LaneCandidate, GuardianExplanationBase("https://explain.example/t/"))
	m1 := gMsg(1, "trend", schemas.Payload{"risk": 0.3, "data_origin": "sensor"})
	m2 := gMsg(2, "trend", schemas.Payload{"explanation_link": "https://docs/x"})
	m2.Glyph.Tags["provenance"] = "import:crm"
	m3 := gMsg(3, "trend", nil)
	f := fxFrame(schemas.LaneCandidate, 0, 0, m1, m2, m3)
	f.Records[2].Dropped = true
	if err := g.Process(context.Background(), f); err != nil {
		t.Fatal(err)
	}
	if len(f.Traces) != 2 || len(fxEvents(f, schemas.EventGuardianDecision)) != 2 {
		t.Fatalf("%d traces for 2 live records", len(f.Traces))
	}
	t1, t2 := f.Traces[0], f.Traces[1]
	traceID := DerivedID(m1.MsgID, "guardian", "trace")
	fxEqual(t, "trace id", t1.ID, traceID)
	fxEqual(t, "risk class", t1.RiskClass, schemas.RiskLimited)
	fxEqual(t, "data origin from payload", t1.DataOrigin, "sensor")
	fxEqual(t, "default link", t1.ExplanationLink, "https://explain.example/t/"+traceID)
	fxEqual(t, "data origin from tags", t2.DataOrigin, "import:crm")
	fxEqual(t, "link from payload", t2.ExplanationLink, "https://docs/x")
	fxEqual(t, "risk class of no risk", t2.RiskClass, schemas.RiskMinimal)
	if len(t1.Crumbs) != 2 || t1.Crumbs[0].Stage != "router" || t1.Crumbs[1].Stage != "guardian" {
		t.Fatalf("trace crumbs %+v", t1.Crumbs)
	}
	fxEqual(t, "inputs", t1.Inputs, schemas.Payload{"topic": "trend", "risk": 0.3, "consent": "granted", "purpose": "care"})
	fxEqual(t, "outputs", t1.Outputs, schemas.Payload{"outcome": "allow"})
	ev := fxEvents(f, schemas.EventGuardianDecision)[0]
	fxEqual(t, "event id", ev.ID, DerivedID(m1.MsgID, "guardian", "guardian_decision"))
	fxEqual(t, "event payload", ev.Payload, schemas.Payload{"outcome": "allow", "risk_class": "limited", "trace_id": traceID})
	if !ev.TS.Equal(m1.TS) || ev.Lane != schemas.LaneCandidate || ev.GlyphID != m1.Glyph.ID {
		t.Fatalf("event %+v", ev)
	}
	if f.Records[2].Verdict != nil {
		t.Fatal("a dropped record got a verdict")
	}
	// No result on the record: a verdict and a trace, nothing else.
	f2 := fxFrame(schemas.LaneCandidate, 0, 1, gMsg(4, "trend", nil))
	f2.Records[0].Result = nil
	_ = g.Process(context.Background(), f2)
	if f2.Records[0].Verdict.Outcome != OutcomeAllow || len(f2.Traces[0].Crumbs) != 1 {
		t.Fatalf("verdict %+v crumbs %+v", f2.Records[0].Verdict, f2.Traces[0].Crumbs)
	}
	for i, rc := range []float64{0.1, 0.3, 0.6, 0.9} {
		want := []schemas.RiskClass{schemas.RiskMinimal, schemas.RiskLimited, schemas.RiskHigh, schemas.RiskUnacceptable}[i]
		fxEqual(t, "derived class", derivedRiskClass(rc), want)
	}
	fxEqual(t, "unknown outcome index", outcomeIndex("maybe"), 0)
}

// TestGuardianWaitingActionsKeepTheirParams: an action that waited through
// a reassignment reaches the executor with its parameters and their types,
// which no frame shows.
func TestGuardianWaitingActionsKeepTheirParams(t *testing.T) {
	a, _ := NewGuardian(schemas.LaneProd)
	p := schemas.Payload{"action_kind": "wire", "amount": 12.5, "n": int64(3), "ok": true, "v": []float64{1, math.Inf(1)}, "to": []string{"x"}, "none": nil, "nan": math.NaN()}
	f := fxFrame(schemas.LaneProd, 7, 0, gMsg(1, "trend", p))
	f.Flags.ExtActions = true
	_ = a.Process(context.Background(), f)
	snap, err := a.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	ex := &recorder{}
	approvals := NewApprovalSet()
	b, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianApprovals(approvals))
	if err := b.Restore(snap); err != nil {
		t.Fatal(err)
	}
	approvals.Approve(b.Pending()[0].ID)
	f1 := fxFrame(schemas.LaneProd, 7, 1)
	f1.Flags.ExtActions = true
	_ = b.Process(context.Background(), f1)
	if len(ex.calls) != 1 {
		t.Fatalf("executor calls %+v, want the restored action", ex.calls)
	}
	params := ex.calls[0].Params
	if params["amount"] != 12.5 || params["n"] != int64(3) || params["ok"] != true || params["to"].([]string)[0] != "x" ||
		!math.IsInf(params["v"].([]float64)[1], 1) || !math.IsNaN(params["nan"].(float64)) || params["none"] != nil || len(params) != len(p) {
		t.Fatalf("params did not keep their types: %#v", params)
	}
}

func TestGuardianRestoreRejectsBadState(t *testing.T) {
	for name, bad := range map[string]string{
		"json":          `{"v":1,`,
		"another stage": `{"format":2,"stage":"drift","state":{"lane":"prod"}}`,
		"version":       `{"v":3,"lane":"prod"}`,
		"lane":          `{"v":1,"lane":"moon"}`,
		"another lane":  `{"format":2,"stage":"guardian","state":{"lane":"candidate"}}`,
		"no id":         `{"v":1,"lane":"prod","pending":[{"msg_id":"m","priority":"P0","deadline_ns":5}]}`,
		"priority":      `{"v":1,"lane":"prod","pending":[{"id":"a","msg_id":"m","priority":"P5","deadline_ns":5}]}`,
		"repeated":      `{"v":1,"lane":"prod","pending":[{"id":"a","msg_id":"m","priority":"P0","deadline_ns":5},{"id":"a","msg_id":"m","priority":"P0","deadline_ns":5}]}`,
		"risk":          `{"v":1,"lane":"prod","pending":[{"id":"a","msg_id":"m","priority":"P0","deadline_ns":5,"risk":3}]}`,
		"param tag":     `{"v":1,"lane":"prod","pending":[{"id":"a","msg_id":"m","priority":"P0","deadline_ns":5,"params":{"k":{"t":"zz"}}}]}`,
	} {
		g, _ := NewGuardian(schemas.LaneProd)
		f := fxFrame(schemas.LaneProd, 0, 0, gMsg(1, "action", nil))
		f.Flags.ExtActions = true
		_ = g.Process(context.Background(), f)
		before, _ := g.Snapshot()
		if err := g.Restore([]byte(bad)); !errors.Is(err, ErrSnapshot) || !strings.HasPrefix(err.Error(), "guardian: restore: found ") {
			t.Fatalf("%s: Restore = %v, want ErrSnapshot", name, err)
		}
		if after, _ := g.Snapshot(); len(before) == 0 || string(after) != string(before) {
			t.Fatalf("%s: a refused restore changed the state from %s to %s", name, before, after)
		}
	}
}

func TestGuardianRestoresLegacySnapshot(t *testing.T) {
	approvals := NewApprovalSet()
	restored, _ := NewGuardian(schemas.LaneProd, GuardianApprovals(approvals))
	twin, _ := NewGuardian(schemas.LaneProd, GuardianApprovals(approvals))
	checkLegacyRestore(t, StageGuardian, restored, twin, legacyGuardFrames, func() {
		approvals.Approve(restored.Pending()[1].ID)
	})
	if n := len(restored.Pending()); n != 1 {
		t.Fatalf("%d actions wait after the approved one executed, want 1", n)
	}
}

func TestGuardianRefusesFramesOfAnotherLaneOrNoLane(t *testing.T) {
	g, _ := NewGuardian(schemas.LaneProd)
	if err := g.Process(context.Background(), fxFrame(schemas.LaneCandidate, 1, 1)); !errors.Is(err, ErrPartitionLane) {
		t.Fatalf("lane mismatch: %v", err)
	}
	if err := g.Process(context.Background(), fxFrame("", 2, 1)); !errors.Is(err, ErrFrameLane) {
		t.Fatalf("no lane: %v", err)
	}
}

func TestApprovalSetAndFunc(t *testing.T) {
	var zero ApprovalSet
	if zero.Approved("a") {
		t.Fatal("zero set approves")
	}
	zero.Approve("a")
	s := NewApprovalSet("b", "c")
	s.Revoke("c")
	fxEqual(t, "approvals", []bool{zero.Approved("a"), s.Approved("b"), s.Approved("c")}, []bool{true, true, false})
	f := ApprovalFunc(func(id string) bool { return id == "ok" })
	fxEqual(t, "func", []bool{f.Approved("ok"), f.Approved("no")}, []bool{true, false})
	if _, err := ParsePriority("p0"); err == nil {
		t.Fatal("lower-case priority accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := (RecordOnly{}).Execute(ctx, schemas.LaneProd, Action{}); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := (RecordOnly{}).Execute(ctx, schemas.LaneProd, Action{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("RecordOnly with an ended context: %v", err)
	}
}

func BenchmarkGuardian(b *testing.B) {
	g, _ := NewGuardian(schemas.LaneProd, GuardianApprovals(ApprovalFunc(func(string) bool { return true })))
	msgs := make([]*schemas.MatrizMessage, 1000)
	for i := range msgs {
		p := schemas.Payload{"risk": float64(i%10) / 10}
		if i%10 == 0 {
			p["action_kind"] = "notify"
			p["priority"] = []string{"P0", "P1", "P2", "P3"}[i%4]
		}
		msgs[i] = gMsg(i, "trend", p)
	}
	benchFramesFlags(b, g, schemas.LaneProd, Flags{ExtActions: true}, msgs)
}

func TestGuardianRedeliveryInTheSettlingFrameExecutesOnce(t *testing.T) {
	ex := &recorder{}
	approvals := NewApprovalSet()
	g, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianApprovals(approvals))
	mk := func(seq int64) *Frame {
		f := fxFrame(schemas.LaneProd, 0, seq, gMsg(1, "action", nil))
		f.Flags.ExtActions = true
		return f
	}
	f0 := mk(0)
	_ = g.Process(context.Background(), f0)
	approvals.Approve(f0.Records[0].Verdict.ActionID)
	// The message comes again in a later frame: settle executes the waiting
	// action, and the redelivered record must not execute it a second time.
	f1 := mk(1)
	if err := g.Process(context.Background(), f1); err != nil {
		t.Fatal(err)
	}
	v := f1.Records[0].Verdict
	if len(ex.calls) != 1 || v.Outcome != OutcomeExecuted || v.Reasons[0] != "already executed in this frame" {
		t.Fatalf("calls %d verdict %+v", len(ex.calls), v)
	}
	if n := len(fxEvents(f1, schemas.EventGuardianDecision)); n != 2 {
		t.Fatalf("%d decisions, want the settled one and the redelivered one", n)
	}
}

func TestGuardianSettleFailureAndFullQueue(t *testing.T) {
	ex := &recorder{}
	approvals := NewApprovalSet()
	g, _ := NewGuardian(schemas.LaneProd, GuardianExecutor(ex), GuardianApprovals(approvals), GuardianMaxPending(1))
	f0 := fxFrame(schemas.LaneProd, 0, 0, gMsg(1, "action", nil), gMsg(2, "action", nil))
	f0.Flags.ExtActions = true
	_ = g.Process(context.Background(), f0)
	previews := 0
	for _, a := range f0.Actions {
		if a.Payload["status"] == ActionPreview {
			previews++
		}
	}
	if previews != 1 || f0.Records[1].Verdict.Outcome != OutcomeDeny {
		t.Fatalf("a full queue: %d previews, second verdict %+v; want no preview for the refused action", previews, f0.Records[1].Verdict)
	}
	// The approved action fails in settle: a deny, no longer waiting, and a
	// redelivery in the same frame gets the same failure (without a second
	// call: the approval is used up) instead of claiming success.
	approvals.Approve(f0.Records[0].Verdict.ActionID)
	ex.err = errors.New("remote down")
	f1 := fxFrame(schemas.LaneProd, 0, 1, gMsg(1, "action", nil))
	f1.Flags.ExtActions = true
	_ = g.Process(context.Background(), f1)
	dec := fxEvents(f1, schemas.EventGuardianDecision)
	if len(dec) != 2 || dec[0].Payload["outcome"] != "deny" || f1.Records[0].Verdict.Outcome != OutcomeDeny ||
		!strings.Contains(f1.Records[0].Verdict.Reasons[0], "execute: remote down") {
		t.Fatalf("decisions %+v verdict %+v", dec, f1.Records[0].Verdict)
	}
	if len(g.Pending()) != 0 {
		t.Fatal("a failed action is still waiting")
	}
}
