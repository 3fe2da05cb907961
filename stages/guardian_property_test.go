package stages

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/matriz/pipelines/schemas"
)

// TestGuardianPropertyNoUnsafeExecution is the guardian's acceptance line:
// over 10,000 random (seeded) messages per configuration — random lanes,
// consent tags, purposes, topics, action kinds, priorities, risks, drift
// EMAs, lane mismatches, upstream refusals, EXT_ACTIONS_ENABLED per frame
// approvals given at random between frames, and an executor that answers
// some calls uncertain — no action executes
// without consent, none in experimental, none in prod at P0 without an
// approval, none with the kill switch off, none twice. Each lane has its
// guardian, as each lane has its chain.
func TestGuardianPropertyNoUnsafeExecution(t *testing.T) {
	configs := []struct {
		name string
		opts map[schemas.Lane][]GuardianOption
	}{
		{"defaults", nil},
		{"candidate live, P0 and P1 approved in prod", map[schemas.Lane][]GuardianOption{
			schemas.LaneCandidate: {GuardianDryRun(false)},
			schemas.LaneProd:      {GuardianRequireApproval([]Priority{P0, P1})},
		}},
	}
	for ci, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			guardianProperty(t, uint64(ci), cfg.opts)
		})
	}
}

// msgFacts is what the test knows about a message, worked out
// independently of the guardian.
type msgFacts struct {
	consent  bool
	priority Priority
	lane     schemas.Lane
}

func guardianProperty(t *testing.T, seed uint64, opts map[schemas.Lane][]GuardianOption) {
	const messages, perFrame = 10_000, 50
	rng := rand.New(rand.NewPCG(2026, 10_000+seed))
	approvals := NewApprovalSet()
	facts := map[string]msgFacts{} // by action id
	executed := map[string]bool{}
	extOn := false
	var violations []string
	counts := map[Outcome]int{}
	settled := 0

	ex := ExecutorFunc(func(_ context.Context, lane schemas.Lane, a Action) error {
		fa, ok := facts[a.ID]
		switch {
		case !ok:
			violations = append(violations, "unknown action "+a.ID)
		case !fa.consent:
			violations = append(violations, "executed without consent: "+a.MsgID)
		case lane == schemas.LaneExperimental || fa.lane == schemas.LaneExperimental:
			violations = append(violations, "executed in experimental: "+a.MsgID)
		case lane == schemas.LaneProd && fa.priority == P0 && !approvals.Approved(a.ID):
			violations = append(violations, "P0 executed in prod without approval: "+a.MsgID)
		case !extOn:
			violations = append(violations, "executed with EXT_ACTIONS_ENABLED off: "+a.MsgID)
		case executed[a.ID]:
			violations = append(violations, "executed twice: "+a.ID)
		case lane != fa.lane:
			violations = append(violations, "executed on another lane: "+a.MsgID)
		}
		executed[a.ID] = true
		// Some calls leave no outcome (an at-most-once executor's answer
		// after a crash): the decision must be uncertain, never a retry.
		if rng.IntN(20) == 0 {
			return fmt.Errorf("executing record without an outcome: %w", ErrActionUncertain)
		}
		return nil
	})
	guardians := map[schemas.Lane]*Guardian{}
	for _, lane := range schemas.Lanes {
		g, err := NewGuardian(lane, append(opts[lane], GuardianExecutor(ex), GuardianApprovals(approvals))...)
		if err != nil {
			t.Fatal(err)
		}
		guardians[lane] = g
	}

	pick := func(xs ...string) string { return xs[rng.IntN(len(xs))] }
	seqs := map[schemas.Lane]int64{}
	n := 0
	for n < messages {
		lane := schemas.Lanes[rng.IntN(3)]
		seq := seqs[lane]
		seqs[lane]++
		var ms []*schemas.MatrizMessage
		for range perFrame {
			n++
			tags := map[string]string{}
			if c := pick("-", "granted", "yes", " TRUE ", "no", "", "revoked", "granted", "granted", "yes", "granted", "true"); c != "-" {
				tags["consent"] = c
			}
			if p := pick("-", "", "care", "research", "care", "care", "care", "care"); p != "-" {
				tags["purpose"] = p
			}
			p := schemas.Payload{}
			switch rng.IntN(12) {
			case 0, 1, 2:
			case 3:
				p["risk"] = math.NaN()
			case 4:
				p["risk"] = "high"
			default:
				p["risk"] = rng.Float64() * 0.6
			}
			if rng.IntN(3) > 0 {
				switch k := pick("notify", "wire", "notify", "wire", "", "num"); k {
				case "num":
					p["action_kind"] = int64(7)
				default:
					p["action_kind"] = k
				}
			}
			if pr := pick("-", "P0", "P1", "P2", "P3", "P0", "P1", "P2", "P3", "P9"); pr != "-" {
				p["priority"] = pr
			}
			m := fxMsg(n, fxID(rng.IntN(300)), pick("action", "trend", "memory"), p)
			m.Glyph.Tags = tags
			if rng.IntN(40) == 0 {
				m.Lane = schemas.Lanes[rng.IntN(3)]
			}
			ms = append(ms, m)
		}
		f := fxFrame(lane, int32(len(lane)), seq, ms...)
		extOn = rng.IntN(10) < 7
		f.Flags.ExtActions = extOn
		for i := range f.Records {
			r := &f.Records[i]
			if rng.IntN(40) == 0 {
				r.Result.OK = false
			}
			if rng.IntN(4) == 0 {
				r.SetScore(ScoreDriftEMA, rng.Float64()*0.45)
			}
			m := r.Msg
			prio := P0
			if s, ok := m.Payload["priority"].(string); ok {
				prio = Priority(s)
			}
			consent := false
			switch strings.ToLower(strings.TrimSpace(m.Glyph.Tags["consent"])) {
			case "granted", "true", "yes":
				consent = strings.TrimSpace(m.Glyph.Tags["purpose"]) != ""
			}
			facts[DerivedID(m.MsgID, "guardian", "action")] = msgFacts{consent: consent, priority: prio, lane: lane}
		}
		before := len(executed)
		if err := guardians[lane].Process(context.Background(), f); err != nil {
			t.Fatal(err)
		}
		immediate := 0
		for i := range f.Records {
			r := &f.Records[i]
			if r.Verdict == nil {
				t.Fatalf("record %s has no verdict", r.Msg.MsgID)
			}
			counts[r.Verdict.Outcome]++
			if (r.Verdict.Outcome == OutcomeDeny) == r.Result.OK {
				t.Fatalf("record %s: outcome %s with ok=%v", r.Msg.MsgID, r.Verdict.Outcome, r.Result.OK)
			}
			if r.Verdict.Outcome == OutcomeExecuted {
				immediate++
				if !executed[r.Verdict.ActionID] {
					t.Fatalf("record %s executed without an executor call", r.Msg.MsgID)
				}
			}
		}
		settled += len(executed) - before - immediate
		if got := len(fxEvents(f, schemas.EventGuardianDecision)); got != len(f.Traces) || got < len(f.Records) {
			t.Fatalf("%d decisions, %d traces for %d records", got, len(f.Traces), len(f.Records))
		}
		for _, tr := range f.Traces {
			if tr.RiskClass == "" || tr.DataOrigin == "" || tr.ExplanationLink == "" || len(tr.Crumbs) == 0 {
				t.Fatalf("trace without EU AI Act markers or crumbs: %+v", tr)
			}
		}
		// A human approves about half of the previews that need it.
		for _, a := range f.Actions {
			if a.Payload["approval_required"] == true && rng.IntN(2) == 0 {
				approvals.Approve(a.Payload["action_id"].(string))
			}
		}
	}
	if len(violations) > 0 {
		t.Fatalf("%d unsafe executions, first: %s", len(violations), violations[0])
	}
	waiting := 0
	for _, g := range guardians {
		waiting += g.Stats().Pending
	}
	t.Logf("%d messages: outcomes %v; %d executions (%d after a later approval); %d still waiting",
		n, counts, len(executed), settled, waiting)
	for _, o := range outcomes {
		if counts[o] == 0 {
			t.Fatalf("no %s outcome: the property was not exercised (%v)", o, counts)
		}
	}
	if settled == 0 {
		t.Fatal("no waiting action was executed after approval")
	}
}
